//! keepalived's LVS family into the draft, as `check_parser.c`, `check_api.c` and the
//! `check_*.c` checkers read it: `virtual_server`, `virtual_server_group`, `real_server`,
//! `sorry_server`, the checker blocks, `SSL`, and the checker keywords of `global_defs`.
//! Keywords not read here are refused with the reason listed in `keywords`.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::keepalived::keywords::{self, Context};
use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::spec::At;
use crate::values::{self, parse_integer, parse_ip};
use crate::virtual_server::{SslContext, UrlCheck};
use crate::virtual_server_spec::fields;
use crate::virtual_server_spec::{
    CheckerDraft, CheckerKindDraft, FileDraft, GroupDraft, GroupEntry, HttpDraft, MiscDraft,
    RealServerDraft, SchedFlag, ServiceDraft, SorryDraft, TimingDraft, UdpDraft,
    VirtualServerDraft,
};

/// Which level a timing keyword is read at: keepalived's ranges differ slightly.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Server,
    Checker,
}

impl Mapper<'_> {
    /// The checker-process keywords of `global_defs`; false if `s` is something else.
    pub(super) fn lvs_global(&mut self, s: &Stmt, c: &str) -> bool {
        let keyword = s.keyword.as_str();
        match keyword {
            "checker_log_all_failures" => {
                if let Some(on) = self.flag(s, c) {
                    self.draft.global.checker_log_all_failures = Some(on);
                }
            }
            "rs_init_notifies" => {
                if let Some(on) = self.flag(s, c) {
                    self.draft.global.rs_init_notifies = on;
                }
            }
            "nftables_ipvs" | "nftables_ipvs_priority" | "nftables_ipvs_start_fwmark" => {
                self.d.warn(
                    &s.at,
                    format!(
                        "{c}: {keyword} is ignored: baton's L4 balancing is always nf_tables, \
                         in a table of its own"
                    ),
                );
            }
            // baton's table is its own: replaced whole at start, removed at stop.
            "lvs_flush" => {
                let _ = self.no_value(s, c);
            }
            "lvs_flush_on_stop" | "lvs_flush_onstop" => {
                let _ = self.no_block(s, c);
            }
            _ => return false,
        }
        true
    }

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

    /// `virtual_server_group NAME { IP [PORT] | RANGE [PORT] | fwmark N [inet|inet6] }`.
    pub(super) fn virtual_server_group(&mut self, s: &Stmt) {
        let Some((name, block)) = self.named(s) else {
            return;
        };
        let c = format!("virtual_server_group {name}");
        let c = c.as_str();
        let mut group = GroupDraft {
            name,
            location: s.at.clone(),
            entries: Vec::new(),
        };
        for entry in block {
            if !self.no_block(entry, c) {
                continue;
            }
            let result = group_entry(entry);
            if let Some(entry) = self.ok(entry, c, result) {
                group.entries.push(entry);
            }
        }
        self.draft.virtual_server_groups.push(group);
    }

    /// `virtual_server IP [PORT] | fwmark N | group NAME { ... }`.
    pub(super) fn virtual_server(&mut self, s: &Stmt) {
        let c = format!("virtual_server {}", s.rest());
        let c = c.trim_end();
        let mut v = VirtualServerDraft::new(s.at.clone());
        v.protocol_required = true;
        let service = service(&s.args, &s.at);
        v.service = self.ok(s, "", service);
        let Some(block) = self.block(s, "") else {
            return;
        };
        for s in block {
            if self.timing(&mut v.timing, s, c, Level::Server) {
                continue;
            }
            let keyword = s.keyword.as_str();
            match keyword {
                "ip_family" => {
                    if let Some(text) = self.one(s, c) {
                        v.ip_family = self
                            .ok(s, c, fields::ip_family(text))
                            .map(|f| At::new(f, s.at.clone()));
                    }
                }
                "protocol" => {
                    if let Some(text) = self.one(s, c) {
                        v.protocol = self.ok(s, c, fields::protocol(text)).or(v.protocol);
                    }
                }
                "lb_algo" | "lvs_sched" => {
                    if let Some(text) = self.one(s, c) {
                        v.lb_algo = self.ok(s, c, fields::lb_algo(text)).or(v.lb_algo);
                    }
                }
                "sh-port" | "sh-fallback" | "mh-port" | "mh-fallback" | "flag-1" | "flag-2"
                | "flag-3" | "hashed" => {
                    let flag = match keyword {
                        "sh-port" => SchedFlag::ShPort,
                        "sh-fallback" => SchedFlag::ShFallback,
                        "mh-port" => SchedFlag::MhPort,
                        "mh-fallback" => SchedFlag::MhFallback,
                        "flag-1" => SchedFlag::Flag1,
                        "flag-2" => SchedFlag::Flag2,
                        "flag-3" => SchedFlag::Flag3,
                        _ => SchedFlag::Hashed,
                    };
                    if self.no_value(s, c) {
                        v.sched_flags.push(At::new(flag, s.at.clone()));
                    }
                }
                "lb_kind" | "lvs_method" => v.lb_kind = self.lb_kind(s, c).or(v.lb_kind),
                "persistence_timeout" => {
                    if !self.no_block(s, c) {
                        continue;
                    }
                    let result = match s.args.as_slice() {
                        [] => Ok(fields::DEFAULT_PERSISTENCE as u32),
                        [value] => parse_integer(value).and_then(fields::persistence_timeout),
                        _ => Err(format!(
                            "persistence_timeout takes one value, not '{}'",
                            s.rest()
                        )),
                    };
                    v.persistence_timeout = self.ok(s, c, result).or(v.persistence_timeout);
                }
                "persistence_granularity" => {
                    if let Some(text) = self.one(s, c) {
                        v.persistence_granularity = self
                            .ok(s, c, fields::granularity(text))
                            .map(|g| At::new(g, s.at.clone()));
                    }
                }
                "ha_suspend" => {
                    if self.no_value(s, c) {
                        v.ha_suspend = Some(At::new(true, s.at.clone()));
                    }
                }
                "smtp_alert" => v.smtp_alert = self.smtp_alert(s, c).or(v.smtp_alert),
                "virtualhost" => v.virtualhost = self.one(s, c).map(str::to_owned),
                "omega" => v.omega |= self.no_value(s, c),
                "quorum" => {
                    if let Some(n) = self.integer(s, c) {
                        v.quorum = self.ok(s, c, fields::unsigned("quorum", n, 1));
                    }
                }
                "hysteresis" => {
                    if let Some(n) = self.integer(s, c) {
                        v.hysteresis = self.ok(s, c, fields::unsigned("hysteresis", n, 0));
                    }
                }
                "quorum_up" | "quorum_down" => {
                    let slot = if keyword == "quorum_up" {
                        &mut v.quorum_up
                    } else {
                        &mut v.quorum_down
                    };
                    if slot.is_some() {
                        self.error(&s.at, c, format!("{keyword} is given twice"));
                        continue;
                    }
                    *slot = self.notify_script(s, c);
                }
                "weight" => {
                    if let Some(n) = self.integer(s, c) {
                        v.weight = self.ok(s, c, fields::default_weight(n));
                    }
                }
                "inhibit_on_failure" => {
                    v.inhibit_on_failure = self.flag(s, c).or(v.inhibit_on_failure);
                }
                "sorry_server" => {
                    if !self.no_block(s, c) {
                        continue;
                    }
                    let result = ip_port(&s.args).map_err(|e| format!("sorry_server: {e}"));
                    if let Some(address) = self.ok(s, c, result) {
                        v.sorry_server = Some(SorryDraft {
                            address,
                            inhibit: false,
                            lb_kind: None,
                            location: s.at.clone(),
                        });
                    }
                }
                "sorry_server_inhibit" | "sorry_server_lvs_method" => {
                    let kind = if keyword == "sorry_server_lvs_method" {
                        self.lb_kind(s, c)
                    } else {
                        self.no_value(s, c).then_some(crate::LbKind::Nat)
                    };
                    let Some(sorry) = v.sorry_server.as_mut() else {
                        // keepalived: "used before or without sorry_server", and ignored.
                        self.error(
                            &s.at,
                            c,
                            format!("{keyword} must come after a sorry_server"),
                        );
                        continue;
                    };
                    match (keyword, kind) {
                        ("sorry_server_inhibit", Some(_)) => sorry.inhibit = true,
                        (_, Some(kind)) => sorry.lb_kind = Some(kind),
                        _ => {}
                    }
                }
                "real_server" => {
                    if let Some(real) = self.real_server(s, c) {
                        v.real_servers.push(real);
                    }
                }
                _ => self.refuse(&keywords::VIRTUAL_SERVER, s, c),
            }
        }
        self.draft.virtual_servers.push(v);
    }

    /// `lb_kind` / `lvs_method` and the like: `NAT` or `DR` (TUN is refused).
    fn lb_kind(&mut self, s: &Stmt, c: &str) -> Option<crate::LbKind> {
        if !self.no_block(s, c) {
            return None;
        }
        let result = match s.args.split_first() {
            None => Err(format!("{} needs NAT or DR", s.keyword)),
            Some((kind, rest)) => fields::lb_kind(kind).and_then(|kind| {
                if rest.is_empty() {
                    Ok(kind)
                } else {
                    Err(format!("{}: unexpected '{}'", s.keyword, rest.join(" ")))
                }
            }),
        };
        self.ok(s, c, result)
    }

    /// `retry`, `delay_before_retry`, `warmup`, `delay_loop`, `connect_timeout`, `alpha`;
    /// false if `s` is something else.
    fn timing(&mut self, timing: &mut TimingDraft, s: &Stmt, c: &str, level: Level) -> bool {
        let keyword = s.keyword.as_str();
        match keyword {
            "retry" | "nb_get_retry" => {
                if keyword == "nb_get_retry" {
                    self.d.warn(
                        &s.at,
                        format!("{c}: nb_get_retry is deprecated; it means retry"),
                    );
                }
                // keepalived: 1 or more for servers, 0 or more in a checker.
                let min = if level == Level::Checker { 0 } else { 1 };
                if let Some(n) = self.integer(s, c) {
                    timing.retry = self
                        .ok(s, c, fields::unsigned(keyword, n, min))
                        .or(timing.retry);
                }
            }
            "delay_before_retry" | "warmup" => {
                if let Some(d) = self.seconds(s, c) {
                    if keyword == "warmup" {
                        timing.warmup = Some(d);
                    } else {
                        timing.delay_before_retry = Some(d);
                    }
                }
            }
            "delay_loop" | "connect_timeout" => {
                let Some(d) = self.seconds(s, c) else {
                    return true;
                };
                let result = crate::fields::script_period(keyword, d);
                let Some(d) = self.ok(s, c, result) else {
                    return true;
                };
                if keyword == "delay_loop" {
                    timing.delay_loop = Some(d);
                } else {
                    timing.connect_timeout = Some(d);
                }
            }
            "alpha" => timing.alpha = self.flag(s, c).or(timing.alpha),
            _ => return false,
        }
        true
    }

    fn real_server(&mut self, s: &Stmt, vs: &str) -> Option<RealServerDraft> {
        let c = format!("{vs}: real_server {}", s.rest());
        let c = c.trim_end();
        let result = ip_port(&s.args).map_err(|e| format!("real_server: {e}"));
        let address = self.ok(s, vs, result);
        // keepalived allows a real server without a block (no checker: always up).
        let block = s.block.as_deref().unwrap_or_default();
        let mut r = RealServerDraft::new(address?, s.at.clone());
        for s in block {
            if self.timing(&mut r.timing, s, c, Level::Server) {
                continue;
            }
            let keyword = s.keyword.as_str();
            match keyword {
                "weight" => {
                    if let Some(n) = self.integer(s, c) {
                        r.weight = self.ok(s, c, fields::weight(n));
                    }
                }
                "lvs_method" => r.lb_kind = self.lb_kind(s, c).or(r.lb_kind),
                "uthreshold" | "lthreshold" => {
                    if let Some(n) = self.integer(s, c) {
                        let value = self.ok(s, c, fields::unsigned(keyword, n, 0));
                        if keyword == "uthreshold" {
                            r.uthreshold = value;
                        } else {
                            r.lthreshold = value;
                        }
                    }
                }
                "inhibit_on_failure" => {
                    r.inhibit_on_failure = self.flag(s, c).or(r.inhibit_on_failure);
                }
                "notify_up" | "notify_down" => {
                    let slot = if keyword == "notify_up" {
                        &mut r.notify_up
                    } else {
                        &mut r.notify_down
                    };
                    if slot.is_some() {
                        self.error(&s.at, c, format!("{keyword} is given twice"));
                        continue;
                    }
                    *slot = self.notify_script(s, c);
                }
                "smtp_alert" => r.smtp_alert = self.smtp_alert(s, c).or(r.smtp_alert),
                "virtualhost" => r.virtualhost = self.one(s, c).map(str::to_owned),
                "TCP_CHECK" | "HTTP_GET" | "SSL_GET" | "MISC_CHECK" | "SMTP_CHECK"
                | "DNS_CHECK" | "UDP_CHECK" | "PING_CHECK" | "FILE_CHECK" => {
                    let checkers = self.checker(s, c);
                    r.checkers.extend(checkers);
                }
                _ => self.refuse(&keywords::REAL_SERVER, s, c),
            }
        }
        Some(r)
    }

    /// One checker block; SMTP_CHECK's deprecated `host` blocks make more than one.
    fn checker(&mut self, s: &Stmt, rs: &str) -> Vec<CheckerDraft> {
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

/// `IP [PORT]`: no port, or 0, is port 0.
fn ip_port(args: &[String]) -> Result<SocketAddr, String> {
    match args {
        [ip] => Ok(SocketAddr::new(parse_ip(ip)?, 0)),
        [ip, port] => Ok(SocketAddr::new(parse_ip(ip)?, fields::port("port", port)?)),
        [] => Err("needs an address and a port".into()),
        _ => Err(format!("expected IP [PORT], not '{}'", args.join(" "))),
    }
}

/// What follows `virtual_server`.
fn service(args: &[String], at: &crate::Location) -> Result<ServiceDraft, String> {
    match args {
        [fwmark, mark] if fwmark == "fwmark" => {
            Ok(ServiceDraft::Fwmark(fields::fwmark(parse_integer(mark)?)?))
        }
        [group, name] if group == "group" => {
            Ok(ServiceDraft::Group(At::new(name.clone(), at.clone())))
        }
        [_] | [_, _] => ip_port(args)
            .map(ServiceDraft::Address)
            .map_err(|e| format!("virtual_server: {e}")),
        _ => Err(format!(
            "virtual_server takes IP [PORT], fwmark N or group NAME, not '{}'",
            args.join(" ")
        )),
    }
}

/// A line of a `virtual_server_group`.
fn group_entry(entry: &Stmt) -> Result<GroupEntry, String> {
    let location = entry.at.clone();
    if entry.keyword == "fwmark" {
        let (mark, family) = match entry.args.as_slice() {
            [mark] => (mark, None),
            [mark, family] => (mark, Some(fields::ip_family(family)?)),
            _ => return Err("fwmark takes N [inet|inet6]".into()),
        };
        return Ok(GroupEntry {
            service: crate::ServiceMatch::Fwmark(fields::fwmark(parse_integer(mark)?)?),
            family,
            location,
        });
    }
    let port = match entry.args.as_slice() {
        [] => 0,
        [port] => fields::port("port", port)?,
        [port, _weight] => {
            // Older keepalived read a weight here; 2.2.7 ignores the word, and so must we.
            fields::port("port", port)?
        }
        _ => {
            return Err(format!(
                "expected ADDRESS [PORT], not '{} {}'",
                entry.keyword,
                entry.rest()
            ));
        }
    };
    Ok(GroupEntry {
        service: fields::group_match(&entry.keyword, port)?,
        family: None,
        location,
    })
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
