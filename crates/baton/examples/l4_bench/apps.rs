//! The application servers: this program again, started inside app1 and app2 with
//! `app-server N`. One thread each, a task per connection, fixed answers
//! (see [`crate::wire`]): far cheaper per connection than the kernel's own TCP work, so
//! that the apps are never what a variant's figure measures.

use std::path::Path;
use std::process::ExitCode;

use baton_lab::{Child, Host};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::lab::spawn_logged;
use crate::common::serve::serve_forever;
use crate::wire::{ANSWER_LEN, CLOSE, PORT, REQUEST_LEN, answer};

/// The argument that makes this program an app server.
pub(crate) const APP_SERVER: &str = "app-server";
/// The `app-server N` mode: serves port 8080 on every address until killed.
pub(crate) fn serve() -> ExitCode {
    let n: u8 = match std::env::args().nth(2).and_then(|n| n.parse().ok()) {
        Some(n @ 1..=9) => n,
        _ => {
            eprintln!("usage: l4_bench app-server N (1 to 9)");
            return ExitCode::FAILURE;
        }
    };
    let answer = answer(n);
    serve_forever(&format!("app server {n}"), PORT, move |stream| {
        connection(stream, answer)
    })
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
