//! SSL_GET's TLS client.
//!
//! keepalived's SSL_GET does not verify the server's certificate: its OpenSSL context never
//! asks for peer verification, so self-signed and expired certificates pass, and so do
//! certificates for other names. Real servers behind a load balancer commonly have such
//! certificates (the public one lives on the virtual server), and the check asks "does this
//! server answer HTTPS", not "is this the server it claims to be": a check that failed on
//! certificates would take healthy servers out. So this client accepts any certificate,
//! keeping only the handshake's signature checks, which prove that the server holds the key
//! of the certificate it sent.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::outcome::Failure;

/// Shakes hands on `stream`. `sni` is sent when it is a DNS name; otherwise no SNI goes
/// out (rustls sends none for an IP address).
pub(super) async fn connect(
    stream: TcpStream,
    sni: Option<&str>,
    ip: IpAddr,
) -> Result<TlsStream<TcpStream>, Failure> {
    let name = sni
        .and_then(|host| ServerName::try_from(host.to_owned()).ok())
        .unwrap_or(ServerName::IpAddress(ip.into()));
    TlsConnector::from(config())
        .connect(name, stream)
        .await
        .map_err(Failure::Tls)
}

/// One client configuration for all checks.
fn config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = AnyCertificate(provider.signature_verification_algorithms);
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            // Only fails for a provider without cipher suites for TLS 1.2 and 1.3; ring's
            // default provider has both.
            .expect("ring supports TLS 1.2 and 1.3")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Arc::new(config)
    }))
}

/// Accepts any certificate (see the module's doc), but checks handshake signatures.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
