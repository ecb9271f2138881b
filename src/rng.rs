//! The seeded random streams of stochastic rounding and of the recipes'
//! operand seeds. One definition, so that every producer of random bits in
//! the crate (the portable quantizer, the recipes, and the SIMD kernels,
//! which are tested against [`tile_stream`]) draws the same numbers.

use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

/// SplitMix64's finalizer (Steele, Lea and Flood 2014): `z += φ·2⁶⁴`, then
/// two xor-shift-multiply rounds and a final xor-shift.
#[inline]
pub(crate) const fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
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
