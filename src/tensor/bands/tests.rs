//! The quantizer's kernels against the definitions they fuse: the counter's
//! bits and the counter-fed encode kernel.

use crate::prelude::*;
use rand_xoshiro::SplitMix64;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

/// The quantizer takes `Kernels::sr_counter`'s bits where it applies,
/// `rng::counter_row`'s elsewhere: the two agree on every geometry the
/// kernels accept (the rng layer cannot see the kernels, so the check
/// lives here).
#[test]
fn counter_row_kernels_agree() {
    use crate::simd::Level;
    let mut g = SplitMix64::seed_from_u64(3);
    let rounds = if cfg!(miri) { 10 } else { 2000 };
    for level in [Level::Avx2, Level::Avx512, Level::Avx512Vnni] {
        let Some(kernel) = crate::simd::kernels(level).sr_counter else {
            continue;
        };
        let mut used = 0;
        for round in 0..rounds {
            let tc = [8, 16, 32, 64, 128, 256, 24, 12, 40][round % 9];
            let tr = [1, 2, 16][round / 9 % 3];
            let len = [1, 15, 16, 63, 64, 65, 200, 1024][round / 27 % 8];
            let i0 = (g.next_u64() as usize % tr) * tc;
            let words = (tr * tc).div_ceil(8) as u64;
            let (seed, t0) = (g.next_u64(), g.next_u64() >> (round % 64));
            let mut want = vec![0u32; len];
            crate::rng::counter_row(seed, (t0, words, tc, i0), &mut Vec::new(), &mut want);
            let mut got = vec![7u32; len];
            if kernel(seed, (t0, words, tc, i0), &mut got) {
                assert_eq!(got, want, "{level:?} tc {tc} tr {tr} len {len} i0 {i0}");
                used += 1;
            } else {
                assert!(got.iter().all(|&v| v == 7), "wrote, then declined");
                assert!(matches!(tc, 24 | 12 | 40), "declined tc {tc}");
            }
        }
        assert!(used > rounds / 2);
    }
}

/// `Kernels::encode_row_counter` against the definition it fuses: each
/// element mapped by its block's map and encoded with `from_f32_with`,
/// stochastically with `rng::counter_row`'s bits (a `Zero` block's code
/// as it is), over every kind of map (multipliers of 0 and Inf among
/// them), short rows and tails, odd block counts, specials, and each
/// kernel codec; geometries it declines leave `dst` untouched.
#[test]
fn encode_row_counter_matches_definition() {
    use crate::element::{ConvertOptions, E2M1, E4M3, E5M2, Element, Int8, RandomBits, Rounding};
    use crate::scale::ElementMap;
    use crate::simd::{Level, Packing};

    fn check<T: Element>(level: Level, g: &mut SplitMix64, rounds: usize) -> usize {
        let Some(kernel) = crate::simd::kernels(level).encode_row_counter else {
            return 0;
        };
        let mut used = 0;
        for round in 0..rounds {
            let opts = [ConvertOptions::SATFINITE, ConvertOptions::default()][round % 2];
            let Some(codec) = crate::element::kernel_codec::<T>(opts) else {
                continue;
            };
            let tc: usize = [16, 32, 48, 64, 128, 8, 24][round / 2 % 7];
            let len: usize = [1, 7, 16, 17, 31, 32, 33, 100, 130, 256, 1000][round / 14 % 11];
            let nblocks = len.div_ceil(tc);
            let maps: Vec<ElementMap> = (0..nblocks)
                .map(|_| {
                    let v = f32::from_bits(0x3C00_0000 + (g.next_u32() >> 6));
                    match g.next_u32() % 8 {
                        0 => ElementMap::Zero(g.next_u32() as u8 & ((1 << T::BITS) - 1) as u8),
                        1 => ElementMap::Div(v),
                        2 => ElementMap::DivDiv(v, 1.5),
                        3 => ElementMap::Mul([0.0, f32::INFINITY][round % 2]),
                        _ => ElementMap::Mul(v),
                    }
                })
                .collect();
            let src: Vec<f32> = (0..len)
                .map(|_| match g.next_u32() % 16 {
                    0 => f32::NAN,
                    1 => f32::INFINITY.copysign(g.next_u32() as i32 as f32),
                    2 => f32::from_bits(g.next_u32() & 0x807F_FFFF),
                    3 => 0.0,
                    _ => (g.next_u32() as i32 as f32) * 2f32.powi(-28 - (g.next_u32() % 8) as i32),
                })
                .collect();
            let (seed, t0) = (g.next_u64(), g.next_u64() >> (round % 64));
            let words = (tc / 8) as u64;
            let at = (t0, words, tc, 0);
            let mut bits = vec![0u32; len];
            crate::rng::counter_row(seed, at, &mut Vec::new(), &mut bits);
            let (packing, bytes) = if T::PACKED {
                (Packing::Nibbles, len.div_ceil(2))
            } else {
                (Packing::Bytes, len)
            };
            let mut want = vec![0u8; bytes];
            for (k, (&x, &r)) in src.iter().zip(&bits).enumerate() {
                let map = maps[k / tc];
                let code = match map.apply(x) {
                    None => match map {
                        ElementMap::Zero(c) => c,
                        _ => unreachable!(),
                    },
                    Some(v) => {
                        let o = opts.with_rounding(Rounding::Stochastic(RandomBits::full(r)));
                        T::from_f32_with(v, o).to_bits()
                    }
                };
                crate::element::nibble::put(&mut want, k, code, T::PACKED);
            }
            let mut got = vec![0u8; bytes];
            let ahead = &src[..len / 2];
            if kernel(&codec, &maps, tc, &src, seed, at, &mut got, packing, ahead) {
                assert_eq!(got, want, "{level:?} {} tc {tc} len {len}", T::NAME);
                used += 1;
            } else {
                assert!(got.iter().all(|&b| b == 0), "wrote, then declined");
                assert!(!tc.is_multiple_of(16), "declined tc {tc}");
            }
            // Rows of taller tiles, and rows inside a tile, are declined.
            let mut none = vec![0u8; bytes];
            for taller in [(t0, 2 * words, tc, 0), (t0, 2 * words, tc, tc)] {
                let declined = !kernel(
                    &codec, &maps, tc, &src, seed, taller, &mut none, packing, ahead,
                );
                assert!(declined, "{taller:?}");
            }
            assert!(none.iter().all(|&b| b == 0));
        }
        used
    }

    let mut g = SplitMix64::seed_from_u64(5);
    let rounds = if cfg!(miri) { 14 } else { 1540 };
    for level in [Level::Avx2, Level::Avx512, Level::Avx512Vnni] {
        if crate::simd::kernels(level).encode_row_counter.is_none() {
            continue;
        }
        for used in [
            check::<E2M1>(level, &mut g, rounds),
            check::<E4M3>(level, &mut g, rounds),
            check::<E5M2>(level, &mut g, rounds),
            check::<Int8>(level, &mut g, rounds),
        ] {
            assert!(used > rounds / 3, "{level:?}: {used} of {rounds} taken");
        }
    }
}
