//! From a `[[frontend]]` and its `[[backend]]` to what the proxy runs. Pure, so the mapping of
//! every key is tested without sockets.

use baton_config::{Backend, Frontend, HealthCheckKind};
use baton_proxy::{CheckKind, HealthCheck, ProxyConfig, ServerConfig};

/// One proxy per frontend: the backend's servers and policies, the frontend's client limits.
pub(crate) fn proxy_config(frontend: &Frontend, backend: &Backend) -> ProxyConfig {
    let servers = backend
        .servers
        .iter()
        .map(|server| ServerConfig::new(server.address).with_weight(server.weight))
        .collect();
    let mut config = ProxyConfig::new(servers);
    config.algorithm = backend.balance.clone();
    config.retries = backend.retries;
    config.slow_start = backend.slow_start;
    config.health_check = backend.health_check.as_ref().map(health_check);
    config.ejection.consecutive_failures = backend.max_fails;
    config.ejection.backoff = backend.fail_timeout;

    let limits = &mut config.limits;
    limits.connect_timeout = backend.connect_timeout;
    limits.upstream_timeout = backend.server_timeout;
    limits.upstream_max_idle = backend.keepalive;
    limits.upstream_idle_timeout = backend.keepalive_timeout;
    limits.idle_timeout = frontend.client_timeout;
    limits.header_read_timeout = frontend.request_timeout;
    limits.max_header_size = frontend.max_header_size;
    limits.drain_timeout = frontend.drain_timeout;
    limits.client_body_timeout = frontend.client_body_timeout;
    limits.max_connections_per_client = frontend.max_connections_per_client;
    if let Some(max) = frontend.max_connections {
        limits.max_connections = max;
    }
    config.trusted_proxies = frontend.trusted_proxies.clone();
    config
}

fn health_check(check: &baton_config::HealthCheck) -> HealthCheck {
    let mut out = HealthCheck::tcp();
    if let HealthCheckKind::Http { path, host, expect } = &check.kind {
        out.kind = CheckKind::Http {
            path: path.clone(),
            host: host.clone(),
            expect: expect.clone(),
        };
    }
    out.interval = check.interval;
    out.timeout = check.timeout;
    out.rise = check.rise;
    out.fall = check.fall;
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const CONF: &str = r#"
[[frontend]]
name = "web"
listen = "127.0.0.1:8080"
backend = "app"
max_connections = 500
client_timeout = 30
request_timeout = 5
max_header_size = 8192
drain_timeout = 3
client_body_timeout = 15
max_connections_per_client = 20
trusted_proxies = ["10.0.0.0/8", "2001:db8::1"]

[[backend]]
name = "app"
servers = ["127.0.0.1:9001", { address = "127.0.0.1:9002", weight = 3 }]
balance = "leastconn"
retries = 2
connect_timeout = 1.5
server_timeout = 20
keepalive = 32
keepalive_timeout = 2.5
slow_start = 10
max_fails = 5
fail_timeout = 2
[backend.health_check]
type = "http"
path = "/healthz"
host = "app.local"
expect_status = "200-204"
interval = 0.5
timeout = 0.25
rise = 4
fall = 6
"#;

    #[test]
    fn every_key_reaches_the_proxy() {
        let loaded = baton_config::parse_toml(CONF, "baton.toml").expect("valid");
        let config = &loaded.config;
        let frontend = config.frontend("web").expect("frontend");
        let backend = config.backend("app").expect("backend");
        let proxy = proxy_config(frontend, backend);

        let servers: Vec<(String, u32)> = proxy
            .servers
            .iter()
            .map(|s| (s.address.to_string(), s.weight))
            .collect();
        assert_eq!(
            servers,
            [("127.0.0.1:9001".into(), 1), ("127.0.0.1:9002".into(), 3)]
        );
        assert_eq!(proxy.algorithm, "leastconn".parse().expect("algorithm"));
        assert_eq!(proxy.retries, 2);
        assert_eq!(proxy.slow_start, Duration::from_secs(10));
        assert_eq!(proxy.ejection.consecutive_failures, 5);
        assert_eq!(proxy.ejection.backoff, Duration::from_secs(2));
        assert_eq!(proxy.limits.connect_timeout, Duration::from_millis(1500));
        assert_eq!(proxy.limits.upstream_timeout, Duration::from_secs(20));
        assert_eq!(proxy.limits.upstream_max_idle, 32);
        assert_eq!(
            proxy.limits.upstream_idle_timeout,
            Duration::from_millis(2500)
        );
        assert_eq!(proxy.limits.idle_timeout, Duration::from_secs(30));
        assert_eq!(proxy.limits.header_read_timeout, Duration::from_secs(5));
        assert_eq!(proxy.limits.max_header_size, 8192);
        assert_eq!(proxy.limits.drain_timeout, Duration::from_secs(3));
        assert_eq!(proxy.limits.max_connections, 500);
        assert_eq!(proxy.limits.client_body_timeout, Duration::from_secs(15));
        assert_eq!(proxy.limits.max_connections_per_client, 20);
        let trusted: Vec<String> = proxy
            .trusted_proxies
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(trusted, ["10.0.0.0/8", "2001:db8::1/128"]);

        let check = proxy.health_check.expect("health check");
        assert_eq!(check.interval, Duration::from_millis(500));
        assert_eq!(check.timeout, Duration::from_millis(250));
        assert_eq!((check.rise, check.fall), (4, 6));
        match check.kind {
            CheckKind::Http { path, host, expect } => {
                assert_eq!(path, "/healthz");
                assert_eq!(host.as_deref(), Some("app.local"));
                assert_eq!(expect, 200..=204);
            }
            other => panic!("expected an HTTP check, got {other:?}"),
        }
    }

    #[test]
    fn omitted_keys_keep_the_proxy_defaults_where_the_model_has_none() {
        let conf = r#"
[[frontend]]
name = "web"
listen = "127.0.0.1:8080"
backend = "app"
[[backend]]
name = "app"
servers = ["127.0.0.1:9001"]
[backend.health_check]
type = "tcp"
"#;
        let loaded = baton_config::parse_toml(conf, "baton.toml").expect("valid");
        let config = &loaded.config;
        let proxy = proxy_config(
            config.frontend("web").expect("frontend"),
            config.backend("app").expect("backend"),
        );
        let defaults = ProxyConfig::new(Vec::new());
        assert_eq!(
            proxy.limits.max_connections,
            defaults.limits.max_connections
        );
        assert_eq!(proxy.algorithm, defaults.algorithm);
        assert_eq!(
            proxy.limits.client_body_timeout,
            defaults.limits.client_body_timeout
        );
        assert_eq!(proxy.limits.max_connections_per_client, 0);
        assert!(proxy.trusted_proxies.is_empty(), "nobody trusted");
        assert!(matches!(
            proxy.health_check.expect("check").kind,
            CheckKind::Tcp
        ));
    }
}
