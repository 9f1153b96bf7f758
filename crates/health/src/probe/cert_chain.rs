//! OpenSSL's auto-chaining of the certificate a client sends, which is all keepalived's
//! `SSL { ca }` does (see [`super::TlsClient`]).
//!
//! When the certificate file holds the certificate alone, OpenSSL (`ssl_add_cert_chain`)
//! builds its chain from the trusted store with `X509_verify_cert` and sends what it built,
//! as far as it got and root included. The issuer of a certificate is the trusted
//! certificate whose subject is its issuer's Name and, when both are there, whose subject
//! key identifier is its authority key identifier (`X509_check_issued`). The Names are
//! compared as DER where OpenSSL compares a canonical form, the same for the certificates
//! CAs issue; signatures are not checked here, as the server checks them.

use rustls_pki_types::CertificateDer;

/// `chain` as OpenSSL sends it with `trusted` as the verify store.
pub(super) fn complete(
    mut chain: Vec<CertificateDer<'static>>,
    trusted: &[CertificateDer<'static>],
) -> Vec<CertificateDer<'static>> {
    if chain.len() != 1 {
        return chain;
    }
    let trusted: Vec<_> = trusted
        .iter()
        .filter_map(|certificate| Some((certificate, Fields::of(certificate)?)))
        .collect();
    while let Some(last) = chain.last() {
        let Some(last) = Fields::of(last) else {
            break;
        };
        if last.issued_by(&last) {
            // Self-issued: a root, the end of any chain.
            break;
        }
        let next = trusted
            .iter()
            .find(|(certificate, fields)| last.issued_by(fields) && !chain.contains(certificate));
        match next {
            Some((certificate, _)) => chain.push((*certificate).clone()),
            None => break,
        }
    }
    chain
}

/// What tells a certificate's issuer.
#[derive(Debug)]
struct Fields<'a> {
    /// The issuer's Name, a whole DER element.
    issuer: &'a [u8],
    subject: &'a [u8],
    /// The key identifier of the authority key identifier extension.
    authority_key_id: Option<&'a [u8]>,
    /// The subject key identifier extension's.
    subject_key_id: Option<&'a [u8]>,
}

const SEQUENCE: u8 = 0x30;
const OCTET_STRING: u8 = 0x04;
/// `version [0] EXPLICIT`.
const VERSION: u8 = 0xa0;
/// `issuerUniqueID [1] IMPLICIT` and `subjectUniqueID [2] IMPLICIT`.
const UNIQUE_IDS: [u8; 2] = [0x81, 0x82];
/// `extensions [3] EXPLICIT`.
const EXTENSIONS: u8 = 0xa3;
/// `keyIdentifier [0] IMPLICIT` in AuthorityKeyIdentifier.
const KEY_IDENTIFIER: u8 = 0x80;
/// id-ce-subjectKeyIdentifier (2.5.29.14) and id-ce-authorityKeyIdentifier (2.5.29.35),
/// as DER OBJECT IDENTIFIERs.
const SUBJECT_KEY_ID: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x0e];
const AUTHORITY_KEY_ID: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x23];

impl<'a> Fields<'a> {
    /// RFC 5280 4.1: `Certificate ::= SEQUENCE { tbsCertificate, ... }` and
    /// `TBSCertificate ::= SEQUENCE { version [0] EXPLICIT DEFAULT v1, serialNumber,
    /// signature, issuer, validity, subject, subjectPublicKeyInfo,
    /// issuerUniqueID [1] IMPLICIT OPTIONAL, subjectUniqueID [2] IMPLICIT OPTIONAL,
    /// extensions [3] EXPLICIT OPTIONAL }`. None when the DER is not that.
    fn of(certificate: &'a [u8]) -> Option<Fields<'a>> {
        let certificate = contents_of(certificate, SEQUENCE)?;
        let tbs = contents_of(certificate, SEQUENCE)?;
        let mut serial = element(tbs)?;
        if serial.tag == VERSION {
            serial = element(serial.rest)?;
        }
        let signature = element(serial.rest)?;
        let issuer = element(signature.rest)?;
        let validity = element(issuer.rest)?;
        let subject = element(validity.rest)?;
        let public_key = element(subject.rest)?;
        let mut fields = Fields {
            issuer: issuer.whole,
            subject: subject.whole,
            authority_key_id: None,
            subject_key_id: None,
        };
        let mut rest = public_key.rest;
        while let Some(optional) = element(rest) {
            rest = optional.rest;
            if UNIQUE_IDS.contains(&optional.tag) {
                continue;
            }
            if optional.tag == EXTENSIONS {
                let mut extensions = contents_of(optional.contents, SEQUENCE)?;
                while let Some(extension) = element(extensions) {
                    extensions = extension.rest;
                    fields.extension(extension.contents);
                }
            }
            break;
        }
        Some(fields)
    }

    /// `Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET
    /// STRING }`; the key identifiers are kept, the rest ignored.
    fn extension(&mut self, extension: &'a [u8]) {
        let Some(id) = element(extension) else {
            return;
        };
        // The value is the last element, after the optional critical flag.
        let mut value = None;
        let mut rest = id.rest;
        while let Some(next) = element(rest) {
            if next.tag == OCTET_STRING {
                value = Some(next.contents);
            }
            rest = next.rest;
        }
        let Some(value) = value else {
            return;
        };
        if id.whole == SUBJECT_KEY_ID {
            // SubjectKeyIdentifier ::= KeyIdentifier (OCTET STRING)
            self.subject_key_id = contents_of(value, OCTET_STRING);
        } else if id.whole == AUTHORITY_KEY_ID {
            // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] OPTIONAL, ... }
            self.authority_key_id =
                contents_of(value, SEQUENCE).and_then(|fields| contents_of(fields, KEY_IDENTIFIER));
        }
    }

    /// Whether `issuer` can have issued this certificate: its subject is this one's issuer
    /// and the key identifiers, when both are there, agree.
    fn issued_by(&self, issuer: &Fields<'_>) -> bool {
        self.issuer == issuer.subject
            && match (self.authority_key_id, issuer.subject_key_id) {
                (Some(authority), Some(subject)) => authority == subject,
                _ => true,
            }
    }
}

/// One DER element and what follows it.
#[derive(Debug, PartialEq, Eq)]
struct Element<'a> {
    tag: u8,
    /// The whole element, header and all.
    whole: &'a [u8],
    contents: &'a [u8],
    /// The bytes after the element.
    rest: &'a [u8],
}

/// The DER element at the start of `der`; None when `der` is too short for the length it
/// states.
fn element(der: &[u8]) -> Option<Element<'_>> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let len = bytes
            .iter()
            .fold(0usize, |len, &byte| len << 8 | usize::from(byte));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let header = der.len() - rest.len();
    let (contents, rest) = rest.split_at(len);
    Some(Element {
        tag,
        whole: &der[..header + len],
        contents,
        rest,
    })
}

/// The contents of the element at the start of `der` if its tag is `tag`.
fn contents_of(der: &[u8], tag: u8) -> Option<&[u8]> {
    element(der).filter(|e| e.tag == tag).map(|e| e.contents)
}

#[cfg(test)]
mod tests {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

    use super::*;

    fn params(name: &str, ca: bool) -> CertificateParams {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.use_authority_key_identifier_extension = true;
        if ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        params
    }

    /// A root, an intermediate it signed, and a leaf the intermediate signed. Every chain
    /// uses the same names: only the key identifiers tell two apart.
    fn chain() -> [CertificateDer<'static>; 3] {
        let root = CertifiedIssuer::self_signed(params("root", true), KeyPair::generate().unwrap())
            .unwrap();
        let intermediate = CertifiedIssuer::signed_by(
            params("intermediate", true),
            KeyPair::generate().unwrap(),
            &root,
        )
        .unwrap();
        let leaf = params("leaf", false)
            .signed_by(&KeyPair::generate().unwrap(), &intermediate)
            .unwrap();
        [
            leaf.der().clone(),
            intermediate.der().clone(),
            root.der().clone(),
        ]
    }

    #[test]
    fn fields_are_read_from_the_der() {
        let [leaf, intermediate, root] = chain();
        let leaf = Fields::of(&leaf).unwrap();
        let intermediate = Fields::of(&intermediate).unwrap();
        let root = Fields::of(&root).unwrap();
        // A Name ends with its last attribute's value, here the common name.
        assert!(leaf.issuer.ends_with(b"intermediate") && leaf.subject.ends_with(b"leaf"));
        assert!(leaf.authority_key_id.is_some() && intermediate.subject_key_id.is_some());
        assert!(leaf.issued_by(&intermediate));
        assert!(intermediate.issued_by(&root));
        assert!(root.issued_by(&root));
        assert!(!leaf.issued_by(&root) && !intermediate.issued_by(&leaf));
        assert!(Fields::of(b"\x30\x05\x30\x03").is_none());
        assert_eq!(element(b"\x30\x84\xff\xff\xff\xff"), None);
    }

    #[test]
    fn a_lone_certificate_is_sent_with_its_issuers_from_the_ca_file() {
        let [leaf, intermediate, root] = chain();
        let [_, other_intermediate, other_root] = chain();
        let trusted = [
            other_root,
            other_intermediate,
            root.clone(),
            intermediate.clone(),
        ];
        assert_eq!(
            complete(vec![leaf.clone()], &trusted),
            [leaf.clone(), intermediate.clone(), root.clone()]
        );
        // As far as the CA file goes.
        assert_eq!(
            complete(vec![leaf.clone()], std::slice::from_ref(&intermediate)),
            [leaf.clone(), intermediate.clone()]
        );
        assert_eq!(
            complete(vec![leaf.clone()], std::slice::from_ref(&root)),
            std::slice::from_ref(&leaf)
        );
        // A file with its own chain is sent as it is.
        assert_eq!(
            complete(vec![leaf.clone(), intermediate.clone()], &trusted),
            [leaf.clone(), intermediate.clone()]
        );
        // A self-signed certificate is its own chain.
        assert_eq!(complete(vec![root.clone()], &trusted), [root]);
    }
}
