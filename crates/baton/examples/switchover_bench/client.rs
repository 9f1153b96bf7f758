//! The client host's load: oha inside the client namespace against the VIP, a new TCP
//! connection for every request, as browsers and most API clients behind a VIP do when
//! they come and go.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use baton_lab::{Child, Host};

use crate::apps::Page;
use crate::common::oha::Report;
use crate::options::Options;

const VIP: &str = "http://10.0.3.100";

/// oha with one new connection per request, JSON report. Every request gets 10 s, so that
/// a lost one fails instead of hanging the run; connects keep oha's 5 s, which leaves
/// room for two SYN retransmissions (after 1 s and 3 s).
fn oha(client: &Host, oha: &Path) -> Command {
    let mut command = client.command(oha);
    command.args([
        "--no-tui",
        "--output-format",
        "json",
        "--disable-keepalive",
        "-t",
        "10s",
    ]);
    command
}

/// Twenty requests one after the other: true when all are answered with 200.
pub(crate) fn probe(client: &Host, program: &Path) -> bool {
    let mut command = oha(client, program);
    command
        .args(["-n", "20", "-c", "1"])
        .arg(format!("{VIP}{}", Page::Quick.path()));
    command
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| Report::parse(&out.stdout).ok())
        .is_some_and(|report| report.ok == 20 && report.failed == 0)
}

/// A load run in progress.
#[derive(Debug)]
pub(crate) struct Load {
    oha: Child,
    /// oha's stdout and stderr, read as they come so that a full pipe never stalls it.
    output: [JoinHandle<Vec<u8>>; 2],
}

impl Load {
    /// `options.rate` requests per second from up to `options.connections` at once, for
    /// `before + after`; requests still open at the end are waited for (`-w`), so that the
    /// slowest one is counted whole.
    pub(crate) fn start(
        client: &Host,
        program: &Path,
        page: Page,
        options: &Options,
    ) -> Result<Load, String> {
        let mut command = oha(client, program);
        command.arg("-c").arg(options.connections.to_string());
        // Rate 0: each client sends its next request as soon as the last is answered.
        if options.rate > 0 {
            command.arg("-q").arg(options.rate.to_string());
        }
        command
            .arg("-z")
            .arg(format!(
                "{}ms",
                (options.before + options.after).as_millis()
            ))
            .arg("-w")
            .arg(format!("{VIP}{}", page.path()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut oha = client.spawn(command).map_err(|e| format!("oha: {e}"))?;
        let child = oha.inner_mut();
        let output = [
            drain(
                child
                    .stdout
                    .take()
                    .map(|s| Box::new(s) as Box<dyn Read + Send>),
            ),
            drain(
                child
                    .stderr
                    .take()
                    .map(|s| Box::new(s) as Box<dyn Read + Send>),
            ),
        ];
        Ok(Load { oha, output })
    }

    /// Waits for the end of the run (at most `limit`) and reads oha's report.
    pub(crate) fn finish(mut self, limit: Duration) -> Result<Report, String> {
        let status = self
            .oha
            .wait_timeout(limit)
            .map_err(|e| e.to_string())?
            .ok_or("oha did not finish")?;
        let [stdout, stderr] = self.output.map(|reader| reader.join().unwrap_or_default());
        if !status.success() {
            return Err(format!(
                "oha failed ({status}): {}",
                String::from_utf8_lossy(&stderr).trim()
            ));
        }
        Report::parse(&stdout).map_err(|e| format!("{e:#}"))
    }
}

/// Reads `pipe` to its end on a thread of its own.
fn drain(pipe: Option<Box<dyn Read + Send>>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}
