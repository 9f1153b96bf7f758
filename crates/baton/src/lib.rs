//! The `baton` package's library: only what the binary's untrusted-input parsers need to
//! be reached from outside the binary, by the fuzz targets in `fuzz/` (their own workspace,
//! nightly). Everything else stays in the binary (`main.rs`), which uses this library.

pub mod control_request;
