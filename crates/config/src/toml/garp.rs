//! The four `garp_master_*` settings of a `[[vrrp]]` instance, and their `vrrp_`-prefixed
//! defaults in `[global]`.

use toml::Spanned;

use super::Reader;
use crate::fields;
use crate::spec::GarpDraft;

impl Reader<'_> {
    /// The four `garp_master_*` settings, in that order.
    pub(super) fn garp(
        &mut self,
        c: &str,
        settings: [(&str, Option<Spanned<i64>>); 4],
    ) -> GarpDraft {
        let mut garp = GarpDraft::default();
        for (i, (name, value)) in settings.into_iter().enumerate() {
            let Some(value) = value else { continue };
            let offset = value.span().start;
            let v = *value.get_ref();
            match i {
                0 => garp.master_delay = self.check(offset, c, fields::garp_seconds(name, v)),
                1 => garp.master_repeat = self.check(offset, c, fields::count(name, v)),
                2 => garp.master_refresh = self.check(offset, c, fields::garp_seconds(name, v)),
                _ => garp.master_refresh_repeat = self.check(offset, c, fields::count(name, v)),
            }
        }
        garp
    }
}
