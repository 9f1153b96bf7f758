//! Command-line interface (stable: see ARCHITECTURE.md "Interfaces to keep stable").

use std::net::IpAddr;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// A highly available load balancer: VRRP failover (keepalived-compatible) and load
/// balancing in one daemon.
#[derive(Debug, Parser)]
#[command(name = "baton", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the daemon.
    Run(RunArgs),
    /// Check a configuration: exit 0 with a summary when valid, 1 with every error when not.
    Check(ConfigSource),
    /// Quick start without a config file, like vrrpd: `baton vrrp -i eth0 -v 1 10.0.3.100`.
    Vrrp(VrrpArgs),
    /// Build the guide's two-LB scenario in network namespaces and show a failover
    /// (`--l4`: with an L4 virtual server, and a real server failing and returning).
    ///
    /// Needs root. Everything it creates is removed when it ends, also on Ctrl-C.
    Demo(DemoArgs),
    /// The demo's application server, run by `baton demo` inside app1 and app2.
    #[command(hide = true)]
    DemoApp(DemoAppArgs),
    /// The demo's client, run by `baton demo` inside the client's namespace.
    #[command(hide = true)]
    DemoClient(DemoClientArgs),
    /// A config-free HTTP load balancer:
    /// `baton proxy --listen :8080 --to 127.0.0.1:9001 --to 127.0.0.1:9002`.
    Proxy(ProxyArgs),
    /// Show the running daemon's VRRP instances (asks its control socket).
    Status(StatusArgs),
    /// Drain, disable, enable or re-weight a backend server of the running daemon.
    #[command(subcommand)]
    Server(ServerCommand),
    /// Step a VRRP instance of the running daemon down for maintenance, or resume it.
    #[command(subcommand)]
    Instance(InstanceCommand),
    /// Make the running daemon re-read its configuration, as SIGHUP does, and say how it went.
    Reload(ControlArgs),
    /// Withdraw an [[anycast]] section's routes for maintenance, whatever its health, or
    /// hand them back to its health.
    #[command(subcommand)]
    Anycast(AnycastCommand),
    /// Run the configuration's scripts as their users for a daemon that is not root (run as
    /// root by baton-scripts.socket; see docs/security.md).
    ScriptHelper(ScriptHelperArgs),
    /// A MISC_CHECK's program, run by the script helper (baton runs this in its place).
    #[command(hide = true)]
    ScriptHelperRun(ScriptHelperRunArgs),
    /// Write the man pages and shell completions generated from this CLI (the Debian
    /// package's build runs it; docs/packaging.md).
    #[command(hide = true)]
    PackageFiles(PackageFilesArgs),
}

/// Where the running daemon listens.
#[derive(Debug, Args)]
pub(crate) struct ControlArgs {
    /// The daemon's control socket (`baton vrrp`'s: /run/baton/vrrp-IFACE-VRID.sock).
    #[arg(long, value_name = "PATH", default_value_os_t = default_control())]
    pub(crate) control: PathBuf,
}

/// `baton server ...`: applied to every frontend that uses the backend.
#[derive(Debug, Subcommand)]
pub(crate) enum ServerCommand {
    /// No new requests; requests in flight finish; health checks go on.
    Drain(ServerTarget),
    /// Maintenance: no new requests, health checks paused.
    Disable(ServerTarget),
    /// Back to normal (eased in by slow start when configured).
    Enable(ServerTarget),
    /// Balance the server with weight N (0..=256) until the configuration's weight for it
    /// changes (kept across restarts, as drains are: see --state-dir on `baton run`).
    Weight(WeightArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ServerTarget {
    /// The backend's name.
    pub(crate) backend: String,
    /// The server's address, IP:PORT as configured.
    pub(crate) address: String,
    #[command(flatten)]
    pub(crate) control: ControlArgs,
}

#[derive(Debug, Args)]
pub(crate) struct WeightArgs {
    #[command(flatten)]
    pub(crate) target: ServerTarget,
    /// The new weight, 0..=256.
    #[arg(value_name = "N")]
    pub(crate) weight: String,
}

/// `baton instance ...`: applied to the instance's whole sync group.
#[derive(Debug, Subcommand)]
pub(crate) enum InstanceCommand {
    /// Give up mastership at once and stay backup until resumed.
    StepDown(InstanceTarget),
    /// Take part in elections again (preempts back if preempt is on and priority higher).
    Resume(InstanceTarget),
}

#[derive(Debug, Args)]
pub(crate) struct InstanceTarget {
    /// The instance's name.
    pub(crate) name: String,
    #[command(flatten)]
    pub(crate) control: ControlArgs,
}

/// `baton anycast ...`: the operator's hold on an `[[anycast]]` section; kept across
/// reloads while the section exists, and across restarts (see --state-dir on `baton run`).
#[derive(Debug, Subcommand)]
pub(crate) enum AnycastCommand {
    /// Remove the section's routes at once and keep them out, whatever its health says,
    /// until `baton anycast announce`.
    Withdraw(AnycastTarget),
    /// Withdraw, then wait the section's withdraw_delay (the routers converging) before
    /// answering: when it returns, no new flows arrive here.
    Drain(AnycastTarget),
    /// Announce by health again: the routes return when everything the section tracks is up.
    Announce(AnycastTarget),
}

#[derive(Debug, Args)]
pub(crate) struct AnycastTarget {
    /// The [[anycast]] section's name.
    pub(crate) name: String,
    #[command(flatten)]
    pub(crate) control: ControlArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Balance at L4 instead of proxying HTTP: a keepalived-style [[virtual_server]] on the
    /// VIP (nf_tables NAT), and app2 stopped and started again before the failover.
    #[arg(long)]
    pub(crate) l4: bool,
    /// Active-active: two VIPs, each load balancer master of one and backup of the other;
    /// the client sends to both in turn, and lb2's VIP moves to lb1 when lb2 fails.
    #[arg(long, conflicts_with = "l4")]
    pub(crate) active_active: bool,
    /// Print the baton.toml the demo's load balancers run (with --l4 or --active-active,
    /// that story's), and exit.
    #[arg(long)]
    pub(crate) print_config: bool,
}

/// `baton demo-app`: answers every request with its name and the address the connection
/// came from, which tells the demo which load balancer proxied it.
#[derive(Debug, Args)]
pub(crate) struct DemoAppArgs {
    /// Where to listen, IP:PORT.
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: std::net::SocketAddr,
    /// The name to answer with.
    #[arg(long)]
    pub(crate) name: String,
}

/// `baton demo-client`: one GET per interval, each on a new connection, one JSON line per
/// result on stdout, until stdin closes.
#[derive(Debug, Args)]
pub(crate) struct DemoClientArgs {
    /// What to request: http://HOST[:PORT]/PATH. Given more than once, the requests go to
    /// each URL in turn.
    #[arg(long, value_name = "URL", required = true)]
    pub(crate) url: Vec<String>,
    /// Time between two requests.
    #[arg(long, value_name = "MS", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) interval_ms: u64,
    /// A request without a complete answer by then has failed.
    #[arg(long, value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) timeout_ms: u64,
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// The daemon's control socket (`baton vrrp`'s: /run/baton/vrrp-IFACE-VRID.sock).
    #[arg(long, value_name = "PATH", default_value_os_t = default_control())]
    pub(crate) control: PathBuf,
}

/// Where the configuration comes from: exactly one of the two formats (not a clap group,
/// which would hold --config-id too).
#[derive(Debug, Args, Clone)]
#[group(skip)]
pub(crate) struct ConfigSource {
    /// baton's native TOML configuration.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "keepalived_conf",
        conflicts_with = "keepalived_conf"
    )]
    pub(crate) config: Option<PathBuf>,
    /// A keepalived.conf, read as keepalived would.
    #[arg(long, value_name = "FILE", required_unless_present = "config")]
    pub(crate) keepalived_conf: Option<PathBuf>,
    /// keepalived's -i / --config-id: the ID whose `@ID` lines of the keepalived.conf are
    /// kept, and ${_INSTANCE} [default: the host name up to its first dot]. Only for
    /// --keepalived-conf.
    #[arg(long, value_name = "ID")]
    pub(crate) config_id: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) source: ConfigSource,
    /// Control socket for `baton status` and the other commands; one per daemon.
    #[arg(long, value_name = "PATH", default_value_os_t = default_control())]
    pub(crate) control: PathBuf,
    /// Where the operator's drains, disables, weights and step-downs are kept (state.json)
    /// so that they survive restarts [default: /var/lib/baton with the default --control;
    /// with another control socket, a directory beside it: /x/lb1.sock -> /x/lb1.state].
    #[arg(long, value_name = "DIR")]
    pub(crate) state_dir: Option<PathBuf>,
    /// The script helper's socket, for scripts that run as another user while baton is
    /// not root.
    #[arg(long, value_name = "PATH", default_value = crate::scripts::DEFAULT_HELPER_SOCKET)]
    pub(crate) script_helper: PathBuf,
    /// Started as root, become USER before anything else, keeping only CAP_NET_ADMIN,
    /// CAP_NET_RAW and CAP_NET_BIND_SERVICE (what dist/baton.service does with User=).
    #[arg(long, value_name = "USER")]
    pub(crate) user: Option<String>,
    #[command(flatten)]
    pub(crate) daemon: DaemonArgs,
}

/// `baton script-helper`: the configuration it takes scripts from (the daemon's), where it
/// listens when systemd does not hand it a socket, and who may ask.
#[derive(Debug, Args)]
pub(crate) struct ScriptHelperArgs {
    #[command(flatten)]
    pub(crate) source: ConfigSource,
    /// The socket to listen on when not socket-activated (made root:GROUP 0660, GROUP
    /// being --allow-user's).
    #[arg(long, value_name = "PATH", default_value = crate::scripts::DEFAULT_HELPER_SOCKET)]
    pub(crate) socket: PathBuf,
    /// The user baton runs as: the only one besides root whose requests are answered.
    #[arg(long, value_name = "USER", default_value = "baton")]
    pub(crate) allow_user: String,
}

/// `baton script-helper-run`: one script through the helper; exits with its exit code.
#[derive(Debug, Args)]
pub(crate) struct ScriptHelperRunArgs {
    #[arg(long, value_name = "PATH")]
    pub(crate) socket: PathBuf,
    #[arg(long)]
    pub(crate) uid: u32,
    #[arg(long)]
    pub(crate) gid: u32,
    #[arg(long, value_name = "MS")]
    pub(crate) timeout_ms: u64,
    /// The program and its arguments.
    #[arg(last = true, required = true)]
    pub(crate) argv: Vec<String>,
}

/// `baton package-files`: where to write them.
#[derive(Debug, Args)]
pub(crate) struct PackageFilesArgs {
    /// Directory that receives man/ and completions/.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
}

impl RunArgs {
    /// `--state-dir`, or the default for this daemon's control socket.
    pub(crate) fn state_dir(&self) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(|| default_state_dir(&self.control))
    }
}

/// Where a daemon with the control socket `control` keeps its state by default: the
/// systemd unit's StateDirectory for the host's default socket, and otherwise a directory
/// named after the socket, beside it. A second daemon on the host needs a socket of its
/// own, so it gets a state of its own too instead of overwriting the first one's; and
/// tests, the demo and trial runs, which all give a socket in a directory of their own,
/// never touch /var/lib/baton. A socket under /run keeps its state across restarts but
/// not across reboots: give --state-dir for that.
pub(crate) fn default_state_dir(control: &Path) -> PathBuf {
    if control == control_path("baton", None) {
        PathBuf::from(STATE_DIR)
    } else {
        control.with_extension("state")
    }
}

/// The systemd unit's StateDirectory=baton.
const STATE_DIR: &str = "/var/lib/baton";

/// Options every long-running mode shares.
#[derive(Debug, Args, Clone)]
pub(crate) struct DaemonArgs {
    /// Worker threads for the data plane (default: one per core).
    #[arg(long, value_name = "N")]
    pub(crate) threads: Option<usize>,
    /// Where /metrics, /status.json and the status page listen: IP:PORT, or "none".
    /// Wins over `admin` in [global] [default: 127.0.0.1:9180].
    #[arg(long, value_name = "ADDR")]
    pub(crate) admin: Option<baton_config::AdminListen>,
}

/// vrrpd's letters.
#[derive(Debug, Args)]
pub(crate) struct VrrpArgs {
    /// Interface to run on.
    #[arg(short = 'i', value_name = "IFACE")]
    pub(crate) interface: String,
    /// Virtual router id, 1..=255.
    #[arg(short = 'v', value_name = "VRID", value_parser = clap::value_parser!(u8).range(1..=255))]
    pub(crate) vrid: u8,
    /// Priority, 1..=255 (255: this host owns the addresses).
    #[arg(short = 'p', value_name = "PRIO", default_value_t = 100,
          value_parser = clap::value_parser!(u8).range(1..=255))]
    pub(crate) priority: u8,
    /// Advertisement interval in seconds; fractions such as 0.01 with --version 3.
    #[arg(short = 'd', value_name = "SECONDS", default_value = "1")]
    pub(crate) interval: String,
    /// Do not preempt a lower-priority master (vrrpd's -s switches preemption off).
    #[arg(short = 's')]
    pub(crate) no_preempt: bool,
    /// Simple password (VRRPv2 only), as keepalived's auth_type PASS.
    #[arg(short = 'a', value_name = "PASS")]
    pub(crate) password: Option<String>,
    /// VRRP version.
    #[arg(long = "version", value_name = "2|3", default_value_t = 2,
          value_parser = clap::value_parser!(u8).range(2..=3))]
    pub(crate) version: u8,
    /// Virtual addresses, optionally with a prefix length (10.0.3.100/24).
    #[arg(value_name = "VIP", required = true)]
    pub(crate) vips: Vec<String>,
    /// Control socket for `baton status --control PATH`; one per interface and VRID, as
    /// vrrpd's pid file [default: /run/baton/vrrp-IFACE-VRID.sock].
    #[arg(long, value_name = "PATH")]
    pub(crate) control: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) daemon: DaemonArgs,
}

impl VrrpArgs {
    /// `--control`, or this interface's and VRID's own socket.
    pub(crate) fn control(&self) -> PathBuf {
        self.control
            .clone()
            .unwrap_or_else(|| vrrp_control(&self.interface, self.vrid))
    }
}

/// Where control sockets are by default.
const RUN_DIR: &str = "/run/baton";

/// The default control socket of `baton run` and of the commands that talk to it:
/// /run/baton/baton.sock, or /run/baton/baton-net<INODE>.sock in a network namespace
/// other than the host's. Unix sockets live in the filesystem, which namespaces share, so
/// daemons in two namespaces would otherwise want the same one; a command run in the same
/// namespace (`ip netns exec NS baton status`) finds its daemon by the same rule.
pub(crate) fn default_control() -> PathBuf {
    control_path("baton", network_namespace())
}

/// `baton vrrp -i IFACE -v VRID`'s default: one socket per interface and VRID, as vrrpd
/// has one pid file per interface and VRID, with the namespace rule of [`default_control`].
pub(crate) fn vrrp_control(interface: &str, vrid: u8) -> PathBuf {
    // Interface names cannot hold a '/', but the flag is not checked yet here.
    let interface = interface.replace('/', "_");
    control_path(&format!("vrrp-{interface}-{vrid}"), network_namespace())
}

fn control_path(stem: &str, namespace: Option<u64>) -> PathBuf {
    let name = match namespace {
        None => format!("{stem}.sock"),
        Some(inode) => format!("{stem}-net{inode}.sock"),
    };
    Path::new(RUN_DIR).join(name)
}

/// The inode of this process's network namespace when it is not the host's; `None` in the
/// host's namespace, and when that cannot be told.
///
/// The host's namespace is pid 1's. Only root may look at pid 1's, and not always then
/// (some containers hide it): without it, a namespace named by `ip netns add` (bound under
/// /run/netns) is certainly not the host's, and anything else counts as the host's, so that
/// a daemon and the commands talking to it agree whoever runs them.
fn network_namespace() -> Option<u64> {
    let inode = |path: &Path| std::fs::metadata(path).ok().map(|m| m.ino());
    let ours = inode(Path::new("/proc/self/ns/net"))?;
    if let Some(host) = inode(Path::new("/proc/1/ns/net")) {
        return (ours != host).then_some(ours);
    }
    let named = std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| inode(&entry.path()) == Some(ours));
    named.then_some(ours)
}

/// `baton proxy`, like `caddy reverse-proxy --from --to`.
#[derive(Debug, Args)]
pub(crate) struct ProxyArgs {
    /// Where to listen: HOST:PORT, or :PORT for every IPv4 address.
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: String,
    /// An upstream server, HOST:PORT (an http:// prefix is accepted). Repeat for more.
    #[arg(long = "to", value_name = "ADDR", required = true)]
    pub(crate) to: Vec<String>,
    /// Balancing: roundrobin, leastconn, p2c (also random), or maglev with what to hash:
    /// "maglev source", "maglev path", "maglev hdr(X-Session)".
    #[arg(long, value_name = "ALG", default_value = "p2c")]
    pub(crate) balance: baton_proxy::balance::Algorithm,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) threads: Option<u16>,
    /// Client connections served at once; more wait a second, then get 503
    /// (default: three quarters of the open-files limit).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_connections: Option<u32>,
    /// Seconds an idle connection to a server is kept for the next request, as
    /// `keepalive_timeout` on a baton.toml [[backend]] (default 4). Keep it below the
    /// servers' own keep-alive timeout, or requests race with their close.
    #[arg(long, value_name = "SECONDS", value_parser = positive_seconds,
          allow_negative_numbers = true)]
    pub(crate) upstream_idle_timeout: Option<Duration>,
}

/// Seconds as baton.toml takes a number of them (`keepalive_timeout = 2.5`): to the
/// microsecond, and more than 0.
fn positive_seconds(text: &str) -> Result<Duration, String> {
    let seconds = text
        .parse::<f64>()
        .ok()
        .filter(|seconds| (0.0..=1e9).contains(seconds))
        .ok_or_else(|| format!("'{text}' is not a number of seconds"))?;
    let duration = Duration::from_micros((seconds * 1e6).round() as u64);
    if duration.is_zero() {
        return Err("must be more than 0 seconds".into());
    }
    Ok(duration)
}

/// Parses "10.0.3.100" or "10.0.3.100/24".
pub(crate) fn parse_vip(text: &str) -> Result<(IpAddr, Option<u8>), String> {
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let address: IpAddr = address
        .parse()
        .map_err(|_| format!("{text}: not an IP address"))?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => None,
        Some(p) => match p.parse::<u8>() {
            Ok(p) if p <= max => Some(p),
            _ => return Err(format!("{text}: prefix length must be 0..={max}")),
        },
    };
    Ok((address, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vrrpd_style_flags_parse() {
        let cli = Cli::try_parse_from([
            "baton",
            "vrrp",
            "-i",
            "eth0",
            "-v",
            "1",
            "-p",
            "150",
            "-d",
            "0.01",
            "--version",
            "3",
            "-s",
            "10.0.3.100/24",
        ])
        .expect("valid");
        let Command::Vrrp(args) = cli.command else {
            panic!("vrrp")
        };
        assert_eq!(
            (args.interface.as_str(), args.vrid, args.priority),
            ("eth0", 1, 150)
        );
        assert_eq!(
            (args.interval.as_str(), args.version, args.no_preempt),
            ("0.01", 3, true)
        );
        assert_eq!(args.vips, vec!["10.0.3.100/24"]);
    }

    #[test]
    fn the_state_directory_follows_the_control_socket() {
        let run = |args: &[&str]| {
            let mut line = vec!["baton", "run", "--config", "b.toml"];
            line.extend(args);
            match Cli::try_parse_from(line).expect("valid").command {
                Command::Run(args) => args.state_dir(),
                _ => panic!("run"),
            }
        };
        assert_eq!(
            run(&["--control", "/run/baton/baton.sock"]),
            Path::new("/var/lib/baton")
        );
        assert_eq!(
            run(&["--control", "/tmp/t/lb1.sock"]),
            Path::new("/tmp/t/lb1.state")
        );
        assert_eq!(
            run(&["--control", "/tmp/t/lb1.sock", "--state-dir", "/srv/baton"]),
            Path::new("/srv/baton")
        );
        assert_eq!(
            default_state_dir(Path::new("/run/baton/baton-net4026532.sock")),
            Path::new("/run/baton/baton-net4026532.state"),
            "daemons in other namespaces do not share the host's"
        );
    }

    #[test]
    fn exactly_one_config_source() {
        assert!(Cli::try_parse_from(["baton", "check"]).is_err());
        assert!(
            Cli::try_parse_from(["baton", "check", "--config", "a", "--keepalived-conf", "b"])
                .is_err()
        );
        assert!(Cli::try_parse_from(["baton", "run", "--keepalived-conf", "k.conf"]).is_ok());
        assert!(
            Cli::try_parse_from(["baton", "vrrp", "-i", "eth0", "-v", "0", "10.0.3.1"]).is_err()
        );
    }

    #[test]
    fn proxy_flags_parse() {
        let cli = Cli::try_parse_from([
            "baton",
            "proxy",
            "--listen",
            ":8080",
            "--to",
            "127.0.0.1:9001",
            "--to",
            "127.0.0.1:9002",
            "--balance",
            "maglev hdr(X-Session)",
            "--threads",
            "2",
        ])
        .expect("valid");
        let Command::Proxy(args) = cli.command else {
            panic!("proxy")
        };
        assert_eq!(args.listen, ":8080");
        assert_eq!(args.to, ["127.0.0.1:9001", "127.0.0.1:9002"]);
        assert_eq!(args.balance.to_string(), "maglev hdr(x-session)");
        assert_eq!(args.threads, Some(2));

        let defaults = Cli::try_parse_from(["baton", "proxy", "--listen", ":80", "--to", "a:1"])
            .expect("valid");
        let Command::Proxy(args) = defaults.command else {
            panic!("proxy")
        };
        assert_eq!(
            args.balance,
            baton_proxy::balance::Algorithm::PowerOfTwoChoices
        );
        assert!(
            Cli::try_parse_from(["baton", "proxy", "--listen", ":80"]).is_err(),
            "--to is required"
        );
        assert!(
            Cli::try_parse_from([
                "baton",
                "proxy",
                "--listen",
                ":80",
                "--to",
                "a:1",
                "--balance",
                "fastest"
            ])
            .is_err()
        );
        assert!(
            Cli::try_parse_from([
                "baton",
                "proxy",
                "--listen",
                ":80",
                "--to",
                "a:1",
                "--threads",
                "0"
            ])
            .is_err()
        );
    }

    #[test]
    fn the_upstream_idle_timeout_takes_seconds_as_the_config_file_does() {
        let parse = |value: &str| {
            let line = ["baton", "proxy", "--listen", ":80", "--to", "a:1"];
            let line = line.into_iter().chain(["--upstream-idle-timeout", value]);
            match Cli::try_parse_from(line).map(|cli| cli.command) {
                Ok(Command::Proxy(args)) => Ok(args.upstream_idle_timeout),
                Ok(_) => unreachable!("proxy"),
                Err(error) => Err(error.to_string()),
            }
        };
        assert_eq!(parse("300"), Ok(Some(Duration::from_secs(300))));
        assert_eq!(parse("2.5"), Ok(Some(Duration::from_millis(2500))));
        assert_eq!(parse("0.000001"), Ok(Some(Duration::from_micros(1))));
        for (bad, says) in [
            ("0", "must be more than 0 seconds"),
            ("0.0000004", "must be more than 0 seconds"),
            ("-1", "'-1' is not a number of seconds"),
            ("4s", "'4s' is not a number of seconds"),
            ("NaN", "'NaN' is not a number of seconds"),
            ("1e10", "'1e10' is not a number of seconds"),
        ] {
            let error = parse(bad).expect_err(bad);
            assert!(
                error.contains("--upstream-idle-timeout") && error.contains(says),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn admin_listener_flag() {
        use baton_config::AdminListen;
        let admin = |args: &[&str]| {
            let cli = Cli::try_parse_from(args).expect("valid");
            let Command::Run(run) = cli.command else {
                panic!("run")
            };
            run.daemon.admin
        };
        assert_eq!(admin(&["baton", "run", "--config", "b.toml"]), None);
        assert_eq!(
            admin(&["baton", "run", "--config", "b.toml", "--admin", "none"]),
            Some(AdminListen::Off)
        );
        assert_eq!(
            admin(&[
                "baton",
                "run",
                "--config",
                "b.toml",
                "--admin",
                "[::1]:9100"
            ]),
            Some(AdminListen::At("[::1]:9100".parse().expect("addr")))
        );
        assert!(
            Cli::try_parse_from(["baton", "run", "--config", "b", "--admin", "localhost"]).is_err()
        );
    }

    #[test]
    fn control_sockets_default_per_daemon_and_namespace() {
        assert_eq!(
            control_path("baton", None),
            Path::new("/run/baton/baton.sock")
        );
        assert_eq!(
            control_path("vrrp-eth0-51", Some(4026532239)),
            Path::new("/run/baton/vrrp-eth0-51-net4026532239.sock")
        );
        let socket = |args: &[&str]| match Cli::try_parse_from(args).expect("valid").command {
            Command::Vrrp(args) => args.control(),
            Command::Run(args) => args.control,
            _ => unreachable!("run or vrrp"),
        };
        // Two one-liners on one host: two sockets, as vrrpd's two pid files.
        let eth0 = socket(&["baton", "vrrp", "-i", "eth0", "-v", "51", "10.0.3.100"]);
        let eth1 = socket(&["baton", "vrrp", "-i", "eth1", "-v", "51", "10.0.4.100"]);
        let vrid = socket(&["baton", "vrrp", "-i", "eth0", "-v", "52", "10.0.3.101"]);
        assert_ne!(eth0, eth1);
        assert_ne!(eth0, vrid);
        let name = eth0.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(name.starts_with("vrrp-eth0-51"), "{name}");
        assert_eq!(
            socket(&[
                "baton",
                "vrrp",
                "-i",
                "eth0",
                "-v",
                "5",
                "--control",
                "/x.sock",
                "10.0.3.1"
            ]),
            Path::new("/x.sock")
        );
        // `run` and the clients agree on the default.
        assert_eq!(
            socket(&["baton", "run", "--config", "b.toml"]),
            default_control()
        );
        let Command::Status(status) = Cli::try_parse_from(["baton", "status"])
            .expect("valid")
            .command
        else {
            panic!("status")
        };
        assert_eq!(status.control, default_control());
    }

    #[test]
    fn vips_parse_with_and_without_prefix() {
        assert_eq!(
            parse_vip("10.0.3.100"),
            Ok(("10.0.3.100".parse().expect("ip"), None))
        );
        assert_eq!(
            parse_vip("2001:db8::1/64"),
            Ok(("2001:db8::1".parse().expect("ip"), Some(64)))
        );
        assert!(parse_vip("10.0.3.100/33").is_err());
        assert!(parse_vip("nonsense").is_err());
    }
}
