//! keepalived's `real_server` block of a `virtual_server`, as `check_parser.c` reads it; its
//! checker blocks are read in `checker`.

use crate::keepalived::keywords;
use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::keepalived::virtual_server::{Level, ip_port};
use crate::virtual_server_spec::RealServerDraft;
use crate::virtual_server_spec::fields;

impl Mapper<'_> {
    pub(super) fn real_server(&mut self, s: &Stmt, vs: &str) -> Option<RealServerDraft> {
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
}
