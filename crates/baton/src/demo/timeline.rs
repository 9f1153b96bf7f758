//! The demo's story as pure functions of what happened: the client's requests and the
//! demo's own events in time order, runs of alike requests folded into one line, and what
//! the client saw while the virtual address moved.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use super::reply::{Outcome, Reply};

/// Requests shown in full at the start, before alike ones are folded into one line.
const FIRST_RUN_SHOWN: usize = 10;
/// Requests shown in full at the start of every later run (after a change of LB, say).
const RUN_SHOWN: usize = 3;

/// How a request went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Served {
    /// Answered by `app` through the load balancer `lb`.
    By {
        lb: String,
        app: String,
    },
    Failed {
        error: String,
    },
}

/// One request, on the demo's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) seq: u64,
    /// The virtual address it was sent to.
    pub(crate) vip: String,
    /// When it was sent, since the demo started.
    pub(crate) sent: Duration,
    /// From sending to the answer or the failure.
    pub(crate) elapsed: Duration,
    pub(crate) served: Served,
}

impl Request {
    /// `reply` on the clock of a demo that started at `start_unix_us`; `lb_of` names the
    /// load balancer an app saw the connection come from.
    pub(crate) fn from_reply(
        reply: &Reply,
        start_unix_us: u64,
        lb_of: impl Fn(IpAddr) -> String,
    ) -> Request {
        Request {
            seq: reply.seq,
            vip: reply.to.clone(),
            sent: Duration::from_micros(reply.sent_us.saturating_sub(start_unix_us)),
            elapsed: Duration::from_micros(reply.elapsed_us),
            served: match &reply.outcome {
                Outcome::Answered { app, peer } => Served::By {
                    lb: lb_of(*peer),
                    app: app.clone(),
                },
                Outcome::Failed { error } => Served::Failed {
                    error: error.clone(),
                },
            },
        }
    }

    /// When the answer (or the failure) came.
    pub(crate) fn done(&self) -> Duration {
        self.sent + self.elapsed
    }

    /// The load balancer that answered, if one did.
    pub(crate) fn lb(&self) -> Option<&str> {
        match &self.served {
            Served::By { lb, .. } => Some(lb),
            Served::Failed { .. } => None,
        }
    }
}

/// One line of the story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// Something the demo did or saw: built the lab, cut a link, the VIP moved, ...
    Note {
        at: Duration,
        text: String,
    },
    Request(Request),
}

impl Entry {
    /// Where it goes in the story: requests by the time they were sent.
    pub(crate) fn at(&self) -> Duration {
        match self {
            Entry::Note { at, .. } => *at,
            Entry::Request(request) => request.sent,
        }
    }
}

/// Entries waiting to be printed. A request is reported when it finishes, up to a timeout
/// after it was sent, so the story is printed that much behind and sorted first.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    entries: Vec<Entry>,
}

impl Pending {
    pub(crate) fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
    }

    /// Removes the entries at or before `until` and returns them in time order; entries
    /// at the same instant keep the order they were pushed in.
    pub(crate) fn take_until(&mut self, until: Duration) -> Vec<Entry> {
        self.entries.sort_by_key(Entry::at);
        let split = self.entries.partition_point(|entry| entry.at() <= until);
        self.entries.drain(..split).collect()
    }

    /// Everything left, in time order.
    pub(crate) fn take_all(&mut self) -> Vec<Entry> {
        self.take_until(Duration::MAX)
    }
}

/// Turns entries into lines: notes and the first requests of each run in full, the rest
/// of a run of requests that went the same way folded into one line.
#[derive(Debug, Default)]
pub(crate) struct Printer {
    run: Option<Run>,
    runs: usize,
    /// The last answered request of each stream (see [`Printer::stream`]).
    last_answer: BTreeMap<String, Request>,
    /// A note ends the run of requests before it: see [`Printer::restarting_runs_at_notes`].
    restart_at_notes: bool,
    /// Requests to different VIPs are told apart: see [`Printer::per_vip`].
    per_vip: bool,
}

/// Consecutive requests that went the same way: through the same LB, or failed, each
/// stream's (one per VIP with [`Printer::per_vip`], else one in all).
#[derive(Debug)]
struct Run {
    lbs: BTreeMap<String, Option<String>>,
    shown: usize,
    folded: Vec<Request>,
}

impl Printer {
    /// A printer that shows the first requests after every note in full, not only those
    /// after a change of LB: in the L4 story a note (app2 stopped, app2 back) changes which
    /// apps answer while the same LB goes on answering.
    pub(crate) fn restarting_runs_at_notes() -> Printer {
        Printer {
            restart_at_notes: true,
            ..Printer::default()
        }
    }

    /// A printer for a client that sends to several VIPs in turn (the active-active story):
    /// each request line names its VIP, a run goes on while each VIP's requests go the way
    /// they went in it (lb2 for one, lb1 for the other, say), and "first answer through"
    /// compares with the last answer to the same VIP.
    pub(crate) fn per_vip() -> Printer {
        Printer {
            per_vip: true,
            ..Printer::default()
        }
    }

    /// The requests that runs and switches are followed in: one per VIP with
    /// [`Printer::per_vip`], else all requests are one stream.
    fn stream(&self, request: &Request) -> String {
        if self.per_vip {
            request.vip.clone()
        } else {
            String::new()
        }
    }

    /// The lines for `entry`, which comes after every entry given before.
    pub(crate) fn lines(&mut self, entry: &Entry) -> Vec<String> {
        let request = match entry {
            Entry::Note { at, text } => {
                let mut lines = self.fold();
                if self.restart_at_notes {
                    self.run = None;
                }
                lines.push(format!("{}  {text}", stamp(*at)));
                return lines;
            }
            Entry::Request(request) => request,
        };
        let lb = request.lb().map(str::to_owned);
        let stream = self.stream(request);
        let mut lines = Vec::new();
        let goes_on = self.run.as_ref().is_some_and(|run| {
            run.lbs
                .get(&stream)
                .is_none_or(|run_lb| run_lb.as_deref() == lb.as_deref())
        });
        if !goes_on {
            lines.extend(self.fold());
            self.runs += 1;
            self.run = Some(Run {
                lbs: BTreeMap::new(),
                shown: 0,
                folded: Vec::new(),
            });
        }
        let limit = if self.runs == 1 {
            FIRST_RUN_SHOWN
        } else {
            RUN_SHOWN
        };
        let first_from_this_lb = match (&lb, self.last_answer.get(&stream)) {
            (Some(lb), Some(last)) if last.lb() != Some(lb.as_str()) => Some(last),
            _ => None,
        };
        let line = request_line(request, first_from_this_lb, self.per_vip);
        if let Some(run) = &mut self.run {
            run.lbs.insert(stream.clone(), lb.clone());
            if run.shown < limit || first_from_this_lb.is_some() {
                run.shown += 1;
                lines.push(line);
            } else {
                run.folded.push(request.clone());
            }
        }
        if lb.is_some() {
            self.last_answer.insert(stream, request.clone());
        }
        lines
    }

    /// The line for the requests folded so far, if any.
    pub(crate) fn fold(&mut self) -> Vec<String> {
        let Some(run) = &mut self.run else {
            return Vec::new();
        };
        let folded = std::mem::take(&mut run.folded);
        let (Some(first), Some(last)) = (folded.first(), folded.last()) else {
            return Vec::new();
        };
        // With two VIPs in turn a run is often cut one request after its last shown one:
        // that request's own line says more than a fold of one.
        if self.per_vip && folded.len() == 1 {
            return vec![request_line(first, None, true)];
        }
        let apps = count(folded.iter().filter_map(|request| match &request.served {
            Served::By { app, .. } => Some(app.as_str()),
            Served::Failed { .. } => None,
        }));
        let how = if self.per_vip {
            per_vip_ways(&folded, &apps)
        } else {
            match first.lb() {
                Some(lb) => format!(" answered by {lb} ({apps})"),
                None => " failed".to_owned(),
            }
        };
        vec![format!(
            "{}  #{}..#{}  {} more{how}, the last sent at {:.3}s",
            stamp(first.sent),
            first.seq,
            last.seq,
            folded.len(),
            last.sent.as_secs_f64()
        )]
    }
}

/// How each VIP's `folded` requests went, for a fold line:
/// `: 10.0.3.100 by lb2, 10.0.3.101 by lb1 (app1 5, app2 5)`.
fn per_vip_ways(folded: &[Request], apps: &str) -> String {
    let mut ways = BTreeMap::<&str, Option<&str>>::new();
    for request in folded {
        ways.insert(&request.vip, request.lb());
    }
    let ways: Vec<String> = ways
        .iter()
        .map(|(vip, lb)| match lb {
            Some(lb) => format!("{vip} by {lb}"),
            None => format!("{vip} failed"),
        })
        .collect();
    let apps = if apps.is_empty() {
        String::new()
    } else {
        format!(" ({apps})")
    };
    format!(": {}{apps}", ways.join(", "))
}

/// `lb2 -> app1 (1.2 ms)` (after the VIP with `per_vip`), with how long the client had no
/// answer when this is the first one through another LB than `previous`.
fn request_line(request: &Request, previous: Option<&Request>, per_vip: bool) -> String {
    let what = match &request.served {
        Served::By { lb, app } => format!("{lb} -> {app}  ({})", millis(request.elapsed)),
        Served::Failed { error } => format!("failed: {error}"),
    };
    let first = match (previous, request.lb()) {
        (Some(previous), Some(lb)) => format!(
            "   <- first answer through {lb}, {} after the last one through {}",
            whole_millis(request.done().saturating_sub(previous.done())),
            previous.lb().unwrap_or("?")
        ),
        _ => String::new(),
    };
    let vip = if per_vip {
        format!("{}  ", request.vip)
    } else {
        String::new()
    };
    format!(
        "{}  #{:<4} {vip}{what}{first}",
        stamp(request.sent),
        request.seq
    )
}

/// What the client saw while the virtual address moved to `to`, from the instant `at`
/// (the cut, or the restore).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Switch<'a> {
    /// The last request answered before `at`.
    pub(crate) last_before: Option<&'a Request>,
    /// The first request sent from `at` on that `to` answered.
    pub(crate) first_after: Option<&'a Request>,
    /// The longest time without any answer between those two: (from, to).
    pub(crate) outage: Option<(Duration, Duration)>,
    /// Requests sent between those two that failed.
    pub(crate) failed: usize,
}

/// See [`Switch`].
pub(crate) fn switch<'a>(requests: &'a [Request], at: Duration, to: &str) -> Switch<'a> {
    let answered = || requests.iter().filter(|request| request.lb().is_some());
    let last_before = answered()
        .filter(|request| request.done() <= at)
        .max_by_key(|request| request.done());
    let first_after = answered()
        .filter(|request| request.sent >= at && request.lb() == Some(to))
        .min_by_key(|request| request.done());
    let from = last_before.map_or(Duration::ZERO, Request::done);
    let outage = first_after.map(|first| {
        let mut answers: Vec<Duration> = answered()
            .map(Request::done)
            .filter(|done| (from..=first.done()).contains(done))
            .collect();
        answers.push(from);
        answers.sort();
        answers
            .windows(2)
            .map(|pair| (pair[0], pair[1]))
            .max_by_key(|(from, to)| *to - *from)
            .unwrap_or((from, from))
    });
    let sent_from = last_before.map_or(Duration::ZERO, |request| request.sent);
    let failed = first_after.map_or(0, |first| {
        requests
            .iter()
            .filter(|request| request.lb().is_none())
            .filter(|request| request.sent > sent_from && request.sent < first.sent)
            .count()
    });
    Switch {
        last_before,
        first_after,
        outage,
        failed,
    }
}

/// The closing lines: how many requests, answered by whom, and the two switches.
pub(crate) fn summary(
    requests: &[Request],
    interval: Duration,
    failover: &Switch<'_>,
    failback: &Switch<'_>,
) -> Vec<String> {
    vec![
        format!("requests: {}", counts(requests.iter())),
        switch_line("failover to lb1", failover),
        switch_line("back to lb2", failback),
        format!(
            "(a request goes out every {}: outages are measured to that step)",
            whole_millis(interval)
        ),
    ]
}

/// `30 sent, 27 answered (lb1 12, lb2 15; app1 13, app2 14), 3 failed`.
pub(crate) fn counts<'a>(requests: impl Iterator<Item = &'a Request> + Clone) -> String {
    let sent = requests.clone().count();
    let answered = requests.clone().filter(|r| r.lb().is_some()).count();
    let by_lb = count(requests.clone().filter_map(Request::lb));
    let by_app = count(requests.filter_map(|request| match &request.served {
        Served::By { app, .. } => Some(app.as_str()),
        Served::Failed { .. } => None,
    }));
    format!(
        "{sent} sent, {answered} answered ({by_lb}; {by_app}), {} failed",
        sent - answered
    )
}

/// `failover to lb1: outage 400 ms (...), 3 requests failed`, `what` first.
pub(crate) fn switch_line(what: &str, switch: &Switch<'_>) -> String {
    match switch.outage {
        Some((from, to)) => format!(
            "{what}: outage {} (no answer between {:.3}s and {:.3}s), {} failed",
            whole_millis(to - from),
            from.as_secs_f64(),
            to.as_secs_f64(),
            plural(switch.failed, "request")
        ),
        None => format!("{what}: not seen (no answer through the new master)"),
    }
}

/// `1 request`, `3 requests`.
pub(crate) fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `app1 6, app2 6`, in name order.
fn count<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut counts = BTreeMap::<&str, usize>::new();
    for name in names {
        *counts.entry(name).or_default() += 1;
    }
    counts
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The time column: seconds since the start, right-aligned.
fn stamp(at: Duration) -> String {
    format!("{:>8.3}s", at.as_secs_f64())
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

pub(crate) fn whole_millis(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn answered(seq: u64, sent: u64, lb: &str, app: &str) -> Request {
        Request {
            seq,
            vip: "10.0.3.100".into(),
            sent: ms(sent),
            elapsed: ms(2),
            served: Served::By {
                lb: lb.into(),
                app: app.into(),
            },
        }
    }

    fn failed(seq: u64, sent: u64) -> Request {
        Request {
            seq,
            vip: "10.0.3.100".into(),
            sent: ms(sent),
            elapsed: ms(900),
            served: Served::Failed {
                error: "no answer within 900 ms".into(),
            },
        }
    }

    /// A request every 100 ms: lb2 answers until 0.9 s, the cable is cut at 0.95 s, three
    /// requests fail, lb1 answers from 1.3 s; the cable is back at 2.05 s and lb2 answers
    /// from 2.5 s. Apps alternate.
    fn story() -> Vec<Request> {
        let app = |seq: u64| if seq % 2 == 1 { "app1" } else { "app2" };
        (1..=30)
            .map(|seq| {
                let sent = (seq - 1) * 100;
                match sent {
                    0..=900 => answered(seq, sent, "lb2", app(seq)),
                    1000..=1200 => failed(seq, sent),
                    1300..=2400 => answered(seq, sent, "lb1", app(seq)),
                    _ => answered(seq, sent, "lb2", app(seq)),
                }
            })
            .collect()
    }

    #[test]
    fn the_failover_outage_runs_from_the_last_answer_to_the_first_through_lb1() {
        let requests = story();
        let failover = switch(&requests, ms(950), "lb1");
        assert_eq!(failover.last_before.map(|r| r.seq), Some(10));
        assert_eq!(failover.first_after.map(|r| r.seq), Some(14));
        assert_eq!(failover.outage, Some((ms(902), ms(1302))));
        assert_eq!(failover.failed, 3);
    }

    #[test]
    fn a_failback_without_failures_is_an_outage_of_one_interval() {
        let requests = story();
        let failback = switch(&requests, ms(2050), "lb2");
        assert_eq!(failback.last_before.map(|r| r.seq), Some(21));
        assert_eq!(failback.first_after.map(|r| r.seq), Some(26));
        let (from, to) = failback.outage.expect("an outage");
        assert_eq!(to - from, ms(100));
        assert_eq!(failback.failed, 0);
    }

    #[test]
    fn no_answer_through_the_new_master_is_no_switch() {
        let requests: Vec<Request> = story().into_iter().take(12).collect();
        let failover = switch(&requests, ms(950), "lb1");
        assert_eq!(failover.first_after, None);
        assert_eq!(failover.outage, None);
        assert_eq!(failover.failed, 0);
        let summary = summary(&requests, ms(100), &failover, &failover);
        assert!(summary[1].contains("not seen"), "{summary:?}");
    }

    #[test]
    fn the_summary_counts_and_measures() {
        let requests = story();
        let failover = switch(&requests, ms(950), "lb1");
        let failback = switch(&requests, ms(2050), "lb2");
        let lines = summary(&requests, ms(100), &failover, &failback);
        assert_eq!(
            lines[0],
            "requests: 30 sent, 27 answered (lb1 12, lb2 15; app1 13, app2 14), 3 failed"
        );
        assert_eq!(
            lines[1],
            "failover to lb1: outage 400 ms (no answer between 0.902s and 1.302s), \
             3 requests failed"
        );
        assert!(
            lines[2].starts_with("back to lb2: outage 100 ms"),
            "{lines:?}"
        );
        assert!(lines[2].ends_with("0 requests failed"), "{lines:?}");
    }

    #[test]
    fn the_printer_shows_the_start_folds_runs_and_marks_the_switches() {
        let mut entries: Vec<Entry> = story().into_iter().map(Entry::Request).collect();
        entries.insert(
            10,
            Entry::Note {
                at: ms(950),
                text: "cutting lb2's cable".into(),
            },
        );
        let mut printer = Printer::default();
        let mut lines: Vec<String> = entries.iter().flat_map(|e| printer.lines(e)).collect();
        lines.extend(printer.fold());
        let text = lines.join("\n");
        assert_eq!(lines[0], "   0.000s  #1    lb2 -> app1  (2.0 ms)");
        assert_eq!(lines[9], "   0.900s  #10   lb2 -> app2  (2.0 ms)");
        assert_eq!(lines[10], "   0.950s  cutting lb2's cable");
        assert_eq!(
            lines[11],
            "   1.000s  #11   failed: no answer within 900 ms"
        );
        assert_eq!(
            lines[14],
            "   1.300s  #14   lb1 -> app2  (2.0 ms)   <- first answer through lb1, \
             400 ms after the last one through lb2"
        );
        assert_eq!(
            lines[17],
            "   1.600s  #17..#25  9 more answered by lb1 (app1 5, app2 4), the last sent at 2.400s"
        );
        assert!(
            lines[18].contains("#26   lb2 -> app2  (2.0 ms)   <- first answer through lb2, 100 ms"),
            "{text}"
        );
        assert_eq!(
            lines.last().map(String::as_str),
            Some(
                "   2.800s  #29..#30  2 more answered by lb2 (app1 1, app2 1), the last sent at 2.900s"
            )
        );
        assert_eq!(lines.len(), 22, "{text}");
    }

    #[test]
    fn a_printer_restarting_runs_at_notes_shows_the_requests_after_a_note() {
        let mut entries: Vec<Entry> = story().into_iter().take(22).map(Entry::Request).collect();
        entries.insert(
            17,
            Entry::Note {
                at: ms(1750),
                text: "stopping app2".into(),
            },
        );
        let lines_of = |mut printer: Printer| {
            let mut lines: Vec<String> = entries.iter().flat_map(|e| printer.lines(e)).collect();
            lines.extend(printer.fold());
            let note = lines
                .iter()
                .position(|line| line.ends_with("stopping app2"))
                .expect("the note");
            lines.split_off(note + 1)
        };
        let restarting = lines_of(Printer::restarting_runs_at_notes());
        assert!(
            restarting[0].contains("#18   lb1 -> app2"),
            "{restarting:#?}"
        );
        assert!(
            restarting[2].contains("#20   lb1 -> app2"),
            "{restarting:#?}"
        );
        assert!(
            restarting[3].contains("#21..#22  2 more"),
            "{restarting:#?}"
        );
        assert_eq!(restarting.len(), 4, "{restarting:#?}");
        let plain = lines_of(Printer::default());
        assert!(plain[0].contains("#18..#22  5 more"), "{plain:#?}");
        assert_eq!(plain.len(), 1, "{plain:#?}");
    }

    /// Two VIPs in turn: .100 through lb2 and .101 through lb1 are one run; .100 failing
    /// and then answered through lb1 start new runs, and "first answer through" compares
    /// with .100's own last answer only.
    #[test]
    fn a_per_vip_printer_follows_each_vip() {
        let to = |vip: &str, request: Request| Request {
            vip: vip.into(),
            ..request
        };
        let mut requests = Vec::new();
        for seq in 1..=24 {
            let sent = (seq - 1) * 50;
            let odd = seq % 2 == 1;
            requests.push(match (odd, sent) {
                (false, _) => to("10.0.3.101", answered(seq, sent, "lb1", "app1")),
                (true, 0..600) => answered(seq, sent, "lb2", "app1"),
                (true, 600..800) => failed(seq, sent),
                (true, _) => answered(seq, sent, "lb1", "app2"),
            });
        }
        let mut printer = Printer::per_vip();
        let mut lines: Vec<String> = requests
            .iter()
            .flat_map(|request| printer.lines(&Entry::Request(request.clone())))
            .collect();
        lines.extend(printer.fold());
        let text = lines.join("\n");
        assert_eq!(
            lines[0], "   0.000s  #1    10.0.3.100  lb2 -> app1  (2.0 ms)",
            "{text}"
        );
        assert_eq!(
            lines[1], "   0.050s  #2    10.0.3.101  lb1 -> app1  (2.0 ms)",
            "{text}"
        );
        assert_eq!(
            lines[10],
            "   0.500s  #11..#12  2 more: 10.0.3.100 by lb2, 10.0.3.101 by lb1 (app1 2), \
             the last sent at 0.550s",
            "{text}"
        );
        assert_eq!(
            lines[11],
            "   0.600s  #13   10.0.3.100  failed: no answer within 900 ms"
        );
        let first = lines
            .iter()
            .find(|line| line.contains("first answer through"))
            .expect("a switch");
        assert!(
            first.starts_with("   0.800s  #17   10.0.3.100  lb1 -> app2")
                && first.ends_with("300 ms after the last one through lb2"),
            "{text}"
        );
        assert_eq!(text.matches("first answer through").count(), 1, "{text}");
        assert!(
            lines
                .last()
                .is_some_and(|line| line
                    .contains("more: 10.0.3.100 by lb1, 10.0.3.101 by lb1 (app1 3, app2 2)")),
            "{text}"
        );
    }

    #[test]
    fn pending_entries_come_out_in_time_order() {
        let mut pending = Pending::default();
        let note = |at, text: &str| Entry::Note {
            at: ms(at),
            text: text.into(),
        };
        pending.push(note(600, "later"));
        pending.push(Entry::Request(answered(1, 500, "lb2", "app1")));
        pending.push(note(500, "same instant, pushed after"));
        let first = pending.take_until(ms(550));
        assert_eq!(first.len(), 2);
        assert!(matches!(first[0], Entry::Request(_)));
        assert_eq!(first[1], note(500, "same instant, pushed after"));
        assert_eq!(pending.take_all(), [note(600, "later")]);
        assert!(pending.take_all().is_empty());
    }

    #[test]
    fn replies_go_on_the_demo_clock_with_the_lb_named() {
        let reply = Reply {
            seq: 3,
            to: "10.0.3.101".into(),
            sent_us: 1_000_250_000,
            elapsed_us: 1_500,
            outcome: Outcome::Answered {
                app: "app2".into(),
                peer: "10.0.3.5".parse().expect("ip"),
            },
        };
        let request = Request::from_reply(&reply, 1_000_000_000, |peer| {
            if peer.to_string() == "10.0.3.5" {
                "lb1".into()
            } else {
                peer.to_string()
            }
        });
        assert_eq!(request.sent, ms(250));
        assert_eq!(request.done(), Duration::from_micros(251_500));
        assert_eq!(request.lb(), Some("lb1"));
        assert_eq!(request.vip, "10.0.3.101");
        // A reply from before the demo's start (a clock step) lands at zero, not in panic.
        let early = Request::from_reply(&reply, 2_000_000_000, |peer| peer.to_string());
        assert_eq!(early.sent, Duration::ZERO);
    }
}
