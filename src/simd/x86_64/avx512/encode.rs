//! AVX-512 element encoding: 16 f32 lanes at a time.
//!
//! Encoding reproduces the portable engine (`element/engine.rs`) on f32
//! bits, for nearest-even and 32-bit stochastic rounding:
//! - nearest-even where the element is normal: the f32 bits rebiased to
//!   the element's exponent are shifted right by `23 − M`, rounding on the
//!   discarded bits (a carry into the exponent is the right next value, as
//!   in the engine);
//! - nearest-even where it is subnormal: add the magic constant
//!   2^(24 − bias − M), whose ulp is the element's subnormal step, so the
//!   hardware's one f32 rounding is the engine's one rounding;
//! - stochastic rounding, normal and subnormal alike, counts the element's
//!   steps with integer shifts of the significand (`fixed_sr`);
//! - overflow, ±Inf and NaN then take the codes the engine gives them.

use super::lanes;
use crate::simd::table::ElementMap;
use crate::simd::{Codec, Packing};
use core::arch::x86_64::*;

/// Broadcast constants of one element format.
pub(super) struct K {
    int8: bool,
    abs: __m512i,
    sign_bit: __m512i,
    rebias: __m512i,
    half_m1: __m512i,
    one: __m512i,
    shift: __m512i,
    e_top: __m512i,
    normal_min: __m512i,
    magic: __m512,
    kbase: __m512i,
    max_code: __m512i,
    over_code: __m512i,
    nan_pos: __m512i,
    nan_neg: __m512i,
    inf_bits: __m512i,
}

impl K {
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    pub(super) fn new(codec: &Codec) -> K {
        let s = _mm512_set1_epi32;
        match *codec {
            Codec::Mini {
                bits,
                man_bits,
                bias,
                max_code,
                over_code,
                nan_pos,
                nan_neg,
            } => {
                let sh = 23 - man_bits;
                K {
                    int8: false,
                    abs: s(0x7FFF_FFFF),
                    sign_bit: s(1 << (bits - 1)),
                    rebias: s((127 - bias) << 23),
                    half_m1: s((1 << (sh - 1)) - 1),
                    one: s(1),
                    shift: s(sh as i32),
                    // The f32 exponent of the smallest normal, 2^(1 − bias).
                    e_top: s(128 - bias),
                    normal_min: s((128 - bias) << 23),
                    // 2^(24 − bias − M): its ulp is the subnormal step 2^(1 − bias − M).
                    magic: _mm512_castsi512_ps(s((127 + 24 - bias - man_bits as i32) << 23)),
                    // Subnormal steps: x = m24 · 2^(E − 150) = m24 / 2^k · 2^(1 − bias − M)
                    // with k = kbase − E; at E = e_top, k = 23 − M, a normal's shift.
                    kbase: s(151 - bias - man_bits as i32),
                    max_code: s(max_code as i32),
                    over_code: s(over_code as i32),
                    nan_pos: s(nan_pos as i32),
                    nan_neg: s(nan_neg as i32),
                    inf_bits: s(0x7F80_0000),
                }
            }
            Codec::Int8 { nan_code } => K {
                int8: true,
                abs: s(0x7FFF_FFFF),
                sign_bit: s(0),
                rebias: s(0),
                half_m1: s(0),
                one: s(1),
                shift: s(0),
                // No normals: every value counts steps of 2^-6.
                e_top: s(255),
                // 2.0: everything from here on is 127.
                normal_min: s(0x4000_0000),
                magic: _mm512_set1_ps(64.0),
                // Units of 2^-6: x = m24 · 2^(E − 150) = m24 / 2^k · 2^-6.
                kbase: s(144),
                max_code: s(127),
                over_code: s(127),
                nan_pos: s(nan_code as i32),
                nan_neg: s(nan_code as i32),
                inf_bits: s(0x7F80_0000),
            },
        }
    }
}

/// Stochastic rounding of `a` (f32 bits, sign clear) to a count of the
/// element's steps, normal and subnormal alike.
///
/// With the f32 exponent `e` clamped to `[1, e_top]` (`e_top` the
/// element's smallest normal, as an f32 exponent), `v = a − (e − 1)·2^23`
/// is the 24-bit significand, plus the element's exponent above its
/// smallest normal, and a step is `2^k` units of `v`, `k = kbase − e`.
/// The engine adds one to `⌊v / 2^k⌋` when the top 32 bits of the
/// discarded fraction, `F`, plus `rnd` carry out of 32 bits.
/// - For `k ≤ 32`, write `v = q·2^k + f`: `F = f·2^(32 − k)`, and as both
///   sides are integers the carry is `f + ⌊rnd / 2^(32 − k)⌋ ≥ 2^k`, so the
///   result is `(v + ⌊rnd / 2^(32 − k)⌋) >> k`.
/// - For `k > 32` (nonzero values below 2^-8 of a step), `F = ⌊v /
///   2^(k − 32)⌋` and the quotient is 0: the same sum with `v` shifted
///   down by `k − 32` and `k` taken as 32, whose carry out of 32 bits is
///   the result.
///
/// The sum cannot carry out for `k < 32` (`v < 2^31` and the added bits
/// are below `2^k`), so one carry test serves every lane without a branch
/// (a branch on the rare lanes mispredicted often on heavy-tailed data).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn fixed_sr(k: &K, a: __m512i, rnd: __m512i) -> __m512i {
    let e = _mm512_min_epu32(_mm512_max_epu32(_mm512_srli_epi32::<23>(a), k.one), k.e_top);
    let v = _mm512_sub_epi32(a, _mm512_slli_epi32::<23>(_mm512_sub_epi32(e, k.one)));
    let kk = _mm512_sub_epi32(k.kbase, e);
    let thirty_two = _mm512_set1_epi32(32);
    let kc = _mm512_min_epu32(kk, thirty_two);
    let v = _mm512_srlv_epi32(v, _mm512_sub_epi32(kk, kc));
    let up = _mm512_srlv_epi32(rnd, _mm512_sub_epi32(thirty_two, kc));
    let sum = _mm512_add_epi32(v, up);
    // A shift by 32 gives 0: where k ≥ 32 the carry is the whole result.
    let q = _mm512_srlv_epi32(sum, kc);
    let carry = _mm512_cmplt_epu32_mask(sum, up);
    _mm512_mask_add_epi32(q, carry, q, k.one)
}

/// Codes of 16 minifloats.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) fn mini_codes(k: &K, x: __m512, rand: Option<__m512i>) -> __m512i {
    let code = number_codes(k, x, rand);
    let b = _mm512_castps_si512(x);
    let nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(b, k.abs), k.inf_bits);
    // NaNs are rare: one test and a predictable branch instead of two
    // masked moves on every vector.
    if nan == 0 {
        return code;
    }
    let neg = _mm512_movepi32_mask(b);
    let code = _mm512_mask_mov_epi32(code, nan & !neg, k.nan_pos);
    _mm512_mask_mov_epi32(code, nan & neg, k.nan_neg)
}

/// [`mini_codes`] of lanes that are not NaN (a NaN lane's code is
/// unspecified), as the AVX2 encoder has it: for callers that know
/// their lanes' amax.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn number_codes(k: &K, x: __m512, rand: Option<__m512i>) -> __m512i {
    let b = _mm512_castps_si512(x);
    let a = _mm512_and_si512(b, k.abs);
    let neg = _mm512_movepi32_mask(b);
    let mag = match rand {
        None => {
            let normal = _mm512_cmpge_epu32_mask(a, k.normal_min);
            let r = _mm512_sub_epi32(a, k.rebias);
            let odd = _mm512_and_si512(_mm512_srlv_epi32(r, k.shift), k.one);
            let qn = _mm512_srlv_epi32(
                _mm512_add_epi32(_mm512_add_epi32(r, k.half_m1), odd),
                k.shift,
            );
            let t = _mm512_add_ps(_mm512_castsi512_ps(a), k.magic);
            let qs = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_castps_si512(k.magic));
            _mm512_mask_blend_epi32(normal, qs, qn)
        }
        Some(rnd) => fixed_sr(k, a, rnd),
    };
    // `mag > max_code ? over_code : mag` in one instruction: over_code is
    // max_code or the code after it (`Codec::Mini`).
    let code = _mm512_min_epu32(mag, k.over_code);
    _mm512_mask_or_epi32(code, neg, code, k.sign_bit)
}

/// Codes of 16 MXINT8 elements.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn int8_codes(k: &K, x: __m512, rand: Option<__m512i>) -> __m512i {
    let b = _mm512_castps_si512(x);
    let a = _mm512_and_si512(b, k.abs);
    let neg = _mm512_movepi32_mask(b);
    let q = match rand {
        None => {
            // |x|·64 is exact; clamp before converting so nothing overflows.
            let v = _mm512_min_ps(
                _mm512_mul_ps(_mm512_castsi512_ps(a), k.magic),
                _mm512_set1_ps(256.0),
            );
            _mm512_cvt_roundps_epi32::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v)
        }
        Some(rnd) => fixed_sr(k, a, rnd),
    };
    let mag = _mm512_min_epu32(q, k.max_code);
    let big = _mm512_cmpge_epu32_mask(a, k.normal_min);
    let mag = _mm512_mask_mov_epi32(mag, big, k.max_code);
    let negated = _mm512_and_si512(
        _mm512_sub_epi32(_mm512_setzero_si512(), mag),
        _mm512_set1_epi32(0xFF),
    );
    let code = _mm512_mask_mov_epi32(mag, neg, negated);
    let nan = _mm512_cmpgt_epu32_mask(a, k.inf_bits);
    _mm512_mask_mov_epi32(code, nan, k.nan_pos)
}

/// A block's map, broadcast.
#[derive(Clone, Copy)]
enum P {
    None,
    Mul(__m512),
    Div(__m512),
    DivDiv(__m512, __m512),
}

impl P {
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    fn apply(self, x: __m512) -> __m512 {
        match self {
            P::None => x,
            P::Mul(m) => _mm512_mul_ps(x, m),
            P::Div(d) => _mm512_div_ps(x, d),
            P::DivDiv(a, b) => _mm512_div_ps(_mm512_div_ps(x, a), b),
        }
    }
}

/// Stores 16 codes (zero in lanes outside the first `m`) for elements
/// `i..i + m` of a row (`i` even for nibbles: blocks start at even offsets).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn store_codes(dst: &mut [u8], i: usize, m: usize, c: __m512i, packing: Packing) {
    match packing {
        Packing::Bytes => {
            assert!(i + m <= dst.len());
            let c8 = _mm512_cvtepi32_epi8(c);
            // SAFETY: bytes i..i+m are in bounds (checked above); the mask
            // stores only those when m < 16.
            unsafe {
                let p = dst.as_mut_ptr().add(i);
                if m == 16 {
                    _mm_storeu_si128(p.cast(), c8);
                } else {
                    _mm_mask_storeu_epi8(p.cast(), lanes(m), c8);
                }
            }
        }
        Packing::Nibbles => {
            // Bytes 2j and 2j+1 become one: lo + 16·hi (codes are below 16).
            let c8 = _mm512_cvtepi32_epi8(c);
            let pairs = _mm_maddubs_epi16(c8, _mm_set1_epi16(0x1001));
            let b8 = _mm_packus_epi16(pairs, pairs);
            let nb = m.div_ceil(2);
            assert!(i.is_multiple_of(2) && i / 2 + nb <= dst.len());
            // SAFETY: bytes i/2..i/2+nb are in bounds (checked above).
            unsafe {
                let p = dst.as_mut_ptr().add(i / 2);
                if nb == 8 {
                    _mm_storel_epi64(p.cast(), b8);
                } else {
                    _mm_mask_storeu_epi8(p.cast(), lanes(nb), b8);
                }
            }
        }
    }
}

/// Encodes one row of blocks; see [`Kernels::encode_row`](crate::simd::Kernels::encode_row).
///
/// # Safety
/// The CPU must support AVX-512 F, BW, DQ and VL.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
#[allow(clippy::too_many_arguments)] // the table's `EncodeRow`
pub(super) unsafe fn encode_row(
    codec: &Codec,
    maps: &[ElementMap],
    block_len: usize,
    src: &[f32],
    rand: Option<&[u32]>,
    dst: &mut [u8],
    packing: Packing,
    ahead: &[f32],
) {
    let n = src.len();
    // No maps: all of src is one block, mapped by nothing.
    let block_len = if maps.is_empty() { n } else { block_len }.max(1);
    let nblocks = n.div_ceil(block_len);
    assert!(maps.is_empty() || maps.len() >= nblocks);
    match packing {
        Packing::Bytes => assert_eq!(dst.len(), n),
        Packing::Nibbles => {
            assert_eq!(dst.len(), n.div_ceil(2));
            assert!(block_len.is_multiple_of(2) || nblocks <= 1);
        }
    }
    if let Some(r) = rand {
        assert_eq!(r.len(), n);
    }
    let k = K::new(codec);
    // One loop per (element kind, packing, rounding): no per-vector
    // branches. MXINT8's codes are bytes (`Packing`'s contract).
    let nib = packing == Packing::Nibbles;
    assert!(!(k.int8 && nib), "MXINT8 codes do not pack as nibbles");
    match (k.int8, nib, rand) {
        (false, false, None) => {
            encode_blocks::<false, false, false>(&k, maps, block_len, src, &[], dst, ahead)
        }
        (false, true, None) => {
            encode_blocks::<false, true, false>(&k, maps, block_len, src, &[], dst, ahead)
        }
        (true, _, None) => {
            encode_blocks::<true, false, false>(&k, maps, block_len, src, &[], dst, ahead)
        }
        (false, false, Some(r)) => {
            encode_blocks::<false, false, true>(&k, maps, block_len, src, r, dst, ahead)
        }
        (false, true, Some(r)) => {
            encode_blocks::<false, true, true>(&k, maps, block_len, src, r, dst, ahead)
        }
        (true, _, Some(r)) => {
            encode_blocks::<true, false, true>(&k, maps, block_len, src, r, dst, ahead)
        }
    }
}

/// The loop of [`encode_row`] for one element kind, packing and rounding
/// (a constant, so that each gets its own loop); `rand` is `src.len()`
/// long when `SR`, else empty. Lengths are checked by the caller.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn encode_blocks<const INT8: bool, const NIB: bool, const SR: bool>(
    k: &K,
    maps: &[ElementMap],
    block_len: usize,
    src: &[f32],
    rand: &[u32],
    dst: &mut [u8],
    ahead: &[f32],
) {
    let n = src.len();
    let zero = _mm512_setzero_si512();
    let nblocks = n.div_ceil(block_len);
    let packing = if NIB {
        Packing::Nibbles
    } else {
        Packing::Bytes
    };
    // Checked once here rather than per block: every block ends at or
    // before n (e below), so these cover each block's raw reads and writes.
    assert!(!SR || rand.len() == n);
    assert!(if NIB {
        n.div_ceil(2) <= dst.len()
    } else {
        n <= dst.len()
    });
    // Blocks of one vector (NVFP4's 16): their own loop, so that a block
    // costs a map load and a test, not the general loop's bookkeeping.
    let mut b0 = 0;
    if block_len == 16 && !maps.is_empty() {
        while let Some(&ElementMap::Mul(mul)) = maps.get(b0)
            && 16 * b0 + 16 <= n
        {
            // SAFETY: the block's elements end at 16·b0 + 16 ≤ n, which
            // src, rand and dst cover (checked above).
            unsafe {
                vector16::<INT8, NIB, SR, false>(
                    k,
                    src,
                    rand,
                    ahead,
                    dst,
                    16 * b0,
                    _mm512_set1_ps(mul),
                )
            };
            b0 += 1;
        }
    }
    for b in b0..nblocks {
        let map = maps.get(b).copied();
        let s = b * block_len;
        let e = (s + block_len).min(n);
        if let Some(ElementMap::Mul(mul)) = map
            && (e - s).is_multiple_of(16)
        {
            let mul = _mm512_set1_ps(mul);
            let mut i = s;
            while i < e {
                // SAFETY: i + 16 ≤ e ≤ n, which src, rand and dst cover
                // (checked above).
                unsafe { vector16::<INT8, NIB, SR, false>(k, src, rand, ahead, dst, i, mul) };
                i += 16;
            }
            continue;
        }
        let p = match map {
            Some(ElementMap::Zero(code)) => {
                for j in s..e {
                    if NIB {
                        let sh = 4 * (j % 2);
                        dst[j / 2] = (dst[j / 2] & !(0xF << sh)) | ((code & 0xF) << sh);
                    } else {
                        dst[j] = code;
                    }
                }
                continue;
            }
            None => P::None,
            Some(ElementMap::Mul(m)) => P::Mul(_mm512_set1_ps(m)),
            Some(ElementMap::Div(d)) => P::Div(_mm512_set1_ps(d)),
            Some(ElementMap::DivDiv(a, b)) => P::DivDiv(_mm512_set1_ps(a), _mm512_set1_ps(b)),
        };
        let mut i = s;
        while i < e {
            let m = (e - i).min(16);
            let mask = lanes(m);
            // SAFETY: the masked lanes cover src[i..i + m] (and rand's),
            // in bounds since i + m <= e <= n; masked-off lanes are not read.
            let x = unsafe { _mm512_maskz_loadu_ps(mask, src.as_ptr().add(i)) };
            let rnd = SR.then(|| {
                // SAFETY: as above; rand.len() == n (checked at the top).
                unsafe { _mm512_maskz_loadu_epi32(mask, rand.as_ptr().add(i).cast()) }
            });
            let x = p.apply(x);
            let c = if INT8 {
                int8_codes(k, x, rnd)
            } else {
                mini_codes(k, x, rnd)
            };
            let c = if m == 16 {
                c
            } else {
                _mm512_mask_mov_epi32(zero, mask, c)
            };
            store_codes(dst, i, m, c, packing);
            i += m;
        }
    }
}

/// The encoder's hot case, a `Mul` map over a whole vector with no masks
/// (also the one-pass NVFP4 kernel's, `scaled.rs`): the 16 elements at
/// `i` times `mul`, rounded to nearest or, if `SR`, with the bits at
/// `rand[i..]`, their codes stored at `dst[i..]` (`dst[i / 2..]` as
/// nibbles, `i` even). `NUM`: the caller knows that no product is NaN
/// (minifloats; MXINT8 always tests), and the NaN test is left out.
///
/// # Safety
/// `i + 16 ≤ src.len()`, and `≤ rand.len()` if `SR`; `dst` holds the
/// codes' bytes; the CPU supports AVX-512 F, BW, DQ and VL.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn vector16<
    const INT8: bool,
    const NIB: bool,
    const SR: bool,
    const NUM: bool,
>(
    k: &K,
    src: &[f32],
    rand: &[u32],
    ahead: &[f32],
    dst: &mut [u8],
    i: usize,
    mul: __m512,
) {
    debug_assert!(i + 16 <= src.len() && (!SR || i + 16 <= rand.len()));
    // SAFETY: i + 16 ≤ src.len() (this function's contract).
    let x = unsafe { _mm512_loadu_ps(src.as_ptr().add(i)) };
    if i < ahead.len() {
        // SAFETY: a prefetch does not access memory; i < ahead.len().
        unsafe { _mm_prefetch::<_MM_HINT_T1>(ahead.as_ptr().add(i).cast()) };
    }
    let rnd = SR.then(|| {
        // SAFETY: i + 16 ≤ rand.len() when SR (this function's contract).
        unsafe { _mm512_loadu_si512(rand.as_ptr().add(i).cast()) }
    });
    let x = _mm512_mul_ps(x, mul);
    let c = if INT8 {
        int8_codes(k, x, rnd)
    } else if NUM {
        number_codes(k, x, rnd)
    } else {
        mini_codes(k, x, rnd)
    };
    let c8 = _mm512_cvtepi32_epi8(c);
    // SAFETY: dst holds the 16 codes' bytes (this function's contract).
    unsafe {
        if NIB {
            let pairs = _mm_maddubs_epi16(c8, _mm_set1_epi16(0x1001));
            let b8 = _mm_packus_epi16(pairs, pairs);
            _mm_storel_epi64(dst.as_mut_ptr().add(i / 2).cast(), b8);
        } else {
            _mm_storeu_si128(dst.as_mut_ptr().add(i).cast(), c8);
        }
    }
}
