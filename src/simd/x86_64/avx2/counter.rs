//! AVX2 stochastic encoding with `TensorRounding::Stochastic8`'s bits
//! made in registers beside the codes (SplitMix64 per 64-bit word, as
//! `rng::counter_row`), where the other entries read bits from a buffer
//! the stream filled first: the loop over a row's 16-element halves and
//! the bits each half takes. The rounding itself is `encode.rs`'s.

use super::codes::K;
use super::encode::{P, fill_code, setup, step8, vector16};
use super::rng::splitmix_mix;
use crate::simd::table::{ElementMap, PHI};
use crate::simd::{Codec, Packing};
use core::arch::x86_64::*;

/// Encodes one row with `TensorRounding::Stochastic8`'s bits made here;
/// see [`Kernels::encode_row_counter`](crate::simd::Kernels::encode_row_counter).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)] // the table's `EncodeRowCounter`
pub(super) unsafe fn encode_row_counter(
    codec: &Codec,
    maps: &[ElementMap],
    block_len: usize,
    src: &[f32],
    seed: u64,
    (t0, words, tc, i0): (u64, u64, usize, usize),
    dst: &mut [u8],
    packing: Packing,
    ahead: &[f32],
) -> bool {
    // Tiles one row tall, whose words (tc / 8 each) follow one another
    // along the row, and blocks of whole halves of a 32-element step.
    if maps.is_empty()
        || i0 != 0
        || tc != block_len
        || !tc.is_multiple_of(16)
        || words != (tc / 8) as u64
    {
        return false;
    }
    let n = src.len();
    let (block_len, nib) = setup(maps, block_len, n, dst, packing);
    let k = K::new(codec);
    // Lane l: SplitMix64's state for the row's word l, counter word
    // t0·words + l: seed + (t0·words + l + 1)·φ.
    let c1 = t0.wrapping_mul(words).wrapping_add(1);
    let base = _mm256_add_epi64(
        _mm256_set1_epi64x(seed.wrapping_add(c1.wrapping_mul(PHI)) as i64),
        _mm256_setr_epi64x(
            0,
            PHI as i64,
            PHI.wrapping_mul(2) as i64,
            PHI.wrapping_mul(3) as i64,
        ),
    );
    assert!(!(k.int8 && nib), "MXINT8 codes do not pack as nibbles");
    match (k.int8, nib) {
        (false, false) => {
            encode_counter::<false, false>(&k, maps, block_len, src, base, dst, ahead)
        }
        (false, true) => encode_counter::<false, true>(&k, maps, block_len, src, base, dst, ahead),
        (true, _) => encode_counter::<true, false>(&k, maps, block_len, src, base, dst, ahead),
    }
    true
}

/// SplitMix64's outputs for the row's words `i/8 .. i/8 + 4` (i a
/// multiple of 32, the elements `i .. i + 32`); `base` holds the states of
/// words 0..4 (see [`encode_row_counter`]).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn counter_words(base: __m256i, i: usize) -> __m256i {
    let step = ((i / 8) as u64).wrapping_mul(PHI);
    splitmix_mix(_mm256_add_epi64(base, _mm256_set1_epi64x(step as i64)))
}

/// The bits of 16 elements from two of the words `w` ([`counter_words`]):
/// words 0 and 1 for the step's first half, 2 and 3 for its second.
/// Element j takes byte j mod 8 of its word, in the top 8 bits of its lane
/// (`rng::counter_row`).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn half_bits(w: __m256i, first: bool) -> [__m256i; 2] {
    // The half's two words in both 128-bit lanes; a byte shuffle takes a
    // word's bytes 0..4 to the low lane's tops, 4..8 to the high lane's.
    let pair = if first {
        _mm256_permute4x64_epi64::<0b01_00_01_00>(w)
    } else {
        _mm256_permute4x64_epi64::<0b11_10_11_10>(w)
    };
    let z = -1;
    #[rustfmt::skip]
    let word0 = _mm256_setr_epi8(
        z, z, z, 0, z, z, z, 1, z, z, z, 2, z, z, z, 3,
        z, z, z, 4, z, z, z, 5, z, z, z, 6, z, z, z, 7,
    );
    #[rustfmt::skip]
    let word1 = _mm256_setr_epi8(
        z, z, z, 8, z, z, z, 9, z, z, z, 10, z, z, z, 11,
        z, z, z, 12, z, z, z, 13, z, z, z, 14, z, z, z, 15,
    );
    [
        _mm256_shuffle_epi8(pair, word0),
        _mm256_shuffle_epi8(pair, word1),
    ]
}

/// The loop of [`encode_row_counter`] for one element kind and packing:
/// halves of 16 elements, each inside one block, the bits of two halves
/// (a step) made at once.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn encode_counter<const INT8: bool, const NIB: bool>(
    k: &K,
    maps: &[ElementMap],
    block_len: usize,
    src: &[f32],
    base: __m256i,
    dst: &mut [u8],
    ahead: &[f32],
) {
    let n = src.len();
    // The block of half j, and j's offset in it.
    let (mut b, mut off) = (0, 0);
    // The words of the step after the current one are made a step
    // ahead, so that their latency is off the path to this step's codes.
    let (mut w, mut next_w) = (_mm256_setzero_si256(), counter_words(base, 0));
    let mut j = 0;
    while j < n {
        let first = j.is_multiple_of(32);
        if first {
            w = next_w;
            next_w = counter_words(base, j + 32);
        }
        let [r0, r1] = half_bits(w, first);
        let e = (j + 16).min(n);
        match maps[b] {
            ElementMap::Mul(mul) if e - j == 16 => {
                let mul = _mm256_set1_ps(mul);
                vector16::<INT8, NIB, true, false>(k, src, ahead, dst, j, mul, [r0, r1]);
            }
            ElementMap::Zero(code) => fill_code::<NIB>(dst, j, e, code),
            map => {
                let p = P::of(map);
                for (i, rnd) in [(j, r0), (j + 8, r1)] {
                    if i < e {
                        step8::<INT8, NIB>(k, src, ahead, dst, i, (e - i).min(8), p, rnd);
                    }
                }
            }
        }
        off += 16;
        if off == block_len {
            (b, off) = (b + 1, 0);
        }
        j += 16;
    }
}
