use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use baton_health::{Failure, ProbeKind, TlsClient, Url};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
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

/// A test PKI: a root, an intermediate it signed, a client certificate the intermediate
/// signed, and another root that signed nothing here. All written as PEM files.
struct Pki {
    dir: tempfile::TempDir,
    root: rustls_pki_types::CertificateDer<'static>,
}

impl Pki {
    fn new() -> Pki {
        let root =
            CertifiedIssuer::self_signed(ca_params("test root"), KeyPair::generate().unwrap())
                .unwrap();
        let intermediate = CertifiedIssuer::signed_by(
            ca_params("test intermediate"),
            KeyPair::generate().unwrap(),
            &root,
        )
        .unwrap();
        let other =
            CertifiedIssuer::self_signed(ca_params("other root"), KeyPair::generate().unwrap())
                .unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "checker");
        let client = params.signed_by(&client_key, &intermediate).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, pem: String| std::fs::write(dir.path().join(name), pem).unwrap();
        write("client.pem", client.pem());
        write(
            "client+intermediate.pem",
            client.pem() + &intermediate.pem(),
        );
        write("client.key", client_key.serialize_pem());
        write("ca.pem", root.pem() + &intermediate.pem());
        write("other-ca.pem", other.pem());
        write("other.key", KeyPair::generate().unwrap().serialize_pem());
        Pki {
            root: root.der().clone(),
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn client(&self, certificate: &str, key: &str, ca: Option<&str>) -> TlsClient {
        TlsClient {
            certificate: self.path(certificate),
            key: self.path(key),
            ca: ca.map(|ca| self.path(ca)),
        }
    }
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
}

/// An HTTPS server with a self-signed certificate that answers only clients with a
/// certificate that chains to `root`.
async fn mutual_tls_server(root: rustls_pki_types::CertificateDer<'static>) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root).expect("root");
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .expect("verifier");
    let generated =
        rcgen::generate_simple_self_signed(vec!["real-server.invalid".to_owned()]).expect("cert");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![generated.cert.der().clone()], key)
        .expect("certificate");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let (listener, address) = listener().await;
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.expect("accept");
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(stream) = acceptor.accept(stream).await {
                    answer_one(stream, hello).await;
                }
            });
        }
    });
    address
}

fn ssl_get_as(client: Option<TlsClient>) -> ProbeKind {
    let mut kind = ssl_get(Url::new("/"), None, false);
    if let ProbeKind::Http(check) = &mut kind {
        check.tls_client = client;
    }
    kind
}

/// Whether the server refused the client's certificate with `alert`. In TLS 1.3 the
/// client's handshake is over before the server has looked at its certificate: the alert
/// comes on the first read.
fn refused(failure: &Failure, alert: &str) -> bool {
    matches!(failure, Failure::Url { failure, .. }
        if matches!(**failure, Failure::Tls(_) | Failure::Io(_)))
        && failure
            .to_string()
            .ends_with(&format!("received fatal alert: {alert}"))
}

#[tokio::test]
async fn ssl_get_presents_the_client_certificate() {
    let pki = Pki::new();
    let server = mutual_tls_server(pki.root.clone()).await;
    let with_chain = pki.client("client+intermediate.pem", "client.key", None);
    with_chain.check().unwrap();
    passes(&probe_of(ssl_get_as(Some(with_chain)), server)).await;

    let failure = fails(&probe_of(ssl_get_as(None), server)).await;
    assert!(refused(&failure, "CertificateRequired"), "{failure}");
}

/// keepalived's `ca` does not make SSL_GET verify the server; OpenSSL only uses it to send
/// the client certificate's chain when the certificate file has none.
#[tokio::test]
async fn the_ca_completes_the_client_chain_and_does_not_check_the_server() {
    let pki = Pki::new();
    let server = mutual_tls_server(pki.root.clone()).await;

    // The server trusts the root only: the client certificate alone does not chain to it.
    let alone = pki.client("client.pem", "client.key", None);
    let failure = fails(&probe_of(ssl_get_as(Some(alone)), server)).await;
    assert!(refused(&failure, "UnknownCA"), "{failure}");

    // With the CA file, the intermediate (and the root) go with it. The server's
    // self-signed certificate is not signed by anything in the CA file, and still passes.
    let completed = pki.client("client.pem", "client.key", Some("ca.pem"));
    passes(&probe_of(ssl_get_as(Some(completed)), server)).await;

    // A CA file with nothing to do with either side changes nothing.
    let unrelated = pki.client(
        "client+intermediate.pem",
        "client.key",
        Some("other-ca.pem"),
    );
    passes(&probe_of(ssl_get_as(Some(unrelated)), server)).await;
}

#[tokio::test]
async fn unusable_client_files_fail_the_probe_naming_the_file() {
    let pki = Pki::new();
    let server = mutual_tls_server(pki.root.clone()).await;
    let cases = [
        (pki.client("missing.pem", "client.key", None), "missing.pem"),
        (
            pki.client("client.pem", "client.key", Some("missing-ca.pem")),
            "missing-ca.pem",
        ),
        (
            pki.client("client.pem", "client.pem", None),
            "client.pem: no PEM private key",
        ),
        (
            pki.client("client.pem", "other.key", None),
            "other.key is not the private key of",
        ),
    ];
    for (client, expected) in cases {
        let error = client.check().unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
        let failure = fails(&probe_of(ssl_get_as(Some(client)), server)).await;
        assert!(matches!(failure, Failure::TlsClient(_)), "{failure}");
        assert!(
            failure
                .to_string()
                .starts_with("cannot use the SSL block's files: "),
            "{failure}"
        );
    }
}

#[tokio::test]
async fn the_files_are_read_again_at_each_probe() {
    let pki = Pki::new();
    let server = mutual_tls_server(pki.root.clone()).await;
    let target = probe_of(
        ssl_get_as(Some(pki.client("renewed.pem", "client.key", None))),
        server,
    );
    let failure = fails(&target).await;
    assert!(failure.to_string().contains("renewed.pem"), "{failure}");
    std::fs::copy(pki.path("client+intermediate.pem"), pki.path("renewed.pem")).unwrap();
    passes(&target).await;
}
