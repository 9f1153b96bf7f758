//! keepalived's checker blocks of a `real_server` (`TCP_CHECK`, `HTTP_GET`, `SSL_GET`,
//! `MISC_CHECK`, `SMTP_CHECK` and its `host`s, `DNS_CHECK`, `UDP_CHECK`, `PING_CHECK`,
//! `FILE_CHECK`) and `url` of the HTTP ones, as the `check_*.c` checkers read them.

use crate::keepalived::keywords::{self, Context};
use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::keepalived::virtual_server::Level;
use crate::spec::At;
use crate::values::{self, parse_integer, parse_ip};
use crate::virtual_server::UrlCheck;
use crate::virtual_server_spec::fields;
use crate::virtual_server_spec::{
    CheckerDraft, CheckerKindDraft, FileDraft, HttpDraft, MiscDraft, UdpDraft,
};

impl Mapper<'_> {
    /// One checker block; SMTP_CHECK's deprecated `host` blocks make more than one.
    pub(super) fn checker(&mut self, s: &Stmt, rs: &str) -> Vec<CheckerDraft> {
        let keyword = s.keyword.as_str();
        let c = format!("{rs}: {keyword}");
        let c = c.as_str();
        if !s.args.is_empty() {
            self.error(
                &s.at,
                rs,
                format!("{keyword} takes a {{ }} block, not '{}'", s.rest()),
            );
        }
        let (kind, table): (CheckerKindDraft, &Context) = match keyword {
            "TCP_CHECK" => (CheckerKindDraft::Tcp, &keywords::TCP_CHECK),
            "HTTP_GET" | "SSL_GET" => {
                let tls = keyword == "SSL_GET";
                let http = HttpDraft {
                    tls,
                    ..HttpDraft::default()
                };
                let table = if tls {
                    &keywords::SSL_GET
                } else {
                    &keywords::HTTP_GET
                };
                (CheckerKindDraft::Http(http), table)
            }
            "MISC_CHECK" => (
                CheckerKindDraft::Misc(MiscDraft::default()),
                &keywords::MISC_CHECK,
            ),
            "SMTP_CHECK" => (
                CheckerKindDraft::Smtp { helo_name: None },
                &keywords::SMTP_CHECK,
            ),
            "DNS_CHECK" => (
                CheckerKindDraft::Dns {
                    record_type: None,
                    name: None,
                },
                &keywords::DNS_CHECK,
            ),
            "UDP_CHECK" => (
                CheckerKindDraft::Udp(UdpDraft::default()),
                &keywords::UDP_CHECK,
            ),
            "PING_CHECK" => (CheckerKindDraft::Ping, &keywords::PING_CHECK),
            _ => (
                CheckerKindDraft::File(FileDraft::default()),
                &keywords::FILE_CHECK,
            ),
        };
        let mut checker = CheckerDraft::new(kind, s.at.clone());
        let mut hosts = Vec::new();
        let connects = !matches!(
            checker.kind,
            CheckerKindDraft::Misc(_) | CheckerKindDraft::File(_)
        );
        let timed = !matches!(checker.kind, CheckerKindDraft::File(_));
        let http = matches!(checker.kind, CheckerKindDraft::Http(_));
        for s in s.block.as_deref().unwrap_or_default() {
            let timing = match s.keyword.as_str() {
                "retry" | "delay_before_retry" | "warmup" | "delay_loop" | "alpha" => timed,
                "nb_get_retry" => http,
                "connect_timeout" => connects,
                _ => false,
            };
            if timing && self.timing(&mut checker.timing, s, c, Level::Checker) {
                continue;
            }
            if connects && self.connection(&mut checker, s, c) {
                continue;
            }
            if timed && s.keyword == "log_all_failures" {
                checker.log_all_failures = self.flag(s, c).or(checker.log_all_failures);
                continue;
            }
            if s.keyword == "host" && keyword == "SMTP_CHECK" {
                if let Some(host) = self.smtp_host(s, c) {
                    hosts.push(host);
                }
                continue;
            }
            if !self.checker_keyword(&mut checker.kind, s, c) {
                self.refuse(table, s, c);
            }
        }
        if hosts.is_empty() {
            return vec![checker];
        }
        self.d.warn(
            &s.at,
            format!(
                "{c}: host blocks are deprecated in keepalived; each is read as one more \
                 SMTP_CHECK (write them so)"
            ),
        );
        // keepalived's smtp_check_end_handler: the block's own connection is checked too
        // only if it set something of it; the hosts take everything else from the block.
        let mut all = Vec::new();
        if checker.has_connection_settings() {
            all.push(checker.clone());
        }
        for host in hosts {
            let mut each = checker.clone();
            each.connect_ip = host.connect_ip;
            each.connect_port = host.connect_port;
            each.bind_ip = host.bind_ip;
            each.bind_port = host.bind_port;
            each.bind_if = host.bind_if;
            each.fwmark = host.fwmark;
            each.timing.connect_timeout = host.timing.connect_timeout;
            each.location = host.location;
            all.push(each);
        }
        all
    }

    /// `host { connect_ip ... }` of SMTP_CHECK: the connection settings of one more check.
    fn smtp_host(&mut self, s: &Stmt, c: &str) -> Option<CheckerDraft> {
        let block = self.block(s, c)?;
        let c = format!("{c}: host");
        let c = c.as_str();
        let mut host = CheckerDraft::new(CheckerKindDraft::Tcp, s.at.clone());
        for s in block {
            if s.keyword == "connect_timeout" {
                self.timing(&mut host.timing, s, c, Level::Checker);
            } else if !self.connection(&mut host, s, c) {
                self.refuse(&keywords::SMTP_HOST, s, c);
            }
        }
        Some(host)
    }

    /// `connect_ip`, `connect_port`, `bindto`, `bind_port`, `bind_if`, `fwmark`; false if
    /// `s` is something else.
    fn connection(&mut self, checker: &mut CheckerDraft, s: &Stmt, c: &str) -> bool {
        let keyword = s.keyword.as_str();
        match keyword {
            "connect_ip" | "bindto" => {
                if let Some(text) = self.one(s, c) {
                    let ip = self.ok(s, c, parse_ip(text).map_err(|e| format!("{keyword}: {e}")));
                    if keyword == "connect_ip" {
                        checker.connect_ip = ip.or(checker.connect_ip);
                    } else {
                        checker.bind_ip = ip.or(checker.bind_ip);
                    }
                }
            }
            "connect_port" | "bind_port" => {
                if let Some(n) = self.integer(s, c) {
                    let port = self.ok(s, c, fields::nonzero_port(keyword, n));
                    if keyword == "connect_port" {
                        checker.connect_port = port.or(checker.connect_port);
                    } else {
                        checker.bind_port = port.or(checker.bind_port);
                    }
                }
            }
            "bind_if" => {
                if let Some(name) = self.one(s, c) {
                    // IFNAMSIZ - 1, as keepalived checks.
                    if name.len() > 15 {
                        self.error(
                            &s.at,
                            c,
                            format!("bind_if '{name}' is longer than 15 characters"),
                        );
                    } else {
                        checker.bind_if = Some(name.to_owned());
                    }
                }
            }
            "fwmark" => {
                if let Some(n) = self.integer(s, c) {
                    checker.fwmark = self.ok(s, c, fields::fwmark(n)).or(checker.fwmark);
                }
            }
            _ => return false,
        }
        true
    }

    /// The keywords of one kind of checker; false if `s` is not one of them.
    fn checker_keyword(&mut self, kind: &mut CheckerKindDraft, s: &Stmt, c: &str) -> bool {
        let keyword = s.keyword.as_str();
        match (kind, keyword) {
            (CheckerKindDraft::Http(h), "virtualhost") => {
                h.virtualhost = self.one(s, c).map(str::to_owned).or(h.virtualhost.take());
            }
            (CheckerKindDraft::Http(h), "http_protocol") => {
                if let Some(text) = self.one(s, c) {
                    h.http_protocol = self
                        .ok(s, c, fields::http_protocol(text))
                        .or(h.http_protocol);
                }
            }
            (CheckerKindDraft::Http(h), "enable_sni") => {
                h.enable_sni = self.flag(s, c).unwrap_or(h.enable_sni);
            }
            (CheckerKindDraft::Http(h), "fast_recovery") => {
                h.fast_recovery = self.flag(s, c).unwrap_or(h.fast_recovery);
            }
            (CheckerKindDraft::Http(h), "url") => {
                h.urls_given = true;
                if let Some(url) = self.url(s, c) {
                    h.urls.push(url);
                }
            }
            (CheckerKindDraft::Misc(m), "misc_path") => {
                m.argv_given = true;
                m.argv = self.command_line(s, c);
            }
            (CheckerKindDraft::Misc(m), "misc_timeout") => {
                if let Some(n) = self.integer(s, c) {
                    let result = fields::unsigned("misc_timeout", n, 0);
                    // keepalived: 0 means the delay_loop, as when it is not given.
                    m.timeout = self
                        .ok(s, c, result)
                        .filter(|n| *n > 0)
                        .map(|n| std::time::Duration::from_secs(u64::from(n)));
                }
            }
            (CheckerKindDraft::Misc(m), "misc_dynamic") => m.dynamic |= self.no_value(s, c),
            (CheckerKindDraft::Misc(m), "user") => {
                if self.no_block(s, c) {
                    let result = match s.args.as_slice() {
                        [user] => values::script_user(user, None),
                        [user, group] => values::script_user(user, Some(group)),
                        _ => Err("user takes USER [GROUP]".into()),
                    };
                    m.user = self.ok(s, c, result);
                }
            }
            (CheckerKindDraft::Smtp { helo_name }, "helo_name") => {
                *helo_name = self.one(s, c).map(str::to_owned).or(helo_name.take());
            }
            (CheckerKindDraft::Dns { record_type, .. }, "type") => {
                if let Some(text) = self.one(s, c) {
                    *record_type = self.ok(s, c, fields::dns_type(text)).or(*record_type);
                }
            }
            (CheckerKindDraft::Dns { name, .. }, "name") => {
                if let Some(text) = self.one(s, c) {
                    if name.is_some() {
                        // keepalived: "name already specified - ignoring".
                        self.error(&s.at, c, "name is given twice");
                    } else {
                        *name = self.ok(s, c, fields::dns_name(text));
                    }
                }
            }
            (CheckerKindDraft::Udp(u), "payload" | "require_reply") => {
                if !self.no_block(s, c) {
                    return true;
                }
                let text = s.args.join(" ");
                if keyword == "payload" {
                    let result = fields::hex(&text, false).map_err(|e| format!("payload: {e}"));
                    if let Some((bytes, _)) = self.ok(s, c, result) {
                        u.payload = bytes;
                    }
                } else if text.is_empty() {
                    u.require_reply = Some((Vec::new(), Vec::new()));
                } else {
                    let result =
                        fields::hex(&text, true).map_err(|e| format!("require_reply: {e}"));
                    u.require_reply = self.ok(s, c, result).or(u.require_reply.take());
                }
            }
            (CheckerKindDraft::Udp(u), "min_reply_length" | "max_reply_length") => {
                if let Some(n) = self.integer(s, c) {
                    let result = values::in_range(keyword, n, 0, i64::from(u16::MAX));
                    let value = self.ok(s, c, result).map(|n| n as u16);
                    if keyword == "min_reply_length" {
                        u.min_reply_length = value.or(u.min_reply_length);
                    } else {
                        u.max_reply_length = value.or(u.max_reply_length);
                    }
                }
            }
            (CheckerKindDraft::File(f), "track_file") => {
                if let Some(name) = self.one(s, c) {
                    f.track_file = Some(At::new(name.to_owned(), s.at.clone()));
                }
            }
            (CheckerKindDraft::File(f), "weight") => {
                if !self.no_block(s, c) {
                    return true;
                }
                let result = file_weight(&s.args);
                if let Some((weight, reverse)) = self.ok(s, c, result) {
                    f.weight = Some(weight);
                    f.reverse = reverse;
                }
            }
            _ => return false,
        }
        true
    }

    /// `url { path digest status_code virtualhost }`.
    fn url(&mut self, s: &Stmt, c: &str) -> Option<UrlCheck> {
        let block = self.block(s, c)?;
        let c = format!("{c}: url");
        let c = c.as_str();
        let mut url = UrlCheck {
            path: String::new(),
            digest: None,
            status_codes: Vec::new(),
            virtualhost: None,
            location: s.at.clone().into(),
        };
        let mut path_given = false;
        let mut valid = true;
        for s in block {
            match s.keyword.as_str() {
                "path" => {
                    path_given = true;
                    match self.one(s, c).map(fields::url_path) {
                        Some(result) => match self.ok(s, c, result) {
                            Some(path) => url.path = path,
                            None => valid = false,
                        },
                        None => valid = false,
                    }
                }
                "digest" => {
                    if let Some(text) = self.one(s, c) {
                        if url.digest.is_some() {
                            self.error(&s.at, c, "digest is given twice");
                        }
                        url.digest = self.ok(s, c, fields::digest(text)).or(url.digest.take());
                    }
                }
                "status_code" => {
                    if !self.no_block(s, c) {
                        continue;
                    }
                    if s.args.is_empty() {
                        self.error(&s.at, c, "status_code needs a value");
                    }
                    for word in &s.args {
                        if let Some(range) = self.ok(s, c, fields::status_code(word)) {
                            url.status_codes.push(range);
                        }
                    }
                }
                "virtualhost" => url.virtualhost = self.one(s, c).map(str::to_owned),
                _ => self.refuse(&keywords::URL, s, c),
            }
        }
        if !path_given {
            self.error(&s.at, c, "no path");
            return None;
        }
        valid.then_some(url)
    }
}

/// FILE_CHECK's `weight N [reverse|noreverse]`.
fn file_weight(args: &[String]) -> Result<(i32, bool), String> {
    let weight = |text: &str| {
        values::in_range(
            "weight",
            parse_integer(text)?,
            -fields::MAX_WEIGHT,
            fields::MAX_WEIGHT,
        )
        .map(|w| w as i32)
    };
    match args {
        [value] => Ok((weight(value)?, false)),
        [value, reverse] if reverse == "reverse" => Ok((weight(value)?, true)),
        [value, reverse] if reverse == "noreverse" => Ok((weight(value)?, false)),
        [] => Err("weight needs a value".into()),
        _ => Err(format!("weight: unexpected '{}'", args[1..].join(" "))),
    }
}
