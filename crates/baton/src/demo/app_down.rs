//! What the client saw while one app was down (the L4 story's app2): the requests that
//! failed before the load balancer's checker took the app out, the ones the other app
//! answered meanwhile, and the first answer from the app once it was back.

use std::time::Duration;

use super::timeline::{Request, Served, plural, whole_millis};

/// When the demo stopped the app, when the checker was seen to have taken it out, when the
/// app was started again, and when the chapter ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Times {
    pub(crate) stopped: Duration,
    pub(crate) taken_out: Duration,
    pub(crate) started: Duration,
    pub(crate) ended: Duration,
}

/// See the module doc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppDown<'a> {
    /// Requests sent between the stop and the end of the chapter that got no answer.
    pub(crate) failed: usize,
    /// Requests sent between the stop and the start that another app answered.
    pub(crate) others: usize,
    /// The first request sent after the start that the app answered.
    pub(crate) back: Option<&'a Request>,
}

/// See [`AppDown`].
pub(crate) fn app_down<'a>(requests: &'a [Request], app: &str, times: &Times) -> AppDown<'a> {
    let sent_in = |from: Duration, to: Duration| {
        requests
            .iter()
            .filter(move |request| request.sent >= from && request.sent < to)
    };
    let answered_by = |request: &Request| match &request.served {
        Served::By { app, .. } => Some(app.clone()),
        Served::Failed { .. } => None,
    };
    AppDown {
        failed: sent_in(times.stopped, times.ended)
            .filter(|request| request.lb().is_none())
            .count(),
        others: sent_in(times.stopped, times.started)
            .filter(|request| answered_by(request).is_some_and(|by| by != app))
            .count(),
        back: sent_in(times.started, times.ended)
            .filter(|request| answered_by(request).is_some_and(|by| by == app))
            .min_by_key(|request| request.sent),
    }
}

/// The summary's line: `app2 stopped: ...`.
pub(crate) fn summary_line(app: &str, lb: &str, down: &AppDown<'_>, times: &Times) -> String {
    let back = match down.back {
        Some(request) => format!(
            "{app} answered again {} after it was started",
            whole_millis(request.done().saturating_sub(times.started))
        ),
        None => format!("{app} did not answer again"),
    };
    format!(
        "{app} stopped: {} failed; {lb}'s checker took it out within {} (as baton status \
         showed); the other app answered {} meanwhile; {back}",
        plural(down.failed, "request"),
        whole_millis(times.taken_out.saturating_sub(times.stopped)),
        plural(down.others, "request"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn request(seq: u64, served: Option<&str>) -> Request {
        Request {
            seq,
            vip: "10.0.3.100".into(),
            sent: ms(seq * 100),
            elapsed: ms(1),
            served: match served {
                Some(app) => Served::By {
                    lb: "lb2".into(),
                    app: app.into(),
                },
                None => Served::Failed {
                    error: "connect: Connection refused (os error 111)".into(),
                },
            },
        }
    }

    /// A request every 100 ms through lb2: app2 stops at 1.05 s, one request to it fails,
    /// app1 answers the rest until app2 starts at 2.05 s, then they alternate again.
    fn story() -> Vec<Request> {
        (1..=30)
            .map(|seq| match seq {
                12 => request(seq, None),
                11..=21 => request(seq, Some("app1")),
                _ if seq % 2 == 0 => request(seq, Some("app2")),
                _ => request(seq, Some("app1")),
            })
            .collect()
    }

    const TIMES: Times = Times {
        stopped: Duration::from_millis(1050),
        taken_out: Duration::from_millis(1230),
        started: Duration::from_millis(2050),
        ended: Duration::from_millis(3050),
    };

    #[test]
    fn failures_answers_by_the_other_app_and_the_first_answer_back_are_counted() {
        let requests = story();
        let down = app_down(&requests, "app2", &TIMES);
        assert_eq!(down.failed, 1);
        assert_eq!(down.others, 9);
        assert_eq!(down.back.map(|request| request.seq), Some(22));
        assert_eq!(
            summary_line("app2", "lb2", &down, &TIMES),
            "app2 stopped: 1 request failed; lb2's checker took it out within 180 ms (as \
             baton status showed); the other app answered 9 requests meanwhile; app2 \
             answered again 151 ms after it was started"
        );
    }

    #[test]
    fn an_app_that_never_comes_back_is_said_so() {
        let requests: Vec<Request> = story().into_iter().take(20).collect();
        let down = app_down(&requests, "app2", &TIMES);
        assert_eq!(down.back, None);
        let line = summary_line("app2", "lb2", &down, &TIMES);
        assert!(line.ends_with("app2 did not answer again"), "{line}");
    }
}
