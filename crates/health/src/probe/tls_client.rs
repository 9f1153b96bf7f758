//! SSL_GET's client certificate: keepalived's top-level `SSL { certificate key ca }`.
//!
//! keepalived 2.2.7 (`check_ssl.c`, `build_ssl_ctx`) loads, once at start, `certificate`
//! with `SSL_CTX_use_certificate_chain_file`, `key` with `SSL_CTX_use_PrivateKey_file`
//! (decrypted with `password`) and `ca` with `SSL_CTX_load_verify_locations`, and exits
//! when one does not load (`check_daemon.c`: `init_ssl_ctx` failing is fatal). It never asks for the server's certificate to be
//! verified: there is no `SSL_CTX_set_verify` (OpenSSL's default is `SSL_VERIFY_NONE`) and
//! nothing looks at `SSL_get_verify_result`. So `ca` does not make SSL_GET check the
//! server. What OpenSSL does with those trusted certificates on a client is complete the
//! chain it sends: when the certificate file holds the client certificate alone, it sends
//! the chain it builds from the CA file, up to and including the root ("auto-chaining",
//! `ssl_add_cert_chain`). [`TlsClient::ca`] does exactly that, and nothing else.
//!
//! The files are read at each probe, so that renewed certificates are picked up without a
//! reload; [`TlsClient::check`] loads them once, for a daemon that wants to refuse a bad
//! configuration at start as keepalived does.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::{self, PemObject as _};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::cert_chain;
pub use crate::tls_error::TlsClientError;

/// The client side of SSL_GET: keepalived's `SSL { certificate key ca }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsClient {
    /// `certificate`: PEM, the client certificate first, then any chain to send with it.
    pub certificate: PathBuf,
    /// `key`: the client certificate's PEM private key (PKCS#8, PKCS#1 or SEC1), not
    /// encrypted. May be the same file as `certificate`.
    pub key: PathBuf,
    /// `ca`: PEM certificates. Not used to verify the server (keepalived does not, see the
    /// module's doc); when `certificate` holds one certificate, its issuers found here are
    /// sent after it, as OpenSSL does.
    pub ca: Option<PathBuf>,
}

impl TlsClient {
    /// Loads the files and checks that the key is the certificate's, as keepalived does
    /// when it loads its configuration. Probes load them again each time.
    pub fn check(&self) -> Result<(), TlsClientError> {
        super::tls::client_config(Some(self)).map(drop)
    }

    /// The chain to send and its key.
    pub(super) fn load(
        &self,
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsClientError> {
        let chain = certificates(&self.certificate)?;
        let key = private_key(&self.key)?;
        let chain = match &self.ca {
            Some(ca) => cert_chain::complete(chain, &certificates(ca)?),
            None => chain,
        };
        Ok((chain, key))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsClientError> {
    std::fs::read(path).map_err(|source| TlsClientError::Read {
        path: path.to_owned(),
        source,
    })
}

fn bad_pem(path: &Path) -> impl FnOnce(pem::Error) -> TlsClientError {
    move |source| TlsClientError::Pem {
        path: path.to_owned(),
        source,
    }
}

/// Every certificate in a PEM file, in order; at least one.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsClientError> {
    let pem = read(path)?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad_pem(path))?;
    if certificates.is_empty() {
        return Err(TlsClientError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certificates)
}

/// The first private key in a PEM file.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsClientError> {
    let pem = read(path)?;
    // PKCS#8 `ENCRYPTED PRIVATE KEY`, or OpenSSL's legacy `Proc-Type: 4,ENCRYPTED` header
    // in an `RSA`/`EC PRIVATE KEY`. The parser would skip the first as an unknown section
    // and fail on the second's header, neither of which would say why.
    let encrypted = |marker: &[u8]| pem.windows(marker.len()).any(|w| w == marker);
    if encrypted(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") || encrypted(b"Proc-Type: 4,ENCRYPTED") {
        return Err(TlsClientError::EncryptedKey {
            path: path.to_owned(),
        });
    }
    match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) => Err(TlsClientError::NoKey {
            path: path.to_owned(),
        }),
        Err(source) => Err(bad_pem(path)(source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let error = certificates(&missing).unwrap_err();
        assert!(matches!(error, TlsClientError::Read { .. }));
        assert!(error.to_string().contains("missing.pem"), "{error}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not PEM\n").unwrap();
        let error = certificates(&empty).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("{}: no PEM certificate in it", empty.display())
        );
        let error = private_key(&empty).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("{}: no PEM private key in it", empty.display())
        );

        let cut = dir.path().join("cut.pem");
        std::fs::write(&cut, "-----BEGIN CERTIFICATE-----\nMIIB\n").unwrap();
        let error = certificates(&cut).unwrap_err();
        assert!(matches!(error, TlsClientError::Pem { .. }), "{error}");
        assert!(
            error.to_string().starts_with(&cut.display().to_string()),
            "{error}"
        );
    }

    #[test]
    fn encrypted_keys_are_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let pkcs8 = dir.path().join("pkcs8.key");
        std::fs::write(
            &pkcs8,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n\
             -----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        let legacy = dir.path().join("legacy.key");
        std::fs::write(
            &legacy,
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
             DEK-Info: AES-256-CBC,0123456789ABCDEF0123456789ABCDEF\n\nMIIEow==\n\
             -----END RSA PRIVATE KEY-----\n",
        )
        .unwrap();
        for path in [pkcs8, legacy] {
            let error = private_key(&path).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "{}: encrypted private keys are not supported; decrypt it with openssl pkey",
                    path.display()
                )
            );
        }
    }
}
