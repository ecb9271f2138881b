//! AVX2 amax: of a slice, and of each block of a row.

use crate::simd::table::amax_of_bits;
use core::arch::x86_64::*;

/// Amax bits: the largest of `bits & 0x7FFF_FFFF`.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn amax_bits(src: &[f32]) -> u32 {
    let abs = _mm256_set1_epi32(0x7FFF_FFFF);
    let mut acc = [_mm256_setzero_si256(); 4];
    let mut chunks = src.chunks_exact(32);
    for c in &mut chunks {
        for (j, a) in acc.iter_mut().enumerate() {
            // SAFETY: c has 32 elements; 8j + 8 <= 32.
            let v = unsafe { _mm256_loadu_si256(c.as_ptr().add(8 * j).cast()) };
            *a = _mm256_max_epu32(*a, _mm256_and_si256(v, abs));
        }
    }
    let m = _mm256_max_epu32(
        _mm256_max_epu32(acc[0], acc[1]),
        _mm256_max_epu32(acc[2], acc[3]),
    );
    let mut lanes = [0u32; 8];
    // SAFETY: lanes holds 8 u32.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), m) };
    let tail = chunks
        .remainder()
        .iter()
        .map(|x| x.to_bits() & 0x7FFF_FFFF)
        .max()
        .unwrap_or(0);
    lanes.into_iter().max().unwrap_or(0).max(tail)
}

/// Per-block amaxes of one row, as f32 (NaN normalised to `f32::NAN`).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn block_amaxes(src: &[f32], block_len: usize, out: &mut [f32]) {
    let block_len = block_len.max(1);
    let out = &mut out[..src.len().div_ceil(block_len)];
    // NVFP4's 16 and MX's 32 as constants, so that each block's loads
    // unroll instead of running a two-step loop per block.
    let done = match block_len {
        16 => eight_blocks::<16>(src, block_len, out),
        32 => eight_blocks::<32>(src, block_len, out),
        l if l.is_multiple_of(8) => eight_blocks::<0>(src, l, out),
        _ => 0,
    };
    for (o, b) in out[done..]
        .iter_mut()
        .zip(src[done * block_len..].chunks(block_len))
    {
        // SAFETY: the CPU supports AVX2 and FMA (this function's contract).
        *o = amax_of_bits(unsafe { amax_bits(b) });
    }
}

/// The amaxes of the row's whole groups of eight blocks (`block_len` a
/// multiple of 8; `L` is it, or 0 for a length known only at run time),
/// written to `out`; returns how many blocks it did.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn eight_blocks<const L: usize>(src: &[f32], block_len: usize, out: &mut [f32]) -> usize {
    let block_len = if L > 0 { L } else { block_len };
    // One accumulator a block, then one transposing reduction for all
    // eight instead of eight horizontal ones.
    let abs = _mm256_set1_epi32(0x7FFF_FFFF);
    let nan = _mm256_set1_epi32(f32::NAN.to_bits() as i32);
    let inf = _mm256_set1_epi32(0x7F80_0000);
    let mut done = 0;
    for (blocks, o) in src.chunks_exact(8 * block_len).zip(out.chunks_exact_mut(8)) {
        let acc: [__m256i; 8] = core::array::from_fn(|k| {
            let mut a = _mm256_setzero_si256();
            for v in blocks[k * block_len..(k + 1) * block_len].chunks_exact(8) {
                // SAFETY: v has 8 elements.
                let x = unsafe { _mm256_loadu_si256(v.as_ptr().cast()) };
                a = _mm256_max_epu32(a, _mm256_and_si256(x, abs));
            }
            a
        });
        let m = transposed_maxes(acc);
        // Bits above infinity's are NaN patterns: store the one NaN.
        let m = _mm256_blendv_epi8(m, nan, _mm256_cmpgt_epi32(m, inf));
        // SAFETY: o holds 8 f32.
        unsafe { _mm256_storeu_si256(o.as_mut_ptr().cast(), m) };
        done += 8;
    }
    done
}

/// Lane k: the largest u32 lane of `v[k]`.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn transposed_maxes(v: [__m256i; 8]) -> __m256i {
    // Within each 128-bit half: [a0|a2, b0|b2, a1|a3, b1|b3] for a pair (a, b).
    let t: [__m256i; 4] = core::array::from_fn(|i| {
        let (a, b) = (v[2 * i], v[2 * i + 1]);
        _mm256_max_epu32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b))
    });
    // Within each half: the half's maximum of four vectors, in order.
    let u: [__m256i; 2] = core::array::from_fn(|i| {
        let (a, b) = (t[2 * i], t[2 * i + 1]);
        _mm256_max_epu32(_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b))
    });
    // Low halves against high halves: vectors 0–3, then 4–7.
    _mm256_max_epu32(
        _mm256_permute2x128_si256::<0x20>(u[0], u[1]),
        _mm256_permute2x128_si256::<0x31>(u[0], u[1]),
    )
}
