//! AVX-512 (F, BW, DQ, VL) kernels, one file per job, and their tables:
//! [`KERNELS`] for [`Level::Avx512`](crate::simd::Level::Avx512), [`KERNELS_VNNI`] for
//! [`Level::Avx512Vnni`](crate::simd::Level::Avx512Vnni) (the same, with VNNI's i8 GEMM tile and i16 tile).
//!
//! Each entry below is a safe function around a `#[target_feature]` one.
//! Its safety argument is the table's: `simd::kernels` hands these tables
//! out only on a CPU that [`crate::simd::detected`] finds AVX-512 on.

mod amax;
mod decode;
mod encode;
mod gemm;
mod i16;
mod quads;
mod rng;
mod scaled;
mod split;

use crate::simd::table::ElementMap;
use crate::simd::table::amax_of_bits;
use crate::simd::{Codec, Decoder, Kernels, Packing};
use core::arch::x86_64::*;

/// The AVX-512 kernels.
const AVX512: Kernels = Kernels {
    _sealed: (),
    encode_row: Some(encode_row),
    encode_row_counter: None,
    scaled_row: Some(scaled_row),
    decode_row: Some(decode_row),
    amax: Some(amax),
    block_amaxes: Some(block_amaxes),
    sr_seed: Some(sr_seed),
    sr_draws: Some(sr_draws),
    sr_counter: Some(sr_counter),
    i8_tile: None,
    f64_tile: Some(gemm::f64_tile),
    i16_tile: Some(i16::i16_tile_no_vnni),
    i16_sums: Some(i16::i16_sums_no_vnni),
    i64_block: Some(gemm::i64_block),
    i64_tile: Some(gemm::i64_tile),
    wide_terms: Some(super::wide::wide_terms),
    split_whole: Some(split::split_whole),
    nibble_quads: Some(quads::nibble_quads),
};

/// The table of [`Level::Avx512`](crate::simd::Level::Avx512).
pub(in crate::simd) static KERNELS: Kernels = AVX512;

/// The table of [`Level::Avx512Vnni`](crate::simd::Level::Avx512Vnni): AVX-512 plus `vpdpbusd` for the i8
/// GEMM tiles and `vpdpwssd` for the i16 ones.
pub(in crate::simd) static KERNELS_VNNI: Kernels = Kernels {
    i8_tile: Some(gemm::i8_tile),
    i16_tile: Some(i16::i16_tile),
    i16_sums: Some(i16::i16_sums),
    ..AVX512
};

/// A mask of the first `m` of 16 lanes.
#[inline]
fn lanes(m: usize) -> __mmask16 {
    if m >= 16 { 0xFFFF } else { (1u16 << m) - 1 }
}

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
    // SAFETY: reached only through this module's tables, so the CPU
    // supports AVX-512 F, BW, DQ and VL.
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
    // SAFETY: reached only through this module's tables, so the CPU
    // supports AVX-512 F, BW, DQ and VL.
    unsafe { scaled::scaled_row(elem, scale, dec, amaxes, ks, src, scales, dst, ahead) }
}

fn decode_row(
    dec: &Decoder,
    src: &[u8],
    dst: &mut [f32],
    factors: Option<(&[f32], usize)>,
    packing: Packing,
) {
    // SAFETY: reached only through this module's tables, so the CPU
    // supports AVX-512 F, BW, DQ and VL.
    unsafe { decode::decode_row(dec, src, dst, factors, packing) }
}

fn amax(src: &[f32]) -> f32 {
    // SAFETY: reached only through this module's tables, so the CPU
    // supports AVX-512 F, BW, DQ and VL.
    amax_of_bits(unsafe { amax::amax_bits(src) })
}

fn block_amaxes(src: &[f32], block_len: usize, out: &mut [f32]) {
    // SAFETY: reached only through this module's tables, so the CPU
    // supports AVX-512 F, BW, DQ and VL.
    unsafe { amax::block_amaxes(src, block_len, out) }
}

fn sr_seed(seed_mix: u64, t0: u64, states: &mut [u64]) {
    // SAFETY: reached only through this module's tables, so the CPU
    // supports AVX-512 F, BW, DQ and VL.
    unsafe { rng::sr_seed(seed_mix, t0, states) }
}

fn sr_draws(states: &mut [u64], counts: &[u32], stride: usize, out: &mut [u32]) {
    // SAFETY: reached only through this module's tables, so the CPU
    // supports AVX-512 F, BW, DQ and VL.
    unsafe { rng::sr_draws(states, counts, stride, out) }
}

fn sr_counter(seed: u64, at: (u64, u64, usize, usize), out: &mut [u32]) -> bool {
    // SAFETY: reached only through this module's tables, so the CPU
    // supports AVX-512 F, BW, DQ and VL.
    unsafe { rng::sr_counter(seed, at, out) }
}

/// Transposes a 16 × 16 matrix of u32 held as 16 rows: `b[l][k] = a[k][l]`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) fn transpose16(a: [__m512i; 16]) -> [__m512i; 16] {
    // 32-bit, then 64-bit interleaves inside 128-bit lanes: u[4i + j], lane
    // L, holds column 4L + j of rows 4i..4i+4.
    let t: [__m512i; 16] = core::array::from_fn(|x| {
        let (p, q) = (a[x & !1], a[x | 1]);
        if x % 2 == 0 {
            _mm512_unpacklo_epi32(p, q)
        } else {
            _mm512_unpackhi_epi32(p, q)
        }
    });
    let u: [__m512i; 16] = core::array::from_fn(|x| {
        let (i, j) = (x / 4, x % 4);
        let (p, q) = (t[4 * i + j / 2], t[4 * i + 2 + j / 2]);
        if j % 2 == 0 {
            _mm512_unpacklo_epi64(p, q)
        } else {
            _mm512_unpackhi_epi64(p, q)
        }
    });
    // A 4 × 4 transpose of 128-bit lanes for each j.
    let mut b = [_mm512_setzero_si512(); 16];
    for j in 0..4 {
        let v = [u[j], u[4 + j], u[8 + j], u[12 + j]];
        let s0 = _mm512_shuffle_i32x4::<0x44>(v[0], v[1]);
        let s1 = _mm512_shuffle_i32x4::<0xEE>(v[0], v[1]);
        let s2 = _mm512_shuffle_i32x4::<0x44>(v[2], v[3]);
        let s3 = _mm512_shuffle_i32x4::<0xEE>(v[2], v[3]);
        b[j] = _mm512_shuffle_i32x4::<0x88>(s0, s2);
        b[4 + j] = _mm512_shuffle_i32x4::<0xDD>(s0, s2);
        b[8 + j] = _mm512_shuffle_i32x4::<0x88>(s1, s3);
        b[12 + j] = _mm512_shuffle_i32x4::<0xDD>(s1, s3);
    }
    b
}
