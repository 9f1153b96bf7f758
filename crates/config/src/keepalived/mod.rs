//! The keepalived.conf reader: `lexer` (words, braces, comments, quotes, includes) over
//! `preprocess` (keepalived's `@ID` lines, `$NAME` parameters from `definitions`, `~SEQ` /
//! `~LST` from `sequence`), `parser` (statements and blocks), `mapping` (the walk over the
//! blocks, each read in a file of its own: `global_defs`, `vrrp_instance`, `vrrp_script`,
//! ..., and `virtual_server` for the LVS family), `keywords` (what baton supports, and why
//! not when it does not).

mod bfd;
mod checker;
mod conn_sync;
mod definitions;
mod election;
mod garp;
mod garp_group;
mod global_defs;
mod global_scripts;
mod keywords;
mod lexer;
mod link_delays;
mod mapping;
mod notify;
mod notify_fifo;
mod parser;
mod preprocess;
mod real_server;
mod route_line;
mod routing_blocks;
mod rt_names;
mod rule_line;
mod sequence;
mod smtp;
mod ssl;
mod track_file;
mod track_lists;
mod track_process;
mod virtual_server;
mod virtual_server_group;
mod vmac;
mod vrrp_instance;
mod vrrp_script;
mod vrrp_sync_group;
mod words;

use std::path::Path;

use crate::diagnostic::Diagnostics;
use crate::spec::Draft;

/// How to read a keepalived.conf beyond its text: keepalived's command-line settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeepalivedOptions {
    /// keepalived's `-i` / `--config-id`: the ID that `@ID` lines are kept for, and
    /// `${_INSTANCE}`. keepalived's default is the host name up to its first dot.
    pub config_id: Option<String>,
}

impl Default for KeepalivedOptions {
    /// The config id of this host, as keepalived takes it (`uname -n` up to the first dot).
    fn default() -> KeepalivedOptions {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").ok();
        KeepalivedOptions {
            config_id: host.and_then(|h| {
                let id = h.trim().split('.').next().unwrap_or_default();
                (!id.is_empty()).then(|| id.to_owned())
            }),
        }
    }
}

impl KeepalivedOptions {
    /// These options with `config_id` as the config id (`None`: keep the host's).
    #[must_use]
    pub fn with_config_id(mut self, config_id: Option<String>) -> KeepalivedOptions {
        if config_id.is_some() {
            self.config_id = config_id;
        }
        self
    }
}

/// Reads `text`, the contents of `path`, and what it includes.
pub(crate) fn read(
    text: &str,
    path: &Path,
    options: &KeepalivedOptions,
    d: &mut Diagnostics,
) -> Draft {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.as_nanos() as u64);
    let mut first = Diagnostics::default();
    let (first_read, random_used) = statements(text, path, options, seed, &mut first);
    // keepalived seeds ${_RANDOM} with global_defs random_seed when it reads the file
    // again (its children do); reading it again with the seed has the same effect.
    match random_seed(&first_read).filter(|_| random_used) {
        Some(seed) => {
            let (statements, _) = statements(text, path, options, u64::from(seed), d);
            mapping::map(statements, d)
        }
        None => {
            d.absorb(first);
            mapping::map(first_read, d)
        }
    }
}

fn statements(
    text: &str,
    path: &Path,
    options: &KeepalivedOptions,
    seed: u64,
    d: &mut Diagnostics,
) -> (Vec<parser::Stmt>, bool) {
    let lex = lexer::LexOptions {
        config_id: options.config_id.clone(),
        seed,
    };
    let (tokens, random_used) = lexer::lex_with(text, path, &lex, d);
    (parser::parse(tokens, d), random_used)
}

/// The last valid `random_seed` of the top-level `global_defs` blocks.
fn random_seed(statements: &[parser::Stmt]) -> Option<u32> {
    statements
        .iter()
        .filter(|s| s.keyword == "global_defs")
        .filter_map(|s| s.block.as_deref())
        .flatten()
        .filter(|s| s.keyword == "random_seed")
        .filter_map(|s| match s.args.as_slice() {
            [value] => value.parse().ok(),
            _ => None,
        })
        .next_back()
}
