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
//! A public function reads [`active`] once, on the calling thread, and hands
//! the level to its kernels, so that the threads it spawns use the same one.
//!
//! Kernels (x86-64; every other target runs the portable code):
//!
//! | path | AVX-512 | AVX2 |
//! |---|---|---|
//! | element encode, nearest even and stochastic (E2M1, E2M3, E3M2, E4M3, E5M2, MXINT8; from f32, and f16/bf16 staged through f32) | yes | yes |
//! | element decode to f32 (every format, by table look-up) | yes | yes |
//! | block and tensor amax | yes | yes |
//! | quantize: amax, scale (NVFP4 Transformer Engine profile, MX RCEIL), element map, encode, FP4 packing | yes | yes |
//! | stochastic rounding: SplitMix64 seeding and Xoshiro256++ streams per tile | yes | portable |
//! | dequantize: unpack, decode, scale | yes | yes |
//!
//! Portable everywhere: E8M0 encode (ml_dtypes' tie rules), decode into
//! f16/bf16/f64, `pack_e2m1`/`unpack_e2m1`, columnwise (transposed)
//! dequantize, and the other NVFP4 profiles' and MX rules' scales.

use std::cell::Cell;

/// Rows of A per GEMM micro-tile (the packed layouts in `gemm` use it).
pub(crate) const GEMM_MR: usize = 8;
/// Columns of B per GEMM micro-tile: one 512-bit vector of f32 or i32.
pub(crate) const GEMM_NR: usize = 16;
use std::sync::OnceLock;

/// An instruction-set level, ordered: each implies the ones before it.
///
/// ```
/// use blockscale::simd::{Level, active, detected, with_level};
/// assert!(active() <= detected());
/// assert_eq!(with_level(Level::Portable, active), Level::Portable);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Plain Rust, no architecture-specific code: the specification.
    Portable,
    /// x86-64 AVX2 with FMA and F16C.
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
/// ```
/// let level = blockscale::simd::detected();
/// println!("this CPU: {}", level.name());
/// ```
pub fn detected() -> Level {
    static DETECTED: OnceLock<Level> = OnceLock::new();
    *DETECTED.get_or_init(detect)
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Level {
    use std::arch::is_x86_feature_detected as has;
    let avx2 = has!("avx2") && has!("fma") && has!("f16c");
    let avx512 =
        avx2 && has!("avx512f") && has!("avx512bw") && has!("avx512dq") && has!("avx512vl");
    if avx512 && has!("avx512vnni") {
        Level::Avx512Vnni
    } else if avx512 {
        Level::Avx512
    } else if avx2 {
        Level::Avx2
    } else {
        Level::Portable
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Level {
    Level::Portable
}

/// The cap from `BLOCKSCALE_SIMD`, read once. An unknown value caps at
/// [`Level::Portable`], the safe reading of a typo.
fn env_cap() -> Level {
    static CAP: OnceLock<Level> = OnceLock::new();
    *CAP.get_or_init(|| match std::env::var("BLOCKSCALE_SIMD") {
        Ok(v) => Level::parse(&v).unwrap_or(Level::Portable),
        Err(_) => Level::Avx512Vnni,
    })
}

thread_local! {
    static THREAD_CAP: Cell<Level> = const { Cell::new(Level::Avx512Vnni) };
}

/// The level a call made now, on this thread, uses: the lowest of
/// [`detected`], `BLOCKSCALE_SIMD` and this thread's [`with_level`] cap.
///
/// ```
/// assert!(blockscale::simd::active() <= blockscale::simd::detected());
/// ```
pub fn active() -> Level {
    detected().min(env_cap()).min(THREAD_CAP.with(Cell::get))
}

/// Runs `f` with this thread's level capped at `level` (restored afterwards,
/// even if `f` panics). A cap above what the CPU supports has no effect.
///
/// ```
/// use blockscale::simd::{Level, active, with_level};
/// let inner = with_level(Level::Portable, || active());
/// assert_eq!(inner, Level::Portable);
/// ```
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

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub(crate) mod x86_64;

// ---------------------------------------------------------------------------
// Crate-internal kernel entry points. Each returns `false` when no kernel
// exists for the level (or the CPU), and the caller then runs the portable
// code, which is the specification.

/// What an element kernel needs to know about the element format and the
/// conversion options, flattened into numbers (built by the element
/// layer, which owns the formats) (nearest-even and stochastic
/// rounding only; the overflow code is the one those modes give).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // read only by the architecture-specific kernels
pub(crate) enum Codec {
    /// A sign–exponent–mantissa minifloat.
    Mini {
        /// Total width in bits (4, 6 or 8).
        bits: u32,
        /// Mantissa bits.
        man_bits: u32,
        /// Exponent bias.
        bias: i32,
        /// Largest finite magnitude code.
        max_code: u32,
        /// Magnitude code of an overflowing or infinite input.
        over_code: u32,
        /// Full code of a NaN input with the sign bit clear, and set.
        nan_pos: u32,
        /// See `nan_pos`.
        nan_neg: u32,
    },
    /// MXINT8: k/64, symmetric ±127.
    Int8 {
        /// Code of a NaN input.
        nan_code: u32,
    },
}

/// What is done to each f32 before it is rounded (the quantizer's element
/// map), each operation rounded to f32 as the portable code does.
#[derive(Clone, Copy, Debug, PartialEq)]
#[allow(dead_code)] // read only by the architecture-specific kernels
pub(crate) enum Pre {
    /// Nothing.
    None,
    /// `x · m`.
    Mul(f32),
    /// `x / d`.
    Div(f32),
    /// `(x / a) / b`.
    DivDiv(f32, f32),
    /// Every element gets this code (a zero block).
    Fill(u8),
}

/// Where the codes go: one per byte, or FP4 packed two per byte (element 2j
/// low nibble; an odd count leaves the last high nibble zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Packing {
    Bytes,
    Nibbles,
}

/// `level`, lowered to what this CPU supports: kernels are only ever run
/// on a level [`detected`] allows, whatever the caller passes.
#[allow(dead_code)]
fn usable(level: Level) -> Level {
    level.min(detected())
}

/// Encodes one row of blocks: block `b` is `src[b·block_len ..]` (the
/// last may be shorter), mapped by `pres[b]` and rounded to nearest even,
/// or stochastically with `rand[i]` (the engine's `Stochastic { random:
/// rand[i], count: 32 }`). `dst.len()` is `src.len()` (bytes) or
/// `⌈src.len()/2⌉` (nibbles, which needs an even `block_len` unless there
/// is one block).
#[allow(unused_variables, clippy::too_many_arguments)]
pub(crate) fn encode_row(
    level: Level,
    codec: &Codec,
    pres: &[Pre],
    block_len: usize,
    src: &[f32],
    rand: Option<&[u32]>,
    dst: &mut [u8],
    packing: Packing,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if usable(level) >= Level::Avx512 {
        return x86_64::quant::encode_row_avx512(codec, pres, block_len, src, rand, dst, packing);
    }
    #[cfg(target_arch = "x86_64")]
    if usable(level) >= Level::Avx2 {
        return x86_64::quant_avx2::encode_row_avx2(
            codec, pres, block_len, src, rand, dst, packing,
        );
    }
    false
}

/// Decodes one row: `dst[i] = table[code_i & (2^bits − 1)]`, times
/// `factors.0[i / factors.1]` if given (one f32 multiplication). With
/// nibbles, `src` holds `⌈dst.len()/2⌉` bytes and the block length must be
/// even (unless there is one block).
#[allow(unused_variables)]
pub(crate) fn decode_row(
    level: Level,
    table: &[f32; 256],
    bits: u32,
    src: &[u8],
    dst: &mut [f32],
    factors: Option<(&[f32], usize)>,
    packing: Packing,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if usable(level) >= Level::Avx512 {
        return x86_64::quant::decode_row_avx512(table, bits, src, dst, factors, packing);
    }
    #[cfg(target_arch = "x86_64")]
    if usable(level) >= Level::Avx2 {
        return x86_64::quant_avx2::decode_row_avx2(table, bits, src, dst, factors, packing);
    }
    false
}

/// Seeds the Xoshiro256++ streams of tiles `t0 .. t0 + n` (n =
/// `states.len() / 4`) exactly as `Xoshiro256PlusPlus::seed_from_u64(
/// seed_mix ^ splitmix64(t))` does (SplitMix64 fills the 256-bit state),
/// into `states` word-major: word w of tile i at `w·n + i`. `false` if no
/// kernel ran.
#[allow(unused_variables)]
pub(crate) fn sr_seed(level: Level, seed_mix: u64, t0: u64, states: &mut [u64]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if usable(level) >= Level::Avx512 {
        return x86_64::quant::sr_seed_avx512(seed_mix, t0, states);
    }
    false
}

/// Draws `counts[i]` values `next_u32()` (the high half of `next_u64()`)
/// from tile i's stream in `states` (as [`sr_seed`] lays them out) into
/// `out[i·stride ..]`, advancing the states. `false` if no kernel ran.
#[allow(unused_variables)]
pub(crate) fn sr_draws(
    level: Level,
    states: &mut [u64],
    counts: &[u32],
    stride: usize,
    out: &mut [u32],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if usable(level) >= Level::Avx512 {
        return x86_64::quant::sr_draws_avx512(states, counts, stride, out);
    }
    false
}

/// The amax of each `block_len` run of `src` (the last may be shorter)
/// into `out[b]` (max |x|; any NaN gives `f32::NAN`); `false` if no kernel
/// ran. `out` must hold ⌈src.len()/block_len⌉ values.
#[allow(unused_variables)]
pub(crate) fn block_amaxes(level: Level, src: &[f32], block_len: usize, out: &mut [f32]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if usable(level) >= Level::Avx512 {
        return x86_64::quant::block_amaxes_avx512(src, block_len, out);
    }
    false
}

/// The amax of `src` (max |x|; any NaN gives `f32::NAN`), or `None` if no
/// kernel ran.
#[allow(unused_variables)]
pub(crate) fn amax(level: Level, src: &[f32]) -> Option<f32> {
    #[cfg(target_arch = "x86_64")]
    if usable(level) >= Level::Avx512 {
        let bits = x86_64::quant::amax_bits_avx512(src)?;
        return Some(if bits > 0x7F80_0000 {
            f32::NAN
        } else {
            f32::from_bits(bits)
        });
    }
    #[cfg(target_arch = "x86_64")]
    if usable(level) >= Level::Avx2 {
        let bits = x86_64::quant_avx2::amax_bits_avx2(src)?;
        return Some(if bits > 0x7F80_0000 {
            f32::NAN
        } else {
            f32::from_bits(bits)
        });
    }
    None
}
