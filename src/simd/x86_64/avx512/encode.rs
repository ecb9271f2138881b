//! AVX-512 element encoding: 16 f32 lanes at a time.
//!
//! Encoding reproduces the portable engine (`element/engine.rs`) on f32
//! bits, for nearest-even and 32-bit stochastic rounding:
//! - nearest-even, normal and subnormal alike: one f32 add of a magic
//!   constant per binade, looked up by the exponent, whose ulp is the
//!   element's step there, so the hardware's one rounding is the engine's
//!   and the sum's low bits are the code (`nearest_magnitudes`);
//! - stochastic rounding, normal and subnormal alike, counts the element's
//!   steps with integer shifts of the significand (`fixed_sr`);
//! - overflow, ±Inf and NaN then take the codes the engine gives them.

use super::super::nearest::Nearest;
use super::lanes;
use crate::simd::table::ElementMap;
use crate::simd::{Codec, Packing};
use core::arch::x86_64::*;

/// Broadcast constants of one element format.
pub(super) struct K {
    int8: bool,
    abs: __m512i,
    sign_bit: __m512i,
    one: __m512i,
    e_top: __m512i,
    normal_min: __m512i,
    magic: __m512,
    kbase: __m512i,
    /// Nearest rounding (`nearest_magnitudes`, with `normal_min`): the
    /// clamp, the magic constants by binade, the shift that brings an
    /// f32's sign to the code's sign bit, and the magnitude's bits.
    top: __m512,
    magics: [__m512; 2],
    sign_shift: __m512i,
    mag_bits: __m512i,
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
                let n = Nearest::new(man_bits, bias, over_code);
                K {
                    int8: false,
                    abs: s(0x7FFF_FFFF),
                    sign_bit: s(1 << (bits - 1)),
                    one: s(1),
                    // The f32 exponent of the smallest normal, 2^(1 − bias).
                    e_top: s(128 - bias),
                    normal_min: s((128 - bias) << 23),
                    // MXINT8's; a minifloat rounds by `magics`.
                    magic: _mm512_setzero_ps(),
                    // Subnormal steps: x = m24 · 2^(E − 150) = m24 / 2^k · 2^(1 − bias − M)
                    // with k = kbase − E; at E = e_top, k = 23 − M, a normal's shift.
                    kbase: s(151 - bias - man_bits as i32),
                    top: _mm512_castsi512_ps(s(n.top as i32)),
                    magics: magics(&n),
                    sign_shift: s(32 - bits as i32),
                    mag_bits: s((1 << (bits - 1)) - 1),
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
                one: s(1),
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
                // `int8_codes` rounds with a conversion, not these.
                top: _mm512_setzero_ps(),
                magics: [_mm512_setzero_ps(); 2],
                sign_shift: s(0),
                mag_bits: s(0),
            },
        }
    }
}

/// The magic constants of `n` by slot, the binade's f32 exponent field
/// mod 32 (`nearest_magnitudes`' table), each lane's binade the one from
/// `n.normal` on in its slot: computed in registers, as a load of an
/// array just written lane by lane stalls on store forwarding once per
/// row.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn magics(n: &Nearest) -> [__m512; 2] {
    let s = |v: u32| _mm512_set1_epi32(v as i32);
    let slots = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    core::array::from_fn(|h| {
        let slot = _mm512_add_epi32(slots, s(16 * h as u32));
        let field = _mm512_add_epi32(
            s(n.normal),
            _mm512_and_si512(_mm512_sub_epi32(slot, s(n.normal)), s(31)),
        );
        // `Nearest::base`'s arithmetic.
        let b = _mm512_slli_epi32::<23>(field);
        let m = _mm512_add_epi32(
            _mm512_add_epi32(b, s(n.base)),
            _mm512_srlv_epi32(b, s(n.shift)),
        );
        _mm512_castsi512_ps(m)
    })
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
    let Some(rnd) = rand else {
        let mag = nearest_magnitudes(k, x);
        // The code's magnitude bits from the sum, its sign bit from x's
        // sign shifted down to it (the bits below the sign are masked off).
        let sign = _mm512_srlv_epi32(b, k.sign_shift);
        return _mm512_ternarylogic_epi32::<0xCA>(k.mag_bits, mag, sign);
    };
    let a = _mm512_and_si512(b, k.abs);
    let neg = _mm512_movepi32_mask(b);
    // `mag > max_code ? over_code : mag` in one instruction: over_code is
    // max_code or the code after it (`Codec::Mini`).
    let code = _mm512_min_epu32(fixed_sr(k, a, rnd), k.over_code);
    _mm512_mask_or_epi32(code, neg, code, k.sign_bit)
}

/// Nearest-even magnitude codes of `x` (not NaN) in the low bits of the
/// result, the bits above them not zero.
///
/// `|x|` is first clamped to `top`, the least magnitude that rounds to
/// `over_code` (giving `a`); as rounding is monotone, every larger one
/// then takes `over_code` too and no code is above it. With `e` the binade of `a`
/// (the smallest normal's for a subnormal), the magic constant `2^(e + 23
/// − M)` has ulp `2^(e − M)`, the element's step in binade e, and
/// `a + magic` stays in magic's binade, so the add rounds `a` to a whole
/// number `q` of steps, to nearest-even as the engine does (magic's
/// mantissa is even). The mantissa bits of the sum are then `q` plus
/// magic's own, which are `(e − emin)·2^M`, the codes of the binades
/// below: together the element's code, `q` carrying into the next binade
/// as a code does.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn nearest_magnitudes(k: &K, x: __m512) -> __m512i {
    // `vrangeps` 0b1010: the operand of smaller magnitude, sign cleared:
    // min(|x|, top), exactly (no rounding, subnormals kept).
    let a = _mm512_castps_si512(_mm512_range_ps::<0b1010>(x, k.top));
    // The low 5 bits of the f32 exponent pick the binade's constant.
    let e = _mm512_srli_epi32::<23>(_mm512_max_epu32(a, k.normal_min));
    let magic = _mm512_permutex2var_ps(k.magics[0], e, k.magics[1]);
    _mm512_castps_si512(_mm512_add_ps(_mm512_castsi512_ps(a), magic))
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
    if matches!(block_len, 16 | 32 | 64) && !maps.is_empty() {
        // 64 elements at a time (NVFP4's 16, MX's 32) while their blocks
        // are whole and have `Mul` maps: vector j of 4 is in block j / (4 / per).
        let per = 64 / block_len;
        let mut muls = [_mm512_setzero_ps(); 4];
        'run: while block_len * b0 + 64 <= n {
            for (j, m) in muls.iter_mut().enumerate() {
                let Some(&ElementMap::Mul(mul)) = maps.get(b0 + j * per / 4) else {
                    break 'run;
                };
                *m = _mm512_set1_ps(mul);
            }
            // SAFETY: the blocks' elements end at block_len·b0 + 64 ≤ n,
            // which src, rand and dst cover (checked above).
            unsafe {
                vectors::<INT8, NIB, SR, false, 4>(k, src, rand, ahead, dst, block_len * b0, muls)
            };
            b0 += per;
        }
    }
    if block_len == 16 && !maps.is_empty() {
        while let Some(&ElementMap::Mul(mul)) = maps.get(b0)
            && 16 * b0 + 16 <= n
        {
            // SAFETY: the block's elements end at 16·b0 + 16 ≤ n, which
            // src, rand and dst cover (checked above).
            unsafe {
                let muls = [_mm512_set1_ps(mul)];
                vectors::<INT8, NIB, SR, false, 1>(k, src, rand, ahead, dst, 16 * b0, muls)
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
            while i + 64 <= e {
                // SAFETY: i + 64 ≤ e ≤ n, which src, rand and dst cover
                // (checked above).
                unsafe {
                    vectors::<INT8, NIB, SR, false, 4>(k, src, rand, ahead, dst, i, [mul; 4])
                };
                i += 64;
            }
            while i < e {
                // SAFETY: i + 16 ≤ e ≤ n, which src, rand and dst cover
                // (checked above).
                unsafe { vectors::<INT8, NIB, SR, false, 1>(k, src, rand, ahead, dst, i, [mul]) };
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

/// The encoder's hot case, `Mul` maps over whole vectors with no masks
/// (also the one-pass NVFP4 kernel's, `scaled.rs`): the `16·N` elements
/// at `i` (`N` is 1 or 4), vector `j` of 16 times `muls[j]` (blocks of 16
/// each with its own map, or longer blocks with one), rounded to nearest
/// or, if `SR`, with the bits at `rand[i..]`, their codes stored at
/// `dst[i..]` (`dst[i / 2..]` as nibbles, `i` even). `NUM`: the caller
/// knows that no product is NaN (minifloats; MXINT8 always tests), and
/// the NaN test is left out.
///
/// One vector's codes narrow to bytes by a `vpmovdb` (and two shuffles
/// more for nibbles); four vectors' narrow together, by two packs and a
/// permute for 64 codes.
///
/// # Safety
/// `i + 16·N ≤ src.len()`, and `≤ rand.len()` if `SR`; `dst` holds the
/// codes' bytes; the CPU supports AVX-512 F, BW, DQ and VL.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn vectors<
    const INT8: bool,
    const NIB: bool,
    const SR: bool,
    const NUM: bool,
    const N: usize,
>(
    k: &K,
    src: &[f32],
    rand: &[u32],
    ahead: &[f32],
    dst: &mut [u8],
    i: usize,
    muls: [__m512; N],
) {
    const { assert!(N == 1 || N == 4) };
    let mut c = [_mm512_setzero_si512(); N];
    for (j, (c, &mul)) in c.iter_mut().zip(&muls).enumerate() {
        // SAFETY: i + 16·j + 16 ≤ i + 16·N, within src and rand (this
        // function's contract).
        *c = unsafe { codes16::<INT8, SR, NUM>(k, src, rand, ahead, i + 16 * j, mul) };
    }
    // SAFETY: dst holds the 16·N codes' bytes (this function's contract).
    unsafe {
        if N == 1 {
            let c8 = _mm512_cvtepi32_epi8(c[0]);
            if NIB {
                let pairs = _mm_maddubs_epi16(c8, _mm_set1_epi16(0x1001));
                let b8 = _mm_packus_epi16(pairs, pairs);
                _mm_storel_epi64(dst.as_mut_ptr().add(i / 2).cast(), b8);
            } else {
                _mm_storeu_si128(dst.as_mut_ptr().add(i).cast(), c8);
            }
            return;
        }
        // Codes are below 256, so the saturating packs keep them. In-lane
        // packs leave dword 4L + j (bytes) with c[j]'s elements 4L..4L + 4;
        // the permute puts them in order.
        let w01 = _mm512_packus_epi32(c[0], c[1]);
        let w23 = _mm512_packus_epi32(c[2], c[3]);
        let order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
        let b = _mm512_permutexvar_epi32(order, _mm512_packus_epi16(w01, w23));
        if NIB {
            // Bytes 2j and 2j + 1 become one: lo + 16·hi.
            let pairs = _mm512_maddubs_epi16(b, _mm512_set1_epi16(0x1001));
            let b32 = _mm512_cvtepi16_epi8(pairs);
            _mm256_storeu_si256(dst.as_mut_ptr().add(i / 2).cast(), b32);
        } else {
            _mm512_storeu_si512(dst.as_mut_ptr().add(i).cast(), b);
        }
    }
}

/// The codes of the 16 elements at `i` times `mul` ([`vectors`]), one a
/// lane, below 256.
///
/// # Safety
/// `i + 16 ≤ src.len()`, and `≤ rand.len()` if `SR`; the CPU supports
/// AVX-512 F, BW, DQ and VL.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn codes16<const INT8: bool, const SR: bool, const NUM: bool>(
    k: &K,
    src: &[f32],
    rand: &[u32],
    ahead: &[f32],
    i: usize,
    mul: __m512,
) -> __m512i {
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
    if INT8 {
        int8_codes(k, x, rnd)
    } else if NUM {
        number_codes(k, x, rnd)
    } else {
        mini_codes(k, x, rnd)
    }
}
