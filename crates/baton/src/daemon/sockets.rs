//! One raw VRRP socket per (interface, address family), a reader task for each, and sending
//! adverts through the right one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use anyhow::Context as _;
use baton_config::{Config, Family, VrrpInstance};
use baton_vrrp::Transmit;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{net_family, socket_keys};

/// Large enough for any advertisement (255 IPv6 addresses + headers) with room to spare.
const RECEIVE_BUFFER: usize = 8192;
/// Packets waiting for the protocol task; beyond this a flood is dropped at the reader.
const INBOUND_QUEUE: usize = 1024;

/// A received packet, handed to the protocol task.
#[derive(Debug)]
pub(crate) struct Inbound {
    pub(crate) interface: String,
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    pub(crate) ttl: u8,
    pub(crate) payload: Vec<u8>,
}

#[derive(Debug)]
pub(crate) struct Sockets {
    by_key: HashMap<(String, Family), Arc<baton_net::VrrpSocket>>,
}

impl Sockets {
    pub(crate) async fn open(
        config: &Config,
    ) -> anyhow::Result<(Sockets, mpsc::Receiver<Inbound>, Vec<JoinHandle<()>>)> {
        let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
        let mut by_key = HashMap::new();
        let mut tasks = Vec::new();
        for ((interface, family), multicast) in socket_keys(config) {
            let membership = if multicast {
                baton_net::Membership::Multicast
            } else {
                baton_net::Membership::Unicast
            };
            let socket = baton_net::VrrpSocket::open(&interface, net_family(family), membership)
                .with_context(|| format!("opening the {family} VRRP socket on {interface}"))?;
            let socket = Arc::new(socket);
            tasks.push(spawn_reader(
                interface.clone(),
                Arc::clone(&socket),
                tx.clone(),
            ));
            by_key.insert((interface, family), socket);
        }
        Ok((Sockets { by_key }, rx, tasks))
    }

    pub(crate) async fn send(
        &self,
        instance: &VrrpInstance,
        transmit: &Transmit,
    ) -> anyhow::Result<()> {
        let key = (instance.interface.clone(), instance.family());
        let socket = self
            .by_key
            .get(&key)
            .context("no socket for the instance")?;
        socket
            .send(transmit.src, transmit.dst, &transmit.payload)
            .await?;
        Ok(())
    }
}

fn spawn_reader(
    interface: String,
    socket: Arc<baton_net::VrrpSocket>,
    inbound: mpsc::Sender<Inbound>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut buffer = vec![0; RECEIVE_BUFFER];
        loop {
            match socket.recv(&mut buffer).await {
                Ok(received) => {
                    let packet = Inbound {
                        interface: interface.clone(),
                        src: received.src,
                        dst: received.dst,
                        ttl: received.ttl,
                        payload: buffer[received.payload].to_vec(),
                    };
                    // A full queue means a flood; dropping here keeps the protocol task
                    // responsive, and a real master's adverts come again next interval.
                    if let Err(mpsc::error::TrySendError::Closed(_)) = inbound.try_send(packet) {
                        return;
                    }
                }
                Err(error) => {
                    tracing::warn!(%interface, "receiving: {error}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    })
}
