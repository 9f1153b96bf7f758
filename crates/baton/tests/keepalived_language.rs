//! keepalived's configuration language read by baton and by Debian's keepalived 2.2.7: one
//! keepalived.conf with `@ID` lines, parameters, a `~SEQ` over a multi-line parameter and an
//! include named by `${_INSTANCE}`, read with two config ids. keepalived dumps what it read
//! (`-d`); the instances it lists, with their VRIDs, priorities and addresses, are the ones
//! baton's model holds.

mod common;

use std::time::Duration;

use baton_config::{KeepalivedOptions, parse_keepalived_with};
use common::{Workdir, fail, guide_lab, skip_without_tool, start_keepalived_with, wait_for};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../config/tests/fixtures/language"
);

/// `name vrid priority addresses` per instance, sorted, as keepalived's dump lists them.
fn from_dump(log: &str) -> Vec<String> {
    let mut instances = Vec::new();
    let mut current: Option<(String, String, String, Vec<String>)> = None;
    let mut in_vips = false;
    for line in log.lines() {
        let rest = line.split_once(": ").map_or(line, |(_, rest)| rest);
        // The dump's lines are indented; the parent's own messages ("Starting VRRP child
        // process", "Startup complete") can land in the middle of it.
        if !rest.starts_with(' ') {
            continue;
        }
        let text = rest.trim();
        if let Some(name) = text.strip_prefix("VRRP Instance = ") {
            instances.extend(current.take());
            current = Some((name.to_owned(), String::new(), String::new(), Vec::new()));
            in_vips = false;
            continue;
        }
        let Some((_, vrid, priority, vips)) = current.as_mut() else {
            continue;
        };
        if let Some(v) = text.strip_prefix("Virtual Router ID = ") {
            *vrid = v.to_owned();
        } else if let Some(p) = text.strip_prefix("Priority = ") {
            *priority = p.to_owned();
        } else if text.starts_with("Virtual IP (") {
            in_vips = true;
        } else if in_vips && text.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            // keepalived leaves out the prefix length of a host address.
            let vip = text.split_whitespace().next().unwrap_or_default();
            vips.push(match (vip.contains('/'), vip.contains(':')) {
                (true, _) => vip.to_owned(),
                (false, false) => format!("{vip}/32"),
                (false, true) => format!("{vip}/128"),
            });
        } else if in_vips {
            in_vips = false;
        }
    }
    instances.extend(current);
    let mut out: Vec<String> = instances
        .into_iter()
        .map(|(n, v, p, a)| format!("{n} {v} {p} {}", a.join(",")))
        .collect();
    out.sort();
    out
}

/// The corners of keepalived.conf(5)'s examples: a parameter replaced when used (not when
/// defined), a definition behind a parameter holding `@ID`, a comment line inside a
/// multi-line parameter, `~LST` with two variables, `~SEQx` and a parameter that names
/// another.
const CORNERS: &str = "\
$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}
$ADDRESS_BASE_SUB=0
$IF_MAIN=@lb1
$PRIO=100
$IF_MAIN $PRIO=200
$INST= \\
vrrp_instance ${NAME} { \\
    interface eth0 \\
    virtual_router_id ${VRID} \\
    priority $PRIO \\
    ! a comment line inside \\
    virtual_ipaddress { \\
        ${ADDRESS_BASE}.${VRID}/24 \\
    } \\
}
~LST({NAME, VRID}, {LA, 10}, {LB, 11}) $INST
$ADDRESS_BASE_SUB=7
$NAME=SX_${VRID}
~SEQx(VRID, 0x12, 0x10, 0x22) $INST
";

/// `name vrid priority addresses` of each instance baton reads from `text`, sorted.
fn baton_reads(text: &str, path: &std::path::Path, id: &str) -> Vec<String> {
    let options = KeepalivedOptions::default().with_config_id(Some(id.to_owned()));
    let loaded = parse_keepalived_with(text, path, &options).unwrap_or_else(|e| panic!("{e}"));
    let mut baton: Vec<String> = loaded
        .config
        .instances
        .iter()
        .map(|i| {
            let vips: Vec<String> = i
                .virtual_addresses
                .iter()
                .map(|v| format!("{}/{}", v.address, v.prefix_len))
                .collect();
            format!(
                "{} {} {} {}",
                i.name,
                i.vrid.get(),
                i.priority.get(),
                vips.join(",")
            )
        })
        .collect();
    baton.sort();
    baton
}

#[test]
fn the_language_expands_as_keepalived_expands_it() {
    let test = "the_language_expands_as_keepalived_expands_it";
    if skip_without_tool("keepalived", "keepalived", test) {
        return;
    }
    let Some(lab) = guide_lab(test) else {
        return;
    };
    let fixture = std::fs::read_to_string(format!("{FIXTURE}/keepalived.conf")).expect("fixture");
    let include = std::fs::read_to_string(format!("{FIXTURE}/conf.d/lb1.conf")).expect("fixture");
    for (text, id) in [
        (fixture.as_str(), "lb1"),
        (fixture.as_str(), "lb2"),
        (CORNERS, "lb1"),
        (CORNERS, "lb2"),
    ] {
        let dir = Workdir::new(&format!("language-{id}"));
        std::fs::create_dir_all(dir.path("conf.d")).expect("conf.d");
        // The lab's hosts have eth0 only, and keepalived stops at an interface it lacks.
        dir.write("conf.d/lb1.conf", &include.replace("eth1", "eth0"));
        let baton = baton_reads(text, &dir.path("lb1-keepalived.conf"), id);
        assert!(baton.len() >= 3, "{baton:?}");
        let daemon = start_keepalived_with(lab.host("lb1"), &dir, text, &["-i", id, "-d"]);
        let dumped = wait_for(Duration::from_secs(20), || {
            let log = daemon.log_text();
            baton.iter().all(|line| {
                let name = line.split(' ').next().unwrap_or_default();
                log.contains(&format!("VRRP Instance = {name}\n"))
            })
        });
        if dumped.is_none() {
            fail(
                &format!("config id {id}: keepalived did not dump {baton:#?}"),
                &[&daemon],
            );
        }
        // The dump goes out in one piece; give the last lines a moment.
        std::thread::sleep(Duration::from_millis(500));
        let keepalived = from_dump(&daemon.log_text());
        if baton != keepalived {
            fail(
                &format!("config id {id}: baton read {baton:#?}\nkeepalived read {keepalived:#?}"),
                &[&daemon],
            );
        }
    }
}

/// `baton check` and `keepalived -t` agree on what an include may lack (a plain `include`
/// leaves a missing or unreadable file out, the checking variants and `include_check` make
/// it an error) and on the language's mistakes.
#[test]
fn includes_and_language_mistakes_agree_with_keepalived_t() {
    let test = "includes_and_language_mistakes_agree_with_keepalived_t";
    if skip_without_tool("keepalived", "keepalived", test) {
        return;
    }
    let Some(lab) = guide_lab(test) else {
        return;
    };
    let host = lab.host("lb1");
    let dir = Workdir::new("include-checks");
    dir.write("a.conf", "! present\n");
    let executable = dir.write("exec.conf", "! executable\n");
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mut permissions = std::fs::metadata(&executable).expect("file").permissions();
        permissions.set_mode(0o755);
        std::fs::set_permissions(&executable, permissions).expect("chmod");
    }
    const INSTANCE: &str = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    \
                            virtual_ipaddress {\n        10.0.3.100/24\n    }\n}\n";
    for (lines, accepted) in [
        ("include missing.conf", true),
        ("includem missing.conf", false),
        (
            "global_defs {\n    include_check\n}\ninclude missing.conf",
            false,
        ),
        (
            "global_defs {\n    include_check -match\n}\ninclude missing.conf",
            true,
        ),
        ("include none/*.conf", true),
        ("includew none/*.conf", false),
        // A wildcard in a directory that does not exist is a missing file to keepalived
        // (a "match" problem); in one that exists, a "wildcard_match" one.
        (
            "global_defs {\n    include_check wildcard_match\n}\ninclude none/*.conf",
            true,
        ),
        (
            "global_defs {\n    include_check match\n}\ninclude none/*.conf",
            false,
        ),
        (
            "global_defs {\n    include_check wildcard_match\n}\ninclude *.none",
            false,
        ),
        (
            "global_defs {\n    include_check match\n}\ninclude *.none",
            true,
        ),
        ("include {a,b}.conf", true),
        ("includeb {a,b}.conf", false),
        ("include exec.conf", true),
        ("includer exec.conf", false),
        // The language's own mistakes, and lines it drops.
        ("~SEQ(I) x", false),
        ("$A=x$A\n$A", false),
        ("@not-this-host no_such_keyword", true),
        ("@^not-this-host no_such_keyword", false),
        ("$K=no_such_keyword\n$K", false),
        ("$M= \\\nglobal_defs { \\\n    router_id x \\\n}\n$M", true),
        // An include named by a parameter, or behind a condition, is read after them.
        ("$F=a.conf\nincludem $F", true),
        ("@^not-this-host includem missing.conf", false),
        ("@not-this-host includem missing.conf", true),
        ("~LST(A, 1, 2) no_such_keyword_${A}", false),
    ] {
        let path = dir.write("k.conf", &format!("{lines}\n{INSTANCE}"));
        let keepalived = host
            .command("keepalived")
            .args(["-t", "-l", "-f"])
            .arg(&path)
            .output()
            .expect("keepalived -t runs");
        let baton = host
            .command(env!("CARGO_BIN_EXE_baton"))
            .args(["check", "--keepalived-conf"])
            .arg(&path)
            .output()
            .expect("baton check runs");
        let said = |o: &std::process::Output| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        };
        assert_eq!(
            keepalived.status.success(),
            accepted,
            "keepalived -t on {lines:?}:\n{}",
            said(&keepalived)
        );
        assert_eq!(
            baton.status.success(),
            accepted,
            "baton check on {lines:?}:\n{}",
            said(&baton)
        );
    }
}
