//! keepalived's `startup_script` and `shutdown_script` (`run_startup_script` and
//! `shutdown_script_completed` in keepalived/core/main.c): run once, the first before
//! anything starts and the second after everything has stopped; the daemon waits for each,
//! at most its timeout, past which the script is killed with its process group. Its exit
//! status is logged and changes nothing, as in keepalived.

use baton_config::{Config, TimedScript};

use crate::scripts::{Credentials, Outcome, Script};

/// Which of the two.
#[derive(Debug, Clone, Copy)]
pub(crate) enum When {
    Startup,
    Shutdown,
}

impl When {
    fn name(self) -> &'static str {
        match self {
            When::Startup => "startup_script",
            When::Shutdown => "shutdown_script",
        }
    }

    fn script(self, config: &Config) -> Option<&TimedScript> {
        match self {
            When::Startup => config.global.scripts.startup.as_ref(),
            When::Shutdown => config.global.scripts.shutdown.as_ref(),
        }
    }
}

/// Runs `config`'s script for `when`, if it has one, and waits for it. `default_user` runs
/// it when it names no user. A script that cannot run (unknown user, refused by script
/// security, missing) is logged and skipped, as keepalived skips it.
pub(crate) async fn run(config: &Config, when: When, default_user: Option<Credentials>) {
    let Some(timed) = when.script(config) else {
        return;
    };
    let name = when.name();
    let credentials = match &timed.script.user {
        Some(user) => match Credentials::lookup(&user.user, user.group.as_deref()) {
            Ok(credentials) => Some(credentials),
            Err(error) => {
                tracing::error!("{name} not run: {error}");
                return;
            }
        },
        None => default_user,
    };
    let script = Script::new(timed.script.argv.clone(), credentials);
    tracing::info!(script = ?timed.script.argv, timeout = ?timed.timeout, "running {name}");
    match script.run(&[], Some(timed.timeout)).await {
        Outcome::Exited(0) => tracing::info!("{name} succeeded"),
        Outcome::Exited(code) => tracing::warn!("{name} failed, status {code}"),
        Outcome::TimedOut => tracing::warn!(
            timeout = ?timed.timeout,
            "{name} timed out: killed with its process group"
        ),
        Outcome::Signalled(signal) => tracing::warn!("{name} ended by signal {signal}"),
        Outcome::SpawnFailed(reason) => tracing::error!("{name} not run: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(global: &str) -> Config {
        let text = format!(
            "global_defs {{\n{global}}}\nvrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {{\n 10.0.3.100/24\n }}\n}}\n"
        );
        baton_config::parse_keepalived(&text, "test.conf")
            .expect("valid")
            .config
    }

    #[tokio::test]
    async fn the_script_runs_and_is_killed_with_its_children_at_its_timeout() {
        let dir = std::env::temp_dir().join(format!("baton-start-stop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let marker = dir.join("ran");
        let child = dir.join("child");
        let global = format!(
            " startup_script \"/bin/sh -c 'touch {}; sleep 30 & echo $! > {}; wait'\"\n startup_script_timeout 1\n",
            marker.display(),
            child.display()
        );
        let started = std::time::Instant::now();
        run(&config(&global), When::Startup, None).await;
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert!(marker.exists(), "the script ran");
        let pid: i32 = std::fs::read_to_string(&child)
            .expect("pid")
            .trim()
            .parse()
            .expect("pid");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty() || stat.contains(") Z "),
            "the script's child survived its timeout: {stat}"
        );
        // No shutdown_script: nothing runs, nothing waits.
        run(&config(&global), When::Shutdown, None).await;
        std::fs::remove_dir_all(&dir).ok();
    }
}
