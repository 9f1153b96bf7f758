//! Where the load generator and the three proxies are, and which versions they are.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Result;

use crate::common;
use crate::options::Options;
use crate::proxies::Kind;

#[derive(Debug)]
pub(crate) struct Tools {
    pub(crate) oha: PathBuf,
    baton: Option<PathBuf>,
    haproxy: Option<PathBuf>,
    nginx: Option<PathBuf>,
    /// `(client CPU, proxy CPU)` when pinning.
    pub(crate) cpus: Option<(usize, usize)>,
}

impl Tools {
    /// Finds what `options.only` asks for; a missing proxy is left out loudly, a missing
    /// oha is an error.
    pub(crate) fn find(options: &Options, cpus: Option<(usize, usize)>) -> Result<Tools> {
        let wanted = |kind| options.only.iter().any(|v| v.kind == kind);
        let mut tools = Tools {
            oha: common::oha::find()?,
            baton: None,
            haproxy: None,
            nginx: None,
            cpus,
        };
        if wanted(Kind::Baton) {
            tools.baton = find_baton();
        }
        for kind in [Kind::Haproxy, Kind::Nginx] {
            if !wanted(kind) {
                continue;
            }
            let name = kind.name().to_lowercase();
            let found = common::programs::find(&name);
            if found.is_none() {
                eprintln!(
                    "!!! {name} not found: `apt-get install -y haproxy nginx`; measuring without it"
                );
            }
            match kind {
                Kind::Haproxy => tools.haproxy = found,
                _ => tools.nginx = found,
            }
        }
        Ok(tools)
    }

    pub(crate) fn binary(&self, kind: Kind) -> Option<&Path> {
        match kind {
            Kind::Baton => self.baton.as_deref(),
            Kind::Haproxy => self.haproxy.as_deref(),
            Kind::Nginx => self.nginx.as_deref(),
        }
    }
}

/// The release `baton` next to this example, if it has `proxy`.
fn find_baton() -> Option<PathBuf> {
    let loud = |why: String| {
        eprintln!("\n!!! ==============================================================");
        eprintln!("!!! baton is SKIPPED: {why}");
        eprintln!("!!! Measuring HAProxy and nginx only. To include it:");
        eprintln!("!!!     cargo build --release -p baton");
        eprintln!("!!! ==============================================================\n");
    };
    let Some(path) = common::baton::release_binary() else {
        loud("no release binary (target/release/baton, or BATON_BIN)".into());
        return None;
    };
    let help = Command::new(&path)
        .args(["proxy", "--help"])
        .stdin(Stdio::null())
        .output();
    match help {
        Ok(out) if out.status.success() => {
            common::baton::warn_if_stale(&path);
            Some(path)
        }
        Ok(_) => {
            loud(format!("`{} proxy --help` fails", path.display()));
            None
        }
        Err(error) => {
            loud(format!("cannot run {}: {error}", path.display()));
            None
        }
    }
}
