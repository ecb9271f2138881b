//! AVX-512 amax: of a slice, and of each block of a row.

use super::lanes;
use core::arch::x86_64::*;

/// Amax bits: the largest of `bits & 0x7FFF_FFFF` (NaN patterns are
/// larger than every number).
///
/// # Safety
/// The CPU must support AVX-512 F, BW, DQ and VL.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn amax_bits(src: &[f32]) -> u32 {
    let abs = _mm512_set1_epi32(0x7FFF_FFFF);
    let mut acc = [_mm512_setzero_si512(); 4];
    let mut chunks = src.chunks_exact(64);
    for c in &mut chunks {
        for (j, a) in acc.iter_mut().enumerate() {
            // SAFETY: c has 64 elements; lanes 16j..16j+16 are in bounds.
            let v = unsafe { _mm512_loadu_si512(c.as_ptr().add(16 * j).cast()) };
            *a = _mm512_max_epu32(*a, _mm512_and_si512(v, abs));
        }
    }
    for c in chunks.remainder().chunks(16) {
        // SAFETY: the mask covers exactly c's elements.
        let v = unsafe { _mm512_maskz_loadu_epi32(lanes(c.len()), c.as_ptr().cast()) };
        acc[0] = _mm512_max_epu32(acc[0], _mm512_and_si512(v, abs));
    }
    let m = _mm512_max_epu32(
        _mm512_max_epu32(acc[0], acc[1]),
        _mm512_max_epu32(acc[2], acc[3]),
    );
    _mm512_reduce_max_epu32(m)
}

/// Per-block amaxes of one row, as f32 (NaN normalised to `f32::NAN`).
///
/// # Safety
/// The CPU must support AVX-512 F, BW, DQ and VL.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn block_amaxes(src: &[f32], block_len: usize, out: &mut [f32]) {
    let block_len = block_len.max(1);
    assert!(out.len() >= src.len().div_ceil(block_len));
    let to_f32 = |bits: u32| {
        if bits > 0x7F80_0000 {
            f32::NAN
        } else {
            f32::from_bits(bits)
        }
    };
    if 256 % block_len == 0 && (16..=64).contains(&block_len) {
        // Blocks of 16, 32 or 64 elements, whole ones in every 256, found
        // in the vector. From 128 on, one horizontal reduction per block
        // (below) takes fewer instructions than this path's.
        let per = block_len / 16;
        let nblocks = src.len().div_ceil(block_len);
        let mut chunks = src.chunks_exact(256);
        let mut blk = 0;
        let even = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 14, 12, 10, 8, 6, 4, 2, 0);
        let odd = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 15, 13, 11, 9, 7, 5, 3, 1);
        let inf = _mm512_set1_epi32(0x7F80_0000);
        let nan = _mm512_set1_epi32(f32::NAN.to_bits() as i32);
        for c in &mut chunks {
            let c: &[f32; 256] = c.try_into().expect("256");
            let (mut m, mut k) = if per == 2 {
                // SAFETY: the CPU supports AVX-512 (this function's contract).
                (unsafe { block32_maxes(c) }, 1)
            } else {
                // SAFETY: as above.
                (unsafe { group_maxes(c) }, per)
            };
            // Each step halves the lanes in use: lane i takes the maxima
            // of lanes 2i and 2i + 1, until it holds block i's.
            while k > 1 {
                m = _mm512_max_epu32(
                    _mm512_permutexvar_epi32(even, m),
                    _mm512_permutexvar_epi32(odd, m),
                );
                k /= 2;
            }
            m = _mm512_mask_mov_epi32(m, _mm512_cmpgt_epu32_mask(m, inf), nan);
            // SAFETY: blocks blk..blk + 16/per are whole blocks of src, and
            // out holds nblocks >= blk + 16/per of them (asserted above).
            unsafe {
                _mm512_mask_storeu_epi32(out.as_mut_ptr().add(blk).cast(), lanes(16 / per), m)
            };
            blk += 16 / per;
        }
        for (o, b) in out[blk..nblocks]
            .iter_mut()
            .zip(chunks.remainder().chunks(block_len))
        {
            // SAFETY: the CPU supports AVX-512 (this function's contract).
            *o = to_f32(unsafe { amax_bits(b) });
        }
        return;
    }
    // Other lengths (FP8's 128, and ones no format uses): one reduction
    // per block.
    for (o, b) in out.iter_mut().zip(src.chunks(block_len)) {
        // SAFETY: the CPU supports AVX-512 (this function's contract).
        *o = to_f32(unsafe { amax_bits(b) });
    }
}

/// A step of the transposing reductions: the maxima of two vectors'
/// 128-bit lanes as `vshufi64x2` rearranges them by `LO` and by `HI`. The
/// first step pairs [a0 a1 b0 b1] with [a2 a3 b2 b3] (0x44, 0xEE), so that
/// lanes 0-1 hold a's halves folded and 2-3 b's; the second pairs [a0 a2
/// b0 b2] with [a1 a3 b1 b3] (0x88, 0xDD), so that of two vectors of the
/// first, each source ends in one 128-bit lane.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn fold<const LO: i32, const HI: i32>(a: __m512i, b: __m512i) -> __m512i {
    _mm512_max_epu32(
        _mm512_shuffle_i64x2::<LO>(a, b),
        _mm512_shuffle_i64x2::<HI>(a, b),
    )
}

/// Third, within 128-bit lanes: dwords 4L and 4L + 1 hold the maximum of
/// a's lane L, 4L + 2 and 4L + 3 that of b's lane L.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn fold_lanes(a: __m512i, b: __m512i) -> __m512i {
    let m = _mm512_max_epu32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
    _mm512_max_epu32(m, _mm512_shuffle_epi32::<0xB1>(m))
}

/// The largest `bits & 0x7FFF_FFFF` of each 16-element group of 256
/// elements, group g in lane g, by a transposing reduction (about 5
/// instructions per group instead of a horizontal reduction each).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn group_maxes(src: &[f32; 256]) -> __m512i {
    let abs = _mm512_set1_epi32(0x7FFF_FFFF);
    let v: [__m512i; 16] = core::array::from_fn(|i| {
        // SAFETY: 16·i + 16 <= 256.
        let x = unsafe { _mm512_loadu_si512(src.as_ptr().add(16 * i).cast()) };
        _mm512_and_si512(x, abs)
    });
    let w: [__m512i; 8] = core::array::from_fn(|i| fold::<0x44, 0xEE>(v[2 * i], v[2 * i + 1]));
    // Four groups per vector, one 128-bit lane each.
    let x: [__m512i; 4] = core::array::from_fn(|i| fold::<0x88, 0xDD>(w[2 * i], w[2 * i + 1]));
    // Lane L of y[i]: group 8i + L twice, then group 8i + 4 + L twice.
    let y: [__m512i; 2] = core::array::from_fn(|i| fold_lanes(x[2 * i], x[2 * i + 1]));
    // Dword 4L + j holds group L, 8 + L, 4 + L, 12 + L for j = 0, 1, 2, 3.
    let r = _mm512_mask_blend_epi32(0xAAAA, y[0], y[1]);
    let order = _mm512_set_epi32(15, 11, 7, 3, 13, 9, 5, 1, 14, 10, 6, 2, 12, 8, 4, 0);
    _mm512_permutexvar_epi32(order, r)
}

/// The largest `bits & 0x7FFF_FFFF` of each 32-element block of 256
/// elements, block b in lane b < 8 (MX's blocks): each block's two vectors
/// folded first, then the transposing reduction of the eight.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn block32_maxes(src: &[f32; 256]) -> __m512i {
    let abs = _mm512_set1_epi32(0x7FFF_FFFF);
    let v: [__m512i; 8] = core::array::from_fn(|i| {
        // SAFETY: 32·i + 32 <= 256.
        let (x, y) = unsafe {
            let p = src.as_ptr().add(32 * i);
            (
                _mm512_loadu_si512(p.cast()),
                _mm512_loadu_si512(p.add(16).cast()),
            )
        };
        _mm512_max_epu32(_mm512_and_si512(x, abs), _mm512_and_si512(y, abs))
    });
    let w: [__m512i; 4] = core::array::from_fn(|i| fold::<0x44, 0xEE>(v[2 * i], v[2 * i + 1]));
    // One 128-bit lane per block: x[0] holds blocks 0 to 3, x[1] 4 to 7.
    let x: [__m512i; 2] = core::array::from_fn(|i| fold::<0x88, 0xDD>(w[2 * i], w[2 * i + 1]));
    // Dwords 4L, 4L + 1: block L; 4L + 2, 4L + 3: block 4 + L.
    let m = fold_lanes(x[0], x[1]);
    let order = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 14, 10, 6, 2, 12, 8, 4, 0);
    _mm512_permutexvar_epi32(order, m)
}
