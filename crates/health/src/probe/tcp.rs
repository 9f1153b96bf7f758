//! TCP_CHECK: the server accepts a connection.

use super::socket;
use crate::outcome::{Failure, Outcome};
use crate::probe::Probe;

/// Connects and closes at once, as keepalived does.
pub(super) async fn probe(probe: &Probe) -> Result<Outcome, Failure> {
    socket::tcp(probe).await?;
    Ok(Outcome::UP)
}
