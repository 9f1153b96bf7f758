//! keepalived's top-level `SSL` block: the client certificate `SSL_GET` checkers present.

use std::path::PathBuf;

use crate::keepalived::keywords;
use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::virtual_server::SslContext;

impl Mapper<'_> {
    /// `SSL { password ca certificate key }`.
    pub(super) fn ssl(&mut self, s: &Stmt) {
        let c = "SSL";
        if !s.args.is_empty() {
            self.error(&s.at, "", format!("SSL takes no name, not '{}'", s.rest()));
        }
        let Some(block) = self.block(s, "") else {
            return;
        };
        if let Some(first) = &self.draft.ssl {
            let message = format!("SSL is given twice (first at {})", first.location);
            self.error(&s.at, "", message);
            return;
        }
        let mut ssl = SslContext {
            password: None,
            ca: None,
            certificate: None,
            key: None,
            location: s.at.clone().into(),
        };
        for s in block {
            let slot = match s.keyword.as_str() {
                "password" => {
                    ssl.password = self.one(s, c).map(str::to_owned);
                    continue;
                }
                "ca" => &mut ssl.ca,
                "certificate" => &mut ssl.certificate,
                "key" => &mut ssl.key,
                _ => {
                    self.refuse(&keywords::SSL, s, c);
                    continue;
                }
            };
            *slot = self.one(s, c).map(PathBuf::from);
        }
        self.draft.ssl = Some(ssl);
    }
}
