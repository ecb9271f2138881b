//! FP8 per-tensor scale rules (Transformer Engine current and delayed
//! scaling) against values worked out by hand.

use blockscale::Error;
use blockscale::element::ElementKind as Fp8Element;
use blockscale::recipe::{AmaxCompute, DelayedScaler, DelayedScalingConfig, Fp8Format};
use blockscale::scale::fp8::{CurrentScaleOptions, current_scale, current_scale_with, scale_inv};

const E4M3_MAX: f32 = 448.0;
const E5M2_MAX: f32 = 57344.0;
/// 2^127: f32::MAX with its mantissa cleared.
const TWO_127: f32 = 170141183460469231731687303715884105728.0;

#[test]
fn current_scale_plain_values() {
    // 448 / 2 = 224 = 1.75 · 2^7, exact.
    assert_eq!(current_scale(2.0, E4M3_MAX, false), 224.0);
    assert_eq!(current_scale(448.0, E4M3_MAX, false), 1.0);
    assert_eq!(current_scale(896.0, E4M3_MAX, false), 0.5);
    // 57344 / 2 = 28672 = 1.75 · 2^14.
    assert_eq!(current_scale(2.0, E5M2_MAX, false), 28672.0);
    // 448 / 3 = 149.333…: in [128, 256) the f32 step is 2^-16, and
    // 149.333… · 2^16 = 9786709.33 rounds to 9786709 = 0x955555, so the
    // bits are exponent 134 (0x86) and fraction 0x155555.
    assert_eq!(current_scale(3.0, E4M3_MAX, false).to_bits(), 0x4315_5555);
    // 448 / 1000 = 0.448 exactly, rounded once: the f32 nearest to 0.448.
    assert_eq!(current_scale(1000.0, E4M3_MAX, false), 0.448f32);
}

#[test]
fn current_scale_power_of_two_rounds_down() {
    assert_eq!(current_scale(2.0, E4M3_MAX, true), 128.0); // 224 → 2^7
    assert_eq!(current_scale(3.0, E4M3_MAX, true), 128.0); // 149.3 → 2^7
    assert_eq!(current_scale(1000.0, E4M3_MAX, true), 0.25); // 0.448 → 2^-2
    assert_eq!(current_scale(448.0, E4M3_MAX, true), 1.0); // already 2^0
    assert_eq!(current_scale(2.0, E5M2_MAX, true), 16384.0); // 28672 → 2^14
    assert_eq!(current_scale(3.5, E4M3_MAX, true), 128.0); // 128 exactly
}

#[test]
fn current_scale_special_amaxes_give_one() {
    for amax in [0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -5.0] {
        for pow2 in [false, true] {
            assert_eq!(
                current_scale(amax, E4M3_MAX, pow2),
                1.0,
                "amax {amax}, pow2 {pow2}"
            );
        }
    }
}

#[test]
fn current_scale_overflow_gives_flt_max() {
    // 448 / 1e-38 ≈ 4.5e40 > f32::MAX ≈ 3.4e38.
    assert_eq!(current_scale(1e-38, E4M3_MAX, false), f32::MAX);
    assert_eq!(current_scale(f32::from_bits(1), E5M2_MAX, false), f32::MAX);
    // f32::MAX = (2 − 2^-23) · 2^127: clearing the mantissa gives 2^127.
    assert_eq!(current_scale(1e-38, E4M3_MAX, true), TWO_127);
    // Just below overflow: 448 / 2^-121 = 448 · 2^121 = 1.75 · 2^129 overflows,
    // 448 / 2^-119 = 1.75 · 2^127 does not.
    assert_eq!(current_scale(2f32.powi(-121), E4M3_MAX, false), f32::MAX);
    assert_eq!(
        current_scale(2f32.powi(-119), E4M3_MAX, false),
        1.75 * TWO_127
    );
}

#[test]
fn current_scale_epsilon_and_value_for_inf() {
    let eps = CurrentScaleOptions {
        amax_epsilon: 0.5,
        ..Default::default()
    };
    assert_eq!(current_scale_with(0.0, E4M3_MAX, eps), 896.0); // 448 / 0.5
    assert_eq!(current_scale_with(0.25, E4M3_MAX, eps), 896.0); // floored to 0.5
    assert_eq!(current_scale_with(2.0, E4M3_MAX, eps), 224.0); // above the floor
    assert_eq!(current_scale_with(f32::NAN, E4M3_MAX, eps), 1.0); // NaN is not < eps
    assert_eq!(current_scale_with(f32::INFINITY, E4M3_MAX, eps), 1.0);

    // bf16's largest value 0x7F7F = (2 − 2^-7) · 2^127 replaces an overflow.
    let bf16_max = f32::from_bits(0x7F7F_0000);
    let bf16 = CurrentScaleOptions {
        value_for_inf: bf16_max,
        ..Default::default()
    };
    assert_eq!(current_scale_with(1e-38, E4M3_MAX, bf16), bf16_max);
    let bf16_pow2 = CurrentScaleOptions {
        power_of_two: true,
        ..bf16
    };
    assert_eq!(current_scale_with(1e-38, E4M3_MAX, bf16_pow2), TWO_127);

    let default = CurrentScaleOptions::default();
    assert_eq!(
        (
            default.power_of_two,
            default.amax_epsilon,
            default.value_for_inf
        ),
        (false, 0.0, f32::MAX)
    );
}

#[test]
fn scale_inv_values() {
    assert_eq!(scale_inv(128.0), 1.0 / 128.0);
    assert_eq!(scale_inv(1.0), 1.0);
    assert_eq!(scale_inv(0.25), 4.0);
    // 1 / ((2 − 2^-23) · 2^127) = 2^-128 · (1 + 2^-24 + …): in the subnormal
    // range the step is 2^-149, so it rounds to 2^-128 = bits 0x0020_0000.
    assert_eq!(scale_inv(f32::MAX).to_bits(), 0x0020_0000);
    assert_eq!(scale_inv(0.0), f32::INFINITY);
}

#[test]
fn formats_and_maxima() {
    // The maxima of the two FP8 elements, by the format that uses each everywhere.
    assert_eq!(Fp8Format::E4M3.max_fwd(), 448.0);
    assert_eq!(Fp8Format::E5M2.max_fwd(), 57344.0);
    assert_eq!(Fp8Format::default(), Fp8Format::Hybrid);
    let cases = [
        (
            Fp8Format::E4M3,
            Fp8Element::E4M3,
            Fp8Element::E4M3,
            448.0,
            448.0,
        ),
        (
            Fp8Format::E5M2,
            Fp8Element::E5M2,
            Fp8Element::E5M2,
            57344.0,
            57344.0,
        ),
        (
            Fp8Format::Hybrid,
            Fp8Element::E4M3,
            Fp8Element::E5M2,
            448.0,
            57344.0,
        ),
    ];
    for (f, fwd, bwd, max_fwd, max_bwd) in cases {
        assert_eq!((f.forward(), f.backward()), (fwd, bwd), "{f:?}");
        assert_eq!((f.max_fwd(), f.max_bwd()), (max_fwd, max_bwd), "{f:?}");
    }
}

#[test]
fn config_defaults() {
    let te = DelayedScalingConfig::default();
    assert_eq!(
        (te.history_len, te.compute, te.margin),
        (1024, AmaxCompute::Max, 0)
    );
    let mg = DelayedScalingConfig::MEGATRON;
    assert_eq!(
        (mg.history_len, mg.compute, mg.margin),
        (1, AmaxCompute::MostRecent, 0)
    );
}

fn scaler(history_len: usize, compute: AmaxCompute, margin: i32) -> DelayedScaler {
    DelayedScaler::new(
        DelayedScalingConfig::new(history_len, compute, margin).unwrap(),
        E4M3_MAX,
    )
    .unwrap()
}

/// Feed `steps` of (amax measured at step t, scale expected *at* step t,
/// window expected after recording it).
fn run(s: &mut DelayedScaler, steps: &[(f32, f32, [f32; 3])]) {
    for (t, &(amax, scale_at_t, window)) in steps.iter().enumerate() {
        assert_eq!(s.scale(), scale_at_t, "scale used at step {t}");
        s.update(amax);
        let same = s
            .history()
            .iter()
            .zip(window)
            .all(|(&a, b)| a.to_bits() == b.to_bits());
        assert!(
            same,
            "window after step {t}: {:?}, expected {window:?}",
            s.history()
        );
    }
}

const NAN: f32 = f32::NAN;
const INF: f32 = f32::INFINITY;

#[test]
fn delayed_max_history_3() {
    let mut s = scaler(3, AmaxCompute::Max, 0);
    assert_eq!(s.history(), &[0.0, 0.0, 0.0]);
    run(
        &mut s,
        &[
            // step 0 has no history: scale 1; its amax 2 gives step 1 448/2.
            (2.0, 1.0, [0.0, 0.0, 2.0]),
            // step 1 uses max(2) = 2 → 224, although its own amax is 8.
            (8.0, 224.0, [0.0, 2.0, 8.0]),
            (1.0, 56.0, [2.0, 8.0, 1.0]),  // 448/max(2,8) = 56
            (4.0, 56.0, [8.0, 1.0, 4.0]),  // 448/max(2,8,1)
            (0.5, 56.0, [1.0, 4.0, 0.5]),  // 448/max(8,1,4); then 8 leaves
            (0.0, 112.0, [1.0, 4.0, 0.5]), // 448/max(1,4,0.5); zero: no roll
            (NAN, 112.0, [4.0, 0.5, NAN]), // zero step changed nothing
            (NAN, 112.0, [0.5, NAN, NAN]), // NaN ignored: 448/max(4,0.5)
            (NAN, 896.0, [NAN, NAN, NAN]), // 448/0.5
            (INF, 896.0, [NAN, NAN, INF]), // all NaN: max is 0, scale kept
            (7.0, 896.0, [NAN, INF, 7.0]), // Inf in window: kept
            (7.0, 896.0, [INF, 7.0, 7.0]), // still kept
            (7.0, 896.0, [7.0, 7.0, 7.0]), // still kept
        ],
    );
    assert_eq!(s.scale(), 64.0); // the Inf left: 448/7
}

#[test]
fn delayed_most_recent_history_3() {
    let mut s = scaler(3, AmaxCompute::MostRecent, 0);
    run(
        &mut s,
        &[
            (2.0, 1.0, [0.0, 0.0, 2.0]),
            (8.0, 224.0, [0.0, 2.0, 8.0]),   // 448/2
            (1.0, 56.0, [2.0, 8.0, 1.0]),    // 448/8
            (0.0, 448.0, [2.0, 8.0, 1.0]),   // 448/1; zero: no roll
            (NAN, 448.0, [8.0, 1.0, NAN]),   // kept
            (INF, 448.0, [1.0, NAN, INF]),   // NaN: kept
            (0.25, 448.0, [NAN, INF, 0.25]), // Inf: kept
        ],
    );
    assert_eq!(s.scale(), 1792.0); // 448/0.25, whatever else is in the window
}

#[test]
fn delayed_history_1_is_most_recent() {
    for compute in [AmaxCompute::Max, AmaxCompute::MostRecent] {
        let mut s = scaler(1, compute, 0);
        for (amax, next) in [
            (4.0, 112.0),
            (16.0, 28.0),
            (1.0, 448.0),
            (0.0, 448.0),
            (NAN, 448.0),
        ] {
            s.update(amax);
            assert_eq!(s.scale(), next, "{compute:?} after amax {amax}");
        }
    }
}

#[test]
fn delayed_margin() {
    // margin 1: 448 · 2^-1 / 2 = 112, half of 224.
    let mut s = scaler(4, AmaxCompute::Max, 1);
    s.update(2.0);
    assert_eq!(s.scale(), 112.0);
    // margin 2: a quarter.
    let mut s = scaler(4, AmaxCompute::Max, 2);
    s.update(2.0);
    assert_eq!(s.scale(), 56.0);
    // margin −1: double.
    let mut s = scaler(4, AmaxCompute::Max, -1);
    s.update(2.0);
    assert_eq!(s.scale(), 448.0);
}

#[test]
fn delayed_overflow_gives_flt_max() {
    let mut s = scaler(2, AmaxCompute::MostRecent, 0);
    s.update(1e-38); // 448 / 1e-38 ≈ 4.5e40 overflows
    assert_eq!(s.scale(), f32::MAX);
    assert_eq!(s.scale_inv().to_bits(), 0x0020_0000); // 2^-128, see scale_inv_values
    s.update(448.0);
    assert_eq!(s.scale(), 1.0);

    // TE's fused kernel divides 448 · 2^-1 = 224 by the amax: 224 / 1e-36 ≈
    // 2.24e38 is finite although 448 / 1e-36 ≈ 4.48e38 is not.
    let mut s = scaler(2, AmaxCompute::MostRecent, 1);
    s.update(1e-36);
    let got = s.scale();
    assert!(
        got < f32::MAX && ((got - 2.24e38) / 2.24e38).abs() < 1e-6,
        "{got}"
    );
}

#[test]
fn delayed_e5m2_gradients() {
    let cfg = DelayedScalingConfig::new(2, AmaxCompute::Max, 0).unwrap();
    let mut s = DelayedScaler::new(cfg, Fp8Format::Hybrid.max_bwd()).unwrap();
    s.update(2.0);
    assert_eq!(s.scale(), 28672.0); // 57344 / 2
    s.update(1.0);
    assert_eq!(s.scale(), 28672.0); // max(2, 1)
    s.update(1.0);
    assert_eq!(s.scale(), 57344.0); // max(1, 1)
}

#[test]
fn delayed_reset() {
    let mut s = scaler(3, AmaxCompute::Max, 0);
    s.update(2.0);
    s.update(8.0);
    s.reset();
    assert_eq!(s.scale(), 1.0);
    assert_eq!(s.history(), &[0.0, 0.0, 0.0]);
    assert_eq!((s.config().history_len, s.fp8_max()), (3, 448.0));
    s.update(4.0);
    assert_eq!(s.scale(), 112.0); // the 8 is gone
}

#[test]
fn errors() {
    assert!(matches!(
        DelayedScalingConfig::new(0, AmaxCompute::Max, 0),
        Err(Error::InvalidArgument(_))
    ));
    let bad = DelayedScalingConfig {
        history_len: 0,
        compute: AmaxCompute::MostRecent,
        margin: 0,
    };
    assert!(matches!(
        DelayedScaler::new(bad, E4M3_MAX),
        Err(Error::InvalidArgument(_))
    ));
    let ok = DelayedScalingConfig::default();
    for fp8_max in [0.0, -448.0, f32::INFINITY, f32::NAN] {
        assert!(
            matches!(
                DelayedScaler::new(ok, fp8_max),
                Err(Error::InvalidArgument(_))
            ),
            "fp8_max {fp8_max}"
        );
    }
    // 448 · 2^-200 is 0 in f32; 448 · 2^200 is Inf.
    for margin in [200, -200, i32::MAX, i32::MIN] {
        let cfg = DelayedScalingConfig { margin, ..ok };
        assert!(
            matches!(
                DelayedScaler::new(cfg, E4M3_MAX),
                Err(Error::InvalidArgument(_))
            ),
            "margin {margin}"
        );
    }
    // TE computes 448 · f32(2^-margin). 2^-149 is the smallest subnormal, and
    // 448 · 2^-149 = 7 · 2^-143 is representable: accepted. f32(2^-150) ties
    // to 0, so margin 150 gives 0 (although 448 · 2^-150 would be representable).
    let ok_margin =
        |margin| DelayedScaler::new(DelayedScalingConfig { margin, ..ok }, E4M3_MAX).is_ok();
    assert!(ok_margin(149));
    assert!(!ok_margin(150));
    // 448 · 2^119 = 1.75 · 2^127 is finite; 448 · 2^120 = 1.75 · 2^128 is not.
    assert!(ok_margin(-119));
    assert!(!ok_margin(-120));
}

/// One 1×128 block quantized with DeepGEMM's arithmetic: `values` at the
/// front, zeros after.
fn deepgemm(values: &[f32], pow2: bool) -> (f32, Vec<u8>) {
    use blockscale::E4M3;
    use blockscale::format::Fp8Blockwise;
    use blockscale::scale::fp8::Fp8Profile;
    use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
    let mut f = Fp8Blockwise::<E4M3>::ACTIVATIONS.with_profile(Fp8Profile::DeepGemm);
    f.power_of_two = pow2;
    let mut x = vec![0.0f32; 128];
    x[..values.len()].copy_from_slice(values);
    let q = QuantizedTensor::quantize(f, &x, 1, 128, &QuantizeOptions::default()).unwrap();
    (q.scales()[0], q.data()[..values.len()].to_vec())
}

// DeepGEMM `deep_gemm/utils/math.py` (commit 54e2261): sf = clamp(amax,
// 1e-4) / 448, with `use_ue8m0` rounded up to a power of two by its bits;
// elements FP8(x · f32(1/sf)), saturated.
#[test]
fn deepgemm_ue8m0_rounds_the_factor_up() {
    // amax 3: 3/448 = 0.0067 lies in (2^-8, 2^-7], so sf = 2^-7 and the
    // multiplier is 128. 3 · 128 = 384 = 1.5 · 2^8: E4M3 0 1111 100.
    // −1.1 · 128 = −140.8, between 128 and 144 (step 16): −144 = 1 1110 001.
    // 0.5 · 128 = 64 = 2^6: 0 1101 000.
    assert_eq!(
        deepgemm(&[3.0, -1.1, 0.5], true),
        (2f32.powi(-7), vec![0x7C, 0xF1, 0x68])
    );
    // amax 28 = 448 · 2^-4: sf is exactly 2^-4, not rounded further up;
    // 28 · 16 = 448, the E4M3 maximum 0x7E.
    assert_eq!(deepgemm(&[28.0, -28.0], true), (0.0625, vec![0x7E, 0xFE]));
}

#[test]
fn deepgemm_floors_the_amax_at_1e4() {
    // A zero block: amax 1e-4 (as f32), sf = 2.2321429e-7 in
    // (2^-23, 2^-22], so 2^-22; zeros stay zeros and −0 stays −0.
    assert_eq!(
        deepgemm(&[0.0, -0.0], true),
        (2f32.powi(-22), vec![0x00, 0x80])
    );
    // amax 1e-6 is floored the same way: 1e-6 · 2^22 = 4.194, between 4
    // and 4.5 (step 0.5): 4 = 0 1001 000.
    assert_eq!(deepgemm(&[1e-6], true), (2f32.powi(-22), vec![0x48]));
    // Without UE8M0 the factor is f32(1e-4 / 448) itself: 0x346FACAD.
    assert_eq!(deepgemm(&[0.0], false).0.to_bits(), 0x346F_ACAD);
}

#[test]
fn deepgemm_fp32_factor_multiplies_by_its_reciprocal() {
    // sf = f32(3/448) = 0x3BDB6DB7, 1/sf = 149.33333 (0x43155555).
    // 3 · 149.33333 = 448.0 after rounding: 0x7E. −1.1 · 149.33 = −164.27,
    // between 160 and 176 (step 16): −160 = 1 1110 010. 0.5 · 149.33 =
    // 74.67, between 72 and 80 (step 8): 72 = 0 1101 001.
    let (sf, q) = deepgemm(&[3.0, -1.1, 0.5], false);
    assert_eq!(sf.to_bits(), 0x3BDB_6DB7);
    assert_eq!(q, vec![0x7E, 0xF2, 0x69]);
}

#[test]
fn deepgemm_nan_block_gets_the_largest_factor() {
    // `ceil_to_ue8m0` reads a NaN's exponent bits (255, plus one for the
    // mantissa) and clamps them to 254: sf = 2^127. Finite elements times
    // 2^-127 round to ±0; the NaN stays NaN.
    let (sf, q) = deepgemm(&[1.0, f32::NAN, -3.0], true);
    assert_eq!(sf, 2f32.powi(127));
    assert_eq!(q, vec![0x00, 0x7F, 0x80]);
}

#[test]
fn deepgemm_128x128_tile_takes_the_tile_amax() {
    use blockscale::E4M3;
    use blockscale::format::Fp8Blockwise;
    use blockscale::scale::fp8::Fp8Profile;
    use blockscale::tensor::{PartialBlocks, QuantizeOptions, QuantizedTensor};
    // `per_block_cast_to_fp8` pads to 128 × 128 with zeros, as ZeroPad
    // does; they leave the amax alone: a 3 × 5 matrix is one tile, amax 7
    // → 7/448 = 2^-6.
    let f = Fp8Blockwise::<E4M3>::WEIGHTS.with_profile(Fp8Profile::DeepGemm);
    let mut x = vec![0.5f32; 15];
    x[7] = -7.0;
    let opts = QuantizeOptions {
        partial_blocks: PartialBlocks::ZeroPad,
        ..QuantizeOptions::default()
    };
    let q = QuantizedTensor::quantize(f, &x, 3, 5, &opts).unwrap();
    assert_eq!(q.scales(), &[2f32.powi(-6)]);
    // 0.5 · 64 = 32 = 2^5: 0 1100 000; −7 · 64 = −448: 0xFE.
    assert_eq!((q.data()[0], q.data()[7]), (0x60, 0xFE));
}

#[test]
fn fp8_profiles_refuse_what_their_producer_does_not_write() {
    use blockscale::format::AnyFormat;
    for (id, why) in [
        ("fp8,profile=deepgemm", "no per-tensor"),
        ("fp8-block,profile=modelopt", "no blockwise"),
        ("fp8-e5m2,profile=torchao", "writes E4M3"),
        ("fp8,profile=torchao,pow2", "no power-of-two"),
        ("fp8,profile=modelopt,scale=2", "fixed scale"),
    ] {
        let e = id.parse::<AnyFormat>().unwrap_err().to_string();
        assert!(e.contains(why) && e.contains(id), "{id}: {e}");
    }
    // Each producer's options round-trip through the identifier.
    for id in [
        "fp8,profile=compressed-tensors",
        "fp8-block,profile=torchao",
        "fp8-block,profile=deepgemm",
        "fp8-block,pow2=false,profile=deepgemm",
        "fp8-block,2d,profile=deepgemm",
    ] {
        assert_eq!(id.parse::<AnyFormat>().unwrap().to_string(), id);
    }
}
