//! A benchmark's own client, started again as a child in the client's namespace and driven
//! over its standard streams: lines it prints come through a channel, the caller waits
//! for a word, and `mark` notes the fault's moment in the client's clock.

use std::ffi::OsStr;
use std::io::{BufRead as _, Write as _};
use std::process::{ChildStdin, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use baton_lab::{Child, Host};

pub(crate) struct ClientProcess {
    _child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl ClientProcess {
    /// Starts this program with `args` in `client`; its standard error goes to ours.
    pub(crate) fn spawn<I, S>(client: &Host, args: I) -> Result<ClientProcess>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let exe = std::env::current_exe().context("this program's path")?;
        let mut command = client.command(exe);
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = client.spawn(command).context("starting the client")?;
        let stdin = child.inner_mut().stdin.take().context("client stdin")?;
        let stdout = child.inner_mut().stdout.take().context("client stdout")?;
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(ClientProcess {
            _child: child,
            stdin,
            lines,
        })
    }

    /// Sends one line to the client.
    pub(crate) fn say(&mut self, line: &str) -> Result<()> {
        writeln!(self.stdin, "{line}").context("client stdin")?;
        self.stdin.flush().context("client stdin")
    }

    /// The client's next line, within `within`.
    pub(crate) fn next_line(&self, within: Duration) -> Result<String> {
        match self.lines.recv_timeout(within) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => bail!("the client said nothing within {within:?}"),
            Err(RecvTimeoutError::Disconnected) => bail!("the client ended"),
        }
    }

    /// Waits for a line that starts with `word` (others are passed over) and returns it.
    pub(crate) fn expect(&self, word: &str, within: Duration) -> Result<String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(word) => return Ok(line),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    bail!("the client did not say {word} within {within:?}")
                }
                Err(RecvTimeoutError::Disconnected) => {
                    bail!("the client ended before saying {word}")
                }
            }
        }
    }

    /// Notes the fault's moment in the client (returns once the client has it).
    pub(crate) fn mark(&mut self) -> Result<()> {
        self.say("mark")?;
        self.expect("MARKED", Duration::from_secs(5)).map(drop)
    }
}
