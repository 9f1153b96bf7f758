//! The load balancers' baton.toml, embedded so that `baton demo` needs no files and an
//! operator can read (`baton demo --print-config`) exactly what ran.

/// lb2's file; lb1's differs in the priority only.
pub(crate) const LB_CONFIG: &str = include_str!("baton.toml");

/// The line that [`for_priority`] rewrites.
const PRIORITY_LINE: &str = "\npriority = 150\n";

/// The demo's baton.toml with the VRRP priority set to `priority`.
pub(crate) fn for_priority(priority: u8) -> String {
    LB_CONFIG.replacen(PRIORITY_LINE, &format!("\npriority = {priority}\n"), 1)
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

    #[test]
    fn both_load_balancers_configs_are_valid_and_differ_in_priority_only() {
        assert_eq!(LB_CONFIG.matches(PRIORITY_LINE).count(), 1);
        let lb1 = load(&for_priority(100));
        let lb2 = load(&for_priority(150));
        assert_eq!(lb1.instances[0].priority.get(), 100);
        assert_eq!(lb2.instances[0].priority.get(), 150);
        assert_eq!(lb2.instances[0].advert_interval.as_millis(), 100);
        assert_eq!(lb2.frontends.len(), 1);
        assert_eq!(lb2.backends[0].servers.len(), 2);
        let lb1_text = for_priority(100);
        let differing: Vec<(&str, &str)> = lb1_text
            .lines()
            .zip(LB_CONFIG.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(differing, [("priority = 100", "priority = 150")]);
    }
}
