//! The gratuitous ARP / unsolicited NA timers of an instance (`garp_master_delay`, ...), and
//! their `vrrp_`-prefixed defaults in `global_defs`.

use crate::fields;
use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::spec::GarpDraft;

impl Mapper<'_> {
    pub(super) fn garp(
        &mut self,
        garp: &mut GarpDraft,
        s: &Stmt,
        name: &str,
        context: &str,
    ) -> bool {
        let slot = match name {
            "garp_master_delay" => 0,
            "garp_master_repeat" => 1,
            "garp_master_refresh" => 2,
            "garp_master_refresh_repeat" => 3,
            "garp_lower_prio_delay" => 4,
            "garp_lower_prio_repeat" => 5,
            _ => return false,
        };
        let Some(value) = self.integer(s, context) else {
            return true;
        };
        let keyword = s.keyword.as_str();
        match slot {
            0 => garp.master_delay = self.ok(s, context, fields::garp_seconds(keyword, value)),
            1 => garp.master_repeat = self.ok(s, context, fields::count(keyword, value)),
            2 => garp.master_refresh = self.ok(s, context, fields::garp_seconds(keyword, value)),
            3 => garp.master_refresh_repeat = self.ok(s, context, fields::count(keyword, value)),
            4 => {
                garp.lower_prio_delay =
                    self.ok(s, context, fields::lower_prio_delay(keyword, value))
            }
            _ => {
                garp.lower_prio_repeat =
                    self.ok(s, context, fields::lower_prio_repeat(keyword, value))
            }
        }
        true
    }
}
