//! `[SSL]`: keepalived's top-level `SSL` block, the client certificate `SSL_GET` checkers
//! present.

use std::path::PathBuf;

use serde::Deserialize;

use super::Reader;
use crate::spec::Draft;
use crate::virtual_server::SslContext;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SslToml {
    password: Option<String>,
    ca: Option<String>,
    certificate: Option<String>,
    key: Option<String>,
}

impl Reader<'_> {
    pub(super) fn ssl(&mut self, t: SslToml, start: usize, draft: &mut Draft) {
        draft.ssl = Some(SslContext {
            password: t.password,
            ca: t.ca.map(PathBuf::from),
            certificate: t.certificate.map(PathBuf::from),
            key: t.key.map(PathBuf::from),
            location: self.at(start).into(),
        });
    }
}
