//! keepalived's links for addresses off the instance's own link: `use_vmac_addr`, an
//! address's own `use_vmac`, and `vmac_addr_prefix`. The names, MACs and placements are
//! the ones keepalived 2.2.7 made from the same files (checked in a network namespace).

use baton_config::{Loaded, VrrpInstance, parse_keepalived};

fn load(text: &str) -> Result<Loaded, Vec<String>> {
    parse_keepalived(text, "k.conf").map_err(|e| e.iter().map(ToString::to_string).collect())
}

/// Where each of the instance's addresses goes, in order.
fn devices(instance: &VrrpInstance) -> Vec<(String, String)> {
    instance
        .all_addresses()
        .map(|v| (v.address.to_string(), instance.device_of(v).to_owned()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// (name, base, MAC) of the instance's address links.
fn links(instance: &VrrpInstance) -> Vec<(String, String, String)> {
    instance
        .address_links
        .links
        .iter()
        .map(|l| {
            let mac: Vec<String> = l.mac.iter().map(|b| format!("{b:02x}")).collect();
            (l.name.clone(), l.base.clone(), mac.join(":"))
        })
        .collect()
}

fn link(name: &str, base: &str, mac: &str) -> (String, String, String) {
    (name.to_owned(), base.to_owned(), mac.to_owned())
}

/// keepalived 2.2.7 ran this file and made vrrp.51 (eth0), vaddr.51 and vaddr6.51 (eth1),
/// vaddr.52 (eth1) and vaddr6.52 (eth0), with the addresses where `devices` says, and
/// complained (naming no line; exit 5 from -t) about the addresses at lines 15 and 30. The
/// file is tests/keepalived_corpus/vmac-addr.conf in the baton crate too.
const PROBE: &str = "\
global_defs {
    router_id probe
    vmac_addr_prefix vaddr
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    use_vmac
    virtual_ipaddress {
        10.0.3.100/24
        10.9.9.100/24 dev eth1 use_vmac
        10.0.3.101/24 use_vmac
    }
    virtual_ipaddress_excluded {
        fd00:9::100/64 dev eth1 use_vmac
        10.9.9.101/24 dev eth1 use_vmac
    }
}
vrrp_instance VI_2 {
    state MASTER
    interface eth0
    virtual_router_id 52
    priority 150
    use_vmac_addr
    virtual_ipaddress {
        10.0.3.102/24
        10.9.9.102/24 dev eth1 use_vmac
    }
    virtual_ipaddress_excluded {
        fd00:3::102/64
    }
}
";

#[test]
fn links_names_and_places_as_keepalived_made_them() {
    let loaded = load(PROBE).expect("valid");
    let vi1 = &loaded.config.instances[0];
    assert_eq!(vi1.vmac.as_ref().expect("vmac").name, "vrrp.51");
    assert_eq!(
        links(vi1),
        [
            link("vaddr.51", "eth1", "00:00:5e:00:01:33"),
            link("vaddr6.51", "eth1", "00:00:5e:00:02:33"),
        ]
    );
    assert_eq!(
        devices(vi1),
        pairs(&[
            ("10.0.3.100", "vrrp.51"),
            ("10.9.9.100", "vaddr.51"),
            ("10.0.3.101", "vrrp.51"),
            ("fd00:9::100", "vaddr6.51"),
            ("10.9.9.101", "vaddr.51"),
        ])
    );
    let vi2 = &loaded.config.instances[1];
    assert!(vi2.vmac.is_none() && vi2.address_links.use_vmac_addr);
    assert_eq!(
        links(vi2),
        [
            link("vaddr.52", "eth1", "00:00:5e:00:01:34"),
            link("vaddr6.52", "eth0", "00:00:5e:00:02:34"),
        ]
    );
    assert_eq!(
        devices(vi2),
        pairs(&[
            ("10.0.3.102", "eth0"),
            ("10.9.9.102", "vaddr.52"),
            ("fd00:3::102", "vaddr6.52"),
        ])
    );
    // keepalived's two complaints, at the address lines, as warnings: it runs the file.
    let lines: Vec<Option<u32>> = loaded.warnings.iter().map(|w| w.line).collect();
    assert_eq!(lines, [Some(15), Some(30)], "{:#?}", loaded.warnings);
    assert!(loaded.warnings[0].message.contains("own vmac already"));
    assert!(loaded.warnings[1].message.contains("use_vmac_addr"));
}

#[test]
fn address_links_take_vmac_prefix_without_vmac_addr_prefix() {
    let text = PROBE
        .replace("vmac_addr_prefix vaddr", "vmac_prefix vm")
        .replace("        10.0.3.101/24 use_vmac\n", "");
    let loaded = load(&text).expect("valid");
    let vi1 = &loaded.config.instances[0];
    // The instance's own link is vm.51: its address link on eth1 takes the next name.
    assert_eq!(vi1.vmac.as_ref().expect("vmac").name, "vm.51");
    let names: Vec<String> = links(vi1).into_iter().map(|l| l.0).collect();
    assert_eq!(names, ["vm1.51", "vm6.51"]);
}

#[test]
fn an_address_use_vmac_without_dev_makes_a_link_on_the_instance_interface() {
    // Without use_vmac on the instance, the address gets a link of its own on eth0.
    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress {\n 10.0.0.1/24\n 10.0.0.2/24 use_vmac\n }\n}\n";
    let loaded = load(text).expect("valid");
    let i = &loaded.config.instances[0];
    assert_eq!(links(i), [link("vrrp.7", "eth0", "00:00:5e:00:01:07")]);
    assert_eq!(
        devices(i),
        pairs(&[("10.0.0.1", "eth0"), ("10.0.0.2", "vrrp.7")])
    );
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn without_vmac_addr_an_address_stays_where_its_dev_says() {
    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 7\n use_vmac\n virtual_ipaddress {\n 10.0.0.1/24\n 10.0.1.1/24 dev eth1\n }\n virtual_ipaddress_excluded {\n fd00::1/64\n }\n}\n";
    let loaded = load(text).expect("valid");
    let i = &loaded.config.instances[0];
    assert!(i.address_links.links.is_empty());
    // The other family goes on the base (keepalived's man page: else on the vmac, with
    // the wrong MAC for the family).
    assert_eq!(
        devices(i),
        pairs(&[
            ("10.0.0.1", "vrrp.7"),
            ("10.0.1.1", "eth1"),
            ("fd00::1", "eth0")
        ])
    );
}

#[test]
fn a_written_mac_serves_both_families_on_one_link() {
    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 7\n use_vmac vm7 02:aa:bb:cc:dd\n use_vmac_addr\n virtual_ipaddress {\n 10.0.0.1/24\n 10.0.1.1/24 dev eth1\n }\n virtual_ipaddress_excluded {\n fd00:1::1/64 dev eth1\n }\n}\n";
    let loaded = load(text).expect("valid");
    let i = &loaded.config.instances[0];
    assert_eq!(links(i), [link("vrrp.7", "eth1", "02:aa:bb:cc:dd:07")]);
    assert_eq!(
        devices(i),
        pairs(&[
            ("10.0.0.1", "vm7"),
            ("10.0.1.1", "vrrp.7"),
            ("fd00:1::1", "vrrp.7")
        ])
    );
}

#[test]
fn instances_of_one_vrid_share_the_link_on_one_interface() {
    let text = "\
vrrp_instance A {\n interface eth0\n virtual_router_id 9\n use_vmac_addr\n virtual_ipaddress {\n 10.0.0.1/24\n 10.0.1.1/24 dev eth2\n }\n}\n\
vrrp_instance B {\n interface eth1\n virtual_router_id 9\n use_vmac_addr\n virtual_ipaddress {\n 10.0.2.1/24\n 10.0.1.2/24 dev eth2\n }\n}\n";
    let loaded = load(text).expect("valid");
    let [a, b] = [&loaded.config.instances[0], &loaded.config.instances[1]];
    assert_eq!(links(a), links(b));
    assert_eq!(a.device_of(&a.virtual_addresses[1]), "vrrp.9");
    assert_eq!(b.device_of(&b.virtual_addresses[1]), "vrrp.9");
}

#[test]
fn use_vmac_on_a_static_address_is_ignored_with_a_warning() {
    let text = "static_ipaddress {\n 10.0.5.1/24 dev eth1 use_vmac\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress {\n 10.0.0.1/24\n }\n}\n";
    let loaded = load(text).expect("valid");
    let warning = loaded
        .warnings
        .iter()
        .find(|w| w.message.contains("use_vmac"))
        .expect("a warning");
    assert_eq!(warning.line, Some(2));
}

#[test]
fn what_keepalived_refuses_is_an_error_at_its_line() {
    let twice = "global_defs {\n vmac_addr_prefix a\n vmac_addr_prefix b\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress {\n 10.0.0.1/24\n }\n}\n";
    let errors = load(twice).expect_err("twice");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("k.conf:3:") && e.contains("already been specified")),
        "{errors:?}"
    );
    let bare = twice.replace(
        " vmac_addr_prefix a\n vmac_addr_prefix b\n",
        " vmac_addr_prefix\n",
    );
    let errors = load(&bare).expect_err("no value");
    assert!(
        errors.iter().any(|e| e.starts_with("k.conf:2:")),
        "{errors:?}"
    );
    let valued = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 7\n use_vmac_addr yes\n virtual_ipaddress {\n 10.0.0.1/24\n }\n}\n";
    let errors = load(valued).expect_err("a value");
    assert!(
        errors.iter().any(|e| e.starts_with("k.conf:4:")),
        "{errors:?}"
    );
}
