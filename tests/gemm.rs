//! The fast GEMM equals the reference bit for bit for every format pair,
//! shape and thread count; the reference equals first principles where
//! they can be computed independently.

use blockscale::format::{
    BlockFormat, Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp6E2M3, MxFp6E3M2, MxFp8E4M3, MxFp8E5M2,
    MxInt8, Nvfp4, Nvfp4FourOverSix,
};
use blockscale::gemm::{gemm, gemm_in, gemm_reference, gemm_with_threads};
use blockscale::simd::{Level, with_level};
use blockscale::tensor::{PartialBlocks, QuantizeOptions, QuantizedTensor};
use blockscale::{E4M3, E5M2, Error};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::OnceLock;

/// A pool of 1, 2 or 3 threads, built once for the whole test binary.
fn pool(threads: usize) -> &'static ThreadPool {
    static POOLS: [OnceLock<ThreadPool>; 3] = [const { OnceLock::new() }; 3];
    POOLS[threads - 1].get_or_init(|| {
        ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    })
}

/// Seeded heavy-tailed data: uniform mantissas over 12 binades.
fn data(rng: &mut Xoshiro256PlusPlus, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let m = rng.next_u32() as f32 / u32::MAX as f32 * 2.0 - 1.0;
            m * 2f32.powi((rng.next_u32() % 12) as i32 - 6)
        })
        .collect()
}

fn q<F: BlockFormat>(f: F, x: &[f32], rows: usize, cols: usize) -> QuantizedTensor<F> {
    let opts = QuantizeOptions {
        partial_blocks: PartialBlocks::ZeroPad,
        ..Default::default()
    };
    QuantizedTensor::quantize(f, x, rows, cols, &opts).unwrap()
}

/// Seeded data whose magnitudes spread over `binades` binades below 1
/// (mantissas in [1, 2], no zeros): over few binades no element reaches
/// the formats' subnormals; over 30, some do.
fn span(rng: &mut Xoshiro256PlusPlus, n: usize, binades: u32) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let m = 1.0 + rng.next_u32() as f32 / u32::MAX as f32; // [1, 2]
            let sign = if rng.next_u32() & 1 == 0 { 1.0 } else { -1.0 };
            sign * m * 2f32.powi(-((rng.next_u32() % binades) as i32) - 1)
        })
        .collect()
}

type Data = fn(&mut Xoshiro256PlusPlus, usize) -> Vec<f32>;

fn check_pair<FA: BlockFormat, FB: BlockFormat>(fa: FA, fb: FB, seed: u64) {
    check_pair_with(fa, fb, seed, data);
}

fn check_pair_with<FA: BlockFormat, FB: BlockFormat>(fa: FA, fb: FB, seed: u64, fill: Data) {
    // Every level's kernels this CPU has (AVX2's and AVX-512's tables
    // differ), from the highest, then the portable ones.
    for level in blockscale::testing::levels().into_iter().rev() {
        with_level(level, || check_pair_at(fa.clone(), fb.clone(), seed, fill));
    }
}

fn check_pair_at<FA: BlockFormat, FB: BlockFormat>(fa: FA, fb: FB, seed: u64, fill: Data) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    // Shapes that are not multiples of any tile (8x16 micro-tiles, 64-row
    // tasks), K a few blocks long, K = 200 ending in a partial block,
    // K = 30 and 66, not multiples of 4 (the i8 packers' general path), and
    // K = 384 and 1100, which the driver cuts into ranges of K (the i16
    // kernel's of 256 elements, the i8 kernel's of 1024), the last one
    // short.
    for &(m, n, k) in &[
        (5, 17, 30),
        (9, 3, 66),
        (1, 1, 128),
        (3, 5, 256),
        (17, 9, 384),
        (33, 40, 128),
        (70, 19, 200),
        (130, 33, 64),
        (9, 17, 1100),
    ] {
        let a = q(fa.clone(), &fill(&mut rng, m * k), m, k);
        let b = q(fb.clone(), &fill(&mut rng, n * k), n, k);
        let c0 = data(&mut rng, m * n);
        let mut want = c0.clone();
        gemm_reference(&a, &b, 0.75, 0.5, &mut want).unwrap();
        for threads in 1..=3 {
            let mut got = c0.clone();
            gemm_in(pool(threads), &a, &b, 0.75, 0.5, &mut got).unwrap();
            let (w, g): (Vec<u32>, Vec<u32>) = (
                want.iter().map(|v| v.to_bits()).collect(),
                got.iter().map(|v| v.to_bits()).collect(),
            );
            assert_eq!(
                w,
                g,
                "{} x {}: {m}x{n}x{k}, {threads} threads",
                fa.name(),
                fb.name()
            );
        }
        let mut got = c0.clone();
        gemm(&a, &b, 0.75, 0.5, &mut got).unwrap();
        assert_eq!(
            want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            got.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert!(want.iter().all(|v| v.is_finite()));
    }
}

/// `gemm_with_threads` (a pool per call) is `gemm_in` on a fresh pool.
#[test]
fn gemm_with_threads_equals_the_reference() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(13);
    let (m, n, k) = (70, 19, 200);
    let a = q(MxFp8E4M3::default(), &data(&mut rng, m * k), m, k);
    let b = q(MxFp8E4M3::default(), &data(&mut rng, n * k), n, k);
    let c0 = data(&mut rng, m * n);
    let mut want = c0.clone();
    gemm_reference(&a, &b, 0.75, 0.5, &mut want).unwrap();
    for threads in [0, 2] {
        let mut got = c0.clone();
        gemm_with_threads(&a, &b, 0.75, 0.5, &mut got, threads).unwrap();
        assert_eq!(
            want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "{threads} threads"
        );
    }
}

#[test]
fn fast_path_is_bit_identical_for_every_format_pair() {
    check_pair(Nvfp4::default(), Nvfp4::default(), 1);
    check_pair(Nvfp4::default(), Nvfp4::WEIGHTS_2D, 2);
    check_pair(MxFp4::default(), MxFp4::default(), 3);
    check_pair(MxFp6E2M3::default(), MxFp6E2M3::default(), 4);
    check_pair(MxFp6E3M2::default(), MxFp6E3M2::default(), 5);
    check_pair(MxInt8::default(), MxInt8::default(), 6);
    check_pair(MxFp8E4M3::default(), MxFp8E4M3::default(), 7);
    check_pair(MxFp8E4M3::default(), MxFp8E5M2::default(), 8);
    check_pair(MxFp8E5M2::default(), MxFp8E5M2::default(), 9);
    check_pair(
        Fp8Tensorwise::<E4M3>::current(),
        Fp8Tensorwise::<E4M3>::current(),
        10,
    );
    check_pair(
        Fp8Tensorwise::<E4M3>::current(),
        Fp8Tensorwise::<E5M2>::current(),
        11,
    );
    check_pair(
        Fp8Blockwise::<E4M3>::ACTIVATIONS,
        Fp8Blockwise::<E4M3>::WEIGHTS,
        12,
    );
    // 4over6 (scale bound 256) meets ordinary NVFP4 (448).
    check_pair(Nvfp4FourOverSix::default(), Nvfp4::WEIGHTS_2D, 13);
}

/// Data that stays clear of the subnormals leaves every element integer a
/// multiple of a power of two, and the planner sums E4M3 x E5M2 and E5M2
/// pairs in f64 (or in longer f64 runs of the i64 kernel): still bit for
/// bit the reference, from one binade (all of them in f64) to twenty
/// (E5M2 pairs' sums near the f64 bound) and thirty, where the data does
/// reach the subnormals (the i64 and generic kernels again).
#[test]
fn data_without_subnormals_is_bit_identical() {
    let (e4m3, e5m2) = (MxFp8E4M3::default(), MxFp8E5M2::default());
    let (t4, t5) = (
        Fp8Tensorwise::<E4M3>::current(),
        Fp8Tensorwise::<E5M2>::current(),
    );
    let spans: [Data; 3] = [
        |r, n| span(r, n, 1),
        |r, n| span(r, n, 20),
        |r, n| span(r, n, 30),
    ];
    for (i, fill) in spans.into_iter().enumerate() {
        let seed = 20 + 4 * i as u64;
        check_pair_with(e4m3, e5m2, seed, fill);
        check_pair_with(e5m2, e5m2, seed + 1, fill);
        check_pair_with(t4, t5, seed + 2, fill);
        check_pair_with(t5, t5, seed + 3, fill);
    }
}

/// Values in [0.5, 1) of both signs with one element in 200 at E4M3's
/// smallest subnormal (after per-tensor scaling) and one at an E5M2
/// subnormal: no common low zero bits.
fn few_subnormals(rng: &mut Xoshiro256PlusPlus, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let sign = if rng.next_u32() & 1 == 0 { 1.0 } else { -1.0 };
            sign * match i % 200 {
                7 => 2f32.powf(-17.6),
                8 => 2f32.powf(-30.2),
                _ => 0.5 + rng.next_u32() as f32 / u32::MAX as f32 / 2.0,
            }
        })
        .collect()
}

/// Per tensor, E4M3 x E5M2 sums on such data need up to 59.6 bits:
/// blocks of 256 and more (K = 256, 384, 1100 here) take the i16 planes
/// with i64 sums (`Plan::I16Wide`), shorter ones the i64 kernel, both bit
/// for bit the reference, in either order of the operands.
#[test]
fn per_tensor_sums_past_f64_are_bit_identical() {
    let (t4, t5) = (
        Fp8Tensorwise::<E4M3>::current(),
        Fp8Tensorwise::<E5M2>::current(),
    );
    check_pair_with(t4, t5, 40, few_subnormals);
    check_pair_with(t5, t4, 41, few_subnormals);
}

/// MX scales far from 1 push block terms into f32's subnormal range and
/// past its maximum, where the fast path leaves its f32 kernel: every path
/// still rounds each term once, like the reference.
#[test]
fn extreme_scales_round_once_on_every_path() {
    let (e4m3, e5m2, fp4) = (MxFp8E4M3::default(), MxFp8E5M2::default(), MxFp4::default());
    extreme_scales((e4m3, 1, 0x7F), (e4m3, 1, 0x7F)); // f64 kernel
    extreme_scales((fp4, 2, 0xFF), (fp4, 2, 0xFF)); // i8 kernel's fallback
    extreme_scales((e4m3, 1, 0x7F), (e5m2, 1, 0x7B)); // i64 kernel
}

/// Random codes (`per_byte` elements per byte, masked to avoid NaN codes)
/// with E8M0 scale exponents in 2^-127..2^-60 (terms in f32's subnormal
/// range) and 2^60..2^127 (terms past f32's maximum).
fn extreme_scales<FA, FB>((fa, pa, ma): (FA, usize, u8), (fb, pb, mb): (FB, usize, u8))
where
    FA: BlockFormat<Scale = blockscale::E8M0> + Copy,
    FB: BlockFormat<Scale = blockscale::E8M0> + Copy,
{
    use blockscale::E8M0;
    use blockscale::tensor::Direction;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(77);
    let (m, n, k) = (9, 17, 96);
    fn make<F: BlockFormat<Scale = blockscale::E8M0>>(
        f: F,
        (per_byte, mask): (usize, u8),
        (rows, k): (usize, usize),
        (lo, hi): (u32, u32),
        rng: &mut Xoshiro256PlusPlus,
    ) -> QuantizedTensor<F> {
        let data: Vec<u8> = (0..rows * k / per_byte)
            .map(|_| (rng.next_u32() % 256) as u8 & mask)
            .collect();
        let scales: Vec<E8M0> = (0..rows * k / 32)
            .map(|_| E8M0::from_bits((lo + rng.next_u32() % (hi - lo)) as u8))
            .collect();
        QuantizedTensor::from_parts(
            f,
            (rows, k),
            Direction::Rowwise,
            PartialBlocks::Reject,
            data,
            scales,
            None,
        )
        .unwrap()
    }
    for range in [(0u32, 67u32), (187, 254)] {
        let a = make(fa, (pa, ma), (m, k), range, &mut rng);
        let b = make(fb, (pb, mb), (n, k), range, &mut rng);
        let mut want = vec![0f32; m * n];
        gemm_reference(&a, &b, 1.0, 0.0, &mut want).unwrap();
        for level in [Level::Portable, blockscale::simd::detected()] {
            let mut got = vec![0f32; m * n];
            with_level(level, || gemm(&a, &b, 1.0, 0.0, &mut got)).unwrap();
            assert_eq!(
                want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{} x {} {level:?}",
                fa.name(),
                fb.name()
            );
        }
        let special = if range.0 == 0 {
            want.iter().filter(|v| v.is_subnormal()).count()
        } else {
            want.iter().filter(|v| v.is_infinite()).count()
        };
        assert!(
            special > 0,
            "{}: the case must reach the extreme range",
            fa.name()
        );
    }
}

/// MX has alpha = 1 and power-of-two scales, and E2M1 products sum exactly
/// in f64: so each block term is f32 of the exact dot product of the
/// dequantized values, and C is their f32 sum in block order.
#[test]
fn mxfp4_gemm_matches_first_principles() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(42);
    let (m, n, k) = (4, 3, 96);
    let a = q(MxFp4::default(), &data(&mut rng, m * k), m, k);
    let b = q(MxFp4::default(), &data(&mut rng, n * k), n, k);
    let (da, db) = (a.dequantize(), b.dequantize());
    let mut c = vec![0f32; m * n];
    gemm_reference(&a, &b, 1.0, 0.0, &mut c).unwrap();
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0f32;
            for k0 in (0..k).step_by(32) {
                let t: f64 = (k0..k0 + 32)
                    .map(|kk| da[i * k + kk] as f64 * db[j * k + kk] as f64)
                    .sum();
                acc += t as f32;
            }
            assert_eq!(c[i * n + j], acc);
        }
    }
}

/// NVFP4: the global scales fold into alpha = A_a·A_b/2688², and the E4M3
/// block scales multiply the exact integer block sums.
#[test]
fn nvfp4_gemm_folds_global_scales_into_alpha() {
    // A = 2688 in both operands makes alpha = 1 and s_b exact: a block of
    // all 6s (with one 2688 to fix the tensor amax in another block).
    let mut x = vec![0f32; 32];
    x[..16].iter_mut().for_each(|v| *v = 6.0);
    x[16] = 2688.0;
    let a = q(Nvfp4::default(), &x, 1, 32);
    let mut c = [0f32];
    gemm_reference(&a, &a, 1.0, 0.0, &mut c).unwrap();
    // Block 0: s_b = 1, q = 6: 16·36 = 576. Block 1: s_b = 448, q = 6 at one
    // place: 36·448² = 7225344. alpha = 2688²/2688² = 1.
    assert_eq!(c[0], 576.0 + 7225344.0);
}

#[test]
fn nvfp4_4over6_gemm_folds_its_own_range_into_alpha() {
    // With the bound 256, A = 1536 makes S_enc = 1 and alpha = A/1536 = 1.
    // Block 0, all 6s: base 1; map-4 (scale 1.5, codes 4) and map-6
    // (scale 1, codes 6) are both exact, a tie, so map-6. Block 1 holds
    // one 1536: base 256, again a tie, map-6 with scale 256, code 6.
    let mut x = vec![0f32; 32];
    x[..16].iter_mut().for_each(|v| *v = 6.0);
    x[16] = 1536.0;
    let a = q(Nvfp4FourOverSix::default(), &x, 1, 32);
    assert_eq!(
        a.scales().iter().map(|s| s.to_f32()).collect::<Vec<_>>(),
        [1.0, 256.0]
    );
    let mut c = [0f32];
    gemm_reference(&a, &a, 1.0, 0.0, &mut c).unwrap();
    // 16 · 36 · 1² + 36 · 256², alpha 1.
    assert_eq!(c[0], 576.0 + 2359296.0);
    let mut fast = [0f32];
    gemm(&a, &a, 1.0, 0.0, &mut fast).unwrap();
    assert_eq!(fast, c);
}

#[test]
fn bad_input_is_an_error() {
    let a = q(MxFp4::default(), &[1.0; 64], 2, 32);
    let b = q(MxFp4::default(), &[1.0; 64], 1, 64);
    let mut c = [0f32; 2];
    assert_eq!(
        gemm(&a, &b, 1.0, 0.0, &mut c),
        Err(Error::KMismatch {
            a: (2, 32),
            b: (1, 64)
        })
    );
    let n = q(Nvfp4::default(), &[1.0; 64], 2, 32);
    let mut c4 = [0f32; 4];
    assert!(matches!(
        gemm_reference(&a, &n, 1.0, 0.0, &mut c4),
        Err(Error::BlockMismatch {
            a_block: 32,
            b_block: 16,
            ..
        })
    ));
    assert!(matches!(
        gemm(&a, &a, 1.0, 0.0, &mut c),
        Err(Error::LengthMismatch {
            expected: 4,
            found: 2,
            ..
        })
    ));
    // beta = 0 never reads C.
    let mut c = [f32::NAN; 4];
    gemm(&a, &a, 1.0, 0.0, &mut c).unwrap();
    assert_eq!(c, [32.0; 4]);
    let _ = E5M2::MAX;
}
