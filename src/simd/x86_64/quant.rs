//! AVX-512 (F, BW, DQ, VL) element kernels: 16 f32 lanes at a time.
//!
//! Encoding reproduces the portable engine (`element/engine.rs`) on f32
//! bits, for nearest-even and 32-bit stochastic rounding:
//! - where the element is normal, the f32 bits rebiased to the element's
//!   exponent are shifted right by `23 − M`, rounding on the discarded bits
//!   (a carry into the exponent is the right next value, as in the engine);
//! - where it is subnormal, nearest-even adds the magic constant
//!   2^(24 − bias − M), whose ulp is the element's subnormal step, so the
//!   hardware's one f32 rounding is the engine's one rounding; stochastic
//!   rounding counts steps with integer shifts of the 24-bit significand;
//! - overflow, ±Inf and NaN then take the codes the engine gives them.
//!
//! Decoding looks codes up in the format's `DECODE` table with
//! `vpermps`/`vpermt2ps` (16, 64 or 128 entries plus the sign bit), or a
//! gather for 8-bit tables without sign symmetry (MXINT8, E8M0).

use crate::simd::{Codec, Level, Packing, Pre, detected};
use core::arch::x86_64::*;

/// True if this CPU runs the AVX-512 kernels (the caller's level aside).
fn has_avx512() -> bool {
    detected() >= Level::Avx512
}

/// [`encode_row`] if the CPU has AVX-512; `false` (nothing written) otherwise.
pub(crate) fn encode_row_avx512(
    codec: &Codec,
    pres: &[Pre],
    block_len: usize,
    src: &[f32],
    rand: Option<&[u32]>,
    dst: &mut [u8],
    packing: Packing,
) -> bool {
    if !has_avx512() {
        return false;
    }
    // SAFETY: the CPU supports AVX-512 F, BW, DQ and VL (checked above).
    unsafe { encode_row(codec, pres, block_len, src, rand, dst, packing) };
    true
}

/// [`decode_row`] if the CPU has AVX-512; `false` (nothing written) otherwise.
pub(crate) fn decode_row_avx512(
    table: &[f32; 256],
    bits: u32,
    src: &[u8],
    dst: &mut [f32],
    factors: Option<(&[f32], usize)>,
    packing: Packing,
) -> bool {
    if !has_avx512() {
        return false;
    }
    // SAFETY: the CPU supports AVX-512 F, BW, DQ and VL (checked above).
    unsafe { decode_row(table, bits, src, dst, factors, packing) };
    true
}

/// [`block_amaxes`] if the CPU has AVX-512; `false` otherwise.
pub(crate) fn block_amaxes_avx512(src: &[f32], block_len: usize, out: &mut [f32]) -> bool {
    if !has_avx512() {
        return false;
    }
    // SAFETY: the CPU supports AVX-512 F, BW, DQ and VL (checked above).
    unsafe { block_amaxes(src, block_len, out) };
    true
}

/// [`sr_seed`] if the CPU has AVX-512; `false` otherwise.
pub(crate) fn sr_seed_avx512(seed_mix: u64, t0: u64, states: &mut [u64]) -> bool {
    if !has_avx512() {
        return false;
    }
    // SAFETY: the CPU supports AVX-512 F, BW, DQ and VL (checked above).
    unsafe { sr_seed(seed_mix, t0, states) };
    true
}

/// [`sr_draws`] if the CPU has AVX-512; `false` otherwise.
pub(crate) fn sr_draws_avx512(
    states: &mut [u64],
    counts: &[u32],
    stride: usize,
    out: &mut [u32],
) -> bool {
    if !has_avx512() {
        return false;
    }
    // SAFETY: the CPU supports AVX-512 F, BW, DQ and VL (checked above).
    unsafe { sr_draws(states, counts, stride, out) };
    true
}

/// [`amax_bits`] if the CPU has AVX-512.
pub(crate) fn amax_bits_avx512(src: &[f32]) -> Option<u32> {
    if !has_avx512() {
        return None;
    }
    // SAFETY: the CPU supports AVX-512 F, BW, DQ and VL (checked above).
    Some(unsafe { amax_bits(src) })
}

/// Broadcast constants of one element format.
struct K {
    int8: bool,
    abs: __m512i,
    sign_bit: __m512i,
    rebias: __m512i,
    half_m1: __m512i,
    one: __m512i,
    shift: __m512i,
    rem_mask: __m512i,
    rem_up: __m512i,
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
    fn new(codec: &Codec) -> K {
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
                    rem_mask: s((1 << sh) - 1),
                    rem_up: s(32 - sh as i32),
                    normal_min: s((128 - bias) << 23),
                    // 2^(24 − bias − M): its ulp is the subnormal step 2^(1 − bias − M).
                    magic: _mm512_castsi512_ps(s((127 + 24 - bias - man_bits as i32) << 23)),
                    // Subnormal steps: x = m24 · 2^(E − 150) = m24 / 2^k · 2^(1 − bias − M).
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
                rem_mask: s(0),
                rem_up: s(0),
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

/// The quotient and a carry of stochastic rounding of `a` (f32 bits, sign
/// clear) in units of 2^(kbase − 150 − E) steps: `q = ⌊m24 / 2^k⌋`, and the
/// top 32 bits of the discarded fraction plus `rnd` carry out.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn fixed_sr(k: &K, a: __m512i, rnd: __m512i) -> __m512i {
    let e = _mm512_srli_epi32::<23>(a);
    let e_eff = _mm512_max_epu32(e, k.one);
    let implicit =
        _mm512_maskz_mov_epi32(_mm512_test_epi32_mask(e, e), _mm512_set1_epi32(0x0080_0000));
    let m24 = _mm512_or_si512(
        _mm512_and_si512(a, _mm512_set1_epi32(0x007F_FFFF)),
        implicit,
    );
    let kk = _mm512_sub_epi32(k.kbase, e_eff);
    let q = _mm512_srlv_epi32(m24, kk);
    // Shift counts of 32 or more give 0, so exactly one term survives
    // (both are m24 when k = 32).
    let frac = _mm512_or_si512(
        _mm512_sllv_epi32(m24, _mm512_sub_epi32(_mm512_set1_epi32(32), kk)),
        _mm512_srlv_epi32(m24, _mm512_sub_epi32(kk, _mm512_set1_epi32(32))),
    );
    let sum = _mm512_add_epi32(frac, rnd);
    let carry = _mm512_cmplt_epu32_mask(sum, frac);
    _mm512_mask_add_epi32(q, carry, q, k.one)
}

/// Codes of 16 minifloats.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn mini_codes(k: &K, x: __m512, rand: Option<__m512i>) -> __m512i {
    let b = _mm512_castps_si512(x);
    let a = _mm512_and_si512(b, k.abs);
    let neg = _mm512_movepi32_mask(b);
    let normal = _mm512_cmpge_epu32_mask(a, k.normal_min);
    let r = _mm512_sub_epi32(a, k.rebias);
    let (qn, qs) = match rand {
        None => {
            let odd = _mm512_and_si512(_mm512_srlv_epi32(r, k.shift), k.one);
            let qn = _mm512_srlv_epi32(
                _mm512_add_epi32(_mm512_add_epi32(r, k.half_m1), odd),
                k.shift,
            );
            let t = _mm512_add_ps(_mm512_castsi512_ps(a), k.magic);
            let qs = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_castps_si512(k.magic));
            (qn, qs)
        }
        Some(rnd) => {
            let q = _mm512_srlv_epi32(r, k.shift);
            let t = _mm512_sllv_epi32(_mm512_and_si512(r, k.rem_mask), k.rem_up);
            let carry = _mm512_cmplt_epu32_mask(_mm512_add_epi32(t, rnd), t);
            let qn = _mm512_mask_add_epi32(q, carry, q, k.one);
            (qn, fixed_sr(k, a, rnd))
        }
    };
    let mag = _mm512_mask_blend_epi32(normal, qs, qn);
    let over = _mm512_cmpgt_epu32_mask(mag, k.max_code);
    let code = _mm512_mask_blend_epi32(over, mag, k.over_code);
    let code = _mm512_mask_or_epi32(code, neg, code, k.sign_bit);
    let nan = _mm512_cmpgt_epu32_mask(a, k.inf_bits);
    let code = _mm512_mask_mov_epi32(code, nan & !neg, k.nan_pos);
    _mm512_mask_mov_epi32(code, nan & neg, k.nan_neg)
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

#[inline]
fn lanes(m: usize) -> __mmask16 {
    if m >= 16 { 0xFFFF } else { (1u16 << m) - 1 }
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

/// Encodes one row of blocks; see [`crate::simd::encode_row`].
///
/// # Safety
/// The CPU must support AVX-512 F, BW, DQ and VL.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn encode_row(
    codec: &Codec,
    pres: &[Pre],
    block_len: usize,
    src: &[f32],
    rand: Option<&[u32]>,
    dst: &mut [u8],
    packing: Packing,
) {
    let n = src.len();
    let block_len = block_len.max(1);
    let nblocks = n.div_ceil(block_len);
    assert!(pres.len() >= nblocks);
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
    // One loop per (element kind, packing, rounding): no per-vector branches.
    match (k.int8, packing == Packing::Nibbles, rand) {
        (false, false, None) => encode_blocks::<false, false>(&k, pres, block_len, src, &[], dst),
        (false, true, None) => encode_blocks::<false, true>(&k, pres, block_len, src, &[], dst),
        (true, false, None) => encode_blocks::<true, false>(&k, pres, block_len, src, &[], dst),
        (true, true, None) => encode_blocks::<true, true>(&k, pres, block_len, src, &[], dst),
        (false, false, Some(r)) => encode_blocks::<false, false>(&k, pres, block_len, src, r, dst),
        (false, true, Some(r)) => encode_blocks::<false, true>(&k, pres, block_len, src, r, dst),
        (true, false, Some(r)) => encode_blocks::<true, false>(&k, pres, block_len, src, r, dst),
        (true, true, Some(r)) => encode_blocks::<true, true>(&k, pres, block_len, src, r, dst),
    }
}

/// The loop of [`encode_row`] for one element kind and packing; `rand`
/// is empty for nearest-even, else `src.len()` long. Lengths are checked
/// by the caller.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn encode_blocks<const INT8: bool, const NIB: bool>(
    k: &K,
    pres: &[Pre],
    block_len: usize,
    src: &[f32],
    rand: &[u32],
    dst: &mut [u8],
) {
    let n = src.len();
    let sr = !rand.is_empty();
    let zero = _mm512_setzero_si512();
    let nblocks = n.div_ceil(block_len);
    let packing = if NIB {
        Packing::Nibbles
    } else {
        Packing::Bytes
    };
    for (b, &pre) in pres.iter().enumerate().take(nblocks) {
        let s = b * block_len;
        let e = (s + block_len).min(n);
        if let Pre::Mul(mul) = pre
            && (e - s).is_multiple_of(16)
        {
            // The hot case (every format but Model-Optimizer's and JAX's
            // NVFP4): whole vectors, no masks.
            let mul = _mm512_set1_ps(mul);
            assert!(e <= n && (!sr || rand.len() == n));
            assert!(if NIB {
                e.div_ceil(2) <= dst.len()
            } else {
                e <= dst.len()
            });
            let mut i = s;
            while i < e {
                // SAFETY: i + 16 <= e <= n = src.len() (and rand's, checked).
                let x = unsafe { _mm512_loadu_ps(src.as_ptr().add(i)) };
                let rnd = sr.then(|| {
                    // SAFETY: i + 16 <= e <= n = rand.len() (checked above).
                    unsafe { _mm512_loadu_si512(rand.as_ptr().add(i).cast()) }
                });
                let x = _mm512_mul_ps(x, mul);
                let c = if INT8 {
                    int8_codes(k, x, rnd)
                } else {
                    mini_codes(k, x, rnd)
                };
                let c8 = _mm512_cvtepi32_epi8(c);
                // SAFETY: the 16 codes' bytes end at e (or e/2 packed),
                // within dst (checked above).
                unsafe {
                    if NIB {
                        let pairs = _mm_maddubs_epi16(c8, _mm_set1_epi16(0x1001));
                        let b8 = _mm_packus_epi16(pairs, pairs);
                        _mm_storel_epi64(dst.as_mut_ptr().add(i / 2).cast(), b8);
                    } else {
                        _mm_storeu_si128(dst.as_mut_ptr().add(i).cast(), c8);
                    }
                }
                i += 16;
            }
            continue;
        }
        let p = match pre {
            Pre::Fill(code) => {
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
            Pre::None => P::None,
            Pre::Mul(m) => P::Mul(_mm512_set1_ps(m)),
            Pre::Div(d) => P::Div(_mm512_set1_ps(d)),
            Pre::DivDiv(a, b) => P::DivDiv(_mm512_set1_ps(a), _mm512_set1_ps(b)),
        };
        let mut i = s;
        while i < e {
            let m = (e - i).min(16);
            let mask = lanes(m);
            // SAFETY: the masked lanes cover src[i..i + m] (and rand's),
            // in bounds since i + m <= e <= n; masked-off lanes are not read.
            let x = unsafe { _mm512_maskz_loadu_ps(mask, src.as_ptr().add(i)) };
            let rnd = sr.then(|| {
                assert!(rand.len() == n);
                // SAFETY: as above; rand.len() == n (checked).
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

/// Amax bits: the largest of `bits & 0x7FFF_FFFF` (NaN patterns are
/// larger than every number).
///
/// # Safety
/// The CPU must support AVX-512 F, BW, DQ and VL.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn amax_bits(src: &[f32]) -> u32 {
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
unsafe fn block_amaxes(src: &[f32], block_len: usize, out: &mut [f32]) {
    let block_len = block_len.max(1);
    assert!(out.len() >= src.len().div_ceil(block_len));
    let abs = _mm512_set1_epi32(0x7FFF_FFFF);
    let to_f32 = |bits: u32| {
        if bits > 0x7F80_0000 {
            f32::NAN
        } else {
            f32::from_bits(bits)
        }
    };
    if block_len.is_multiple_of(16) {
        let _ = abs;
        // Maxima of 16-element groups, 16 groups per step, folded into blocks.
        let per = block_len / 16;
        let nblocks = src.len().div_ceil(block_len);
        let mut bits = [0u32; 16];
        for o in out.iter_mut().take(nblocks) {
            *o = 0.0;
        }
        let mut chunks = src.chunks_exact(256);
        // Groups arrive in order: block `blk` takes the next `per` of them.
        let (mut blk, mut left) = (0usize, per);
        let mut fold = |out: &mut [f32], m: u32| {
            let o = &mut out[blk];
            *o = f32::from_bits(o.to_bits().max(m));
            left -= 1;
            if left == 0 {
                blk += 1;
                left = per;
            }
        };
        for c in &mut chunks {
            // SAFETY: the CPU supports AVX-512 (this function's contract);
            // c has exactly 256 elements.
            unsafe { group_maxes(c.try_into().expect("256"), &mut bits) };
            for &m in &bits {
                fold(out, m);
            }
        }
        for grp in chunks.remainder().chunks(16) {
            // SAFETY: the CPU supports AVX-512 (this function's contract).
            fold(out, unsafe { amax_bits(grp) });
        }
        for o in out.iter_mut().take(nblocks) {
            *o = to_f32(o.to_bits());
        }
        return;
    }
    for (o, b) in out.iter_mut().zip(src.chunks(block_len)) {
        // SAFETY: the CPU supports AVX-512 (this function's contract).
        *o = to_f32(unsafe { amax_bits(b) });
    }
}

const PHI: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function of 8 states (Steele, Lea and Flood 2014;
/// the finaliser constants of Stafford's "Mix13").
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn splitmix_mix(z: __m512i) -> __m512i {
    let z = _mm512_mullo_epi64(
        _mm512_xor_si512(z, _mm512_srli_epi64::<30>(z)),
        _mm512_set1_epi64(0xBF58_476D_1CE4_E5B9u64 as i64),
    );
    let z = _mm512_mullo_epi64(
        _mm512_xor_si512(z, _mm512_srli_epi64::<27>(z)),
        _mm512_set1_epi64(0x94D0_49BB_1331_11EBu64 as i64),
    );
    _mm512_xor_si512(z, _mm512_srli_epi64::<31>(z))
}

/// Seeds 8 tiles at a time; see [`crate::simd::sr_seed`].
///
/// # Safety
/// The CPU must support AVX-512 F, BW, DQ and VL.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn sr_seed(seed_mix: u64, t0: u64, states: &mut [u64]) {
    let n = states.len() / 4;
    let phi = |k: u64| _mm512_set1_epi64(PHI.wrapping_mul(k) as i64);
    // rand_xoshiro replaces an all-zero seed by SplitMix64(0)'s output.
    let fallback: [u64; 4] = core::array::from_fn(|w| {
        let mut z = PHI.wrapping_mul(w as u64 + 1);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    });
    let lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    let mut i = 0;
    while i < n {
        let m = (n - i).min(8);
        let t = _mm512_add_epi64(_mm512_set1_epi64(t0.wrapping_add(i as u64) as i64), lane);
        // The tile's seed: seed_mix ^ splitmix64(t).
        let x = _mm512_xor_si512(
            _mm512_set1_epi64(seed_mix as i64),
            splitmix_mix(_mm512_add_epi64(t, phi(1))),
        );
        let words: [__m512i; 4] =
            core::array::from_fn(|w| splitmix_mix(_mm512_add_epi64(x, phi(w as u64 + 1))));
        let any = _mm512_or_si512(
            _mm512_or_si512(words[0], words[1]),
            _mm512_or_si512(words[2], words[3]),
        );
        let zero = _mm512_cmpeq_epi64_mask(any, _mm512_setzero_si512());
        let mask: __mmask8 = if m == 8 { 0xFF } else { (1u8 << m) - 1 };
        for (w, &v) in words.iter().enumerate() {
            let v = _mm512_mask_mov_epi64(v, zero, _mm512_set1_epi64(fallback[w] as i64));
            assert!(w * n + i + m <= states.len());
            // SAFETY: lanes i..i+m of word w are in bounds (checked above).
            unsafe { _mm512_mask_storeu_epi64(states.as_mut_ptr().add(w * n + i).cast(), mask, v) };
        }
        i += m;
    }
}

/// One Xoshiro256++ step of 8 streams: the outputs (`rotl(s0 + s3, 23) +
/// s0`), and the next states where `live`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn xoshiro_step(s: &mut [__m512i; 4], live: Option<__mmask8>) -> __m512i {
    let [s0, s1, s2, s3] = *s;
    let r = _mm512_add_epi64(_mm512_rol_epi64::<23>(_mm512_add_epi64(s0, s3)), s0);
    let t = _mm512_slli_epi64::<17>(s1);
    let n2 = _mm512_xor_si512(s2, s0);
    let n3 = _mm512_xor_si512(s3, s1);
    let n1 = _mm512_xor_si512(s1, n2);
    let n0 = _mm512_xor_si512(s0, n3);
    let n2 = _mm512_xor_si512(n2, t);
    let n3 = _mm512_rol_epi64::<45>(n3);
    *s = match live {
        None => [n0, n1, n2, n3],
        Some(m) => [
            _mm512_mask_mov_epi64(s0, m, n0),
            _mm512_mask_mov_epi64(s1, m, n1),
            _mm512_mask_mov_epi64(s2, m, n2),
            _mm512_mask_mov_epi64(s3, m, n3),
        ],
    };
    r
}

/// Xoshiro256++ on 16 tiles at a time (two interleaved groups of 8 for
/// instruction-level parallelism); see [`crate::simd::sr_draws`].
///
/// # Safety
/// The CPU must support AVX-512 F, BW, DQ and VL.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn sr_draws(states: &mut [u64], counts: &[u32], stride: usize, out: &mut [u32]) {
    const STEPS: usize = 32;
    let n = states.len() / 4;
    assert!(counts.len() >= n);
    for (i, &c) in counts.iter().enumerate().take(n) {
        assert!(c == 0 || i * stride + c as usize <= out.len());
    }
    // tmp[k][l]: step k of tile l (16 tiles), as the full 64-bit output.
    let mut tmp = [[0u64; 16]; STEPS];
    let mut i = 0;
    while i < n {
        let m = (n - i).min(16);
        let mask16: u16 = if m == 16 { 0xFFFF } else { (1u16 << m) - 1 };
        let masks = [mask16 as u8, (mask16 >> 8) as u8];
        let mut st = [[_mm512_setzero_si512(); 4]; 2];
        for (g, sg) in st.iter_mut().enumerate() {
            for (w, v) in sg.iter_mut().enumerate() {
                // SAFETY: lanes i+8g .. i+8g+8 of word w, masked to those below n.
                *v = unsafe {
                    _mm512_maskz_loadu_epi64(
                        masks[g],
                        states.as_ptr().add(w * n + i + 8 * g).cast(),
                    )
                };
            }
        }
        let mut cnt = [0u32; 16];
        cnt[..m].copy_from_slice(&counts[i..i + m]);
        let maxc = cnt.iter().copied().max().unwrap_or(0) as usize;
        let uniform = cnt[..m].iter().all(|&c| c as usize == maxc);
        let cv: [__m512i; 2] = core::array::from_fn(|g| {
            // SAFETY: cnt holds 16 u32 and g < 2, so 8 lanes from 8·g are in bounds.
            let half = unsafe { _mm256_loadu_si256(cnt.as_ptr().add(8 * g).cast()) };
            _mm512_cvtepu32_epi64(half)
        });
        let mut j = 0;
        if uniform && m == 16 {
            // 16 tiles drawing alike: 16 steps at a time, transposed in
            // registers so that each tile's 16 values are one store.
            while maxc - j >= 16 {
                let odd =
                    _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
                let a: [__m512i; 16] = core::array::from_fn(|_| {
                    let r0 = xoshiro_step(&mut st[0], None);
                    let r1 = xoshiro_step(&mut st[1], None);
                    _mm512_permutex2var_epi32(r0, odd, r1)
                });
                let b = transpose16(a);
                for (l, v) in b.iter().enumerate() {
                    let base = (i + l) * stride + j;
                    assert!(base + 16 <= out.len());
                    // SAFETY: out[base..base + 16] is in bounds (checked above).
                    unsafe { _mm512_storeu_si512(out.as_mut_ptr().add(base).cast(), *v) };
                }
                j += 16;
            }
        }
        while j < maxc {
            let steps = (maxc - j).min(STEPS);
            for (k, row) in tmp.iter_mut().enumerate().take(steps) {
                let live = |g: usize| {
                    (!uniform)
                        .then(|| _mm512_cmpgt_epu64_mask(cv[g], _mm512_set1_epi64((j + k) as i64)))
                };
                let (l0, l1) = (live(0), live(1));
                let r0 = xoshiro_step(&mut st[0], l0);
                let r1 = xoshiro_step(&mut st[1], l1);
                // SAFETY: row holds 16 u64.
                unsafe {
                    _mm512_storeu_si512(row.as_mut_ptr().cast(), r0);
                    _mm512_storeu_si512(row.as_mut_ptr().add(8).cast(), r1);
                }
            }
            for (l, &c) in cnt.iter().enumerate().take(m) {
                let c = (c as usize).saturating_sub(j).min(steps);
                if c == 0 {
                    continue;
                }
                let base = (i + l) * stride + j;
                for (k, o) in out[base..base + c].iter_mut().enumerate() {
                    *o = (tmp[k][l] >> 32) as u32;
                }
            }
            j += steps;
        }
        for (g, sg) in st.iter().enumerate() {
            for (w, v) in sg.iter().enumerate() {
                // SAFETY: as for the loads.
                unsafe {
                    _mm512_mask_storeu_epi64(
                        states.as_mut_ptr().add(w * n + i + 8 * g).cast(),
                        masks[g],
                        *v,
                    )
                };
            }
        }
        i += m;
    }
}

/// Transposes a 16 × 16 matrix of u32 held as 16 rows: `b[l][k] = a[k][l]`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn transpose16(a: [__m512i; 16]) -> [__m512i; 16] {
    // 32-bit, then 64-bit interleaves inside 128-bit lanes: u[4i + j], lane
    // L, holds column 4L + j of rows 4i..4i+4.
    let t: [__m512i; 16] = core::array::from_fn(|x| {
        let (p, q) = (a[x & !1], a[x | 1]);
        if x % 2 == 0 {
            _mm512_unpacklo_epi32(p, q)
        } else {
            _mm512_unpackhi_epi32(p, q)
        }
    });
    let u: [__m512i; 16] = core::array::from_fn(|x| {
        let (i, j) = (x / 4, x % 4);
        let (p, q) = (t[4 * i + j / 2], t[4 * i + 2 + j / 2]);
        if j % 2 == 0 {
            _mm512_unpacklo_epi64(p, q)
        } else {
            _mm512_unpackhi_epi64(p, q)
        }
    });
    // A 4 × 4 transpose of 128-bit lanes for each j.
    let mut b = [_mm512_setzero_si512(); 16];
    for j in 0..4 {
        let v = [u[j], u[4 + j], u[8 + j], u[12 + j]];
        let s0 = _mm512_shuffle_i32x4::<0x44>(v[0], v[1]);
        let s1 = _mm512_shuffle_i32x4::<0xEE>(v[0], v[1]);
        let s2 = _mm512_shuffle_i32x4::<0x44>(v[2], v[3]);
        let s3 = _mm512_shuffle_i32x4::<0xEE>(v[2], v[3]);
        b[j] = _mm512_shuffle_i32x4::<0x88>(s0, s2);
        b[4 + j] = _mm512_shuffle_i32x4::<0xDD>(s0, s2);
        b[8 + j] = _mm512_shuffle_i32x4::<0x88>(s1, s3);
        b[12 + j] = _mm512_shuffle_i32x4::<0xDD>(s1, s3);
    }
    b
}

/// The largest `bits & 0x7FFF_FFFF` of each 16-element group of 256
/// elements, by a transposing reduction (about 5 instructions per group
/// instead of a horizontal reduction each).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn group_maxes(src: &[f32; 256], out: &mut [u32; 16]) {
    let abs = _mm512_set1_epi32(0x7FFF_FFFF);
    let v: [__m512i; 16] = core::array::from_fn(|i| {
        // SAFETY: 16·i + 16 <= 256.
        let x = unsafe { _mm512_loadu_si512(src.as_ptr().add(16 * i).cast()) };
        _mm512_and_si512(x, abs)
    });
    // Pairs of groups: 128-bit lanes [a0 a1 b0 b1] against [a2 a3 b2 b3].
    let w: [__m512i; 8] = core::array::from_fn(|i| {
        let (a, b) = (v[2 * i], v[2 * i + 1]);
        _mm512_max_epu32(
            _mm512_shuffle_i64x2::<0x44>(a, b),
            _mm512_shuffle_i64x2::<0xEE>(a, b),
        )
    });
    // Four groups per vector, one 128-bit lane each: [a0 a2 b0 b2] against [a1 a3 b1 b3].
    let x: [__m512i; 4] = core::array::from_fn(|i| {
        let (a, b) = (w[2 * i], w[2 * i + 1]);
        _mm512_max_epu32(
            _mm512_shuffle_i64x2::<0x88>(a, b),
            _mm512_shuffle_i64x2::<0xDD>(a, b),
        )
    });
    // Lane L of y[i]: two partial maxima of group 8i + L, two of group 8i + 4 + L.
    let y: [__m512i; 2] = core::array::from_fn(|i| {
        let (a, b) = (x[2 * i], x[2 * i + 1]);
        let m = _mm512_max_epu32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
        _mm512_max_epu32(m, _mm512_shuffle_epi32::<0xB1>(m))
    });
    // Dword 4L + j holds group L, 8 + L, 4 + L, 12 + L for j = 0, 1, 2, 3.
    let r = _mm512_mask_blend_epi32(0xAAAA, y[0], y[1]);
    let order = _mm512_set_epi32(15, 11, 7, 3, 13, 9, 5, 1, 14, 10, 6, 2, 12, 8, 4, 0);
    let r = _mm512_permutexvar_epi32(order, r);
    // SAFETY: out holds 16 u32.
    unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast(), r) };
}

/// How a decode table is looked up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// 16 entries (FP4): one `vpermps`.
    Perm16,
    /// 64 entries (FP6): two `vpermt2ps` and a blend.
    Perm64,
    /// 256 entries whose upper half is the lower half negated (FP8).
    Perm128Sign,
    /// Anything else: a gather.
    Gather,
}

fn lookup_of(table: &[f32; 256], bits: u32) -> Lookup {
    if bits <= 4 {
        Lookup::Perm16
    } else if bits <= 6 {
        Lookup::Perm64
    } else if (0..128).all(|i| table[i | 128].to_bits() == table[i].to_bits() ^ 0x8000_0000) {
        Lookup::Perm128Sign
    } else {
        Lookup::Gather
    }
}

/// Decodes one row; see [`crate::simd::decode_row`].
///
/// # Safety
/// The CPU must support AVX-512 F, BW, DQ and VL.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn decode_row(
    table: &[f32; 256],
    bits: u32,
    src: &[u8],
    dst: &mut [f32],
    factors: Option<(&[f32], usize)>,
    packing: Packing,
) {
    let n = dst.len();
    match packing {
        Packing::Bytes => assert_eq!(src.len(), n),
        Packing::Nibbles => assert_eq!(src.len(), n.div_ceil(2)),
    }
    let (fs, bl) = factors.unwrap_or((&[], usize::MAX));
    let bl = bl.max(1);
    if factors.is_some() {
        assert!(fs.len() >= n.div_ceil(bl));
    }
    let lookup = lookup_of(table, bits);
    let mut t = [_mm512_setzero_ps(); 8];
    for (j, r) in t.iter_mut().enumerate() {
        // SAFETY: table has 256 entries; 16j + 16 <= 128.
        *r = unsafe { _mm512_loadu_ps(table.as_ptr().add(16 * j)) };
    }
    let code_mask = _mm512_set1_epi32(((1u32 << bits) - 1) as i32);
    // Block boundaries split the row into runs of one factor each.
    let mut s = 0;
    let mut b = 0;
    while s < n {
        let (e, f) = match factors {
            Some(_) => (s.saturating_add(bl).min(n), Some(_mm512_set1_ps(fs[b]))),
            None => (n, None),
        };
        b += 1;
        if packing == Packing::Nibbles {
            assert!(s.is_multiple_of(2));
        }
        let mut i = s;
        while i < e {
            let m = (e - i).min(16);
            let mask = lanes(m);
            let idx = match packing {
                Packing::Bytes => {
                    // SAFETY: bytes i..i+m are in bounds; the mask reads only those.
                    let b = unsafe { _mm_maskz_loadu_epi8(mask, src.as_ptr().add(i).cast()) };
                    _mm512_cvtepu8_epi32(b)
                }
                Packing::Nibbles => {
                    let nb = m.div_ceil(2);
                    // SAFETY: bytes i/2..i/2+nb are in bounds (i even, src has ⌈n/2⌉).
                    let b =
                        unsafe { _mm_maskz_loadu_epi8(lanes(nb), src.as_ptr().add(i / 2).cast()) };
                    // Low nibble first: bytes lo0 hi0 lo1 hi1 …, then widened.
                    let lo = _mm_and_si128(b, _mm_set1_epi8(0xF));
                    let hi = _mm_and_si128(_mm_srli_epi16::<4>(b), _mm_set1_epi8(0xF));
                    _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi))
                }
            };
            // Indices of 4-bit tables and of full bytes need no masking
            // (vpermps reads the low 4 bits).
            let idx = if bits < 8 && lookup != Lookup::Perm16 {
                _mm512_and_si512(idx, code_mask)
            } else {
                idx
            };
            let v = match lookup {
                Lookup::Perm16 => _mm512_permutexvar_ps(idx, t[0]),
                Lookup::Perm64 => {
                    let lo = _mm512_permutex2var_ps(t[0], idx, t[1]);
                    let hi = _mm512_permutex2var_ps(t[2], idx, t[3]);
                    _mm512_mask_blend_ps(_mm512_test_epi32_mask(idx, _mm512_set1_epi32(32)), lo, hi)
                }
                Lookup::Perm128Sign => {
                    let r0 = _mm512_permutex2var_ps(t[0], idx, t[1]);
                    let r1 = _mm512_permutex2var_ps(t[2], idx, t[3]);
                    let r2 = _mm512_permutex2var_ps(t[4], idx, t[5]);
                    let r3 = _mm512_permutex2var_ps(t[6], idx, t[7]);
                    let b5 = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(32));
                    let b6 = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(64));
                    let lo = _mm512_mask_blend_ps(b5, r0, r1);
                    let hi = _mm512_mask_blend_ps(b5, r2, r3);
                    let v = _mm512_mask_blend_ps(b6, lo, hi);
                    let sign =
                        _mm512_slli_epi32::<24>(_mm512_and_si512(idx, _mm512_set1_epi32(0x80)));
                    _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(v), sign))
                }
                // SAFETY: every index is below 256 (masked to `bits` ≤ 8 bits)
                // and the table has 256 entries.
                Lookup::Gather => unsafe { _mm512_i32gather_ps::<4>(idx, table.as_ptr()) },
            };
            let v = match f {
                Some(f) => _mm512_mul_ps(v, f),
                None => v,
            };
            assert!(i + m <= n);
            // SAFETY: elements i..i+m are in bounds (checked above).
            unsafe {
                let p = dst.as_mut_ptr().add(i);
                if m == 16 {
                    _mm512_storeu_ps(p, v);
                } else {
                    _mm512_mask_storeu_ps(p, mask, v);
                }
            }
            i += m;
        }
        s = e;
    }
}
