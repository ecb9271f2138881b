//! The i8 GEMM's packing of 4-bit codes (NVFP4, MXFP4) into interleaved
//! quads, 16 rows × 16 quads at a time: each row's 32 bytes widened to 64
//! codes, mapped by the table in one `vpshufb`, then transposed so that
//! each quad's 16 rows are one store.

use super::transpose16;
use crate::simd::x86_64::quads;
use core::arch::x86_64::*;

/// See [`Kernels::nibble_quads`](crate::simd::Kernels::nibble_quads).
///
/// Panics if `width` is not 8 or 16, `rows > width`, or `src` or `out` is
/// shorter than the arguments say.
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
    // SAFETY: reached only through this module's tables, so the CPU
    // supports AVX-512 F, BW, DQ and VL; the reads and writes stay within
    // the lengths `quads::check` asserts (`quads_impl` masks them to those).
    unsafe { quads_impl(lut, src, stride, rows, nq, out, width, sums) }
}

/// # Safety
/// As `quads::check` asserts, on a CPU with AVX-512 F, BW, DQ and VL.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
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
    let table = _mm512_broadcast_i32x4(unsafe { _mm_loadu_si128(lut.as_ptr().cast()) });
    let low = _mm512_set1_epi16(0x0F0F);
    let row_mask = super::lanes(rows);
    // The running sum of the current block of `qpb` quads, per row.
    let (ones8, ones16) = (_mm512_set1_epi8(1), _mm512_set1_epi16(1));
    let (mut block, mut sum) = (0, _mm512_setzero_si512());
    for q0 in (0..nq).step_by(16) {
        let len = (nq - q0).min(16);
        // 2 bytes of codes per quad.
        let byte_mask: __mmask32 = if len == 16 {
            u32::MAX
        } else {
            (1u32 << (2 * len)) - 1
        };
        let a: [__m512i; 16] = core::array::from_fn(|j| {
            if j >= rows {
                return _mm512_setzero_si512();
            }
            // SAFETY: bytes 2·q0 .. 2·(q0 + len) of row j, masked to those,
            // are within `src` (asserted by the caller).
            let bytes = unsafe {
                _mm256_maskz_loadu_epi8(byte_mask, src.as_ptr().add(j * stride + 2 * q0).cast())
            };
            // Byte b of the row as the word b | b << 12 masked to its two
            // nibbles: the low nibble in the low byte, the high nibble in
            // the high byte (0xA8: (A | B) & C).
            let w = _mm512_cvtepu8_epi16(bytes);
            let codes = _mm512_ternarylogic_epi32::<0xA8>(w, _mm512_slli_epi16::<4>(w), low);
            _mm512_shuffle_epi8(table, codes)
        });
        let b = transpose16(a);
        for (q, v) in b.iter().enumerate().take(len) {
            // SAFETY: slots (q0 + q)·width + j for j < rows, which the
            // mask keeps to, are within `out` (asserted by the caller).
            unsafe {
                _mm512_mask_storeu_epi32(
                    out.as_mut_ptr().add((q0 + q) * width).cast(),
                    row_mask,
                    *v,
                )
            };
            if let Some((qpb, s)) = &mut sums {
                if (q0 + q) / *qpb != block {
                    store_sum(s, block * width, row_mask, sum);
                    (block, sum) = ((q0 + q) / *qpb, _mm512_setzero_si512());
                }
                // The quad's four bytes as i8, summed: u8 ones times i8
                // bytes in pairs (at most 2·128, no saturation), then pairs
                // of i16 into the i32 lane.
                let pairs = _mm512_maddubs_epi16(ones8, *v);
                sum = _mm512_add_epi32(sum, _mm512_madd_epi16(pairs, ones16));
            }
        }
    }
    if let Some((_, s)) = &mut sums {
        store_sum(s, block * width, row_mask, sum);
    }
}

/// Stores the lanes of `row_mask` of a block's sums at `sums[at..]`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn store_sum(sums: &mut [i32], at: usize, row_mask: __mmask16, sum: __m512i) {
    assert!(at + row_mask.count_ones() as usize <= sums.len());
    // SAFETY: lanes j < rows of sums[at..] are in bounds (asserted above:
    // the row mask is the low `rows` lanes).
    unsafe { _mm512_mask_storeu_epi32(sums.as_mut_ptr().add(at).cast(), row_mask, sum) };
}
