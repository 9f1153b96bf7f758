//! SSL_GET's TLS client.
//!
//! keepalived's SSL_GET does not verify the server's certificate: its OpenSSL context never
//! asks for peer verification, so self-signed and expired certificates pass, and so do
//! certificates for other names. Real servers behind a load balancer commonly have such
//! certificates (the public one lives on the virtual server), and the check asks "does this
//! server answer HTTPS", not "is this the server it claims to be": a check that failed on
//! certificates would take healthy servers out. So this client accepts any certificate,
//! keeping only the handshake's signature checks, which prove that the server holds the key
//! of the certificate it sent. keepalived's `SSL { ca }` does not change this (see
//! [`TlsClient`]); `SSL { certificate key }` is sent to servers that ask for a client
//! certificate.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{ClientConfig, DigitallySignedStruct, InconsistentKeys, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::tls_client::{TlsClient, TlsClientError};
use crate::outcome::Failure;

/// Shakes hands on `stream` with `config` (from [`client_config`]). `sni` is sent when it
/// is a DNS name; otherwise no SNI goes out (rustls sends none for an IP address).
pub(super) async fn connect(
    config: Arc<ClientConfig>,
    stream: TcpStream,
    sni: Option<&str>,
    ip: IpAddr,
) -> Result<TlsStream<TcpStream>, Failure> {
    let name = sni
        .and_then(|host| ServerName::try_from(host.to_owned()).ok())
        .unwrap_or(ServerName::IpAddress(ip.into()));
    TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(Failure::Tls)
}

/// The configuration for a check: one shared by all checks without a client certificate,
/// else one built from the client's files as they are now.
pub(super) fn client_config(
    client: Option<&TlsClient>,
) -> Result<Arc<ClientConfig>, TlsClientError> {
    static ANONYMOUS: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    let Some(client) = client else {
        return Ok(Arc::clone(
            ANONYMOUS.get_or_init(|| Arc::new(builder().with_no_client_auth())),
        ));
    };
    let (chain, key) = client.load()?;
    let config = builder()
        .with_client_auth_cert(chain, key)
        .map_err(|source| {
            let (certificate, key) = (client.certificate.clone(), client.key.clone());
            match source {
                rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => {
                    TlsClientError::KeyMismatch { certificate, key }
                }
                source => TlsClientError::Key {
                    certificate,
                    key,
                    source,
                },
            }
        })?;
    Ok(Arc::new(config))
}

/// A client configuration that accepts any server certificate, short of who it presents.
fn builder() -> rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    let provider =
        Arc::clone(PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())));
    let verifier = AnyCertificate(provider.signature_verification_algorithms);
    ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        // Only fails for a provider without cipher suites for TLS 1.2 and 1.3; ring's
        // default provider has both.
        .expect("ring supports TLS 1.2 and 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
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
