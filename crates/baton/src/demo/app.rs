//! `baton demo-app`: the demo's application server, run inside app1 and app2.
//!
//! It answers every request with its name and the address the connection came from. The
//! load balancers connect from their own addresses (10.0.3.5, 10.0.3.6), so the answer
//! tells the client which load balancer proxied the request as well as which app served it,
//! with nothing added to the proxy for the demo's sake.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// The body of every answer: `"app1 10.0.3.5\n"`.
pub(crate) fn answer_body(name: &str, peer: IpAddr) -> String {
    format!("{name} {peer}\n")
}

/// The app's name and the peer address from an [`answer_body`].
pub(crate) fn parse_answer(body: &str) -> Option<(String, IpAddr)> {
    let mut words = body.split_whitespace();
    let name = words.next()?.to_owned();
    let peer = words.next()?.parse().ok()?;
    words.next().is_none().then_some((name, peer))
}

/// Serves HTTP/1.1 on `listen` until the process is killed (the demo stops it with
/// SIGTERM, whose default action is all it needs).
pub(crate) fn serve(listen: SocketAddr, name: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|error| anyhow::anyhow!("listening on {listen}: {error}"))?;
        eprintln!("{name}: serving HTTP on {listen}");
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: the next accept may work.
                Err(error) => {
                    eprintln!("{name}: accept: {error}");
                    continue;
                }
            };
            let body = Bytes::from(answer_body(name, peer.ip()));
            tokio::spawn(async move {
                let service = service_fn(move |_: Request<hyper::body::Incoming>| {
                    let body = body.clone();
                    async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
                });
                // A reset or half-sent request only ends this connection.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_names_the_app_and_the_peer() {
        let peer: IpAddr = "10.0.3.5".parse().expect("ip");
        let body = answer_body("app1", peer);
        assert_eq!(body, "app1 10.0.3.5\n");
        assert_eq!(parse_answer(&body), Some(("app1".to_owned(), peer)));
        assert_eq!(parse_answer("app1"), None);
        assert_eq!(parse_answer("app1 not-an-address"), None);
        assert_eq!(parse_answer("app1 10.0.3.5 extra"), None);
    }
}
