//! The load balancers' baton.toml, embedded so that `baton demo` needs no files and an
//! operator can read (`baton demo [--l4 | --active-active] --print-config`) exactly what ran.

use super::mode::Mode;

/// lb2's file for the HTTP proxy story; lb1's differs in the priority only.
const LB_CONFIG: &str = include_str!("baton.toml");
/// lb2's file for the L4 story (`--l4`); lb1's differs in the priority only.
const LB_L4_CONFIG: &str = include_str!("baton-l4.toml");
/// lb2's file for the active-active story; lb1's has its two priorities swapped.
const LB_ACTIVE_ACTIVE_CONFIG: &str = include_str!("baton-active-active.toml");

/// The line that [`for_priority`] rewrites.
const PRIORITY_LINE: &str = "\npriority = 150\n";
/// The backup's priority, which lb1's active-active file swaps with [`PRIORITY_LINE`].
const BACKUP_PRIORITY_LINE: &str = "\npriority = 100\n";

/// lb2's baton.toml in `mode`.
pub(crate) fn text(mode: Mode) -> &'static str {
    match mode {
        Mode::L7 => LB_CONFIG,
        Mode::L4 => LB_L4_CONFIG,
        Mode::ActiveActive => LB_ACTIVE_ACTIVE_CONFIG,
    }
}

/// The baton.toml the load balancer `lb` ("lb1" or "lb2") runs in `mode`: lb2's as it is;
/// lb1's with priority 100 where lb2 has 150, and in the active-active story 150 where
/// lb2 has 100, so that each is master of one VIP.
pub(crate) fn for_lb(mode: Mode, lb: &str) -> String {
    match (mode, lb) {
        (_, "lb2") => text(mode).to_owned(),
        (Mode::ActiveActive, _) => swap_priorities(text(mode)),
        _ => for_priority(mode, 100),
    }
}

/// `text` with the lines `priority = 150` and `priority = 100` swapped.
fn swap_priorities(text: &str) -> String {
    const PLACEHOLDER: &str = "\npriority = swapped\n";
    text.replace(PRIORITY_LINE, PLACEHOLDER)
        .replace(BACKUP_PRIORITY_LINE, PRIORITY_LINE)
        .replace(PLACEHOLDER, BACKUP_PRIORITY_LINE)
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

    #[test]
    fn each_active_active_lb_is_master_of_one_vip_and_backup_of_the_other() {
        let mode = Mode::ActiveActive;
        let priorities = |config: &baton_config::Config| {
            config
                .instances
                .iter()
                .map(|instance| (instance.name.clone(), instance.priority.get()))
                .collect::<Vec<_>>()
        };
        let lb1 = load(&for_lb(mode, "lb1"));
        let lb2 = load(&for_lb(mode, "lb2"));
        assert_eq!(
            priorities(&lb2),
            [("VI_1".into(), 150), ("VI_2".into(), 100)]
        );
        assert_eq!(
            priorities(&lb1),
            [("VI_1".into(), 100), ("VI_2".into(), 150)]
        );
        assert_eq!(lb2.frontends.len(), 2);
        // lb1's file differs from lb2's in the two priority lines only.
        let lb1_text = for_lb(mode, "lb1");
        let differing = lb1_text
            .lines()
            .zip(text(mode).lines())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(differing, 2);
        // The other stories' lb1 files are what they always were.
        assert_eq!(for_lb(Mode::L7, "lb1"), for_priority(Mode::L7, 100));
        assert_eq!(for_lb(Mode::L4, "lb2"), text(Mode::L4));
    }
}
