//! A network-namespace testbed: the guide's LAN, built on one machine, owned by one test.
//!
//! [`Lab::guide`] builds the topology of `load-balancing-and-failover-with-lxc`: a "switch"
//! namespace holding a Linux bridge, and one namespace per host (`lb1` 10.0.3.5, `lb2`
//! 10.0.3.6, `app1` 10.0.3.11, `app2` 10.0.3.12, `client` 10.0.3.50, all /24), each
//! cabled to the bridge with a veth pair. [`Lab::builder`] builds other shapes.
//!
//! The contract, which every test, benchmark and `baton demo` relies on:
//!
//! - **Nothing touches the root namespace.** Every veth is created inside the switch
//!   namespace with its peer placed straight into the host namespace; no address, route or
//!   interface is added to the namespace the caller runs in, and no namespace gets a default
//!   route. Lab traffic cannot leave the lab.
//! - **Names never collide.** Every namespace name starts with `<base><pid>x<n>-` (base `bl`
//!   unless [`LabBuilder::prefix`] says otherwise), so parallel tests and parallel runs are
//!   independent. Interface names are the same in every lab (`eth0` in a host, `br0` and
//!   `v<n>` in the switch) because each namespace has its own set of interfaces.
//! - **Everything is removed.** Dropping a [`Lab`] (also while unwinding from a panic)
//!   stops every process running in its namespaces, SIGTERM first and SIGKILL after a grace
//!   period, then deletes the namespaces, which deletes their veths and the bridge.
//!   [`Lab::install_ctrlc_cleanup`] does the same on Ctrl-C for a binary, and
//!   [`Lab::remove_stale`] clears what a killed run left behind.
//! - **Processes start through `ip netns exec`.** `setns()` moves only the calling thread,
//!   so a lab never enters a namespace itself: [`Host::command`] returns a
//!   [`std::process::Command`] that runs the program inside the host's namespace.
//! - **Root, or root of a user namespace.** Building a lab needs CAP_NET_ADMIN and
//!   CAP_SYS_ADMIN over its namespaces, and iproute2. A process that is not root gets them
//!   in a user namespace of its own (the rootless lab, `rootless.rs`): a test re-runs itself
//!   there ([`handled_elsewhere`]), a binary re-executes itself there
//!   ([`reexec_in_user_namespace`]), and the kernel forbidding that is the only reason left
//!   to skip.
//!
//! [`Host::set_loss`] also needs nftables and [`Host::ping`] iputils-ping.
//! [`Lab::check_environment`] says what is missing, and [`handled_elsewhere`] is the gate
//! for tests:
//!
//! ```no_run
//! # fn main() -> Result<(), baton_lab::Error> {
//! if baton_lab::handled_elsewhere("lb1_reaches_app1") {
//!     return Ok(());
//! }
//! let lab = baton_lab::Lab::guide()?;
//! let lb1 = lab.host("lb1");
//! assert!(lb1.ping(lab.host("app1").address())?);
//! lab.host("app1").cut_link()?;
//! assert!(!lb1.ping(lab.host("app1").address())?);
//! # Ok(())
//! # }
//! ```

mod child;
mod cleanup;
mod cmd;
mod env;
mod error;
mod host;
mod id_map;
mod lab;
mod rootless;

pub use child::Child;
pub use env::handled_elsewhere;
pub use error::{Error, Result};
pub use host::Host;
pub use lab::{Lab, LabBuilder};
/// The signal type taken by [`Child::signal`] (from `nix`).
pub use nix::sys::signal::Signal;
pub use rootless::{
    NFT_TRANSACTIONS_ABOVE_212_KB, SCRIPT_SECURITY_NEEDS_REAL_ROOT, reexec_in_user_namespace,
    run_tests_without_root, skip_in_rootless_lab, skip_without_other_users,
};
