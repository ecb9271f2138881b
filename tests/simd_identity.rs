//! Every SIMD path is bit-identical to the portable path (the
//! specification), on large seeded random inputs plus every special value:
//! ±0, f32 subnormals, ±Inf, NaNs with payloads, every element value, its
//! f32 neighbours and the exact midpoints (ties) between neighbouring
//! element values, and the saturation boundaries.
//!
//! Each test runs the public function twice in one process: at the level
//! this CPU and `BLOCKSCALE_SIMD` allow, and with the level capped at
//! `Portable` (`simd::with_level`). CI runs this file once more with
//! `BLOCKSCALE_SIMD=portable`, where both runs are portable.

use blockscale::element::{ConvertOptions, NanToFinite, Overflow, slice};
use blockscale::format::{
    BlockFormat, Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp6E2M3, MxFp6E3M2, MxFp8E4M3, MxFp8E5M2,
    MxInt8, Nvfp4, ScaleCodec,
};
use blockscale::scale::mx::{MxProfile, MxScaleRule};
use blockscale::scale::nvfp4::Nvfp4Profile;
use blockscale::simd::{Level, with_level};
use blockscale::tensor::{
    Direction, PartialBlocks, QuantizeOptions, QuantizedTensor, TensorRounding,
};
use blockscale::testing::{check_quantize, grid_points, levels, specials};
use blockscale::{E2M1, E2M3, E3M2, E4M3, E4M3Fnuz, E5M2, E5M2Fnuz, E8M0, Element, Int8};
use half::{bf16, f16};
use rand::{Rng, RngExt, SeedableRng, rngs::StdRng};

fn portable<R>(f: impl FnOnce() -> R) -> R {
    with_level(Level::Portable, f)
}

/// Runs `f` once per SIMD level this process may use, capped on this
/// thread (once, portable, where there is none).
fn each_level(f: impl Fn()) {
    let all = levels();
    for &l in all
        .iter()
        .filter(|&&l| l > Level::Portable || all.len() == 1)
    {
        with_level(l, &f);
    }
}

/// Seeded inputs: random bit patterns (every exponent, NaNs included) and
/// random values spread log-uniformly around the format's range.
fn random_inputs(n: usize, max: f32, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                f32::from_bits(rng.next_u32())
            } else {
                let e: f32 = rng.random_range(-30.0..4.0);
                let s = if rng.random::<bool>() { 1.0 } else { -1.0 };
                s * max * e.exp2() * rng.random_range(0.5f32..1.0)
            }
        })
        .collect()
}

fn all_inputs<T: Element>(n: usize, seed: u64) -> Vec<f32> {
    let mut x = specials();
    x.extend(grid_points::<T>());
    x.extend(random_inputs(n, T::MAX_F32, seed));
    x
}

fn opts_all() -> Vec<ConvertOptions> {
    let mut v = Vec::new();
    for overflow in [Overflow::NonSaturating, Overflow::Saturate] {
        for nan in [
            NanToFinite::MlDtypes,
            NanToFinite::Zero,
            NanToFinite::PositiveMax,
        ] {
            v.push(ConvertOptions {
                overflow,
                nan,
                ..Default::default()
            });
        }
    }
    v
}

fn check_encode<T: Element>() {
    let x = all_inputs::<T>(1 << 18, 1);
    for opts in opts_all() {
        let mut fast = vec![T::from_bits(0); x.len()];
        let mut spec = fast.clone();
        slice::encode(&x, &mut fast, opts).unwrap();
        portable(|| slice::encode(&x, &mut spec, opts)).unwrap();
        for i in 0..x.len() {
            assert_eq!(
                fast[i].to_bits(),
                spec[i].to_bits(),
                "{} {opts:?} x = {:e} ({:#010x})",
                T::NAME,
                x[i],
                x[i].to_bits()
            );
        }
        // Every tail length, and the half-precision sources.
        for n in 0..40 {
            let mut a = vec![T::from_bits(0); n];
            let mut b = a.clone();
            slice::encode(&x[..n], &mut a, opts).unwrap();
            portable(|| slice::encode(&x[..n], &mut b, opts)).unwrap();
            assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));
        }
        let h: Vec<f16> = x.iter().map(|&v| f16::from_f32(v)).collect();
        let bf: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
        slice::encode(&h, &mut fast, opts).unwrap();
        portable(|| slice::encode(&h, &mut spec, opts)).unwrap();
        assert!(
            fast.iter()
                .zip(&spec)
                .all(|(p, q)| p.to_bits() == q.to_bits())
        );
        slice::encode(&bf, &mut fast, opts).unwrap();
        portable(|| slice::encode(&bf, &mut spec, opts)).unwrap();
        assert!(
            fast.iter()
                .zip(&spec)
                .all(|(p, q)| p.to_bits() == q.to_bits())
        );
    }
}

fn check_stochastic<T: Element>() {
    use rand_xoshiro::Xoshiro256PlusPlus;
    let x = all_inputs::<T>(1 << 17, 2);
    for opts in opts_all() {
        let mut fast = vec![T::from_bits(0); x.len()];
        let mut spec = fast.clone();
        let mut g1 = Xoshiro256PlusPlus::seed_from_u64(9);
        let mut g2 = Xoshiro256PlusPlus::seed_from_u64(9);
        slice::encode_stochastic(&x, &mut fast, opts, &mut g1).unwrap();
        portable(|| slice::encode_stochastic(&x, &mut spec, opts, &mut g2)).unwrap();
        for i in 0..x.len() {
            assert_eq!(
                fast[i].to_bits(),
                spec[i].to_bits(),
                "SR {} {opts:?} x = {:e}",
                T::NAME,
                x[i]
            );
        }
        // Both consumed the same number of draws.
        assert_eq!(g1.next_u64(), g2.next_u64());
    }
}

/// Replays given random words, as [`slice::encode_stochastic`] draws them.
struct Replay<'a>(core::slice::Iter<'a, u32>);

impl blockscale::rand_core::TryRng for Replay<'_> {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(*self.0.next().expect("one word per element"))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        unreachable!("stochastic rounding draws u32s")
    }
    fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Self::Error> {
        unreachable!("stochastic rounding draws u32s")
    }
}

/// Codes of `x` stochastically rounded with the words `r`, one each.
fn encode_with<T: Element>(x: &[f32], r: &[u32], opts: ConvertOptions) -> Vec<u8> {
    let mut out = vec![T::from_bits(0); x.len()];
    slice::encode_stochastic(x, &mut out, opts, &mut Replay(r.iter())).unwrap();
    out.iter().map(|e| e.to_bits()).collect()
}

/// Stochastic rounding at its threshold. The portable engine rounds `x`
/// away from zero exactly when the random word is at least some `t` (its
/// discarded fraction's complement); a binary search on the portable path
/// finds `t` for every input, and each level must agree at `t − 1` and
/// `t`, and at 0 and `u32::MAX`. The inputs reach every f32 exponent
/// (f32 subnormals, element subnormals, values far below the smallest
/// step, overflow, Inf and NaN), so each shift of the kernels is met.
fn check_stochastic_threshold<T: Element>() {
    let mut rng = StdRng::seed_from_u64(5);
    let mut x = specials();
    x.extend(grid_points::<T>());
    for e in 0..=255u32 {
        for m in [0, 1, 0x40_0000, 0x7F_FFFF, rng.next_u32() & 0x7F_FFFF] {
            for s in [0, 1u32 << 31] {
                x.push(f32::from_bits(s | e << 23 | m));
            }
        }
    }
    let opts = ConvertOptions::default();
    let rounded = |v: f32, r: u32| portable(|| encode_with::<T>(&[v], &[r], opts))[0];
    let (mut xs, mut rs) = (Vec::new(), Vec::new());
    for &v in &x {
        let down = rounded(v, 0);
        // The smallest word that rounds up, if any: the code is monotone in it.
        let (mut lo, mut hi) = (0u64, 1u64 << 32);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if rounded(v, mid as u32) == down {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let mut words = vec![0, u32::MAX, lo as u32];
        if hi <= u32::MAX as u64 {
            words.push(hi as u32);
        }
        for w in words {
            xs.push(v);
            rs.push(w);
        }
    }
    let fast = encode_with::<T>(&xs, &rs, opts);
    let spec = portable(|| encode_with::<T>(&xs, &rs, opts));
    for i in 0..xs.len() {
        assert_eq!(
            fast[i],
            spec[i],
            "SR {} x = {:e} ({:#010x}), word {:#010x}",
            T::NAME,
            xs[i],
            xs[i].to_bits(),
            rs[i]
        );
    }
}

fn check_decode<T: Element>() {
    let mut rng = StdRng::seed_from_u64(3);
    let codes: Vec<T> = (0..4096 + 13)
        .map(|i| {
            if i < 256 {
                T::from_bits(i as u8)
            } else {
                T::from_bits(rng.random())
            }
        })
        .collect();
    for n in (0..40).chain([codes.len()]) {
        let mut a = vec![0f32; n];
        let mut b = vec![1f32; n];
        slice::decode(&codes[..n], &mut a).unwrap();
        portable(|| slice::decode(&codes[..n], &mut b)).unwrap();
        assert!(
            a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()),
            "{} n = {n}",
            T::NAME
        );
    }
}

#[test]
fn element_encode_nearest() {
    each_level(|| {
        check_encode::<E2M1>();
        check_encode::<E2M3>();
        check_encode::<E3M2>();
        check_encode::<E4M3>();
        check_encode::<E5M2>();
        check_encode::<E8M0>();
        check_encode::<Int8>();
    });
}

#[test]
fn element_encode_stochastic() {
    each_level(|| {
        check_stochastic::<E2M1>();
        check_stochastic::<E2M3>();
        check_stochastic::<E3M2>();
        check_stochastic::<E4M3>();
        check_stochastic::<E5M2>();
        check_stochastic::<Int8>();
    });
}

#[test]
fn element_encode_stochastic_threshold() {
    each_level(|| {
        check_stochastic_threshold::<E2M1>();
        check_stochastic_threshold::<E2M3>();
        check_stochastic_threshold::<E3M2>();
        check_stochastic_threshold::<E4M3>();
        check_stochastic_threshold::<E5M2>();
        check_stochastic_threshold::<Int8>();
    });
}

#[test]
fn element_decode() {
    each_level(|| {
        check_decode::<E2M1>();
        check_decode::<E2M3>();
        check_decode::<E3M2>();
        check_decode::<E4M3>();
        check_decode::<E5M2>();
        check_decode::<E4M3Fnuz>();
        check_decode::<E5M2Fnuz>();
        check_decode::<E8M0>();
        check_decode::<Int8>();
    });
}

// ---------------------------------------------------------------------------
// Block quantize and dequantize.

/// Seeded rows of very different magnitudes, with an all-zero block, a
/// block of subnormals and (if `specials`) ±Inf, NaN and element midpoints.
fn tensor_input(rows: usize, cols: usize, seed: u64, specials: bool) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut x: Vec<f32> = (0..rows * cols)
        .map(|i| {
            let row_scale = ((i / cols) as f32 * 0.37).sin() * 12.0;
            let e: f32 = rng.random_range(-6.0..3.0);
            let s = if rng.random::<bool>() { 1.0 } else { -1.0 };
            s * (e + row_scale).exp2() * rng.random_range(0.5f32..1.0)
        })
        .collect();
    let n = x.len();
    for v in x.iter_mut().take(n.min(40)) {
        *v = 0.0;
    }
    for (k, v) in x.iter_mut().skip(64).take(32).enumerate() {
        *v = f32::from_bits(k as u32 * 1000 + 1);
    }
    if specials && n > 300 {
        x[200] = f32::INFINITY;
        x[230] = f32::NEG_INFINITY;
        x[n - 5] = f32::from_bits(0xFFC0_0001);
        for (k, v) in x.iter_mut().skip(256).take(16).enumerate() {
            *v = 0.25 * k as f32 + 0.125;
        }
    }
    x
}

type Bits = (Vec<u8>, Vec<u32>, String, Vec<u32>);

fn quantize_bits<F: BlockFormat>(
    f: &F,
    x: &[f32],
    rows: usize,
    cols: usize,
    opts: &QuantizeOptions,
) -> Option<Bits> {
    let q = QuantizedTensor::quantize(f.clone(), x, rows, cols, opts).ok()?;
    let scales = q.scales().iter().map(|s| s.value().to_bits()).collect();
    let deq = q.dequantize().iter().map(|v| v.to_bits()).collect();
    Some((q.data().to_vec(), scales, format!("{:?}", q.global()), deq))
}

fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

fn check_format<F: BlockFormat>(f: F) {
    let shapes = [
        (4, 64),
        (3, 48),
        (5, 33),
        (32, 256),
        (17, 130),
        (33, 31),
        (1, 1),
        (0, 32),
        (3, 0),
    ];
    for (si, &(rows, cols)) in shapes.iter().enumerate() {
        for specials in [false, true] {
            let x = tensor_input(rows, cols, si as u64, specials);
            for direction in [Direction::Rowwise, Direction::Columnwise] {
                for rounding in [
                    TensorRounding::NearestEven,
                    TensorRounding::Stochastic { seed: 11 },
                    TensorRounding::Stochastic8 { seed: 11 },
                ] {
                    for partial_blocks in [PartialBlocks::Reject, PartialBlocks::ZeroPad] {
                        let opts = QuantizeOptions {
                            direction,
                            rounding,
                            partial_blocks,
                            global_amax: None,
                        };
                        if let Err(v) = check_quantize(f.clone(), &x, rows, cols, &opts) {
                            panic!("{v} ({rows}x{cols} {opts:?} specials {specials})");
                        }
                    }
                }
            }
        }
    }
    // Values exact in bf16 (property 3 quantizes them from bf16 too), and
    // a caller-supplied global amax.
    let (rows, cols) = (8, 128);
    let x: Vec<f32> = tensor_input(rows, cols, 7, false)
        .iter()
        .map(|&v| bf16::from_f32(v).to_f32())
        .collect();
    let fixed = QuantizeOptions {
        global_amax: Some(1000.0),
        ..Default::default()
    };
    for o in [QuantizeOptions::default(), fixed] {
        if let Err(v) = check_quantize(f.clone(), &x, rows, cols, &o) {
            panic!("{v} (bf16 {o:?})");
        }
    }
}

/// Large enough for the parallel path: the bytes equal the portable,
/// single-threaded result whatever the thread count.
fn check_parallel<F: BlockFormat>(f: F) {
    for level in levels() {
        check_parallel_at(f.clone(), level);
    }
}

fn check_parallel_at<F: BlockFormat>(f: F, level: Level) {
    let (rows, cols) = (256, 1280);
    assert!(rows * cols >= blockscale::tensor::PARALLEL_MIN_ELEMENTS);
    let x = tensor_input(rows, cols, 99, false);
    for direction in [Direction::Rowwise, Direction::Columnwise] {
        for rounding in [
            TensorRounding::NearestEven,
            TensorRounding::Stochastic { seed: 3 },
            TensorRounding::Stochastic8 { seed: 3 },
        ] {
            let opts = QuantizeOptions {
                direction,
                rounding,
                ..Default::default()
            };
            let spec = in_pool(1, || portable(|| quantize_bits(&f, &x, rows, cols, &opts)));
            for threads in [1, 2, 3] {
                let fast = in_pool(threads, || {
                    with_level(level, || quantize_bits(&f, &x, rows, cols, &opts))
                });
                assert!(
                    fast == spec,
                    "{} {opts:?} {threads} threads {level:?}",
                    f.name()
                );
            }
        }
    }
}

#[test]
fn nvfp4_quantize_and_dequantize() {
    each_level(|| {
        for profile in [
            Nvfp4Profile::TransformerEngine,
            Nvfp4Profile::ModelOptimizer,
            Nvfp4Profile::TorchAo,
            Nvfp4Profile::Jax,
        ] {
            for two_d in [false, true] {
                check_format(Nvfp4 { profile, two_d });
            }
        }
    });
}

/// NVFP4 rows with an all-zero block at every position, NaN blocks and a
/// short last block. The encode kernels run one-vector blocks in a loop
/// of their own, which hands the short block to the general loop. The two
/// profiles are ones whose maps reach the kernels (Model-Optimizer's and
/// JAX's casts keep theirs on the portable path); they map a zero block
/// differently (Transformer Engine's scale 0, torchao's clamped to 2⁻⁶).
#[test]
fn nvfp4_blocks_of_every_kind_mid_row() {
    let (rows, cols) = (12, 16 * 11 + 5);
    let mut x = tensor_input(rows, cols, 21, false);
    for r in 0..rows {
        let row = &mut x[r * cols..(r + 1) * cols];
        // Row r: block r zero (the short last one in row 11), and from
        // row 6 on block r - 6 holds a NaN.
        row[16 * r..(16 * r + 16).min(cols)].fill(0.0);
        if r >= 6 {
            row[16 * (r - 6) + 3] = f32::NAN;
        }
    }
    each_level(|| {
        for profile in [Nvfp4Profile::TransformerEngine, Nvfp4Profile::TorchAo] {
            for rounding in [
                TensorRounding::NearestEven,
                TensorRounding::Stochastic8 { seed: 5 },
            ] {
                let opts = QuantizeOptions {
                    rounding,
                    partial_blocks: PartialBlocks::ZeroPad,
                    ..Default::default()
                };
                let f = Nvfp4 {
                    profile,
                    two_d: false,
                };
                if let Err(v) = check_quantize(f, &x, rows, cols, &opts) {
                    panic!("{v} ({opts:?})");
                }
            }
        }
    });
}

/// NVFP4 rows that Transformer Engine's profile scales and encodes in one
/// pass on AVX2 and AVX-512 (`BlockFormat::encode_row_fused`): whole
/// blocks, 331 a row (the kernels' group of four chunks of 64 whose maps
/// they form together, then a group of a whole chunk and one of 11: at
/// AVX2 a vector of 8 and a short one of 3, at AVX-512 one masked vector
/// of 11), with a zero, a NaN, an infinite, a subnormal and a tie block at
/// a place that moves over the chunks from row to row; tensor amaxes found, given larger
/// and given so small that block scales saturate; and one row long
/// enough for the threads to share.
#[test]
fn nvfp4_fused_rows() {
    let (rows, cols) = (9, 16 * 331);
    let mut x = tensor_input(rows, cols, 31, true);
    for r in 0..rows {
        let row = &mut x[r * cols..(r + 1) * cols];
        let b = |k: usize| 16 * ((37 * r + 7 * k) % 331);
        row[b(0)..b(0) + 16].fill(0.0);
        row[b(1) + 5] = f32::NAN;
        row[b(2) + 9] = f32::NEG_INFINITY;
        for (j, v) in row[b(3)..b(3) + 16].iter_mut().enumerate() {
            *v = f32::from_bits(j as u32 * 4099 + 1);
        }
        for (j, v) in row[b(4)..b(4) + 16].iter_mut().enumerate() {
            *v = 0.25 * j as f32 + 0.125;
        }
        // Adjacent NaN blocks, and in row 0 the blocks either side of each
        // boundary between chunks, within a group and between groups: the
        // one-pass kernel tests for NaNs only in the blocks whose amax
        // says so.
        row[b(5) + 15] = f32::NAN;
        row[16 * ((37 * r + 36) % 331)] = -f32::NAN;
        if r == 0 {
            for blk in [63, 64, 191, 192, 255, 256, 319, 320] {
                row[16 * blk + 3] = f32::NAN;
            }
        }
    }
    each_level(|| {
        for global_amax in [None, Some(3.0e4), Some(1.0e-3)] {
            let opts = QuantizeOptions {
                global_amax,
                ..Default::default()
            };
            if let Err(v) = check_quantize(Nvfp4::default(), &x, rows, cols, &opts) {
                panic!("{v} ({opts:?})");
            }
        }
    });
    let n = (blockscale::tensor::PARALLEL_MIN_ELEMENTS / 16 + 3) * 16;
    let x = tensor_input(1, n, 32, true);
    let opts = QuantizeOptions::default();
    let f = Nvfp4::default();
    let spec = in_pool(1, || portable(|| quantize_bits(&f, &x, 1, n, &opts)));
    for level in levels() {
        let fast = in_pool(2, || {
            with_level(level, || quantize_bits(&f, &x, 1, n, &opts))
        });
        assert!(fast == spec, "one row of {n}, {level:?}");
    }
}

#[test]
fn mx_quantize_and_dequantize() {
    each_level(|| {
        for rule in [
            MxScaleRule::Rceil,
            MxScaleRule::Floor,
            MxScaleRule::Ceil,
            MxScaleRule::Even,
        ] {
            check_format(MxFp4::new(rule));
            check_format(MxFp8E4M3::new(rule));
        }
        // Every producer's arithmetic, with each rule it offers.
        for &profile in MxProfile::ALL {
            for &rule in profile.rules() {
                check_format(MxFp4::new(rule).with_profile(profile));
                check_format(MxFp8E4M3::new(rule).with_profile(profile));
                check_format(MxFp6E3M2::new(rule).with_profile(profile));
            }
        }
        check_format(MxFp4::new_2d(MxScaleRule::Rceil));
        check_format(MxFp6E2M3::default());
        check_format(MxFp6E3M2::default());
        check_format(MxFp8E5M2::default());
        check_format(MxInt8::default());
    });
}

#[test]
fn fp8_quantize_and_dequantize() {
    each_level(|| {
        check_format(Fp8Tensorwise::<E4M3>::current());
        check_format(Fp8Tensorwise::<E5M2>::current());
        check_format(Fp8Tensorwise::<E4M3>::with_scale(3.5));
        check_format(Fp8Blockwise::<E4M3>::ACTIVATIONS);
        check_format(Fp8Blockwise::<E4M3>::new(16, 16));
        check_format(Fp8Blockwise::<E5M2>::ACTIVATIONS);
    });
}

#[test]
fn parallel_equals_single_threaded() {
    check_parallel(Nvfp4::default());
    check_parallel(Nvfp4::WEIGHTS_2D);
    check_parallel(MxFp4::default());
    check_parallel(MxFp8E4M3::default());
    check_parallel(Fp8Tensorwise::<E4M3>::current());
    check_parallel(Fp8Blockwise::<E4M3>::WEIGHTS);
}

/// Quantizing into a used tensor's buffers gives the fresh tensor's bytes,
/// whatever the buffers held (odd FP4 counts included).
fn check_requantize<F: BlockFormat>(f: F) {
    let opts = QuantizeOptions {
        partial_blocks: PartialBlocks::ZeroPad,
        ..Default::default()
    };
    for &(rows, cols) in &[(5, 33), (17, 130), (4, 64), (256, 1280)] {
        let x = tensor_input(rows, cols, 5, true);
        let junk: Vec<f32> = tensor_input(rows, cols, 6, false)
            .iter()
            .map(|v| -v * 3.0)
            .collect();
        for rounding in [
            TensorRounding::NearestEven,
            TensorRounding::Stochastic { seed: 8 },
            TensorRounding::Stochastic8 { seed: 8 },
        ] {
            let o = QuantizeOptions { rounding, ..opts };
            let fresh = QuantizedTensor::quantize(f.clone(), &x, rows, cols, &o).unwrap();
            let mut q = QuantizedTensor::quantize(f.clone(), &junk, rows, cols, &o).unwrap();
            q.requantize(&x, rows, cols, &o).unwrap();
            assert_eq!(q.data(), fresh.data(), "{} {rows}x{cols}", f.name());
            let bits = |t: &QuantizedTensor<F>| -> Vec<u32> {
                t.scales().iter().map(|s| s.value().to_bits()).collect()
            };
            assert_eq!(bits(&q), bits(&fresh));
            let mut small =
                QuantizedTensor::quantize(f.clone(), &junk[..cols], 1, cols, &o).unwrap();
            small.requantize(&x, rows, cols, &o).unwrap();
            assert_eq!(small.data(), fresh.data());
        }
    }
}

#[test]
fn requantize_equals_quantize() {
    each_level(|| {
        check_requantize(Nvfp4::default());
        check_requantize(MxFp4::default());
        check_requantize(MxFp8E4M3::default());
        check_requantize(Fp8Tensorwise::<E4M3>::current());
    });
}

/// Every f32 bit pattern, nearest even with ml_dtypes' and the saturating
/// options: the kernels against the portable engine. About a minute on two
/// cores, so not part of the default run:
/// `cargo test --release --test simd_identity -- --ignored`.
#[test]
#[ignore]
fn element_encode_exhaustive() {
    use rayon::prelude::*;
    fn all<T: Element>(opts: ConvertOptions) {
        (0u64..1 << 12).into_par_iter().for_each(|chunk| {
            let x: Vec<f32> = (0..1u64 << 20)
                .map(|i| f32::from_bits(((chunk << 20) | i) as u32))
                .collect();
            let mut fast = vec![T::from_bits(0); x.len()];
            let mut spec = fast.clone();
            slice::encode(&x, &mut fast, opts).unwrap();
            portable(|| slice::encode(&x, &mut spec, opts)).unwrap();
            for i in 0..x.len() {
                assert_eq!(
                    fast[i].to_bits(),
                    spec[i].to_bits(),
                    "{} {opts:?} {:#010x}",
                    T::NAME,
                    x[i].to_bits()
                );
            }
        });
    }
    for opts in [ConvertOptions::ML_DTYPES, ConvertOptions::SATFINITE] {
        all::<E2M1>(opts);
        all::<E2M3>(opts);
        all::<E3M2>(opts);
        all::<E4M3>(opts);
        all::<E5M2>(opts);
        all::<Int8>(opts);
    }
}
