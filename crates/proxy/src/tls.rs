//! TLS termination settings: certificates loaded from PEM files, the one for each handshake
//! chosen by SNI, and ALPN offering HTTP/2 and HTTP/1.1.
//!
//! Certificate choice follows nginx's `server_name` order: an exact name wins over a
//! wildcard, and among certificates that name the same host the first listed wins. A client
//! that sends no SNI, or a name no certificate has, gets the first certificate.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject as _};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// ALPN protocol ids, in the server's order of preference (RFC 7301, RFC 9113 3.1).
pub(crate) const ALPN_H2: &[u8] = b"h2";
const ALPN_HTTP11: &[u8] = b"http/1.1";

/// Certificates and TLS settings for [`Proxy::serve_tls`](crate::Proxy::serve_tls).
///
/// TLS 1.2 and 1.3 with rustls's default cipher suites (ring); no client certificates.
#[derive(Debug)]
#[non_exhaustive]
pub struct TlsConfig {
    server: Arc<rustls::ServerConfig>,
}

/// Why certificates could not be loaded. Each variant names the file at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The list of certificate and key files was empty.
    #[error("no certificate configured")]
    NoCertificates,
    /// A file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What reading it said.
        source: io::Error,
    },
    /// A file is not well-formed PEM.
    #[error("{}: not valid PEM: {reason}", path.display())]
    BadPem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A certificate file holds no `CERTIFICATE` block.
    #[error("{}: no certificate in it (expected a PEM CERTIFICATE block)", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The first certificate of a file is not a well-formed X.509 certificate.
    #[error("{}: bad certificate: {reason}", path.display())]
    BadCertificate {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A key file holds no private key block.
    #[error(
        "{}: no private key in it (expected a PEM PRIVATE KEY, RSA PRIVATE KEY or \
         EC PRIVATE KEY block)",
        path.display()
    )]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// A private key that rustls cannot sign with (malformed, or an unsupported algorithm).
    #[error("{}: unusable private key: {reason}", path.display())]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The private key is not the one the certificate was issued for.
    #[error(
        "{}: the private key does not match the certificate in {}",
        key.display(),
        cert.display()
    )]
    KeyMismatch {
        /// The certificate chain file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
}

impl TlsConfig {
    /// Loads certificate chains and their private keys: each pair is a PEM file with the
    /// certificate chain (the server's certificate first, then intermediates) and a PEM file
    /// with its private key (PKCS#8, PKCS#1 or SEC1; both may be the same file).
    ///
    /// The first pair is the default certificate; the others are chosen by SNI against
    /// their subject alternative DNS names (`*.example.com` matches one label).
    pub fn from_pem_files(certs: &[(PathBuf, PathBuf)]) -> Result<TlsConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut resolver = Resolver::default();
        for (cert, key) in certs {
            let (certified, names) = load_pair(&provider, cert, key)?;
            resolver.add(Arc::new(certified), &names);
        }
        if resolver.keys.is_empty() {
            return Err(TlsError::NoCertificates);
        }
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            // Only fails for a provider without cipher suites for TLS 1.2 and 1.3; ring's
            // default provider has both.
            .expect("ring supports TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        server.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()];
        Ok(TlsConfig {
            server: Arc::new(server),
        })
    }

    /// An acceptor for one listener's handshakes.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(&self.server))
    }
}

/// Reads one certificate chain and its key, checks that they belong together, and returns
/// them with the certificate's DNS names.
fn load_pair(
    provider: &CryptoProvider,
    cert_path: &Path,
    key_path: &Path,
) -> Result<(CertifiedKey, Vec<String>), TlsError> {
    let pem = read(cert_path)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| bad_pem(cert_path, &error))?;
    let Some(leaf) = chain.first() else {
        return Err(TlsError::NoCertificate {
            path: cert_path.to_owned(),
        });
    };
    let names = dns_names(leaf).map_err(|reason| TlsError::BadCertificate {
        path: cert_path.to_owned(),
        reason,
    })?;

    let pem = read(key_path)?;
    let key = match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(key) => key,
        Err(pem::Error::NoItemsFound) => {
            return Err(TlsError::NoKey {
                path: key_path.to_owned(),
            });
        }
        Err(error) => return Err(bad_pem(key_path, &error)),
    };
    let key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|error| TlsError::BadKey {
            path: key_path.to_owned(),
            reason: error.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, key);
    match certified.keys_match() {
        // Unknown: the key cannot tell its public half; the handshake will show.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(_)) => {
            return Err(TlsError::KeyMismatch {
                cert: cert_path.to_owned(),
                key: key_path.to_owned(),
            });
        }
        Err(error) => {
            return Err(TlsError::BadCertificate {
                path: cert_path.to_owned(),
                reason: error.to_string(),
            });
        }
    }
    Ok((certified, names))
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Unreadable {
        path: path.to_owned(),
        source,
    })
}

fn bad_pem(path: &Path, error: &pem::Error) -> TlsError {
    TlsError::BadPem {
        path: path.to_owned(),
        reason: error.to_string(),
    }
}

/// The subject alternative DNS names of a certificate, lowercased.
fn dns_names(cert: &CertificateDer<'_>) -> Result<Vec<String>, String> {
    let cert = webpki::EndEntityCert::try_from(cert).map_err(|error| error.to_string())?;
    Ok(cert
        .valid_dns_names()
        .map(str::to_ascii_lowercase)
        .collect())
}

/// Picks a certificate by the SNI name; see the module documentation for the order.
#[derive(Debug, Default)]
struct Resolver {
    /// In configuration order; the first is the default.
    keys: Vec<Arc<CertifiedKey>>,
    /// Exact DNS name to index in `keys`.
    exact: HashMap<String, usize>,
    /// For `*.example.com`, `example.com` to index in `keys`.
    wildcard: HashMap<String, usize>,
}

impl Resolver {
    fn add(&mut self, key: Arc<CertifiedKey>, names: &[String]) {
        let index = self.keys.len();
        self.keys.push(key);
        for name in names {
            let (map, name) = match name.strip_prefix("*.") {
                Some(parent) => (&mut self.wildcard, parent),
                None => (&mut self.exact, name.as_str()),
            };
            map.entry(name.to_owned()).or_insert(index);
        }
    }

    /// The index of the certificate for `sni`, if one names it.
    fn find(&self, sni: &str) -> Option<usize> {
        let name = sni.trim_end_matches('.').to_ascii_lowercase();
        if let Some(&index) = self.exact.get(&name) {
            return Some(index);
        }
        let (_, parent) = name.split_once('.')?;
        self.wildcard.get(parent).copied()
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let index = hello
            .server_name()
            .and_then(|name| self.find(name))
            .unwrap_or(0);
        self.keys.get(index).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new() -> Files {
            Files {
                dir: tempfile::tempdir().expect("temp dir"),
            }
        }

        fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
            let path = self.dir.path().join(name);
            std::fs::write(&path, contents).expect("write");
            path
        }

        /// A self-signed certificate for `names` and its key, as two files.
        fn pair(&self, stem: &str, names: &[&str]) -> (PathBuf, PathBuf) {
            let names: Vec<String> = names.iter().map(|&n| n.to_owned()).collect();
            let generated = rcgen::generate_simple_self_signed(names).expect("certificate");
            (
                self.write(&format!("{stem}.crt"), generated.cert.pem()),
                self.write(
                    &format!("{stem}.key"),
                    generated.signing_key.serialize_pem(),
                ),
            )
        }
    }

    fn error(certs: &[(PathBuf, PathBuf)]) -> TlsError {
        TlsConfig::from_pem_files(certs).expect_err("must fail")
    }

    #[test]
    fn good_pairs_load() {
        let files = Files::new();
        let pairs = [
            files.pair("a", &["a.example"]),
            files.pair("b", &["*.b.example"]),
        ];
        TlsConfig::from_pem_files(&pairs).expect("loads");
    }

    #[test]
    fn missing_file_is_unreadable_and_named() {
        let files = Files::new();
        let (cert, _) = files.pair("a", &["a.example"]);
        let missing = files.dir.path().join("missing.key");
        let error = error(&[(cert, missing.clone())]);
        assert!(matches!(&error, TlsError::Unreadable { path, .. } if *path == missing));
        assert!(
            error.to_string().contains("missing.key: cannot read"),
            "{error}"
        );
    }

    #[test]
    fn file_without_certificate_is_named() {
        let files = Files::new();
        let (_, key) = files.pair("a", &["a.example"]);
        let junk = files.write("junk.crt", "this is not PEM\n");
        let error = error(&[(junk.clone(), key.clone())]);
        assert!(matches!(&error, TlsError::NoCertificate { path } if *path == junk));
        assert!(error.to_string().contains("junk.crt"), "{error}");
        // A key file is no certificate either.
        let error = self::error(&[(key.clone(), key.clone())]);
        assert!(matches!(&error, TlsError::NoCertificate { path } if *path == key));
    }

    #[test]
    fn broken_pem_is_named() {
        let files = Files::new();
        let (_, key) = files.pair("a", &["a.example"]);
        let cut = files.write(
            "cut.crt",
            "-----BEGIN CERTIFICATE-----\nMIIB\n(the end is missing)\n",
        );
        let error = error(&[(cut.clone(), key)]);
        assert!(matches!(&error, TlsError::BadPem { path, .. } if *path == cut));
        assert!(
            error.to_string().contains("cut.crt: not valid PEM"),
            "{error}"
        );
    }

    #[test]
    fn certificate_that_is_not_x509_is_named() {
        let files = Files::new();
        let (_, key) = files.pair("a", &["a.example"]);
        let bogus = files.write(
            "bogus.crt",
            "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
        );
        let error = error(&[(bogus.clone(), key)]);
        assert!(matches!(&error, TlsError::BadCertificate { path, .. } if *path == bogus));
    }

    #[test]
    fn file_without_key_is_named() {
        let files = Files::new();
        let (cert, _) = files.pair("a", &["a.example"]);
        let error = error(&[(cert.clone(), cert.clone())]);
        assert!(matches!(&error, TlsError::NoKey { path } if *path == cert));
        assert!(
            error.to_string().contains("a.crt: no private key"),
            "{error}"
        );
    }

    #[test]
    fn key_of_another_certificate_is_a_mismatch() {
        let files = Files::new();
        let (a_cert, _) = files.pair("a", &["a.example"]);
        let (_, b_key) = files.pair("b", &["b.example"]);
        let error = error(&[(a_cert.clone(), b_key.clone())]);
        assert!(
            matches!(&error, TlsError::KeyMismatch { cert, key } if *cert == a_cert && *key == b_key)
        );
        let text = error.to_string();
        assert!(text.contains("b.key") && text.contains("a.crt"), "{text}");
    }

    #[test]
    fn unusable_key_is_named() {
        let files = Files::new();
        let (cert, _) = files.pair("a", &["a.example"]);
        let key = files.write(
            "garbage.key",
            "-----BEGIN PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n-----END PRIVATE KEY-----\n",
        );
        let error = error(&[(cert, key.clone())]);
        assert!(matches!(&error, TlsError::BadKey { path, .. } if *path == key));
    }

    #[test]
    fn no_pairs_is_an_error() {
        assert!(matches!(error(&[]), TlsError::NoCertificates));
    }

    fn resolver(certs: &[&[&str]]) -> Resolver {
        let files = Files::new();
        let mut resolver = Resolver::default();
        let provider = rustls::crypto::ring::default_provider();
        for (i, names) in certs.iter().enumerate() {
            let (cert, key) = files.pair(&format!("c{i}"), names);
            let (certified, names) = load_pair(&provider, &cert, &key).expect("pair");
            resolver.add(Arc::new(certified), &names);
        }
        resolver
    }

    #[test]
    fn exact_names_win_over_wildcards_and_the_first_certificate_wins_ties() {
        let resolver = resolver(&[
            &["default.example"],
            &["*.shop.example", "a.example"],
            &["api.shop.example", "a.example"],
            &["*.shop.example"],
        ]);
        assert_eq!(resolver.find("a.example"), Some(1));
        assert_eq!(resolver.find("api.shop.example"), Some(2));
        assert_eq!(resolver.find("www.shop.example"), Some(1));
        assert_eq!(resolver.find("default.example"), Some(0));
        assert_eq!(resolver.find("unknown.example"), None);
    }

    #[test]
    fn wildcards_match_one_label_and_names_ignore_case_and_the_root_dot() {
        let resolver = resolver(&[&["default.example"], &["*.b.example"]]);
        assert_eq!(resolver.find("X.B.Example."), Some(1));
        assert_eq!(
            resolver.find("b.example"),
            None,
            "the wildcard needs a label"
        );
        assert_eq!(resolver.find("deep.x.b.example"), None, "only one label");
    }
}
