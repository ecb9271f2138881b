//! AVX2 element decoding: 8 codes at a time (16 for packed FP4).
//!
//! A `vpermps` holds 8 entries, so only 16-entry tables (FP4) are looked
//! up by permutes (two, and a blend on the code's bit 3). FP6 and FP8
//! minifloats are computed from their fields instead (a gather of 8
//! costs several times as much as the arithmetic on Zen 3), with a gather
//! for vectors that hold a special code. Other tables (MXINT8, E8M0,
//! fnuz) are gathered.

use crate::simd::{Codec, Decoder, Packing};
use core::arch::x86_64::*;

/// How [`decode_body`] finds a code's value (its const parameter `L`).
const PERM16: u8 = 0;
/// See [`PERM16`].
pub(super) const MINI: u8 = 1;
/// See [`PERM16`].
const GATHER: u8 = 2;

/// Decodes one row; see [`Kernels::decode_row`](crate::simd::Kernels::decode_row).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn decode_row(
    dec: &Decoder,
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
    if let Some((fs, bl)) = factors {
        assert!(fs.len() >= n.div_ceil(bl.max(1)));
    }
    let lookup = if dec.bits <= 4 {
        PERM16
    } else if matches!(dec.mini, Some(Codec::Mini { bits, .. }) if bits == dec.bits) {
        MINI
    } else {
        GATHER
    };
    // One loop per (packing, lookup): no per-vector dispatch.
    // SAFETY: the CPU features are this function's contract, the lengths
    // are asserted above.
    unsafe {
        match (nib, lookup) {
            (false, PERM16) => decode_body::<false, PERM16>(dec, src, dst, factors),
            (false, MINI) => decode_body::<false, MINI>(dec, src, dst, factors),
            (false, _) => decode_body::<false, GATHER>(dec, src, dst, factors),
            (true, PERM16) => decode_body::<true, PERM16>(dec, src, dst, factors),
            (true, MINI) => decode_body::<true, MINI>(dec, src, dst, factors),
            (true, _) => decode_body::<true, GATHER>(dec, src, dst, factors),
        }
    }
}

/// The constants of one decoder, in registers.
#[derive(Clone, Copy)]
pub(super) struct Consts {
    /// The table's first 16 entries.
    t: [__m256; 2],
    /// 2^bits − 1.
    code_mask: __m256i,
    /// Of a minifloat: the sign bit, and its shift to f32's.
    sign: __m256i,
    sign_shift: __m128i,
    /// The magnitude bits, and the largest finite magnitude code.
    mag_mask: __m256i,
    max_code: __m256i,
    /// A normal code's magnitude, shifted by `man_shift` (23 − mantissa
    /// bits) and plus `exp_adj` ((127 − bias) << 23), is its f32's bits.
    man_shift: __m128i,
    exp_adj: __m256i,
    /// Magnitudes below this (2^mantissa bits) are subnormal: their value
    /// is the magnitude times `sub_unit` (2^(1 − bias − mantissa bits)),
    /// an f32 multiplication that is exact.
    sub_limit: __m256i,
    sub_unit: __m256,
}

impl Consts {
    /// The constants of `dec`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn new(dec: &Decoder) -> Consts {
        let table = dec.table;
        let bits = dec.bits;
        // Any minifloat's numbers serve where [`lookup8`] is not `MINI`:
        // they go unread.
        let (man_bits, bias, max_code) = match dec.mini {
            Some(Codec::Mini {
                man_bits,
                bias,
                max_code,
                ..
            }) => (man_bits, bias, max_code),
            _ => (3, 7, 0x7E),
        };
        Consts {
            // SAFETY: the table has 256 entries.
            t: unsafe {
                [
                    _mm256_loadu_ps(table.as_ptr()),
                    _mm256_loadu_ps(table.as_ptr().add(8)),
                ]
            },
            code_mask: _mm256_set1_epi32(((1u32 << bits) - 1) as i32),
            sign: _mm256_set1_epi32(1 << (bits - 1)),
            sign_shift: _mm_cvtsi32_si128(32 - bits as i32),
            mag_mask: _mm256_set1_epi32((1 << (bits - 1)) - 1),
            max_code: _mm256_set1_epi32(max_code as i32),
            man_shift: _mm_cvtsi32_si128(23 - man_bits as i32),
            exp_adj: _mm256_set1_epi32((127 - bias) << 23),
            sub_limit: _mm256_set1_epi32(1 << man_bits),
            sub_unit: _mm256_set1_ps(f32::from_bits(
                ((128 - bias - man_bits as i32) as u32) << 23,
            )),
        }
    }
}

/// 8 codes (in the low 8 bytes of `b`) decoded as `L` says.
///
/// # Safety
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn lookup8<const L: u8>(table: &[f32; 256], k: &Consts, b: __m128i) -> __m256 {
    let idx = _mm256_cvtepu8_epi32(b);
    let gather = |idx: __m256i| {
        let idx = _mm256_and_si256(idx, k.code_mask);
        // SAFETY: every index is below 2^bits ≤ 256, the table's length,
        // and the CPU supports AVX2.
        unsafe { _mm256_i32gather_ps::<4>(table.as_ptr(), idx) }
    };
    match L {
        // vpermps reads the low three bits and the blend bit 3: FP4 needs
        // no masking.
        PERM16 => {
            let lo = _mm256_permutevar8x32_ps(k.t[0], idx);
            let hi = _mm256_permutevar8x32_ps(k.t[1], idx);
            _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32::<28>(idx)))
        }
        MINI => {
            let mag = _mm256_and_si256(idx, k.mag_mask);
            if _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(mag, k.max_code))) != 0 {
                // Inf or NaN in this vector: the table has them.
                return gather(idx);
            }
            let normal = _mm256_add_epi32(_mm256_sll_epi32(mag, k.man_shift), k.exp_adj);
            let sub = _mm256_mul_ps(_mm256_cvtepi32_ps(mag), k.sub_unit);
            let is_sub = _mm256_cmpgt_epi32(k.sub_limit, mag);
            let v = _mm256_blendv_ps(
                _mm256_castsi256_ps(normal),
                sub,
                _mm256_castsi256_ps(is_sub),
            );
            let s = _mm256_sll_epi32(_mm256_and_si256(idx, k.sign), k.sign_shift);
            _mm256_or_ps(v, _mm256_castsi256_ps(s))
        }
        _ => gather(idx),
    }
}

/// The loop of [`decode_row`] for one packing (`NIB`) and lookup (`L`).
///
/// # Safety
/// The CPU must support AVX2, and the lengths must be those [`decode_row`]
/// asserts.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn decode_body<const NIB: bool, const L: u8>(
    dec: &Decoder,
    src: &[u8],
    dst: &mut [f32],
    factors: Option<(&[f32], usize)>,
) {
    let n = dst.len();
    let (fs, bl) = factors.unwrap_or((&[], usize::MAX));
    let bl = bl.max(1);
    let table = dec.table;
    let k = Consts::new(dec);
    let nibble = _mm_set1_epi8(0xF);
    // x̂ = v·f, where a NaN v keeps its own NaN (`element::dequant_mul`):
    // only a NaN factor can meet a NaN v, so only its runs blend.
    let scale = |v: __m256, f: Option<(__m256, bool)>| match f {
        Some((f, false)) => _mm256_mul_ps(v, f),
        Some((f, true)) => {
            let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v);
            _mm256_blendv_ps(_mm256_mul_ps(v, f), v, nan)
        }
        None => v,
    };
    // Block boundaries split the row into runs of one factor each.
    let mut s = 0;
    let mut b = 0;
    while s < n {
        let (e, f) = match factors {
            Some(_) => (
                s.saturating_add(bl).min(n),
                Some((_mm256_set1_ps(fs[b]), fs[b].is_nan())),
            ),
            None => (n, None),
        };
        b += 1;
        let mut i = s;
        if NIB {
            assert!(s.is_multiple_of(2));
            // 16 codes from 8 bytes, low nibble first.
            while i + 16 <= e {
                let w: &[u8; 8] = src[i / 2..i / 2 + 8].try_into().unwrap();
                // SAFETY: w holds 8 bytes.
                let raw = unsafe { _mm_loadl_epi64(w.as_ptr().cast()) };
                let lo = _mm_and_si128(raw, nibble);
                let hi = _mm_and_si128(_mm_srli_epi16::<4>(raw), nibble);
                let c = _mm_unpacklo_epi8(lo, hi);
                // SAFETY: the CPU supports AVX2.
                let (v0, v1) = unsafe {
                    (
                        lookup8::<L>(table, &k, c),
                        lookup8::<L>(table, &k, _mm_srli_si128::<8>(c)),
                    )
                };
                let o: &mut [f32; 16] = (&mut dst[i..i + 16]).try_into().unwrap();
                // SAFETY: o holds 16 f32.
                unsafe {
                    _mm256_storeu_ps(o.as_mut_ptr(), scale(v0, f));
                    _mm256_storeu_ps(o.as_mut_ptr().add(8), scale(v1, f));
                }
                i += 16;
            }
        } else {
            while i + 8 <= e {
                let w: &[u8; 8] = src[i..i + 8].try_into().unwrap();
                // SAFETY: w holds 8 bytes.
                let raw = unsafe { _mm_loadl_epi64(w.as_ptr().cast()) };
                // SAFETY: the CPU supports AVX2.
                let v = unsafe { lookup8::<L>(table, &k, raw) };
                let o: &mut [f32; 8] = (&mut dst[i..i + 8]).try_into().unwrap();
                // SAFETY: o holds 8 f32.
                unsafe { _mm256_storeu_ps(o.as_mut_ptr(), scale(v, f)) };
                i += 8;
            }
        }
        // The run's last codes (fewer than 16, or 8), through buffers.
        while i < e {
            let m = (e - i).min(8);
            let mut codes = [0u8; 16];
            if NIB {
                for (j, &b) in src[i / 2..(i + m).div_ceil(2)].iter().enumerate() {
                    codes[2 * j] = b & 0xF;
                    codes[2 * j + 1] = b >> 4;
                }
            } else {
                codes[..m].copy_from_slice(&src[i..i + m]);
            }
            // SAFETY: codes holds 16 bytes; 8 are read.
            let raw = unsafe { _mm_loadl_epi64(codes.as_ptr().cast()) };
            // SAFETY: the CPU supports AVX2.
            let v = unsafe { lookup8::<L>(table, &k, raw) };
            let mut out = [0f32; 8];
            // SAFETY: out holds 8 f32.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), scale(v, f)) };
            dst[i..i + m].copy_from_slice(&out[..m]);
            i += m;
        }
        s = e;
    }
}
