//! Reading what the demo's processes say, on threads: the client's reply lines, and
//! `ip monitor address` in each load balancer, which reports the moment a daemon adds or
//! removes the virtual address (more exact, and far cheaper, than polling `ip addr`).

use std::io::{BufRead as _, BufReader, Read};
use std::sync::mpsc::Sender;
use std::time::Instant;

use super::reply::Reply;

/// Something a watched process reported.
#[derive(Debug)]
pub(crate) enum Event {
    Reply(Reply),
    /// A client line that is not a [`Reply`]: shown, since it means something is off.
    Unreadable(String),
    /// The client's output ended: every result is in.
    ClientDone,
    /// The virtual address `vip` was added to (`held`) or removed from `host`.
    Vip {
        host: String,
        vip: &'static str,
        held: bool,
        at: Instant,
    },
}

/// Sends an [`Event::Reply`] for every line the client prints, then
/// [`Event::ClientDone`].
pub(crate) fn client_lines(output: impl Read + Send + 'static, events: Sender<Event>) {
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines() {
            let Ok(line) = line else { break };
            let event = match Reply::from_line(&line) {
                Ok(reply) => Event::Reply(reply),
                Err(_) => Event::Unreadable(line),
            };
            if events.send(event).is_err() {
                return;
            }
        }
        let _ = events.send(Event::ClientDone);
    });
}

/// Sends an [`Event::Vip`] whenever `ip -o monitor address` running in `host` reports
/// one of `vips` added or removed, until it exits.
pub(crate) fn vip_changes(
    output: impl Read + Send + 'static,
    host: String,
    vips: &'static [&'static str],
    events: Sender<Event>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines() {
            let Ok(line) = line else { return };
            let at = Instant::now();
            let change = vips
                .iter()
                .find_map(|&vip| vip_change(&line, vip).map(|held| (vip, held)));
            let Some((vip, held)) = change else {
                continue;
            };
            let host = host.clone();
            if events
                .send(Event::Vip {
                    host,
                    vip,
                    held,
                    at,
                })
                .is_err()
            {
                return;
            }
        }
    });
}

/// From one line of `ip -o monitor address`: `Some(true)` when `vip` was added,
/// `Some(false)` when it was removed, `None` for other addresses.
fn vip_change(line: &str, vip: &str) -> Option<bool> {
    let about_vip = line
        .split_whitespace()
        .any(|word| word.split('/').next() == Some(vip));
    about_vip.then(|| !line.starts_with("Deleted"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_lines_about_the_vip() {
        let added = "2: eth0    inet 10.0.3.100/24 scope global secondary eth0\\       \
                     valid_lft forever preferred_lft forever";
        assert_eq!(vip_change(added, "10.0.3.100"), Some(true));
        assert_eq!(
            vip_change(&format!("Deleted {added}"), "10.0.3.100"),
            Some(false)
        );
        let other = "2: eth0    inet 10.0.3.5/24 scope global eth0";
        assert_eq!(vip_change(other, "10.0.3.100"), None);
        let longer = "2: eth0    inet 10.0.3.10/24 scope global eth0";
        assert_eq!(vip_change(longer, "10.0.3.1"), None);
    }
}
