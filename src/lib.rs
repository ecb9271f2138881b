//! # blockscale
//!
//! The reference implementation of block-scaled low-precision number
//! formats — NVFP4, MXFP8, MXFP6, MXFP4, MXINT8 and FP8 — exact to the bit
//! and fast enough to test GPU kernels and convert real checkpoints against.
//!
//! The crate is layered; a module refers only to modules of lower layers
//! (`tests/layering.rs` checks this on the source):
//!
//! 0. Leaves: [`simd`], every architecture-specific kernel behind runtime
//!    feature detection, each tested bit-identical to the portable code it
//!    stands in for (it knows no format: the element layer describes
//!    itself to it); the seeded random streams; the parallel loops (rayon's
//!    with `std`, sequential without); the error type.
//! 1. [`element`]: the scalar codecs [`E2M1`], [`E2M3`], [`E3M2`], [`E4M3`],
//!    [`E5M2`], [`E8M0`] and [`Int8`], with every rounding and overflow rule
//!    their sources use, and bulk slice conversion. Beside it, [`layout`]
//!    (swizzled scale layouts), which needs nothing but numbers.
//! 2. [`scale`]: block scaling rules, pure functions of amaxes (MX E8M0
//!    rules, NVFP4's two levels per producer, FP8 current and delayed
//!    scaling); [`metrics`], error metrics over any real type.
//! 3. [`format`](mod@format): the [`format::BlockFormat`] trait, one impl
//!    per format (NVFP4, MXFP8/6/4, MXINT8, FP8 per-tensor and blockwise),
//!    and [`format::AnyFormat`], every format as one runtime value that
//!    prints and parses as a [`format::FormatId`] (`nvfp4,profile=modelopt`).
//!    Its module docs say how to add a format: one impl and one line.
//! 4. [`tensor`]: [`tensor::QuantizedTensor`], quantize / dequantize /
//!    fake-quantize of 2-D matrices in either direction, and
//!    [`tensor::AnyQuantized`], a tensor of any format.
//! 5. [`gemm`]: the block-scaled GEMM with FP32 accumulation over any
//!    [`format::BlockFormat`] pair, a naive reference and a fast path,
//!    bit-identical; [`rht`], the Random Hadamard Transform; `io` (feature
//!    `io`), `.npy` and safetensors files and the checkpoint layouts;
//!    [`testing`], the corner values and format properties the crate's
//!    tests and fuzz targets share.
//! 6. [`recipe`]: the six recipes for a linear layer's three GEMMs
//!    (`delayed`, `tensorwise`, `mxfp8`, `blockwise`, `nvfp4`, `mxfp4`):
//!    which format, block, direction, rounding and transform each operand
//!    gets, the delayed-scaling state, and a helper that runs a layer's
//!    forward and backward GEMMs through them. `vectors` (feature `io`):
//!    test-vector bundles for GPU kernels (operands in the kernels'
//!    layouts, inputs and the exact GEMM output, as files).
//!
//! The `blockscale` binary (feature `cli`) is the command line, on the
//! public API.
//!
//! The numerical contract, with the public source of every rule, is
//! [`contract`] (`docs/SEMANTICS.md`); each item's doc comment states its
//! part of it and cites the section.
//!
//! ```
//! use blockscale::{E2M1, E4M3, E8M0};
//! assert_eq!(E4M3::from_f32(0.1).to_f32(), 0.1015625);
//! assert_eq!(E2M1::from_f32(-2.6).to_f32(), -3.0);
//! assert_eq!(E8M0::from_f32(96.0).to_f32(), 128.0);
//! ```
#![deny(missing_docs)]
// `unsafe` is allowed only in `simd::x86_64` (SIMD loads, stores and calls
// of `#[target_feature]` functions) and `io::map` (memory mapping); each
// block states its invariant in a safety comment, which clippy checks.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(clippy::missing_safety_doc)]
#![deny(clippy::unnecessary_safety_comment)]
// Beyond the defaults: no forgotten `dbg!`, `todo!` or `unimplemented!`
// (each a panic or stray output in a library).
#![deny(clippy::dbg_macro, clippy::todo, clippy::unimplemented)]
#![cfg_attr(not(feature = "std"), no_std)]

// `format!` and `vec!` in every module, with or without std.
#[macro_use]
extern crate alloc;

/// The `alloc` types every module may use, in scope with or without std
/// (`use crate::prelude::*`).
#[allow(unused_imports)]
mod prelude {
    pub(crate) use alloc::borrow::ToOwned;
    pub(crate) use alloc::boxed::Box;
    pub(crate) use alloc::string::{String, ToString};
    pub(crate) use alloc::vec::Vec;
}

pub mod element;
mod error;
pub mod format;
#[cfg(feature = "std")]
pub mod gemm;
#[cfg(feature = "io")]
pub mod io;
pub mod layout;
#[cfg(feature = "std")]
pub mod metrics;
mod par;
#[cfg(feature = "std")]
pub mod recipe;
#[cfg(feature = "std")]
pub mod rht;
mod rng;
pub mod scale;
pub mod simd;
pub mod tensor;
#[cfg(feature = "std")]
pub mod testing;
#[cfg(feature = "io")]
pub mod vectors;

/// The `bytemuck` whose `Pod`/`Zeroable` the element types implement.
pub use bytemuck;
pub use element::{E2M1, E2M3, E3M2, E4M3, E4M3Fnuz, E5M2, E5M2Fnuz, E8M0, Element, Int8};
pub use error::Error;
/// The `half` whose `f16` and `bf16` the crate takes and returns.
pub use half;
/// The `num-traits` whose traits the element types implement (feature `num-traits`).
#[cfg(feature = "num-traits")]
pub use num_traits;
/// The `rand_core` whose `Rng` [`element::RandomBits::from_rng`] and
/// [`element::slice::encode_stochastic`] take (0.10), re-exported so that a
/// caller can name the exact version; the seeded functions need none.
pub use rand_core;
/// The `serde` whose traits the element types implement (feature `serde`).
#[cfg(feature = "serde")]
pub use serde;
/// The `zerocopy` whose traits the element types derive (feature `zerocopy`).
#[cfg(feature = "zerocopy")]
pub use zerocopy;

/// The numerical contract (`docs/SEMANTICS.md`), rendered: what every
/// format means bit for bit, the public source of each rule, and which
/// item implements it. Doc comments cite its sections as "§N".
#[doc = include_str!("../docs/SEMANTICS.md")]
pub mod contract {}

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
