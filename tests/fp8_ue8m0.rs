//! FP8 E4M3 with UE8M0 block scales (DeepGEMM `ceil_to_ue8m0`) against
//! scales worked out by hand from the formula in DeepGEMM's
//! `deep_gemm/utils/math.py`: `sf = max(amax, 1e-4) / 448`, rounded up to a
//! power of two by its f32 bits.

use blockscale::format::{AnyFormat, BlockFormat, Fp8BlockUe8m0};
use blockscale::tensor::{Direction, QuantizeOptions, QuantizedTensor};
use blockscale::{E4M3, E8M0};

/// One 1×128 block whose amax is `amax` (the rest of the block smaller).
fn block(amax: f32) -> Vec<f32> {
    let mut x = vec![0.0f32; 128];
    x[7] = -amax;
    x[8] = amax * 0.25;
    x
}

#[test]
fn scales_are_amax_over_448_rounded_up_to_a_power_of_two() {
    // (amax, E8M0 byte = 127 + ⌈log2(max(amax, 1e-4) / 448)⌉)
    let cases: &[(f32, u8)] = &[
        (448.0, 127),         // exactly 1: no mantissa bits, no rounding up
        (449.0, 128),         // just above: 2
        (1.0, 119),           // 1/448 = 2^-8.8 → 2^-8
        (224.0, 126),         // exactly 2^-1
        (0.0, 105),           // zero block: the 1e-4 floor, 2.2e-7 → 2^-22
        (1e-30, 105),         // tiny block: the same floor
        (57344.0, 134),       // 128 = 2^7
        (f32::MAX, 247),      // f32::MAX / 448 ≈ 2^119.2 → 2^120
        (f32::INFINITY, 254), // exponent field 255 clamps to 254
        (f32::NAN, 254),      // NaN's field 255, plus one for its mantissa, clamps to 254
    ];
    for &(amax, want) in cases {
        let q = QuantizedTensor::quantize(
            Fp8BlockUe8m0::default(),
            &block(amax),
            1,
            128,
            &QuantizeOptions::default(),
        )
        .unwrap();
        assert_eq!(q.scales()[0].to_bits(), want, "amax {amax:e}");
        // Elements are E4M3(x · 2^(127 − e)), nearest even, saturating
        // (torch 2.15's cast: ±Inf → ±448).
        let inv = 1.0 / E8M0::from_bits(want).to_f32();
        for (i, &v) in block(amax).iter().enumerate() {
            let e = q.element(0, i).unwrap();
            let want = E4M3::from_f32((v * inv).clamp(-448.0, 448.0));
            assert!(
                e.to_bits() == want.to_bits() || (e.is_nan() && want.is_nan()),
                "amax {amax:e} element {i}: {e} vs {want}"
            );
        }
    }
}

#[test]
fn finite_blocks_dequantize_within_e4m3_precision() {
    let x: Vec<f32> = (0..4 * 256)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.173)
        .collect();
    let q = QuantizedTensor::quantize(
        Fp8BlockUe8m0::default(),
        &x,
        4,
        256,
        &QuantizeOptions::default(),
    )
    .unwrap();
    for (&a, &b) in x.iter().zip(&q.dequantize()) {
        // E4M3 keeps 3 mantissa bits: relative error ≤ 2^-4 above the subnormals.
        assert!((a - b).abs() <= a.abs() / 16.0 + 1e-3, "{a} → {b}");
    }
}

#[test]
fn two_d_tiles_give_the_transposed_copy() {
    let x: Vec<f32> = (0..128 * 256)
        .map(|i| ((i % 251) as f32 - 125.0) / 7.0)
        .collect();
    let f = Fp8BlockUe8m0 { two_d: true };
    let row = QuantizedTensor::quantize(f, &x, 128, 256, &QuantizeOptions::default()).unwrap();
    let col_opts = QuantizeOptions {
        direction: Direction::Columnwise,
        ..Default::default()
    };
    let col = QuantizedTensor::quantize(f, &x, 128, 256, &col_opts).unwrap();
    for r in 0..128 {
        for c in 0..256 {
            assert_eq!(
                row.element(r, c).unwrap().to_bits(),
                col.element(c, r).unwrap().to_bits()
            );
        }
    }
    assert_eq!(row.scales().len(), 2);
}

#[test]
fn the_format_is_named_by_its_identifier() {
    let f: AnyFormat = "fp8-block-ue8m0,2d".parse().unwrap();
    assert_eq!(f, AnyFormat::from(Fp8BlockUe8m0 { two_d: true }));
    assert_eq!(f.to_string(), "fp8-block-ue8m0,2d");
    assert_eq!(Fp8BlockUe8m0::default().id().to_string(), "fp8-block-ue8m0");
    assert!("fp8-block-ue8m0,rule=floor".parse::<AnyFormat>().is_err());
}
