//! The application servers: this program again, started inside app1 and app2 with
//! `echo-app N`: one thread, a task per connection, each counter answered at once.

use std::path::Path;
use std::process::ExitCode;

use baton_lab::{Child, Host};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::lab::spawn_logged;
use crate::common::serve::serve_forever;
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
    serve_forever(&format!("echo app {n}"), PORT, move |stream| {
        connection(stream, n)
    })
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
