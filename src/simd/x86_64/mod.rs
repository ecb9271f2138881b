//! x86-64 kernels (AVX2, AVX-512, AVX-512 VNNI). Each function here is
//! `#[target_feature]`-gated and `unsafe` to call; its caller in
//! [`crate::simd`] checks the [`super::Level`] first.
pub(crate) mod gemm;
pub(crate) mod quant;
pub(crate) mod quant_avx2;
