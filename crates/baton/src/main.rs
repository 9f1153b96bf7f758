//! The `baton` binary.

use clap::{Parser, Subcommand};

/// A highly available load balancer: VRRP failover (keepalived-compatible) and load balancing
/// in one daemon.
#[derive(Debug, Parser)]
#[command(name = "baton", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the guide's two-LB scenario in network namespaces and show a failover.
    Demo,
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => {
            eprintln!(
                "baton demo is coming: it needs the failover daemon (issue 3) and the lab.\n\
                 Today baton is its VRRP engine; run the tests to see it elect, fail over and \
                 heal on a simulated LAN:\n    cargo test --workspace"
            );
            std::process::exit(2);
        }
    }
}
