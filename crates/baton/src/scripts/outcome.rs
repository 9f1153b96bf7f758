//! How a script run ended, as the daemon and the script helper's answers tell it.

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Outcome {
    Exited(i32),
    Signalled(i32),
    TimedOut,
    SpawnFailed(String),
}

impl Outcome {
    pub(crate) fn success(&self) -> bool {
        *self == Outcome::Exited(0)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Exited(code) => write!(f, "exited with {code}"),
            Outcome::Signalled(signal) => write!(f, "killed by signal {signal}"),
            Outcome::TimedOut => f.write_str("timed out and was killed"),
            Outcome::SpawnFailed(error) => write!(f, "could not start: {error}"),
        }
    }
}
