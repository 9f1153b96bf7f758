//! The application servers behind both setups: the same nginx serving the same small static
//! page on port 8080 in app1 and app2, so that only the load balancers differ.

use std::path::Path;

use baton_lab::{Child, Host};

use crate::common;
use crate::common::lab::spawn_logged;

pub(crate) const PORT: u16 = 8080;

pub(crate) fn start(host: &Host, nginx: &Path, dir: &Path) -> Result<Child, String> {
    let name = host.name();
    let www = dir.join(format!("{name}-www"));
    std::fs::create_dir_all(&www).map_err(|e| format!("{}: {e}", www.display()))?;
    std::fs::write(www.join("index.html"), format!("hello from {name}\n"))
        .map_err(|e| format!("{}: {e}", www.display()))?;
    let http = format!(
        "    server {{\n        listen {PORT};\n        root {};\n    }}\n",
        www.display()
    );
    let args = common::nginx::write(dir, &format!("{name}-nginx"), 1024, &http)
        .map_err(|e| format!("nginx configuration for {name}: {e}"))?;
    let mut command = host.command(nginx);
    command.args(args);
    spawn_logged(host, command, &dir.join(format!("{name}-nginx.log")))
}
