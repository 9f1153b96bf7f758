//! `baton demo` and the two hidden helpers it runs in the lab: `demo-app` (the application
//! servers) and `demo-client` (the client).
//!
//! The demo builds the guide's LAN in network namespaces (crates/lab), starts the running
//! executable as both load balancers, both apps and the client, so that nothing but `ip`
//! must be installed, and tells what the client saw while lb2's cable was cut and restored.
//! With `--l4` the load balancers balance in the kernel (`[[virtual_server]]`, which also
//! needs `nft`), and app2 is stopped and started again first ([`Mode`]). With
//! `--active-active` each load balancer is master of one of two VIPs and both serve until
//! lb2's cable is cut.

mod app;
mod app_down;
mod client;
mod config;
mod mode;
mod reply;
mod scenario;
mod summary_per_vip;
mod timeline;
mod watch;
mod workdir;

pub(crate) use app::serve as app;
pub(crate) use client::run as client;
pub(crate) use config::text as config_text;
pub(crate) use mode::Mode;
pub(crate) use scenario::run;
