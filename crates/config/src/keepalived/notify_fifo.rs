//! keepalived's notify FIFOs in `global_defs`: `notify_fifo`, `vrrp_notify_fifo` and
//! `lvs_notify_fifo`, each
//! `PATH [USER [GROUP]]`, and `vrrp_notify_priority_changes`, as `global_parser.c` reads
//! them.

use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::model::NotifyFifo;
use crate::values;

impl Mapper<'_> {
    /// The FIFO keywords of `global_defs`; false if `s` is something else.
    pub(super) fn notify_fifo_global(&mut self, s: &Stmt, c: &str) -> bool {
        let keyword = s.keyword.as_str();
        if keyword == "vrrp_notify_priority_changes" {
            if let Some(on) = self.flag(s, c) {
                self.draft.global.notify_priority_changes = on;
            }
            return true;
        }
        if !matches!(
            keyword,
            "notify_fifo" | "vrrp_notify_fifo" | "lvs_notify_fifo"
        ) {
            return false;
        }
        if !self.no_block(s, c) {
            return true;
        }
        let fifo = match s.args.as_slice() {
            [] => Err(format!("{keyword} needs a path")),
            [path, owner @ ..] => fifo_owner(owner).map(|owner| NotifyFifo {
                path: path.into(),
                owner,
            }),
        };
        let Some(fifo) = self.ok(s, c, fifo) else {
            return true;
        };
        let global = &mut self.draft.global;
        let slot = match keyword {
            "notify_fifo" => &mut global.notify_fifo,
            "vrrp_notify_fifo" => &mut global.vrrp_notify_fifo,
            _ => &mut global.lvs_notify_fifo,
        };
        if slot.is_some() {
            // keepalived keeps the first one too.
            let message = format!(
                "{c}: {keyword} already specified; '{}' is ignored",
                s.rest()
            );
            self.d.warn(&s.at, message);
        } else {
            *slot = Some(fifo);
        }
        true
    }
}

fn fifo_owner(words: &[String]) -> Result<Option<crate::ScriptUser>, String> {
    match words {
        [] => Ok(None),
        [user] => values::script_user(user, None).map(Some),
        [user, group] => values::script_user(user, Some(group)).map(Some),
        _ => Err("a notify FIFO takes PATH [USER [GROUP]]".to_owned()),
    }
}
