//! Shared by the benchmarks (`failover_bench`, `switchover_bench`, `proxy_bench`): the daemon
//! binary, keepalived and nginx command lines, oha's report, a small origin server, interrupt clean-up, medians.
//! Each example includes this with `#[path]`; cargo does not build it on its own.
#![allow(dead_code)] // each benchmark uses a different part

pub(crate) mod baton;
pub(crate) mod choice;
pub(crate) mod client_process;
pub(crate) mod host_cpu;
pub(crate) mod http;
pub(crate) mod interrupt;
pub(crate) mod keepalived;
pub(crate) mod lab;
pub(crate) mod machine;
pub(crate) mod nginx;
pub(crate) mod oha;
pub(crate) mod origin;
pub(crate) mod programs;
pub(crate) mod serve;
pub(crate) mod stats;
pub(crate) mod svg;
