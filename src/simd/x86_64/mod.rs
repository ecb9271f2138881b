//! x86-64 kernels, by instruction set (`avx2`, `avx512`) and, inside each,
//! one file per job (encode, decode, amax, random streams, GEMM tiles).
//! Every kernel is a `#[target_feature]` function, `unsafe` to call; each
//! instruction set's module exposes only its [`Kernels`](super::Kernels)
//! tables, which `simd::kernels` hands out after checking the CPU.
pub(super) mod avx2;
pub(super) mod avx512;
mod nearest;
mod planes;
mod quads;
mod scaled;
mod wide;
