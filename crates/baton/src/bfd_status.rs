//! The BFD sessions as `baton status` shows them: filled by the daemon's BFD task, printed
//! by the client. A leaf, so that the status and the daemon both use it.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// One session as `baton status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SessionStatus {
    pub(crate) name: String,
    pub(crate) neighbor: IpAddr,
    /// `AdminDown`, `Down`, `Init` or `Up`, as keepalived logs them.
    pub(crate) state: String,
    pub(crate) remote_state: String,
    /// Why it last went down.
    pub(crate) diagnostic: String,
    pub(crate) local_discriminator: u32,
    pub(crate) remote_discriminator: u32,
    /// The agreed detection time, in microseconds (BFD's unit).
    pub(crate) detection_time_us: u64,
    pub(crate) received: u64,
    pub(crate) sent: u64,
    pub(crate) dropped: u64,
    /// Transitions to Up and out of it.
    pub(crate) ups: u64,
    pub(crate) downs: u64,
}

/// One line per session, keepalived's words for states and diagnostics.
pub(crate) fn render(sessions: &[SessionStatus]) -> String {
    let mut out = format!(
        "{:<16} {:<40} {:<9} {:<9} {:>10} {:>9} {:>9} {:>5}  {}\n",
        "NAME",
        "NEIGHBOR",
        "STATE",
        "REMOTE",
        "DETECT_MS",
        "RECEIVED",
        "SENT",
        "DOWNS",
        "DIAGNOSTIC"
    );
    for s in sessions {
        out.push_str(&format!(
            "{:<16} {:<40} {:<9} {:<9} {:>10.1} {:>9} {:>9} {:>5}  {}\n",
            s.name,
            s.neighbor.to_string(),
            s.state,
            s.remote_state,
            s.detection_time_us as f64 / 1000.0,
            s.received,
            s.sent,
            s.downs,
            s.diagnostic
        ));
    }
    out
}
