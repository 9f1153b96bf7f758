//! `[[virtual_server_group]]`: keepalived's `virtual_server_group`, with its key names.

use serde::Deserialize;
use toml::{Spanned, Value};

use super::{Checked, Reader};
use crate::virtual_server::ServiceMatch;
use crate::virtual_server_spec::fields;
use crate::virtual_server_spec::{GroupDraft, GroupEntry};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GroupToml {
    name: String,
    addresses: Option<Vec<Spanned<String>>>,
    fwmark: Option<Vec<Spanned<Value>>>,
}

impl Reader<'_> {
    pub(super) fn virtual_server_group(&mut self, t: GroupToml, start: usize) -> GroupDraft {
        let c = format!("virtual_server_group {}", t.name);
        let c = c.as_str();
        let mut group = GroupDraft {
            name: t.name.clone(),
            location: self.at(start),
            entries: Vec::new(),
        };
        for a in t.addresses.unwrap_or_default() {
            let location = self.at(a.span().start);
            let result = group_address(a.get_ref());
            if let Some(service) = self.check(a.span().start, c, result) {
                group.entries.push(GroupEntry {
                    service,
                    family: None,
                    location,
                });
            }
        }
        for m in t.fwmark.unwrap_or_default() {
            let location = self.at(m.span().start);
            let result = group_fwmark(m.get_ref());
            if let Some((mark, family)) = self.check(m.span().start, c, result) {
                group.entries.push(GroupEntry {
                    service: ServiceMatch::Fwmark(mark),
                    family,
                    location,
                });
            }
        }
        group
    }
}

/// A group's address or range with an optional port: `10.0.3.1-20:80`,
/// `[2001:db8::1-ff]:80`, `10.0.3.8/29:443`, `10.0.3.1`.
fn group_address(text: &str) -> Checked<ServiceMatch> {
    let (range, port) = if let Some(rest) = text.strip_prefix('[') {
        let (range, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("'{text}': no closing ']'"))?;
        match after.strip_prefix(':') {
            Some(port) => (range, Some(port)),
            None if after.is_empty() => (range, None),
            None => return Err(format!("'{text}': expected ]:PORT")),
        }
    } else if text.matches(':').count() > 1 {
        (text, None)
    } else {
        match text.split_once(':') {
            Some((range, port)) => (range, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        Some(port) => fields::port("port", port)?,
        None => 0,
    };
    fields::group_match(range, port)
}

/// A group's fwmark: `5` or `{ fwmark = 5, ip_family = "inet6" }`.
fn group_fwmark(value: &Value) -> Checked<(u32, Option<crate::Family>)> {
    match value {
        Value::Integer(mark) => Ok((fields::fwmark(*mark)?, None)),
        Value::Table(table) => {
            let (mut mark, mut family) = (None, None);
            for (key, value) in table {
                match (key.as_str(), value) {
                    ("fwmark", Value::Integer(m)) => mark = Some(fields::fwmark(*m)?),
                    ("ip_family", Value::String(f)) => family = Some(fields::ip_family(f)?),
                    _ => return Err(format!("fwmark: unexpected '{key} = {value}'")),
                }
            }
            Ok((mark.ok_or("fwmark: no 'fwmark'")?, family))
        }
        _ => Err("fwmark entries are numbers or { fwmark, ip_family } tables".into()),
    }
}
