//! Certificates made for the test (a CA and server certificates signed by it, written as PEM
//! files to a temporary directory) and a TLS client.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use baton_proxy::TlsConfig;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// ALPN ids a client may offer.
pub const H2: &[u8] = b"h2";
pub const HTTP11: &[u8] = b"http/1.1";

/// A test CA and the server certificates it issued, as files.
pub struct Pki {
    dir: tempfile::TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
    /// Each issued certificate's (chain file, key file), in order of issue.
    pub pairs: Vec<(PathBuf, PathBuf)>,
    /// Each issued certificate, in order of issue.
    pub certs: Vec<CertificateDer<'static>>,
}

impl Pki {
    pub fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca =
            CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA");
        Pki {
            dir: tempfile::tempdir().expect("temp dir"),
            ca,
            pairs: Vec::new(),
            certs: Vec::new(),
        }
    }

    /// Issues a certificate for the DNS `names` and writes its chain and key files.
    pub fn issue(&mut self, names: &[&str]) -> usize {
        let index = self.certs.len();
        let key = KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|&n| n.to_owned()).collect();
        let cert = CertificateParams::new(names)
            .expect("params")
            .signed_by(&key, &self.ca)
            .expect("certificate");
        let chain = self.dir.path().join(format!("{index}.crt"));
        let key_file = self.dir.path().join(format!("{index}.key"));
        std::fs::write(&chain, format!("{}{}", cert.pem(), self.ca.pem())).expect("write");
        std::fs::write(&key_file, key.serialize_pem()).expect("write");
        self.pairs.push((chain, key_file));
        self.certs.push(cert.der().clone());
        index
    }

    /// The proxy's TLS settings for every issued certificate, the first being the default.
    pub fn tls_config(&self) -> TlsConfig {
        TlsConfig::from_pem_files(&self.pairs).expect("TLS config")
    }

    /// A client that trusts this CA and offers `alpn`. With `sni` false it sends no server
    /// name. The chain is verified; whether the certificate fits the name is left to the test
    /// (see [`peer_certificate`]), so that a mismatch can be looked at rather than refused.
    pub fn client(&self, alpn: &[&[u8]], sni: bool) -> TlsConnector {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.der().clone()).expect("root");
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .expect("verifier");
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyName(verifier)))
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        config.enable_sni = sni;
        TlsConnector::from(Arc::new(config))
    }
}

/// Connects to `addr` and shakes hands, sending `name` as SNI if the client does.
pub async fn connect(client: &TlsConnector, addr: SocketAddr, name: &str) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from(name.to_owned()).expect("server name");
    client.connect(name, tcp).await.expect("TLS handshake")
}

/// The certificate the server presented.
pub fn peer_certificate(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    let (_, connection) = stream.get_ref();
    let chain = connection.peer_certificates().expect("server certificates");
    chain[0].clone().into_owned()
}

/// The ALPN protocol the handshake settled on.
pub fn alpn(stream: &TlsStream<TcpStream>) -> Option<Vec<u8>> {
    stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec)
}

/// True if `cert`'s subject alternative names cover `name` (rustls's own check).
pub fn valid_for(cert: &CertificateDer<'_>, name: &str) -> bool {
    let parsed = rustls::server::ParsedCertificate::try_from(cert).expect("parse certificate");
    let name = ServerName::try_from(name.to_owned()).expect("server name");
    rustls::client::verify_server_name(&parsed, &name).is_ok()
}

/// Verifies the chain against the test CA like any client, except that a certificate for
/// another name passes.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
