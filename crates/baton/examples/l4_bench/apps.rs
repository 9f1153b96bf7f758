//! The application servers: this program again, started inside app1 and app2 with
//! `app-server N`. One thread each, a task per connection, fixed answers
//! (see [`crate::wire`]): far cheaper per connection than the kernel's own TCP work, so
//! that the apps are never what a variant's figure measures.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;

use baton_lab::{Child, Host};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::common::lab::spawn_logged;
use crate::wire::{ANSWER_LEN, CLOSE, PORT, REQUEST_LEN, answer};

/// The argument that makes this program an app server.
pub(crate) const APP_SERVER: &str = "app-server";
/// Room for a burst of SYNs from every client worker at once (the kernel caps it at
/// somaxconn, 4096 by default).
const BACKLOG: u32 = 4096;

/// The `app-server N` mode: serves port 8080 on every address until killed.
pub(crate) fn serve() -> ExitCode {
    let n: u8 = match std::env::args().nth(2).and_then(|n| n.parse().ok()) {
        Some(n @ 1..=9) => n,
        _ => {
            eprintln!("usage: l4_bench app-server N (1 to 9)");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("app server: runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(accept_loop(n)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("app server {n}: port {PORT}: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn accept_loop(n: u8) -> std::io::Result<()> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, PORT)))?;
    let listener = socket.listen(BACKLOG)?;
    let answer = answer(n);
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, answer));
            }
            // Out of descriptors or similar: back off rather than spin.
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}

/// Answers requests until the client closes, or after the first one that asks for it.
async fn connection(mut stream: TcpStream, answer: [u8; ANSWER_LEN]) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut request = [0u8; REQUEST_LEN];
    loop {
        match stream.read_exact(&mut request).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        stream.write_all(&answer).await?;
        if request[0] == CLOSE {
            // Dropping the stream closes it: the app's FIN goes first.
            return Ok(());
        }
    }
}

/// Starts app `n` in `host`, its output in `dir`.
pub(crate) fn start(host: &Host, n: u8, dir: &Path) -> Result<Child, String> {
    let exe = std::env::current_exe().map_err(|e| format!("this program's path: {e}"))?;
    let mut command = host.command(exe);
    command.arg(APP_SERVER).arg(n.to_string());
    spawn_logged(host, command, &dir.join(format!("{}.log", host.name())))
}
