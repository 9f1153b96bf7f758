//! RFC 5798 §7.1: "MAY verify that the IPvX Address(es) associated with the VRID are
//! valid". keepalived does (`vrrp_check_packet`, counted as `addr_list_err`), so two routers
//! of one VRID that disagree on the VIPs never elect each other.

use std::net::IpAddr;

use super::{Instance, State};
use crate::packet::Addresses;

impl Instance {
    /// Whether `advertised` must match our addresses and does not. keepalived checks every
    /// advert, unless `skip_check_adv_addr` is set and the advert comes from the master
    /// already seen (`vrrp_state_backup`); a Master has seen no other master, so it checks.
    pub(super) fn foreign_address_list(&self, src: IpAddr, advertised: Addresses<'_>) -> bool {
        let known_master = self.state == State::Backup && self.master == Some(src);
        if self.config.skip_check_advert_addresses && known_master {
            return false;
        }
        // keepalived's test: as many addresses as ours, and each of ours among them.
        let ours = &self.config.virtual_addresses;
        advertised.len() != ours.len() || !ours.iter().all(|&a| advertised.contains(a))
    }
}
