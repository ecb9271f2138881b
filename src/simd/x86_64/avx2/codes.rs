//! AVX2 element codes, 8 f32 lanes at a time: a format's broadcast
//! constants ([`K`]) and the per-vector arithmetic from f32 lanes to
//! codes, the same as the AVX-512 kernel's in `avx512/encode.rs` (see
//! there for why it equals the portable engine), with vector masks
//! instead of mask registers and signed compares on sign-cleared bits.
//! The row and block loops that call it are in `encode.rs`.

use crate::simd::Codec;
use crate::simd::x86_64::nearest::Nearest;
use core::arch::x86_64::*;

/// Broadcast constants of one element format (see `avx512/encode.rs`).
pub(super) struct K {
    /// MXINT8's integer codes, not a minifloat's.
    pub(super) int8: bool,
    abs: __m256i,
    sign_bit: __m256i,
    one: __m256i,
    e_top: __m256i,
    normal_min_m1: __m256i,
    /// MXINT8's scale to steps; a minifloat rounds by
    /// [`nearest_magnitudes`].
    magic: __m256,
    /// Nearest rounding ([`nearest_magnitudes`], with `inf_bits` as the
    /// exponent field's mask): the clamp, the smallest normal,
    /// `Nearest::base` and `shift`, and the code's magnitude bits.
    top: __m256i,
    normal_min: __m256i,
    base: __m256i,
    man_shift: __m256i,
    mag_bits: __m256i,
    kbase: __m256i,
    max_code: __m256i,
    over_code: __m256i,
    nan_pos: __m256i,
    nan_neg: __m256i,
    inf_bits: __m256i,
    /// 32 (see [`opaque`]).
    thirty_two: __m256i,
}

/// `v`, as a value the optimiser cannot see, for constants whose known
/// value made LLVM emit worse stochastic loops (13 more instructions per
/// 16 elements in MXFP4's, by `bench/mca.py`):
/// - told that a shift count is `min(k, 32)`, it rewrites `vpsrlvd` as a
///   generic shift guarded by a compare and a mask for the count 32,
///   though `vpsrlvd` itself gives 0 there, which is what [`fixed_sr`]
///   needs;
/// - told that `a` has its sign bit clear (`abs`), it turns signed
///   compares on `a` into unsigned ones, which AVX2 lacks: two
///   instructions each instead of one.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn opaque(v: __m256i) -> __m256i {
    core::hint::black_box(v)
}

impl K {
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn new(codec: &Codec) -> K {
        let s = _mm256_set1_epi32;
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
                    abs: opaque(s(0x7FFF_FFFF)),
                    sign_bit: s(1 << (bits - 1)),
                    one: s(1),
                    e_top: s(128 - bias),
                    normal_min_m1: s(((128 - bias) << 23) - 1),
                    magic: _mm256_setzero_ps(),
                    top: s(n.top as i32),
                    normal_min: s((n.normal << 23) as i32),
                    base: s(n.base as i32),
                    man_shift: s(n.shift as i32),
                    mag_bits: s((1 << (bits - 1)) - 1),
                    kbase: s(151 - bias - man_bits as i32),
                    max_code: s(max_code as i32),
                    over_code: s(over_code as i32),
                    nan_pos: s(nan_pos as i32),
                    nan_neg: s(nan_neg as i32),
                    inf_bits: s(0x7F80_0000),
                    thirty_two: opaque(s(32)),
                }
            }
            Codec::Int8 { nan_code } => K {
                int8: true,
                abs: opaque(s(0x7FFF_FFFF)),
                sign_bit: s(0),
                one: s(1),
                e_top: s(255),
                normal_min_m1: s(0x4000_0000 - 1),
                magic: _mm256_set1_ps(64.0),
                // `int8_codes` rounds with a conversion, not these.
                top: s(0),
                normal_min: s(0),
                base: s(0),
                man_shift: s(0),
                mag_bits: s(0),
                kbase: s(144),
                max_code: s(127),
                over_code: s(127),
                nan_pos: s(nan_code as i32),
                nan_neg: s(nan_code as i32),
                inf_bits: s(0x7F80_0000),
                thirty_two: opaque(s(32)),
            },
        }
    }
}

/// Unsigned `a < b` as a lane mask.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn lt_epu32(a: __m256i, b: __m256i) -> __m256i {
    let flip = _mm256_set1_epi32(i32::MIN);
    _mm256_cmpgt_epi32(_mm256_xor_si256(b, flip), _mm256_xor_si256(a, flip))
}

/// `mask ? b : a`, lane by lane (`mask` lanes all ones or all zeros).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn sel(mask: __m256i, a: __m256i, b: __m256i) -> __m256i {
    _mm256_blendv_epi8(a, b, mask)
}

/// Stochastic rounding of `a` (f32 bits, sign clear) to a count of the
/// element's steps, normal and subnormal alike: the AVX-512 kernel's
/// `fixed_sr`, whose comment derives it.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn fixed_sr(k: &K, a: __m256i, rnd: __m256i) -> __m256i {
    let e = _mm256_min_epu32(_mm256_max_epu32(_mm256_srli_epi32::<23>(a), k.one), k.e_top);
    let v = _mm256_sub_epi32(a, _mm256_slli_epi32::<23>(_mm256_sub_epi32(e, k.one)));
    let kk = _mm256_sub_epi32(k.kbase, e);
    let thirty_two = k.thirty_two;
    let kc = _mm256_min_epu32(kk, thirty_two);
    let v = _mm256_srlv_epi32(v, _mm256_sub_epi32(kk, kc));
    let up = _mm256_srlv_epi32(rnd, _mm256_sub_epi32(thirty_two, kc));
    let sum = _mm256_add_epi32(v, up);
    let q = _mm256_srlv_epi32(sum, kc);
    // carry is −1 where set: subtracting it adds one.
    _mm256_sub_epi32(q, lt_epu32(sum, up))
}

#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) fn mini_codes(k: &K, x: __m256, rand: Option<__m256i>) -> __m256i {
    let code = number_codes(k, x, rand);
    let b = _mm256_castps_si256(x);
    let nan = _mm256_cmpgt_epi32(_mm256_and_si256(b, k.abs), k.inf_bits);
    // NaNs are rare: a predictable branch instead of two blends per vector.
    if _mm256_testz_si256(nan, nan) != 0 {
        return code;
    }
    let neg = _mm256_srai_epi32::<31>(b);
    sel(nan, code, sel(neg, k.nan_pos, k.nan_neg))
}

/// [`mini_codes`] of lanes that are not NaN (a NaN lane's code is
/// unspecified): for callers that know their lanes' amax.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) fn number_codes(k: &K, x: __m256, rand: Option<__m256i>) -> __m256i {
    let b = _mm256_castps_si256(x);
    let a = _mm256_and_si256(b, k.abs);
    let neg = _mm256_srai_epi32::<31>(b);
    let code = match rand {
        None => _mm256_and_si256(nearest_magnitudes(k, a), k.mag_bits),
        // `mag > max_code ? over_code : mag` in one instruction: over_code
        // is max_code or the code after it (`Codec::Mini`).
        Some(rnd) => _mm256_min_epu32(fixed_sr(k, a, rnd), k.over_code),
    };
    _mm256_or_si256(code, _mm256_and_si256(neg, k.sign_bit))
}

/// Nearest-even magnitude codes of `a` (the bits of `|x|`, x not NaN) in
/// the low bits of the result, the bits above them not zero: the AVX-512
/// kernel's `nearest_magnitudes`, whose comment derives it, with the
/// binade's constant formed from the exponent (`Nearest::base`) instead
/// of read from a table (AVX2's `vpermps` reaches 8 entries of the 31).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn nearest_magnitudes(k: &K, a: __m256i) -> __m256i {
    // A signed compare orders `a` as magnitudes: its sign bit is clear.
    let a = _mm256_min_epi32(a, k.top);
    let b = _mm256_and_si256(_mm256_max_epi32(a, k.normal_min), k.inf_bits);
    let magic = _mm256_add_epi32(
        _mm256_add_epi32(b, k.base),
        _mm256_srlv_epi32(b, k.man_shift),
    );
    _mm256_castps_si256(_mm256_add_ps(
        _mm256_castsi256_ps(a),
        _mm256_castsi256_ps(magic),
    ))
}

#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) fn int8_codes(k: &K, x: __m256, rand: Option<__m256i>) -> __m256i {
    let b = _mm256_castps_si256(x);
    let a = _mm256_and_si256(b, k.abs);
    let neg = _mm256_srai_epi32::<31>(b);
    let q = match rand {
        None => {
            let v = _mm256_min_ps(
                _mm256_mul_ps(_mm256_castsi256_ps(a), k.magic),
                _mm256_set1_ps(256.0),
            );
            _mm256_cvtps_epi32(_mm256_round_ps::<
                { _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC },
            >(v))
        }
        Some(rnd) => fixed_sr(k, a, rnd),
    };
    let mag = _mm256_min_epu32(q, k.max_code);
    let big = _mm256_cmpgt_epi32(a, k.normal_min_m1);
    let mag = sel(big, mag, k.max_code);
    let negated = _mm256_and_si256(
        _mm256_sub_epi32(_mm256_setzero_si256(), mag),
        _mm256_set1_epi32(0xFF),
    );
    let code = sel(neg, mag, negated);
    let nan = _mm256_cmpgt_epi32(a, k.inf_bits);
    sel(nan, code, k.nan_pos)
}
