//! See `src/http1_chunked.rs` for the input layout and what is checked.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| baton_fuzz::http1_chunked::check(data));
