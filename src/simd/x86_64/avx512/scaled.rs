//! AVX-512 NVFP4 rows scaled and encoded in one pass, as the AVX2 kernel
//! does it: sixteen blocks' scales and reciprocal maps in one vector,
//! then their elements. The element encoder's code (`encode.rs`) makes
//! the codes and the decode kernel's lookup (`decode.rs`) the scales'
//! values, so the bytes are theirs.

use super::super::scaled::{CHUNK, GROUP, by_chunks};
use super::decode::{Lookup, lookup_of, perm128_sign, table_regs};
use super::encode::{K, mini_codes, vectors};
use super::lanes;
use crate::simd::{Codec, Decoder};
use core::arch::x86_64::*;

/// See [`Kernels::scaled_row`](crate::simd::Kernels::scaled_row).
///
/// # Safety
/// The CPU must support AVX-512 F, BW, DQ and VL.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
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
    // 4-bit elements; 8-bit minifloat scales whose table is symmetric in
    // the sign (E4M3).
    let fits = matches!(elem, Codec::Mini { bits: 4, .. })
        && matches!(scale, Codec::Mini { bits: 8, .. })
        && lookup_of(dec) == Lookup::Perm128Sign;
    if !fits || src.len() != 16 * nb || scales.len() != nb || dst.len() != 8 * nb {
        return false;
    }
    let (ke, ks, t) = (K::new(elem), K::new(scale), table_regs(dec.table));
    by_chunks(
        (amaxes, src, ahead),
        (scales, dst),
        |a, s, m| block_maps((&ks, &t), a, (k, s_dec), s, m),
        |mn, x, d, ah| elements(&ke, mn, x, d, ah),
    );
    true
}

/// The scale codes of blocks with these amaxes, and their maps
/// ([`scaled_row`]), sixteen blocks a vector; and, per chunk of 64 blocks,
/// those (bit j for its block j) where an element times the map may be
/// NaN.
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn block_maps(
    (ks, t): (&K, &[__m512; 8]),
    amaxes: &[f32],
    (k, s_dec): (f32, f32),
    scales: &mut [u8],
    maps: &mut [f32],
) -> [u64; GROUP] {
    let n = amaxes.len();
    assert!(n <= GROUP * CHUNK && scales.len() == n && maps.len() == n);
    let mut nans = [0; GROUP];
    let (k, s_dec) = (_mm512_set1_ps(k), _mm512_set1_ps(s_dec));
    let (one, max) = (_mm512_set1_ps(1.0), _mm512_set1_ps(f32::MAX));
    for j in (0..n).step_by(16) {
        let m = (n - j).min(16);
        let mask = lanes(m);
        // SAFETY: lanes j..j + m of amaxes are in bounds; the mask reads
        // only those.
        let a = unsafe { _mm512_maskz_loadu_ps(mask, amaxes.as_ptr().add(j)) };
        let codes = mini_codes(ks, _mm512_mul_ps(a, k), None);
        // `_mm512_min_ps` gives its second operand for a NaN first one,
        // as `f32::min` gives the number.
        let e = _mm512_min_ps(
            _mm512_div_ps(one, _mm512_mul_ps(perm128_sign(t, codes), s_dec)),
            max,
        );
        // Where a·e is a number, so is every x·e of the block
        // (`each_block`).
        let ae = _mm512_mul_ps(a, e);
        let nan = u64::from(_mm512_cmp_ps_mask::<_CMP_UNORD_Q>(ae, ae) & mask);
        nans[j / CHUNK] |= nan << (j % CHUNK);
        let c8 = _mm512_cvtepi32_epi8(codes);
        // SAFETY: scales and maps hold n entries (asserted above); the
        // masks store only lanes j..j + m.
        unsafe {
            let (s, p) = (scales.as_mut_ptr().add(j), maps.as_mut_ptr().add(j));
            if m == 16 {
                _mm_storeu_si128(s.cast(), c8);
                _mm512_storeu_ps(p, e);
            } else {
                _mm_mask_storeu_epi8(s.cast(), mask, c8);
                _mm512_mask_storeu_ps(p, mask, e);
            }
        }
    }
    nans
}

/// The elements of blocks of 16 under their maps, to nearest, packed as
/// nibbles (the element encoder's hot case); the NaN test only in the
/// blocks `nans` names (bit j for block j).
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn elements(ke: &K, (maps, nans): (&[f32], u64), src: &[f32], dst: &mut [u8], ahead: &[f32]) {
    let n = maps.len();
    assert!(src.len() == 16 * n && dst.len() == 8 * n);
    // Four blocks at a time where none of them needs the NaN test, as
    // `each_block` tells them apart; one at a time otherwise.
    let mut b = 0;
    while b < n {
        if let Some(&[m0, m1, m2, m3]) = maps.get(b..b + 4)
            && (nans >> b) & 0xF == 0
        {
            let muls = [m0, m1, m2, m3].map(|m| _mm512_set1_ps(m));
            // SAFETY: blocks b..b + 4's 64 elements and 32 bytes are in src
            // and dst (asserted above); the CPU's features are this
            // function's.
            unsafe {
                vectors::<false, true, false, true, 4>(ke, src, &[], ahead, dst, 16 * b, muls)
            };
            b += 4;
            continue;
        }
        let mul = [_mm512_set1_ps(maps[b])];
        // SAFETY: block b's 16 elements and 8 bytes are in src and dst
        // (asserted above); the CPU's features are this function's.
        unsafe {
            if (nans >> b) & 1 == 0 {
                vectors::<false, true, false, true, 1>(ke, src, &[], ahead, dst, 16 * b, mul)
            } else {
                vectors::<false, true, false, false, 1>(ke, src, &[], ahead, dst, 16 * b, mul)
            }
        }
        b += 1;
    }
}
