//! `vrrp_strict` on the wire: a master that is not the address owner drops traffic to its
//! virtual address (no_accept, strict mode's default), as keepalived 2.2.7 does with the
//! same file; with `accept` it answers. baton's rules live in `inet baton_vrrp`, removed
//! when it stops and replaced when a killed daemon left them.

mod common;

use std::process::Stdio;
use std::time::Duration;

use baton_lab::Host;
use common::{
    Daemon, VIP, Workdir, fail, guide_lab, holds, keepalived_conf, on_path, start_baton,
    start_baton_toml, start_keepalived, wait_for,
};

const ADDRESS: &str = "10.0.3.100";

/// VRRPv3 (v2 resets accept under strict mode), priority 150: not the owner.
fn strict_conf(extra: &str) -> String {
    keepalived_conf("lb2", 3, 150, "0.1", extra).replacen(
        "global_defs {\n",
        "global_defs {\n    vrrp_strict\n",
        1,
    )
}

fn answers_ping(client: &Host) -> bool {
    client.run("ping", &["-c", "1", "-W", "1", ADDRESS]).is_ok()
}

fn has_table(host: &Host, family: &str, table: &str) -> bool {
    host.run("nft", &["list", "table", family, table]).is_ok()
}

/// Waits for `daemon` in `host` to hold the VIP.
fn master(host: &Host, daemon: &Daemon) {
    if wait_for(Duration::from_secs(10), || holds(host, VIP)).is_none() {
        fail("lb2 never became master", &[daemon]);
    }
}

fn skipped(test: &str) -> bool {
    if on_path("nft") && on_path("ping") {
        return false;
    }
    eprintln!("SKIPPED (needs nft and ping on PATH): {test}");
    true
}

#[test]
fn a_strict_master_drops_pings_to_its_address_and_answers_with_accept() {
    if skipped("strict no_accept") {
        return;
    }
    let Some(lab) = guide_lab("strict no_accept") else {
        return;
    };
    let dir = Workdir::new("strict");
    let (lb2, client) = (lab.host("lb2"), lab.host("client"));

    let mut strict = start_baton(lb2, &dir, &strict_conf(""));
    master(lb2, &strict);
    if !has_table(lb2, "inet", "baton_vrrp") {
        fail("no inet baton_vrrp table on a strict master", &[&strict]);
    }
    // A few tries: the first may be lost to ARP while the VIP is fresh.
    if (0..3).any(|_| answers_ping(client)) {
        fail(
            "a strict (no_accept) master answered a ping to its VIP",
            &[&strict],
        );
    }
    strict.child.terminate();
    if has_table(lb2, "inet", "baton_vrrp") {
        fail(
            "baton left inet baton_vrrp behind after SIGTERM",
            &[&strict],
        );
    }

    // A killed daemon leaves its table; the next start replaces it.
    let mut killed = start_baton(lb2, &dir, &strict_conf(""));
    master(lb2, &killed);
    killed.child.kill();
    if !has_table(lb2, "inet", "baton_vrrp") {
        fail(
            "the table was gone after kill -9 (nothing to test)",
            &[&killed],
        );
    }
    let _ = lb2.run("ip", &["addr", "del", VIP, "dev", "eth0"]);

    let accept = start_baton(lb2, &dir, &strict_conf("    accept\n"));
    master(lb2, &accept);
    if has_table(lb2, "inet", "baton_vrrp") {
        fail(
            "a start with accept kept the killed daemon's drop rules",
            &[&accept],
        );
    }
    if wait_for(Duration::from_secs(10), || answers_ping(client)).is_none() {
        fail(
            "a strict master with accept did not answer a ping",
            &[&accept],
        );
    }
}

/// keepalived 2.2.7 with the same files does the same: its own nftables table drops the
/// ping, and with `accept` it answers. (It lets nothing through, which is what `baton
/// check` warns about.)
#[test]
fn keepalived_with_the_same_files_drops_pings_and_answers_with_accept() {
    if skipped("strict no_accept (keepalived)") {
        return;
    }
    if !on_path("keepalived") {
        eprintln!("SKIPPED (needs keepalived on PATH): strict no_accept (keepalived)");
        return;
    }
    let Some(lab) = guide_lab("strict no_accept (keepalived)") else {
        return;
    };
    let dir = Workdir::new("strict-keepalived");
    let (lb2, client) = (lab.host("lb2"), lab.host("client"));
    let mut keepalived = start_keepalived(lb2, &dir, &strict_conf(""));
    master(lb2, &keepalived);
    // keepalived adds its rules along with the address; give it a moment to settle.
    if wait_for(Duration::from_secs(5), || {
        lb2.run("nft", &["list", "ruleset"])
            .is_ok_and(|r| r.contains(ADDRESS))
    })
    .is_none()
    {
        fail(
            "keepalived installed no nftables rule for the VIP",
            &[&keepalived],
        );
    }
    if (0..3).any(|_| answers_ping(client)) {
        fail("keepalived's strict master answered a ping", &[&keepalived]);
    }
    keepalived.child.terminate();
    let _ = lb2.run("ip", &["addr", "del", VIP, "dev", "eth0"]);
    // With accept (VRRPv3) keepalived answers too.
    let accept = start_keepalived(lb2, &dir, &strict_conf("    accept\n"));
    master(lb2, &accept);
    if wait_for(Duration::from_secs(10), || answers_ping(client)).is_none() {
        fail(
            "keepalived's strict master with accept did not answer a ping",
            &[&accept],
        );
    }
}

/// A baton.toml master with `accept = false` and a frontend on the VIP: the frontend's port
/// is let through, everything else to the VIP (ping) is dropped.
const NO_ACCEPT_FRONTEND: &str = r#"[[vrrp]]
name = "VI_1"
interface = "eth0"
virtual_router_id = 51
version = 3
priority = 150
advert_int = 0.1
accept = false
virtual_ipaddress = ["10.0.3.100/24"]

[[frontend]]
name = "web"
listen = "10.0.3.100:80"
backend = "app"

[[backend]]
name = "app"
servers = ["10.0.3.11:8080"]
"#;

/// An HTTP server on app1 that answers its host's name.
const APP: &str = r#"
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"app1")
    def log_message(self, *a):
        pass
http.server.HTTPServer(("0.0.0.0", 8080), H).serve_forever()
"#;

#[test]
fn a_no_accept_master_still_serves_its_own_frontend_on_the_vip() {
    if skipped("no_accept frontend exception") {
        return;
    }
    let Some(lab) = guide_lab("no_accept frontend exception") else {
        return;
    };
    let dir = Workdir::new("no-accept-frontend");
    let mut app = lab.host("app1").command("python3");
    app.args(["-c", APP])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _app = lab.host("app1").spawn(app).expect("app server");
    let (lb2, client) = (lab.host("lb2"), lab.host("client"));
    let baton = start_baton_toml(lb2, &dir, NO_ACCEPT_FRONTEND);
    master(lb2, &baton);
    let rules = lb2
        .run("nft", &["list", "table", "inet", "baton_vrrp"])
        .unwrap_or_default();
    if !rules.contains("ip daddr 10.0.3.100 tcp dport 80 accept") || !rules.contains("drop") {
        fail(
            &format!("no exception before the drop:\n{rules}"),
            &[&baton],
        );
    }
    let get = || {
        client
            .run(
                "python3",
                &[
                    "-c",
                    "import urllib.request; print(urllib.request.urlopen('http://10.0.3.100/', timeout=2).read().decode())",
                ],
            )
            .is_ok_and(|body| body.trim() == "app1")
    };
    if wait_for(Duration::from_secs(10), get).is_none() {
        fail(
            "the frontend on a no_accept master's VIP did not serve",
            &[&baton],
        );
    }
    if (0..3).any(|_| answers_ping(client)) {
        fail("a no_accept master answered a ping to its VIP", &[&baton]);
    }
}

/// A reload that writes `accept` restarts the instance: its drop rules go with it.
#[test]
fn a_reload_to_accept_removes_the_drop_rules() {
    if skipped("strict reload to accept") {
        return;
    }
    let Some(lab) = guide_lab("strict reload to accept") else {
        return;
    };
    let dir = Workdir::new("strict-reload");
    let (lb2, client) = (lab.host("lb2"), lab.host("client"));
    let mut baton = start_baton(lb2, &dir, &strict_conf(""));
    master(lb2, &baton);
    if !has_table(lb2, "inet", "baton_vrrp") {
        fail("no inet baton_vrrp table on a strict master", &[&baton]);
    }
    dir.write("lb2.conf", &strict_conf("    accept\n"));
    baton
        .child
        .signal(baton_lab::Signal::SIGHUP)
        .expect("SIGHUP");
    if wait_for(Duration::from_secs(10), || {
        !has_table(lb2, "inet", "baton_vrrp") && holds(lb2, VIP) && answers_ping(client)
    })
    .is_none()
    {
        fail(
            "after a reload to accept the master still drops, or lost its VIP",
            &[&baton],
        );
    }
}
