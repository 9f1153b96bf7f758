//! The application servers behind both setups: this program itself, started again inside
//! app1 and app2 with `--app-server`, so that only the load balancers differ. `/` is answered
//! at once; `/slow` after 200 ms, a request still in flight when the master is stopped.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use baton_lab::{Child, Host};

use crate::common::http::path;
use crate::common::lab::spawn_logged;
use crate::common::origin::{self, Site};

pub(crate) const PORT: u16 = 8080;
/// The argument that makes this program an app server.
pub(crate) const APP_SERVER: &str = "--app-server";
const SLOW: Duration = Duration::from_millis(200);
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello, baton\n";

/// What the client asks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Page {
    /// Answered at once: requests are in flight for about a millisecond.
    Quick,
    /// Answered after 200 ms: at 500 req/s about 100 are in flight at any moment.
    Slow,
}

impl Page {
    pub(crate) const ALL: [Page; 2] = [Page::Quick, Page::Slow];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Page::Quick => "quick",
            Page::Slow => "slow",
        }
    }

    pub(crate) fn path(self) -> &'static str {
        match self {
            Page::Quick => "/",
            Page::Slow => "/slow",
        }
    }
}

#[derive(Debug)]
struct App;

impl Site for App {
    fn answer(&self, head: &[u8]) -> (&'static [u8], Duration) {
        if path(head) == Some(Page::Slow.path()) {
            (RESPONSE, SLOW)
        } else {
            (RESPONSE, Duration::ZERO)
        }
    }
}

/// The `--app-server` mode: serves port 8080 until killed.
pub(crate) fn serve() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("app server: runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match tokio::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT)).await {
            Ok(listener) => {
                origin::serve(listener, Arc::new(App)).await;
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("app server: port {PORT}: {error}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Starts the app server in `host`.
pub(crate) fn start(host: &Host, dir: &Path) -> Result<Child, String> {
    let exe = std::env::current_exe().map_err(|e| format!("this program's path: {e}"))?;
    let mut command = host.command(exe);
    command.arg(APP_SERVER);
    spawn_logged(host, command, &dir.join(format!("{}-app.log", host.name())))
}
