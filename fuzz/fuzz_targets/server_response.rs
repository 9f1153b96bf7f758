//! See `src/server_response.rs` for the input layout and what is checked.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| baton_fuzz::server_response::check(data));
