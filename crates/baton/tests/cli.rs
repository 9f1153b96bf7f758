//! `baton check` and friends, as an operator runs them: exit codes and messages.

use std::process::Command;

fn baton() -> Command {
    Command::new(env!("CARGO_BIN_EXE_baton"))
}

fn scratch(name: &str, contents: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write");
    path
}

#[test]
fn check_accepts_a_valid_keepalived_conf_with_a_summary() {
    let path = scratch(
        "good.conf",
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    priority 150\n    \
         advert_int 1\n    virtual_ipaddress {\n        10.0.3.100/24\n    }\n}\n",
    );
    let output = baton()
        .arg("check")
        .arg("--keepalived-conf")
        .arg(&path)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("ok: 1 VRRP instance(s)"), "{stdout}");
}

#[test]
fn check_lists_every_error_with_file_and_line_and_exits_1() {
    let path = scratch(
        "bad.conf",
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 300\n    priority 150\n    \
         virtual_server_group x\n    virtual_ipaddress {\n        10.0.3.100/24\n    }\n}\n",
    );
    let output = baton()
        .arg("check")
        .arg("--keepalived-conf")
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let file = path.display().to_string();
    assert!(
        stderr.contains(&format!("{file}:3:")),
        "the bad VRID on line 3: {stderr}"
    );
    assert!(
        stderr.contains(&format!("{file}:5:")),
        "the unsupported keyword on line 5: {stderr}"
    );
    assert!(stderr.contains("virtual_server_group"), "{stderr}");
}

#[test]
fn check_reads_toml_too_and_names_a_missing_file() {
    let output = baton()
        .args(["check", "--config", "/nonexistent/baton.toml"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/baton.toml"));
}

#[test]
fn version_and_bad_flags() {
    let output = baton().arg("--version").output().expect("runs");
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("baton "));
    let output = baton()
        .args(["vrrp", "-i", "eth0", "-v", "0", "10.0.3.100"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2), "clap rejects VRID 0");
    let output = baton()
        .args(["vrrp", "-i", "eth0", "-v", "1", "-d", "0.5", "10.0.3.100"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("whole seconds"));
}
