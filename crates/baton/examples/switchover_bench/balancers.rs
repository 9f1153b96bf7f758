//! The two setups under test, on lb1 (priority 100) and lb2 (priority 150), with the same
//! VRRP settings (VRID 51, v3, 100 ms adverts, the guide's VIP) and the same job: HTTP on
//! 10.0.3.100:80, round robin over app1 and app2 with keep-alive to them.
//!
//! - baton: one daemon per host, VRRP and proxy together (`baton run --config`), the
//!   frontend tracked by the VRRP instance.
//! - keepalived + nginx: keepalived for VRRP next to nginx listening on port 80 of every
//!   address (the guide's default server), as in the guide.

use std::path::{Path, PathBuf};

use baton_lab::{Child, Host, Signal};

use crate::apps;
use crate::common;
use crate::common::lab::{VIP, spawn_logged};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Setup {
    Baton,
    KeepalivedNginx,
}

impl Setup {
    pub(crate) const ALL: [Setup; 2] = [Setup::Baton, Setup::KeepalivedNginx];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Setup::Baton => "baton",
            Setup::KeepalivedNginx => "keepalived + nginx",
        }
    }
}

/// The programs the setups run.
#[derive(Debug)]
pub(crate) struct Programs {
    pub(crate) baton: PathBuf,
    pub(crate) nginx: PathBuf,
    /// Run by name (as the failover benchmark does); its path is for the version line.
    pub(crate) keepalived: PathBuf,
}

/// One load-balancer host's daemons.
#[derive(Debug)]
pub(crate) struct Balancer {
    /// baton, or keepalived: what the operator stops.
    vrrp: Child,
    /// nginx next to keepalived, left running when keepalived is stopped, as in the guide.
    _proxy: Option<Child>,
    pub(crate) logs: Vec<PathBuf>,
}

impl Balancer {
    pub(crate) fn start(
        setup: Setup,
        programs: &Programs,
        host: &Host,
        priority: u8,
        dir: &Path,
    ) -> Result<Balancer, String> {
        let name = host.name();
        let write = |file: String, text: String| {
            let path = dir.join(file);
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok::<_, String>(path)
        };
        match setup {
            Setup::Baton => {
                let conf = write(format!("{name}.toml"), baton_toml(priority))?;
                let log = dir.join(format!("{name}-baton.log"));
                let mut command = host.command(&programs.baton);
                command
                    .arg("run")
                    .arg("--config")
                    .arg(&conf)
                    .arg("--control")
                    .arg(dir.join(format!("{name}.sock")));
                Ok(Balancer {
                    vrrp: spawn_logged(host, command, &log)?,
                    _proxy: None,
                    logs: vec![log],
                })
            }
            Setup::KeepalivedNginx => {
                let nginx_log = dir.join(format!("{name}-nginx.log"));
                let args = common::nginx::write(dir, &format!("{name}-nginx"), 4096, &nginx_http())
                    .map_err(|e| format!("nginx configuration for {name}: {e}"))?;
                let mut command = host.command(&programs.nginx);
                command.args(args);
                let proxy = spawn_logged(host, command, &nginx_log)?;
                let conf = write(
                    format!("{name}-keepalived.conf"),
                    common::keepalived::conf(name, 3, "0.1", priority),
                )?;
                let log = dir.join(format!("{name}-keepalived.log"));
                let command = common::keepalived::command(host, &conf, dir);
                Ok(Balancer {
                    vrrp: spawn_logged(host, command, &log)?,
                    _proxy: Some(proxy),
                    logs: vec![log, nginx_log],
                })
            }
        }
    }

    /// What `systemctl stop baton` or `systemctl stop keepalived` does: SIGTERM to the
    /// daemon, without waiting for it to exit (baton drains first).
    pub(crate) fn stop_as_operator(&mut self) -> Result<(), String> {
        self.vrrp.signal(Signal::SIGTERM).map_err(|e| e.to_string())
    }

    /// The last lines of each daemon's log, for a failed run.
    pub(crate) fn log_tails(&self) -> String {
        self.logs
            .iter()
            .map(|log| {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                format!(
                    "--- {}\n{}",
                    log.display(),
                    lines[lines.len().saturating_sub(15)..].join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// baton.toml: VI_1 as in keepalived.conf, tracking the frontend on the VIP.
fn baton_toml(priority: u8) -> String {
    let port = apps::PORT;
    format!(
        r#"[[vrrp]]
name = "VI_1"
interface = "eth0"
virtual_router_id = 51
version = 3
priority = {priority}
advert_int = 0.1
virtual_ipaddress = ["{VIP}"]
track_frontend = [{{ name = "web", weight = -60 }}]

[[frontend]]
name = "web"
listen = "10.0.3.100:80"
backend = "app"

[[backend]]
name = "app"
balance = "roundrobin"
servers = ["10.0.3.11:{port}", "10.0.3.12:{port}"]
[backend.health_check]
type = "http"
path = "/"
"#
    )
}

/// nginx's `http` block: the guide's default server on port 80, proxying to the apps.
fn nginx_http() -> String {
    let port = apps::PORT;
    format!(
        "    upstream apps {{\n\
         \x20       server 10.0.3.11:{port};\n\
         \x20       server 10.0.3.12:{port};\n\
         \x20       keepalive 32;\n\
         \x20   }}\n\
         \x20   server {{\n\
         \x20       listen 80;\n\
         \x20       location / {{\n\
         \x20           proxy_pass http://apps;\n\
         \x20           proxy_http_version 1.1;\n\
         \x20           proxy_set_header Connection \"\";\n\
         \x20       }}\n\
         \x20   }}\n"
    )
}
