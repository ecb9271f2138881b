//! The i8 GEMM's packing of 4-bit codes (NVFP4, MXFP4) into interleaved
//! quads on AVX2, 8 rows × 8 quads at a time: each row's 16 bytes widened
//! to 32 codes, mapped by the table in one `vpshufb`, then transposed so
//! that each quad's 8 rows are one store (two row groups for B's 16).

use super::transpose8;
use crate::simd::x86_64::quads;
use core::arch::x86_64::*;

/// See [`Kernels::nibble_quads`](crate::simd::Kernels::nibble_quads).
///
/// Panics if `width` is not 8 or 16, `rows > width`, or `src`, `out` or
/// the sums are shorter than the arguments say.
#[allow(clippy::too_many_arguments)] // the table's `NibbleQuads`
pub(super) fn nibble_quads(
    lut: &[u8; 16],
    src: &[u8],
    stride: usize,
    rows: usize,
    nq: usize,
    out: &mut [u32],
    width: usize,
    sums: Option<(usize, &mut [i32])>,
) {
    let lens = sums.as_ref().map(|(qpb, s)| (*qpb, &s[..]));
    if !quads::check(src, stride, rows, nq, out, width, lens) {
        return;
    }
    // SAFETY: reached only through `KERNELS`, so the CPU supports AVX2
    // and FMA; the reads and writes stay within the lengths
    // `quads::check` asserts (`quads_impl` masks them to those).
    unsafe { quads_impl(lut, src, stride, rows, nq, out, width, sums) }
}

/// # Safety
/// As `quads::check` asserts, on a CPU with AVX2 and FMA.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
unsafe fn quads_impl(
    lut: &[u8; 16],
    src: &[u8],
    stride: usize,
    rows: usize,
    nq: usize,
    out: &mut [u32],
    width: usize,
    mut sums: Option<(usize, &mut [i32])>,
) {
    // SAFETY: lut holds 16 bytes.
    let table = _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(lut.as_ptr().cast()) });
    let low = _mm256_set1_epi16(0x0F0F);
    let (ones8, ones16) = (_mm256_set1_epi8(1), _mm256_set1_epi16(1));
    for j0 in (0..rows).step_by(8) {
        let live = (rows - j0).min(8);
        // Lanes j < live (maskstore takes a lane's top bit).
        let mask = _mm256_cmpgt_epi32(
            _mm256_set1_epi32(live as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        );
        // The running sum of the current block of `qpb` quads, per row.
        let (mut block, mut sum) = (0, _mm256_setzero_si256());
        for q0 in (0..nq).step_by(8) {
            let len = (nq - q0).min(8);
            // A loop, not `array::from_fn`: rustc compiled that closure out
            // of line here (a call per row of the strip).
            let mut a = [_mm256_setzero_si256(); 8];
            for (j, aj) in a.iter_mut().enumerate().take(live) {
                // 2 bytes of codes per quad.
                let at = (j0 + j) * stride + 2 * q0;
                let bytes = if len == 8 {
                    // SAFETY: src[at..at + 16] is in bounds (asserted by
                    // the caller: a whole strip lies within the row).
                    unsafe { _mm_loadu_si128(src.as_ptr().add(at).cast()) }
                } else {
                    let mut buf = [0u8; 16];
                    buf[..2 * len].copy_from_slice(&src[at..at + 2 * len]);
                    // SAFETY: buf holds 16 bytes.
                    unsafe { _mm_loadu_si128(buf.as_ptr().cast()) }
                };
                // Byte b of the row as the word b | b << 12 masked to its
                // two nibbles: the low nibble in the low byte, the high
                // nibble in the high byte.
                let w = _mm256_cvtepu8_epi16(bytes);
                let codes = _mm256_and_si256(_mm256_or_si256(w, _mm256_slli_epi16::<4>(w)), low);
                *aj = _mm256_shuffle_epi8(table, codes);
            }
            let b = transpose8(a);
            for (q, v) in b.iter().enumerate().take(len) {
                // SAFETY: slots (q0 + q)·width + j0 + j for j < live, which
                // the mask keeps to, are within `out` (asserted by the
                // caller).
                unsafe {
                    _mm256_maskstore_epi32(
                        out.as_mut_ptr().add((q0 + q) * width + j0).cast(),
                        mask,
                        *v,
                    )
                };
                if let Some((qpb, s)) = &mut sums {
                    if (q0 + q) / *qpb != block {
                        store_sum(s, block * width + j0, live, mask, sum);
                        (block, sum) = ((q0 + q) / *qpb, _mm256_setzero_si256());
                    }
                    // The quad's four bytes as i8, summed: u8 ones times
                    // i8 bytes in pairs (at most 2·128, no saturation),
                    // then pairs of i16 into the i32 lane.
                    let pairs = _mm256_maddubs_epi16(ones8, *v);
                    sum = _mm256_add_epi32(sum, _mm256_madd_epi16(pairs, ones16));
                }
            }
        }
        if let Some((_, s)) = &mut sums {
            store_sum(s, block * width + j0, live, mask, sum);
        }
    }
}

/// Stores the `live` lanes of `mask` of a block's sums at `sums[at..]`.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn store_sum(sums: &mut [i32], at: usize, live: usize, mask: __m256i, sum: __m256i) {
    assert!(at + live <= sums.len());
    // SAFETY: the mask's lanes, the first `live`, are in bounds (asserted).
    unsafe { _mm256_maskstore_epi32(sums.as_mut_ptr().add(at), mask, sum) };
}
