//! AVX-512 element decoding: 16 codes at a time.
//!
//! Decoding looks codes up in the format's `DECODE` table with
//! `vpermps`/`vpermt2ps` (16, 64 or 128 entries plus the sign bit), or a
//! gather for 8-bit tables without sign symmetry (MXINT8, E8M0).

use super::lanes;
use crate::simd::{Decoder, Packing};
use core::arch::x86_64::*;

/// How a decode table is looked up.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Lookup {
    /// 16 entries (FP4): one `vpermps`.
    Perm16,
    /// 64 entries (FP6): two `vpermt2ps` and a blend.
    Perm64,
    /// 256 entries whose upper half is the lower half negated (FP8).
    Perm128Sign,
    /// Anything else: a gather.
    Gather,
}

pub(super) fn lookup_of(dec: &Decoder) -> Lookup {
    if dec.bits <= 4 {
        Lookup::Perm16
    } else if dec.bits <= 6 {
        Lookup::Perm64
    } else if dec.sign_symmetric {
        Lookup::Perm128Sign
    } else {
        Lookup::Gather
    }
}

/// Decodes one row; see [`Kernels::decode_row`](crate::simd::Kernels::decode_row).
///
/// # Safety
/// The CPU must support AVX-512 F, BW, DQ and VL.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn decode_row(
    dec: &Decoder,
    src: &[u8],
    dst: &mut [f32],
    factors: Option<(&[f32], usize)>,
    packing: Packing,
) {
    let n = dst.len();
    match packing {
        Packing::Bytes => assert_eq!(src.len(), n),
        Packing::Nibbles => assert_eq!(src.len(), n.div_ceil(2)),
    }
    let (fs, bl) = factors.unwrap_or((&[], usize::MAX));
    let bl = bl.max(1);
    if factors.is_some() {
        assert!(fs.len() >= n.div_ceil(bl));
    }
    let (table, bits) = (dec.table, dec.bits);
    let lookup = lookup_of(dec);
    // One loop per (packing, lookup): no per-vector dispatch.
    let nib = packing == Packing::Nibbles;
    // SAFETY: the CPU features are this function's contract, the lengths
    // are asserted above.
    unsafe {
        match (nib, lookup) {
            (false, Lookup::Perm16) => decode_body::<false, 0>(table, bits, src, dst, factors),
            (false, Lookup::Perm64) => decode_body::<false, 1>(table, bits, src, dst, factors),
            (false, Lookup::Perm128Sign) => decode_body::<false, 2>(table, bits, src, dst, factors),
            (false, Lookup::Gather) => decode_body::<false, 3>(table, bits, src, dst, factors),
            (true, Lookup::Perm16) => decode_body::<true, 0>(table, bits, src, dst, factors),
            (true, Lookup::Perm64) => decode_body::<true, 1>(table, bits, src, dst, factors),
            (true, Lookup::Perm128Sign) => decode_body::<true, 2>(table, bits, src, dst, factors),
            (true, Lookup::Gather) => decode_body::<true, 3>(table, bits, src, dst, factors),
        }
    }
}

/// The loop of [`decode_row`] for one packing (`NIB`) and lookup (`L`:
/// 0 `Perm16`, 1 `Perm64`, 2 `Perm128Sign`, 3 `Gather`, as [`lookup_of`]
/// picked it for `table`).
///
/// # Safety
/// The CPU must support AVX-512 F, BW, DQ and VL, and the lengths must be
/// those [`decode_row`] asserts: `src` holds `dst.len()` bytes (or
/// `⌈dst.len()/2⌉` packed), and `factors` one per block.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn decode_body<const NIB: bool, const L: u8>(
    table: &[f32; 256],
    bits: u32,
    src: &[u8],
    dst: &mut [f32],
    factors: Option<(&[f32], usize)>,
) {
    let n = dst.len();
    let (fs, bl) = factors.unwrap_or((&[], usize::MAX));
    let bl = bl.max(1);
    let lookup = [
        Lookup::Perm16,
        Lookup::Perm64,
        Lookup::Perm128Sign,
        Lookup::Gather,
    ][L as usize];
    let packing = if NIB {
        Packing::Nibbles
    } else {
        Packing::Bytes
    };
    let t = table_regs(table);
    let code_mask = _mm512_set1_epi32(((1u32 << bits) - 1) as i32);
    // Block boundaries split the row into runs of one factor each.
    let mut s = 0;
    let mut b = 0;
    while s < n {
        let (e, f) = match factors {
            Some(_) => (
                s.saturating_add(bl).min(n),
                Some((_mm512_set1_ps(fs[b]), fs[b].is_nan())),
            ),
            None => (n, None),
        };
        b += 1;
        if packing == Packing::Nibbles {
            assert!(s.is_multiple_of(2));
        }
        let mut i = s;
        while i < e {
            let m = (e - i).min(16);
            let mask = lanes(m);
            let idx = match packing {
                Packing::Bytes => {
                    // SAFETY: bytes i..i+m are in bounds; the mask reads only those.
                    let b = unsafe { _mm_maskz_loadu_epi8(mask, src.as_ptr().add(i).cast()) };
                    _mm512_cvtepu8_epi32(b)
                }
                Packing::Nibbles => {
                    let nb = m.div_ceil(2);
                    // SAFETY: bytes i/2..i/2+nb are in bounds (i even, src has ⌈n/2⌉).
                    let b =
                        unsafe { _mm_maskz_loadu_epi8(lanes(nb), src.as_ptr().add(i / 2).cast()) };
                    // Low nibble first: bytes lo0 hi0 lo1 hi1 …, then widened.
                    let lo = _mm_and_si128(b, _mm_set1_epi8(0xF));
                    let hi = _mm_and_si128(_mm_srli_epi16::<4>(b), _mm_set1_epi8(0xF));
                    _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi))
                }
            };
            // Indices of 4-bit tables and of full bytes need no masking
            // (vpermps reads the low 4 bits).
            let idx = if bits < 8 && lookup != Lookup::Perm16 {
                _mm512_and_si512(idx, code_mask)
            } else {
                idx
            };
            let v = match lookup {
                Lookup::Perm16 => _mm512_permutexvar_ps(idx, t[0]),
                Lookup::Perm64 => {
                    let lo = _mm512_permutex2var_ps(t[0], idx, t[1]);
                    let hi = _mm512_permutex2var_ps(t[2], idx, t[3]);
                    _mm512_mask_blend_ps(_mm512_test_epi32_mask(idx, _mm512_set1_epi32(32)), lo, hi)
                }
                Lookup::Perm128Sign => perm128_sign(&t, idx),
                // SAFETY: every index is below 256 (masked to `bits` ≤ 8 bits)
                // and the table has 256 entries.
                Lookup::Gather => unsafe { _mm512_i32gather_ps::<4>(idx, table.as_ptr()) },
            };
            // x̂ = v·f, where a NaN v keeps its own NaN
            // (`element::dequant_mul`): only a NaN factor can meet a NaN
            // v, so only its runs blend.
            let v = match f {
                Some((f, false)) => _mm512_mul_ps(v, f),
                Some((f, true)) => {
                    let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
                    _mm512_mask_mov_ps(_mm512_mul_ps(v, f), nan, v)
                }
                None => v,
            };
            assert!(i + m <= n);
            // SAFETY: elements i..i+m are in bounds (checked above).
            unsafe {
                let p = dst.as_mut_ptr().add(i);
                if m == 16 {
                    _mm512_storeu_ps(p, v);
                } else {
                    _mm512_mask_storeu_ps(p, mask, v);
                }
            }
            i += m;
        }
        s = e;
    }
}

/// The first 128 entries of a decode table, in eight vectors.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) fn table_regs(table: &[f32; 256]) -> [__m512; 8] {
    core::array::from_fn(|j| {
        // SAFETY: table has 256 entries; 16j + 16 <= 128.
        unsafe { _mm512_loadu_ps(table.as_ptr().add(16 * j)) }
    })
}

/// The values of 16 byte codes (`idx`, each below 256) by a
/// [`Lookup::Perm128Sign`] table held as [`table_regs`]: the entry of the
/// low 7 bits, negated where bit 7 is set.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) fn perm128_sign(t: &[__m512; 8], idx: __m512i) -> __m512 {
    let r0 = _mm512_permutex2var_ps(t[0], idx, t[1]);
    let r1 = _mm512_permutex2var_ps(t[2], idx, t[3]);
    let r2 = _mm512_permutex2var_ps(t[4], idx, t[5]);
    let r3 = _mm512_permutex2var_ps(t[6], idx, t[7]);
    let b5 = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(32));
    let b6 = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(64));
    let lo = _mm512_mask_blend_ps(b5, r0, r1);
    let hi = _mm512_mask_blend_ps(b5, r2, r3);
    let v = _mm512_mask_blend_ps(b6, lo, hi);
    let sign = _mm512_slli_epi32::<24>(_mm512_and_si512(idx, _mm512_set1_epi32(0x80)));
    _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(v), sign))
}
