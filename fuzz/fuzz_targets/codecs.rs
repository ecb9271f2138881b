#![no_main]
//! `cargo +nightly fuzz run codecs`: see `blockscale_fuzz::codecs`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blockscale_fuzz::codecs(data));
