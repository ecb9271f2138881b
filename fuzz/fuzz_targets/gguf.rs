#![no_main]
//! `cargo +nightly fuzz run gguf`: see `blockscale_fuzz::gguf`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blockscale_fuzz::gguf(data));
