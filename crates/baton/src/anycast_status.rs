//! `[[anycast]]` announcements as `baton status` shows them: filled by the daemon's anycast
//! task at each evaluation, read by `Status::of` (as the connection sync's is), printed by
//! the client. A leaf.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// One `[[anycast]]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AnycastStatus {
    pub(crate) name: String,
    pub(crate) prefixes: Vec<String>,
    pub(crate) table: u32,
    /// Its routes are in the table: the routing daemon announces them.
    pub(crate) announced: bool,
    /// `baton anycast withdraw` holds it withdrawn, whatever its dependencies say, until
    /// `baton anycast announce`.
    #[serde(default)]
    pub(crate) withdrawn_by_operator: bool,
    /// The dependencies that keep it withdrawn (or, pending, from being announced):
    /// `frontend web: down`, `interface eth1: down`, `virtual server dns: first check due`.
    pub(crate) waiting_on: Vec<String>,
}

static CURRENT: Mutex<Vec<AnycastStatus>> = Mutex::new(Vec::new());

/// Replaces what `baton status` shows.
pub(crate) fn publish(sections: Vec<AnycastStatus>) {
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = sections;
}

pub(crate) fn snapshot() -> Vec<AnycastStatus> {
    CURRENT.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// One line per section, for people.
pub(crate) fn render(sections: &[AnycastStatus]) -> String {
    let mut out = String::new();
    for s in sections {
        let withdrawn = if s.withdrawn_by_operator {
            "withdrawn by the operator"
        } else {
            "withdrawn"
        };
        let state = if s.announced {
            "announced".to_owned()
        } else if s.waiting_on.is_empty() {
            withdrawn.to_owned()
        } else {
            format!("{withdrawn} ({})", s.waiting_on.join(", "))
        };
        out.push_str(&format!(
            "Anycast {}: {} in table {}: {state}\n",
            s.name,
            s.prefixes.join(" "),
            s.table
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_per_section_says_what_keeps_it_withdrawn() {
        let sections = [
            AnycastStatus {
                name: "web".into(),
                prefixes: vec!["10.0.9.100/32".into()],
                table: 100,
                announced: true,
                withdrawn_by_operator: false,
                waiting_on: Vec::new(),
            },
            AnycastStatus {
                name: "dns".into(),
                prefixes: vec!["10.0.9.53/32".into(), "fd00:9::53/128".into()],
                table: 101,
                announced: false,
                withdrawn_by_operator: false,
                waiting_on: vec!["virtual server dns: down".into()],
            },
            AnycastStatus {
                name: "api".into(),
                prefixes: vec!["10.0.9.101/32".into()],
                table: 100,
                announced: false,
                withdrawn_by_operator: true,
                waiting_on: Vec::new(),
            },
        ];
        assert_eq!(
            render(&sections),
            "Anycast web: 10.0.9.100/32 in table 100: announced\n\
             Anycast dns: 10.0.9.53/32 fd00:9::53/128 in table 101: withdrawn (virtual server dns: down)\n\
             Anycast api: 10.0.9.101/32 in table 100: withdrawn by the operator\n"
        );
    }
}
