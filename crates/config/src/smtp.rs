//! keepalived's e-mail alerts: where mail goes (`smtp_server`, `notification_email`, ...)
//! and which blocks send it (`smtp_alert` and its global defaults), as keepalived 2.2.7's
//! `global_parser.c` and the completion of each block (`vrrp_complete_instance`,
//! `validate_check_config`) decide it.

use std::net::SocketAddr;
use std::time::Duration;

/// keepalived's `DEFAULT_SMTP_CONNECTION_TIMEOUT`.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// keepalived's `SMTP_PORT_STR`.
pub(crate) const DEFAULT_PORT: u16 = 25;

/// The `global_defs` keywords of e-mail alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpAlerts {
    /// `smtp_server IP|NAME [PORT]`, resolved when read (as keepalived does); `None`: no
    /// mail is sent.
    pub server: Option<SocketAddr>,
    /// `smtp_helo_name`; `None`: the host's name (the daemon fills it in).
    pub helo_name: Option<String>,
    /// `smtp_connect_timeout` (default 30 s; 0 is taken as 1 s, as keepalived).
    pub connect_timeout: Duration,
    /// `notification_email_from`; `None`: `USER@HOSTNAME`, as keepalived.
    pub from: Option<String>,
    /// `notification_email { ... }`: the recipients, in order. None: no mail is sent.
    pub to: Vec<String>,
    /// `smtp_alert [BOOL]`: the default of every block's `smtp_alert`.
    pub alert: Option<bool>,
    /// `smtp_alert_vrrp [BOOL]`: the default for VRRP instances and sync groups, before
    /// `smtp_alert`.
    pub alert_vrrp: Option<bool>,
    /// `smtp_alert_checker [BOOL]`: the default for virtual and real servers, before
    /// `smtp_alert`.
    pub alert_checker: Option<bool>,
    /// `no_email_faults`: VRRP instances and groups send no mail for FAULT.
    pub no_email_faults: bool,
    /// `no_checker_emails [BOOL]`: a checker's change mails only when it changes its real
    /// server's state (not when another checker still holds the server down).
    pub no_checker_emails: bool,
}

impl Default for SmtpAlerts {
    fn default() -> Self {
        SmtpAlerts {
            server: None,
            helo_name: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            from: None,
            to: Vec::new(),
            alert: None,
            alert_vrrp: None,
            alert_checker: None,
            no_email_faults: false,
            no_checker_emails: false,
        }
    }
}

impl SmtpAlerts {
    /// keepalived sends nothing without both a server and a recipient.
    pub fn can_send(&self) -> bool {
        self.server.is_some() && !self.to.is_empty()
    }

    /// Whether a VRRP instance or sync group whose own `smtp_alert` is `own` sends mail:
    /// its own, else `smtp_alert_vrrp`, else `smtp_alert`, else no.
    pub fn for_vrrp(&self, own: Option<bool>) -> bool {
        own.or(self.alert_vrrp).or(self.alert).unwrap_or(false)
    }

    /// The same for a virtual server (quorum changes): its own, else
    /// `smtp_alert_checker`, else `smtp_alert`, else no.
    pub fn for_virtual_server(&self, own: Option<bool>) -> bool {
        own.or(self.alert_checker).or(self.alert).unwrap_or(false)
    }

    /// The same for a real server (its checkers' changes), except that keepalived's last
    /// default is yes here, "to maintain backwards compatibility" (check_data.c).
    pub fn for_real_server(&self, own: Option<bool>) -> bool {
        own.or(self.alert_checker).or(self.alert).unwrap_or(true)
    }
}
