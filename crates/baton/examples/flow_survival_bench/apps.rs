//! The application servers: this program again, started inside app1 and app2 with
//! `echo-app N`: one thread, a task per connection, each counter answered at once.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;

use baton_lab::{Child, Host};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::common::lab::spawn_logged;
use crate::wire::{PORT, REQUEST_LEN, answer};

/// The argument that makes this program an app server.
pub(crate) const ECHO_APP: &str = "echo-app";

/// The `echo-app N` mode: serves port 7000 on every address (the VIP on lo too, for DR)
/// until killed.
pub(crate) fn serve() -> ExitCode {
    let Some(n) = std::env::args().nth(2).and_then(|n| n.parse::<u8>().ok()) else {
        eprintln!("usage: flow_survival_bench echo-app N");
        return ExitCode::FAILURE;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("echo app: runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(accept_loop(n)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("echo app {n}: port {PORT}: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn accept_loop(n: u8) -> std::io::Result<()> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, PORT)))?;
    let listener = socket.listen(4096)?;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, n));
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}

async fn connection(mut stream: TcpStream, n: u8) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut request = [0u8; REQUEST_LEN];
    loop {
        match stream.read_exact(&mut request).await {
            Ok(_) => stream.write_all(&answer(request, n)).await?,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Starts app `n` in `host`, its output in `dir`.
pub(crate) fn start(host: &Host, n: u8, dir: &Path) -> Result<Child, String> {
    let exe = std::env::current_exe().map_err(|e| format!("this program's path: {e}"))?;
    let mut command = host.command(exe);
    command.arg(ECHO_APP).arg(n.to_string());
    spawn_logged(host, command, &dir.join(format!("{}.log", host.name())))
}
