//! What `baton status` shows, shared by the daemon (which fills it) and the client (which
//! prints it). The JSON field names are a stable interface (ARCHITECTURE.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Status {
    pub(crate) vrrp: Vec<InstanceStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct InstanceStatus {
    pub(crate) name: String,
    pub(crate) vrid: u8,
    pub(crate) interface: String,
    /// `INIT`, `BACKUP`, `MASTER` or `FAULT`.
    pub(crate) state: String,
    /// Configured priority.
    pub(crate) priority: u8,
    pub(crate) effective_priority: u8,
    /// The current master as seen, or null.
    pub(crate) master: Option<String>,
    pub(crate) vips: Vec<String>,
    pub(crate) transitions: u64,
    pub(crate) adverts_sent: u64,
    pub(crate) adverts_received: u64,
    /// Dropped packets by reason (`ttl`, `checksum`, `auth`, ...), zero counts left out.
    pub(crate) dropped: BTreeMap<String, u64>,
}

impl Status {
    /// The engine's view, as operators read it.
    pub(crate) fn of(router: &baton_vrrp::Router) -> Status {
        let vrrp = router
            .instances()
            .map(|(_, instance)| {
                let config = instance.config();
                let stats = instance.stats();
                let dropped = baton_vrrp::DropReason::ALL
                    .iter()
                    .map(|&reason| (reason.as_str().to_owned(), stats.dropped(reason)))
                    .filter(|&(_, count)| count > 0)
                    .collect();
                InstanceStatus {
                    name: config.name.clone(),
                    vrid: config.vrid.get(),
                    interface: config.interface.clone(),
                    state: instance.state().as_str().to_owned(),
                    priority: config.priority.get(),
                    effective_priority: instance.effective_priority().get(),
                    master: instance.master().map(|m| m.to_string()),
                    vips: config
                        .virtual_addresses
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                    transitions: stats.transitions,
                    adverts_sent: stats.adverts_sent,
                    adverts_received: stats.adverts_received,
                    dropped,
                }
            })
            .collect();
        Status { vrrp }
    }

    /// A table for people.
    pub(crate) fn render(&self) -> String {
        let mut out = String::from("VRRP instances\n");
        let header = [
            "NAME",
            "VRID",
            "IFACE",
            "STATE",
            "PRIO",
            "EFFECTIVE",
            "MASTER",
            "VIPS",
            "TRANSITIONS",
            "DROPPED",
        ];
        let rows: Vec<[String; 10]> = self
            .vrrp
            .iter()
            .map(|i| {
                let dropped: Vec<String> =
                    i.dropped.iter().map(|(r, n)| format!("{r}={n}")).collect();
                [
                    i.name.clone(),
                    i.vrid.to_string(),
                    i.interface.clone(),
                    i.state.clone(),
                    i.priority.to_string(),
                    i.effective_priority.to_string(),
                    i.master.clone().unwrap_or_else(|| "-".into()),
                    i.vips.join(","),
                    i.transitions.to_string(),
                    if dropped.is_empty() {
                        "0".into()
                    } else {
                        dropped.join(",")
                    },
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.len());
            }
        }
        let line = |cells: Vec<&str>| {
            let padded: Vec<String> = cells
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            format!("  {}\n", padded.join("  ").trim_end())
        };
        out.push_str(&line(header.to_vec()));
        for row in &rows {
            out.push_str(&line(row.iter().map(String::as_str).collect()));
        }
        if rows.is_empty() {
            out.push_str("  (none)\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Status {
        Status {
            vrrp: vec![InstanceStatus {
                name: "VI_1".into(),
                vrid: 51,
                interface: "eth0".into(),
                state: "MASTER".into(),
                priority: 150,
                effective_priority: 130,
                master: Some("10.0.3.6".into()),
                vips: vec!["10.0.3.100".into()],
                transitions: 2,
                adverts_sent: 10,
                adverts_received: 0,
                dropped: BTreeMap::from([("ttl".into(), 3)]),
            }],
        }
    }

    #[test]
    fn json_has_the_stable_field_names() {
        let json = serde_json::to_value(sample()).expect("serializes");
        let instance = &json["vrrp"][0];
        for field in [
            "name",
            "vrid",
            "interface",
            "state",
            "priority",
            "effective_priority",
            "master",
            "vips",
            "transitions",
        ] {
            assert!(instance.get(field).is_some(), "missing {field}: {json}");
        }
        assert_eq!(instance["state"], "MASTER");
        assert_eq!(instance["dropped"]["ttl"], 3);
    }

    #[test]
    fn table_shows_each_instance() {
        let table = sample().render();
        assert!(
            table.contains("VI_1") && table.contains("MASTER") && table.contains("ttl=3"),
            "{table}"
        );
        assert!(Status::default().render().contains("(none)"));
    }
}
