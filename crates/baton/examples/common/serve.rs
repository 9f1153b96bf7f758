//! The benchmarks' own servers and clients run as this program again inside a lab host:
//! their tokio runtime, and the accept loop of an app server.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use tokio::net::{TcpSocket, TcpStream};

/// Room for a burst of SYNs from every client connection at once (the kernel caps it at
/// somaxconn, 4096 by default).
const BACKLOG: u32 = 4096;

/// A runtime for `what` (a client or an app server): one thread, or one per core; `None`
/// after a line on stderr saying why not.
pub(crate) fn runtime(what: &str, multi_thread: bool) -> Option<tokio::runtime::Runtime> {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    match builder.enable_all().build() {
        Ok(runtime) => Some(runtime),
        Err(error) => {
            eprintln!("{what}: runtime: {error}");
            None
        }
    }
}

/// Serves `port` on every address (a DR app's VIP on lo too) on one thread until killed,
/// each connection a task running `connection`. Returns only when the port cannot be had.
pub(crate) fn serve_forever<F>(
    what: &str,
    port: u16,
    connection: impl Fn(TcpStream) -> F,
) -> ExitCode
where
    F: Future<Output = std::io::Result<()>> + Send + 'static,
{
    let Some(runtime) = runtime(what, false) else {
        return ExitCode::FAILURE;
    };
    let error = runtime.block_on(async {
        let listener = match listen(port) {
            Ok(listener) => listener,
            Err(error) => return error,
        };
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(connection(stream));
                }
                // Out of descriptors or similar: back off rather than spin.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            }
        }
    });
    eprintln!("{what}: port {port}: {error}");
    ExitCode::FAILURE
}

fn listen(port: u16) -> std::io::Result<tokio::net::TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)))?;
    socket.listen(BACKLOG)
}
