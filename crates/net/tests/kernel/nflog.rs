//! nflog: a netdev ingress rule's `log group` reaches the listener at once (no batching),
//! the group refuses a second listener, and frames the rule does not match bring nothing.

use std::time::{Duration, Instant};

use baton_net::NflogGroup;

use crate::lab::{self, A_V4, B_V4, Lab};

const GROUP: u16 = 2983;

#[test]
fn a_logged_frame_arrives_at_once_and_the_group_has_one_listener() {
    let test = "a_logged_frame_arrives_at_once_and_the_group_has_one_listener";
    let Some(lab) = Lab::new(test) else {
        return;
    };
    if std::process::Command::new("nft")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED (needs nft): {test}");
        return;
    }
    // In b: UDP to port 9 is logged, port 10 is not.
    let rules = format!(
        "table netdev t {{\n chain c {{\n  type filter hook ingress device \"vb\" priority 0;\n  udp dport 9 log group {GROUP}\n }}\n}}\n"
    );
    let file = std::env::temp_dir().join(format!("baton-nflog-{}.nft", std::process::id()));
    std::fs::write(&file, rules).expect("write rules");
    lab::run(
        "ip",
        &[
            "netns",
            "exec",
            &lab.b.name,
            "nft",
            "-f",
            file.to_str().expect("utf-8"),
        ],
    );
    let _ = std::fs::remove_file(&file);
    let b = lab.b.clone();
    let (first, second, waited) = lab.run(move |_a, _b| async move {
        let sender = std::net::UdpSocket::bind((A_V4, 0)).expect("udp in a");
        b.enter();
        let mut group = NflogGroup::bind(GROUP).expect("binding the group");
        let second = NflogGroup::bind(GROUP)
            .map(|_| ())
            .map_err(|e| e.to_string());
        // Not logged: nothing arrives.
        sender.send_to(b"x", (B_V4, 10)).expect("send");
        let quiet = tokio::time::timeout(Duration::from_millis(300), group.logged()).await;
        assert!(
            quiet.is_err(),
            "a frame the rule does not match was logged: {quiet:?}"
        );
        let sent = Instant::now();
        sender.send_to(b"x", (B_V4, 9)).expect("send");
        let first = tokio::time::timeout(Duration::from_secs(5), group.logged())
            .await
            .expect("the logged frame within 5 s")
            .expect("reading the group");
        (first, second, sent.elapsed())
    });
    assert_eq!(first, 1);
    // Without a threshold of 1 the kernel would hold it for a second.
    assert!(
        waited < Duration::from_millis(500),
        "arrived after {waited:?}"
    );
    let refused = second.expect_err("a second listener of the same group");
    assert!(refused.contains("another socket"), "{refused}");
}
