use std::net::SocketAddr;
use std::sync::Arc;

use baton_health::{Failure, ProbeKind, Url};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use crate::http::{HELLO_MD5, answer_one, http};
use crate::support::{fails, listener, passes, probe_of};

fn hello(_path: &str) -> Vec<u8> {
    b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec()
}

/// An HTTPS server with a self-signed certificate for another name than any the tests
/// send; each connection's SNI (None without) comes out of the receiver.
async fn https_server() -> (SocketAddr, mpsc::UnboundedReceiver<Option<String>>) {
    let generated =
        rcgen::generate_simple_self_signed(vec!["real-server.invalid".to_owned()]).expect("cert");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![generated.cert.der().clone()], key)
    .expect("certificate");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let (listener, address) = listener().await;
    let (names, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.expect("accept");
            let acceptor = acceptor.clone();
            let names = names.clone();
            tokio::spawn(async move {
                // A plain-HTTP client fails the handshake; nothing to answer then.
                let Ok(stream) = acceptor.accept(stream).await else {
                    return;
                };
                let _ = names.send(stream.get_ref().1.server_name().map(str::to_owned));
                answer_one(stream, hello).await;
            });
        }
    });
    (address, received)
}

fn ssl_get(url: Url, host: Option<&str>, sni: bool) -> ProbeKind {
    let mut kind = http(vec![url]);
    if let ProbeKind::Http(check) = &mut kind {
        check.tls = true;
        check.host = host.map(str::to_owned);
        check.sni = sni;
    }
    kind
}

#[tokio::test]
async fn ssl_get_accepts_a_self_signed_certificate_for_another_name() {
    let (address, mut names) = https_server().await;
    let mut url = Url::new("/");
    url.digest = Some(HELLO_MD5.into());
    passes(&probe_of(ssl_get(url, Some("app.example"), false), address)).await;
    assert_eq!(
        names.recv().await.unwrap(),
        None,
        "no SNI without enable_sni"
    );
}

#[tokio::test]
async fn enable_sni_sends_the_virtualhost() {
    let (address, mut names) = https_server().await;
    passes(&probe_of(
        ssl_get(Url::new("/"), Some("app.example"), true),
        address,
    ))
    .await;
    assert_eq!(names.recv().await.unwrap().as_deref(), Some("app.example"));

    // An address is not a name: no SNI.
    passes(&probe_of(ssl_get(Url::new("/"), None, true), address)).await;
    assert_eq!(names.recv().await.unwrap(), None);
}

#[tokio::test]
async fn tls_and_plain_http_do_not_mix() {
    let (https, _names) = https_server().await;
    let failure = fails(&probe_of(http(vec![Url::new("/")]), https)).await;
    assert!(failure.to_string().starts_with("/: "), "{failure}");

    // A plain HTTP server answers the ClientHello with a 400 and closes.
    let (listener, plain) = listener().await;
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let _ = stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
            .await;
    });
    let failure = fails(&probe_of(ssl_get(Url::new("/"), None, false), plain)).await;
    assert!(
        matches!(&failure, Failure::Url { failure, .. } if matches!(**failure, Failure::Tls(_))),
        "{failure}"
    );
}
