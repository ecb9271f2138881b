//! The i16 GEMM's packing of a chunk that plane 0 takes whole
//! (`gemm::pack::planes::split_whole_portable` is the specification): the 32
//! integers in four zmm, their OR and the OR of their magnitudes reduced
//! for the shift and the check, then an arithmetic shift and a truncating
//! narrow (`vpmovqw`) give the pairs' i16 halves in order, which are the
//! pair words.
//!
//! The shift is `planes::whole_shift`'s, from one sum of squares.

use crate::simd::x86_64::planes::whole_shift;
use core::arch::x86_64::*;

/// Panics if `blk` is longer than 32 or of odd length.
pub(super) fn split_whole(blk: &[i64], w: u32, words: &mut [u32; 16]) -> Option<(u32, u64)> {
    assert!(blk.len() <= 32 && blk.len().is_multiple_of(2));
    // SAFETY: the CPU supports AVX-512 F, BW, DQ and VL (an entry of this
    // module's tables, handed out only on such a CPU); the loads read
    // lanes below `blk.len()` only, the store writes `words`' 16 u32.
    unsafe { split_whole_impl(blk, w, words) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn split_whole_impl(blk: &[i64], w: u32, words: &mut [u32; 16]) -> Option<(u32, u64)> {
    let n = blk.len();
    let mut v = [_mm512_setzero_si512(); 4];
    for (q, x) in v.iter_mut().enumerate() {
        if n == 32 {
            // SAFETY: lanes q·8..q·8 + 8 lie within `blk`.
            *x = unsafe { _mm512_loadu_si512(blk.as_ptr().add(q * 8).cast()) };
        } else if q * 8 < n {
            let m = if n - q * 8 >= 8 {
                0xFF
            } else {
                (1u8 << (n - q * 8)) - 1
            };
            // SAFETY: the lanes `m` keeps lie within `blk` (q·8 < n).
            *x = unsafe { _mm512_maskz_loadu_epi64(m, blk.as_ptr().add(q * 8)) };
        }
    }
    let ors = _mm512_or_si512(_mm512_or_si512(v[0], v[1]), _mm512_or_si512(v[2], v[3]));
    let abs = |x| _mm512_abs_epi64(x);
    let most = _mm512_or_si512(
        _mm512_or_si512(abs(v[0]), abs(v[1])),
        _mm512_or_si512(abs(v[2]), abs(v[3])),
    );
    let (most, ors) = (
        _mm512_reduce_or_epi64(most) as u64,
        _mm512_reduce_or_epi64(ors),
    );
    // Σ (v >> p)², each lane's v >> p a signed dword (below 2^29 for
    // the shifts `whole_shift` asks at), which `vpmuldq` squares exactly.
    let sum = |p: u32| {
        let count = _mm_cvtsi32_si128(p as i32);
        let sq = v.map(|x| {
            let y = _mm512_sra_epi64(x, count);
            _mm512_mul_epi32(y, y)
        });
        _mm512_reduce_add_epi64(_mm512_add_epi64(
            _mm512_add_epi64(sq[0], sq[1]),
            _mm512_add_epi64(sq[2], sq[3]),
        )) as u64
    };
    let s = whole_shift(most, ors, w, sum)?;
    let count = _mm_cvtsi32_si128(s as i32);
    let h = v.map(|x| _mm512_cvtepi64_epi16(_mm512_sra_epi64(x, count)));
    let lo = _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(h[0]), h[1]);
    let hi = _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(h[2]), h[3]);
    let all = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi);
    // SAFETY: `words` holds 16 u32, one zmm.
    unsafe { _mm512_storeu_si512(words.as_mut_ptr().cast(), all) };
    Some((s, _mm512_test_epi32_mask(all, all) as u64))
}
