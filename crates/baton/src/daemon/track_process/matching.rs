//! Does a process match a `vrrp_track_process`? keepalived's rules (`core/track_process.c`,
//! `check_params`): the name is compared whole, with the process name (comm) or, for a
//! full command, with argv[0]; parameters are compared as the NUL-separated bytes of
//! `/proc/PID/cmdline` after argv[0].

use baton_config::{ParamMatch, TrackProcess};

/// What was read of one process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    /// `/proc/PID/comm` (or the comm of a rename event), without its newline.
    pub(crate) comm: Option<String>,
    /// The start of `/proc/PID/cmdline`: at least [`Pattern::cmdline_needed`] bytes of it
    /// when it is that long.
    pub(crate) cmdline: Option<Vec<u8>>,
}

/// One `vrrp_track_process`'s `process` line, ready to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    process: String,
    /// keepalived's `process_params`: each parameter followed by a NUL.
    params: Vec<u8>,
    param_match: ParamMatch,
    pub(crate) full_command: bool,
}

impl Pattern {
    pub(crate) fn new(config: &TrackProcess) -> Pattern {
        let mut params = Vec::new();
        for param in &config.params {
            params.extend_from_slice(param.as_bytes());
            params.push(0);
        }
        Pattern {
            process: config.process.clone(),
            params,
            param_match: config.param_match,
            full_command: config.full_command,
        }
    }

    /// How much of a command line decides a match: argv[0] and the parameters with their
    /// NULs, and one byte more to tell a longer command line from an equal one.
    pub(crate) fn cmdline_needed(&self) -> usize {
        self.process.len() + 1 + self.params.len() + 1
    }

    /// `None` when what decides is not in `seen` (a rename event says nothing of argv).
    pub(crate) fn matches(&self, seen: &Seen) -> Option<bool> {
        if !self.full_command {
            return seen.comm.as_ref().map(|comm| *comm == self.process);
        }
        let cmdline = seen.cmdline.as_ref()?;
        let end = cmdline.iter().position(|&b| b == 0);
        let argv0 = &cmdline[..end.unwrap_or(cmdline.len())];
        if argv0 != self.process.as_bytes() {
            return Some(false);
        }
        if self.param_match == ParamMatch::Any {
            return Some(true);
        }
        let params = end.map_or(&[][..], |end| &cmdline[end + 1..]);
        Some(self.params_match(params))
    }

    fn params_match(&self, params: &[u8]) -> bool {
        let wanted = self.params.as_slice();
        if self.param_match == ParamMatch::Exact && wanted.is_empty() && params.is_empty() {
            return true;
        }
        if params.len() < wanted.len() {
            return false;
        }
        match self.param_match {
            ParamMatch::Exact => params == wanted,
            _ if wanted.is_empty() => true,
            ParamMatch::Partial => params.starts_with(wanted),
            // The last configured parameter without its NUL: it may go on.
            _ => params.starts_with(&wanted[..wanted.len() - 1]),
        }
    }
}
