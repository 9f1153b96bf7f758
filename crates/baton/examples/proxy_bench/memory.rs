//! Resident memory with many idle keep-alive clients: each proxy started fresh (so that the
//! load runs' history does not inflate its figure), measured, then given `--idle` clients
//! that each send one request, read the answer and stay connected.

use std::mem::MaybeUninit;
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Bench;
use crate::common::http::{content_length, header_end};
use crate::proxies::{Resident, Variant};
use crate::upstream::ACCEPTED;

#[derive(Debug)]
pub(crate) struct Memory {
    pub(crate) variant: Variant,
    pub(crate) base: Resident,
    pub(crate) loaded: Resident,
    /// Clients still connected when `loaded` was read.
    pub(crate) open: usize,
}

/// The request each idle client sends.
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: proxy_bench\r\n\r\n";

/// At most this many clients are being set up at once, so that the proxy's upstream side
/// stays small and what is measured is the idle client connections.
const CONCURRENT_SETUP: usize = 256;

pub(crate) fn measure(
    bench: &Bench,
    kinds: &[Variant],
    runtime: &tokio::runtime::Runtime,
) -> Result<Vec<Memory>> {
    let idle = bench.options.idle;
    let mut memory = Vec::new();
    for &variant in kinds {
        let proxy = bench.start(variant)?;
        std::thread::sleep(Duration::from_millis(300));
        let base = proxy.resident();
        let accepted = ACCEPTED.load(Ordering::Relaxed);
        let (streams, failed) = runtime.block_on(open_idle(proxy.port, idle));
        // Let the proxy settle (buffers released after the request, timers armed).
        std::thread::sleep(Duration::from_secs(2));
        let loaded = proxy.resident();
        let open = streams.iter().filter(|s| is_open(s)).count();
        eprintln!(
            "  memory {}: PSS {} KiB before, {} KiB with {} idle connections in {} process(es) \
             ({} failed to open, {} still open, {} upstream connections opened)",
            variant.label(),
            base.pss,
            loaded.pss,
            streams.len(),
            loaded.processes,
            failed,
            open,
            ACCEPTED.load(Ordering::Relaxed) - accepted
        );
        // Close the clients before the proxy goes, so its shutdown does not wait on them;
        // tokio streams are dropped inside their runtime.
        runtime.block_on(async move { drop(streams) });
        drop(proxy);
        memory.push(Memory {
            variant,
            base,
            loaded,
            open,
        });
    }
    Ok(memory)
}

/// Opens `n` idle clients; returns those that got their answer and how many did not.
async fn open_idle(port: u16, n: usize) -> (Vec<TcpStream>, usize) {
    let mut streams = Vec::with_capacity(n);
    let mut failed = 0;
    let mut tasks = tokio::task::JoinSet::new();
    let mut note = |result: Result<Result<std::io::Result<TcpStream>, _>, _>| match result {
        Ok(Ok(Ok(stream))) => streams.push(stream),
        _ => failed += 1,
    };
    for _ in 0..n {
        if tasks.len() >= CONCURRENT_SETUP
            && let Some(result) = tasks.join_next().await
        {
            note(result);
        }
        tasks.spawn(tokio::time::timeout(
            Duration::from_secs(10),
            idle_client(port),
        ));
    }
    while let Some(result) = tasks.join_next().await {
        note(result);
    }
    (streams, failed)
}

/// One request, the whole 200 answer read, and the connection kept.
async fn idle_client(port: u16) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
    stream.write_all(REQUEST).await?;
    let mut answer = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        answer.extend_from_slice(&chunk[..n]);
        let Some(end) = header_end(&answer) else {
            continue;
        };
        let complete = match content_length(&answer[..end]) {
            Some(length) => answer.len() >= end + length,
            None => answer.ends_with(b"0\r\n\r\n"),
        };
        if complete {
            if !answer.starts_with(b"HTTP/1.1 200") {
                return Err(std::io::Error::other("not a 200 answer"));
            }
            return Ok(stream);
        }
    }
}

/// Still open: nothing to read and no end of stream. Asks the kernel (a non-blocking
/// MSG_PEEK) rather than tokio's readiness, which only changes while the runtime polls.
fn is_open(stream: &TcpStream) -> bool {
    let mut byte = [MaybeUninit::<u8>::uninit()];
    matches!(
        socket2::SockRef::from(stream).peek(&mut byte),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
    )
}
