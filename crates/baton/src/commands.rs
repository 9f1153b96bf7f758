//! What each subcommand does.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use baton_config::{Config, Loaded, VrrpInstance};
use baton_vrrp::{Auth, Password, Priority, Version, Vrid};

use crate::cli::{
    ConfigSource, DaemonArgs, DemoAppArgs, DemoArgs, DemoClientArgs, ProxyArgs, RunArgs,
    StatusArgs, VrrpArgs, parse_vip,
};
use crate::daemon;

/// `baton check`: every error as FILE:LINE: message, exit 1; or a one-line summary.
pub(crate) fn check(source: &ConfigSource) -> ExitCode {
    match load(source) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                eprintln!("warning: {warning}");
            }
            let config = &loaded.config;
            for problem in daemon::host_problems(config) {
                eprintln!("warning: on this host, baton run would refuse it: {problem}");
            }
            for shortfall in daemon::host_shortfalls(config) {
                eprintln!("warning: on this host: {shortfall}");
            }
            println!(
                "{}: ok: {} VRRP instance(s), {} sync group(s), {} track script(s), \
                 {} frontend(s), {} backend(s), {} virtual server(s), {} real server(s)",
                source_path(source).display(),
                config.instances.len(),
                config.sync_groups.len(),
                config.scripts.len(),
                config.frontends.len(),
                config.backends.len(),
                config.virtual_servers.len(),
                config
                    .virtual_servers
                    .iter()
                    .map(|vs| vs.real_servers.len())
                    .sum::<usize>()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            // The warnings too: keepalived -t names every line it complains about, and an
            // operator fixing the errors wants the rest of the list at once.
            for warning in errors.warnings() {
                eprintln!("warning: {warning}");
            }
            eprintln!("{errors}");
            ExitCode::FAILURE
        }
    }
}

/// `baton run`.
pub(crate) fn run(args: RunArgs) -> ExitCode {
    crate::logging::init();
    crate::scripts::set_helper_socket(&args.script_helper);
    if let Some(user) = &args.user {
        let control_dir = args.control.parent().unwrap_or(std::path::Path::new(""));
        if let Err(error) = crate::privileges::become_user(user, &[control_dir, &args.state_dir()])
        {
            eprintln!("baton: {error:#}");
            return ExitCode::FAILURE;
        }
    }
    let loaded = match load(&args.source) {
        Ok(loaded) => loaded,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::FAILURE;
        }
    };
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let source = args.source.clone();
    let reload: daemon::Reload = Box::new(move || {
        load(&source)
            .map(|l| l.config)
            .map_err(|errors| anyhow::anyhow!("{errors}"))
    });
    serve(
        loaded.config,
        reload,
        &args.control,
        &args.state_dir(),
        &args.daemon,
    )
}

/// `baton vrrp -i eth0 -v 1 10.0.3.100`: one instance from flags.
pub(crate) fn vrrp(args: VrrpArgs) -> ExitCode {
    crate::logging::init();
    let config = match vrrp_config(&args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("baton vrrp: {error:#}");
            return ExitCode::from(2);
        }
    };
    let fixed = config.clone();
    let control = args.control();
    serve(
        config,
        Box::new(move || Ok(fixed.clone())),
        &control,
        &crate::cli::default_state_dir(&control),
        &args.daemon,
    )
}

/// `baton status [--json]`: the daemon's view, from its control socket.
pub(crate) fn status(args: &StatusArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("baton status: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(daemon::query(&args.control)) {
        Ok(status) if args.json => match serde_json::to_string_pretty(&status) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("baton status: {error}");
                ExitCode::FAILURE
            }
        },
        Ok(status) => {
            print!("{}", status.render());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("baton status: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `baton demo`: the guide's scenario in network namespaces (see `demo`), with `--l4` its
/// Part II (keepalived's `virtual_server`), with `--active-active` two VIPs served by both
/// load balancers, or with `--print-config` the load balancers' baton.toml.
pub(crate) fn demo(args: &DemoArgs) -> ExitCode {
    let mode = crate::demo::Mode::of(args);
    if args.print_config {
        print!("{}", crate::demo::config_text(mode));
        return ExitCode::SUCCESS;
    }
    crate::demo::run(mode)
}

/// `baton demo-app` (hidden): the demo's application server.
pub(crate) fn demo_app(args: &DemoAppArgs) -> ExitCode {
    match crate::demo::app(args.listen, &args.name) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("baton demo-app: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `baton demo-client` (hidden): the demo's client.
pub(crate) fn demo_client(args: &DemoClientArgs) -> ExitCode {
    let interval = Duration::from_millis(args.interval_ms);
    let timeout = Duration::from_millis(args.timeout_ms);
    match crate::demo::client(&args.url, interval, timeout) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("baton demo-client: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `baton proxy --listen ADDR --to ADDR...`: one HTTP proxy from flags, until SIGTERM or
/// SIGINT; then in-flight requests get up to 10 s to finish and the exit code is 0.
pub(crate) fn proxy(args: ProxyArgs) -> ExitCode {
    crate::logging::init();
    let servers = match args
        .to
        .iter()
        .map(|to| upstream_address(to))
        .collect::<anyhow::Result<Vec<_>>>()
    {
        Ok(servers) => servers,
        Err(error) => {
            eprintln!("baton proxy: {error:#}");
            return ExitCode::from(2);
        }
    };
    let listen = match listen_address(&args.listen) {
        Ok(listen) => listen,
        Err(error) => {
            eprintln!("baton proxy: {error:#}");
            return ExitCode::from(2);
        }
    };
    let config = proxy_config(&args, servers);
    let runtime = match runtime(args.threads.map(usize::from)) {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("baton: starting the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("baton proxy: listening on {listen}: {error}");
                return ExitCode::FAILURE;
            }
        };
        let local = listener.local_addr().unwrap_or(listen);
        tracing::info!(
            "listening on {local}, balancing ({}) over {}",
            config.algorithm,
            args.to.join(", ")
        );
        let drain = config.limits.drain_timeout;
        baton_proxy::serve(listener, std::sync::Arc::new(config), stop_signal(drain)).await;
        tracing::info!("stopped");
        ExitCode::SUCCESS
    })
}

/// The proxy `baton proxy` runs: `args` over `servers` (its `--to`, resolved).
fn proxy_config(args: &ProxyArgs, servers: Vec<std::net::SocketAddr>) -> baton_proxy::ProxyConfig {
    let mut config = baton_proxy::ProxyConfig::new(
        servers
            .into_iter()
            .map(baton_proxy::ServerConfig::new)
            .collect(),
    );
    config.algorithm = args.balance.clone();
    if let Some(max) = args.max_connections {
        config.limits.max_connections = max as usize;
    }
    if let Some(idle) = args.upstream_idle_timeout {
        config.limits.upstream_idle_timeout = idle;
    }
    config
}

/// Resolves when SIGTERM or SIGINT arrives.
async fn stop_signal(drain: Duration) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot watch SIGTERM and SIGINT; stop with SIGKILL");
        return std::future::pending().await;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    };
    tracing::info!("{name}: no new connections; finishing requests in flight (up to {drain:?})");
}

/// "127.0.0.1:9001", "localhost:9001", "http://app:8080", "[::1]:9001", "http://app" (port 80).
fn upstream_address(text: &str) -> anyhow::Result<std::net::SocketAddr> {
    anyhow::ensure!(
        !text.starts_with("https://"),
        "--to {text}: TLS to servers is not supported; use http://"
    );
    let bare = text.strip_prefix("http://").unwrap_or(text);
    let bare = bare.strip_suffix('/').unwrap_or(bare);
    anyhow::ensure!(
        !bare.is_empty() && !bare.contains('/'),
        "--to {text}: expected HOST:PORT"
    );
    let with_port = if text.starts_with("http://") && !has_port(bare) {
        format!("{bare}:80")
    } else {
        bare.to_owned()
    };
    resolve(&with_port).with_context(|| format!("--to {text}"))
}

/// "127.0.0.1:8080", "[::]:8080", "localhost:8080", or ":8080" (every IPv4 address).
fn listen_address(text: &str) -> anyhow::Result<std::net::SocketAddr> {
    let text = match text.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => text.to_owned(),
    };
    resolve(&text).with_context(|| format!("--listen {text}"))
}

fn has_port(host_port: &str) -> bool {
    match host_port.rsplit_once(':') {
        Some((host, port)) => {
            port.parse::<u16>().is_ok() && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    }
}

fn resolve(host_port: &str) -> anyhow::Result<std::net::SocketAddr> {
    use std::net::ToSocketAddrs as _;
    anyhow::ensure!(has_port(host_port), "expected HOST:PORT");
    host_port
        .to_socket_addrs()
        .context("cannot resolve the address")?
        .next()
        .context("the name has no address")
}

/// One thread (`--threads 1`): a current-thread runtime, so that the accept loop and every
/// connection run on that one thread, as HAProxy's and nginx's single worker do. With a
/// multi-thread runtime of one worker the accept loop ran on the calling thread and the
/// connections on the worker; measured in docs/benchmarks.md (issue 13): about 1% fewer
/// instructions per request, and 0.04 rather than 0.07 `epoll_wait` per request at 50
/// connections.
fn runtime(threads: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match threads {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        Some(threads) => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(threads.max(1));
            builder
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    builder.enable_all().build()
}

fn serve(
    config: Config,
    reload: daemon::Reload,
    control: &std::path::Path,
    state_dir: &std::path::Path,
    daemon_args: &DaemonArgs,
) -> ExitCode {
    // The protocol loop has a thread of its own; the proxies get `--threads` workers.
    crate::data_plane::configure(daemon_args.threads);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("baton: starting the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    // The flag wins over the file, which wins over the default.
    let admin = daemon_args
        .admin
        .or(config.global.admin)
        .unwrap_or(baton_config::AdminListen::DEFAULT);
    // The daemon's future runs on this thread, waiting for its VRRP sockets and protocol
    // timer in an epoll of its own, while the runtime runs on a thread of its own for
    // everything else: an advert wakes one thread once, with no runtime around it (see
    // `baton_net::protocol_loop`).
    let (control, state_dir) = (control.to_path_buf(), state_dir.to_path_buf());
    let daemon = async move { daemon::run(config, reload, &control, &state_dir, admin).await };
    let outcome = on_protocol_thread(runtime, daemon);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("baton: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `daemon` on this thread's protocol loop with `runtime` driven by another thread, and
/// stops that thread after it. A panic in the daemon is an error, as it was for a task.
fn on_protocol_thread(
    runtime: tokio::runtime::Runtime,
    daemon: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let handle = runtime.handle().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let driver = std::thread::Builder::new()
        .name("baton-runtime".to_owned())
        .spawn(move || {
            runtime.block_on(async {
                let _ = stopped.await;
            });
        })
        .context("starting the runtime's thread")?;
    let run = std::panic::AssertUnwindSafe(|| baton_net::protocol_loop::block_on(&handle, daemon));
    let outcome = std::panic::catch_unwind(run);
    let _ = stop.send(());
    let _ = driver.join();
    match outcome {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(error)) => Err(anyhow::Error::new(error).context("the protocol loop failed")),
        Err(_) => Err(anyhow::anyhow!("the daemon panicked")),
    }
}

pub(crate) fn load(source: &ConfigSource) -> Result<Loaded, baton_config::Errors> {
    match (&source.config, &source.keepalived_conf) {
        (Some(path), _) => baton_config::load_toml(path),
        (None, Some(path)) => {
            let options =
                baton_config::KeepalivedOptions::default().with_config_id(source.config_id.clone());
            baton_config::load_keepalived_with(path, &options)
        }
        // clap makes one of the two required.
        (None, None) => baton_config::load_toml("baton.toml"),
    }
}

fn source_path(source: &ConfigSource) -> PathBuf {
    source
        .config
        .clone()
        .or_else(|| source.keepalived_conf.clone())
        .unwrap_or_default()
}

fn vrrp_config(args: &VrrpArgs) -> anyhow::Result<Config> {
    let vrid = Vrid::new(args.vrid).context("VRID must be 1..=255")?;
    let vips = args
        .vips
        .iter()
        .map(|v| parse_vip(v).map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>, _>>()?;
    let mut instance = VrrpInstance::new(
        format!("VR_{}", args.vrid),
        args.interface.clone(),
        vrid,
        vips.iter().map(|(address, _)| *address).collect(),
    );
    for (vip, (_, prefix)) in instance.virtual_addresses.iter_mut().zip(&vips) {
        if let Some(prefix) = prefix {
            vip.prefix_len = *prefix;
        }
    }
    instance.version = if args.version == 3 {
        Version::V3
    } else {
        Version::V2
    };
    instance.priority = Priority::new(args.priority);
    instance.preempt = !args.no_preempt;
    instance.advert_interval = parse_interval(&args.interval)?;
    if let Some(password) = &args.password {
        anyhow::ensure!(
            instance.version == Version::V2,
            "-a (password) needs VRRPv2"
        );
        instance.auth = Auth::SimpleText(Password::new(password));
    }
    let text_check = instance.engine_config(instance_address_placeholder(&instance), &[]);
    baton_vrrp::Instance::new(text_check).map_err(anyhow::Error::from)?;
    Ok(Config {
        instances: vec![instance],
        ..Config::default()
    })
}

/// Validation only needs an address of the right family.
fn instance_address_placeholder(instance: &VrrpInstance) -> std::net::IpAddr {
    match instance.family() {
        baton_config::Family::Ipv4 => std::net::Ipv4Addr::UNSPECIFIED.into(),
        baton_config::Family::Ipv6 => std::net::Ipv6Addr::UNSPECIFIED.into(),
    }
}

/// "1", "0.5", "0.01": seconds, to the centisecond.
fn parse_interval(text: &str) -> anyhow::Result<Duration> {
    let seconds: f64 = text
        .parse()
        .with_context(|| format!("-d {text}: not a number of seconds"))?;
    anyhow::ensure!(
        seconds.is_finite() && seconds > 0.0 && seconds <= 255.0,
        "-d {text}: out of range"
    );
    let centiseconds = (seconds * 100.0).round() as u64;
    Ok(Duration::from_millis(centiseconds * 10))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn vrrp_args(extra: &[&str]) -> VrrpArgs {
        let mut argv = vec!["baton", "vrrp", "-i", "eth0", "-v", "7"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::try_parse_from(argv)
            .expect("valid")
            .command
        {
            crate::cli::Command::Vrrp(args) => args,
            _ => unreachable!("vrrp subcommand"),
        }
    }

    #[test]
    fn vrrpd_flags_make_one_instance() {
        let config = vrrp_config(&vrrp_args(&[
            "-p",
            "150",
            "-d",
            "0.01",
            "--version",
            "3",
            "10.0.3.100/24",
        ]))
        .expect("valid");
        let instance = &config.instances[0];
        assert_eq!(instance.vrid.get(), 7);
        assert_eq!(instance.priority.get(), 150);
        assert_eq!(instance.advert_interval, Duration::from_millis(10));
        assert_eq!(instance.virtual_addresses[0].prefix_len, 24);
        assert_eq!(instance.version, Version::V3);
    }

    #[test]
    fn proxy_addresses() {
        let addr = |s: &str| s.parse::<std::net::SocketAddr>().expect("addr");
        assert_eq!(
            upstream_address("127.0.0.1:9001").ok(),
            Some(addr("127.0.0.1:9001"))
        );
        assert_eq!(
            upstream_address("http://127.0.0.1:9001/").ok(),
            Some(addr("127.0.0.1:9001"))
        );
        assert_eq!(
            upstream_address("http://127.0.0.1").ok(),
            Some(addr("127.0.0.1:80"))
        );
        assert_eq!(
            upstream_address("[::1]:9001").ok(),
            Some(addr("[::1]:9001"))
        );
        assert!(upstream_address("localhost:9001").is_ok());
        assert!(upstream_address("127.0.0.1").is_err(), "port needed");
        assert!(upstream_address("https://127.0.0.1:443").is_err());
        assert!(upstream_address("http://127.0.0.1:80/app").is_err());
        assert_eq!(listen_address(":8080").ok(), Some(addr("0.0.0.0:8080")));
        assert_eq!(listen_address("[::1]:0").ok(), Some(addr("[::1]:0")));
        assert!(listen_address("nonsense").is_err());
    }

    #[test]
    fn proxy_flags_reach_the_proxy_config() {
        let config = |extra: &[&str]| {
            let mut line = vec![
                "baton",
                "proxy",
                "--listen",
                ":80",
                "--to",
                "127.0.0.1:9001",
            ];
            line.extend_from_slice(extra);
            let cli = crate::cli::Cli::try_parse_from(line).expect("valid");
            let crate::cli::Command::Proxy(args) = cli.command else {
                unreachable!("proxy subcommand")
            };
            proxy_config(&args, vec!["127.0.0.1:9001".parse().expect("addr")])
        };
        let defaults = baton_proxy::Limits::default();
        let config_default = config(&[]);
        assert_eq!(
            config_default.limits.upstream_idle_timeout,
            defaults.upstream_idle_timeout
        );
        assert_eq!(
            config_default.limits.max_connections,
            defaults.max_connections
        );
        let set = config(&[
            "--upstream-idle-timeout",
            "300",
            "--max-connections",
            "2000",
            "--balance",
            "leastconn",
        ]);
        assert_eq!(set.limits.upstream_idle_timeout, Duration::from_secs(300));
        assert_eq!(set.limits.max_connections, 2000);
        assert_eq!(set.algorithm.to_string(), "leastconn");
    }

    #[test]
    fn vrrpd_flags_are_checked() {
        let fraction_with_v2 = vrrp_config(&vrrp_args(&["-d", "0.5", "10.0.3.100"]));
        assert!(
            format!(
                "{:#}",
                fraction_with_v2.expect_err("v2 needs whole seconds")
            )
            .contains("whole seconds")
        );
        assert!(vrrp_config(&vrrp_args(&["-a", "pw", "--version", "3", "10.0.3.100"])).is_err());
        assert!(vrrp_config(&vrrp_args(&["-d", "abc", "10.0.3.100"])).is_err());
    }
}
