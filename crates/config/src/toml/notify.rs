//! The notify scripts of `[[vrrp]]` instances and sync groups: each a command line or
//! `{ script, user, group }`.

use toml::{Spanned, Value};

use super::{Checked, Reader};
use crate::diagnostic::Location;
use crate::model::{Notify, NotifyScript};
use crate::values::{self, split_command};

impl Reader<'_> {
    /// `notify_master`, `notify_backup`, `notify_fault`, `notify_stop`, `notify`, in that
    /// order: each a command line or `{ script, user, group }`.
    pub(super) fn notify(&mut self, c: &str, scripts: [Option<Spanned<Value>>; 5]) -> Notify {
        let mut notify = Notify::default();
        let [master, backup, fault, stop, any] = scripts;
        for (value, slot) in [
            (master, &mut notify.master),
            (backup, &mut notify.backup),
            (fault, &mut notify.fault),
            (stop, &mut notify.stop),
            (any, &mut notify.any),
        ] {
            let Some(value) = value else { continue };
            let location = self.at(value.span().start);
            let result = notify_script(value.get_ref(), location);
            *slot = self.check(value.span().start, c, result);
        }
        notify
    }
}

/// A notify script: a command line or `{ script, user, group }`.
pub(super) fn notify_script(value: &Value, location: Location) -> Checked<NotifyScript> {
    match value {
        Value::String(line) => Ok(NotifyScript {
            argv: split_command(line)?,
            user: None,
            location: location.into(),
        }),
        Value::Table(table) => {
            let (mut script, mut user, mut group) = (None, None, None);
            for (key, value) in table {
                match (key.as_str(), value) {
                    ("script", Value::String(s)) => script = Some(s.as_str()),
                    ("user", Value::String(u)) => user = Some(u.as_str()),
                    ("group", Value::String(g)) => group = Some(g.as_str()),
                    _ => return Err(format!("notify script: unexpected '{key} = {value}'")),
                }
            }
            let script = script.ok_or("notify script: no 'script'")?;
            if group.is_some() && user.is_none() {
                return Err("notify script: 'group' needs a 'user'".into());
            }
            Ok(NotifyScript {
                argv: split_command(script)?,
                user: user.map(|u| values::script_user(u, group)).transpose()?,
                location: location.into(),
            })
        }
        _ => Err("a notify script must be a command line or a table".into()),
    }
}
