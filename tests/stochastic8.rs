//! `TensorRounding::Stochastic8` against its definition, worked from first
//! principles: the random bytes from `rand_xoshiro`'s SplitMix64 (an
//! implementation the crate's counter does not share), the tile order by
//! hand, and each element rounded by the element codec with those 8 bits
//! (`RandomBits::new(b, 8)`, the `cvt.rs` rule), on inputs whose scales
//! are exactly 1 so that the stored code is the element's own rounding.
//! Also: the 8-bit resolution (a value below 1/256 of its gap never
//! rounds up), the rate of rounding up, and bytes that do not depend on
//! the thread count.

use blockscale::element::{ConvertOptions, RandomBits, Rounding};
use blockscale::format::{BlockFormat, Fp8Blockwise, Fp8Tensorwise, MxFp8E4M3, Nvfp4};
use blockscale::tensor::{
    Direction, PartialBlocks, QuantizeOptions, QuantizedTensor, TensorRounding,
};
use blockscale::{E2M1, E4M3, E5M2, Element};
use rand_xoshiro::SplitMix64;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

/// SplitMix64's first `n` outputs for `seed`.
fn words(seed: u64, n: usize) -> Vec<u64> {
    let mut g = SplitMix64::seed_from_u64(seed);
    (0..n).map(|_| g.next_u64()).collect()
}

/// A deterministic input in (−max, max), with some tiny values.
fn input(n: usize, max: f32, seed: u64) -> Vec<f32> {
    let mut g = SplitMix64::seed_from_u64(seed ^ 0x5eed);
    (0..n)
        .map(|i| {
            let u = (g.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let v = ((2.0 * u - 1.0) * f64::from(max)) as f32;
            if i % 7 == 3 { v * 1e-3 } else { v }
        })
        .collect()
}

/// The code of stored element `e` of `q` (a nibble for 4-bit elements).
fn code<F: BlockFormat>(q: &QuantizedTensor<F>, e: usize) -> u8 {
    if F::Elem::PACKED {
        (q.data()[e / 2] >> (4 * (e % 2))) & 0xF
    } else {
        q.data()[e]
    }
}

/// Checks every stored element of `x` (`rows × cols`, quantized with
/// `dir`, tiles `tr × tc` in the stored orientation) against the element
/// codec with its byte of the counter. `x` must give every tile a scale
/// of exactly 1.
#[allow(clippy::too_many_arguments)]
fn check<F: BlockFormat>(
    f: F,
    x: &[f32],
    (rows, cols): (usize, usize),
    dir: Direction,
    partial_blocks: PartialBlocks,
    (tr, tc): (usize, usize),
    seed: u64,
) {
    let opts = QuantizeOptions {
        direction: dir,
        partial_blocks,
        rounding: TensorRounding::Stochastic8 { seed },
        ..Default::default()
    };
    let name = f.name();
    let q = QuantizedTensor::quantize(f, x, rows, cols, &opts).unwrap();
    let (srows, scols) = match dir {
        Direction::Rowwise => (rows, cols),
        _ => (cols, rows),
    };
    let stored = |r: usize, c: usize| match dir {
        Direction::Rowwise => x[r * cols + c],
        _ => x[c * cols + r],
    };
    let tiles_c = scols.div_ceil(tc);
    let per_tile = (tr * tc).div_ceil(8);
    let w = words(seed, srows.div_ceil(tr) * tiles_c * per_tile);
    for r in 0..srows {
        for c in 0..scols {
            let t = (r / tr) * tiles_c + c / tc;
            let i = (r % tr) * tc + c % tc;
            let b = (w[t * per_tile + i / 8] >> (8 * (i % 8))) as u8;
            let bits = RandomBits::new(u32::from(b), 8).unwrap();
            let o = ConvertOptions::default().with_rounding(Rounding::Stochastic(bits));
            let want = <F::Elem as Element>::from_f32_with(stored(r, c), o).to_bits();
            let got = code(&q, r * scols + c);
            assert_eq!(
                got,
                want,
                "{name} {dir:?} stored ({r}, {c}) of {srows}x{scols}: x = {:e}, byte {b}",
                stored(r, c)
            );
        }
    }
}

#[test]
fn a_byte_on_top_rounds_as_eight_bits() {
    // What lets the crate stage each byte as a 32-bit word for the
    // encoders: b·2²⁴ with 32 bits rounds as b with 8 (a carry out of
    // top₃₂ + b·2²⁴ is one out of ⌊top₃₂ / 2²⁴⌋ + b).
    let mut g = SplitMix64::seed_from_u64(5);
    for _ in 0..300 {
        // Magnitudes 2^-31·7 to 14: subnormal, normal and saturating.
        let x = f32::from_bits(g.next_u32() & 0x8FFF_FFFF | 0x3000_0000) * 7.0;
        for b in 0..=255u32 {
            let o = ConvertOptions::default();
            let e8 = o.with_rounding(Rounding::Stochastic(RandomBits::new(b, 8).unwrap()));
            let et = o.with_rounding(Rounding::Stochastic(RandomBits::full(b << 24)));
            assert_eq!(
                E2M1::from_f32_with(x, e8),
                E2M1::from_f32_with(x, et),
                "{x:e} {b}"
            );
            assert_eq!(
                E4M3::from_f32_with(x, e8),
                E4M3::from_f32_with(x, et),
                "{x:e} {b}"
            );
            assert_eq!(
                E5M2::from_f32_with(x, e8),
                E5M2::from_f32_with(x, et),
                "{x:e} {b}"
            );
        }
    }
}

#[test]
fn nvfp4_1x16_by_hand() {
    // Every 16-block holds 6.0 and the tensor amax is 6: block scales of
    // 448 under a tensor scale of 448, so each element is its own value.
    let (rows, cols) = (3, 64);
    let mut x = input(rows * cols, 6.0, 1);
    x.iter_mut().step_by(16).for_each(|v| *v = 6.0);
    check(
        Nvfp4::default(),
        &x,
        (rows, cols),
        Direction::Rowwise,
        PartialBlocks::Reject,
        (1, 16),
        7,
    );
}

#[test]
fn nvfp4_16x16_tiles_by_hand() {
    // A tile of 16 rows takes 32 words, row-major inside the tile.
    let (rows, cols) = (32, 48);
    let mut x = input(rows * cols, 6.0, 2);
    for tr in 0..2 {
        for tc in 0..3 {
            x[(tr * 16 + 5) * cols + tc * 16 + 9] = -6.0;
        }
    }
    check(
        Nvfp4::WEIGHTS_2D,
        &x,
        (rows, cols),
        Direction::Rowwise,
        PartialBlocks::Reject,
        (16, 16),
        3,
    );
}

#[test]
fn mxfp8_ragged_edge_by_hand() {
    // 72 columns: two blocks of 32 and one of 8, each with 448 (E8M0
    // scale 2^0); the ragged tile still takes 4 words and uses the first.
    let (rows, cols) = (4, 72);
    let mut x = input(rows * cols, 440.0, 3);
    for r in 0..rows {
        for c in [0, 40, 70] {
            x[r * cols + c] = 448.0;
        }
    }
    let f = MxFp8E4M3::default();
    check(
        f,
        &x,
        (rows, cols),
        Direction::Rowwise,
        PartialBlocks::ZeroPad,
        (1, 32),
        11,
    );
}

#[test]
fn mxfp8_columnwise_by_hand() {
    // Blocks run down the columns; the stored orientation is 3 × 64.
    let (rows, cols) = (64, 3);
    let mut x = input(rows * cols, 440.0, 4);
    for c in 0..cols {
        x[c] = 448.0;
        x[40 * cols + c] = -448.0;
    }
    let f = MxFp8E4M3::default();
    check(
        f,
        &x,
        (rows, cols),
        Direction::Columnwise,
        PartialBlocks::Reject,
        (1, 32),
        5,
    );
}

#[test]
fn fp8_blockwise_by_hand() {
    // 1×128 tiles (16 words each, two steps of a SIMD kernel's 8) with a
    // ragged last tile, and 2×64 tiles (16 words, a row taking 8 of them).
    for (f, (rows, cols), (tr, tc), pad) in [
        (
            Fp8Blockwise::<E4M3>::ACTIVATIONS,
            (2, 320),
            (1, 128),
            PartialBlocks::ZeroPad,
        ),
        (
            Fp8Blockwise::<E4M3>::new(2, 64),
            (4, 192),
            (2, 64),
            PartialBlocks::Reject,
        ),
    ] {
        let mut x = input(rows * cols, 440.0, 7);
        for r in (0..rows).step_by(tr) {
            for c in (0..cols).step_by(tc) {
                x[r * cols + c + 1] = 448.0; // every tile's scale 2^0
            }
        }
        check(f, &x, (rows, cols), Direction::Rowwise, pad, (tr, tc), 13);
    }
}

#[test]
fn fp8_per_tensor_by_hand() {
    // One tile: the matrix, 65 positions in 9 words, rows not starting words.
    let (rows, cols) = (5, 13);
    let x = input(rows * cols, 440.0, 5);
    let f = Fp8Tensorwise::<E4M3>::with_scale(1.0);
    check(
        f,
        &x,
        (rows, cols),
        Direction::Rowwise,
        PartialBlocks::Reject,
        (rows, cols),
        9,
    );
}

/// Halfway and near-zero fractions of E2M1's gap from 0.5 to 1.0 (blocks
/// of 16 led by 6.0 keep a scale of 1), over `n` blocks.
fn e2m1_gap(frac: f32, n: usize, seed: u64) -> (usize, usize) {
    let x: Vec<f32> = (0..16 * n)
        .map(|i| if i % 16 == 0 { 6.0 } else { 0.5 + 0.5 * frac })
        .collect();
    let opts = QuantizeOptions {
        rounding: TensorRounding::Stochastic8 { seed },
        ..Default::default()
    };
    let q = QuantizedTensor::quantize(Nvfp4::default(), &x, 1, x.len(), &opts).unwrap();
    let up = E2M1::from_f32(1.0).to_bits();
    let lo = E2M1::from_f32(0.5).to_bits();
    let (mut ups, mut downs) = (0, 0);
    for e in (0..x.len()).filter(|e| e % 16 != 0) {
        match code(&q, e) {
            c if c == up => ups += 1,
            c if c == lo => downs += 1,
            c => panic!("element {e}: code {c:#x} is neither neighbour"),
        }
    }
    (ups, downs)
}

#[test]
fn eight_bits_of_resolution() {
    // Below 1/256 of the gap, ⌊256·f⌋ = 0: never up, where 32 bits would
    // round up about once in 512 here.
    let (ups, downs) = e2m1_gap(1.0 / 512.0, 4096, 1);
    assert_eq!((ups, downs), (0, 4096 * 15));
    // At 255/256 + a little, only byte 0 rounds down: about 1 in 256.
    let (ups, downs) = e2m1_gap(255.5 / 256.0, 4096, 2);
    assert!(
        downs > 0 && downs < 2 * 4096 * 15 / 256,
        "{downs} down of {}",
        ups + downs
    );
}

#[test]
fn rounds_up_at_the_fractions_rate() {
    // P(up) = ⌊256·f⌋/256: f = 0.3 gives 76/256. With 61440 elements the
    // standard deviation of the count is about 113; allow 6 of them.
    for (seed, frac) in [(3, 0.3f32), (4, 0.75)] {
        let (ups, downs) = e2m1_gap(frac, 4096, seed);
        let n = (ups + downs) as f64;
        let p = (256.0 * frac).floor() as f64 / 256.0;
        let sd = (n * p * (1.0 - p)).sqrt();
        assert!(
            (ups as f64 - n * p).abs() < 6.0 * sd,
            "f = {frac}: {ups} up of {n}, expected {}",
            n * p
        );
    }
}

#[test]
fn bytes_do_not_depend_on_threads() {
    // Large enough for the parallel paths: a band per task (NVFP4) and one
    // whole-tensor band cut into row chunks (FP8 per tensor).
    let (rows, cols) = (256, 1280);
    let x = input(rows * cols, 3.0, 6);
    let opts = QuantizeOptions {
        rounding: TensorRounding::Stochastic8 { seed: 21 },
        ..Default::default()
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let a = QuantizedTensor::quantize(Nvfp4::default(), &x, rows, cols, &opts).unwrap();
            let f = Fp8Tensorwise::<E4M3>::current();
            let b = QuantizedTensor::quantize(f, &x, rows, cols, &opts).unwrap();
            (a.data().to_vec(), b.data().to_vec())
        })
    };
    let one = run(1);
    for threads in [2, 3] {
        assert!(run(threads) == one, "{threads} threads");
    }
}
