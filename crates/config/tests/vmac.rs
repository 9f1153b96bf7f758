//! keepalived's virtual MAC family: use_vmac, vmac_xmit_base, use_ipvlan, garp_extra_if and
//! their global settings (vmac_prefix, vrrp_garp_extra_if, disable_local_igmp).

use std::time::Duration;

use baton_config::{IpvlanFlags, Loaded, VirtualLinkKind, VrrpInstance, parse_keepalived};

/// A file with `global` in global_defs and one instance per entry of `instances`: (vrid,
/// first address, extra lines).
fn file(global: &str, instances: &[(u8, &str, &str)]) -> String {
    let mut text = format!("global_defs {{\n{global}}}\n");
    for (n, (vrid, address, body)) in instances.iter().enumerate() {
        text.push_str(&format!(
            "vrrp_instance VI_{n} {{\n interface eth0\n virtual_router_id {vrid}\n{body} virtual_ipaddress {{\n {address}\n }}\n}}\n"
        ));
    }
    text
}

fn load(text: &str) -> Result<Loaded, Vec<String>> {
    parse_keepalived(text, "k.conf").map_err(|e| e.iter().map(ToString::to_string).collect())
}

fn instance(loaded: &Loaded, n: usize) -> &VrrpInstance {
    &loaded.config.instances[n]
}

fn warned(loaded: &Loaded, text: &str) -> bool {
    loaded.warnings.iter().any(|w| w.to_string().contains(text))
}

#[test]
fn use_vmac_takes_keepalived_names_and_the_rfc_mac() {
    let loaded = load(&file(
        "",
        &[
            (51, "10.0.0.1", " use_vmac\n"),
            (51, "fe80::51", " use_vmac\n"),
            (52, "10.0.0.2", ""),
        ],
    ))
    .expect("valid");
    let v4 = instance(&loaded, 0);
    let link = v4.vmac.as_ref().expect("vmac");
    assert_eq!(link.name, "vrrp.51");
    assert!(!link.name_written && !link.xmit_base);
    assert_eq!(link.mac(v4.vrid, v4.family()), Some([0, 0, 0x5e, 0, 1, 51]));
    assert_eq!(v4.address_interface(), "vrrp.51");
    assert_eq!(v4.advert_interface(), "vrrp.51");
    // The IPv6 instance of the same VRID takes the next name keepalived tries.
    let v6 = instance(&loaded, 1);
    let link = v6.vmac.as_ref().expect("vmac");
    assert_eq!(link.name, "vrrp6.51");
    assert_eq!(link.mac(v6.vrid, v6.family()), Some([0, 0, 0x5e, 0, 2, 51]));
    let plain = instance(&loaded, 2);
    assert!(plain.vmac.is_none());
    assert_eq!(plain.address_interface(), "eth0");
}

#[test]
fn names_macs_prefix_and_xmit_base_as_written() {
    let loaded = load(&file(
        " vmac_prefix vm\n",
        &[
            (7, "10.0.0.1", " use_vmac\n vmac_xmit_base\n"),
            (8, "10.0.0.2", " use_vmac 02:11:22:33:44:55 lb8\n"),
            (9, "10.0.0.3", " use_vmac 02:11:22:33:44\n"),
        ],
    ))
    .expect("valid");
    let first = instance(&loaded, 0);
    assert_eq!(first.vmac.as_ref().expect("vmac").name, "vm.7");
    assert_eq!(first.address_interface(), "vm.7");
    assert_eq!(first.advert_interface(), "eth0", "vmac_xmit_base");
    let named = instance(&loaded, 1);
    let link = named.vmac.as_ref().expect("vmac");
    assert_eq!((link.name.as_str(), link.name_written), ("lb8", true));
    assert_eq!(
        link.mac(named.vrid, named.family()),
        Some([2, 0x11, 0x22, 0x33, 0x44, 0x55])
    );
    let five = instance(&loaded, 2);
    let link = five.vmac.as_ref().expect("vmac");
    assert_eq!(
        link.mac(five.vrid, five.family()),
        Some([2, 0x11, 0x22, 0x33, 0x44, 9])
    );
}

#[test]
fn use_ipvlan_reads_name_address_and_type() {
    let loaded = load(&file(
        "",
        &[(5, "10.0.0.1", " use_ipvlan ipv5 10.0.0.50/24 private\n")],
    ))
    .expect("valid");
    let i = instance(&loaded, 0);
    let link = i.vmac.as_ref().expect("ipvlan");
    assert_eq!(link.name, "ipv5");
    assert_eq!(
        link.kind,
        VirtualLinkKind::Ipvlan {
            flags: IpvlanFlags::Private,
            address: Some(("10.0.0.50".parse().unwrap(), 24)),
        }
    );
    assert_eq!(link.mac(i.vrid, i.family()), None);
    // keepalived sends from the ipvlan's address when no source is written.
    assert_eq!(i.source_address, Some("10.0.0.50".parse().unwrap()));
}

#[test]
fn keepalived_corrections_are_warnings_at_their_line() {
    let unicast = " use_vmac\n unicast_peer {\n 10.0.0.9\n }\n";
    let loaded = load(&file("", &[(3, "10.0.0.1", unicast)])).expect("valid");
    assert!(instance(&loaded, 0).vmac.as_ref().unwrap().xmit_base);
    assert!(
        warned(
            &loaded,
            "k.conf:6: instance VI_0: unicast with use_vmac requires vmac_xmit_base"
        ),
        "{:?}",
        loaded.warnings
    );

    let loaded = load(&file("", &[(3, "10.0.0.1", " vmac_xmit_base\n")])).expect("valid");
    assert!(instance(&loaded, 0).vmac.is_none());
    assert!(warned(
        &loaded,
        "k.conf:6: instance VI_0: vmac_xmit_base is only valid with a vmac"
    ));

    let strict = " use_vmac\n vmac_xmit_base\n strict_mode\n";
    let loaded = load(&file("", &[(3, "10.0.0.1", strict)])).expect("valid");
    assert!(!instance(&loaded, 0).vmac.as_ref().unwrap().xmit_base);
    assert!(warned(&loaded, "incompatible with strict mode"));
}

#[test]
fn garp_extra_if_and_its_global_default() {
    let loaded = load(&file(
        " vrrp_garp_extra_if all 30\n disable_local_igmp\n",
        &[
            (1, "10.0.0.1", " use_vmac\n"),
            (2, "10.0.0.2", " use_vmac\n garp_extra_if 5\n"),
            (3, "10.0.0.3", " use_vmac\n vmac_garp_intvl 0\n"),
        ],
    ))
    .expect("valid");
    let global = &loaded.config.global.vmac;
    assert!(global.disable_local_igmp);
    let inherited = instance(&loaded, 0).garp_extra_if.expect("global default");
    assert_eq!(
        (inherited.interval, inherited.all),
        (Duration::from_secs(30), true)
    );
    let own = instance(&loaded, 1).garp_extra_if.expect("own");
    assert_eq!((own.interval, own.all), (Duration::from_secs(5), false));
    assert!(
        instance(&loaded, 2).garp_extra_if.is_none(),
        "0 turns it off"
    );
    assert!(warned(
        &loaded,
        "vmac_garp_intvl is deprecated - please use garp_extra_if"
    ));
}

#[test]
fn errors_name_file_and_line() {
    let text = file(
        " vmac_prefix a\n vmac_prefix b\n vrrp_garp_extra_if all\n",
        &[
            (1, "10.0.0.1", " use_vmac 01:00:5e:00:00:01\n"),
            (2, "10.0.0.2", " use_vmac 00:00:5e:00:01:02\n"),
            (3, "10.0.0.3", " use_vmac bad:name:x\n"),
            (4, "10.0.0.4", " use_vmac this-name-is-too-long\n"),
            (5, "10.0.0.5", " use_vmac shared\n"),
            (6, "10.0.0.6", " use_vmac shared\n"),
            (7, "10.0.0.7", " use_ipvlan\n"),
            (8, "10.0.0.8", " use_vmac\n use_ipvlan x 10.0.0.80/24\n"),
            (9, "10.0.0.9", " garp_extra_if all 90000\n"),
        ],
    );
    let errors = load(&text).expect_err("invalid");
    let expected = [
        "k.conf:3: global_defs: vmac_prefix has already been specified - ignoring b",
        "k.conf:4: global_defs: vrrp_garp_extra_if specified without time",
        "k.conf:9: instance VI_0: VMAC MAC address is multicast 01:00:5e:00:00:01",
        "k.conf:17: instance VI_1: VMAC MAC address not allowed to be RFC5798 address (00:00:5e:00:01:02)",
        "k.conf:25: instance VI_2: VMAC invalid MAC address bad:name:x",
        "k.conf:33: instance VI_3: VMAC interface name 'this-name-is-too-long' too long",
        "k.conf:49: instance VI_5: instance VI_4 is already using shared",
        "k.conf:57: instance VI_6: an IPv4 ipvlan needs its address",
        "k.conf:66: instance VI_7: use_ipvlan after use_vmac or use_ipvlan",
        "k.conf:74: instance VI_8: garp_extra_if '90000' invalid",
    ];
    for message in expected {
        assert!(
            errors.iter().any(|e| e.starts_with(message)),
            "missing {message:?} in {errors:#?}"
        );
    }
}

#[test]
fn addresses_on_the_own_interface_go_on_the_vmac() {
    let body = " use_vmac\n virtual_ipaddress_excluded {\n fe80::1/64\n 10.0.0.7/24 dev eth1\n }\n";
    let loaded = load(&file("", &[(4, "10.0.0.1/24 dev eth0", body)])).expect("valid");
    let i = instance(&loaded, 0);
    let devices: Vec<&str> = i.all_addresses().map(|v| i.device_of(v)).collect();
    // keepalived: `dev eth0` on an eth0 instance is its vmac; the other family stays on
    // the base, another interface is that interface.
    assert_eq!(devices, ["vrrp.4", "eth0", "eth1"]);
}
