#![no_main]
//! `cargo +nightly fuzz run safetensors`: see `blockscale_fuzz::safetensors`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blockscale_fuzz::safetensors(data));
