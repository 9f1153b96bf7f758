//! keepalived, the reference VRRP daemon, run in the foreground inside a lab host.

use std::path::Path;
use std::process::Command;

use baton_lab::Host;

use super::lab::VIP;

/// keepalived.conf for the guide's VI_1 on `eth0`: VRID 51, both hosts start as BACKUP and
/// the higher priority wins; VRRPv2 gets the guide's `auth_type PASS`.
pub(crate) fn conf(router_id: &str, version: u8, advert_int: &str, priority: u8) -> String {
    let auth = if version == 2 {
        "    authentication {\n        auth_type PASS\n        auth_pass baton12\n    }\n"
    } else {
        ""
    };
    format!(
        "global_defs {{\n    router_id {router_id}\n    vrrp_version {version}\n}}\n\
         vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    \
         priority {priority}\n    advert_int {advert_int}\n{auth}    virtual_ipaddress {{\n        {VIP}\n    }}\n}}\n"
    )
}

/// `keepalived -f CONF` in `host`: VRRP only (-P), foreground (-n), console log (-l) and no
/// syslog (-G), detailed (-D), no respawning (-R), and pid files in `dir`, since the default
/// ones under /run are shared by every namespace.
pub(crate) fn command(host: &Host, conf: &Path, dir: &Path) -> Command {
    let mut command = host.command("keepalived");
    command
        .arg("-f")
        .arg(conf)
        .args(["-P", "-n", "-l", "-G", "-D", "-R"]);
    for (flag, file) in [
        ("-p", "ka.pid"),
        ("-r", "vrrp.pid"),
        ("-c", "chk.pid"),
        ("-b", "bfd.pid"),
    ] {
        command
            .arg(flag)
            .arg(dir.join(format!("{}-{file}", host.name())));
    }
    command
}
