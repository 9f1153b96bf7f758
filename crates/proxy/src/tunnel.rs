//! WebSocket pass-through: after both sides switched protocols, bytes are copied both ways
//! until either side closes.

use std::sync::Arc;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use crate::serving::ServeCall;
use crate::stop::Stop;
use crate::upstream::ActiveGuard;

/// Runs the tunnel in its own task. It counts as in flight to its server, holds the client
/// connection's slot, and ends when the listener stops for good (after the drain timeout).
pub(crate) fn spawn(
    call: Arc<ServeCall>,
    client: OnUpgrade,
    server: OnUpgrade,
    active: ActiveGuard,
) {
    tokio::spawn(async move {
        let mut stop = call.stop.clone();
        let tunnel = async {
            let (client, server) = tokio::try_join!(client, server)?;
            let mut client = TokioIo::new(client);
            let mut server = TokioIo::new(server);
            let (up, down) = tokio::io::copy_bidirectional(&mut client, &mut server).await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((up, down))
        };
        tokio::select! {
            result = tunnel => match result {
                Ok((up, down)) => tracing::debug!(up, down, "websocket tunnel closed"),
                Err(error) => tracing::debug!(%error, "websocket tunnel failed"),
            },
            _ = stop.wait_for(|stop| *stop == Stop::Now) => {}
        }
        drop(active);
        drop(call);
    });
}
