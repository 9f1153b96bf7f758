//! The Grafana dashboard (contrib/grafana/baton.json) and the Prometheus alerting rules
//! (contrib/prometheus/) held to baton itself: every metric their queries name is one a
//! running daemon exports, and the dashboard shows every family it exports; the dashboard
//! imports with its data source and host variables; with promtool, the rules pass
//! `promtool check rules` and their unit tests, and the dashboard's queries parse. Any
//! user: the daemon runs on loopback.

mod common;
#[path = "dashboards/promql.rs"]
mod promql;
#[path = "dashboards/promtool.rs"]
mod promtool;
#[path = "dashboards/sources.rs"]
mod sources;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use common::loopback::{Running, free_port, loopback_config, request, upstream};
use common::{Workdir, wait_for};
use sources::{Dashboard, contrib, read, yaml_values};

/// Series the queries may use that baton does not export: Prometheus's own scrape health.
const PROMETHEUS_OWN: [&str; 1] = ["up"];

/// Grafana's built-in variables the queries use.
const GRAFANA_BUILTINS: [&str; 3] = ["__rate_interval", "__range", "__interval"];

/// The metric families a running daemon declares on `/metrics`, by name, with their kind.
/// Every family is declared also without samples (no VRRP instance, no virtual server), so
/// a daemon with one frontend on loopback shows them all.
fn exported_families() -> BTreeMap<String, String> {
    let dir = Workdir::new("dashboards");
    let frontend = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let admin = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = dir.write("baton.toml", &loopback_config(frontend, &[upstream("app")]));
    let daemon = Running::start(&dir, &config, &["--admin", &admin.to_string()]);
    let mut metrics = String::new();
    let scraped = wait_for(Duration::from_secs(10), || {
        match request(admin, "/metrics") {
            Ok((200, body)) => metrics = body,
            _ => return false,
        }
        true
    });
    assert!(scraped.is_some(), "no /metrics answer\n{}", daemon.log());
    daemon.stop();
    let families: BTreeMap<String, String> = metrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_once(' '))
        .map(|(name, kind)| (name.to_owned(), kind.to_owned()))
        .collect();
    assert!(
        families.contains_key("baton_vrrp_state") && families.contains_key("baton_real_server_up"),
        "the exposition lost its VRRP or L4 families:\n{metrics}"
    );
    families
}

/// The series names a family's queries select: a histogram's `_bucket`, `_sum`, `_count`.
fn series_names(name: &str, kind: &str) -> Vec<String> {
    if kind == "histogram" {
        ["_bucket", "_sum", "_count"]
            .iter()
            .map(|suffix| format!("{name}{suffix}"))
            .collect()
    } else {
        vec![name.to_owned()]
    }
}

/// Each place that names metrics, with the names it uses.
fn used_metrics() -> Vec<(&'static str, BTreeSet<String>)> {
    let from_exprs = |exprs: Vec<String>| -> BTreeSet<String> {
        exprs.iter().flat_map(|e| promql::metric_names(e)).collect()
    };
    let rule_tests = read("prometheus/baton-rules.test.yml");
    let series = yaml_values(&rule_tests, "series")
        .iter()
        .map(|s| s.split('{').next().unwrap_or_default().trim().to_owned())
        .collect();
    vec![
        (
            "contrib/grafana/baton.json",
            from_exprs(Dashboard::load().exprs()),
        ),
        (
            "contrib/prometheus/baton-rules.yml",
            from_exprs(yaml_values(&read("prometheus/baton-rules.yml"), "expr")),
        ),
        ("contrib/prometheus/baton-rules.test.yml", series),
    ]
}

#[test]
fn the_dashboard_and_rules_use_only_metrics_baton_exports_and_show_all() {
    let families = exported_families();
    let exported: BTreeSet<String> = families
        .iter()
        .flat_map(|(name, kind)| series_names(name, kind))
        .chain(PROMETHEUS_OWN.map(str::to_owned))
        .collect();

    let used = used_metrics();
    let mut unknown = String::new();
    for (source, names) in &used {
        assert!(
            names.len() >= 10,
            "{source}: only {names:?} found, the scan is broken"
        );
        for name in names.difference(&exported) {
            let _ = writeln!(unknown, "{source}: {name}");
        }
    }
    assert!(
        unknown.is_empty(),
        "metrics baton does not export (renamed or removed? see docs/metrics.md):\n{unknown}\
         exported: {exported:?}"
    );

    let on_dashboard = &used[0].1;
    let missing: Vec<&String> = families
        .iter()
        .filter(|(name, kind)| {
            !series_names(name, kind)
                .iter()
                .any(|s| on_dashboard.contains(s))
        })
        .map(|(name, _)| name)
        .collect();
    assert!(
        missing.is_empty(),
        "families no panel of contrib/grafana/baton.json shows: {missing:?}"
    );
}

#[test]
fn the_dashboard_imports_with_datasource_and_host_variables() {
    let dashboard = Dashboard::load();
    let schema = dashboard.0["schemaVersion"]
        .as_u64()
        .expect("schemaVersion");
    assert!(
        schema <= 36,
        "schemaVersion {schema} is newer than Grafana 9.0 reads"
    );
    assert_eq!(
        dashboard.0["id"],
        serde_json::Value::Null,
        "ids are per server"
    );

    let variables: BTreeMap<&str, &serde_json::Value> = dashboard
        .variables()
        .iter()
        .map(|v| (v["name"].as_str().expect("variable name"), v))
        .collect();
    let datasource = variables.get("datasource").expect("a datasource variable");
    assert_eq!(datasource["type"], "datasource");
    assert_eq!(datasource["query"], "prometheus");
    let host = variables
        .get("instance")
        .expect("an instance (host) variable");
    assert_eq!(host["type"], "query");
    assert_eq!(host["includeAll"], true);

    let this_datasource = serde_json::json!({"type": "prometheus", "uid": "${datasource}"});
    let mut ids = BTreeSet::new();
    for panel in dashboard.panels() {
        let title = panel["title"].as_str().expect("every panel has a title");
        assert!(ids.insert(panel["id"].as_u64()), "id of {title} twice");
        let (x, w) = (&panel["gridPos"]["x"], &panel["gridPos"]["w"]);
        let right = x.as_u64().expect("x") + w.as_u64().expect("w");
        assert!(right <= 24, "{title} is wider than the dashboard");
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(panel["datasource"], this_datasource, "{title}");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title} queries nothing");
        for target in targets {
            assert_eq!(target["datasource"], this_datasource, "{title}");
        }
    }

    for expr in dashboard.exprs() {
        for variable in variables_in(&expr) {
            assert!(
                variables.contains_key(variable.as_str())
                    || GRAFANA_BUILTINS.contains(&variable.as_str()),
                "${variable} is not defined: {expr}"
            );
        }
        // Per-host panels follow the host variable; the cluster views (masters per VRRP
        // instance) count over every host of the job on purpose.
        let cluster_wide = expr.contains("by (job, ");
        assert!(
            expr.contains("instance=~\"$instance\"") || cluster_wide || is_host_query(&expr),
            "neither per selected host nor cluster-wide: {expr}"
        );
    }
}

/// The host variable's own query, over every host.
fn is_host_query(expr: &str) -> bool {
    expr == "baton_build_info"
}

/// The names of the `$variables` in `expr`.
fn variables_in(expr: &str) -> Vec<String> {
    expr.split('$')
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// The alert names in the rules file.
fn alerts() -> Vec<String> {
    let alerts = yaml_values(&read("prometheus/baton-rules.yml"), "alert");
    assert!(alerts.len() >= 10, "{alerts:?}");
    alerts
}

#[test]
fn every_alert_is_explained_in_the_docs() {
    let doc_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/metrics.md");
    let doc = std::fs::read_to_string(doc_path).expect("docs/metrics.md");
    for alert in alerts() {
        assert!(
            doc.contains(&format!("`{alert}`")),
            "docs/metrics.md does not explain {alert}"
        );
    }
}

/// Each alert has a unit test where it fires (a block `alertname: X` then `exp_alerts:`
/// with entries) and one where it does not (`alertname: X, exp_alerts: []` on one line).
#[test]
fn every_alert_has_a_firing_and_a_quiet_unit_test() {
    let tests = read("prometheus/baton-rules.test.yml");
    let lines: Vec<&str> = tests.lines().map(str::trim).collect();
    for alert in alerts() {
        let fires = lines
            .windows(2)
            .any(|w| w[0] == format!("alertname: {alert}") && w[1] == "exp_alerts:");
        let quiet = tests.contains(&format!("alertname: {alert}, exp_alerts: []"));
        assert!(
            fires && quiet,
            "{alert}: firing test {fires}, quiet test {quiet}"
        );
    }
}

#[test]
fn the_rules_pass_promtool_check_and_their_unit_tests() {
    let Some(promtool) = promtool::find("the_rules_pass_promtool_check_and_their_unit_tests")
    else {
        return;
    };
    let dir = contrib("prometheus");
    let checked = promtool::run(&promtool, &dir, &["check", "rules", "baton-rules.yml"]);
    let found = format!("SUCCESS: {} rules found", alerts().len());
    assert!(checked.contains(&found), "expected {found}:\n{checked}");
    let tested = promtool::run(&promtool, &dir, &["test", "rules", "baton-rules.test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

#[test]
fn the_dashboards_queries_parse() {
    let Some(promtool) = promtool::find("the_dashboards_queries_parse") else {
        return;
    };
    let exprs = Dashboard::load().exprs();
    // Each query as a recording rule, Grafana's variables replaced as Grafana would.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (n, expr) in exprs.iter().enumerate() {
        let expr = expr
            .replace("$__rate_interval", "1m")
            .replace("$__interval", "1m")
            .replace("$__range", "1h");
        let expr = variables_in(&expr)
            .iter()
            .fold(expr.clone(), |e, v| e.replace(&format!("${v}"), ".*"));
        let quoted = serde_json::to_string(&expr).expect("JSON string");
        let _ = writeln!(
            rules,
            "      - record: dashboard_query_{n}\n        expr: {quoted}"
        );
    }
    let dir = Workdir::new("dashboard-queries");
    dir.write("queries.yml", &rules);
    let checked = promtool::run(&promtool, &dir.path(""), &["check", "rules", "queries.yml"]);
    let found = format!("SUCCESS: {} rules found", exprs.len());
    assert!(checked.contains(&found), "expected {found}:\n{checked}");
}
