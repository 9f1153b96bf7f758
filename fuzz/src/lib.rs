//! The fuzz targets' inputs and checks, one module per target in `fuzz_targets/`, which only
//! hand libFuzzer's input to [`decode::check`] and the like. In a library so that
//! `tests/seeds.rs` can replay the checked-in inputs (`seeds/`) through the same checks with
//! a stable toolchain and no cargo-fuzz, as CI does.

pub mod control_request;
pub mod decode;
pub mod http1_chunked;
pub mod http1_request;
pub mod keepalived_conf;
pub mod server_response;
pub mod toml_config;

mod config;
