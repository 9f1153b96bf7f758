//! `baton demo-client`: the demo's client, run inside the client's namespace.
//!
//! One GET per interval (to each of its URLs in turn), each on a new connection (so every request goes wherever the
//! virtual address points at that moment, as a browser's new visitor would), each with
//! its own timeout so that a lost request does not hold up the ones after it. Every result
//! is a [`Reply`] line on stdout. It stops sending when stdin closes, which is how the
//! demo ends it and why it cannot outlive the demo, and exits once the requests in
//! flight have finished.

use std::io::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::app::parse_answer;
use super::reply::{Outcome, Reply};

/// Where the requests go, from `http://HOST[:PORT]/PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
    /// The Host header.
    authority: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> anyhow::Result<Target> {
        let uri: Uri = url.parse().with_context(|| format!("--url {url}"))?;
        anyhow::ensure!(
            uri.scheme_str() == Some("http"),
            "--url {url}: only http:// is supported"
        );
        let authority = uri
            .authority()
            .with_context(|| format!("--url {url}: no host"))?;
        Ok(Target {
            host: authority.host().trim_matches(['[', ']']).to_owned(),
            port: authority.port_u16().unwrap_or(80),
            authority: authority.as_str().to_owned(),
            path: uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        })
    }
}

/// Runs the client until stdin closes: request 1 goes to the first of `urls`, request 2
/// to the second, and so on round.
pub(crate) fn run(urls: &[String], interval: Duration, timeout: Duration) -> anyhow::Result<()> {
    let targets = urls
        .iter()
        .map(|url| Target::parse(url).map(Arc::new))
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(!targets.is_empty(), "no --url");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let (results, mut to_print) = mpsc::unbounded_channel::<Reply>();
        let printer = tokio::spawn(async move {
            while let Some(reply) = to_print.recv().await {
                // Flushed line by line: the demo reads them as they come. A write error
                // means the demo is gone; stdin tells the loop below the same.
                let mut stdout = std::io::stdout().lock();
                if writeln!(stdout, "{}", reply.to_line())
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    return;
                }
            }
        });
        let mut stdin_closed = stdin_closed();
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut in_flight = JoinSet::new();
        for (seq, target) in (1..).zip(targets.iter().cycle()) {
            tokio::select! {
                _ = &mut stdin_closed => break,
                _ = ticks.tick() => {
                    let (target, results) = (Arc::clone(target), results.clone());
                    in_flight.spawn(async move {
                        // The receiver lives until every sender is gone.
                        let _ = results.send(request(seq, &target, timeout).await);
                    });
                }
            }
            // Reap finished requests so the set does not grow for the whole run.
            while in_flight.try_join_next().is_some() {}
        }
        while in_flight.join_next().await.is_some() {}
        drop(results);
        let _ = printer.await;
    });
    Ok(())
}

/// Resolves when stdin reaches its end (or fails). A plain thread does the blocking read,
/// so tokio's stdin support (and its feature) is not needed for this one wait.
fn stdin_closed() -> tokio::sync::oneshot::Receiver<()> {
    let (closed, receiver) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = closed.send(());
    });
    receiver
}

/// One GET, timed; never longer than `timeout`.
async fn request(seq: u64, target: &Target, timeout: Duration) -> Reply {
    let sent = SystemTime::now();
    let started = Instant::now();
    let outcome = match tokio::time::timeout(timeout, get(target)).await {
        Ok(Ok((app, peer))) => Outcome::Answered { app, peer },
        Ok(Err(error)) => Outcome::Failed {
            error: format!("{error:#}"),
        },
        Err(_) => Outcome::Failed {
            error: format!("no answer within {} ms", timeout.as_millis()),
        },
    };
    Reply {
        seq,
        to: target.host.clone(),
        sent_us: micros(sent.duration_since(UNIX_EPOCH).unwrap_or_default()),
        elapsed_us: micros(started.elapsed()),
        outcome,
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// GET on a new connection, closed after the answer: the app's name and the address its
/// connection came from.
async fn get(target: &Target) -> anyhow::Result<(String, IpAddr)> {
    let stream = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
        .await
        .context("connect")?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
            .await
            .context("handshake")?;
    let request = Request::get(target.path.as_str())
        .header(hyper::header::HOST, target.authority.as_str())
        .header(hyper::header::CONNECTION, "close")
        .body(Empty::new())
        .context("building the request")?;
    let exchange = async move {
        let response = sender.send_request(request).await.context("request")?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .context("reading the answer")?
            .to_bytes();
        anyhow::ensure!(status == StatusCode::OK, "status {status}");
        let text = String::from_utf8_lossy(&body);
        parse_answer(&text).with_context(|| format!("unexpected answer {text:?}"))
    };
    // The connection future moves the bytes; with `Connection: close` it ends right after
    // the answer, and an error there also fails the exchange, which is what we report.
    let (answer, _) = tokio::join!(exchange, connection);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_become_targets() {
        assert_eq!(
            Target::parse("http://10.0.3.100/").expect("valid"),
            Target {
                host: "10.0.3.100".into(),
                port: 80,
                authority: "10.0.3.100".into(),
                path: "/".into(),
            }
        );
        let with_port = Target::parse("http://[::1]:8080/x?y=1").expect("valid");
        assert_eq!((with_port.host.as_str(), with_port.port), ("::1", 8080));
        assert_eq!(with_port.path, "/x?y=1");
        assert!(Target::parse("https://10.0.3.100/").is_err());
        assert!(Target::parse("/just/a/path").is_err());
    }

    /// Against a `demo-app` on loopback: the answer names the app and 127.0.0.1.
    #[test]
    fn a_request_to_the_demo_app_is_answered() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        drop(listener);
        std::thread::spawn(move || super::super::app::serve(address, "app9"));
        let target = Target::parse(&format!("http://{address}/")).expect("url");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let reply = runtime.block_on(async {
            for _ in 0..100 {
                let reply = request(1, &target, Duration::from_secs(2)).await;
                if matches!(reply.outcome, Outcome::Answered { .. }) {
                    return reply;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("demo-app on {address} never answered");
        });
        assert_eq!(
            reply.outcome,
            Outcome::Answered {
                app: "app9".into(),
                peer: "127.0.0.1".parse().expect("ip"),
            }
        );
        assert_eq!(reply.seq, 1);
    }
}
