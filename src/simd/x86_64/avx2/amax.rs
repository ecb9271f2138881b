//! AVX2 amax of a slice.

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
