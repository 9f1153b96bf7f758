//! keepalived's e-mail alerts on the lab: an SMTP recorder (tests/common/smtp.rs) listens
//! on the client host, and the daemon on lb2 mails it.
//!
//! VRRP mails are compared with keepalived 2.2.7's, run with the same file on the same
//! host: subjects, bodies, headers, envelope. Checker mails are baton's alone: keepalived's
//! checker needs IPVS, which this kernel lacks (the lab's keepalived runs VRRP only, -P),
//! so they are held against the texts of keepalived's source.

mod common;

use std::time::Duration;

use baton_lab::{Host, Lab};
use common::smtp::{Mail, Recorder};
use common::{
    Daemon, VIP, Workdir, fail, guide_lab, holds, keepalived_conf, start_app, start_baton,
    start_keepalived, wait_for,
};

const PORT: u16 = 2525;
const MASTER: &str = "[lb2] VRRP Instance VI_1 - Entering MASTER state";
const BACKUP: &str = "[lb2] VRRP Instance VI_1 - Entering BACKUP state";
const STOPPING: &str = "[lb2] VRRP Instance VI_1 - Stopping";

/// global_defs lines that send mail to the recorder.
fn mail_settings(recorder: &Recorder) -> String {
    format!(
        "    notification_email {{\n        ops@example.com\n        noc@example.com\n    }}\n    \
         notification_email_from lb2@example.com\n    smtp_server {} {}\n    \
         smtp_helo_name lb2.example.com\n    smtp_connect_timeout 5\n",
        recorder.address.ip(),
        recorder.address.port()
    )
}

/// The mail with `subject`, waiting for it (20 s at most: the daemons run beside builds).
fn mail_with(recorder: &Recorder, subject: &str, daemon: &Daemon) -> Mail {
    let found = || {
        recorder
            .mails()
            .into_iter()
            .find(|m| m.subject() == subject)
    };
    if wait_for(Duration::from_secs(20), || found().is_some()).is_none() {
        fail(
            &format!("no mail '{subject}'; got {:?}", recorder.subjects()),
            &[daemon],
        );
    }
    found().expect("found")
}

/// `Thu, 03 Dec 2026 14:52:36 +0000`: keepalived's Date.
fn is_keepalived_date(date: &str) -> bool {
    let parts: Vec<&str> = date.split(' ').collect();
    let [weekday, day, month, year, time, zone] = parts.as_slice() else {
        return false;
    };
    weekday.len() == 4
        && weekday.ends_with(',')
        && day.len() == 2
        && month.len() == 3
        && year.len() == 4
        && time.len() == 8
        && zone.len() == 5
        && zone.starts_with(['+', '-'])
}

/// What one daemon mailed for a start as master and its stop.
struct Run {
    before_stop: Vec<Mail>,
    after_stop: Vec<Mail>,
}

fn run(lab: &Lab, recorder: &Recorder, start: impl FnOnce(&Host) -> Daemon) -> Run {
    recorder.clear();
    let lb2 = lab.host("lb2");
    let mut daemon = start(lb2);
    if wait_for(Duration::from_secs(15), || holds(lb2, VIP)).is_none() {
        fail("lb2 never became master", &[&daemon]);
    }
    let _ = mail_with(recorder, MASTER, &daemon);
    let before_stop = recorder.mails();
    let seen = before_stop.len();
    daemon.child.terminate();
    // A stop mail, if any, is sent at once; give it a moment beyond the exit.
    let _ = wait_for(Duration::from_secs(3), || recorder.mails().len() > seen);
    let after_stop = recorder.mails().split_off(seen);
    Run {
        before_stop,
        after_stop,
    }
}

#[test]
fn vrrp_mails_say_what_keepalived_s_say() {
    let test = "vrrp_mails_say_what_keepalived_s_say";
    let Some(lab) = guide_lab(test) else {
        return;
    };
    let dir = Workdir::new("smtp-vrrp");
    let recorder = Recorder::start(lab.host("client"), PORT);
    // The instance's own smtp_alert; nothing global turns mail on.
    let conf = keepalived_conf("lb2", 3, 150, "0.1", "    smtp_alert\n").replace(
        "global_defs {\n",
        &format!("global_defs {{\n{}", mail_settings(&recorder)),
    );

    let baton = run(&lab, &recorder, |host| start_baton(host, &dir, &conf));
    let master = baton
        .before_stop
        .iter()
        .find(|m| m.subject() == MASTER)
        .expect("waited for");
    assert_eq!(master.body(), "=> VRRP Instance is now owning VRRP VIPs <=");
    assert_eq!(master.from, "lb2@example.com");
    assert_eq!(master.to, ["ops@example.com", "noc@example.com"]);
    assert_eq!(master.header("From"), Some("lb2@example.com"));
    assert_eq!(
        master.header("To"),
        Some("ops@example.com, noc@example.com")
    );
    assert_eq!(
        master.header_names(),
        ["Date", "From", "Subject", "X-Mailer", "To"]
    );
    let date = master.header("Date").unwrap_or_default();
    assert!(is_keepalived_date(date), "Date: {date}");
    assert!(
        master.hello.ends_with(" lb2.example.com"),
        "{}",
        master.hello
    );
    for mail in &baton.before_stop {
        assert!(
            [MASTER, BACKUP].contains(&mail.subject()),
            "unexpected mail {:?}",
            mail.subject()
        );
    }
    // keepalived 2.2.7 queues a "Stopping" mail and exits before sending it; baton sends it
    // when the server takes it within 2 s.
    let stop: Vec<&str> = baton.after_stop.iter().map(Mail::subject).collect();
    assert_eq!(stop, [STOPPING], "baton's stop mails");
    assert_eq!(baton.after_stop[0].body(), "=> VRRP Instance stopping <=");

    if common::skip_without_tool("keepalived", "keepalived", test) {
        return;
    }
    let keepalived = run(&lab, &recorder, |host| start_keepalived(host, &dir, &conf));
    let subjects = |mails: &[Mail]| -> Vec<String> {
        let mut subjects: Vec<String> = mails.iter().map(|m| m.subject().to_owned()).collect();
        subjects.sort();
        subjects
    };
    eprintln!(
        "keepalived mailed {:?}, then at its stop {:?}; baton {:?}, then {:?}",
        subjects(&keepalived.before_stop),
        subjects(&keepalived.after_stop),
        subjects(&baton.before_stop),
        subjects(&baton.after_stop)
    );
    // Every mail keepalived sent as it became master, baton sent with the same text.
    for theirs in &keepalived.before_stop {
        let Some(ours) = baton
            .before_stop
            .iter()
            .find(|m| m.subject() == theirs.subject())
        else {
            panic!("keepalived mailed {:?}, baton did not", theirs.subject());
        };
        assert_eq!(ours.body(), theirs.body(), "{}", theirs.subject());
        assert_eq!(ours.header_names(), theirs.header_names());
        assert_eq!(ours.header("From"), theirs.header("From"));
        assert_eq!(ours.header("To"), theirs.header("To"));
        assert_eq!((&ours.from, &ours.to), (&theirs.from, &theirs.to));
        let name = |hello: &str| hello.split_whitespace().nth(1).map(str::to_owned);
        assert_eq!(name(&ours.hello), name(&theirs.hello), "HELO/EHLO name");
        let date = theirs.header("Date").unwrap_or_default();
        assert!(is_keepalived_date(date), "keepalived's Date: {date}");
    }
}

#[test]
fn a_real_server_going_down_and_up_is_mailed_with_its_quorum() {
    let test = "a_real_server_going_down_and_up_is_mailed_with_its_quorum";
    if !common::on_path("nft") {
        eprintln!("SKIPPED (needs nft, from nftables): {test}");
        return;
    }
    let Some(lab) = guide_lab(test) else {
        return;
    };
    let dir = Workdir::new("smtp-checker");
    let recorder = Recorder::start(lab.host("client"), PORT);
    let app1 = lab.host("app1");
    let mut app = start_app(app1, 8080);
    // The real server mails by keepalived's default; the virtual server because it says so.
    let conf = format!(
        "global_defs {{\n    router_id lb2\n{}}}\n\
         virtual_server 10.0.3.100 80 {{\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    \
         protocol TCP\n    smtp_alert\n    real_server 10.0.3.11 8080 {{\n        TCP_CHECK {{\n            \
         connect_timeout 1\n            retry 0\n        }}\n    }}\n}}\n",
        mail_settings(&recorder)
    );
    let baton = start_baton(lab.host("lb2"), &dir, &conf);
    let server = "[lb2] Realserver [10.0.3.11]:tcp:8080 of virtual server [10.0.3.100]:tcp:80";
    let service = "[lb2] Virtualserver [10.0.3.100]:tcp:80";

    app.kill();
    let down = mail_with(&recorder, &format!("{server} - DOWN"), &baton);
    assert_eq!(down.body(), "=> TCP CHECK failed on service <=");
    let lost = mail_with(&recorder, &format!("{service} - DOWN"), &baton);
    assert_eq!(lost.body(), "=> Lost quorum 1+0=1 <= 0 <=");

    let _app = start_app(app1, 8080);
    let up = mail_with(&recorder, &format!("{server} - UP"), &baton);
    assert_eq!(up.body(), "=> TCP CHECK succeed on service <=");
    let gained = mail_with(&recorder, &format!("{service} - UP"), &baton);
    assert_eq!(gained.body(), "=> Gained quorum 1+0=1 <= 1 <=");
    assert_eq!(up.header("From"), Some("lb2@example.com"));
    // One mail per change: nothing else was sent.
    assert_eq!(recorder.mails().len(), 4, "{:?}", recorder.subjects());
}
