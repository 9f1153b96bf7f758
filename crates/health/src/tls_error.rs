//! Why SSL_GET's client identity cannot be used: its own module, so that [`crate::Failure`]
//! can carry it without the outcome layer importing the probes.

use std::io;
use std::path::PathBuf;

use rustls_pki_types::pem;

/// Why SSL_GET's client certificate, key or CA file cannot be used; each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsClientError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// The file is not PEM.
    #[error("{}: bad PEM: {source}", path.display())]
    Pem { path: PathBuf, source: pem::Error },
    /// The file has no `CERTIFICATE` section.
    #[error("{}: no PEM certificate in it", path.display())]
    NoCertificate { path: PathBuf },
    /// The file has no private key section.
    #[error("{}: no PEM private key in it", path.display())]
    NoKey { path: PathBuf },
    /// The private key is encrypted (keepalived's `password`); rustls cannot decrypt it.
    #[error(
        "{}: encrypted private keys are not supported; decrypt it with openssl pkey",
        path.display()
    )]
    EncryptedKey { path: PathBuf },
    /// The key is not the certificate's.
    #[error("{} is not the private key of {}", key.display(), certificate.display())]
    KeyMismatch { certificate: PathBuf, key: PathBuf },
    /// rustls refuses the key or certificate otherwise (a kind of key it does not support).
    #[error("{} with {}: {source}", key.display(), certificate.display())]
    Key {
        certificate: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
}
