//! Virtual addresses over rtnetlink, checked against what `ip address show` sees.

use std::net::IpAddr;

use baton_net::{Addresses, Error};

use crate::lab::{Lab, Netns};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// `ip -o address show dev <interface>` lines that mention `address/`.
fn shown(netns: &Netns, interface: &str, address: &str) -> Vec<String> {
    let needle = format!(" {address}/");
    netns
        .ip(&format!("-o address show dev {interface}"))
        .lines()
        .filter(|line| line.contains(&needle))
        .map(str::to_owned)
        .collect()
}

#[test]
fn ipv4_add_list_remove_with_label() {
    let Some(lab) = Lab::new("ipv4_add_list_remove_with_label") else {
        return;
    };
    let netns = lab.a.clone();
    lab.run(move |_, _| async move {
        let addresses = Addresses::new().unwrap();
        let vip = ip("10.99.0.100");
        addresses.add("va", vip, 32, Some("va:vip")).await.unwrap();
        // Adding what is there is fine: a retried transition must not fail.
        addresses.add("va", vip, 32, Some("va:vip")).await.unwrap();

        let listed = addresses.list("va").await.unwrap();
        assert!(
            listed.contains(&(vip, 32, Some("va:vip".into()))),
            "{listed:?}"
        );
        assert!(
            listed.contains(&(ip("10.99.0.1"), 24, Some("va".into()))),
            "{listed:?}"
        );
        let lines = shown(&netns, "va", "10.99.0.100");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("va:vip"), "{lines:?}");

        addresses.remove("va", vip, 32).await.unwrap();
        assert!(shown(&netns, "va", "10.99.0.100").is_empty());
        assert!(
            !addresses
                .list("va")
                .await
                .unwrap()
                .iter()
                .any(|entry| entry.0 == vip)
        );
        // Removing what is not there is fine too.
        addresses.remove("va", vip, 32).await.unwrap();
    });
}

#[test]
fn ipv6_add_is_immediately_usable() {
    let Some(lab) = Lab::new("ipv6_add_is_immediately_usable") else {
        return;
    };
    // DAD is off by default in the lab; turn it on for va so NODAD is what keeps the VIP from
    // being tentative.
    lab.a.sysctl("net/ipv6/conf/va/accept_dad", "1");
    let netns = lab.a.clone();
    lab.run(move |_, _| async move {
        let addresses = Addresses::new().unwrap();
        let vip = ip("fd00:99::100");
        addresses
            .add("va", vip, 64, Some("ignored-for-v6"))
            .await
            .unwrap();
        addresses.add("va", vip, 64, None).await.unwrap();

        let listed = addresses.list("va").await.unwrap();
        assert!(listed.contains(&(vip, 64, None)), "{listed:?}");
        let lines = shown(&netns, "va", "fd00:99::100");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(!lines[0].contains("tentative"), "{lines:?}");

        addresses.remove("va", vip, 64).await.unwrap();
        addresses.remove("va", vip, 64).await.unwrap();
        assert!(shown(&netns, "va", "fd00:99::100").is_empty());
    });
}

/// What the daemon does at startup after a crash: the VIPs of the last run are still there.
#[test]
fn leftover_addresses_are_removed() {
    let Some(lab) = Lab::new("leftover_addresses_are_removed") else {
        return;
    };
    lab.a.ip("addr add 10.99.0.200/32 dev va label va:old");
    lab.a.ip("addr add fd00:99::200/128 dev va nodad");
    let netns = lab.a.clone();
    lab.run(move |_, _| async move {
        let addresses = Addresses::new().unwrap();
        let listed = addresses.list("va").await.unwrap();
        assert!(
            listed.contains(&(ip("10.99.0.200"), 32, Some("va:old".into()))),
            "{listed:?}"
        );
        assert!(
            listed.contains(&(ip("fd00:99::200"), 128, None)),
            "{listed:?}"
        );
        addresses.remove("va", ip("10.99.0.200"), 32).await.unwrap();
        addresses
            .remove("va", ip("fd00:99::200"), 128)
            .await
            .unwrap();
        assert!(shown(&netns, "va", "10.99.0.200").is_empty());
        assert!(shown(&netns, "va", "fd00:99::200").is_empty());
    });
}

#[test]
fn address_errors_name_what_failed() {
    let Some(lab) = Lab::new("address_errors_name_what_failed") else {
        return;
    };
    lab.run(|_, _| async move {
        let addresses = Addresses::new().unwrap();
        let vip = ip("10.99.0.100");
        assert!(matches!(
            addresses.add("nonexistent0", vip, 32, None).await,
            Err(Error::NoSuchInterface { interface }) if interface == "nonexistent0"
        ));
        assert!(matches!(
            addresses.add("va", vip, 33, None).await,
            Err(Error::InvalidPrefix { prefix_len: 33, .. })
        ));
        assert!(matches!(
            addresses
                .add("va", vip, 32, Some("a-label-far-too-long"))
                .await,
            Err(Error::InvalidLabel { .. })
        ));
        // A kernel refusal (a multicast address is no interface address: EINVAL) carries the
        // interface, the address and the operation.
        let error = addresses
            .add("va", ip("ff02::5"), 128, None)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                Error::Address {
                    operation: "adding",
                    ..
                }
            ),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(text.contains("va") && text.contains("ff02::5"), "{text}");
    });
}

#[test]
fn outside_a_runtime_is_an_error() {
    let Some(lab) = Lab::new("addresses_outside_a_runtime") else {
        return;
    };
    let result = lab.a.run(|| Addresses::new().err());
    assert!(
        matches!(result, Some(Error::NoRuntime { .. })),
        "{result:?}"
    );
}

#[test]
fn broadcast_and_scope_are_applied() {
    let Some(lab) = Lab::new("broadcast_and_scope_are_applied") else {
        return;
    };
    let netns = lab.a.clone();
    lab.run(move |_, _| async move {
        let addresses = Addresses::new().unwrap();
        let options = baton_net::AddOptions {
            label: None,
            broadcast: Some("10.98.0.127".parse().unwrap()),
            scope: Some(253),
            ..Default::default()
        };
        addresses
            .add_with("va", ip("10.98.0.100"), 25, &options)
            .await
            .unwrap();
        let lines = shown(&netns, "va", "10.98.0.100");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("brd 10.98.0.127"), "{lines:?}");
        assert!(lines[0].contains("scope link"), "{lines:?}");
        addresses.remove("va", ip("10.98.0.100"), 25).await.unwrap();
    });
}

#[test]
fn address_flags_and_preferred_lifetime_are_applied() {
    let Some(lab) = Lab::new("address_flags_and_preferred_lifetime_are_applied") else {
        return;
    };
    let netns = lab.a.clone();
    lab.run(move |_, _| async move {
        let addresses = Addresses::new().unwrap();
        // keepalived's noprefixroute (IFA_F_NOPREFIXROUTE, only in IFA_FLAGS) and
        // preferred_lft 0 (deprecated: the kernel reports no lifetimes of an IPv4 address
        // that is valid forever).
        let options = baton_net::AddOptions {
            flags: 0x200,
            preferred_lft: Some(0),
            ..Default::default()
        };
        addresses
            .add_with("va", ip("10.98.1.100"), 24, &options)
            .await
            .unwrap();
        let lines = shown(&netns, "va", "10.98.1.100");
        let text = lines.join(" ");
        assert!(text.contains("noprefixroute"), "{lines:?}");
        assert!(text.contains("deprecated"), "{lines:?}");
        addresses.remove("va", ip("10.98.1.100"), 24).await.unwrap();
        // An IPv6 address shows its preferred lifetime.
        let options = baton_net::AddOptions {
            preferred_lft: Some(30),
            ..Default::default()
        };
        addresses
            .add_with("va", ip("fd00:98::100"), 64, &options)
            .await
            .unwrap();
        let lines = shown(&netns, "va", "fd00:98::100");
        let text = lines.join(" ");
        assert!(
            text.contains("preferred_lft 30sec") || text.contains("preferred_lft 29sec"),
            "{lines:?}"
        );
        assert!(text.contains("valid_lft forever"), "{lines:?}");
        addresses
            .remove("va", ip("fd00:98::100"), 64)
            .await
            .unwrap();
    });
}

#[test]
fn add_all_pipelines_and_answers_each_in_order() {
    let Some(lab) = Lab::new("add_all_pipelines_and_answers_each_in_order") else {
        return;
    };
    let netns = lab.a.clone();
    lab.run(move |_, _| async move {
        let addresses = Addresses::new().unwrap();
        let request = |interface, address: &str| baton_net::AddRequest {
            interface,
            address: ip(address),
            prefix_len: 32,
            options: baton_net::AddOptions::default(),
        };
        // One already there (fine, as for `add`), one on an interface that does not exist
        // (fails alone), and enough others to fill the acknowledgements' batch.
        addresses
            .add("va", ip("10.99.0.100"), 32, None)
            .await
            .unwrap();
        let mut requests = vec![
            request("va", "10.99.0.100"),
            request("bnet-none", "10.99.0.99"),
        ];
        let more: Vec<String> = (101..=150).map(|n| format!("10.99.0.{n}")).collect();
        requests.extend(more.iter().map(|address| request("va", address)));
        let results = addresses.add_all(&requests).await;
        assert_eq!(results.len(), requests.len());
        assert!(results[0].is_ok(), "{:?}", results[0]);
        assert!(
            matches!(results[1], Err(Error::NoSuchInterface { .. })),
            "{:?}",
            results[1]
        );
        for (result, address) in results[2..].iter().zip(&more) {
            assert!(result.is_ok(), "{address}: {result:?}");
            assert_eq!(shown(&netns, "va", address).len(), 1, "{address}");
        }
        assert!(addresses.add_all(&[]).await.is_empty());
    });
}
