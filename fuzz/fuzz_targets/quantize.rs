#![no_main]
//! `cargo +nightly fuzz run quantize`: see `blockscale_fuzz::quantize`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blockscale_fuzz::quantize(data));
