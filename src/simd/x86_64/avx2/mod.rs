//! AVX2 (with FMA) kernels, one file per job, and their table
//! [`KERNELS`]: element encode and decode, the amaxes, the random
//! streams, the GEMM tiles (the i64 tile is the portable loop around
//! this table's i64 block sums) and two of the GEMM's packers.
//!
//! Each entry below is a safe function around a `#[target_feature]` one.
//! Its safety argument is the table's: `simd::kernels` hands it out only
//! on a CPU that [`crate::simd::detected`] finds AVX2, FMA, F16C, BMI1,
//! BMI2 and LZCNT on.

mod amax;
mod codes;
mod counter;
mod decode;
mod encode;
mod gemm;
mod i16;
mod i8;
mod quads;
mod rng;
mod scaled;
mod split;

use crate::simd::table::ElementMap;
use crate::simd::table::{PORTABLE, amax_of_bits};
use crate::simd::{Codec, Decoder, Kernels, Packing};
use core::arch::x86_64::*;

/// The table of [`Level::Avx2`](crate::simd::Level::Avx2).
pub(in crate::simd) static KERNELS: Kernels = Kernels {
    _sealed: (),
    encode_row: Some(encode_row),
    encode_row_counter: Some(encode_row_counter),
    scaled_row: Some(scaled_row),
    decode_row: Some(decode_row),
    amax: Some(amax),
    block_amaxes: Some(block_amaxes),
    sr_seed: Some(sr_seed),
    sr_draws: Some(sr_draws),
    sr_counter: Some(sr_counter),
    i8_tile: Some(i8::i8_tile),
    f64_tile: Some(gemm::f64_tile),
    i16_tile: Some(i16::i16_tile),
    i16_sums: Some(i16::i16_sums),
    i64_block: Some(gemm::i64_block),
    wide_terms: Some(super::wide::wide_terms),
    nibble_quads: Some(quads::nibble_quads),
    split_whole: Some(split::split_whole),
    ..PORTABLE
};

#[allow(clippy::too_many_arguments)] // the table's `EncodeRow`
fn encode_row(
    codec: &Codec,
    maps: &[ElementMap],
    block_len: usize,
    src: &[f32],
    rand: Option<&[u32]>,
    dst: &mut [u8],
    packing: Packing,
    ahead: &[f32],
) {
    // SAFETY: reached only through `KERNELS`, so the CPU supports AVX2
    // and FMA.
    unsafe { encode::encode_row(codec, maps, block_len, src, rand, dst, packing, ahead) }
}

#[allow(clippy::too_many_arguments)] // the table's `ScaledRow`
fn scaled_row(
    elem: &Codec,
    scale: &Codec,
    dec: &Decoder,
    amaxes: &[f32],
    ks: (f32, f32),
    src: &[f32],
    scales: &mut [u8],
    dst: &mut [u8],
    ahead: &[f32],
) -> bool {
    // SAFETY: reached only through `KERNELS`, so the CPU supports AVX2
    // and FMA.
    unsafe { scaled::scaled_row(elem, scale, dec, amaxes, ks, src, scales, dst, ahead) }
}

#[allow(clippy::too_many_arguments)] // the table's `EncodeRowCounter`
fn encode_row_counter(
    codec: &Codec,
    maps: &[ElementMap],
    block_len: usize,
    src: &[f32],
    seed: u64,
    at: (u64, u64, usize, usize),
    dst: &mut [u8],
    packing: Packing,
    ahead: &[f32],
) -> bool {
    // SAFETY: reached only through `KERNELS`, so the CPU supports AVX2
    // and FMA.
    unsafe {
        counter::encode_row_counter(codec, maps, block_len, src, seed, at, dst, packing, ahead)
    }
}

fn decode_row(
    dec: &Decoder,
    src: &[u8],
    dst: &mut [f32],
    factors: Option<(&[f32], usize)>,
    packing: Packing,
) {
    // SAFETY: reached only through `KERNELS`, so the CPU supports AVX2
    // and FMA.
    unsafe { decode::decode_row(dec, src, dst, factors, packing) }
}

fn amax(src: &[f32]) -> f32 {
    // SAFETY: reached only through `KERNELS`, so the CPU supports AVX2
    // and FMA.
    amax_of_bits(unsafe { amax::amax_bits(src) })
}

fn block_amaxes(src: &[f32], block_len: usize, out: &mut [f32]) {
    // SAFETY: reached only through `KERNELS`, so the CPU supports AVX2
    // and FMA.
    unsafe { amax::block_amaxes(src, block_len, out) }
}

fn sr_seed(seed_mix: u64, t0: u64, states: &mut [u64]) {
    // SAFETY: reached only through `KERNELS`, so the CPU supports AVX2
    // and FMA.
    unsafe { rng::sr_seed(seed_mix, t0, states) }
}

fn sr_draws(states: &mut [u64], counts: &[u32], stride: usize, out: &mut [u32]) {
    // SAFETY: reached only through `KERNELS`, so the CPU supports AVX2
    // and FMA.
    unsafe { rng::sr_draws(states, counts, stride, out) }
}

fn sr_counter(seed: u64, at: (u64, u64, usize, usize), out: &mut [u32]) -> bool {
    // SAFETY: reached only through `KERNELS`, so the CPU supports AVX2
    // and FMA.
    unsafe { rng::sr_counter(seed, at, out) }
}

/// Transposes an 8 × 8 matrix of u32 held as 8 rows: `b[l][k] = a[k][l]`.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) fn transpose8(a: [__m256i; 8]) -> [__m256i; 8] {
    // 32-bit, then 64-bit interleaves inside 128-bit lanes: u[4h + j]
    // holds columns j and 4 + j of rows 4h..4h+4.
    let t: [__m256i; 8] = core::array::from_fn(|x| {
        let (p, q) = (a[x & !1], a[x | 1]);
        if x % 2 == 0 {
            _mm256_unpacklo_epi32(p, q)
        } else {
            _mm256_unpackhi_epi32(p, q)
        }
    });
    let u: [__m256i; 8] = core::array::from_fn(|x| {
        let (h, j) = (x / 4, x % 4);
        let (p, q) = (t[4 * h + j / 2], t[4 * h + 2 + j / 2]);
        if j % 2 == 0 {
            _mm256_unpacklo_epi64(p, q)
        } else {
            _mm256_unpackhi_epi64(p, q)
        }
    });
    core::array::from_fn(|l| {
        if l < 4 {
            _mm256_permute2x128_si256::<0x20>(u[l], u[4 + l])
        } else {
            _mm256_permute2x128_si256::<0x31>(u[l - 4], u[l])
        }
    })
}
