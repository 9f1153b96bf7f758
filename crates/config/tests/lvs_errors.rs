//! Every refusal and validation error of the L4 family, as `baton check` prints it
//! (`FILE:LINE: message`, all at once), and the warnings where keepalived corrects a
//! setting and logs it.

mod common;

use baton_config::{parse_keepalived, parse_toml};
use common::{keepalived_errors, keepalived_warnings, lines, toml_errors};

/// Errors and warnings of a keepalived.conf that has errors.
fn errors_and_warnings(text: &str) -> (Vec<String>, Vec<String>) {
    match parse_keepalived(text, "k.conf") {
        Ok(loaded) => panic!("expected errors, got {loaded:?}"),
        Err(errors) => (
            lines(&errors),
            errors.warnings().iter().map(ToString::to_string).collect(),
        ),
    }
}

const REFUSED: &str = r#"global_defs {
    lvs_sync_daemon eth0 VI_1
    checker_priority -5
    lvs_timeouts tcp 900
    lvs_notify_fifo /run/fifo
}
virtual_server 10.0.0.1 80 {
    protocol TCP
    lb_kind TUN
    ops
    persistence_engine sip
    snmp_name web
    lb_algo fastest
    persistence_granularity 255.0.255.0
    sorry_server 2001:db8::9 80
    quorum 0
    real_server 10.0.0.2 80 {
        lvs_method TUN
        weight -1
        BFD_CHECK {
            name bfd1
        }
        HTTP_GET {
            url {
                path /
                regex "ok"
            }
        }
        FILE_CHECK {
            track_file nope
        }
        MISC_CHECK {
            misc_path /bin/check arg
        }
    }
    real_server 10.0.0.2 80 {
    }
    real_server 2001:db8::2 80 {
    }
}
virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 10.0.0.3 80 {
        HTTP_GET {
        }
    }
}
virtual_server 10.0.0.5 80 {
    protocol TCP
    lb_kind DR
    quorum 10
    hysteresis 20
    real_server 10.0.0.6 8080 {
    }
}
virtual_server fwmark 9 {
    lb_kind DR
    real_server 10.0.0.7 80 {
        TCP_CHECK {
        }
    }
}
virtual_server group missing {
    protocol TCP
    real_server 10.0.0.8 80 {
    }
}
virtual_server_group mixed {
    10.0.0.10 80
    2001:db8::10 80
    10.0.0.11-5 80
}
virtual_server 10.0.0.12 0 {
    protocol UDP
    sh-port
    real_server 10.0.0.13 {
        UDP_CHECK {
            min_reply_length 10
            max_reply_length 5
        }
    }
}
virtual_server 10.0.0.14 80 {
    real_server 10.0.0.15 80 {
    }
}
"#;

#[test]
fn every_refusal_and_error_names_its_line() {
    let (errors, warnings) = errors_and_warnings(REFUSED);
    assert_eq!(
        errors,
        [
            "k.conf:2: conn_sync: no vrrp instance named VI_1",
            "k.conf:4: global_defs: 'lvs_timeouts' is not supported and will not be: baton's flows live in nf_conntrack, whose timeouts are the kernel's sysctls (net.netfilter.nf_conntrack_tcp_timeout_established, ..._udp_timeout); set them there",
            "k.conf:9: virtual_server 10.0.0.1 80: TUN is not supported and will not be: IP-in-IP (and GUE, GRE) forwarding needs a tunnel device per real server, and nf_tables cannot encapsulate packets; use NAT, or DR with the real servers on this host's network",
            "k.conf:10: virtual_server 10.0.0.1 80: 'ops' is not supported and will not be: one-packet scheduling would need stateless NAT of each datagram and its answers; baton's nf_tables data plane NATs flows through conntrack",
            "k.conf:11: virtual_server 10.0.0.1 80: 'persistence_engine' is not supported and will not be: the only engine, sip, parses SIP Call-IDs in the kernel's IPVS module; nf_tables has no expression for it",
            "k.conf:12: virtual_server 10.0.0.1 80: 'snmp_name' is not supported and will not be: baton exports Prometheus metrics instead of SNMP",
            "k.conf:13: virtual_server 10.0.0.1 80: lb_algo 'fastest': expected rr, wrr, lc, wlc, lblc, lblcr, sh, dh, mh, sed, nq, fo, ovf or twos",
            "k.conf:14: virtual_server 10.0.0.1 80: persistence_granularity '255.0.255.0' is not a contiguous netmask",
            "k.conf:15: virtual server 10.0.0.1:80/tcp: sorry_server 2001:db8::9 is IPv6 but the service is IPv4",
            "k.conf:16: virtual_server 10.0.0.1 80: quorum 0 is out of range 1..=4294967295",
            "k.conf:18: virtual_server 10.0.0.1 80: real_server 10.0.0.2 80: TUN is not supported and will not be: IP-in-IP (and GUE, GRE) forwarding needs a tunnel device per real server, and nf_tables cannot encapsulate packets; use NAT, or DR with the real servers on this host's network",
            "k.conf:19: virtual_server 10.0.0.1 80: real_server 10.0.0.2 80: weight -1 is out of range 0..=2147483647",
            "k.conf:20: virtual_server 10.0.0.1 80: real_server 10.0.0.2 80: 'BFD_CHECK' is not supported and will not be: baton's checkers do not use BFD sessions; a vrrp_instance can track one (track_bfd)",
            "k.conf:26: virtual_server 10.0.0.1 80: real_server 10.0.0.2 80: HTTP_GET: url: 'regex' is not supported and will not be: baton's checkers do not match bodies against regular expressions (it carries no PCRE engine); use digest, or a MISC_CHECK running curl | grep",
            "k.conf:30: virtual server 10.0.0.1:80/tcp: real server 10.0.0.2:80: FILE_CHECK track_file nope: no track_file named nope",
            "k.conf:33: virtual_server 10.0.0.1 80: real_server 10.0.0.2 80: MISC_CHECK: misc_path takes one command line; quote it: misc_path \"/bin/check arg\" (keepalived would run '/bin/check' alone)",
            "k.conf:36: virtual server 10.0.0.1:80/tcp: real server 10.0.0.2:80 is listed twice (first at k.conf:17)",
            "k.conf:38: virtual server 10.0.0.1:80/tcp: real server 2001:db8::2 is IPv6 but the service is IPv4 (mixing them needs TUN, which baton does not support)",
            "k.conf:41: virtual server 10.0.0.1:80/tcp is defined twice (first at k.conf:7)",
            "k.conf:44: virtual server 10.0.0.1:80/tcp: real server 10.0.0.3:80: HTTP_GET has no url to check",
            "k.conf:53: virtual server 10.0.0.5:80/tcp: real server 10.0.0.6:8080: DR cannot rewrite the port: it must be the service's, 80 (or none)",
            "k.conf:58: virtual server fwmark:9/tcp: real server 10.0.0.7:80: DR cannot rewrite the port, and a fwmark service keeps the client's; write it without a port",
            "k.conf:63: virtual_server: group missing: no virtual_server_group named missing",
            "k.conf:70: virtual_server_group mixed: this entry is IPv6 but the one at k.conf:69 is IPv4; a group is of one family (mixing them needs TUN real servers, which baton does not support)",
            "k.conf:71: virtual_server_group mixed: '10.0.0.11-5': the range end must be greater than its start",
            "k.conf:77: virtual server 10.0.0.12:0/udp: real server 10.0.0.13:0: UDP_CHECK min_reply_length 10 is more than max_reply_length 5: the check could never pass",
            "k.conf:77: virtual server 10.0.0.12:0/udp: real server 10.0.0.13:0: UDP_CHECK has no port to connect to (the real server has none): write connect_port",
            "k.conf:83: virtual server 10.0.0.14:80: no protocol; keepalived 2.2.7 would balance UDP (and log a configuration error): write protocol TCP, UDP or SCTP",
        ]
    );
    assert_eq!(
        warnings,
        [
            "k.conf:3: global_defs: checker_priority is ignored: set Nice= in baton's systemd unit",
            "k.conf:48: virtual server 10.0.0.5:80/tcp: quorum 10 exceeds the total weight of the real servers, 1, so the service could never be up; lowered to 1, as keepalived",
            "k.conf:48: virtual server 10.0.0.5:80/tcp: hysteresis 20 is not below quorum 1; lowered to 0, as keepalived",
            "k.conf:73: virtual server 10.0.0.12:0/udp: port 0 (every port) is only valid for persistent services; persistence of 360 seconds set, as keepalived",
            "k.conf:75: virtual server 10.0.0.12:0/udp: sh-port means nothing for lb_algo wlc; ignored (as keepalived and IPVS do)",
        ]
    );
}

#[test]
fn keepalived_corrections_are_warnings() {
    let text = r#"global_defs {
    nftables_ipvs
    no_checker_emails
    lvs_flush
}
virtual_server fwmark 3 {
    ha_suspend
    hashed
    flag-3
    lb_algo mh
    flag-2
    ip_family inet6
    real_server 2001:db8::5 {
        SMTP_CHECK {
            connect_port 25
            host {
                connect_ip 2001:db8::6
                connect_port 25
            }
        }
        HTTP_GET {
            nb_get_retry 2
            url {
                path /
            }
            connect_port 80
        }
    }
}
"#;
    assert_eq!(
        keepalived_warnings(text),
        [
            "k.conf:2: global_defs: nftables_ipvs is ignored: baton's L4 balancing is always nf_tables, in a table of its own",
            "k.conf:7: virtual server fwmark:3/tcp: ha_suspend cannot work with fwmarks (there is no address to wait for); ignored, as keepalived",
            "k.conf:8: virtual server fwmark:3/tcp: hashed has no effect (keepalived ignores it too); ignored",
            "k.conf:9: virtual server fwmark:3/tcp: flag-3 means nothing for lb_algo mh; ignored (as keepalived and IPVS do)",
            "k.conf:14: virtual_server fwmark 3: real_server 2001:db8::5: SMTP_CHECK: host blocks are deprecated in keepalived; each is read as one more SMTP_CHECK (write them so)",
            "k.conf:22: virtual_server fwmark 3: real_server 2001:db8::5: HTTP_GET: nb_get_retry is deprecated; it means retry",
        ]
    );
    let config = parse_keepalived(text, "k.conf").expect("valid").config;
    let v = &config.virtual_servers[0];
    assert_eq!(v.family, baton_config::Family::Ipv6);
    assert!(v.hash_port && !v.ha_suspend);
    let connects: Vec<String> = v.real_servers[0]
        .checkers
        .iter()
        .map(|c| c.connect.to_string())
        .collect();
    assert_eq!(
        connects,
        ["[2001:db8::5]:25", "[2001:db8::6]:25", "[2001:db8::5]:80"],
        "the block's own connection, the host's, then HTTP_GET"
    );
    assert_eq!(v.real_servers[0].checkers[2].fall, 3);
}

#[test]
fn sorry_server_settings_come_after_it_and_snat_is_nat_only() {
    let text = r#"virtual_server 10.0.0.1 80 {
    protocol TCP
    sorry_server_inhibit
    lb_kind DR
    real_server 10.0.0.2 80 {
        weight 0
    }
    sorry_server 10.0.0.9
    sorry_server_lvs_method NAT
}
"#;
    let (errors, warnings) = errors_and_warnings(text);
    assert_eq!(
        errors,
        [
            "k.conf:3: virtual_server 10.0.0.1 80: sorry_server_inhibit must come after a sorry_server"
        ]
    );
    assert_eq!(
        warnings,
        [
            "k.conf:1: virtual server 10.0.0.1:80/tcp: quorum 1 exceeds the total weight of the real servers, 0, so the service could never be up; lowered to 0, as keepalived"
        ]
    );
    let toml = r#"
[[virtual_server]]
name = "web"
address = "10.0.0.1:80"
lb_kind = "DR"
snat = true
sorry_server = "10.0.0.9"

[[virtual_server.real_server]]
address = "10.0.0.2"
"#;
    assert_eq!(
        toml_errors(toml),
        [
            "b.toml:6: virtual server web: snat applies to NAT only: with DR the real servers answer clients directly"
        ]
    );
    let fixed = toml.replace("snat = true\n", "");
    let config = parse_toml(&fixed, "b.toml").expect("valid").config;
    let v = &config.virtual_servers[0];
    // keepalived gives a DR real or sorry server without a port the service's.
    assert_eq!(v.real_servers[0].address.port(), 80);
    assert_eq!(v.sorry_server.as_ref().map(|s| s.address.port()), Some(80));
}

const TOML_ERRORS: &str = r#"[[vrrp]]
name = "VI_1"
interface = "eth0"
virtual_router_id = 1
virtual_ipaddress = ["10.0.0.1"]
track_virtual_server = ["gone"]

[[virtual_server]]
name = "web"
address = "10.0.0.1:80"
fwmark = 3
lb_kind = "TUN"
bogus = 1

[[virtual_server.real_server]]
address = "10.0.0.2:80"
colour = "blue"

[virtual_server.real_server.TCP_CHECK]
url = [{ path = "/" }]
frobnicate = true

[[virtual_server.real_server]]
weight = 3

[[virtual_server]]
name = "web"
address = "10.0.0.1:81"

[[virtual_server.real_server]]
address = "10.0.0.2"

[virtual_server.real_server.HTTP_GET]
url = [{ path = "/", status_code = 700 }]

[[virtual_server]]
name = "nothing"

[[virtual_server]]
name = "v6"
address = "[2001:db8::1]:443"
persistence_granularity = "255.255.255.0"
ip_family = "inet"

[[virtual_server.real_server]]
address = "[2001:db8::2]:443"

[[virtual_server]]
name = "again"
address = "[2001:db8::1]:443"

[[virtual_server.real_server]]
address = "[2001:db8::3]:443"

[[virtual_server_group]]
name = "g"
addresses = ["10.0.0.50-60:80", "[2001:db8::1-ff]:80", "10.0.0.1:99999"]
fwmark = [1, { fwmark = 2, ip_family = "inet9" }]
"#;

#[test]
fn toml_errors_name_file_and_line() {
    assert_eq!(
        toml_errors(TOML_ERRORS),
        [
            "b.toml:6: instance VI_1: track_virtual_server gone: no virtual server named gone",
            "b.toml:8: virtual server web: give one of 'address', 'fwmark' and 'group'",
            "b.toml:12: virtual server web: TUN is not supported and will not be: IP-in-IP (and GUE, GRE) forwarding needs a tunnel device per real server, and nf_tables cannot encapsulate packets; use NAT, or DR with the real servers on this host's network",
            "b.toml:13: virtual server web: unknown key 'bogus'",
            "b.toml:17: virtual server web: real_server: unknown key 'colour'",
            "b.toml:20: virtual server web: real_server 10.0.0.2:80: TCP_CHECK: 'url' does not apply to TCP_CHECK",
            "b.toml:21: virtual server web: real_server 10.0.0.2:80: TCP_CHECK: unknown key 'frobnicate'",
            "b.toml:23: virtual server web: real_server: no 'address'",
            "b.toml:26: virtual server web is defined twice (first at b.toml:8)",
            "b.toml:34: virtual server web: real_server 10.0.0.2:0: HTTP_GET: status_code '700': expected a status like 200 or a range like 200-299, within 100..=599",
            "b.toml:36: virtual server nothing: no 'address', 'fwmark' or 'group': what does it balance?",
            "b.toml:42: virtual server v6: persistence_granularity is an IPv4 netmask but the service is IPv6; write a prefix length",
            "b.toml:43: virtual server v6: ip_family inet conflicts with the service's addresses, which are IPv6",
            "b.toml:48: virtual server again: [2001:db8::1]:443/tcp is already balanced by virtual server v6 at b.toml:39",
            "b.toml:57: virtual_server_group g: port 99999 is out of range 0..=65535",
            "b.toml:57: virtual_server_group g: this entry is IPv6 but the one at b.toml:57 is IPv4; a group is of one family (mixing them needs TUN real servers, which baton does not support)",
            "b.toml:58: virtual_server_group g: ip_family 'inet9': expected inet or inet6",
        ]
    );
}

#[test]
fn checkers_that_cannot_run_are_errors() {
    let text = r#"SSL {
    ca /etc/ca.pem
}
SSL {
    key /etc/key.pem
}
virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 10.0.0.2 80 {
        MISC_CHECK {
            misc_timeout 3
        }
        FILE_CHECK {
            weight 2
        }
        HTTP_GET {
            url {
                digest 640205b7b0fc66c1ea91c463fac6334d
            }
        }
        DNS_CHECK {
            type ANY
            name a..b
        }
    }
}
"#;
    assert_eq!(
        keepalived_errors(text),
        [
            "k.conf:4: SSL is given twice (first at k.conf:1)",
            "k.conf:10: virtual server 10.0.0.1:80/tcp: real server 10.0.0.2:80: MISC_CHECK has no misc_path",
            "k.conf:13: virtual server 10.0.0.1:80/tcp: real server 10.0.0.2:80: FILE_CHECK has no track_file",
            "k.conf:17: virtual_server 10.0.0.1 80: real_server 10.0.0.2 80: HTTP_GET: url: no path",
            "k.conf:22: virtual_server 10.0.0.1 80: real_server 10.0.0.2 80: DNS_CHECK: type 'ANY': expected A, NS, CNAME, SOA, MX, TXT, AAAA, RRSIG or DNSKEY",
            "k.conf:23: virtual_server 10.0.0.1 80: real_server 10.0.0.2 80: DNS_CHECK: name 'a..b' has an empty label",
        ]
    );
}

#[test]
fn groups_are_named_once_and_sorry_settings_need_a_sorry_server() {
    let text = r#"virtual_server_group g {
    10.0.0.1 80
}
virtual_server_group g {
    10.0.0.2 80
}
virtual_server_group empty {
}
"#;
    assert_eq!(
        keepalived_errors(text),
        [
            "k.conf:4: virtual_server_group g is defined twice (first at k.conf:1)",
            "k.conf:7: virtual_server_group empty: no entries (keepalived removes such a group)",
        ]
    );
    let toml = r#"
[[virtual_server]]
name = "web"
address = "10.0.0.1:80"
sorry_server_inhibit = true

[[virtual_server.real_server]]
address = "10.0.0.2:80"
"#;
    assert_eq!(
        toml_errors(toml),
        ["b.toml:5: virtual server web: sorry_server_inhibit needs a sorry_server"]
    );
}
