#![no_main]
//! `cargo +nightly fuzz run gemm_apis`: see `blockscale_fuzz::gemm_apis`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| blockscale_fuzz::gemm_apis(data));
