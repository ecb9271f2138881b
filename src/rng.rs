//! The seeded random streams of stochastic rounding and of the recipes'
//! operand seeds. One definition, so that every producer of random bits in
//! the crate (the portable quantizer, the recipes, and the SIMD kernels,
//! which are tested against [`tile_stream`]) draws the same numbers.

use crate::prelude::*;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

/// SplitMix64's increment, ⌊2⁶⁴/φ⌋ made odd.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's finalizer (Steele, Lea and Flood 2014): `z += φ·2⁶⁴`, then
/// two xor-shift-multiply rounds and a final xor-shift.
#[inline]
pub(crate) const fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The stream of tile `tile` under stochastic-rounding seed `seed`:
/// Xoshiro256++ seeded with `splitmix64(seed) ^ splitmix64(tile)` (as
/// [`crate::tensor::TensorRounding::Stochastic`] documents).
pub(crate) fn tile_stream(seed: u64, tile: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(splitmix64(seed) ^ splitmix64(tile))
}

/// Word `c` of the counter of [`crate::tensor::TensorRounding::Stochastic8`]:
/// SplitMix64's output c (from 0) seeded with `seed`, its state
/// `seed + (c + 1)·γ` through the finalizer.
#[inline(always)]
pub(crate) const fn counter_word(seed: u64, c: u64) -> u64 {
    splitmix64(seed.wrapping_add(c.wrapping_mul(GAMMA)))
}

/// The random bits of [`crate::tensor::TensorRounding::Stochastic8`] for
/// one stored row, `out[k]` for column k: the row is row `i0 / tc` of a
/// band of tiles `tc` wide, the first of them tile `t0`, each taking
/// `words` words. Position i of tile t takes byte i mod 8 of word
/// `t·words + i/8`, in the top 8 bits of its u32: by the `cvt.rs` rule
/// (`element::engine::round_shift`) those 32 bits round exactly as the
/// byte alone with a count of 8, since a carry out of `top₃₂ + b·2²⁴` is
/// one out of `⌊top₃₂ / 2²⁴⌋ + b`, and that quotient is the top 8
/// discarded bits. `scratch` holds the words between calls.
pub(crate) fn counter_row(
    seed: u64,
    (t0, words, tc, i0): (u64, u64, usize, usize),
    scratch: &mut Vec<u64>,
    out: &mut [u32],
) {
    let first = |tj: usize| {
        t0.wrapping_add(tj as u64)
            .wrapping_mul(words)
            .wrapping_add((i0 / 8) as u64)
    };
    if tc % 8 == 0 && i0 % 8 == 0 {
        // Each tile's segment starts a word, so the row's bytes are its
        // tiles' words in turn, least significant byte first.
        scratch.clear();
        for tj in 0..out.len().div_ceil(tc) {
            let c = first(tj);
            scratch.extend(
                (0..(tc / 8) as u64).map(|k| counter_word(seed, c.wrapping_add(k)).to_le()),
            );
        }
        let bytes: &[u8] = bytemuck::cast_slice(scratch);
        for (v, &b) in out.iter_mut().zip(bytes) {
            *v = u32::from(b) << 24;
        }
        return;
    }
    for (tj, seg) in out.chunks_mut(tc).enumerate() {
        for (k, v) in seg.iter_mut().enumerate() {
            let i = i0 % 8 + k;
            let w = counter_word(seed, first(tj).wrapping_add((i / 8) as u64));
            *v = ((w >> (8 * (i % 8))) as u32) << 24;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_xoshiro::SplitMix64;
    use rand_xoshiro::rand_core::Rng;

    #[test]
    fn counter_words_are_splitmix64s_outputs() {
        // SplitMix64's published first output for seed 0.
        assert_eq!(counter_word(0, 0), 0xE220_A839_7B1D_CDAF);
        for seed in [0, 1, 0x0123_4567_89AB_CDEF, u64::MAX] {
            let mut g = SplitMix64::seed_from_u64(seed);
            for c in 0..100 {
                assert_eq!(
                    counter_word(seed, c),
                    g.next_u64(),
                    "seed {seed:#x}, word {c}"
                );
            }
        }
    }

    #[test]
    fn counter_row_places_the_bytes() {
        // Tiles of 2 × 12 (3 words each): the second row of tile row 1
        // starts at position 12, mid-word, in word 1 of each tile.
        let (seed, words) = (9, 3);
        let mut out = [0u32; 20];
        counter_row(seed, (4, words, 12, 12), &mut Vec::new(), &mut out);
        for (k, &v) in out.iter().enumerate() {
            let (tile, i) = (4 + k as u64 / 12, 12 + k % 12);
            let w = counter_word(seed, tile * words + i as u64 / 8);
            assert_eq!(v, u32::from((w >> (8 * (i % 8))) as u8) << 24, "column {k}");
        }
    }
}
