//! AVX2 element decoding: 8 codes at a time, by gather.

use crate::simd::Packing;
use core::arch::x86_64::*;

/// Decodes one row; see [`Kernels::decode_row`](crate::simd::Kernels::decode_row).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn decode_row(
    table: &[f32; 256],
    bits: u32,
    src: &[u8],
    dst: &mut [f32],
    factors: Option<(&[f32], usize)>,
    packing: Packing,
) {
    let n = dst.len();
    let nib = packing == Packing::Nibbles;
    if nib {
        assert_eq!(src.len(), n.div_ceil(2));
    } else {
        assert_eq!(src.len(), n);
    }
    let (fs, bl) = factors.unwrap_or((&[], usize::MAX));
    let bl = bl.max(1);
    if factors.is_some() {
        assert!(fs.len() >= n.div_ceil(bl));
    }
    let code_mask = _mm256_set1_epi32(((1u32 << bits) - 1) as i32);
    let mut s = 0;
    let mut b = 0;
    while s < n {
        let (e, f) = match factors {
            Some(_) => (s.saturating_add(bl).min(n), Some(_mm256_set1_ps(fs[b]))),
            None => (n, None),
        };
        b += 1;
        if nib {
            assert!(s.is_multiple_of(2));
        }
        let mut i = s;
        while i < e {
            let m = (e - i).min(8);
            let mut codes = [0u8; 16];
            if nib {
                for (j, &b) in src[i / 2..(i + m).div_ceil(2)].iter().enumerate() {
                    codes[2 * j] = b & 0xF;
                    codes[2 * j + 1] = b >> 4;
                }
            } else {
                codes[..m].copy_from_slice(&src[i..i + m]);
            }
            // SAFETY: codes holds 16 bytes; 8 are read.
            let b8 = unsafe { _mm_loadl_epi64(codes.as_ptr().cast()) };
            let idx = _mm256_and_si256(_mm256_cvtepu8_epi32(b8), code_mask);
            // SAFETY: every index is below 2^bits <= 256, the table's length.
            let v = unsafe { _mm256_i32gather_ps::<4>(table.as_ptr(), idx) };
            let v = match f {
                Some(f) => _mm256_mul_ps(v, f),
                None => v,
            };
            let mut out = [0f32; 8];
            // SAFETY: out holds 8 f32.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) };
            dst[i..i + m].copy_from_slice(&out[..m]);
            i += m;
        }
        s = e;
    }
}
