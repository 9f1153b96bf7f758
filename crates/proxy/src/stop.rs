//! The signal a listener sends its connections and tunnels when it stops.

/// What a listener's connections are told to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Run,
    /// Finish the request in flight, then close.
    Drain,
    /// Close at once.
    Now,
}
