//! `baton demo` and the two hidden helpers it runs in the lab: `demo-app` (the application
//! servers) and `demo-client` (the client).
//!
//! The demo builds the guide's LAN in network namespaces (crates/lab), starts the running
//! executable as both load balancers, both apps and the client, so that nothing but `ip`
//! must be installed, and tells what the client saw while lb2's cable was cut and restored.

mod app;
mod client;
mod config;
mod reply;
mod scenario;
mod timeline;
mod watch;
mod workdir;

pub(crate) use app::serve as app;
pub(crate) use client::run as client;
pub(crate) use config::LB_CONFIG;
pub(crate) use scenario::run;
