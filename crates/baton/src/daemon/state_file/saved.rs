//! What the state file holds: the operator's overrides only (admin states, run-time weights,
//! stepped-down instances, withdrawn anycast sections), never anything the configuration or the health checks decide.
//! The file format is a versioned JSON document of flat lists, so that an operator can read
//! it and see at once what was decided; in memory the same as maps, keyed as the control
//! commands name things.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use baton::control_request::ServerChange;
use baton_config::Config;
use baton_proxy::AdminState;
use serde::{Deserialize, Serialize};

/// The one version this daemon writes and reads.
const VERSION: u32 = 1;

/// A server as the control commands name it: a backend's (L7) or a virtual server's (L4)
/// name, and the server's address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ServerKey {
    pub(crate) pool: String,
    pub(crate) address: SocketAddr,
}

impl ServerKey {
    pub(crate) fn new(pool: &str, address: SocketAddr) -> ServerKey {
        ServerKey {
            pool: pool.to_owned(),
            address,
        }
    }
}

/// What the operator decided about one server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ServerOverride {
    /// `drain` or `disable`; `None` is ready (`enable`).
    pub(crate) admin: Option<AdminState>,
    /// `server weight`.
    pub(crate) weight: Option<u32>,
    /// A backend server's configured weight when the weight was set: the run-time weight
    /// lasts only while the configuration says the same (the proxy's rule on reload, and
    /// HAProxy's for its server-state file). `None` for real servers, whose operator weight
    /// outlasts changes to their settings.
    pub(crate) configured_weight: Option<u32>,
}

impl ServerOverride {
    fn is_empty(&self) -> bool {
        self.admin.is_none() && self.weight.is_none()
    }

    /// `drain, weight 7`: for log lines.
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(admin) = self.admin {
            parts.push(admin.as_str().to_owned());
        }
        if let Some(weight) = self.weight {
            parts.push(format!("weight {weight}"));
        }
        parts.join(", ")
    }
}

/// Every override the operator made and that still holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Overrides {
    /// Backend servers (L7), by backend name and address.
    pub(crate) servers: BTreeMap<ServerKey, ServerOverride>,
    /// Real servers (L4), by virtual server name and address.
    pub(crate) real_servers: BTreeMap<ServerKey, ServerOverride>,
    /// VRRP instances stepped down (`instance step-down`), by name.
    pub(crate) stepped_down: BTreeSet<String>,
    /// `[[anycast]]` sections withdrawn (`anycast withdraw|drain`), by name.
    pub(crate) anycast_withdrawn: BTreeSet<String>,
}

impl Overrides {
    /// `server drain|disable|enable|weight` on a backend server whose configured weight is
    /// `configured`.
    pub(crate) fn record_server(&mut self, key: ServerKey, change: ServerChange, configured: u32) {
        record(&mut self.servers, key, change, Some(configured));
    }

    /// The same on a virtual server's real server.
    pub(crate) fn record_real_server(&mut self, key: ServerKey, change: ServerChange) {
        record(&mut self.real_servers, key, change, None);
    }

    /// Keeps what applies to `config`: servers of backends some frontend uses (the control
    /// commands know no others), real servers of its virtual servers, its instances, and
    /// backend weights set while the configured weight was what it is now. What is dropped
    /// is returned, one line each, for the log.
    pub(crate) fn retain_configured(&mut self, config: &Config) -> Vec<String> {
        let mut dropped = Vec::new();
        self.servers.retain(|key, saved| {
            let Some(weight) = backend_weight(config, key) else {
                dropped.push(format!(
                    "server {} {}: {}: no such server in a backend in use",
                    key.pool,
                    key.address,
                    saved.describe()
                ));
                return false;
            };
            if saved.weight.is_some() && saved.configured_weight.is_some_and(|w| w != weight) {
                dropped.push(format!(
                    "server {} {}: weight {}: set while the configured weight was {}, now {weight}",
                    key.pool,
                    key.address,
                    saved.weight.unwrap_or_default(),
                    saved.configured_weight.unwrap_or_default(),
                ));
                saved.weight = None;
                saved.configured_weight = None;
            }
            !saved.is_empty()
        });
        self.real_servers.retain(|key, saved| {
            let known = config
                .virtual_server(&key.pool)
                .is_some_and(|vs| vs.real_servers.iter().any(|rs| rs.address == key.address));
            if !known {
                dropped.push(format!(
                    "server {} {}: {}: no such real server in a virtual server",
                    key.pool,
                    key.address,
                    saved.describe()
                ));
            }
            known
        });
        self.stepped_down.retain(|name| {
            let known = config.instances.iter().any(|i| &i.name == name);
            if !known {
                dropped.push(format!("instance {name}: stepped down: no such instance"));
            }
            known
        });
        self.anycast_withdrawn.retain(|name| {
            let known = config.anycasts.iter().any(|a| &a.name == name);
            if !known {
                dropped.push(format!("anycast {name}: withdrawn: no such section"));
            }
            known
        });
        dropped
    }

    /// One line per override, for the log at start-up.
    pub(crate) fn describe(&self) -> Vec<String> {
        let servers = self.servers.iter().chain(&self.real_servers);
        let mut lines: Vec<String> = servers
            .map(|(key, saved)| {
                format!("server {} {}: {}", key.pool, key.address, saved.describe())
            })
            .collect();
        lines.extend(
            self.stepped_down
                .iter()
                .map(|name| format!("instance {name}: stepped down")),
        );
        lines.extend(
            self.anycast_withdrawn
                .iter()
                .map(|name| format!("anycast {name}: withdrawn")),
        );
        lines
    }

    /// The file's text.
    pub(crate) fn to_json(&self) -> String {
        let lines = |map: &BTreeMap<ServerKey, ServerOverride>| {
            map.iter()
                .map(|(key, saved)| ServerLine {
                    pool: key.pool.clone(),
                    address: key.address,
                    admin: saved.admin.map(|a| a.as_str().to_owned()),
                    weight: saved.weight,
                    configured_weight: saved.configured_weight,
                })
                .collect()
        };
        let file = File {
            version: VERSION,
            servers: lines(&self.servers),
            real_servers: lines(&self.real_servers),
            stepped_down: self.stepped_down.iter().cloned().collect(),
            anycast_withdrawn: self.anycast_withdrawn.iter().cloned().collect(),
        };
        // Plain strings and numbers: serializing cannot fail.
        serde_json::to_string_pretty(&file).unwrap_or_default() + "\n"
    }

    /// Reads the file's text; the error says what is wrong with it.
    pub(crate) fn from_json(text: &str) -> Result<Overrides, String> {
        let file: File = serde_json::from_str(text).map_err(|error| error.to_string())?;
        if file.version != VERSION {
            return Err(format!(
                "version {} (this baton reads version {VERSION})",
                file.version
            ));
        }
        let map = |lines: Vec<ServerLine>| -> Result<BTreeMap<ServerKey, ServerOverride>, String> {
            lines
                .into_iter()
                .map(|line| {
                    let admin = line.admin.as_deref().map(admin_state).transpose()?;
                    let key = ServerKey {
                        pool: line.pool,
                        address: line.address,
                    };
                    let saved = ServerOverride {
                        admin: admin.filter(|a| *a != AdminState::Ready),
                        weight: line.weight,
                        configured_weight: line.configured_weight,
                    };
                    Ok((key, saved))
                })
                .filter(|entry| !matches!(entry, Ok((_, saved)) if saved.is_empty()))
                .collect()
        };
        Ok(Overrides {
            servers: map(file.servers)?,
            real_servers: map(file.real_servers)?,
            stepped_down: file.stepped_down.into_iter().collect(),
            anycast_withdrawn: file.anycast_withdrawn.into_iter().collect(),
        })
    }
}

fn record(
    map: &mut BTreeMap<ServerKey, ServerOverride>,
    key: ServerKey,
    change: ServerChange,
    configured: Option<u32>,
) {
    let saved = map.entry(key.clone()).or_default();
    match change {
        ServerChange::Admin(AdminState::Ready) => saved.admin = None,
        ServerChange::Admin(state) => saved.admin = Some(state),
        ServerChange::Weight(weight) => {
            saved.weight = Some(weight);
            saved.configured_weight = configured;
        }
    }
    if saved.is_empty() {
        map.remove(&key);
    }
}

/// The configured weight of the server at `key` in a backend some frontend uses.
pub(crate) fn backend_weight(config: &Config, key: &ServerKey) -> Option<u32> {
    if !config.frontends.iter().any(|f| f.backend == key.pool) {
        return None;
    }
    let backend = config.backend(&key.pool)?;
    backend
        .servers
        .iter()
        .find(|s| s.address == key.address)
        .map(|s| s.weight)
}

fn admin_state(word: &str) -> Result<AdminState, String> {
    [
        AdminState::Ready,
        AdminState::Drain,
        AdminState::Maintenance,
    ]
    .into_iter()
    .find(|state| state.as_str() == word)
    .ok_or_else(|| format!("unknown admin state {word:?} (ready, drain or maint)"))
}

/// The document on disk.
#[derive(Debug, Serialize, Deserialize)]
struct File {
    version: u32,
    #[serde(default)]
    servers: Vec<ServerLine>,
    #[serde(default)]
    real_servers: Vec<ServerLine>,
    #[serde(default)]
    stepped_down: Vec<String>,
    /// Left out while empty: files without anycast holds read as before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    anycast_withdrawn: Vec<String>,
}

/// One server's overrides. `name` is the backend's in `servers`, the virtual server's in
/// `real_servers`: what `baton server` takes.
#[derive(Debug, Serialize, Deserialize)]
struct ServerLine {
    #[serde(rename = "name")]
    pool: String,
    address: SocketAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    admin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weight: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    configured_weight: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "10.0.3.11:8080";
    const B: &str = "10.0.3.12:8080";

    fn address(text: &str) -> SocketAddr {
        text.parse().expect("address")
    }

    fn config(weight_of_a: u32) -> Config {
        let text = format!(
            "[[frontend]]\nname = \"web\"\nlisten = \"127.0.0.1:8080\"\nbackend = \"app\"\n\n\
             [[backend]]\nname = \"app\"\n\
             servers = [{{ address = \"{A}\", weight = {weight_of_a} }}, \"{B}\"]\n\n\
             [[backend]]\nname = \"unused\"\nservers = [\"{A}\"]\n\n\
             [[vrrp]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvirtual_router_id = 51\n\
             priority = 100\nvirtual_ipaddress = [\"10.0.3.100/24\"]\n\n\
             [[anycast]]\nname = \"web\"\nprefixes = [\"10.0.9.100/32\"]\n"
        );
        baton_config::parse_toml(&text, "test.toml")
            .expect("valid")
            .config
    }

    fn sample() -> Overrides {
        let mut overrides = Overrides::default();
        let key = ServerKey::new("app", address(A));
        overrides.record_server(key.clone(), ServerChange::Admin(AdminState::Drain), 1);
        overrides.record_server(key, ServerChange::Weight(7), 1);
        overrides.record_server(
            ServerKey::new("app", address(B)),
            ServerChange::Admin(AdminState::Maintenance),
            1,
        );
        overrides.record_real_server(
            ServerKey::new("10.0.3.100:80/tcp", address("10.0.3.11:80")),
            ServerChange::Weight(3),
        );
        overrides.stepped_down.insert("VI_1".to_owned());
        overrides.anycast_withdrawn.insert("web".to_owned());
        overrides
    }

    #[test]
    fn round_trip() {
        let overrides = sample();
        let text = overrides.to_json();
        assert!(text.contains("\"admin\": \"drain\""), "{text}");
        assert!(text.contains("\"admin\": \"maint\""), "{text}");
        assert!(
            text.contains("\"anycast_withdrawn\": [\n    \"web\""),
            "{text}"
        );
        assert!(
            !Overrides::default().to_json().contains("anycast"),
            "no anycast list while nothing is withdrawn"
        );
        assert_eq!(Overrides::from_json(&text), Ok(overrides));
        assert_eq!(
            Overrides::from_json(&Overrides::default().to_json()),
            Ok(Overrides::default())
        );
    }

    #[test]
    fn enable_and_weight_clear_only_their_part() {
        let mut overrides = sample();
        let a = ServerKey::new("app", address(A));
        overrides.record_server(a.clone(), ServerChange::Admin(AdminState::Ready), 1);
        assert_eq!(overrides.servers[&a].admin, None);
        assert_eq!(
            overrides.servers[&a].weight,
            Some(7),
            "enable keeps the weight"
        );
        let b = ServerKey::new("app", address(B));
        overrides.record_server(b.clone(), ServerChange::Admin(AdminState::Ready), 1);
        assert!(!overrides.servers.contains_key(&b), "nothing left to keep");
    }

    #[test]
    fn a_bad_document_says_what_is_wrong() {
        assert!(Overrides::from_json("{").is_err());
        assert!(Overrides::from_json("").is_err());
        let future = Overrides::from_json("{\"version\": 2}").expect_err("version 2");
        assert!(future.contains("version 2"), "{future}");
        let admin = Overrides::from_json(
            "{\"version\": 1, \"servers\": [{\"name\": \"app\", \"address\": \"10.0.3.11:80\", \
             \"admin\": \"sleeping\"}]}",
        )
        .expect_err("bad admin state");
        assert!(admin.contains("sleeping"), "{admin}");
    }

    #[test]
    fn stale_entries_are_dropped_and_named() {
        let mut overrides = sample();
        overrides.record_server(
            ServerKey::new("unused", address(A)),
            ServerChange::Admin(AdminState::Drain),
            1,
        );
        overrides.record_server(
            ServerKey::new("app", address("10.0.3.99:8080")),
            ServerChange::Admin(AdminState::Drain),
            1,
        );
        overrides.stepped_down.insert("VI_9".to_owned());
        overrides.anycast_withdrawn.insert("dns".to_owned());
        let dropped = overrides.retain_configured(&config(1));
        assert_eq!(
            dropped,
            [
                "server app 10.0.3.99:8080: drain: no such server in a backend in use",
                "server unused 10.0.3.11:8080: drain: no such server in a backend in use",
                "server 10.0.3.100:80/tcp 10.0.3.11:80: weight 3: no such real server in a \
                 virtual server",
                "instance VI_9: stepped down: no such instance",
                "anycast dns: withdrawn: no such section",
            ]
        );
        let kept: Vec<&ServerKey> = overrides.servers.keys().collect();
        assert_eq!(
            kept,
            [
                &ServerKey::new("app", address(A)),
                &ServerKey::new("app", address(B))
            ]
        );
        assert!(overrides.real_servers.is_empty());
        assert_eq!(overrides.stepped_down.len(), 1);
        assert_eq!(overrides.anycast_withdrawn.len(), 1, "web is kept");
        assert!(
            overrides.retain_configured(&config(1)).is_empty(),
            "settled"
        );
    }

    #[test]
    fn a_weight_set_under_another_configured_weight_is_dropped() {
        let mut overrides = sample();
        let dropped = overrides.retain_configured(&config(2));
        assert!(
            dropped.contains(
                &"server app 10.0.3.11:8080: weight 7: set while the configured weight was 1, \
                  now 2"
                    .to_owned()
            ),
            "{dropped:?}"
        );
        let a = &overrides.servers[&ServerKey::new("app", address(A))];
        assert_eq!((a.admin, a.weight), (Some(AdminState::Drain), None));
    }
}
