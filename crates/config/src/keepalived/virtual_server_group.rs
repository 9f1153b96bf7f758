//! keepalived's `virtual_server_group` block, as `check_parser.c` reads it: the addresses,
//! ranges and fwmarks a `virtual_server group NAME` serves.

use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::values::parse_integer;
use crate::virtual_server_spec::fields;
use crate::virtual_server_spec::{GroupDraft, GroupEntry};

impl Mapper<'_> {
    /// `virtual_server_group NAME { IP [PORT] | RANGE [PORT] | fwmark N [inet|inet6] }`.
    pub(super) fn virtual_server_group(&mut self, s: &Stmt) {
        let Some((name, block)) = self.named(s) else {
            return;
        };
        let c = format!("virtual_server_group {name}");
        let c = c.as_str();
        let mut group = GroupDraft {
            name,
            location: s.at.clone(),
            entries: Vec::new(),
        };
        for entry in block {
            if !self.no_block(entry, c) {
                continue;
            }
            let result = group_entry(entry);
            if let Some(entry) = self.ok(entry, c, result) {
                group.entries.push(entry);
            }
        }
        self.draft.virtual_server_groups.push(group);
    }
}

/// A line of a `virtual_server_group`.
fn group_entry(entry: &Stmt) -> Result<GroupEntry, String> {
    let location = entry.at.clone();
    if entry.keyword == "fwmark" {
        let (mark, family) = match entry.args.as_slice() {
            [mark] => (mark, None),
            [mark, family] => (mark, Some(fields::ip_family(family)?)),
            _ => return Err("fwmark takes N [inet|inet6]".into()),
        };
        return Ok(GroupEntry {
            service: crate::ServiceMatch::Fwmark(fields::fwmark(parse_integer(mark)?)?),
            family,
            location,
        });
    }
    let port = match entry.args.as_slice() {
        [] => 0,
        [port] => fields::port("port", port)?,
        [port, _weight] => {
            // Older keepalived read a weight here; 2.2.7 ignores the word, and so must we.
            fields::port("port", port)?
        }
        _ => {
            return Err(format!(
                "expected ADDRESS [PORT], not '{} {}'",
                entry.keyword,
                entry.rest()
            ));
        }
    };
    Ok(GroupEntry {
        service: fields::group_match(&entry.keyword, port)?,
        family: None,
        location,
    })
}
