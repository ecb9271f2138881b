#![no_main]
//! `cargo +nightly fuzz run layouts`: see `blockscale_fuzz::layouts`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blockscale_fuzz::layouts(data));
