//! NVFP4 4over6 against vectors worked by hand from Transformer Engine's
//! kernel (`common/cast/nvfp4/quantize_4over6_nvfp4.cuh`, TE d0067d0):
//! every f32 rounding, both candidates, both metrics and the choice are
//! derived in `tests/producers/NVFP4_4OVER6.md` (§4, vectors G1–G8), with
//! E2M1/E4M3 roundings cross-checked against ml_dtypes.

use blockscale::format::{Nvfp4, Nvfp4FourOverSix};
use blockscale::scale::four_over_six::FourOverSixMetric::{self, Mae, Mse};
use blockscale::tensor::{QuantizeOptions, QuantizedTensor};

fn format(metric: FourOverSixMetric, e4m3_max_448: bool, fast: bool) -> Nvfp4FourOverSix {
    let mut f = Nvfp4FourOverSix::new(metric);
    f.e4m3_max_448 = e4m3_max_448;
    f.fast_error = fast;
    f
}

/// One 16-element block of a tensor whose amax is `amax`: its scale byte
/// and its eight data bytes.
fn quantize(f: Nvfp4FourOverSix, x: &[f32], amax: f32) -> (u8, Vec<u8>) {
    let mut block = [0.0f32; 16];
    block[..x.len()].copy_from_slice(x);
    let opts = QuantizeOptions {
        global_amax: Some(amax),
        ..QuantizeOptions::default()
    };
    let q = QuantizedTensor::quantize(f, &block, 1, 16, &opts).unwrap();
    (q.scales()[0].to_bits(), q.data().to_vec())
}

fn bytes(hex: &str) -> Vec<u8> {
    (0..16)
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// Every (metric, fast) pair gives this scale and these bytes.
fn all_choose(x: &[f32], amax: f32, e448: bool, scale: u8, data: &str) {
    for metric in [Mae, Mse] {
        for fast in [false, true] {
            let got = quantize(format(metric, e448, fast), x, amax);
            assert_eq!(got, (scale, bytes(data)), "{metric:?} fast {fast}");
        }
    }
}

#[test]
fn g1_map4_wins_when_it_is_exact() {
    // S_enc = 1536/6 = 256, base 256: map-4 scale 384 (0x7C) makes every
    // value exact; map-6 (256) rounds 4.5, 2.25 and 0.75.
    let x = [
        6.0, 4.5, -4.5, 3.0, 2.25, 1.5, 0.75, 0.0, -6.0, 4.5, 2.25, -3.0, 1.5, -0.75, 0.0, 3.0,
    ];
    all_choose(&x, 6.0, false, 0x7C, "564d23015ec39240");
    let q = QuantizedTensor::quantize(
        Nvfp4FourOverSix::default(),
        &x,
        1,
        16,
        &QuantizeOptions::default(),
    )
    .unwrap();
    // Dequantized with f32(384 · 6) · f32(1/1536) = 1.5 exactly.
    assert_eq!(q.dequantize(), x);
}

#[test]
fn g2_an_error_tie_keeps_map6() {
    // MAE 1.0 both ways: map-6 (0x78); MSE 0.5 (map-4) against 1.0.
    let x = [6.0, 5.0, 4.0];
    assert_eq!(
        quantize(format(Mae, false, false), &x, 6.0),
        (0x78, bytes("6706000000000000"))
    );
    assert_eq!(
        quantize(format(Mse, false, false), &x, 6.0),
        (0x7C, bytes("5605000000000000"))
    );
    // Both exact (error 0): map-6.
    all_choose(&[6.0], 6.0, false, 0x78, "0700000000000000");
}

#[test]
fn g3_the_metrics_disagree() {
    let x = [6.0, 5.0, 4.0, 4.0];
    // map-4: MAE 1.5, MSE 0.75; map-6: MAE 1.0, MSE 1.0.
    for fast in [false, true] {
        assert_eq!(
            quantize(format(Mae, false, fast), &x, 6.0),
            (0x78, bytes("6766000000000000"))
        );
        assert_eq!(
            quantize(format(Mse, false, fast), &x, 6.0),
            (0x7C, bytes("5655000000000000"))
        );
    }
}

#[test]
fn g4_a_zero_block_stores_zeros() {
    // Both scales 0, multipliers FLT_MAX, codes 0, errors 0: map-6.
    all_choose(&[], 6.0, false, 0x00, "0000000000000000");
    all_choose(&[], 6.0, true, 0x00, "0000000000000000");
}

#[test]
fn g5_bound_448_saturates_the_map4_scale() {
    // S_enc = 448, base = f32(f32(5/6) · 448) = 373.33331: 1.5 · base
    // clamps to 448 (0x7E), base rounds to 384 (0x7C). map-6 wins.
    let x = [
        5.0, -4.0, 3.5, 2.5, 1.0, 0.5, 0.25, 0.0, -5.0, 4.5, 3.0, 2.0, 1.5, 0.75, -0.25, 5.0,
    ];
    all_choose(&x, 6.0, true, 0x7C, "e75612017f462479");
    // Dequantized with f32(f32(384 · 6) · f32(1/2688)) = 0x3F5B6DB7.
    let opts = QuantizeOptions {
        global_amax: Some(6.0),
        ..QuantizeOptions::default()
    };
    let q = QuantizedTensor::quantize(format(Mae, true, false), &x, 1, 16, &opts).unwrap();
    let d = f32::from_bits(0x3F5B_6DB7);
    assert_eq!(q.dequantize()[0], 6.0 * d);
    // base 448: both candidates are 0x7E with the same codes, a tie: map-6.
    all_choose(&[6.0, 5.0], 6.0, true, 0x7E, "6700000000000000");
}

#[test]
fn g6_map6_scale_underflows_and_map4_wins() {
    // base = 2^-10, half the smallest E4M3 subnormal: a tie to 0x00, whose
    // elements saturate to ±6 and dequantize to 0. map-4: 1.5 · 2^-10
    // rounds to 2^-9 (0x01), exact.
    let t = 2f32.powi(-18);
    all_choose(&[6.0 * t, -3.0 * t], 6.0, false, 0x01, "b500000000000000");
}

#[test]
fn g7_roundings_and_the_fast_error_path() {
    let x = [
        7.5, 5.125, 0.0, 1.6015625, 0.0, 2.875, -7.375, 5.5625, 2.0625, -5.03125, -4.0, 0.0,
        -1.9765625, -2.21875, 2.9375, 0.0,
    ];
    let map4 = (0x79, bytes("5620305ed20caa03"));
    let map6 = (0x74, bytes("6730406fe30dcb04"));
    // MAE 2.625 against 2.75: map-4. MSE 0.9425048828125 both: map-6.
    assert_eq!(quantize(format(Mae, false, false), &x, 10.0), map4);
    assert_eq!(quantize(format(Mse, false, false), &x, 10.0), map6);
    // In the scaled domain the MSEs are 22236.4707 and 22236.4863: map-4.
    assert_eq!(quantize(format(Mae, false, true), &x, 10.0), map4);
    assert_eq!(quantize(format(Mse, false, true), &x, 10.0), map4);
}

#[test]
fn g8_map6_rounds_base_not_ordinary_nvfp4s_product() {
    // A = 108, bound 448: f32(81/6) · f32(2688/108) = 336, an E4M3 tie
    // that rounds to 320 (0x7A). Ordinary NVFP4 computes
    // 81 · f32(S_enc · f32(1/6)) = 336.00003 and rounds up to 352 (0x7B).
    let x = [
        81.0, -60.0, 40.5, 27.0, 13.5, -6.75, 0.0, 0.0, 20.0, 10.0, 5.0, -2.5, 1.25, 0.0, 0.0, 0.0,
    ];
    all_choose(&x, 108.0, true, 0x7A, "e745920023810000");
    let opts = QuantizeOptions {
        global_amax: Some(108.0),
        ..QuantizeOptions::default()
    };
    let q = QuantizedTensor::quantize(Nvfp4::default(), &x, 1, 16, &opts).unwrap();
    assert_eq!(q.scales()[0].to_bits(), 0x7B);
    assert_eq!(q.data(), bytes("e745920013810000").as_slice());
}

#[test]
fn two_d_tiles_add_their_rows_errors() {
    // Row 0 is G1 (MAE: map-4 0, map-6 2.5), row 1 is G3 (map-4 1.5,
    // map-6 1.0), the other 14 rows zero: 1.5 < 3.5, so the whole tile
    // takes map-4 (0x7C) and row 1 gets G3's map-4 codes.
    let mut x = vec![0.0f32; 256];
    x[..16].copy_from_slice(&[
        6.0, 4.5, -4.5, 3.0, 2.25, 1.5, 0.75, 0.0, -6.0, 4.5, 2.25, -3.0, 1.5, -0.75, 0.0, 3.0,
    ]);
    x[16..20].copy_from_slice(&[6.0, 5.0, 4.0, 4.0]);
    let f = Nvfp4FourOverSix::default().with_two_d(true);
    let q = QuantizedTensor::quantize(f, &x, 16, 16, &QuantizeOptions::default()).unwrap();
    assert!(q.scales().iter().all(|s| s.to_bits() == 0x7C));
    assert_eq!(&q.data()[..8], bytes("564d23015ec39240").as_slice());
    assert_eq!(&q.data()[8..16], bytes("5655000000000000").as_slice());
    // The same rows as 1×16 blocks choose per row: G3's row keeps map-6.
    let q = QuantizedTensor::quantize(
        Nvfp4FourOverSix::default(),
        &x,
        16,
        16,
        &QuantizeOptions::default(),
    )
    .unwrap();
    assert_eq!(q.scales()[1].to_bits(), 0x78);
}

#[test]
fn identifiers_round_trip() {
    use blockscale::format::AnyFormat;
    for id in [
        "nvfp4-4over6",
        "nvfp4-4over6,metric=mse",
        "nvfp4-4over6,e4m3max=448,fast,2d",
    ] {
        assert_eq!(id.parse::<AnyFormat>().unwrap().to_string(), id);
    }
    let e = "nvfp4-4over6,metric=max"
        .parse::<AnyFormat>()
        .unwrap_err()
        .to_string();
    assert!(e.contains("mae") && e.contains("mse"), "{e}");
}

/// The recipe's 4over6 switches (TE `nvfp4_4over6`,
/// `nvfp4_4over6_e4m3_use_256`, `nvfp4_4over6_err_mode`) give each role
/// the format whose bytes G1, G3 and G5 work out.
#[test]
fn recipe_switches_give_the_roles_their_4over6_bytes() {
    use blockscale::recipe::{
        FourOverSixRoles, Nvfp4Options, OperandRole, QuantizedOperand, Recipe,
    };
    use blockscale::tensor::QuantizedView;
    let recipe = |roles, e4m3_256, metric| {
        Recipe::nvfp4_with(Nvfp4Options {
            four_over_six: roles,
            four_over_six_e4m3_256: e4m3_256,
            four_over_six_metric: metric,
            rht: false,
            ..Default::default()
        })
    };
    // One block of the operand and its scale byte; the operand's second
    // block holds the tensor amax 6.
    let first_block = |r: &Recipe, role, x: &[f32]| -> (u8, Vec<u8>) {
        let mut t = [0.0f32; 32];
        t[..x.len()].copy_from_slice(x);
        t[16] = 6.0;
        let QuantizedOperand::Block(q) = r.spec(role).quantize(&t, 1, 32, None).unwrap() else {
            panic!("a block-scaled operand expected");
        };
        (q.scale_bits()[0] as u8, q.data()[..8].to_vec())
    };
    let g1 = [
        6.0, 4.5, -4.5, 3.0, 2.25, 1.5, 0.75, 0.0, -6.0, 4.5, 2.25, -3.0, 1.5, -0.75, 0.0, 3.0,
    ];
    let all = recipe(FourOverSixRoles::All, FourOverSixRoles::All, Mae);
    assert!(all.validate().is_ok());
    assert_eq!(
        first_block(&all, OperandRole::FpropInput, &g1),
        (0x7C, bytes("564d23015ec39240"))
    );
    // Gradients never use 4over6: ordinary NVFP4 (bound 448) maps 6 to 6.
    assert_eq!(first_block(&all, OperandRole::DgradGradOutput, &g1).0, 0x7E);
    // 4over6 weights only: X is ordinary NVFP4.
    let weights = recipe(FourOverSixRoles::Weights, FourOverSixRoles::All, Mae);
    assert_eq!(first_block(&weights, OperandRole::FpropInput, &g1).0, 0x7E);
    // G3: the metric switch.
    let g3 = [6.0, 5.0, 4.0, 4.0];
    let mse = recipe(FourOverSixRoles::Activations, FourOverSixRoles::All, Mse);
    assert_eq!(
        first_block(&all, OperandRole::FpropInput, &g3),
        (0x78, bytes("6766000000000000"))
    );
    assert_eq!(
        first_block(&mse, OperandRole::FpropInput, &g3),
        (0x7C, bytes("5655000000000000"))
    );
    // G5: activations bounded by 448 (`nvfp4_4over6_e4m3_use_256="weights"`).
    let g5 = [
        5.0, -4.0, 3.5, 2.5, 1.0, 0.5, 0.25, 0.0, -5.0, 4.5, 3.0, 2.0, 1.5, 0.75, -0.25, 5.0,
    ];
    let e448 = recipe(FourOverSixRoles::All, FourOverSixRoles::Weights, Mae);
    assert_eq!(
        first_block(&e448, OperandRole::FpropInput, &g5),
        (0x7C, bytes("e75612017f462479"))
    );
    // Weights keep TE's 16×16 tiles.
    let spec = all.spec(OperandRole::DgradWeight);
    assert_eq!(spec.block(), Some((16, 16)));
    assert_eq!(spec.format.unwrap().id().to_string(), "nvfp4-4over6,2d");
    // TE refuses 4over6 activations with the RHT (X's wgrad copy has it).
    let with_rht = Recipe::nvfp4_with(Nvfp4Options {
        four_over_six: FourOverSixRoles::Activations,
        ..Default::default()
    });
    assert!(with_rht.validate().is_err());
    let weights_rht = Recipe::nvfp4_with(Nvfp4Options {
        four_over_six: FourOverSixRoles::Weights,
        ..Default::default()
    });
    assert!(weights_rht.validate().is_ok());
}
