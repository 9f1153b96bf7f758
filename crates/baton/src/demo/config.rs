//! The load balancers' baton.toml, embedded so that `baton demo` needs no files and an
//! operator can read (`baton demo [--l4] --print-config`) exactly what ran.

use super::mode::Mode;

/// lb2's file for the HTTP proxy story; lb1's differs in the priority only.
const LB_CONFIG: &str = include_str!("baton.toml");
/// lb2's file for the L4 story (`--l4`); lb1's differs in the priority only.
const LB_L4_CONFIG: &str = include_str!("baton-l4.toml");

/// The line that [`for_priority`] rewrites.
const PRIORITY_LINE: &str = "\npriority = 150\n";

/// lb2's baton.toml in `mode`.
pub(crate) fn text(mode: Mode) -> &'static str {
    match mode {
        Mode::L7 => LB_CONFIG,
        Mode::L4 => LB_L4_CONFIG,
    }
}

/// The demo's baton.toml in `mode` with the VRRP priority set to `priority`.
pub(crate) fn for_priority(mode: Mode, priority: u8) -> String {
    text(mode).replacen(PRIORITY_LINE, &format!("\npriority = {priority}\n"), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> baton_config::Config {
        match baton_config::parse_toml(text, "demo.toml") {
            Ok(loaded) => {
                assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
                loaded.config
            }
            Err(errors) => panic!("the demo's config does not load:\n{errors}"),
        }
    }

    /// Both load balancers' files in `mode` load, with their priorities, and lb1's differs
    /// from lb2's in the priority line only; lb2's, loaded.
    fn lb2_config(mode: Mode) -> baton_config::Config {
        let lb1 = load(&for_priority(mode, 100));
        let lb2 = load(&for_priority(mode, 150));
        assert_eq!(lb1.instances[0].priority.get(), 100);
        assert_eq!(lb2.instances[0].priority.get(), 150);
        assert_eq!(text(mode).matches(PRIORITY_LINE).count(), 1);
        let lb1_text = for_priority(mode, 100);
        let differing: Vec<(&str, &str)> = lb1_text
            .lines()
            .zip(text(mode).lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(differing, [("priority = 100", "priority = 150")]);
        lb2
    }

    #[test]
    fn both_load_balancers_configs_are_valid_and_differ_in_priority_only() {
        let lb2 = lb2_config(Mode::L7);
        assert_eq!(lb2.instances[0].advert_interval.as_millis(), 100);
        assert_eq!(lb2.frontends.len(), 1);
        assert_eq!(lb2.backends[0].servers.len(), 2);
    }

    #[test]
    fn the_l4_configs_are_valid_and_differ_in_priority_only() {
        let lb2 = lb2_config(Mode::L4);
        assert!(lb2.frontends.is_empty());
        assert_eq!(lb2.virtual_servers.len(), 1);
        assert_eq!(lb2.virtual_servers[0].real_servers.len(), 2);
    }
}
