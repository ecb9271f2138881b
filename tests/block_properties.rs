//! Properties of the block formats, checked on random inputs (proptest) and
//! derived from the definitions rather than from the code.

use blockscale::format::{
    BlockFormat, Fp8Blockwise, Fp8Tensorwise, Mx, MxFp4, MxFp6E2M3, MxFp6E3M2, MxFp8E4M3,
    MxFp8E5M2, MxInt8, Nvfp4,
};
use blockscale::scale::mx::MxScaleRule;
use blockscale::tensor::{Direction, QuantizeOptions, QuantizedTensor, TensorRounding};
use blockscale::{E4M3, Element};
use proptest::prelude::*;

/// A heavy-tailed matrix: magnitudes spread over several binades, with signs.
fn matrix(rows: usize, cols: usize) -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec((-1.0f32..1.0, -6i32..6), rows * cols)
        .prop_map(|v| v.into_iter().map(|(m, e)| m * 2f32.powi(e)).collect())
}

/// |x − x̂| ≤ half the element spacing at the top of the element's range,
/// times the block's dequantization factor: the bound of round-to-nearest
/// when nothing clips. `slack` allows for clipping by rounded block scales.
/// The element map (`x · m` or `x / d`, in f32) rounds once before the
/// element does, so a value within a relative 2^-24 of a midpoint may
/// round to the far side: one f32 ulp of |x| more.
fn check_error_bound<F: BlockFormat>(f: F, x: &[f32], rows: usize, cols: usize, slack: f32) {
    let q = QuantizedTensor::quantize(f, x, rows, cols, &QuantizeOptions::default()).unwrap();
    let d = q.dequantize();
    let spacing = 2f32.powi(blockscale::scale::mx::emax::<F::Elem>() - F::Elem::MAN_BITS as i32);
    for r in 0..rows {
        for c in 0..cols {
            let i = r * cols + c;
            let factor = q
                .format()
                .dequant_factor(q.scale_at(r, c).unwrap(), q.global());
            let bound = factor * spacing / 2.0 * slack + x[i].abs() * f32::EPSILON;
            assert!(
                (x[i] - d[i]).abs() <= bound,
                "{}: x {} x̂ {} bound {bound}",
                q.format().name(),
                x[i],
                d[i]
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn dequantization_error_is_within_the_format_bound(x in matrix(4, 64)) {
        // RCEIL and FP8 current scaling never clip.
        check_error_bound(MxFp4::default(), &x, 4, 64, 1.0);
        check_error_bound(MxFp6E2M3::default(), &x, 4, 64, 1.0);
        check_error_bound(MxFp6E3M2::default(), &x, 4, 64, 1.0);
        check_error_bound(MxFp8E4M3::default(), &x, 4, 64, 1.0);
        check_error_bound(MxFp8E5M2::default(), &x, 4, 64, 1.0);
        check_error_bound(MxInt8::default(), &x, 4, 64, 1.0);
        check_error_bound(Fp8Tensorwise::<E4M3>::current(), &x, 4, 64, 1.0);
        check_error_bound(Fp8Blockwise::<E4M3>::new(1, 32), &x, 4, 64, 1.0);
        // NVFP4's E4M3 block scale rounds to nearest, so a block's top can
        // exceed 6 by up to half an E4M3 ulp (1/16) and clip: allow it.
        check_error_bound(Nvfp4::default(), &x, 4, 64, 1.25);
    }

    /// FLOOR puts every block's largest element in the element's top binade,
    /// so quantizing the dequantized tensor gives the same bytes.
    #[test]
    fn floor_mx_quantization_is_idempotent(x in matrix(2, 64)) {
        fn check<T: Element>(x: &[f32]) {
            let f = Mx::<T>::new(MxScaleRule::Floor);
            let q = QuantizedTensor::quantize(f, x, 2, 64, &QuantizeOptions::default()).unwrap();
            let q2 = QuantizedTensor::quantize(f, &q.dequantize(), 2, 64, &QuantizeOptions::default()).unwrap();
            assert_eq!(q.data(), q2.data(), "{}", T::NAME);
            assert_eq!(q.scales(), q2.scales(), "{}", T::NAME);
        }
        check::<blockscale::E2M1>(&x);
        check::<blockscale::E2M3>(&x);
        check::<blockscale::E3M2>(&x);
        check::<blockscale::E4M3>(&x);
        check::<blockscale::E5M2>(&x);
        check::<blockscale::Int8>(&x);
    }

    /// 2-D tiles: the columnwise copy is the rowwise copy transposed, bit for bit.
    #[test]
    fn two_d_columnwise_is_rowwise_transposed(x in matrix(32, 64)) {
        fn check<F: BlockFormat>(f: F, x: &[f32])
        where
            F::Scale: PartialEq,
        {
            let row = QuantizedTensor::quantize(f.clone(), x, 32, 64, &QuantizeOptions::default()).unwrap();
            let col_opts = QuantizeOptions { direction: Direction::Columnwise, ..Default::default() };
            let col = QuantizedTensor::quantize(f, x, 32, 64, &col_opts).unwrap();
            assert_eq!(col.stored_shape(), (64, 32));
            for r in 0..32 {
                for c in 0..64 {
                    assert_eq!(row.element(r, c).unwrap().to_bits(), col.element(c, r).unwrap().to_bits());
                    assert_eq!(row.scale_at(r, c), col.scale_at(c, r));
                }
            }
            assert_eq!(row.dequantize(), col.dequantize());
        }
        check(Nvfp4::WEIGHTS_2D, &x);
        check(MxFp8E4M3::new_2d(MxScaleRule::Rceil), &x);
        check(Fp8Blockwise::<E4M3>::new(16, 16), &x);
    }
}

/// Columnwise quantization of an R × C matrix is the rowwise quantization
/// of its transpose, written out here element by element: the same data
/// and scale bytes, for 1-D blocks and per-tensor scales, with nearest and
/// stochastic rounding, from f32 and from bf16. The shapes cross the
/// quantizer's staging of source columns: column counts that leave a
/// partial strip of 16, a tall matrix whose strip holds fewer columns, and
/// one past the parallel threshold (2^18 elements).
#[test]
fn one_d_columnwise_is_rowwise_of_the_transpose() {
    fn check<F: BlockFormat, S: blockscale::element::slice::Real>(
        f: F,
        x: &[S],
        (rows, cols): (usize, usize),
        rounding: TensorRounding,
    ) where
        F::Scale: PartialEq + core::fmt::Debug,
    {
        let t: Vec<S> = (0..cols * rows)
            .map(|i| x[(i % rows) * cols + i / rows])
            .collect();
        let col_opts = QuantizeOptions {
            direction: Direction::Columnwise,
            rounding,
            ..Default::default()
        };
        let row_opts = QuantizeOptions {
            rounding,
            ..Default::default()
        };
        let col = QuantizedTensor::quantize(f.clone(), x, rows, cols, &col_opts).unwrap();
        let want = QuantizedTensor::quantize(f, &t, cols, rows, &row_opts).unwrap();
        assert_eq!(col.stored_shape(), (cols, rows));
        assert_eq!(col.data(), want.data(), "{rows}x{cols} {rounding:?}");
        assert_eq!(col.scales(), want.scales(), "{rows}x{cols} {rounding:?}");
    }
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        // Uniform in [-4, 4), a random binade lower.
        let m = (state >> 40) as f32 / (1u64 << 24) as f32 * 8.0 - 4.0;
        m * 2f32.powi(-((state % 8) as i32))
    };
    let sr = TensorRounding::Stochastic { seed: 7 };
    let near = TensorRounding::NearestEven;
    for (rows, cols) in [(64, 50), (160, 33), (96, 17), (20000, 20), (512, 520)] {
        let x: Vec<f32> = (0..rows * cols).map(|_| next()).collect();
        check(MxFp8E4M3::default(), &x, (rows, cols), near);
        check(MxFp4::default(), &x, (rows, cols), sr);
        check(Nvfp4::default(), &x, (rows, cols), near);
        check(Fp8Tensorwise::<E4M3>::current(), &x, (rows, cols), near);
        let bf: Vec<half::bf16> = x.iter().map(|&v| half::bf16::from_f32(v)).collect();
        check(MxFp8E4M3::default(), &bf, (rows, cols), sr);
    }
}

/// 1-D blocks are not transposable: the columnwise copy is re-quantized from
/// the high-precision input with its own block amaxes.
#[test]
fn one_d_columnwise_requantizes_along_columns() {
    // Column 0 holds a large value; rowwise, it only affects row 0's block.
    let mut x = vec![1.0f32; 16 * 16];
    x[0] = 100.0;
    let col = QuantizedTensor::quantize(
        Nvfp4::default(),
        &x,
        16,
        16,
        &QuantizeOptions {
            direction: Direction::Columnwise,
            ..Default::default()
        },
    )
    .unwrap();
    let row = QuantizedTensor::quantize(Nvfp4::default(), &x, 16, 16, &QuantizeOptions::default())
        .unwrap();
    // Rowwise, row 1 is all ones: A = 100 gives S_enc = 26.88, s_b =
    // E4M3(4.48) = 4.5, q = 6, x̂ = 6 · 4.5 · 100/2688 ≈ 1.0045.
    assert!((row.dequantize()[16] - 1.0).abs() < 0.005);
    // Columnwise, x[1][0] = 1 shares column 0's block with 100: s_b = 448,
    // e_b = 26.88/448 = 0.06, and 0.06 rounds to 0.
    assert_eq!(col.dequantize()[16], 0.0);
    assert_eq!(col.scale_at(0, 1), col.scale_at(0, 0));
    assert_ne!(col.scale_at(0, 1), col.scale_at(1, 0));
}

/// Stochastic rounding: unbiased over seeds, bytes fixed by the seed.
#[test]
fn stochastic_rounding_is_unbiased_over_seeds_and_reproducible() {
    let x: Vec<f32> = (0..64)
        .map(|i| ((i * 37 % 64) as f32 - 31.5) * 0.173)
        .collect();
    let sr = |seed| QuantizeOptions {
        rounding: TensorRounding::Stochastic { seed },
        ..Default::default()
    };
    let a = QuantizedTensor::quantize(Nvfp4::default(), &x, 4, 16, &sr(9)).unwrap();
    let b = QuantizedTensor::quantize(Nvfp4::default(), &x, 4, 16, &sr(9)).unwrap();
    let c = QuantizedTensor::quantize(Nvfp4::default(), &x, 4, 16, &sr(10)).unwrap();
    assert_eq!(a.data(), b.data());
    assert_ne!(a.data(), c.data());
    // Block scales do not depend on the rounding; so E[x̂] = x element by element.
    const N: u64 = 3000;
    let mut mean = vec![0f64; 64];
    for seed in 0..N {
        let q = QuantizedTensor::quantize(Nvfp4::default(), &x, 4, 16, &sr(seed)).unwrap();
        assert_eq!(q.scales(), a.scales());
        for (m, v) in mean.iter_mut().zip(q.dequantize()) {
            *m += v as f64 / N as f64;
        }
    }
    for (i, (&m, &xi)) in mean.iter().zip(&x).enumerate() {
        // One draw's error is at most the element spacing times the factor
        // (≤ 2 · factor for E2M1), so its standard deviation is at most factor.
        let factor =
            Nvfp4::default().dequant_factor(a.scale_at(i / 16, i % 16).unwrap(), a.global()) as f64;
        let five_sigma = 5.0 * factor / (N as f64).sqrt();
        assert!(
            (m - xi as f64).abs() <= five_sigma,
            "element {i}: mean {m}, x {xi}, 5σ {five_sigma}"
        );
    }
}

/// torchao's RCEIL multiplies a NaN block by a NaN: the element codes are
/// the positive NaN on every SIMD level, whatever the sign of the block's
/// own NaN (x86 keeps either operand's NaN, so a multiply left it to the
/// compiler; found by `any_input` on an AVX-512 machine).
#[test]
fn a_nan_block_under_torchao_rceil_is_positive_nan_on_every_level() {
    use blockscale::scale::mx::MxProfile;
    let mut x = vec![1.0f32; 64];
    x[3] = -f32::NAN;
    x[40] = f32::from_bits(0xFFC0_1234);
    let f = MxFp8E4M3::new(MxScaleRule::Rceil).with_profile(MxProfile::TorchAo);
    let o = QuantizeOptions::default();
    blockscale::testing::check_quantize(f, &x, 1, 64, &o).unwrap();
    let q = QuantizedTensor::quantize(f, &x, 1, 64, &o).unwrap();
    assert_eq!(q.data(), [0x7F; 64]); // E4M3's positive NaN
    assert_eq!(q.scales()[0].to_bits(), 0xFF);
}

/// Dequantization `x̂ = q·f` keeps a NaN element's own NaN under a NaN
/// scale (SEMANTICS.md, special blocks), on every SIMD level this CPU has:
/// E4M3's 0xFF is its negative NaN, E8M0's 0xFF the NaN scale, and a
/// finite element there takes the scale's positive NaN. Found by
/// `any_input` on an AVX-512 machine, whose build commuted the multiply.
#[test]
fn a_nan_element_keeps_its_nan_under_a_nan_scale_on_every_level() {
    use blockscale::simd::{Level, with_level};
    let mut data = vec![0x01u8; 64]; // 2^-9
    for i in [5, 17, 40] {
        data[i] = 0xFF;
    }
    data[41] = 0x7F;
    let scales = vec![blockscale::E8M0::NAN, blockscale::E8M0::from_bits(127)];
    let q = QuantizedTensor::from_parts(
        MxFp8E4M3::default(),
        (1, 64),
        Direction::Rowwise,
        blockscale::tensor::PartialBlocks::Reject,
        data,
        scales,
        None,
    )
    .unwrap();
    let want: Vec<u32> = (0..64)
        .map(|i| match i {
            5 | 17 | 40 => 0xFFC0_0000,
            41 => 0x7FC0_0000,
            _ if i < 32 => 0x7FC0_0000,
            _ => 2f32.powi(-9).to_bits(),
        })
        .collect();
    for level in [
        Level::Portable,
        Level::Avx2,
        Level::Avx512,
        Level::Avx512Vnni,
    ] {
        let got = with_level(level, || q.dequantize());
        let got: Vec<u32> = got.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want, "{level:?}");
    }
}

/// Every format and option on arbitrary f32 bit patterns (NaN, ±Inf and
/// subnormals included) and shapes, with shrinking: the property set every
/// format has ([`blockscale::testing::check_quantize`], which the fuzz
/// target `quantize` checks too).
mod any_input {
    use super::*;
    use blockscale::format::{AnyFormat, FormatVisitor};
    use blockscale::scale::nvfp4::Nvfp4Profile;
    use blockscale::tensor::PartialBlocks;
    use blockscale::testing::check_quantize;

    fn check<F: BlockFormat>(f: F, x: &[f32], rows: usize, cols: usize, opts: QuantizeOptions) {
        if let Err(v) = check_quantize(f, x, rows, cols, &opts) {
            panic!("{v}");
        }
    }

    fn bits() -> impl Strategy<Value = f32> {
        prop_oneof![
            4 => (-1.0f32..1.0, -30i32..30).prop_map(|(m, e)| m * 2f32.powi(e)),
            1 => any::<u32>().prop_map(f32::from_bits),
        ]
    }

    fn case() -> impl Strategy<Value = (usize, usize, Vec<f32>, bool, bool, bool)> {
        (0usize..40, 0usize..80).prop_flat_map(|(r, c)| {
            (
                Just(r),
                Just(c),
                prop::collection::vec(bits(), r * c),
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn every_format_on_any_input((rows, cols, x, col, pad, sr) in case(), seed in any::<u64>()) {
            let opts = QuantizeOptions {
                direction: if col { Direction::Columnwise } else { Direction::Rowwise },
                partial_blocks: if pad { PartialBlocks::ZeroPad } else { PartialBlocks::Reject },
                // Both stochastic roundings, by the seed's low bit.
                rounding: match (sr, seed % 2) {
                    (false, _) => TensorRounding::NearestEven,
                    (true, 0) => TensorRounding::Stochastic { seed },
                    _ => TensorRounding::Stochastic8 { seed },
                },
                global_amax: None,
            };
            for &profile in Nvfp4Profile::ALL {
                check(Nvfp4 { profile, two_d: false }, &x, rows, cols, opts);
            }
            check(Nvfp4::WEIGHTS_2D, &x, rows, cols, opts);
            check(MxFp4::default(), &x, rows, cols, opts);
            check(Mx::<blockscale::E2M1>::new(MxScaleRule::Floor), &x, rows, cols, opts);
            check(MxFp6E2M3::default(), &x, rows, cols, opts);
            check(MxFp6E3M2::new(MxScaleRule::Ceil), &x, rows, cols, opts);
            check(MxFp8E4M3::new_2d(MxScaleRule::Even), &x, rows, cols, opts);
            check(MxFp8E5M2::default(), &x, rows, cols, opts);
            check(MxInt8::default(), &x, rows, cols, opts);
            for &profile in blockscale::scale::mx::MxProfile::ALL {
                for &rule in profile.rules() {
                    use blockscale::element::ElementKind;
                    if profile.writes(ElementKind::E2M1) {
                        check(MxFp4::new(rule).with_profile(profile), &x, rows, cols, opts);
                    }
                    if profile.writes(ElementKind::E2M3) {
                        check(MxFp6E2M3::new(rule).with_profile(profile), &x, rows, cols, opts);
                    }
                    if profile.writes(ElementKind::E4M3) {
                        check(MxFp8E4M3::new(rule).with_profile(profile), &x, rows, cols, opts);
                    }
                }
            }
            check(Fp8Tensorwise::<E4M3>::current(), &x, rows, cols, opts);
            check(Fp8Tensorwise::<blockscale::E5M2>::with_scale(3.0), &x, rows, cols, opts);
            check(Fp8Blockwise::<E4M3>::new(1, 16), &x, rows, cols, opts);
            check(Fp8Blockwise::<E4M3>::new(16, 16), &x, rows, cols, opts);
            // Every format in the format list at its defaults: a format
            // added to the list is covered here without an edit.
            struct Check<'a>(&'a [f32], usize, usize, QuantizeOptions);
            impl FormatVisitor for Check<'_> {
                type Output = ();
                fn visit<F: BlockFormat>(self, f: F) {
                    check(f, self.0, self.1, self.2, self.3)
                }
            }
            for f in AnyFormat::defaults() {
                f.visit(Check(&x, rows, cols, opts));
            }
        }
    }

    /// Regression (found by the `quantize` fuzz target): with torchao's
    /// formulas, a tensor amax so small that w = A/2688 underflows to 0 makes
    /// (a_b/6)/w a 0/0, so the block scale is NaN — as torchao computes it.
    /// JAX flushes the subnormal amax and gets 0 · ∞ = NaN too (as for an
    /// all-zero tensor). The other profiles give zeros.
    #[test]
    fn torchao_nvfp4_with_an_underflowing_global_scale_is_nan() {
        let x = vec![f32::from_bits(1); 16]; // 2^-149
        let q = |profile| {
            QuantizedTensor::quantize(
                Nvfp4 {
                    profile,
                    two_d: false,
                },
                &x,
                1,
                16,
                &QuantizeOptions::default(),
            )
            .unwrap()
            .dequantize()
        };
        assert!(q(Nvfp4Profile::TorchAo).iter().all(|v| v.is_nan()));
        assert!(q(Nvfp4Profile::Jax).iter().all(|v| v.is_nan()));
        for p in [
            Nvfp4Profile::TransformerEngine,
            Nvfp4Profile::ModelOptimizer,
            Nvfp4Profile::ModelOptimizerLegacy,
            Nvfp4Profile::CompressedTensors,
        ] {
            assert!(q(p).iter().all(|&v| v == 0.0), "{p:?}");
        }
    }
}

/// NVFP4 with no tensor amax given finds it itself: the bytes, scales and
/// global must equal those of the same call given the amax, on the
/// sequential and the parallel paths, rowwise and columnwise, with 1×16
/// and 16×16 tiles, and with zero-padded partial tiles. Rowwise 1×16 tiles
/// that divide the rows have their amaxes kept by the tensor amax pass up
/// to 4 Mi elements (1024 × 512 and 4096 × 80 here); 1024 × 4112 is past
/// that, and the given amax never keeps them.
#[test]
fn a_tensor_amax_found_equals_the_given_one() {
    use blockscale::tensor::PartialBlocks;
    let shapes = [
        (1, 16),
        (3, 48),
        (33, 40),
        (17, 17),
        (1024, 512),
        (4096, 80),
        (1024, 4112),
    ];
    for (rows, cols) in shapes {
        let x: Vec<f32> = (0..rows * cols)
            .map(|i| ((i as f32 * 0.61).sin() * 1e3).powi(3) * 1e-6)
            .collect();
        let amax = blockscale::scale::amax(&x);
        for f in [Nvfp4::default(), Nvfp4::WEIGHTS_2D] {
            for direction in [Direction::Rowwise, Direction::Columnwise] {
                let found = QuantizeOptions {
                    direction,
                    partial_blocks: PartialBlocks::ZeroPad,
                    ..Default::default()
                };
                let given = QuantizeOptions {
                    global_amax: Some(amax),
                    ..found
                };
                let a = QuantizedTensor::quantize(f, &x, rows, cols, &found).expect("found");
                let b = QuantizedTensor::quantize(f, &x, rows, cols, &given).expect("given");
                let what = format!("{rows}x{cols} {direction:?} {}", f.name());
                assert_eq!(a.global_amax(), Some(amax), "{what}");
                assert!(a.data() == b.data(), "{what}: the element bytes differ");
                assert!(a.scales() == b.scales(), "{what}: the scales differ");
            }
        }
    }
}
