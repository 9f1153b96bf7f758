//! What `baton check` can tell about this host without changing anything: the problems that
//! would make `baton run` or a reload refuse the file here (a missing interface, script
//! user or track file directory, a script that script security forbids, a DR service
//! without an interface). The file may be checked on another machine than the one that
//! runs it, so these are warnings, not errors: `baton check` judges the file, the daemon
//! judges the host (and a reload it refuses changes nothing).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::PermissionsExt as _;

use baton_config::{Config, Family, LbKind};

use super::plan::{TrackKey, plan};
use super::tracking::check_track_file_directory;
use super::virtual_servers::dr_interface;
use crate::scripts::{Credentials, Script, configure};

/// Every problem found, one sentence each, in configuration order.
pub(crate) fn problems(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    let plan = plan(config, |interface, family| {
        // Recorded here and planned on with a stand-in, so one missing interface does not
        // hide the next problem.
        if let Err(error) = baton_net::primary_address(interface, super::net_family(family)) {
            problems.extend(at_instances_on(config, interface, &error.to_string()));
        }
        Ok(match family {
            Family::Ipv4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::Ipv6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        })
    });
    let default_user = match configure(&config.global) {
        Ok(user) => user,
        Err(error) => {
            problems.push(format!("global script_user: {error}"));
            None
        }
    };
    match plan {
        Ok(plan) => {
            for key in plan.tracks.keys() {
                if let Some(problem) = track_problem(config, key, default_user) {
                    problems.push(problem);
                }
            }
        }
        Err(error) => problems.push(format!("{error:#}")),
    }
    for vs in &config.virtual_servers {
        if vs.lb_kind == LbKind::Dr && dr_interface(config, vs).is_none() {
            problems.push(format!(
                "virtual server {}: lb_kind DR needs a vrrp_instance holding its address, or an \
                 [[anycast]] section with an interface announcing it",
                vs.name
            ));
        }
    }
    problems.dedup();
    problems
}

/// What this host lacks for a part of the file that `baton run` would still run without:
/// the daemon starts and logs the lack (and retries), but the part does nothing meanwhile.
pub(crate) fn shortfalls(config: &Config) -> Vec<String> {
    let mut shortfalls = Vec::new();
    if let Some(sync) = &config.global.conn_sync {
        let binary = &sync.conntrackd;
        let runnable = std::fs::metadata(binary)
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0);
        if !runnable {
            shortfalls.push(format!(
                "{}: conn_sync: {} is not an executable file (apt-get install conntrackd): \
                 NAT flows would not be synced, and would break at a failover",
                sync.location,
                binary.display()
            ));
        }
        if let Err(error) = baton_net::interface_index(&sync.interface) {
            shortfalls.push(format!(
                "{}: conn_sync: {error}: NAT flows would not be synced",
                sync.location
            ));
        }
    }
    shortfalls
}

/// `problem` once per instance on `interface`, each at its block's `FILE:LINE` as the
/// file's other problems are named; unlocated when no instance names the interface (a
/// sync group's or a virtual server's).
fn at_instances_on(config: &Config, interface: &str, problem: &str) -> Vec<String> {
    let located: Vec<String> = config
        .instances
        .iter()
        .filter(|instance| instance.interface == interface)
        .map(|instance| {
            format!(
                "{}: instance {}: {problem}",
                instance.location, instance.name
            )
        })
        .collect();
    if located.is_empty() {
        vec![problem.to_owned()]
    } else {
        located
    }
}

/// What stops the watcher of `key` from starting here, if anything.
fn track_problem(
    config: &Config,
    key: &TrackKey,
    default_user: Option<Credentials>,
) -> Option<String> {
    match key {
        // An instance's own interface is tracked too, and reported above already.
        TrackKey::Interface(name) if config.instances.iter().any(|i| i.interface == *name) => None,
        TrackKey::Interface(name) => baton_net::link_is_up(name)
            .err()
            .map(|error| format!("track_interface: {error}")),
        TrackKey::Script(name) => {
            let script = config.script(name)?;
            let credentials = match &script.user {
                Some(user) => match Credentials::lookup(&user.user, user.group.as_deref()) {
                    Ok(credentials) => Some(credentials),
                    Err(error) => return Some(format!("vrrp_script {name}: user: {error}")),
                },
                None => default_user,
            };
            let program = script.argv.first()?;
            Script::new(script.argv.clone(), credentials)
                .permitted(program)
                .err()
                .map(|refused| format!("vrrp_script {name}: {refused}"))
        }
        TrackKey::File(name) => {
            let file = config.track_file(name)?;
            check_track_file_directory(file)
                .err()
                .map(|error| format!("{error:#}"))
        }
        // Processes are followed whatever the host allows (/proc read at intervals at worst);
        // a missing source address holds its instance in FAULT, it does not stop the start.
        TrackKey::SourceAddress { .. }
        | TrackKey::Frontend(_)
        | TrackKey::VirtualServer(_)
        | TrackKey::Process(_)
        | TrackKey::Bfd(_) => None,
    }
}
