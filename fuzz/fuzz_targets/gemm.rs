#![no_main]
//! `cargo +nightly fuzz run gemm`: see `blockscale_fuzz::gemm`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blockscale_fuzz::gemm(data));
