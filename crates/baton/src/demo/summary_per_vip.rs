//! The active-active story's closing lines: the requests to each VIP, the first VIP's
//! failover to lb1 and way back to lb2, and how the other VIPs fared meanwhile (their
//! master never changed, so none of their requests should have failed).

use std::time::Duration;

use super::timeline::{Request, counts, plural, switch, switch_line, whole_millis};

/// The summary of a story whose client sent to `vips` in turn, one request every
/// `interval`, and whose first VIP moved to lb1 at `cut` and back to lb2 at `restore`.
pub(crate) fn summary(
    requests: &[Request],
    vips: &[&str],
    interval: Duration,
    (cut, restore): (Duration, Duration),
) -> Vec<String> {
    let to = |vip: &str| -> Vec<Request> {
        requests
            .iter()
            .filter(|request| request.vip == vip)
            .cloned()
            .collect()
    };
    let mut lines: Vec<String> = vips
        .iter()
        .map(|vip| format!("requests to {vip}: {}", counts(to(vip).iter())))
        .collect();
    if let Some((moving, staying)) = vips.split_first() {
        let to_moving = to(moving);
        let failover = switch(&to_moving, cut, "lb1");
        let failback = switch(&to_moving, restore, "lb2");
        lines.push(switch_line(&format!("{moving} failover to lb1"), &failover));
        lines.push(switch_line(&format!("{moving} back to lb2"), &failback));
        for vip in staying {
            lines.push(unmoved_line(vip, &to(vip), cut));
        }
    }
    let per_vip = interval * u32::try_from(vips.len()).unwrap_or(1);
    lines.push(format!(
        "(a request goes out every {}, to each VIP in turn: to each every {}; outages are \
         measured to that step)",
        whole_millis(interval),
        whole_millis(per_vip)
    ));
    lines
}

/// `10.0.3.101 from the cut on: 40 requests, 0 failed; longest time without an answer
/// 104 ms`: the requests to `vip` (all in `to_vip`) sent from `since` on.
fn unmoved_line(vip: &str, to_vip: &[Request], since: Duration) -> String {
    let after = to_vip.iter().filter(|request| request.sent >= since);
    let failed = after
        .clone()
        .filter(|request| request.lb().is_none())
        .count();
    let mut answers: Vec<Duration> = to_vip
        .iter()
        .filter(|request| request.lb().is_some())
        .map(Request::done)
        .collect();
    answers.sort();
    // From the last answer before `since`: the wait the client was in when it came.
    let first = answers
        .iter()
        .rposition(|done| *done <= since)
        .unwrap_or_default();
    let longest = answers[first..]
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .max()
        .map_or_else(|| "not measured".to_owned(), whole_millis);
    format!(
        "{vip} from the cut on: {}, {} failed; longest time without an answer {longest}",
        plural(after.count(), "request"),
        failed
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::timeline::Served;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A request every 50 ms, in turn to .100 (odd) and .101 (even): lb2 answers .100 and
    /// lb1 .101; the cable is cut at 1.0 s, .100's requests fail until 1.4 s and lb1 answers
    /// them from then on; the cable is back at 2.0 s and lb2 answers .100 from 2.2 s.
    fn story() -> Vec<Request> {
        (1..=60)
            .map(|seq: u64| {
                let sent = (seq - 1) * 50;
                let vip = if seq % 2 == 1 {
                    "10.0.3.100"
                } else {
                    "10.0.3.101"
                };
                let served = match (vip, sent) {
                    ("10.0.3.101", _) => Some("lb1"),
                    (_, 0..1000) | (_, 2200..) => Some("lb2"),
                    (_, 1000..1400) => None,
                    _ => Some("lb1"),
                };
                Request {
                    seq,
                    vip: vip.into(),
                    sent: ms(sent),
                    elapsed: ms(2),
                    served: match served {
                        Some(lb) => Served::By {
                            lb: lb.into(),
                            app: if seq % 4 < 2 { "app1" } else { "app2" }.into(),
                        },
                        None => Served::Failed {
                            error: "no answer within 900 ms".into(),
                        },
                    },
                }
            })
            .collect()
    }

    #[test]
    fn each_vip_is_counted_and_only_the_first_moves() {
        let lines = summary(
            &story(),
            &["10.0.3.100", "10.0.3.101"],
            ms(50),
            (ms(1000), ms(2000)),
        );
        assert_eq!(
            lines[0],
            "requests to 10.0.3.100: 30 sent, 26 answered (lb1 8, lb2 18; app1 13, app2 13), \
             4 failed"
        );
        assert!(lines[1].starts_with("requests to 10.0.3.101: 30 sent, 30 answered (lb1 30;"));
        assert!(lines[1].ends_with(", 0 failed"), "{lines:?}");
        assert_eq!(
            lines[2],
            "10.0.3.100 failover to lb1: outage 500 ms (no answer between 0.902s and \
             1.402s), 4 requests failed"
        );
        assert!(lines[3].starts_with("10.0.3.100 back to lb2: outage 100 ms"));
        assert_eq!(
            lines[4],
            "10.0.3.101 from the cut on: 20 requests, 0 failed; longest time without an \
             answer 100 ms"
        );
        assert!(lines[5].contains("every 50 ms, to each VIP in turn: to each every 100 ms"));
        assert_eq!(lines.len(), 6);
    }
}
