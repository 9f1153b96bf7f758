//! Address events and the presence check behind keepalived's `track_src_ip`.

use std::net::IpAddr;

use baton_net::{AddressChange, AddressWatcher, interface_has_address, interface_index};

use crate::lab::{Lab, within};

/// Waits for the next event about `address`, skipping the others, and returns it.
async fn next_about(watcher: &mut AddressWatcher, address: IpAddr) -> AddressChange {
    let next = async {
        loop {
            match watcher.next().await.expect("watcher ended") {
                AddressChange::Added { address: a, .. }
                | AddressChange::Removed { address: a, .. }
                    if a != address => {}
                change => return change,
            }
        }
    };
    within(&format!("an event about {address}"), next).await
}

#[test]
fn additions_and_removals_are_reported_and_seen() {
    let Some(lab) = Lab::new("additions_and_removals_are_reported_and_seen") else {
        return;
    };
    let a = lab.a.clone();
    lab.run(move |_, _| async move {
        let mut watcher = AddressWatcher::new().unwrap();
        let index = interface_index("va").unwrap();
        for (text, prefix) in [("10.9.0.15", "24"), ("2001:db8:9::15", "64")] {
            let address: IpAddr = text.parse().unwrap();
            assert!(!interface_has_address("va", address).unwrap());
            a.ip(&format!("address add {text}/{prefix} dev va nodad"));
            assert_eq!(
                next_about(&mut watcher, address).await,
                AddressChange::Added { index, address }
            );
            assert!(interface_has_address("va", address).unwrap());
            a.ip(&format!("address del {text}/{prefix} dev va"));
            assert_eq!(
                next_about(&mut watcher, address).await,
                AddressChange::Removed { index, address }
            );
            assert!(!interface_has_address("va", address).unwrap());
        }
        // An IPv4 address under a label is still the interface's.
        let labelled: IpAddr = "10.9.1.15".parse().unwrap();
        a.ip("address add 10.9.1.15/24 dev va label va:src");
        assert!(interface_has_address("va", labelled).unwrap());
        assert!(!interface_has_address("v", labelled).unwrap());
    });
}
