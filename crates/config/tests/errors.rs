//! Every kind of error, as `baton check` prints it: `FILE:LINE: message`, all of them at
//! once, in reading order. Warnings (what keepalived adjusts and logs) are listed apart.

use std::path::{Path, PathBuf};

mod common;

use baton_config::{Errors, load_keepalived, parse_keepalived};
use common::{keepalived_errors, keepalived_warnings, lines, toml_errors};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/errors")
}

/// Paths of fixtures, shortened for the comparison.
fn relative(errors: &Errors) -> Vec<String> {
    let dir = format!("{}/", fixtures().display());
    lines(errors)
        .into_iter()
        .map(|l| l.replace(&dir, ""))
        .collect()
}

const MANY: &str = r#"global_defs {
    router_id lb1
    vrrp_version 2
    smtp_alert maybe
    enable_snmp_vrrp
    startup_script_timeout 0
}
virtual_server 10.0.0.1 80 {
    lvs_sched rr
}
vrrp_script chk {
    script killall -0 haproxy
    weight 300
    interval 0
}
vrrp_instance VI_1 {
    state master
    interface eth0
    virtual_router_id 0
    priority 256
    advert_int 1.5
    use_vmac_addr yes
    track_process {
        haproxy
    }
    authentication {
        auth_type AH
    }
    virtual_ipaddress {
        10.0.0.1/24
        2001:db8::1
    }
    unicast_peer {
        2001:db8::2
    }
    track_script {
        nope
        chk weight 20 backwards
    }
    bogus_keyword yes
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    version 3
    authentication {
        auth_type PASS
        auth_pass x
    }
    advert_int 0.005
    virtual_ipaddress {
        10.0.0.2
    }
}
vrrp_instance VI_3 {
    interface eth0
    virtual_router_id 1
    version 2
    virtual_ipaddress {
        2001:db8::3
    }
}
vrrp_instance VI_4 {
    interface eth0
    virtual_router_id 1
    virtual_ipaddress {
        10.0.0.4
    }
}
vrrp_sync_group G1 {
    group {
        VI_4 missing
    }
}
vrrp_sync_group G2 {
    group {
        VI_4
    }
}
vrrp_instance VI_5 { state MASTER interface eth0 virtual_router_id 5 priority 100 advert_int 1 authentication { auth_type PASS auth_pass pass } virtual_ipaddress { 10.0.3.100 } }
"#;

#[test]
fn every_error_of_a_file_is_reported_together() {
    assert_eq!(
        keepalived_errors(MANY),
        [
            "k.conf:4: global_defs: smtp_alert: 'maybe' is not one of on, off, true, false, yes, no",
            "k.conf:5: global_defs: 'enable_snmp_vrrp' is not supported and will not be: baton exports Prometheus metrics instead of SNMP",
            "k.conf:6: global_defs: startup_script_timeout must be 1..1000 seconds",
            "k.conf:8: virtual server 10.0.0.1:80: no protocol; keepalived 2.2.7 would balance UDP (and log a configuration error): write protocol TCP, UDP or SCTP",
            "k.conf:8: virtual server 10.0.0.1:80/tcp: no real_server (keepalived ignores such a virtual server)",
            "k.conf:12: script chk: script takes one command line; quote it: script \"killall -0 haproxy\" (keepalived would run 'killall' alone)",
            "k.conf:13: script chk: weight 300 is out of range -253..=253",
            "k.conf:14: script chk: interval must be more than 0 seconds",
            "k.conf:17: instance VI_1: state 'master': expected MASTER or BACKUP (upper case, as keepalived)",
            "k.conf:19: instance VI_1: virtual_router_id 0 is out of range 1..=255",
            "k.conf:20: instance VI_1: priority 256 is out of range 1..=255",
            "k.conf:21: instance VI_1: advert_int 1.5 is not valid for VRRPv2, which needs whole seconds from 1 to 255",
            "k.conf:22: instance VI_1: use_vmac_addr takes no value, not 'yes' (one setting per line)",
            "k.conf:24: instance VI_1: track_process haproxy: no vrrp_track_process named haproxy",
            "k.conf:27: instance VI_1: auth_type AH (IPsec AH) is not supported and never will be: RFC 3768 removed it from VRRP in 2004 and implementations disagree on it; use auth_type PASS or no authentication",
            "k.conf:31: instance VI_1: virtual_ipaddress 2001:db8::1 is IPv6 but 10.0.0.1 is IPv4; addresses of the other family go in virtual_ipaddress_excluded",
            "k.conf:34: instance VI_1: unicast_peer 2001:db8::2 is IPv6 but the instance is IPv4",
            "k.conf:37: instance VI_1: track_script nope: no vrrp_script named nope",
            "k.conf:38: instance VI_1: track_script: chk: unexpected 'backwards'",
            "k.conf:40: instance VI_1: unknown keyword 'bogus_keyword' in vrrp_instance",
            "k.conf:42: instance VI_1 is defined twice (first at k.conf:16)",
            "k.conf:46: instance VI_1: VRRPv3 has no authentication (RFC 5798); remove the authentication block or use version 2",
            "k.conf:50: instance VI_1: advert_int 0.005 is not valid for VRRPv3, which needs a multiple of 0.01 from 0.01 to 40.95 seconds",
            "k.conf:58: instance VI_3: VRRPv2 is IPv4 only (RFC 3768); use version 3 for IPv6",
            "k.conf:63: instance VI_4: VRID 1 on eth0 (IPv4) is already used by instance VI_1 at k.conf:42",
            "k.conf:72: sync group G1: no instance named missing",
            "k.conf:77: sync group G2: instance VI_4 is already in sync group G1",
            "k.conf:80: instance VI_5: state takes one value, not 'MASTER interface eth0 virtual_router_id 5 priority 100 advert_int 1 authentication' (one setting per line)",
            "k.conf:80: instance VI_5: no interface; keepalived 2.2.7 refuses every instance without one too (\"(VI_5) Unknown interface!\"), whatever its unicast_src_ip, default_interface or its addresses' dev say",
            "k.conf:80: instance VI_5: no virtual_router_id",
        ]
    );
}

#[test]
fn display_prints_one_error_per_line() {
    let errors = parse_keepalived("vrrp_strict\nfoo bar\n", "k.conf").expect_err("invalid");
    assert_eq!(
        errors.to_string(),
        "k.conf:1: unknown keyword 'vrrp_strict' at the top level (it goes in global_defs)\n\
         k.conf:2: unknown keyword 'foo' at the top level"
    );
    assert_eq!(errors.len(), 2);
}

#[test]
fn lexical_and_block_errors() {
    let text = r#"global_defs {
    router_id "lb1
}
}
$LOOP=x$LOOP
$LOOP
~SEQ(N) vrrp_instance VI_$N { }
vrrp_instance VI_1 {
    interface eth0
"#;
    assert_eq!(
        keepalived_errors(text),
        [
            "k.conf:2: missing closing \"",
            "k.conf:4: '}' without a matching '{'",
            "k.conf:6: parameter substitution does not end (does a parameter use itself?)",
            "k.conf:7: invalid ~SEQ specification '~SEQ(N) vrrp_instance VI_$N { }'",
            "k.conf:8: this '{' is never closed",
            "k.conf:8: instance VI_1: no virtual_router_id",
        ]
    );
}

#[test]
fn settings_that_disagree() {
    let text = r#"vrrp_script chk {
    script "true"
}
vrrp_script chk {
    script "false"
}
vrrp_instance A {
    interface eth0
    authentication {
        auth_type PASS
    }
    virtual_ipaddress {
        10.0.0.1
    }
    unicast_src_ip 2001:db8::1
    preempt_delay 1001
    garp_master_repeat 0
    track_file {
        nothing weight 300
        missing
    }
}
vrrp_instance B {
    virtual_router_id 2
    authentication {
        auth_pass secret
    }
    virtual_ipaddress {
        10.0.0.2/24 peer 10.0.0.3
    }
}
vrrp_sync_group G {
    group {
    }
}
"#;
    assert_eq!(
        keepalived_errors(text),
        [
            "k.conf:4: script chk is defined twice (first at k.conf:1)",
            "k.conf:7: instance A: no virtual_router_id",
            "k.conf:9: instance A: auth_type PASS without auth_pass",
            "k.conf:15: instance A: source address 2001:db8::1 is IPv6 but the instance is IPv4",
            "k.conf:16: instance A: preempt_delay 1001 is out of range 0..=1000 seconds",
            "k.conf:17: instance A: garp_master_repeat 0 is out of range 1..=2147483647",
            "k.conf:19: instance A: track_file: weight 300 is out of range -254..=254",
            "k.conf:20: instance A: track_file missing: no track_file named missing",
            "k.conf:23: instance B: no interface; keepalived 2.2.7 refuses every instance without one too (\"(B) Unknown interface!\"), whatever its unicast_src_ip, default_interface or its addresses' dev say",
            "k.conf:25: instance B: auth_pass without auth_type PASS",
            "k.conf:29: instance B: virtual_ipaddress: address option 'peer' is not supported yet",
            "k.conf:32: sync group G: no member instances ('group' block)",
        ]
    );
}

#[test]
fn more_values_refused() {
    let text = r#"global_defs {
    vrrp_version 4
    vrrp_mcast_group4 10.0.0.1
    script_user nobody :nogroup
}
vrrp_instance V6 {
    interface eth0
    virtual_router_id 1
    advert_int fast
    virtual_ipaddress {
        2001:db8::1 brd +
        fe80::1/129
    }
    unicast_peer {
        2001:db8::2 min_ttl 250 max_ttl 200
    }
    notify_master "/bin/notify 'unterminated"
    notify_backup /bin/a b c d
    notify_fault /bin/b
    notify_fault /bin/c
}
vrrp_instance NO_VIP {
    interface eth0
    virtual_router_id 2
    version 3
}
"#;
    assert_eq!(
        keepalived_errors(text),
        [
            "k.conf:2: global_defs: vrrp_version must be 2 or 3, not 4",
            "k.conf:3: global_defs: vrrp_mcast_group4 10.0.0.1 is not multicast",
            "k.conf:4: global_defs: group ':nogroup': the ':' form (also set the supplementary groups) is not supported yet",
            "k.conf:9: instance V6: advert_int: 'fast' is not a number of seconds",
            "k.conf:11: instance V6: virtual_ipaddress: 'brd' applies to IPv4 addresses only",
            "k.conf:12: instance V6: virtual_ipaddress: 'fe80::1/129': prefix length must be 0..=128",
            "k.conf:15: instance V6: unicast_peer: min_ttl 250 > max_ttl 200: every advert would be discarded",
            "k.conf:17: instance V6: notify_master: missing closing '",
            "k.conf:18: instance V6: notify_backup: expected \"COMMAND ARGS\" [USER [GROUP]], not '/bin/a b c d'; quote the command line",
            "k.conf:20: instance V6: notify_fault is given twice",
            "k.conf:22: instance NO_VIP: no virtual_ipaddress; VRRPv3 needs at least one (no_virtual_ipaddress allows none)",
        ]
    );
}

#[test]
fn includes_report_at_the_include_line() {
    let errors = load_keepalived(fixtures().join("include-missing.conf")).expect_err("invalid");
    assert_eq!(
        relative(&errors),
        [
            "include-missing.conf:1: include does-not-exist.conf: does-not-exist.conf does not exist",
            "include-missing.conf:2: include nothing/*.conf: directory nothing does not exist",
            "bad-instance.conf:3: instance BAD: virtual_router_id 300 is out of range 1..=255",
        ]
    );
    // Plain `include` checks nothing, as in keepalived: what is missing is left out.
    let dir = format!("{}/", fixtures().display());
    let warnings: Vec<String> = errors
        .warnings()
        .iter()
        .map(|w| w.to_string().replace(&dir, ""))
        .collect();
    assert_eq!(
        warnings,
        [
            "include-missing.conf:3: include nothing-either/*.conf: directory nothing-either does not exist; left out",
            "include-missing.conf:5: include also-missing.conf: also-missing.conf does not exist; left out"
        ]
    );

    let errors = load_keepalived(fixtures().join("cycle-a.conf")).expect_err("a cycle");
    assert_eq!(
        relative(&errors),
        [
            "cycle-b.conf:1: include cycle-a.conf: cycle-a.conf is already being read (include cycle)"
        ]
    );

    // An include inside a block is read where it stands, and its errors point into it.
    let errors = load_keepalived(fixtures().join("inside-block.conf")).expect_err("invalid");
    assert_eq!(
        relative(&errors),
        [
            "inside-block.d/addresses.conf:3: instance VI_1: virtual_ipaddress: '10.0.0.2/33': prefix length must be 0..=32"
        ]
    );
}

#[test]
fn keepalived_adjustments_are_warnings() {
    let text = r#"vrrp_script weighted {
    script "/bin/true"
    weight 10
}
vrrp_instance A {
    state MASTER
    nopreempt
    preempt_delay 5
    interface eth0
    virtual_router_id 1
    priority 100
    authentication {
        auth_type PASS
        auth_pass longerthan8
    }
    virtual_ipaddress {
        10.0.0.1
    }
    track_interface {
        eth0
    }
    unicast_peer {
    }
    debug 2
    v3_checksum_as_v2
    priority 101
}
vrrp_instance B {
    interface eth1
    virtual_router_id 2
    priority 255
    nopreempt
    virtual_ipaddress {
        10.0.1.1
    }
}
vrrp_instance C {
    interface eth1
    virtual_router_id 3
    nopreempt
    preempt_delay 3
    virtual_ipaddress {
        2001:db8::1
    }
}
vrrp_sync_group G {
    group {
        A
    }
    global_tracking
}
global_defs {
    notification_email_from x@example.net
}
"#;
    assert_eq!(
        keepalived_warnings(text),
        [
            "k.conf:7: instance A: nopreempt does not work with state MASTER; ignored (write state BACKUP)",
            "k.conf:8: instance A: preempt_delay does not work with state MASTER; ignored",
            "k.conf:14: instance A: auth_pass is longer than 8 characters; only the first 8 are used (as keepalived)",
            "k.conf:20: instance A: track_interface eth0 is the instance's own interface, which is tracked anyway; ignored",
            "k.conf:22: instance A: unicast_peer is empty, so adverts are multicast (as keepalived)",
            "k.conf:24: instance A: debug is ignored (keepalived does not implement it either)",
            "k.conf:25: instance A: v3_checksum_as_v2 only applies to VRRPv3 over IPv4",
            "k.conf:26: instance A: priority is set again; this value replaces the earlier one",
            "k.conf:32: instance B: nopreempt does not apply to the address owner (priority 255); ignored",
            "k.conf:41: instance C: preempt_delay has no effect with nopreempt; ignored",
            "k.conf:43: instance C: the first IPv6 virtual address should be link-local (RFC 5798 §5.2.9)",
            "k.conf:50: sync group G: global_tracking is deprecated; it means sync_group_tracking_weight",
        ]
    );
}

#[test]
fn toml_errors_name_file_and_line() {
    let text = r#"[global]
vrrp_version = 4
frobnicate = true

[[vrrp_script]]
name = "chk"

[[vrrp]]
name = "A"
interface = "eth0"
virtual_router_id = 0
priority = "high"

[[vrrp]]
name = "B"
interface = "eth0"
virtual_router_id = 2
version = 3
authentication = { auth_type = "PASS", auth_pass = "x" }
virtual_ipaddress = ["10.0.0.1 frob", { address = "10.0.0.2", colour = "red" }, 7]
track_script = ["nope", { name = "chk", weight = 999 }]
notify_master = { user = "root" }

[[sync_group]]
name = "G"
group = ["B", "missing"]

[extra]
"#;
    assert_eq!(
        toml_errors(text),
        [
            "b.toml:2: [global]: vrrp_version must be 2 or 3, not 4",
            "b.toml:3: [global]: unknown key 'frobnicate'",
            "b.toml:5: script chk: no 'script' to run",
            "b.toml:11: instance A: virtual_router_id 0 is out of range 1..=255",
            "b.toml:12: instance A: priority: invalid type: string \"high\", expected an integer",
            "b.toml:19: instance B: VRRPv3 has no authentication (RFC 5798); remove the authentication block or use version 2",
            "b.toml:20: instance B: unknown address option 'frob'",
            "b.toml:20: instance B: virtual address: unexpected 'colour = \"red\"'",
            "b.toml:20: instance B: a virtual address must be a string or a table",
            "b.toml:21: instance B: track_script: weight 999 is out of range -253..=253",
            "b.toml:21: instance B: track_script nope: no vrrp_script named nope",
            "b.toml:22: instance B: notify script: no 'script'",
            "b.toml:26: sync group G: no instance named missing",
            "b.toml:28: unknown section 'extra': expected global, vrrp, vrrp_script, track_file, sync_group, frontend, backend, virtual_server, virtual_server_group, anycast, conn_sync or SSL",
        ]
    );
}

#[test]
fn toml_syntax_errors_have_lines() {
    // Only the syntax errors: what the parser recovers would give invented ones.
    let errors = toml_errors("[[vrrp]]\nname = \"A\"\npriority = = 3\n");
    assert!(!errors.is_empty());
    assert!(
        errors.iter().all(|e| e.starts_with("b.toml:3: ")),
        "{errors:?}"
    );
    let errors = toml_errors("[[vrrp]]\nname = \"A\"\n[vrrp]\nname = \"B\"\n");
    assert_eq!(errors, ["b.toml:3: duplicate key"]);
    let errors = toml_errors("vrrp = 3\n");
    assert_eq!(
        errors,
        ["b.toml:1: 'vrrp' must be an array of tables: write [[vrrp]]"]
    );
}

#[test]
fn unreadable_files_are_errors_without_a_line() {
    let missing = fixtures().join("no-such.conf");
    let errors = load_keepalived(&missing).expect_err("missing");
    let text = errors.to_string();
    assert!(
        text.starts_with(&format!("{}: cannot read: ", missing.display())),
        "{text}"
    );
    let errors = baton_config::load_toml(fixtures().join("no-such.toml")).expect_err("missing");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors.iter().next().and_then(|e| e.line), None);
}

#[test]
fn names_and_keywords_out_of_place() {
    let text = "\u{feff}global_defs {
    garp_master_delay 3
}
vrrp_instance A {
    interface a-very-long-interface-name
    virtual_router_id 1
    virtual_ipaddress {
        10.0.0.1 dev another-very-long-name
    }
    router_id x
}
";
    assert_eq!(
        keepalived_errors(text),
        [
            "k.conf:2: global_defs: unknown keyword 'garp_master_delay' in global_defs (it goes in vrrp_instance)",
            "k.conf:4: instance A: interface name 'a-very-long-interface-name' is longer than 15 characters",
            "k.conf:8: instance A: dev 'another-very-long-name' is longer than 15 characters",
            "k.conf:10: instance A: unknown keyword 'router_id' in vrrp_instance (it goes in global_defs)",
        ]
    );
    let toml = "[global]\nscript_group = \"g\"\n\n[[vrrp_script]]\nname = \"s\"\nscript = \"x\"\ngroup = \"g\"\n";
    assert_eq!(
        toml_errors(toml),
        [
            "b.toml:2: [global]: script_group needs a script_user",
            "b.toml:7: script s: group needs a user",
        ]
    );
}

/// Every interface name a configuration gives is at most 15 bytes (IFNAMSIZ - 1), each
/// reported at its line: a longer one names no interface, and the kernel's answer to a
/// lookup of one (ERANGE from rtnetlink) does not say so.
#[test]
fn interface_names_longer_than_the_kernel_allows() {
    let long = "abcdefghijklmnop"; // 16 bytes
    let fits = "abcdefghijklmno"; // 15 bytes
    let text = format!(
        "global_defs {{
    default_interface {long}
}}
garp_group {{
    garp_interval 1
    interfaces {{
        {long}
        {fits}
    }}
}}
static_ipaddress {{
    10.9.9.9/32
    10.9.9.10/32 dev {fits}
}}
static_routes {{
    10.8.0.0/16 dev {long}
    10.6.0.0/16 dev {fits}
}}
static_rules {{
    from 10.5.0.0/16 iif {long} table 100
}}
vrrp_sync_group G {{
    group {{
        VI_1
    }}
    track_interface {{
        {long}
        {fits}
    }}
}}
vrrp_instance VI_1 {{
    interface {fits}
    virtual_router_id 51
    virtual_ipaddress {{
        10.0.3.100/32
    }}
    virtual_routes {{
        10.7.0.0/16 nexthop dev {long}
    }}
}}
"
    );
    assert_eq!(
        keepalived_errors(&text),
        [
            format!(
                "k.conf:4: garp_group: interface '{long}' is longer than 15 characters, the kernel's limit for an interface name"
            ),
            format!(
                "k.conf:12: static_ipaddress: dev '{long}' is longer than 15 characters, the kernel's limit for an interface name"
            ),
            format!(
                "k.conf:16: route 10.8.0.0/16: dev '{long}' is longer than 15 characters, the kernel's limit for an interface name"
            ),
            format!(
                "k.conf:20: rule: iif '{long}' is longer than 15 characters, the kernel's limit for an interface name"
            ),
            format!(
                "k.conf:27: sync group G: track_interface '{long}' is longer than 15 characters, the kernel's limit for an interface name"
            ),
            format!(
                "k.conf:38: instance VI_1: route 10.7.0.0/16: dev '{long}' is longer than 15 characters, the kernel's limit for an interface name"
            ),
        ]
    );
}
