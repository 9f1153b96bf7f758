//! Whether an `[[anycast]]` section's routes should be in the table, from what it depends
//! on. Pure.

/// One dependency as last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    Up,
    Down,
    /// A frontend or virtual server started just now, whose servers have not all been
    /// checked once: up is only a guess until its first verdict.
    Pending,
}

/// Announced while every dependency is up. One that is down withdraws at once; one whose
/// first verdict is still to come neither announces (a guess would draw the routers'
/// traffic to servers that may fail their first check) nor withdraws what is announced
/// (after a reload, a frontend that was serving goes on serving while its new servers are
/// checked).
pub(crate) fn announced(dependencies: impl IntoIterator<Item = Health>, now: bool) -> bool {
    let mut pending = false;
    for health in dependencies {
        match health {
            Health::Down => return false,
            Health::Pending => pending = true,
            Health::Up => {}
        }
    }
    if pending { now } else { true }
}

#[cfg(test)]
mod tests {
    use super::Health::{Down, Pending, Up};
    use super::*;

    #[test]
    fn down_withdraws_pending_holds_and_all_up_announces() {
        assert!(
            announced([], false),
            "nothing tracked: announced while running"
        );
        assert!(announced([Up, Up], false));
        assert!(!announced([Up, Down], true));
        assert!(!announced([Pending, Down], true));
        assert!(
            !announced([Pending, Up], false),
            "no announcement on a guess"
        );
        assert!(announced([Pending, Up], true), "no withdrawal on a guess");
    }
}
