//! Logs for people and for journald: under systemd (JOURNAL_STREAM set) no timestamps or
//! colours, since journald adds its own; elsewhere a timestamped line on stderr.
//! `RUST_LOG` / `BATON_LOG` choose the level (default info).

use tracing_subscriber::EnvFilter;

pub(crate) fn init() {
    let filter = EnvFilter::try_from_env("BATON_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder
            .without_time()
            .with_ansi(false)
            .with_target(false)
            .init();
    } else {
        builder.with_target(false).init();
    }
}
