//! The peers' configurations: one worker, keep-alive on both sides, no logging, round robin,
//! and the same header work baton does on every request (X-Forwarded-For and -Proto set,
//! Via added both ways), so that all three do the same job.

use std::net::SocketAddr;
use std::path::Path;

/// Seconds an idle pooled connection to an upstream is kept: nginx's `keepalive_timeout` in
/// its upstream block and `baton proxy --upstream-idle-timeout`, so that neither pool empties
/// in the pause between its runs (baton's default of 4 s did, and it reconnected at the start
/// of every run).
pub(crate) const UPSTREAM_IDLE_SECONDS: u32 = 300;

/// HAProxy: one thread, keep-alive to the clients and pooled server connections.
///
/// `maxconn` stays high even for a small `--idle`: HAProxy stops keeping idle server
/// connections once a quarter of its descriptor table (sized from `maxconn`) is in use
/// (`tune.pool-high-fd-ratio`), so with `maxconn 1100` it reconnected to the upstreams on
/// every request at 500 clients and ran at a third of its speed. The table is sized for two
/// sockets per `maxconn`; where the hard limit is below that (20000 here, and no
/// CAP_SYS_RESOURCE) `no strict-limits` lets it start anyway. Idle clients share pooled server
/// connections, so one socket each is what they use.
pub(crate) fn haproxy(
    listen: SocketAddr,
    upstreams: &[SocketAddr],
    idle: usize,
    threads: usize,
) -> String {
    let servers: String = upstreams
        .iter()
        .enumerate()
        .map(|(i, u)| format!("    server u{i} {u}\n"))
        .collect();
    format!(
        "global\n\
         \x20   nbthread {threads}\n\
         \x20   maxconn {maxconn}\n\
         \x20   no strict-limits\n\
         \n\
         defaults\n\
         \x20   mode http\n\
         \x20   option http-keep-alive\n\
         \x20   option forwardfor\n\
         \x20   http-reuse always\n\
         \x20   timeout connect 5s\n\
         \x20   timeout client 300s\n\
         \x20   timeout server 300s\n\
         \x20   timeout http-keep-alive 300s\n\
         \n\
         frontend bench\n\
         \x20   bind {listen}\n\
         \x20   http-request set-header X-Forwarded-Proto http\n\
         \x20   http-request add-header Via \"1.1 haproxy\"\n\
         \x20   http-response add-header Via \"1.1 haproxy\"\n\
         \x20   default_backend upstreams\n\
         \n\
         backend upstreams\n\
         \x20   balance roundrobin\n\
         {servers}",
        maxconn = (idle + 1_000).max(11_000),
    )
}

/// The inside of nginx's `http` block: keep-alive to the clients and to the upstreams.
///
/// `keepalive` in the upstream block is the number of idle upstream connections kept per
/// worker; it is set above the largest client count so that nginx, like HAProxy's unbounded
/// pool, never closes and reopens upstream connections under load (64 would make it do so at
/// 500 clients). `keepalive_requests` defaults to 1000 in nginx on both sides, after which it
/// closes the connection; the others have no such limit, so it is lifted.
pub(crate) fn nginx_http(listen: SocketAddr, upstreams: &[SocketAddr]) -> String {
    let servers: String = upstreams
        .iter()
        .map(|u| format!("        server {u};\n"))
        .collect();
    format!(
        "    keepalive_timeout 300s;\n\
         \x20   keepalive_requests 100000000;\n\
         \n\
         \x20   upstream upstreams {{\n\
         {servers}\
         \x20       keepalive 1024;\n\
         \x20       keepalive_requests 100000000;\n\
         \x20       keepalive_timeout {UPSTREAM_IDLE_SECONDS}s;\n\
         \x20   }}\n\
         \n\
         \x20   server {{\n\
         \x20       listen {listen};\n\
         \x20       location / {{\n\
         \x20           proxy_pass http://upstreams;\n\
         \x20           proxy_http_version 1.1;\n\
         \x20           proxy_set_header Connection \"\";\n\
         \x20           proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
         \x20           proxy_set_header X-Forwarded-Proto $scheme;\n\
         \x20           proxy_set_header Via \"1.1 nginx\";\n\
         \x20           add_header Via \"1.1 nginx\";\n\
         \x20       }}\n\
         \x20   }}\n"
    )
}

/// Sets the number of nginx's worker processes in the configuration the shared nginx
/// helper wrote (it writes one).
pub(crate) fn nginx_workers(conf: &Path, workers: usize) -> std::io::Result<()> {
    let text = std::fs::read_to_string(conf)?;
    let text = text.replace(
        "worker_processes 1;",
        &format!("worker_processes {workers};"),
    );
    std::fs::write(conf, text)
}
