//! AVX2 NVFP4 rows scaled and encoded in one pass: eight blocks' scales
//! and reciprocal maps in one vector, then their elements, with the
//! element encoder's own code (`encode.rs`), so the bytes are its.

use super::super::scaled::{CHUNK, GROUP, by_chunks, each_block};
use super::codes::{K, mini_codes};
use super::decode::{Consts, MINI, lookup8};
use super::encode::{bytes_of, vector16};
use crate::simd::{Codec, Decoder};
use core::arch::x86_64::*;

/// See [`Kernels::scaled_row`](crate::simd::Kernels::scaled_row).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)] // the table's `ScaledRow`
pub(super) unsafe fn scaled_row(
    elem: &Codec,
    scale: &Codec,
    dec: &Decoder,
    amaxes: &[f32],
    (k, s_dec): (f32, f32),
    src: &[f32],
    scales: &mut [u8],
    dst: &mut [u8],
    ahead: &[f32],
) -> bool {
    let nb = amaxes.len();
    // 4-bit elements; scales of a minifloat whose values the decode
    // kernel computes from their fields.
    let minis = matches!(elem, Codec::Mini { bits: 4, .. })
        && matches!(scale, Codec::Mini { .. })
        && matches!(dec.mini, Some(Codec::Mini { bits, .. }) if bits == dec.bits);
    if !minis || src.len() != 16 * nb || scales.len() != nb || dst.len() != 8 * nb {
        return false;
    }
    let (ke, ks, kd) = (K::new(elem), K::new(scale), Consts::new(dec));
    // Blocks a chunk at a time: first the chunk's scales and maps, eight
    // blocks a vector, then its elements.
    by_chunks(
        (amaxes, src, ahead),
        (scales, dst),
        |a, s, m| block_maps((&ks, &kd, dec.table), a, (k, s_dec), s, m),
        |mn, x, d, ah| elements(&ke, mn, x, d, ah),
    );
    true
}

/// The scale codes of blocks with these amaxes, and their maps
/// ([`scaled_row`]), eight blocks a vector; and, per chunk of 64 blocks,
/// those (bit j for its block j) where an element times the map may be
/// NaN.
#[inline(never)]
#[target_feature(enable = "avx2,fma")]
fn block_maps(
    (ks, kd, table): (&K, &Consts, &[f32; 256]),
    amaxes: &[f32],
    (k, s_dec): (f32, f32),
    scales: &mut [u8],
    maps: &mut [f32],
) -> [u64; GROUP] {
    let (k, s_dec) = (_mm256_set1_ps(k), _mm256_set1_ps(s_dec));
    let (one, max) = (_mm256_set1_ps(1.0), _mm256_set1_ps(f32::MAX));
    // Lane j: block j's map, from its amax; the scale codes in bytes.
    let group = |a: __m256| {
        let codes = bytes_of(mini_codes(ks, _mm256_mul_ps(a, k), None));
        // SAFETY: the CPU supports AVX2 (this function's contract).
        let d = unsafe { lookup8::<MINI>(table, kd, _mm_cvtsi64_si128(codes as i64)) };
        // `_mm256_min_ps` gives its second operand for a NaN first one,
        // as `f32::min` gives the number.
        let e = _mm256_min_ps(_mm256_div_ps(one, _mm256_mul_ps(d, s_dec)), max);
        // Where a·e is a number, so is every x·e of the block
        // (`each_block`).
        let p = _mm256_mul_ps(a, e);
        let nans = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_UNORD_Q>(p, p)) as u64;
        (codes.to_le_bytes(), e, nans)
    };
    let mut whole = amaxes.chunks_exact(8);
    let (mut done, mut nans) = (0, [0; GROUP]);
    for ((a, s), m) in (&mut whole)
        .zip(scales.chunks_exact_mut(8))
        .zip(maps.chunks_exact_mut(8))
    {
        // SAFETY: a holds 8 f32.
        let (codes, e, n) = group(unsafe { _mm256_loadu_ps(a.as_ptr()) });
        nans[done / CHUNK] |= n << (done % CHUNK);
        s.copy_from_slice(&codes);
        // SAFETY: m holds 8 f32.
        unsafe { _mm256_storeu_ps(m.as_mut_ptr(), e) };
        done += 8;
    }
    // The last few blocks, through arrays padded with zeros.
    let rest = whole.remainder();
    if !rest.is_empty() {
        let (mut a, mut e8) = ([0f32; 8], [0f32; 8]);
        a[..rest.len()].copy_from_slice(rest);
        // SAFETY: a holds 8 f32.
        let (codes, e, n) = group(unsafe { _mm256_loadu_ps(a.as_ptr()) });
        nans[done / CHUNK] |= n << (done % CHUNK);
        // SAFETY: e8 holds 8 f32.
        unsafe { _mm256_storeu_ps(e8.as_mut_ptr(), e) };
        scales[done..].copy_from_slice(&codes[..rest.len()]);
        maps[done..].copy_from_slice(&e8[..rest.len()]);
    }
    nans
}

/// The elements of blocks of 16 under their maps, to nearest, packed as
/// nibbles (the element encoder's hot case); the NaN test only in the
/// blocks `nans` names (bit j for block j).
#[inline(never)]
#[target_feature(enable = "avx2,fma")]
fn elements(ke: &K, (maps, nans): (&[f32], u64), src: &[f32], dst: &mut [u8], ahead: &[f32]) {
    let unused = [_mm256_setzero_si256(); 2];
    each_block(maps, nans, |b, mul, num| {
        let mul = _mm256_set1_ps(mul);
        if num {
            vector16::<false, true, false, true>(ke, src, ahead, dst, 16 * b, mul, unused);
        } else {
            vector16::<false, true, false, false>(ke, src, ahead, dst, 16 * b, mul, unused);
        }
    });
}
