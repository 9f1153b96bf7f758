//! A tiny SMTP server for the lab tests: it listens inside a lab host's namespace, takes
//! every mail it is given (HELO or EHLO, MAIL, RCPT, DATA, QUIT) and records it.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_lab::Host;

/// One mail as received.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mail {
    /// The greeting command: `HELO name` or `EHLO name`.
    pub(crate) hello: String,
    pub(crate) from: String,
    pub(crate) to: Vec<String>,
    /// The DATA, dot-unstuffed, without the final `.` line.
    pub(crate) data: String,
}

impl Mail {
    /// The value of header `name` (the first one), as written.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let head = self.data.split("\r\n\r\n").next()?;
        head.split("\r\n").find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim_start())
        })
    }

    /// The header names, in order.
    pub(crate) fn header_names(&self) -> Vec<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        head.split("\r\n")
            .filter_map(|line| line.split_once(':').map(|(key, _)| key.to_owned()))
            .collect()
    }

    pub(crate) fn subject(&self) -> &str {
        self.header("Subject").unwrap_or_default()
    }

    /// The body after the blank line, line ends trimmed.
    pub(crate) fn body(&self) -> &str {
        self.data
            .split_once("\r\n\r\n")
            .map_or("", |(_, body)| body.trim_end())
    }
}

/// The recorder; it stops listening when dropped.
pub(crate) struct Recorder {
    pub(crate) address: SocketAddr,
    mails: Arc<Mutex<Vec<Mail>>>,
    stop: Arc<AtomicBool>,
}

impl Recorder {
    /// Listens on `host`'s address, `port`, inside its namespace.
    pub(crate) fn start(host: &Host, port: u16) -> Recorder {
        let address = SocketAddr::new(host.address().into(), port);
        let listener = bind_in(host, address);
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let mails = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (kept, stopping) = (Arc::clone(&mails), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let kept = Arc::clone(&kept);
                        std::thread::spawn(move || serve(stream, &kept));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Recorder {
            address,
            mails,
            stop,
        }
    }

    /// Every mail so far.
    pub(crate) fn mails(&self) -> Vec<Mail> {
        self.mails.lock().expect("mails").clone()
    }

    pub(crate) fn subjects(&self) -> Vec<String> {
        self.mails()
            .iter()
            .map(|m| m.subject().to_owned())
            .collect()
    }

    /// Forgets what was recorded.
    pub(crate) fn clear(&self) {
        self.mails.lock().expect("mails").clear();
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A listener made inside `host`'s network namespace: a socket belongs to the namespace
/// it was made in, so a short-lived thread enters it (only that thread moves), binds and
/// hands the socket back.
fn bind_in(host: &Host, address: SocketAddr) -> TcpListener {
    let path = format!("/run/netns/{}", host.namespace());
    std::thread::spawn(move || {
        let namespace = std::fs::File::open(&path).expect("the host's namespace");
        nix::sched::setns(namespace, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        TcpListener::bind(address).expect("bind the SMTP recorder")
    })
    .join()
    .expect("binding thread")
}

/// One SMTP session; a mail is recorded when its DATA ends.
fn serve(stream: TcpStream, mails: &Mutex<Vec<Mail>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut out = stream.try_clone().expect("clone");
    let mut lines = BufReader::new(stream);
    let mut mail = Mail::default();
    let mut reply = |text: &str| out.write_all(format!("{text}\r\n").as_bytes()).is_ok();
    if !reply("220 recorder ESMTP") {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let ok = match verb.as_str() {
            "HELO" | "EHLO" => {
                mail.hello = command;
                reply("250 recorder")
            }
            "MAIL" => {
                mail.from = angle(&command);
                reply("250 OK")
            }
            "RCPT" => {
                mail.to.push(angle(&command));
                reply("250 OK")
            }
            "DATA" => {
                if !reply("354 go ahead") {
                    return;
                }
                let Some(data) = read_data(&mut lines) else {
                    return;
                };
                mail.data = data;
                mails.lock().expect("mails").push(std::mem::take(&mut mail));
                reply("250 OK recorded")
            }
            "QUIT" => {
                reply("221 bye");
                return;
            }
            "RSET" | "NOOP" => reply("250 OK"),
            _ => reply("502 not here"),
        };
        if !ok {
            return;
        }
    }
}

/// The text between `<` and `>` of `MAIL FROM:<a@b>`.
fn angle(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command[start..]
        .find('>')
        .map_or(command.len(), |i| start + i);
    command[start..end].to_owned()
}

/// DATA lines up to the `.` line, dot-unstuffed, with their CRLFs.
fn read_data(lines: &mut impl BufRead) -> Option<String> {
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == ".\r\n" || line == ".\n" {
            return Some(data);
        }
        data.push_str(line.strip_prefix('.').unwrap_or(&line));
    }
}
