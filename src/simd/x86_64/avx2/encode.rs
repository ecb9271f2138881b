//! AVX2 element encoding: the row and block loops of `encode_row`, 16
//! elements at a time as two vectors of 8 lanes (the codes themselves are
//! `codes.rs`'s), their byte and nibble packing, and partial vectors
//! staged through a zero-padded stack buffer, as the AVX-512 kernel in
//! `avx512/encode.rs` does with masks.

use super::codes::{K, int8_codes, mini_codes, number_codes};
use crate::simd::table::ElementMap;
use crate::simd::{Codec, Packing};
use core::arch::x86_64::*;

#[derive(Clone, Copy)]
pub(super) enum P {
    None,
    Mul(__m256),
    Div(__m256),
    DivDiv(__m256, __m256),
}

impl P {
    /// The arithmetic of `map` (a `Zero` map, whose block its caller
    /// fills, maps nothing).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn of(map: ElementMap) -> P {
        match map {
            ElementMap::Mul(m) => P::Mul(_mm256_set1_ps(m)),
            ElementMap::Div(d) => P::Div(_mm256_set1_ps(d)),
            ElementMap::DivDiv(a, b) => P::DivDiv(_mm256_set1_ps(a), _mm256_set1_ps(b)),
            ElementMap::Zero(_) => P::None,
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn apply(self, x: __m256) -> __m256 {
        match self {
            P::None => x,
            P::Mul(m) => _mm256_mul_ps(x, m),
            P::Div(d) => _mm256_div_ps(x, d),
            P::DivDiv(a, b) => _mm256_div_ps(_mm256_div_ps(x, a), b),
        }
    }
}

/// The low byte of each of 8 lanes (all below 256), as 8 bytes.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) fn bytes_of(c: __m256i) -> u64 {
    let w = _mm256_packus_epi32(c, c);
    let b = _mm256_packus_epi16(w, w);
    let b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4));
    _mm_cvtsi128_si64(_mm256_castsi256_si128(b)) as u64
}

/// The codes of `c0` then `c1` (each below 256), as 16 bytes in order.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) fn bytes16(c0: __m256i, c1: __m256i) -> __m128i {
    // Per 128-bit lane: c0's four words, then c1's; then c0's two quads
    // before c1's.
    let w = _mm256_packus_epi32(c0, c1);
    let w = _mm256_permute4x64_epi64::<0b11_01_10_00>(w);
    _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256::<1>(w))
}

/// The codes of `c0` then `c1` (each below 16) as 8 bytes of nibbles,
/// element 2j in the low nibble of byte j: three shuffles, an extract and
/// a multiply-add, where narrowing to bytes first compiled to four packs,
/// two extracts and a multiply-add.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn nibbles16(c0: __m256i, c1: __m256i) -> __m128i {
    // Per 128-bit lane: c0's four words, then c1's.
    let w = _mm256_packus_epi32(c0, c1);
    // Each pair of words as one byte value, the first in the low nibble.
    let p = _mm256_madd_epi16(w, _mm256_set1_epi32(0x0010_0001));
    // Per lane, the low bytes of its four pairs: word 0 holds c0's two,
    // word 1 c1's.
    let low = _mm_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    let b = _mm256_shuffle_epi8(p, _mm256_broadcastsi128_si256(low));
    // Lane 0's word, lane 1's, lane 0's, lane 1's: elements 0..16 in order.
    _mm_unpacklo_epi16(_mm256_castsi256_si128(b), _mm256_extracti128_si256::<1>(b))
}

/// The checks every row entry makes, and what it needs from them: the
/// block length in force (no maps: all of `src` is one block, mapped by
/// nothing) and whether codes pack as nibbles.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) fn setup(
    maps: &[ElementMap],
    block_len: usize,
    n: usize,
    dst: &[u8],
    packing: Packing,
) -> (usize, bool) {
    let block_len = if maps.is_empty() { n } else { block_len }.max(1);
    let nblocks = n.div_ceil(block_len);
    assert!(maps.is_empty() || maps.len() >= nblocks);
    let nib = packing == Packing::Nibbles;
    if nib {
        assert_eq!(dst.len(), n.div_ceil(2));
        assert!(block_len.is_multiple_of(2) || nblocks <= 1);
    } else {
        assert_eq!(dst.len(), n);
    }
    (block_len, nib)
}

/// Encodes one row of blocks; see [`Kernels::encode_row`](crate::simd::Kernels::encode_row).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
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
    let (block_len, nib) = setup(maps, block_len, n, dst, packing);
    let k = K::new(codec);
    if let Some(r) = rand {
        assert_eq!(r.len(), n);
    }
    // One loop per (element kind, packing, rounding): no per-vector
    // branches. MXINT8's codes are bytes (`Packing`'s contract).
    assert!(!(k.int8 && nib), "MXINT8 codes do not pack as nibbles");
    let r = rand.unwrap_or(&[]);
    match (k.int8, nib, rand.is_some()) {
        (false, false, false) => {
            encode_blocks::<false, false, false>(&k, maps, block_len, src, r, dst, ahead)
        }
        (false, true, false) => {
            encode_blocks::<false, true, false>(&k, maps, block_len, src, r, dst, ahead)
        }
        (true, _, false) => {
            encode_blocks::<true, false, false>(&k, maps, block_len, src, r, dst, ahead)
        }
        (false, false, true) => {
            encode_blocks::<false, false, true>(&k, maps, block_len, src, r, dst, ahead)
        }
        (false, true, true) => {
            encode_blocks::<false, true, true>(&k, maps, block_len, src, r, dst, ahead)
        }
        (true, _, true) => {
            encode_blocks::<true, false, true>(&k, maps, block_len, src, r, dst, ahead)
        }
    }
}

/// The 16 elements at `i` under the multiplier `mul`, as two vectors whose
/// codes are stored together, rounded with the bits `r` if `SR` (else to
/// nearest, and `r` is not read): the hot case, as in the AVX-512
/// kernel, with no staging. `NUM`: the caller knows that no product is
/// NaN (minifloats; MXINT8 always tests), and the NaN test is left out.
#[inline]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) fn vector16<const INT8: bool, const NIB: bool, const SR: bool, const NUM: bool>(
    k: &K,
    src: &[f32],
    ahead: &[f32],
    dst: &mut [u8],
    i: usize,
    mul: __m256,
    [r0, r1]: [__m256i; 2],
) {
    let (r0, r1) = (SR.then_some(r0), SR.then_some(r1));
    let xs: &[f32; 16] = src[i..i + 16].try_into().unwrap();
    if i < ahead.len() {
        // SAFETY: a prefetch does not access memory; i < ahead.len().
        unsafe { _mm_prefetch::<_MM_HINT_T1>(ahead.as_ptr().add(i).cast()) };
    }
    // SAFETY: xs holds 16 f32.
    let (x0, x1) = unsafe {
        (
            _mm256_loadu_ps(xs.as_ptr()),
            _mm256_loadu_ps(xs.as_ptr().add(8)),
        )
    };
    let (x0, x1) = (_mm256_mul_ps(x0, mul), _mm256_mul_ps(x1, mul));
    let (c0, c1) = if INT8 {
        (int8_codes(k, x0, r0), int8_codes(k, x1, r1))
    } else if NUM {
        (number_codes(k, x0, r0), number_codes(k, x1, r1))
    } else {
        (mini_codes(k, x0, r0), mini_codes(k, x1, r1))
    };
    if NIB {
        let o: &mut [u8; 8] = (&mut dst[i / 2..i / 2 + 8]).try_into().unwrap();
        // SAFETY: o holds 8 bytes.
        unsafe { _mm_storel_epi64(o.as_mut_ptr().cast(), nibbles16(c0, c1)) };
    } else {
        let o: &mut [u8; 16] = (&mut dst[i..i + 16]).try_into().unwrap();
        // SAFETY: o holds 16 bytes.
        unsafe { _mm_storeu_si128(o.as_mut_ptr().cast(), bytes16(c0, c1)) };
    }
}

/// The `m` (1..=8) elements at `i` under `p`, rounded with the bits
/// `rnd`: a whole vector in place, a short tail through [`tail8`].
#[inline]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) fn step8<const INT8: bool, const NIB: bool>(
    k: &K,
    src: &[f32],
    ahead: &[f32],
    dst: &mut [u8],
    i: usize,
    m: usize,
    p: P,
    rnd: __m256i,
) {
    if m < 8 {
        return tail8::<INT8, NIB>(k, src, dst, i, m, p, rnd);
    }
    if i.is_multiple_of(16) && i < ahead.len() {
        // SAFETY: a prefetch does not access memory; i < ahead.len().
        unsafe { _mm_prefetch::<_MM_HINT_T1>(ahead.as_ptr().add(i).cast()) };
    }
    let xs: &[f32; 8] = src[i..i + 8].try_into().unwrap();
    // SAFETY: xs holds 8 f32.
    let bytes = codes8::<INT8>(k, unsafe { _mm256_loadu_ps(xs.as_ptr()) }, p, rnd);
    if NIB {
        assert!(i.is_multiple_of(2));
        dst[i / 2..i / 2 + 4].copy_from_slice(&nibbles(bytes).to_le_bytes());
    } else {
        dst[i..i + 8].copy_from_slice(&bytes.to_le_bytes());
    }
}

/// [`step8`] for a short tail (m < 8), once a row at most: staged through
/// zeroed arrays (a staged whole vector would be stored in two halves and
/// reloaded at once, stalling store forwarding, so whole vectors do not
/// come here), and out of line.
#[cold]
#[inline(never)]
#[target_feature(enable = "avx2,fma")]
fn tail8<const INT8: bool, const NIB: bool>(
    k: &K,
    src: &[f32],
    dst: &mut [u8],
    i: usize,
    m: usize,
    p: P,
    rnd: __m256i,
) {
    let mut xs = [0f32; 8];
    xs[..m].copy_from_slice(&src[i..i + m]);
    // SAFETY: xs holds 8 f32.
    let x = unsafe { _mm256_loadu_ps(xs.as_ptr()) };
    let bytes = codes8::<INT8>(k, x, p, rnd) & ((1u64 << (8 * m)) - 1);
    if NIB {
        let nb = m.div_ceil(2);
        assert!(i.is_multiple_of(2));
        dst[i / 2..i / 2 + nb].copy_from_slice(&nibbles(bytes).to_le_bytes()[..nb]);
    } else {
        dst[i..i + m].copy_from_slice(&bytes.to_le_bytes()[..m]);
    }
}

/// The codes of the 8 lanes of `x` under `p`, rounded with `rnd`, lane j
/// in byte j.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn codes8<const INT8: bool>(k: &K, x: __m256, p: P, rnd: __m256i) -> u64 {
    let (x, rnd) = (p.apply(x), Some(rnd));
    bytes_of(if INT8 {
        int8_codes(k, x, rnd)
    } else {
        mini_codes(k, x, rnd)
    })
}

/// 8 codes (byte j) as 8 nibbles: byte 2j + 1 into the high nibble of
/// byte 2j, then the even bytes kept.
#[inline]
fn nibbles(bytes: u64) -> u32 {
    let t = (bytes | (bytes >> 4)) & 0x00FF_00FF_00FF_00FF;
    let t = (t | (t >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((t | (t >> 16)) & 0xFFFF_FFFF) as u32
}

/// Elements `s..e` all get `code` (a zero block's).
#[inline]
pub(super) fn fill_code<const NIB: bool>(dst: &mut [u8], s: usize, e: usize, code: u8) {
    for j in s..e {
        if NIB {
            let sh = 4 * (j % 2);
            dst[j / 2] = (dst[j / 2] & !(0xF << sh)) | ((code & 0xF) << sh);
        } else {
            dst[j] = code;
        }
    }
}

/// The loop of [`encode_row`] for one element kind, packing and rounding
/// (constants, so that each gets its own loop); `rand` is `src.len()` long
/// when `SR`, else empty. Lengths are checked by the caller.
#[inline]
#[target_feature(enable = "avx2,fma")]
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
    let nblocks = n.div_ceil(block_len);
    let rand = SR.then_some(rand);
    // The hot case, as in the AVX-512 kernel: a `Mul` map, 16 elements
    // (two vectors) a step, their codes packed together, no staging.
    let vector = |dst: &mut [u8], i: usize, mul: __m256| {
        let xs: &[f32; 16] = src[i..i + 16].try_into().unwrap();
        if i < ahead.len() {
            // SAFETY: a prefetch does not access memory; i < ahead.len().
            unsafe { _mm_prefetch::<_MM_HINT_T1>(ahead.as_ptr().add(i).cast()) };
        }
        // SAFETY: xs holds 16 f32.
        let (x0, x1) = unsafe {
            (
                _mm256_loadu_ps(xs.as_ptr()),
                _mm256_loadu_ps(xs.as_ptr().add(8)),
            )
        };
        let (r0, r1) = match rand {
            Some(r) => {
                let rs: &[u32; 16] = r[i..i + 16].try_into().unwrap();
                // SAFETY: rs holds 16 u32.
                unsafe {
                    (
                        Some(_mm256_loadu_si256(rs.as_ptr().cast())),
                        Some(_mm256_loadu_si256(rs.as_ptr().add(8).cast())),
                    )
                }
            }
            None => (None, None),
        };
        let (x0, x1) = (_mm256_mul_ps(x0, mul), _mm256_mul_ps(x1, mul));
        let (c0, c1) = if INT8 {
            (int8_codes(k, x0, r0), int8_codes(k, x1, r1))
        } else {
            (mini_codes(k, x0, r0), mini_codes(k, x1, r1))
        };
        if NIB {
            let o: &mut [u8; 8] = (&mut dst[i / 2..i / 2 + 8]).try_into().unwrap();
            // SAFETY: o holds 8 bytes.
            unsafe { _mm_storel_epi64(o.as_mut_ptr().cast(), nibbles16(c0, c1)) };
        } else {
            let o: &mut [u8; 16] = (&mut dst[i..i + 16]).try_into().unwrap();
            // SAFETY: o holds 16 bytes.
            unsafe { _mm_storeu_si128(o.as_mut_ptr().cast(), bytes16(c0, c1)) };
        }
    };
    // Blocks of 16 (NVFP4's): their own loop, so that a block costs a map
    // load and a test, not the general loop's bookkeeping.
    let mut b0 = 0;
    if block_len == 16 && !maps.is_empty() {
        while let Some(&ElementMap::Mul(mul)) = maps.get(b0)
            && 16 * b0 + 16 <= n
        {
            vector(dst, 16 * b0, _mm256_set1_ps(mul));
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
            let mul = _mm256_set1_ps(mul);
            let mut i = s;
            while i < e {
                vector(dst, i, mul);
                i += 16;
            }
            continue;
        }
        let p = match map {
            Some(ElementMap::Zero(code)) => {
                fill_code::<NIB>(dst, s, e, code);
                continue;
            }
            None => P::None,
            Some(map) => P::of(map),
        };
        let mut i = s;
        while i < e {
            let m = (e - i).min(8);
            if i.is_multiple_of(16) && i < ahead.len() {
                // SAFETY: a prefetch does not access memory; i < ahead.len().
                unsafe { _mm_prefetch::<_MM_HINT_T1>(ahead.as_ptr().add(i).cast()) };
            }
            // Whole vectors load in place; a short tail is staged through
            // zeroed arrays (a staged whole vector would be stored in two
            // halves and reloaded at once, stalling store forwarding).
            let (x, rnd) = if m == 8 {
                let xs = &src[i..i + 8];
                // SAFETY: xs holds 8 f32.
                let x = unsafe { _mm256_loadu_ps(xs.as_ptr()) };
                let rnd = rand.map(|r| {
                    let rs = &r[i..i + 8];
                    // SAFETY: rs holds 8 u32.
                    unsafe { _mm256_loadu_si256(rs.as_ptr().cast()) }
                });
                (x, rnd)
            } else {
                let mut xs = [0f32; 8];
                let mut rs = [0u32; 8];
                xs[..m].copy_from_slice(&src[i..i + m]);
                if let Some(r) = rand {
                    rs[..m].copy_from_slice(&r[i..i + m]);
                }
                // SAFETY: xs holds 8 f32.
                let x = unsafe { _mm256_loadu_ps(xs.as_ptr()) };
                let rnd = rand.map(|_| {
                    // SAFETY: rs holds 8 u32.
                    unsafe { _mm256_loadu_si256(rs.as_ptr().cast()) }
                });
                (x, rnd)
            };
            let x = p.apply(x);
            let c = if INT8 {
                int8_codes(k, x, rnd)
            } else {
                mini_codes(k, x, rnd)
            };
            let mut bytes = bytes_of(c);
            if m < 8 {
                bytes &= (1u64 << (8 * m)) - 1;
            }
            if NIB {
                // Byte 2j + 1 into the high nibble of byte 2j, then keep even bytes.
                let t = (bytes | (bytes >> 4)) & 0x00FF_00FF_00FF_00FF;
                let t = (t | (t >> 8)) & 0x0000_FFFF_0000_FFFF;
                let t = (t | (t >> 16)) & 0xFFFF_FFFF;
                let nb = m.div_ceil(2);
                assert!(i.is_multiple_of(2));
                // Constant lengths for whole vectors: one store, not a memmove.
                if nb == 4 {
                    dst[i / 2..i / 2 + 4].copy_from_slice(&(t as u32).to_le_bytes());
                } else {
                    dst[i / 2..i / 2 + nb].copy_from_slice(&t.to_le_bytes()[..nb]);
                }
            } else if m == 8 {
                dst[i..i + 8].copy_from_slice(&bytes.to_le_bytes());
            } else {
                dst[i..i + m].copy_from_slice(&bytes.to_le_bytes()[..m]);
            }
            i += m;
        }
    }
}
