//! Which real servers of one virtual server take new flows, and at what weight: keepalived's
//! rules (`perform_svr_state`, `update_quorum_state`, `inhibit_on_failure`, the sorry server)
//! as one pure function of the servers' states, so every change (a checker verdict, an
//! operator command, a reload) goes through the same decision.

use std::net::SocketAddr;

use baton_proxy::AdminState;

/// One real server as the daemon sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerState {
    pub(crate) address: SocketAddr,
    /// `weight` from the configuration.
    pub(crate) configured_weight: u32,
    /// Set by `baton server weight`; wins over everything else.
    pub(crate) operator_weight: Option<u32>,
    /// Per checker, its change to the configured weight (a MISC_CHECK with
    /// `misc_dynamic`, a weighted FILE_CHECK; 0 for the others): keepalived adds them up.
    pub(crate) weight_offsets: Vec<i64>,
    /// `baton server drain|disable|enable`.
    pub(crate) admin: AdminState,
    /// One entry per checker: passing now. A server with no checker is always alive.
    pub(crate) checks_up: Vec<bool>,
    /// `inhibit_on_failure`: a failed server stays in the table at weight 0.
    pub(crate) inhibit_on_failure: bool,
}

impl ServerState {
    /// Every checker passes (keepalived's `ISALIVE`).
    pub(crate) fn alive(&self) -> bool {
        self.checks_up.iter().all(|&up| up)
    }

    /// The weight it would get if alive, held within IPVS's range as keepalived's
    /// `real_weight()` does.
    pub(crate) fn weight(&self) -> u32 {
        self.operator_weight.unwrap_or_else(|| {
            let offset: i64 = self.weight_offsets.iter().sum();
            let weight = (i64::from(self.configured_weight) + offset).clamp(0, i64::from(i32::MAX));
            u32::try_from(weight).unwrap_or(0)
        })
    }

    /// What it adds to the quorum: its weight while alive and in service.
    pub(crate) fn live_weight(&self) -> u64 {
        if self.alive() && self.admin == AdminState::Ready {
            u64::from(self.weight())
        } else {
            0
        }
    }
}

/// A server in the data plane's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) address: SocketAddr,
    /// 0: in the table (established flows, counters) but no new flows.
    pub(crate) weight: u32,
}

/// The sum of the live weights: what the quorum is measured against.
pub(crate) fn live_weight(servers: &[ServerState]) -> u64 {
    servers.iter().map(ServerState::live_weight).sum()
}

/// The table for one service.
///
/// - A live, ready server takes its weight; a draining one stays at 0 (its flows go on);
///   a disabled one (`maint`) leaves the table.
/// - A failed server leaves the table, or stays at 0 with `inhibit_on_failure`.
/// - While the service has no quorum and a sorry server exists, every server is held at 0
///   and the sorry server (which the data plane uses when no member has a weight) takes new
///   flows, as keepalived swaps the live servers for the sorry server.
pub(crate) fn members(servers: &[ServerState], quorum_up: bool, has_sorry: bool) -> Vec<Member> {
    let sorry_in_charge = !quorum_up && has_sorry;
    servers
        .iter()
        .filter_map(|server| {
            let weight = match (server.admin, server.alive()) {
                (AdminState::Ready, true) if sorry_in_charge => 0,
                (AdminState::Ready, true) => server.weight(),
                (AdminState::Drain, true) => 0,
                (AdminState::Drain | AdminState::Ready, false) if server.inhibit_on_failure => 0,
                // Disabled by the operator, or failed without inhibit_on_failure.
                _ => return None,
            };
            Some(Member {
                address: server.address,
                weight,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(port: u16, weight: u32) -> ServerState {
        ServerState {
            address: SocketAddr::from(([10, 0, 3, 11], port)),
            configured_weight: weight,
            operator_weight: None,
            weight_offsets: vec![0],
            admin: AdminState::Ready,
            checks_up: vec![true],
            inhibit_on_failure: false,
        }
    }

    fn weights(members: &[Member]) -> Vec<(u16, u32)> {
        members
            .iter()
            .map(|m| (m.address.port(), m.weight))
            .collect()
    }

    #[test]
    fn failed_servers_leave_or_stay_at_zero_with_inhibit() {
        let mut a = server(1, 3);
        let mut b = server(2, 2);
        a.checks_up = vec![true, false];
        assert!(!a.alive());
        assert_eq!(
            weights(&members(&[a.clone(), b.clone()], true, false)),
            [(2, 2)]
        );
        a.inhibit_on_failure = true;
        b.checks_up = Vec::new();
        assert_eq!(
            weights(&members(&[a.clone(), b.clone()], true, false)),
            [(1, 0), (2, 2)]
        );
        assert_eq!(live_weight(&[a, b]), 2);
    }

    #[test]
    fn operator_states_and_weights() {
        let mut a = server(1, 3);
        let mut b = server(2, 2);
        let mut c = server(3, 1);
        a.admin = AdminState::Drain;
        b.admin = AdminState::Maintenance;
        c.weight_offsets = vec![4, 2];
        assert_eq!(
            weights(&members(&[a.clone(), b.clone(), c.clone()], true, false)),
            [(1, 0), (3, 7)]
        );
        c.operator_weight = Some(9);
        assert_eq!(weights(&members(&[c.clone()], true, false)), [(3, 9)]);
        assert_eq!(live_weight(&[a, b, c]), 9);
    }

    #[test]
    fn the_sorry_server_takes_over_only_without_quorum() {
        let servers = [server(1, 1), server(2, 1)];
        assert_eq!(
            weights(&members(&servers, false, true)),
            [(1, 0), (2, 0)],
            "held at 0 so the sorry server gets the new flows"
        );
        assert_eq!(
            weights(&members(&servers, false, false)),
            [(1, 1), (2, 1)],
            "no sorry server: the live servers go on serving"
        );
        assert_eq!(weights(&members(&servers, true, true)), [(1, 1), (2, 1)]);
    }
}
