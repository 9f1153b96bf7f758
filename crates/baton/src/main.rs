//! The `baton` binary: CLI, daemon wiring, admin listener (metrics, status page), demo.

mod admin;
mod anycast_status;
mod bfd_status;
mod cli;
mod commands;
mod conn_sync_status;
mod daemon;
mod data_plane;
mod demo;
mod logging;
mod package_files;
mod privileges;
mod published;
mod runtime_commands;
mod script_helper;
mod scripts;
mod status;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

/// jemalloc, for memory that stays small with many idle connections (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(source) => commands::check(&source),
        Command::Run(args) => commands::run(args),
        Command::Vrrp(args) => commands::vrrp(args),
        Command::Demo(args) => commands::demo(&args),
        Command::DemoApp(args) => commands::demo_app(&args),
        Command::DemoClient(args) => commands::demo_client(&args),
        Command::Proxy(args) => commands::proxy(args),
        Command::Status(args) => commands::status(&args),
        Command::Server(command) => runtime_commands::server(&command),
        Command::Instance(command) => runtime_commands::instance(&command),
        Command::Reload(args) => runtime_commands::reload(&args),
        Command::Anycast(command) => runtime_commands::anycast(&command),
        Command::ScriptHelper(args) => script_helper::serve(&args),
        Command::ScriptHelperRun(args) => script_helper::run_one(args),
        Command::PackageFiles(args) => package_files::write(&args),
    }
}
