//! See `src/control_request.rs` for the input layout and what is checked.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| baton_fuzz::control_request::check(data));
