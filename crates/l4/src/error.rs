//! The crate's error type.

/// Why a transaction or a read failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The [`Table`](crate::Table) cannot be written as rules; every problem is listed.
    #[error("invalid L4 services: {0}")]
    Invalid(String),
    /// A program (`nft`, `conntrack`) could not be started.
    #[error("running {program} (is it installed?): {source}")]
    Spawn {
        /// The command line.
        program: String,
        /// Why it did not start.
        #[source]
        source: std::io::Error,
    },
    /// nft refused the transaction or the query; nothing was changed.
    #[error("nft refused: {stderr}")]
    Nft {
        /// nft's own explanation, naming the line of the script.
        stderr: String,
    },
    /// conntrack failed.
    #[error("conntrack failed: {stderr}")]
    Conntrack {
        /// conntrack's own explanation.
        stderr: String,
    },
    /// A program's output was not what this crate understands.
    #[error("unexpected output from {program}: {detail}")]
    Parse {
        /// The program.
        program: &'static str,
        /// What did not fit.
        detail: String,
    },
}
