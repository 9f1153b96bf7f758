//! WebSocket pass-through: after both sides switched protocols, bytes are copied both ways
//! until either side closes.

use std::sync::Arc;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt as _;

use crate::serving::ServeCall;
use crate::stop::Stop;
use crate::upstream::ActiveGuard;
use crate::upstream_client::Upgraded;

/// Runs the tunnel in its own task. It counts as in flight to its server, holds the client
/// connection's slot, and ends when the listener stops for good (after the drain timeout).
pub(crate) fn spawn(
    call: Arc<ServeCall>,
    client: OnUpgrade,
    server: Upgraded,
    active: ActiveGuard,
) {
    tokio::spawn(async move {
        let mut stop = call.stop.clone();
        let tunnel = async {
            let mut client = TokioIo::new(client.await?);
            let Upgraded {
                stream: mut server,
                early,
            } = server;
            // What the server sent right after its 101 came with the answer's head.
            client.write_all(&early).await?;
            let (up, down) = tokio::io::copy_bidirectional(&mut client, &mut server).await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((up, down + early.len() as u64))
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
