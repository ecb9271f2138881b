//! The i16 GEMM's packing of a chunk that plane 0 takes whole, on AVX2
//! (`gemm::pack::planes::split_whole_portable` is the specification; the
//! shift is `planes::whole_shift`'s, from one sum of squares). The 32
//! integers in eight ymm; AVX2 has no 64-bit `abs`, arithmetic shift or
//! narrowing, so each is built from other instructions below.

use crate::simd::x86_64::planes::whole_shift;
use core::arch::x86_64::*;

/// Panics if `blk` is longer than 32 or of odd length.
pub(super) fn split_whole(blk: &[i64], w: u32, words: &mut [u32; 16]) -> Option<(u32, u64)> {
    assert!(blk.len() <= 32 && blk.len().is_multiple_of(2));
    // SAFETY: the CPU supports AVX2 (an entry of this module's table,
    // handed out only on such a CPU); the loads read 32 i64 of `full` or
    // of a 32-element `blk`, the stores write `words`' 16 u32.
    unsafe { split_whole_impl(blk, w, words) }
}

/// `v >> s` (arithmetic) on 4 lanes: the logical shift with the sign bit
/// moved to bit 63 − s and extended by `(x ^ m) − m`.
#[inline]
#[target_feature(enable = "avx2")]
fn sra64(v: __m256i, s: __m128i, m: __m256i) -> __m256i {
    let x = _mm256_srl_epi64(v, s);
    _mm256_sub_epi64(_mm256_xor_si256(x, m), m)
}

/// The OR of 4 lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn or4(v: __m256i) -> u64 {
    let x = _mm_or_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    (_mm_cvtsi128_si64(x) | _mm_extract_epi64::<1>(x)) as u64
}

/// The wrapping sum of 4 lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn sum4(v: __m256i) -> u64 {
    let x = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    (_mm_cvtsi128_si64(x) as u64).wrapping_add(_mm_extract_epi64::<1>(x) as u64)
}

#[target_feature(enable = "avx2")]
unsafe fn split_whole_impl(blk: &[i64], w: u32, words: &mut [u32; 16]) -> Option<(u32, u64)> {
    // A short chunk through zeros: zero lanes change neither the ORs, nor
    // the sums, nor (as zero words) the bits.
    let mut full = [0i64; 32];
    let src = if blk.len() == 32 {
        blk
    } else {
        full[..blk.len()].copy_from_slice(blk);
        &full[..]
    };
    // SAFETY: src holds 32 i64.
    let v: [__m256i; 8] =
        core::array::from_fn(|q| unsafe { _mm256_loadu_si256(src.as_ptr().add(4 * q).cast()) });
    let zero = _mm256_setzero_si256();
    // |v| as (v ^ m) − m, m the lane's sign (all ones if negative).
    let abs = v.map(|x| {
        let m = _mm256_cmpgt_epi64(zero, x);
        _mm256_sub_epi64(_mm256_xor_si256(x, m), m)
    });
    let fold = |x: [__m256i; 8]| {
        let a = _mm256_or_si256(_mm256_or_si256(x[0], x[1]), _mm256_or_si256(x[2], x[3]));
        let b = _mm256_or_si256(_mm256_or_si256(x[4], x[5]), _mm256_or_si256(x[6], x[7]));
        or4(_mm256_or_si256(a, b))
    };
    let (most, ors) = (fold(abs), fold(v) as i64);
    // Σ (|v| >> p)², each |v| >> p below 2^29 (the shifts `whole_shift`
    // asks at), so that `vpmuldq` squares it exactly; Σ (v >> p)² whenever
    // every v is a multiple of 2^p, the case that decides.
    let sum = |p: u32| {
        let count = _mm_cvtsi32_si128(p as i32);
        let sq = abs.map(|x| {
            let y = _mm256_srl_epi64(x, count);
            _mm256_mul_epi32(y, y)
        });
        let a = _mm256_add_epi64(
            _mm256_add_epi64(sq[0], sq[1]),
            _mm256_add_epi64(sq[2], sq[3]),
        );
        let b = _mm256_add_epi64(
            _mm256_add_epi64(sq[4], sq[5]),
            _mm256_add_epi64(sq[6], sq[7]),
        );
        sum4(_mm256_add_epi64(a, b))
    };
    let s = whole_shift(most, ors, w, sum)?;
    let count = _mm_cvtsi32_si128(s as i32);
    let m = _mm256_set1_epi64x(((1u64 << 63) >> s) as i64);
    let y = v.map(|x| sra64(x, count, m));
    // A whole chunk's v >> s lie within i16 (s is at least the largest
    // magnitude's bit length less 15), so the saturating pack keeps them
    // as the truncation does. Per 16 values: the low dwords of 4 qwords a
    // lane (`vshufps`), two vectors packed to words (`vpackssdw`), and the
    // pairs put in order (`vpermd`).
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    let mut bits = 0u64;
    for h in 0..2 {
        let d = |k: usize| {
            _mm256_castps_si256(_mm256_shuffle_ps::<0b10_00_10_00>(
                _mm256_castsi256_ps(y[4 * h + 2 * k]),
                _mm256_castsi256_ps(y[4 * h + 2 * k + 1]),
            ))
        };
        let all = _mm256_permutevar8x32_epi32(_mm256_packs_epi32(d(0), d(1)), order);
        // SAFETY: words[8h..8h + 8] is 8 u32.
        unsafe { _mm256_storeu_si256(words.as_mut_ptr().add(8 * h).cast(), all) };
        let zeros = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(all, zero)));
        bits |= u64::from(!zeros as u8) << (8 * h);
    }
    Some((s, bits))
}
