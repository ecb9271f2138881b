#![no_main]
//! `cargo +nightly fuzz run npy`: see `blockscale_fuzz::npy`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blockscale_fuzz::npy(data));
