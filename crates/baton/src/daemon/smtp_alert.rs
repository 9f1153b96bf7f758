//! keepalived's `smtp_alert`: e-mail on VRRP and checker changes, sent over plain SMTP (no
//! TLS, as keepalived) to `smtp_server`, one connection per mail.
//!
//! Mail never holds the protocol loop up: [`Mailer::send`] only queues (a bounded queue;
//! what does not fit is dropped, counted and logged) and one task per mailer talks SMTP,
//! one mail after the other, each bounded by `smtp_connect_timeout` per step, as
//! keepalived's. keepalived runs its VRRP and checker sides as two processes, each
//! mailing on its own; baton's VRRP side and virtual servers each own a mailer likewise.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use baton_config::{Global, SmtpAlerts};
use lettre::address::{Address, Envelope};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::mpsc;

use super::smtp_message::{self, Alert, VrrpChange};

/// Mails waiting for the SMTP server. keepalived keeps no queue (each mail is its own
/// connection); a burst of changes beyond this while the server is slow is dropped.
const QUEUE: usize = 64;

/// The longest a stopping daemon waits for queued mail to go out.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// What keepalived takes for names it cannot find.
const UNKNOWN_HOST: &str = "localhost";

/// One side's mail: the settings it was started with and its queue.
#[derive(Debug)]
pub(crate) struct Mailer {
    settings: SmtpAlerts,
    router_id: String,
    /// None when the settings send nothing (no server or no recipient).
    queue: Option<mpsc::Sender<Alert>>,
    dropped: Arc<AtomicU64>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Mailer {
    /// The mailer `global` asks for; it sends nothing without `smtp_server` and a
    /// `notification_email`. Needs a tokio runtime.
    pub(crate) fn start(global: &Global) -> Mailer {
        let settings = global.smtp.clone();
        let host = host_name();
        let mut mailer = Mailer {
            settings,
            router_id: router_id(global),
            queue: None,
            dropped: Arc::default(),
            task: None,
        };
        let Some(outbox) = Outbox::new(&mailer.settings, &host) else {
            return mailer;
        };
        let (queue, inbox) = mpsc::channel(QUEUE);
        mailer.queue = Some(queue);
        mailer.task = Some(tokio::spawn(outbox.deliver(inbox)));
        mailer
    }

    /// Whether a reload's `global` mails the same way (else start a new mailer).
    pub(crate) fn started_from(&self, global: &Global) -> bool {
        self.settings == global.smtp && router_id(global) == self.router_id
    }

    pub(crate) fn settings(&self) -> &SmtpAlerts {
        &self.settings
    }

    /// keepalived's `router_id`, else this host's name: the `[...]` of every subject.
    pub(crate) fn router_id(&self) -> &str {
        &self.router_id
    }

    /// Whether anything is sent at all.
    pub(crate) fn active(&self) -> bool {
        self.queue.is_some()
    }

    /// Queues `alert`; never waits.
    pub(crate) fn send(&self, alert: Alert) {
        let Some(queue) = &self.queue else {
            return;
        };
        if let Err(error) = queue.try_send(alert) {
            let alert = match error {
                mpsc::error::TrySendError::Full(alert)
                | mpsc::error::TrySendError::Closed(alert) => alert,
            };
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(
                subject = %alert.subject,
                dropped,
                "smtp_alert: the mail queue is full (the SMTP server is slow or away); mail dropped"
            );
        }
    }

    /// Lets the queued mail go out, waiting 2 s at most (keepalived 2.2.7 queues its
    /// "Stopping" mail and exits before sending it: a stop is not held up for mail).
    pub(crate) async fn close(mut self) {
        self.queue = None;
        if let Some(task) = self.task.take() {
            if tokio::time::timeout(CLOSE_WAIT, task).await.is_err() {
                tracing::warn!("smtp_alert: queued mail not sent within {CLOSE_WAIT:?}; dropped");
            }
        }
    }
}

impl Drop for Mailer {
    fn drop(&mut self) {
        // A mailer replaced by a reload sends what it has queued, then its task ends with
        // the queue; one dropped on the way out is not waited for.
        self.queue = None;
    }
}

/// The SMTP side of a mailer: where and as whom.
struct Outbox {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    envelope: Envelope,
    server: std::net::SocketAddr,
    from: String,
    to: Vec<String>,
}

impl Outbox {
    /// None (with the reason logged) when `settings` send nothing.
    fn new(settings: &SmtpAlerts, host: &str) -> Option<Outbox> {
        let server = settings.server?;
        if settings.to.is_empty() {
            return None;
        }
        let from = settings
            .from
            .clone()
            .unwrap_or_else(|| format!("{}@{host}", user_name()));
        let recipients: Vec<Address> = settings
            .to
            .iter()
            .filter_map(|to| match to.parse::<Address>() {
                Ok(address) => Some(address),
                Err(error) => {
                    tracing::error!(address = %to, "smtp_alert: not a mail address ({error}); it gets no mail");
                    None
                }
            })
            .collect();
        // keepalived writes MAIL FROM with whatever it was given; a sender the client
        // cannot write goes as the null sender rather than not at all.
        let sender = from.parse::<Address>().ok();
        if sender.is_none() {
            tracing::warn!(from = %from, "smtp_alert: notification_email_from is not a mail address; mail goes with an empty sender");
        }
        let envelope = match Envelope::new(sender, recipients) {
            Ok(envelope) => envelope,
            Err(error) => {
                tracing::error!("smtp_alert: no mail will be sent: {error}");
                return None;
            }
        };
        let helo = settings
            .helo_name
            .clone()
            .unwrap_or_else(|| host.to_owned());
        let transport =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.ip().to_string())
                .port(server.port())
                .hello_name(ClientId::Domain(helo))
                .timeout(Some(settings.connect_timeout))
                .build();
        Some(Outbox {
            transport,
            envelope,
            server,
            from,
            to: settings.to.clone(),
        })
    }

    async fn deliver(self, mut inbox: mpsc::Receiver<Alert>) {
        while let Some(alert) = inbox.recv().await {
            let text = smtp_message::message(&date_now(), &self.from, &self.to, &alert);
            match self
                .transport
                .send_raw(&self.envelope, text.as_bytes())
                .await
            {
                Ok(_) => tracing::info!(subject = %alert.subject, "smtp_alert: sent"),
                Err(error) => tracing::warn!(
                    server = %self.server,
                    subject = %alert.subject,
                    "smtp_alert: not sent: {error}"
                ),
            }
        }
    }
}

/// `Thu, 03 Dec 2026 15:04:05 +0100`: keepalived's `%a, %d %b %Y %H:%M:%S %z`, in the
/// host's time zone.
fn date_now() -> String {
    jiff::ZonedDateTime::now()
        .strftime("%a, %d %b %Y %H:%M:%S %z")
        .to_string()
}

/// keepalived's `router_id`, else this host's name.
fn router_id(global: &Global) -> String {
    global.router_id.clone().unwrap_or_else(host_name)
}

/// The host's name, keepalived's default `router_id`, HELO name and sender domain.
/// (keepalived takes the canonical name the resolver gives for it; baton the name itself.)
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| UNKNOWN_HOST.to_owned())
}

/// The daemon's user, keepalived's default sender's local part.
fn user_name() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map_or_else(|| "root".to_owned(), |user| user.name)
}

/// The VRRP side's mail: instances and sync groups, each mailing a state once
/// (keepalived's `last_email_state`).
#[derive(Debug)]
pub(crate) struct VrrpAlerts {
    mailer: Mailer,
    /// The last state mailed, per instance ("INSTANCE" kind) or group, by name.
    last: Mutex<HashMap<(&'static str, String), VrrpChange>>,
}

impl VrrpAlerts {
    pub(crate) fn new(mailer: Mailer) -> VrrpAlerts {
        VrrpAlerts {
            mailer,
            last: Mutex::default(),
        }
    }

    /// A reload's settings: a new mailer when they changed (the old one sends what it
    /// has queued).
    pub(crate) fn reconfigure(&mut self, global: &Global) {
        if !self.mailer.started_from(global) {
            self.mailer = Mailer::start(global);
        }
    }

    /// Instance `name`, whose own `smtp_alert` is `own`, entered `change`.
    pub(crate) fn instance(&self, name: &str, own: Option<bool>, change: VrrpChange) {
        if self.wanted(("INSTANCE", name), own, change) {
            let router_id = self.mailer.router_id();
            self.mailer
                .send(smtp_message::instance(router_id, name, change));
        }
    }

    /// Sync group `name` (all its members) entered `change`.
    pub(crate) fn group(&self, name: &str, own: Option<bool>, change: VrrpChange) {
        let router_id = self.mailer.router_id();
        let Some(alert) = smtp_message::group(router_id, name, change) else {
            return;
        };
        if self.wanted(("GROUP", name), own, change) {
            self.mailer.send(alert);
        }
    }

    /// keepalived's rules: the block's `smtp_alert` (else the global defaults), no FAULT
    /// with `no_email_faults`, and not the state last mailed (noted when mailed).
    fn wanted(
        &self,
        (kind, name): (&'static str, &str),
        own: Option<bool>,
        change: VrrpChange,
    ) -> bool {
        let settings = self.mailer.settings();
        if !self.mailer.active()
            || !settings.for_vrrp(own)
            || (settings.no_email_faults && change == VrrpChange::Fault)
        {
            return false;
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let key = (kind, name.to_owned());
        if last.get(&key) == Some(&change) {
            return false;
        }
        last.insert(key, change);
        true
    }

    /// Lets queued mail go out (bounded), at the daemon's stop.
    pub(crate) async fn close(self) {
        self.mailer.close().await;
    }
}
