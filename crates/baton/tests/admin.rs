//! The admin listener of `baton run` on loopback (any user): `/metrics` after real traffic,
//! `/status.json` against `baton status --json`, and the status page rendered by headless
//! Chromium: per-server counters and the history charts, after real requests, and the L4
//! real servers' last probes; and, as root on the guide's lab, an instance's state charted
//! as MASTER.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::loopback::{Running, free_port, request, upstream};
use common::{Workdir, wait_for};

/// A daemon with frontend `web` over `live` and a dead server (nothing listens there),
/// checked every 0.2 s so the dead one is soon down, and its admin listener.
struct Setup {
    daemon: Running,
    frontend: SocketAddr,
    admin: SocketAddr,
    live: SocketAddr,
    dead: SocketAddr,
    _dir: Workdir,
}

fn loopback_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

fn start(name: &str) -> Setup {
    let dir = Workdir::new(name);
    let (live, dead) = (upstream("live"), loopback_addr());
    let (frontend, admin) = (loopback_addr(), loopback_addr());
    let config = dir.write(
        "baton.toml",
        &format!(
            "[[frontend]]\nname = \"web\"\nlisten = \"{frontend}\"\nbackend = \"app\"\n\n\
             [[backend]]\nname = \"app\"\nbalance = \"roundrobin\"\n\
             servers = [\"{live}\", \"{dead}\"]\n\
             health_check = {{ type = \"tcp\", interval = 0.2, fall = 1 }}\n"
        ),
    );
    let daemon = Running::start(&dir, &config, &["--admin", &admin.to_string()]);
    let settled = wait_for(Duration::from_secs(10), || {
        request(admin, "/status.json").is_ok_and(|(_, body)| {
            let status: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            // "up" after its first check, not merely "unchecked" (which counts as up): a
            // check finishing between two reads would otherwise change the answer.
            let live_checked = server_of(&status, live).is_some_and(|s| s["check"] == "up");
            live_checked && up_of(&status, dead) == Some(false)
        })
    });
    assert!(
        settled.is_some(),
        "the admin listener never showed the dead server down\n{}",
        daemon.log()
    );
    Setup {
        daemon,
        frontend,
        admin,
        live,
        dead,
        _dir: dir,
    }
}

/// `server`'s entry in a status JSON.
fn server_of(status: &serde_json::Value, server: SocketAddr) -> Option<&serde_json::Value> {
    status["backends"]
        .as_array()?
        .iter()
        .find(|s| s["address"] == server.to_string())
}

/// Whether `server` is up in a status JSON.
fn up_of(status: &serde_json::Value, server: SocketAddr) -> Option<bool> {
    server_of(status, server)?["up"].as_bool()
}

/// The value of the sample `series` (name and labels exactly as written) in `metrics`.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
        .parse()
        .expect("number")
}

#[test]
fn metrics_count_answers_by_class_and_time_them() {
    let setup = start("admin-metrics");
    let (ok, not_found, errors) = (7, 2, 3);
    let paths = std::iter::repeat_n("/", ok)
        .chain(std::iter::repeat_n("/status/404", not_found))
        .chain(std::iter::repeat_n("/status/500", errors));
    for path in paths {
        let (code, body) = request(setup.frontend, path).expect("request");
        assert_eq!(body.trim(), "live", "{code} {path}");
    }

    let (code, metrics) = request(setup.admin, "/metrics").expect("metrics");
    assert_eq!(code, 200);
    let live = format!("frontend=\"web\",backend=\"app\",server=\"{}\"", setup.live);
    let dead = format!("frontend=\"web\",backend=\"app\",server=\"{}\"", setup.dead);
    let requests = |labels: &str, class: &str| {
        sample(
            &metrics,
            &format!("baton_server_requests_total{{{labels},code=\"{class}\"}}"),
        )
    };
    assert_eq!(requests(&live, "2xx"), ok as f64);
    assert_eq!(requests(&live, "4xx"), not_found as f64);
    assert_eq!(requests(&live, "5xx"), errors as f64);
    assert_eq!(requests(&live, "3xx"), 0.0);
    assert_eq!(requests(&dead, "2xx"), 0.0);
    let total = (ok + not_found + errors) as f64;
    let histogram = "baton_server_response_duration_seconds";
    assert_eq!(
        sample(&metrics, &format!("{histogram}_count{{{live}}}")),
        total
    );
    assert_eq!(
        sample(
            &metrics,
            &format!("{histogram}_bucket{{{live},le=\"+Inf\"}}")
        ),
        total
    );
    assert!(sample(&metrics, &format!("{histogram}_sum{{{live}}}")) > 0.0);
    assert_eq!(
        sample(&metrics, &format!("{histogram}_count{{{dead}}}")),
        0.0
    );

    assert_eq!(sample(&metrics, &format!("baton_server_up{{{live}}}")), 1.0);
    assert_eq!(sample(&metrics, &format!("baton_server_up{{{dead}}}")), 0.0);
    assert!(
        sample(
            &metrics,
            &format!("baton_server_check_failures_total{{{dead}}}")
        ) >= 1.0
    );
    assert_eq!(
        sample(&metrics, &format!("baton_server_requests_active{{{live}}}")),
        0.0
    );
    assert!(
        sample(
            &metrics,
            "baton_frontend_connections_total{frontend=\"web\"}"
        ) >= total
    );
    assert!(metrics.contains("# TYPE baton_server_response_duration_seconds histogram\n"));
    assert!(metrics.contains("baton_build_info{version=\""));

    let (code, _) = request(setup.admin, "/nothing").expect("404");
    assert_eq!(code, 404);
    setup.daemon.stop();
}

#[test]
fn status_json_is_baton_status_json() {
    let setup = start("admin-status");
    // An HTTP/2 client's request (served by hyper, not the HTTP/1.1 path) counts its bytes
    // too: its 8 KiB field goes to the server in the request head.
    let pad = 8192;
    let http2 = common::on_path("curl");
    if http2 {
        let answer = Command::new("curl")
            .args(["-sS", "--max-time", "10", "--http2-prior-knowledge", "-H"])
            .arg(format!("x-pad: {}", "x".repeat(pad)))
            .arg(format!("http://{}/", setup.frontend))
            .output()
            .expect("curl");
        let body = String::from_utf8_lossy(&answer.stdout);
        assert_eq!(body.trim(), "live", "{answer:?}");
    } else {
        eprintln!("SKIPPED (needs curl): the HTTP/2 part of status_json_is_baton_status_json");
    }
    let (code, body) = request(setup.admin, "/status.json").expect("status.json");
    assert_eq!(code, 200);
    let served: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    if http2 {
        let live = served["backends"]
            .as_array()
            .expect("backends")
            .iter()
            .find(|s| s["address"] == setup.live.to_string())
            .expect("live in status");
        assert!(live["bytes_out"].as_u64() > Some(pad as u64), "{live}");
        assert!(live["bytes_in"].as_u64() > Some(0), "{live}");
    }
    // Checks run every 0.2 s: the last one's latency may differ between the two answers.
    let without_last_check = |mut status: serde_json::Value| {
        for server in status["backends"].as_array_mut().expect("backends") {
            let last = server.as_object_mut().expect("server").remove("last_check");
            assert!(
                last.is_some_and(|l| l.is_null() || l["latency_us"].is_u64()),
                "{server}"
            );
        }
        status
    };
    assert_eq!(
        without_last_check(served),
        without_last_check(setup.daemon.status())
    );
    setup.daemon.stop();
}

/// Where Chromium is missing: a failure on CI (which installs it), a loud skip elsewhere.
fn chromium(test: &str) -> Option<&'static str> {
    for candidate in ["chromium", "chromium-browser"] {
        let found = Command::new(candidate)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if found {
            return Some(candidate);
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "chromium is not installed, and CI must have it (.ci/run installs it)"
    );
    eprintln!("SKIPPED (needs chromium, from the chromium package): {test}");
    None
}

/// The DOM of `url` after up to 5 s of (virtual) time, as headless Chromium (`chromium`, a
/// command to which the flags are added) renders it.
fn dump_dom(mut chromium: Command, url: &str, profile: &std::path::Path) -> String {
    let mut child = chromium
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut dom = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut dom);
        dom
    });
    let exited = wait_for(Duration::from_secs(90), || {
        child.try_wait().ok().flatten().is_some()
    });
    if exited.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("chromium did not finish within 90 s");
    }
    reader.join().expect("reader")
}

/// The `<tr>` of the page's server table for `server`.
fn server_row(dom: &str, server: SocketAddr) -> &str {
    let marker = format!("data-address=\"{server}\"");
    let start = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no row for {server} in\n{dom}"));
    let end = dom[start..].find("</tr>").expect("row end") + start;
    &dom[start..end]
}

/// The number in attribute `name` of a rendered element.
fn attribute(element: &str, name: &str) -> f64 {
    let marker = format!("{name}=\"");
    let start = element
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {element}"))
        + marker.len();
    let end = element[start..].find('"').expect("attribute end") + start;
    element[start..end]
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number in {element}"))
}

/// The `<svg>` of the history chart with `marker` (`data-backend="app"`).
fn chart<'a>(dom: &'a str, marker: &str) -> &'a str {
    dom.match_indices("<svg")
        .map(|(start, _)| {
            let end = dom[start..].find("</svg>").expect("svg end") + start;
            &dom[start..end]
        })
        .find(|svg| svg[..svg.find('>').unwrap_or(0)].contains(marker))
        .unwrap_or_else(|| panic!("no chart with {marker} in\n{dom}"))
}

#[test]
fn status_page_renders_servers_up_and_down() {
    let Some(chromium) = chromium("status_page_renders_servers_up_and_down") else {
        return;
    };
    let setup = start("admin-page");
    let sent: u32 = 12;
    for _ in 0..sent {
        let (code, body) = request(setup.frontend, "/").expect("request");
        assert_eq!((code, body.trim()), (200, "live"));
    }
    // The daemon samples every 10 s: the rate needs a sample after the requests.
    let history = || -> Option<serde_json::Value> {
        let (_, body) = request(setup.admin, "/history.json").ok()?;
        serde_json::from_str(&body).ok()
    };
    let rated = wait_for(Duration::from_secs(30), || {
        history().is_some_and(|h| {
            h["backends"][0]["requests_per_s"]
                .as_array()
                .is_some_and(|rates| rates.iter().any(|r| r.as_f64() > Some(0.0)))
        })
    });
    assert!(
        rated.is_some(),
        "/history.json never showed the requests\n{}",
        setup.daemon.log()
    );
    let history = history().expect("history");
    assert_eq!(history["interval_s"], 10);
    let profile = Workdir::new("admin-page-chromium");
    let dom = dump_dom(
        Command::new(chromium),
        &format!("http://{}/", setup.admin),
        &profile.path("profile"),
    );
    assert!(dom.contains("Updated "), "no update time shown:\n{dom}");
    assert!(
        dom.contains("<div id=\"banner\" role=\"alert\"></div>")
            && !dom.contains("class=\"stale\""),
        "the page says the daemon is not answering:\n{dom}"
    );

    let status = setup.daemon.status();
    for server in [setup.live, setup.dead] {
        let row = server_row(&dom, server);
        let up = up_of(&status, server).expect("in status");
        assert!(row.contains(&format!("data-up=\"{up}\"")), "{row}");
        let shown = if up { ">UP<" } else { ">DOWN<" };
        assert!(row.contains(shown), "{server} should show {shown}: {row}");
    }
    assert!(server_row(&dom, setup.live).contains(">UP<"));
    assert!(server_row(&dom, setup.dead).contains(">DOWN<"));

    // HAProxy's columns, with the requests made above: every one went to the live server
    // (the dead one is down by its check), and each moved bytes both ways.
    let live = server_row(&dom, setup.live);
    assert!(
        attribute(live, "data-requests") >= f64::from(sent),
        "{live}"
    );
    assert!(attribute(live, "data-bytes-in") > 0.0, "{live}");
    assert!(attribute(live, "data-bytes-out") > 0.0, "{live}");
    assert!(live.contains(">passed in "), "{live}");
    let dead = server_row(&dom, setup.dead);
    assert_eq!(attribute(dead, "data-requests"), 0.0, "{dead}");
    assert!(dead.contains(">failed in "), "{dead}");
    let json = setup.daemon.status();
    let live_json = json["backends"]
        .as_array()
        .expect("backends")
        .iter()
        .find(|s| s["address"] == setup.live.to_string())
        .expect("live in status");
    assert!(live_json["max_active"].as_u64() >= Some(1), "{live_json}");
    assert_eq!(
        live_json["responses"]["2xx"].as_u64(),
        Some(u64::from(sent))
    );

    // The backend's request rate, drawn from the daemon's samples.
    let drawn = chart(&dom, "data-backend=\"app\"");
    assert!(attribute(drawn, "data-peak") > 0.0, "{drawn}");
    assert!(drawn.contains("<polyline"), "{drawn}");
    assert!(
        dom.contains("a sample every 10 s"),
        "no history caption:\n{dom}"
    );
    setup.daemon.stop();
}

/// A VRRP instance's state drawn from the daemon's samples: a baton alone on the guide's lab
/// becomes MASTER, and the page (rendered inside its namespace, where the admin listener is
/// on the default 127.0.0.1:9180) shows a band of MASTER for it. Root only.
#[test]
fn status_page_charts_an_instance_s_state() {
    let Some(chromium) = chromium("status_page_charts_an_instance_s_state") else {
        return;
    };
    if !common::on_path("curl") {
        eprintln!("SKIPPED (needs curl): status_page_charts_an_instance_s_state");
        return;
    }
    let Some(lab) = common::guide_lab("status_page_charts_an_instance_s_state") else {
        return;
    };
    let dir = Workdir::new("admin-page-vrrp");
    let lb1 = lab.host("lb1");
    let conf = common::keepalived_conf("lb1", 3, 150, "0.1", "");
    let mut daemon = common::start_baton(lb1, &dir, &conf);
    let history = || -> Option<serde_json::Value> {
        let body = lb1
            .run("curl", &["-sf", "http://127.0.0.1:9180/history.json"])
            .ok()?;
        serde_json::from_str(&body).ok()
    };
    // Samples come every 10 s; the first may predate the election.
    let charted = wait_for(Duration::from_secs(30), || {
        history().is_some_and(|h| {
            h["instances"][0]["states"]
                .as_array()
                .and_then(|states| states.last().cloned())
                == Some(serde_json::json!("MASTER"))
        })
    });
    assert!(
        charted.is_some(),
        "/history.json never showed VI_1 MASTER: {:?}\n{}",
        history(),
        daemon.log_text()
    );
    let profile = Workdir::new("admin-page-vrrp-chromium");
    let dom = dump_dom(
        lb1.command(chromium),
        "http://127.0.0.1:9180/",
        &profile.path("profile"),
    );
    let band = chart(&dom, "data-instance=\"VI_1\"");
    assert!(band.contains("data-latest=\"MASTER\""), "{band}");
    assert!(band.contains("class=\"state-MASTER\""), "{band}");
    daemon.child.kill();
}

/// Serves the status page as the daemon does, with `status` as its `/status.json`, on a
/// thread of its own for the rest of the test.
fn serve_page(status: String) -> SocketAddr {
    use std::io::{BufRead as _, BufReader, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut lines = BufReader::new(&stream).lines();
            let target = lines
                .next()
                .and_then(Result::ok)
                .and_then(|line| line.split(' ').nth(1).map(str::to_owned))
                .unwrap_or_default();
            // The rest of the head.
            for line in lines.by_ref() {
                if line.map_or(true, |l| l.is_empty()) {
                    break;
                }
            }
            let (code, kind, body) = match target.as_str() {
                "/" => ("200 OK", "text/html", PAGE),
                "/status.json" => ("200 OK", "application/json", status.as_str()),
                _ => ("404 Not Found", "text/plain", ""),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {code}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    address
}

const PAGE: &str = include_str!("../src/admin/status.html");

/// A real server of a status JSON, as the daemon writes one.
fn real_server(
    address: &str,
    last_check: &str,
    last_probe: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "address": address, "up": true, "weight": 1, "configured_weight": 1, "active": 0,
        "admin": "ready", "check": "up", "last_check": last_check, "last_probe": last_probe,
        "packets": 0, "bytes": 0, "connections": 0,
    })
}

/// The L4 table shows each real server's last probe as the backend table shows a server's
/// last check: result and latency, the failure's reason as the tooltip. The status is made
/// up here (virtual servers need root and nftables, the page does not); the daemon's side
/// of `last_probe` is held by its unit tests and the virtual_servers lab test.
#[test]
fn status_page_shows_real_servers_last_probes() {
    let Some(chromium) = chromium("status_page_shows_real_servers_last_probes") else {
        return;
    };
    let status = serde_json::json!({
        "virtual_servers": [{
            "name": "10.0.3.100:80/tcp", "protocol": "tcp", "lb_algo": "wlc", "lb_kind": "NAT",
            "quorum_up": true, "live_weight": 2, "quorum": 1, "sorry_server": null,
            "sorry_active": false,
            "real_servers": [
                real_server("10.0.3.11:80", "TCP_CHECK: up",
                    serde_json::json!({"passed": true, "failure": "", "latency_us": 420})),
                real_server("10.0.3.12:80", "TCP_CHECK: connect failed: Connection refused",
                    serde_json::json!({"passed": false, "latency_us": 2000,
                                       "failure": "connect failed: Connection refused"})),
                real_server("10.0.3.13:80", "not checked yet", serde_json::Value::Null),
            ],
        }],
    });
    let address = serve_page(status.to_string());
    let profile = Workdir::new("admin-page-l4-chromium");
    let dom = dump_dom(
        Command::new(chromium),
        &format!("http://{address}/"),
        &profile.path("profile"),
    );
    let row = |server: &str| server_row(&dom, server.parse().expect("address"));
    let passed = row("10.0.3.11:80");
    assert!(
        passed.contains("title=\"TCP_CHECK: up\">passed in 0.4 ms</td>"),
        "{passed}"
    );
    let failed = row("10.0.3.12:80");
    assert!(
        failed.contains(
            "<td class=\"failed\" title=\"connect failed: Connection refused\">\
             failed in 2.0 ms: connect failed</td>"
        ),
        "{failed}"
    );
    let unprobed = row("10.0.3.13:80");
    assert!(unprobed.contains(">not checked yet</td>"), "{unprobed}");
}
