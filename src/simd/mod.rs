//! Architecture-specific kernels, chosen at run time.
//!
//! This is the one place in the tree that holds architecture-specific code
//! (and the only place, with memory mapping, where `unsafe` is allowed). The
//! portable code elsewhere in the crate is the specification; every kernel
//! here is tested bit-identical to it.
//!
//! The instruction-set [`Level`] a call uses is the lowest of:
//! - what the CPU supports ([`detected`]);
//! - the cap in the environment variable `BLOCKSCALE_SIMD` (`portable`,
//!   `avx2`, `avx512` or `avx512vnni`), read once per process, so that a
//!   test run can force the portable path;
//! - a cap set on the calling thread with [`with_level`].
//!
//! A public function reads [`active`] once, on the calling thread, and
//! takes that level's kernel table (crate-internal: `kernels(level)`, a
//! struct of optional function pointers, `None` where the portable code
//! runs); its threads call the same table. `simd` imports no other module
//! of the crate: the callers own the portable code and the formats. One
//! piece of portable code lives here, `wide` (the GEMM's exact block
//! terms of i64 sums), because the GEMM runs it as it is and the x86-64
//! tables compile the same text with LZCNT and BMI2.
//!
//! Kernels (x86-64, `x86_64/avx2` and `x86_64/avx512`, one file per job;
//! every other target runs the portable code):
//!
//! | path | AVX-512 | AVX2 |
//! |---|---|---|
//! | element encode, nearest even and stochastic (E2M1, E2M3, E3M2, E4M3, E5M2, MXINT8; from f32, and f16/bf16 staged through f32) | yes | yes |
//! | element decode to f32 (every format; by table look-up, or, at AVX2, computed from an FP6 or FP8 minifloat's fields) | yes | yes |
//! | block and tensor amax | yes | yes |
//! | quantize: amax, scale (NVFP4 Transformer Engine profile, MX RCEIL), element map, encode, FP4 packing | yes | yes |
//! | stochastic rounding: SplitMix64 seeding and Xoshiro256++ streams per tile; the SplitMix64 counter (`Stochastic8`) | yes | yes |
//! | dequantize: unpack, decode, scale | yes | yes |
//! | GEMM micro-tiles: i8 (`vpdpbusd` with VNNI; at AVX2 `vpmaddubsw` for FP4, `vpmaddwd` otherwise), f64 and i64 block sums | yes (i8 only with VNNI) | yes |
//! | GEMM block terms of exact i64 sums (scalar, compiled with LZCNT and BMI2) | yes | yes |
//!
//! Portable everywhere: E8M0 encode (ml_dtypes' tie rules), decode into
//! f16/bf16/f64, `pack_e2m1`/`unpack_e2m1`, columnwise (transposed)
//! dequantize, and the other NVFP4 profiles' and MX rules' scales.

/// Rows of A per GEMM micro-tile (the packed layouts in `gemm` use it).
pub(crate) const GEMM_MR: usize = 8;
/// Columns of B per GEMM micro-tile: one 512-bit vector of f32 or i32.
pub(crate) const GEMM_NR: usize = 16;

/// An instruction-set level, ordered: each implies the ones before it.
///
/// ```
/// use blockscale::simd::{Level, active, detected, with_level};
/// assert!(active() <= detected());
/// assert_eq!(with_level(Level::Portable, active), Level::Portable);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Level {
    /// Plain Rust, no architecture-specific code: the specification.
    Portable,
    /// x86-64 AVX2 with FMA, F16C, BMI1, BMI2 and LZCNT (Haswell,
    /// Excavator, Zen and later have all of them).
    Avx2,
    /// x86-64 AVX-512 F, BW, DQ and VL (Skylake-SP, Ice Lake, Zen 4 and later).
    Avx512,
    /// [`Level::Avx512`] plus AVX-512 VNNI (8- and 16-bit integer dot products).
    Avx512Vnni,
}

impl Level {
    /// The level's name as `BLOCKSCALE_SIMD` spells it.
    ///
    /// ```
    /// assert_eq!(blockscale::simd::Level::Avx2.name(), "avx2");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Level::Portable => "portable",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
            Level::Avx512Vnni => "avx512vnni",
        }
    }

    /// Parses a `BLOCKSCALE_SIMD` value (case-insensitive); `None` if unknown.
    ///
    /// ```
    /// use blockscale::simd::Level;
    /// assert_eq!(Level::parse("AVX512"), Some(Level::Avx512));
    /// assert_eq!(Level::parse("neon"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Level> {
        [
            Level::Portable,
            Level::Avx2,
            Level::Avx512,
            Level::Avx512Vnni,
        ]
        .into_iter()
        .find(|l| l.name().eq_ignore_ascii_case(s.trim()))
    }
}

/// The highest level this CPU supports (detected once per process).
///
/// Without the `std` feature there is no run-time detection: the level is
/// what the compilation target enables (`-C target-feature`,
/// `-C target-cpu`), [`Level::Portable`] by default.
///
/// ```
/// let level = blockscale::simd::detected();
/// println!("this CPU: {}", level.name());
/// ```
pub fn detected() -> Level {
    #[cfg(feature = "std")]
    {
        static DETECTED: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
        *DETECTED.get_or_init(detect)
    }
    #[cfg(not(feature = "std"))]
    detect()
}

#[cfg(all(target_arch = "x86_64", feature = "std"))]
fn detect() -> Level {
    use std::arch::is_x86_feature_detected as has;
    level_of(
        has!("avx2")
            && has!("fma")
            && has!("f16c")
            && has!("bmi1")
            && has!("bmi2")
            && has!("lzcnt"),
        has!("avx512f") && has!("avx512bw") && has!("avx512dq") && has!("avx512vl"),
        has!("avx512vnni"),
    )
}

#[cfg(all(target_arch = "x86_64", not(feature = "std")))]
fn detect() -> Level {
    level_of(
        cfg!(all(
            target_feature = "avx2",
            target_feature = "fma",
            target_feature = "f16c",
            target_feature = "bmi1",
            target_feature = "bmi2",
            target_feature = "lzcnt"
        )),
        cfg!(all(
            target_feature = "avx512f",
            target_feature = "avx512bw",
            target_feature = "avx512dq",
            target_feature = "avx512vl"
        )),
        cfg!(target_feature = "avx512vnni"),
    )
}

#[cfg(target_arch = "x86_64")]
fn level_of(avx2: bool, avx512: bool, vnni: bool) -> Level {
    match (avx2, avx2 && avx512, vnni) {
        (true, true, true) => Level::Avx512Vnni,
        (true, true, false) => Level::Avx512,
        (true, false, _) => Level::Avx2,
        _ => Level::Portable,
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Level {
    Level::Portable
}

/// The cap from `BLOCKSCALE_SIMD`, read once. An unknown value caps at
/// [`Level::Portable`], the safe reading of a typo.
#[cfg(feature = "std")]
fn env_cap() -> Level {
    static CAP: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
    *CAP.get_or_init(|| match std::env::var("BLOCKSCALE_SIMD") {
        Ok(v) => Level::parse(&v).unwrap_or(Level::Portable),
        Err(_) => Level::Avx512Vnni,
    })
}

#[cfg(feature = "std")]
std::thread_local! {
    static THREAD_CAP: core::cell::Cell<Level> = const { core::cell::Cell::new(Level::Avx512Vnni) };
}

/// The level a call made now, on this thread, uses: the lowest of
/// [`detected`], `BLOCKSCALE_SIMD` and this thread's [`with_level`] cap
/// (without `std`: [`detected`]).
///
/// ```
/// assert!(blockscale::simd::active() <= blockscale::simd::detected());
/// ```
pub fn active() -> Level {
    #[cfg(feature = "std")]
    {
        detected()
            .min(env_cap())
            .min(THREAD_CAP.with(core::cell::Cell::get))
    }
    #[cfg(not(feature = "std"))]
    detected()
}

/// Runs `f` with this thread's level capped at `level` (restored afterwards,
/// even if `f` panics). A cap above what the CPU supports has no effect.
///
/// ```
/// use blockscale::simd::{Level, active, with_level};
/// let inner = with_level(Level::Portable, || active());
/// assert_eq!(inner, Level::Portable);
/// ```
#[cfg(feature = "std")]
pub fn with_level<R>(level: Level, f: impl FnOnce() -> R) -> R {
    struct Restore(Level);
    impl Drop for Restore {
        fn drop(&mut self) {
            THREAD_CAP.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(THREAD_CAP.with(|c| c.replace(level)));
    f()
}

/// [`with_level`] where there is one (with `std`), else `f()`: the crate's
/// parallel loops carry the caller's cap into their worker threads with it.
pub(crate) fn in_level<R>(level: Level, f: impl FnOnce() -> R) -> R {
    #[cfg(feature = "std")]
    return with_level(level, f);
    #[cfg(not(feature = "std"))]
    {
        let _ = level;
        f()
    }
}

mod cpu;
pub(crate) mod table;
#[cfg_attr(not(feature = "std"), allow(dead_code))] // the GEMM needs std
pub(crate) mod wide;
pub use cpu::{Cpu, Microarch, cpu};
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86_64;

pub(crate) use table::{
    Codec, Decoder, Kernels, Packing, PlaneTile, QuadBlock, QuadTile, Terms, kernels,
};
