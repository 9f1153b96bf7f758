//! `baton demo`: the guide's two load balancers, two apps and a client, each in a network
//! namespace of its own; lb2's cable is pulled and plugged back in (in the L4 story app2 is
//! stopped and started again first), and the client's requests show what a user would
//! have seen. In the active-active story each load balancer serves one VIP until lb2's
//! cable is cut.

mod active_active;
mod l4;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{ChildStdin, ExitCode, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use baton_lab::{Child, Host, Lab};

use super::app_down::{self, Times};
use super::config;
use super::mode::Mode;
use super::summary_per_vip;
use super::timeline::{self, Entry, Pending, Printer, Request};
use super::watch::{self, Event};
use super::workdir::Workdir;
use crate::status::Status;

/// The guide's virtual address (lb2's, in every story); the lab's addresses are in
/// [`Lab::guide`].
const VIP: &str = "10.0.3.100";
const URL: &str = "http://10.0.3.100/";
/// The start of the namespace names, so that `ip netns` shows whose they are.
const NAMESPACE_PREFIX: &str = "demo";
/// Between two requests of the client to the same VIP (see [`Mode::client_interval`]).
const INTERVAL: Duration = Duration::from_millis(100);
/// A request without an answer by then has failed. Above TCP's first SYN retransmission
/// (1 s) a request sent into the outage could still be answered late, muddying the count.
const TIMEOUT: Duration = Duration::from_millis(900);
/// The story is printed this far behind what happens, so that a request's line (placed
/// at the time it was sent) can wait for its result.
const LAG: Duration = Duration::from_millis(1200);
/// How long to show steady traffic before and after each change: about ten requests.
const STEADY: Duration = Duration::from_millis(1000);
/// The longest wait for any one step (election, failover, ...) before the demo gives up.
const STEP_LIMIT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(20);
/// Log lines of each process shown when the demo fails.
const LOG_TAIL: usize = 20;

/// Runs the demo: 0 when it showed the failover and the failback, 1 when it could not
/// (with the reason and the daemons' logs), 2 when it cannot run on this machine at all.
pub(crate) fn run(mode: Mode) -> ExitCode {
    // Not root: carry on as root of a user namespace of our own (the rootless lab). This
    // returns only as root, or with the reason the kernel refuses.
    if let Err(reason) = baton_lab::reexec_in_user_namespace() {
        explain_unavailable(&reason);
        return ExitCode::from(2);
    }
    if let Err(reason) = Lab::check_environment() {
        explain_unavailable(&reason);
        return ExitCode::from(2);
    }
    if let Some((tool, why)) = mode.tools().iter().find(|(tool, _)| !on_path(tool)) {
        eprintln!("baton demo: cannot run here: no `{tool}` on the PATH: {why}");
        return ExitCode::from(2);
    }
    let mut demo = match Demo::new(mode) {
        Ok(demo) => demo,
        Err(error) => {
            eprintln!("baton demo: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    match demo.play() {
        Ok(story) => demo.finish(&story),
        Err(error) => {
            demo.fail(&error);
            ExitCode::FAILURE
        }
    }
}

fn explain_unavailable(reason: &baton_lab::Error) {
    eprintln!("baton demo: cannot run here: {reason}");
    let advice = match reason {
        baton_lab::Error::UserNamespacesUnavailable { .. } => {
            "The demo builds six network namespaces (five hosts and a switch), cables them\n\
             with veth pairs and runs two VRRP daemons that add and remove an address: all\n\
             of that needs CAP_NET_ADMIN and CAP_SYS_ADMIN. Without root the demo takes them\n\
             in a user namespace of its own, which this kernel does not allow. Nothing\n\
             outside the demo's namespaces is touched either way, and they are removed when\n\
             it ends. Allow user namespaces as said above, or run it with sudo:\n\
             cargo build --release -p baton && sudo target/release/baton demo"
        }
        baton_lab::Error::NamespacesUnavailable { .. } => {
            "This usually means a container without CAP_SYS_ADMIN, or a read-only\n\
             /var/run/netns; run the demo on a machine or a VM."
        }
        _ => "",
    };
    if !advice.is_empty() {
        eprintln!("{advice}");
    }
}

/// When the story's changes happened, for the summary.
struct Story {
    /// lb2's cable cut, and plugged back in.
    cut: Duration,
    restore: Duration,
    /// The L4 story's app2 stopped and started again.
    app2: Option<Times>,
}

/// A process the demo started and whose log it keeps for the failure report.
struct Process {
    name: String,
    child: Child,
    log: Option<PathBuf>,
}

/// Everything the demo has set up, and the story so far. Field order is drop order: the
/// processes stop before the lab goes, and the lab before its directory.
struct Demo {
    mode: Mode,
    processes: Vec<Process>,
    client_stdin: Option<ChildStdin>,
    lab: Option<Lab>,
    workdir: Workdir,
    exe: PathBuf,
    start: Instant,
    start_unix_us: u64,
    events: Receiver<Event>,
    sender: Sender<Event>,
    pending: Pending,
    printer: Printer,
    requests: Vec<Request>,
    /// Each VIP and a load balancer holding it, as `ip monitor` last said.
    holders: BTreeSet<(&'static str, String)>,
    client_done: bool,
}

impl Demo {
    fn new(mode: Mode) -> anyhow::Result<Demo> {
        let start = Instant::now();
        let start_unix_us = u64::try_from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_micros(),
        )
        .unwrap_or(u64::MAX);
        // Ctrl-C from here on removes every namespace this process made, then exits.
        Lab::install_ctrlc_cleanup().context("installing the Ctrl-C clean-up")?;
        let stale = Lab::remove_stale(NAMESPACE_PREFIX).context("removing old demo labs")?;
        let workdir = Workdir::create().context("creating the demo's directory")?;
        let (sender, events) = mpsc::channel();
        print_intro(mode);
        let mut demo = Demo {
            mode,
            processes: Vec::new(),
            client_stdin: None,
            lab: None,
            workdir,
            exe: std::env::current_exe().context("finding the baton executable")?,
            start,
            start_unix_us,
            events,
            sender,
            pending: Pending::default(),
            printer: match mode {
                Mode::L7 => Printer::default(),
                Mode::L4 => Printer::restarting_runs_at_notes(),
                Mode::ActiveActive => Printer::per_vip(),
            },
            requests: Vec::new(),
            holders: BTreeSet::new(),
            client_done: false,
        };
        if !stale.is_empty() {
            demo.note(format!(
                "removed {} namespaces left by a demo that was killed",
                stale.len()
            ));
        }
        Ok(demo)
    }

    fn lab(&self) -> &Lab {
        // Set by `play` before anything else and taken only by `finish`.
        self.lab.as_ref().expect("the lab is built first")
    }

    fn host(&self, name: &str) -> &Host {
        self.lab().host(name)
    }

    /// The story up to the client's last result; returns when its changes happened.
    fn play(&mut self) -> anyhow::Result<Story> {
        let lab = Lab::builder()
            .prefix(NAMESPACE_PREFIX)
            .guide_hosts()
            .build()
            .context("building the lab")?;
        self.note(format!(
            "lab built: namespaces {}{{switch,lb1,lb2,app1,app2,client}}, one bridge",
            lab.prefix()
        ));
        self.lab = Some(lab);
        self.start_apps()?;
        if self.mode == Mode::L4 {
            self.enable_forwarding()?;
        }
        self.start_balancers()?;
        if self.mode == Mode::ActiveActive {
            self.wait_for_crossed_election()?;
            self.start_client()?;
            let story = self.both_serve_then_lb2_fails()?;
            self.stop_client()?;
            return Ok(story);
        }
        self.wait_for_election()?;
        self.start_client()?;

        self.wait_until("the client's first answers", |demo| {
            demo.answered(Duration::ZERO, "lb2") >= 10
        })?;
        let app2 = match self.mode {
            Mode::L7 | Mode::ActiveActive => None,
            Mode::L4 => Some(self.app2_fails_and_returns()?),
        };
        let cut = self.note("cutting lb2's cable (its switch port goes down)".into());
        self.host("lb2").cut_link()?;
        self.wait_until("an answer through lb1 after the cut", |demo| {
            demo.answered(cut, "lb1") > 0
        })?;
        self.steady();

        let restore = self.note("plugging lb2's cable back in".into());
        self.host("lb2").restore_link()?;
        self.wait_until("lb2 taking the address back and answering", |demo| {
            demo.answered(restore, "lb2") > 0 && !demo.holds(VIP, "lb1")
        })?;
        self.steady();
        self.stop_client()?;
        Ok(Story { cut, restore, app2 })
    }

    fn start_apps(&mut self) -> anyhow::Result<()> {
        for name in ["app1", "app2"] {
            self.start_app(name)?;
        }
        self.note("app1 and app2 serving HTTP on :8080 (baton demo-app)".into());
        Ok(())
    }

    /// Starts `baton demo-app` in the host `name`, logging to `name.log` (appended to when
    /// it is started again).
    fn start_app(&mut self, name: &str) -> anyhow::Result<()> {
        let log = self.workdir.path(&format!("{name}.log"));
        let mut command = self.host(name).command(&self.exe);
        command
            .args(["demo-app", "--listen", "0.0.0.0:8080", "--name", name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&log)?);
        self.spawn(name, command, Some(log))?;
        Ok(())
    }

    fn start_balancers(&mut self) -> anyhow::Result<()> {
        for name in ["lb1", "lb2"] {
            // Watching first: the daemon adds the VIP a few hundred ms after it starts.
            let mut monitor = self.host(name).command("ip");
            monitor
                .args(["-o", "monitor", "address"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
            let watcher = self.spawn(&format!("ip monitor@{name}"), monitor, None)?;
            let output = watcher
                .inner_mut()
                .stdout
                .take()
                .context("ip monitor's output")?;
            watch::vip_changes(
                output,
                name.to_owned(),
                self.mode.vips(),
                self.sender.clone(),
            );

            let config = self.workdir.path(&format!("{name}.toml"));
            std::fs::write(&config, config::for_lb(self.mode, name))
                .with_context(|| format!("writing {}", config.display()))?;
            let log = self.workdir.path(&format!("{name}.log"));
            let mut command = self.host(name).command(&self.exe);
            command
                .args(["run", "--config"])
                .arg(&config)
                .arg("--control")
                .arg(self.control(name))
                .stdin(Stdio::null())
                .stdout(log_file(&log)?)
                .stderr(log_file(&log)?);
            self.spawn(name, command, Some(log))?;
        }
        self.note(match self.mode {
            Mode::ActiveActive => "baton run on lb1 and lb2, one baton.toml each (priorities \
                                   crossed: each is master of one VIP)"
                .into(),
            Mode::L7 | Mode::L4 => {
                "baton run on lb1 (priority 100) and lb2 (priority 150), one baton.toml each".into()
            }
        });
        Ok(())
    }

    /// Waits until lb2 holds the VIP and both daemons agree on who is master, and says so.
    fn wait_for_election(&mut self) -> anyhow::Result<()> {
        self.wait_to_say("lb2 becoming MASTER with both apps up", |demo| {
            (demo.holders.len() == 1 && demo.holds(VIP, "lb2"))
                .then(|| demo.election())
                .flatten()
        })
    }

    /// Waits until `saying` has something to say (`None` until then), and adds it to the
    /// story; an error naming `what` after [`STEP_LIMIT`].
    fn wait_to_say(
        &mut self,
        what: &str,
        mut saying: impl FnMut(&Demo) -> Option<String>,
    ) -> anyhow::Result<()> {
        let mut said = None;
        self.wait_until(what, |demo| {
            said = saying(demo);
            said.is_some()
        })?;
        if let Some(text) = said {
            self.note(text);
        }
        Ok(())
    }

    /// What `baton status --json` says on both load balancers, once lb2 is MASTER, lb1
    /// BACKUP and both have found both apps healthy.
    fn election(&self) -> Option<String> {
        let lb1 = self.status("lb1").ok()?;
        let lb2 = self.status("lb2").ok()?;
        let state = |status: &Status| {
            status
                .vrrp
                .first()
                .map(|instance| (instance.state.clone(), instance.priority))
        };
        let all_up = |status: &Status| {
            let servers = self.mode.servers(status);
            !servers.is_empty() && servers.iter().all(|(_, up)| *up)
        };
        let ((state1, priority1), (state2, priority2)) = (state(&lb1)?, state(&lb2)?);
        let ready = state2 == "MASTER" && state1 == "BACKUP" && all_up(&lb1) && all_up(&lb2);
        let servers: Vec<&str> = self
            .mode
            .servers(&lb2)
            .into_iter()
            .map(|(address, _)| address)
            .collect();
        ready.then(|| {
            format!(
                "baton status: lb2 is {state2} (priority {priority2}), lb1 is {state1} \
                 (priority {priority1}); both find {} up",
                servers.join(" and ")
            )
        })
    }

    /// `baton status --json`, run in the load balancer's namespace as an operator would.
    fn status(&self, lb: &str) -> anyhow::Result<Status> {
        let host = self.host(lb);
        let mut command = host.command(&self.exe);
        command
            .args(["status", "--json", "--control"])
            .arg(self.control(lb));
        let output = host.run_command(command)?;
        Ok(serde_json::from_slice(&output.stdout)?)
    }

    fn control(&self, lb: &str) -> PathBuf {
        self.workdir.path(&format!("{lb}.sock"))
    }

    fn start_client(&mut self) -> anyhow::Result<()> {
        let log = self.workdir.path("client.log");
        let mut command = self.host("client").command(&self.exe);
        command.arg("demo-client");
        for vip in self.mode.vips() {
            command.args(["--url", &format!("http://{vip}/")]);
        }
        command
            .arg("--interval-ms")
            .arg(self.mode.client_interval().as_millis().to_string())
            .arg("--timeout-ms")
            .arg(TIMEOUT.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file(&log)?);
        let client = self.spawn("client", command, Some(log))?;
        let stdin = client.inner_mut().stdin.take();
        let output = client
            .inner_mut()
            .stdout
            .take()
            .context("the client's output")?;
        watch::client_lines(output, self.sender.clone());
        self.client_stdin = stdin;
        self.note(match self.mode {
            Mode::ActiveActive => active_active::client_note(),
            Mode::L7 | Mode::L4 => format!(
                "client: GET {URL} every {} ms, each on a new connection",
                INTERVAL.as_millis()
            ),
        });
        Ok(())
    }

    /// Closes the client's stdin, which stops it; waits for its last results.
    fn stop_client(&mut self) -> anyhow::Result<()> {
        self.note("stopping the client".into());
        self.client_stdin = None;
        self.wait_until("the client's last results", |demo| demo.client_done)
    }

    fn spawn(
        &mut self,
        name: &str,
        command: std::process::Command,
        log: Option<PathBuf>,
    ) -> anyhow::Result<&mut Child> {
        let child = self.host_of(name).spawn(command)?;
        self.processes.push(Process {
            name: name.to_owned(),
            child,
            log,
        });
        let last = self.processes.len() - 1;
        Ok(&mut self.processes[last].child)
    }

    /// The host a process called `name` or `what@name` runs in.
    fn host_of(&self, name: &str) -> &Host {
        self.host(name.rsplit('@').next().unwrap_or(name))
    }

    /// Whether `lb` holds `vip`, as `ip monitor` last said.
    fn holds(&self, vip: &str, lb: &str) -> bool {
        self.holders
            .iter()
            .any(|(held, holder)| *held == vip && holder == lb)
    }

    /// Requests sent at or after `since` that `lb` answered.
    fn answered(&self, since: Duration, lb: &str) -> usize {
        self.requests
            .iter()
            .filter(|request| request.sent >= since && request.lb() == Some(lb))
            .count()
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Adds `text` to the story, now; returns when that is.
    fn note(&mut self, text: String) -> Duration {
        let at = self.now();
        self.pending.push(Entry::Note { at, text });
        at
    }

    /// Lets traffic run for [`STEADY`].
    fn steady(&mut self) {
        let until = self.now() + STEADY;
        // Cannot fail: the condition comes true long before the step limit.
        let _ = self.wait_until("steady traffic", |demo| demo.now() >= until);
    }

    /// Takes in what the watched processes report and prints the story as far as it is
    /// settled, until `done`; an error naming `what` after [`STEP_LIMIT`].
    fn wait_until(
        &mut self,
        what: &str,
        mut done: impl FnMut(&Demo) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + STEP_LIMIT;
        loop {
            self.take_events();
            self.print_settled();
            if done(self) {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "gave up waiting for {what} after {} s",
                STEP_LIMIT.as_secs()
            );
        }
    }

    /// Waits up to [`POLL`] for the first event, then takes all that are there.
    fn take_events(&mut self) {
        // Never disconnected: the demo keeps a sender for the watchers it starts.
        let mut next = self.events.recv_timeout(POLL).ok();
        while let Some(event) = next {
            self.take(event);
            next = self.events.try_recv().ok();
        }
    }

    fn take(&mut self, event: Event) {
        match event {
            Event::Reply(reply) => {
                let lab = self.lab();
                let request = Request::from_reply(&reply, self.start_unix_us, |peer| {
                    lab.hosts()
                        .iter()
                        .find(|host| std::net::IpAddr::V4(host.address()) == peer)
                        .map_or_else(|| peer.to_string(), |host| host.name().to_owned())
                });
                self.pending.push(Entry::Request(request.clone()));
                self.requests.push(request);
            }
            Event::Unreadable(line) => {
                self.note(format!("client said: {line}"));
            }
            Event::ClientDone => self.client_done = true,
            Event::Vip {
                host,
                vip,
                held,
                at,
            } => {
                let text = if held {
                    format!("{vip} added on {host}")
                } else {
                    format!("{vip} removed from {host}")
                };
                if held {
                    self.holders.insert((vip, host));
                } else {
                    self.holders.remove(&(vip, host));
                }
                let at = at.saturating_duration_since(self.start);
                self.pending.push(Entry::Note { at, text });
            }
        }
    }

    fn print_settled(&mut self) {
        let settled = self.now().saturating_sub(LAG);
        for entry in self.pending.take_until(settled) {
            for line in self.printer.lines(&entry) {
                println!("{line}");
            }
        }
    }

    fn print_rest(&mut self) {
        for entry in self.pending.take_all() {
            for line in self.printer.lines(&entry) {
                println!("{line}");
            }
        }
        for line in self.printer.fold() {
            println!("{line}");
        }
    }

    /// The rest of the story, the summary, then the clean-up: 0 if that went well.
    fn finish(mut self, story: &Story) -> ExitCode {
        self.print_rest();
        let failover = timeline::switch(&self.requests, story.cut, "lb1");
        let failback = timeline::switch(&self.requests, story.restore, "lb2");
        let mut lines = match self.mode {
            Mode::ActiveActive => summary_per_vip::summary(
                &self.requests,
                self.mode.vips(),
                self.mode.client_interval(),
                (story.cut, story.restore),
            ),
            Mode::L7 | Mode::L4 => {
                timeline::summary(&self.requests, INTERVAL, &failover, &failback)
            }
        };
        if let Some(times) = &story.app2 {
            let down = app_down::app_down(&self.requests, "app2", times);
            // After the counts, before the failover it came before.
            lines.insert(1, app_down::summary_line("app2", "lb2", &down, times));
        }
        println!();
        for line in lines {
            println!("{line}");
        }
        self.clean_up()
    }

    /// Stops every process (the daemons with SIGTERM, as systemd would), removes the lab
    /// and the directory, and says so.
    fn clean_up(mut self) -> ExitCode {
        for process in &mut self.processes {
            process.child.terminate();
        }
        self.processes.clear();
        let Some(lab) = self.lab.take() else {
            return ExitCode::SUCCESS;
        };
        let namespaces = format!("{}*", lab.prefix());
        if let Err(error) = lab.shutdown() {
            eprintln!("baton demo: removing the lab: {error}");
            return ExitCode::FAILURE;
        }
        println!(
            "clean-up: daemons, apps and client stopped; namespaces {namespaces} and {} removed",
            self.workdir.dir().display()
        );
        ExitCode::SUCCESS
    }

    fn fail(&mut self, error: &anyhow::Error) {
        self.print_rest();
        eprintln!("\nbaton demo: {error:#}");
        for process in &self.processes {
            let Some(log) = &process.log else { continue };
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            eprintln!(
                "----- {} (last lines of {}) -----",
                process.name,
                log.display()
            );
            for line in &lines[lines.len().saturating_sub(LOG_TAIL)..] {
                eprintln!("{line}");
            }
        }
    }
}

/// Whether `program` is an executable file in one of the PATH's directories, which is
/// where `ip netns exec` will look for it.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program))
                .is_ok_and(|file| file.is_file() && file.permissions().mode() & 0o111 != 0)
        })
    })
}

fn log_file(path: &std::path::Path) -> anyhow::Result<Stdio> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    Ok(Stdio::from(file))
}

fn print_intro(mode: Mode) {
    if mode == Mode::ActiveActive {
        active_active::print_intro(INTERVAL);
        return;
    }
    println!(
        "baton demo: the guide's highly available load balancer, in network namespaces on \
         this machine.\n  \
         lb1 10.0.3.5 (priority 100) and lb2 10.0.3.6 (priority 150) share {VIP} over VRRPv3\n  \
         (an advertisement every 0.1 s), and {} {VIP}:80 to app1 10.0.3.11:8080\n  \
         and app2 10.0.3.12:8080. The client 10.0.3.50 sends GET {URL} every {} ms.\n  \
         {}Each request line shows the LB that {} it and the app that answered; times\n  \
         are seconds since the start. The load balancers' config: baton demo {}\n",
        mode.how(),
        INTERVAL.as_millis(),
        mode.intro_extra(),
        mode.passed(),
        mode.print_config_flags()
    );
}
