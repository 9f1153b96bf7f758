//! The two labs, in namespaces this run creates (and removes, also on Ctrl-C); everything
//! is set with `ip` and `sysctl` inside them, never in the root namespace.
//!
//! ```text
//!  VRRP lab (one bridge)                BGP lab (one bridge, and a cable router-client)
//!   lb1    10.0.3.5  (priority 100)      router 10.0.3.1  eth1 10.0.5.1 ── client 10.0.5.50
//!   lb2    10.0.3.6  (priority 150)      lb1-3  10.0.3.5-7, 10.0.9.100 on lo, bird2 + BFD
//!   app1/2 10.0.3.11-12                  app1/2 10.0.3.11-12 (10.0.9.100 on lo: DR)
//!   client 10.0.3.50                     VIP 10.0.9.100 announced by each baton
//!   VIP 10.0.3.100 on the master
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use baton_lab::{Child, Host, Lab, Signal};

use crate::bird_host::Workdir;
use crate::bird_host::bird::{self, AnycastRanges, Bird, Peer};
use crate::common::lab::spawn_logged;
use crate::configs::{self, APP_PORT, APPS};

pub(crate) const ANYCAST: &str = "10.0.9.100";
pub(crate) const VRRP_VIP: &str = "10.0.3.100/24";
const ROUTER: (&str, &str) = ("router", "10.0.3.1");
pub(crate) const BGP_LBS: [(&str, &str); 3] = [
    ("lb1", "10.0.3.5"),
    ("lb2", "10.0.3.6"),
    ("lb3", "10.0.3.7"),
];
/// lb1 backup, lb2 master.
const VRRP_LBS: [(&str, &str, u8); 2] = [("lb1", "10.0.3.5", 100), ("lb2", "10.0.3.6", 150)];
const CLIENT: &str = "10.0.3.50";
/// What the router accepts from the load balancers.
const RANGES: AnycastRanges = AnycastRanges {
    ipv4: "10.0.9.0/24",
    ipv6: None,
};
/// baton's wait after withdrawing, at a stop, before it drains.
pub(crate) const WITHDRAW_DELAY: f64 = 1.0;
/// Generous: a loaded two-core machine, BGP sessions coming back after a cut.
const SETTLE: Duration = Duration::from_secs(40);
/// The kernel table and rule priority of the hand-made resilient nexthop group.
const RESILIENT_TABLE: &str = "300";
const RESILIENT_RULE: &str = "100";
const RESILIENT_GROUP: &str = "100";

/// `ip WORDS...` (or any program) in `host`, as one line.
pub(crate) fn run(host: &Host, line: &str) -> Result<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    host.run(words[0], &words[1..])
        .with_context(|| format!("{}: {line}", host.name()))
}

/// The apps: `baton demo-app` on 8080, answering `NAME PEER`.
fn start_app(baton: &Path, host: &Host, dir: &Path) -> Result<Child> {
    let mut command = host.command(baton);
    command
        .args([
            "demo-app",
            "--listen",
            &format!("0.0.0.0:{APP_PORT}"),
            "--name",
        ])
        .arg(host.name());
    spawn_logged(host, command, &dir.join(format!("{}-app.log", host.name())))
        .map_err(anyhow::Error::msg)
}

/// baton on one load balancer.
struct Balancer {
    baton: Option<Child>,
    starts: usize,
}

impl Balancer {
    /// Whether its baton runs; one that was killed or exited is forgotten.
    fn running(&mut self) -> bool {
        let running = self.baton.as_mut().is_some_and(|b| b.is_running());
        if !running {
            self.baton = None;
        }
        running
    }
}

fn start_baton(baton: &Path, host: &Host, dir: &Path, config: &str, n: usize) -> Result<Child> {
    let name = host.name();
    let conf = dir.join(format!("{name}.toml"));
    std::fs::write(&conf, config).with_context(|| conf.display().to_string())?;
    let mut command = host.command(baton);
    command
        .arg("run")
        .arg("--config")
        .arg(&conf)
        .arg("--control")
        .arg(dir.join(format!("{name}.sock")));
    spawn_logged(host, command, &dir.join(format!("{name}-baton-{n}.log")))
        .map_err(anyhow::Error::msg)
}

// ---- BGP --------------------------------------------------------------------------------

pub(crate) struct BgpLab {
    baton: PathBuf,
    dir: Workdir,
    balancers: Vec<Balancer>,
    _birds: Vec<Bird>,
    router_bird: Bird,
    _apps: Vec<Child>,
    /// Each load balancer's relay table as its first baton installed it.
    relay_tables: Vec<String>,
    /// Last: dropping it stops whatever is left in its namespaces.
    lab: Lab,
}

/// The nftables table baton relays moved L7 connections with (`ip` family).
const RELAY_TABLE: &str = "baton_anycast_relay";

/// Every load balancer's baton.toml: one file, each skips its own address among the peers.
fn lb_config() -> String {
    let peers: Vec<&str> = BGP_LBS.iter().map(|(_, address)| *address).collect();
    configs::anycast_lb(ANYCAST, WITHDRAW_DELAY, &peers)
}

fn router_peer() -> Peer {
    Peer {
        name: "uplink".into(),
        address: ROUTER.1.parse().expect("an address"),
        address6: None,
        asn: 65000,
    }
}

fn lb_peers() -> Vec<Peer> {
    (0u32..)
        .zip(BGP_LBS)
        .map(|(i, (name, address))| Peer {
            name: name.into(),
            address: address.parse().expect("an address"),
            address6: None,
            asn: 65001 + i,
        })
        .collect()
}

impl BgpLab {
    pub(crate) fn build(baton: &Path, dir: PathBuf) -> Result<BgpLab> {
        let mut builder = Lab::builder()
            .prefix("acbb")
            .host(ROUTER.0, format!("{}/24", ROUTER.1));
        for (name, address) in BGP_LBS.iter().chain(&APPS) {
            builder = builder.host(*name, format!("{address}/24"));
        }
        let lab = builder
            .host("client", format!("{CLIENT}/24"))
            .build()
            .context("building the BGP lab")?;
        let router = lab.host(ROUTER.0);
        let client = lab.host("client");
        // The lab tests' cable and settings (they panic on a failure: the lab's guards
        // clean up on the way out).
        bird::cable_client(router, client, RANGES);
        bird::router_forwards(router, false);
        let mut apps = Vec::new();
        for (name, _) in APPS {
            let app = lab.host(name);
            crate::common::lab::make_dr_real_server(app, ANYCAST.parse()?)
                .map_err(anyhow::Error::msg)?;
            run(
                app,
                &format!("ip route add {} via {}", bird::CLIENT_SIDE, ROUTER.1),
            )?;
            apps.push(start_app(baton, app, &dir)?);
        }
        for (name, _) in BGP_LBS {
            run(
                lab.host(name),
                &format!("ip route add {} via {}", bird::CLIENT_SIDE, ROUTER.1),
            )?;
        }
        let work = Workdir(dir.clone());
        let router_bird = Bird::start(
            router,
            &work,
            &bird::router_conf(&router_peer(), &lb_peers(), RANGES),
        );
        let mut birds = Vec::new();
        let mut balancers = Vec::new();
        for (index, peer) in lb_peers().iter().enumerate() {
            let host = lab.host(BGP_LBS[index].0);
            let config = lb_config();
            balancers.push(Balancer {
                baton: Some(start_baton(baton, host, &dir, &config, 0)?),
                starts: 1,
            });
            let conf = bird::load_balancer_conf(peer, &router_peer(), bird::ANYCAST_TABLE);
            birds.push(Bird::start(host, &work, &conf));
        }
        let mut lab = BgpLab {
            baton: baton.to_path_buf(),
            dir: work,
            balancers,
            _birds: birds,
            router_bird,
            _apps: apps,
            relay_tables: Vec::new(),
            lab,
        };
        lab.wait_nexthops(&[0, 1, 2], SETTLE, "the start")?;
        for index in 0..BGP_LBS.len() {
            let table = run(lab.lb(index), &format!("nft list table ip {RELAY_TABLE}"))?;
            lab.relay_tables.push(table);
        }
        Ok(lab)
    }

    /// The relay of moved L7 connections to their load balancer on (every load balancer's
    /// table as its baton installed it at the start) or off (the tables deleted), whatever
    /// a restarted baton did meanwhile.
    pub(crate) fn set_relay(&self, on: bool) -> Result<()> {
        for (index, table) in self.relay_tables.iter().enumerate() {
            let host = self.lb(index);
            let _ = host.run("nft", &["delete", "table", "ip", RELAY_TABLE]);
            if on {
                let path = self.dir.0.join(format!("lb{}-relay.nft", index + 1));
                std::fs::write(&path, table).with_context(|| path.display().to_string())?;
                run(host, &format!("nft -f {}", path.display()))?;
            }
        }
        Ok(())
    }

    pub(crate) fn lb(&self, index: usize) -> &Host {
        self.lab.host(BGP_LBS[index].0)
    }

    pub(crate) fn client(&self) -> &Host {
        self.lab.host("client")
    }

    fn router(&self) -> &Host {
        self.lab.host(ROUTER.0)
    }

    /// The router's nexthops to the anycast address, by load balancer index, from `ip route`
    /// in its main table (what bird installed).
    pub(crate) fn nexthops(&self) -> Vec<usize> {
        bird::nexthop_indexes(self.router(), ANYCAST, &lb_peers())
    }

    /// `ip route show` of the anycast address on the router, on one line.
    pub(crate) fn route_text(&self) -> String {
        run(self.router(), &format!("ip route show {ANYCAST}"))
            .unwrap_or_else(|e| e.to_string())
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub(crate) fn wait_nexthops(
        &self,
        expected: &[usize],
        within: Duration,
        after: &str,
    ) -> Result<Duration> {
        let mut last = Vec::new();
        match crate::bird_host::wait_for(within, || {
            last = self.nexthops();
            last == expected
        }) {
            Some(took) => Ok(took),
            None => bail!(
                "after {after}: the router's nexthops are {last:?}, not {expected:?}; its BGP \
                 sessions: {:?}",
                self.router_bird.established()
            ),
        }
    }

    pub(crate) fn start_baton(&mut self, index: usize) -> Result<()> {
        let config = lb_config();
        let n = self.balancers[index].starts;
        let child = start_baton(&self.baton, self.lb(index), &self.dir.0, &config, n)?;
        let balancer = &mut self.balancers[index];
        balancer.starts += 1;
        balancer.baton = Some(child);
        Ok(())
    }

    /// `kill -9` of lb`index`'s baton: its routes stay in table 100.
    pub(crate) fn kill_baton(&mut self, index: usize) {
        if let Some(mut baton) = self.balancers[index].baton.take() {
            baton.kill();
        }
    }

    /// SIGTERM, as `systemctl stop` sends: baton withdraws, serves `WITHDRAW_DELAY`, drains
    /// and exits. [`reap`](Self::reap) waits for the exit.
    pub(crate) fn sigterm(&mut self, index: usize) -> Result<()> {
        if let Some(baton) = self.balancers[index].baton.as_mut() {
            baton.signal(Signal::SIGTERM)?;
        }
        Ok(())
    }

    /// Waits for lb`index`'s baton to exit after a SIGTERM.
    pub(crate) fn reap(&mut self, index: usize) -> Result<()> {
        if let Some(mut baton) = self.balancers[index].baton.take()
            && baton.wait_timeout(Duration::from_secs(30))?.is_none()
        {
            bail!(
                "lb{}'s baton did not exit within 30 s of SIGTERM",
                index + 1
            );
        }
        Ok(())
    }

    /// SIGTERM, and the exit.
    pub(crate) fn stop_baton(&mut self, index: usize) -> Result<()> {
        self.sigterm(index)?;
        self.reap(index)
    }

    /// What systemd runs after baton's process ends, whatever the reason: the unit's
    /// ExecStopPost lines (the leading `-` only tells systemd to ignore a failure).
    pub(crate) fn unit_stop_commands(&self, index: usize) -> Result<()> {
        let unit = include_str!("../../../../dist/baton.service");
        for line in unit.lines().filter_map(|l| l.strip_prefix("ExecStopPost=")) {
            run(self.lb(index), line.trim_start_matches('-'))?;
        }
        Ok(())
    }

    /// Every load balancer linked, running baton and announced: a baton that is not
    /// running is started again, after the unit's stop commands flushed what a killed one
    /// left.
    pub(crate) fn restore(&mut self) -> Result<()> {
        for index in 0..BGP_LBS.len() {
            self.lb(index).restore_link()?;
            if !self.balancers[index].running() {
                self.unit_stop_commands(index)?;
                self.start_baton(index)?;
            }
        }
        self.wait_nexthops(&[0, 1, 2], SETTLE, "restoring every load balancer")
            .map(drop)
    }

    /// Only the first `n` load balancers running and announced (the others stopped).
    pub(crate) fn only_first(&mut self, n: usize) -> Result<()> {
        for index in 0..BGP_LBS.len() {
            if index >= n {
                self.stop_baton(index)?;
            } else if self.balancers[index].baton.is_none() {
                self.start_baton(index)?;
            }
        }
        let expected: Vec<usize> = (0..n).collect();
        self.wait_nexthops(&expected, SETTLE, &format!("keeping {n} load balancers"))
            .map(drop)
    }

    /// The router forwards the anycast address through a resilient nexthop group of
    /// `members` (indexes) instead of bird's multipath route: a table of its own, chosen
    /// by a rule before the main table. bird 2.0.12 installs plain multipath routes only,
    /// so this stands in for a routing daemon that installs nexthop groups.
    pub(crate) fn resilient_group(&self, members: &[usize]) -> Result<()> {
        let router = self.router();
        let ids: Vec<String> = members.iter().map(|i| format!("{}", 11 + i)).collect();
        let exists = run(router, &format!("ip nexthop show id {RESILIENT_GROUP}")).is_ok();
        if !exists {
            for (index, (_, address)) in BGP_LBS.iter().enumerate() {
                run(
                    router,
                    &format!("ip nexthop add id {} via {address} dev eth0", 11 + index),
                )?;
            }
        }
        let verb = if exists { "replace" } else { "add" };
        run(
            router,
            &format!(
                "ip nexthop {verb} id {RESILIENT_GROUP} group {} type resilient buckets 64 \
                 idle_timer 0",
                ids.join("/")
            ),
        )?;
        if !exists {
            run(
                router,
                &format!(
                    "ip route add {ANYCAST}/32 nhid {RESILIENT_GROUP} table {RESILIENT_TABLE}"
                ),
            )?;
            run(
                router,
                &format!(
                    "ip rule add to {ANYCAST}/32 table {RESILIENT_TABLE} pref {RESILIENT_RULE}"
                ),
            )?;
        }
        Ok(())
    }

    /// Back to bird's multipath route.
    pub(crate) fn no_resilient_group(&self) -> Result<()> {
        let router = self.router();
        let _ = run(router, &format!("ip rule del pref {RESILIENT_RULE}"));
        let _ = run(router, &format!("ip route flush table {RESILIENT_TABLE}"));
        let _ = run(router, &format!("ip nexthop del id {RESILIENT_GROUP}"));
        for index in 0..BGP_LBS.len() {
            let _ = run(router, &format!("ip nexthop del id {}", 11 + index));
        }
        Ok(())
    }
}

// ---- VRRP -------------------------------------------------------------------------------

pub(crate) struct VrrpLab {
    baton: PathBuf,
    dir: PathBuf,
    balancers: Vec<Balancer>,
    _apps: Vec<Child>,
    lab: Lab,
}

impl VrrpLab {
    pub(crate) fn build(baton: &Path, dir: PathBuf) -> Result<VrrpLab> {
        let mut builder = Lab::builder().prefix("acbv");
        for (name, address, _) in VRRP_LBS {
            builder = builder.host(name, format!("{address}/24"));
        }
        for (name, address) in APPS {
            builder = builder.host(name, format!("{address}/24"));
        }
        let lab = builder
            .host("client", format!("{CLIENT}/24"))
            .build()
            .context("building the VRRP lab")?;
        let mut apps = Vec::new();
        for (name, _) in APPS {
            apps.push(start_app(baton, lab.host(name), &dir)?);
        }
        let mut vrrp = VrrpLab {
            baton: baton.to_path_buf(),
            dir,
            balancers: Vec::new(),
            _apps: apps,
            lab,
        };
        for index in 0..VRRP_LBS.len() {
            vrrp.balancers.push(Balancer {
                baton: None,
                starts: 0,
            });
            vrrp.start_baton(index)?;
        }
        vrrp.wait_master()?;
        Ok(vrrp)
    }

    pub(crate) fn lb(&self, index: usize) -> &Host {
        self.lab.host(VRRP_LBS[index].0)
    }

    pub(crate) fn client(&self) -> &Host {
        self.lab.host("client")
    }

    fn start_baton(&mut self, index: usize) -> Result<()> {
        let (_, _, priority) = VRRP_LBS[index];
        let config = configs::vrrp_lb(VRRP_VIP, priority);
        let n = self.balancers[index].starts;
        let child = start_baton(&self.baton, self.lb(index), &self.dir, &config, n)?;
        let balancer = &mut self.balancers[index];
        balancer.starts += 1;
        balancer.baton = Some(child);
        Ok(())
    }

    pub(crate) fn kill_baton(&mut self, index: usize) {
        if let Some(mut baton) = self.balancers[index].baton.take() {
            baton.kill();
        }
    }

    fn holds(&self, index: usize) -> bool {
        self.lb(index)
            .addresses()
            .is_ok_and(|a| a.iter().any(|x| x == VRRP_VIP))
    }

    /// Waits until lb1, the backup, holds the VIP: how long that took.
    pub(crate) fn wait_backup_holds(&self, within: Duration) -> Option<Duration> {
        crate::bird_host::wait_for(within, || self.holds(0))
    }

    /// lb2 master and serving, lb1 backup.
    fn wait_master(&self) -> Result<()> {
        let settled = crate::bird_host::wait_for(SETTLE, || self.holds(1) && !self.holds(0));
        if settled.is_none() {
            bail!("the VIP did not settle on lb2 alone");
        }
        // The frontend's first checks.
        std::thread::sleep(Duration::from_millis(500));
        Ok(())
    }

    /// Both linked and running baton, lb2 master again. A killed baton left its VIP on
    /// eth0: removed before the restart, as a reboot would.
    pub(crate) fn restore(&mut self) -> Result<()> {
        for index in 0..VRRP_LBS.len() {
            self.lb(index).restore_link()?;
            if !self.balancers[index].running() {
                let _ = run(
                    self.lb(index),
                    &format!("ip address del {VRRP_VIP} dev eth0"),
                );
                self.start_baton(index)?;
            }
        }
        self.wait_master()
    }
}
