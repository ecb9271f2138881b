//! Row-scaled NVFP4 (Transformer Engine `row_scaled_activation`) against
//! vectors worked by hand from TE's kernels (`tests/producers/NVFP4_4OVER6.md`
//! §3 and §4, vectors R1 and R2): every row quantized with its own amax.

use blockscale::Error;
use blockscale::format::{MxFp8E4M3, Nvfp4, Nvfp4FourOverSix};
use blockscale::gemm::gemm_row_scaled;
use blockscale::scale::four_over_six::FourOverSixMetric;
use blockscale::tensor::{QuantizeOptions, QuantizedTensor, RowScaled, TensorRounding};

const ROW0: [f32; 16] = [
    3.0, -2.5, 1.75, 1.0, 0.625, -0.3125, 0.15625, 0.0, 2.25, -1.375, 0.875, 0.5, -0.75, 2.75,
    1.25, -3.0,
];
const ROW1: [f32; 16] = [
    100.0, -75.0, 50.0, 37.5, 25.0, -12.5, 6.25, 0.0, 90.0, -60.0, 45.0, 30.0, -20.0, 15.0, 10.0,
    -5.0,
];

fn rows() -> Vec<f32> {
    [ROW0, ROW1].concat()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn scale_bytes<F: blockscale::format::BlockFormat<Scale = blockscale::E4M3>>(
    q: &RowScaled<F>,
) -> Vec<u8> {
    q.scales().iter().map(|s| s.to_bits()).collect()
}

#[test]
fn r1_each_row_maps_its_own_amax() {
    let o = QuantizeOptions::default();
    let q = RowScaled::quantize(Nvfp4::default(), &rows(), 2, 16, &o).unwrap();
    assert_eq!(q.row_amax(), &[3.0, 100.0]);
    // S_enc = 896 and 26.879999; both blocks' a · f32(S_enc · f32(1/6))
    // reach 448 (448.00003 saturates): scale 0x7E.
    assert_eq!(scale_bytes(&q), [0x7E, 0x7E]);
    assert_eq!(q.data(), hex("e7469201d6247bf4e745a301e7452a91"));
    // Row 0 dequantizes with f32(f32(448 · 3) · f32(1/2688)) = 0.5.
    let want0 = [
        3.0, -2.0, 2.0, 1.0, 0.5, -0.25, 0.25, 0.0, 2.0, -1.5, 1.0, 0.5, -0.75, 3.0, 1.0, -3.0,
    ];
    let d = q.dequantize();
    assert_eq!(d[..16], want0);
    // Row 1's factor is 16.666666 (0x41855555); code 7 is 6.
    assert_eq!(d[16], 6.0 * f32::from_bits(0x4185_5555));
    // One amax for both rows (100) gives row 0 the scale 13 (0x55) instead.
    let t = QuantizedTensor::quantize(Nvfp4::default(), &rows(), 2, 16, &o).unwrap();
    assert_eq!(t.scales()[0].to_bits(), 0x55);
    assert_eq!(&t.data()[..8], hex("f7469301d6247bf5").as_slice());
}

#[test]
fn r2_row_scaling_with_4over6() {
    let o = QuantizeOptions::default();
    let mae = RowScaled::quantize(Nvfp4FourOverSix::default(), &rows(), 2, 16, &o).unwrap();
    // Row 0: map-4 under both metrics; row 1: map-4 by MAE, map-6 by MSE.
    assert_eq!(scale_bytes(&mae), [0x7C, 0x7C]);
    assert_eq!(mae.data(), hex("d6349200c5126ae3d6349200c6241a81"));
    let f = Nvfp4FourOverSix::new(FourOverSixMetric::Mse);
    let mse = RowScaled::quantize(f, &rows(), 2, 16, &o).unwrap();
    assert_eq!(scale_bytes(&mse), [0x7C, 0x78]);
    assert_eq!(mse.data(), hex("d6349200c5126ae3e7459301e7452a91"));
}

#[test]
fn gemm_multiplies_each_row_by_its_amax_after_the_unit_gemm() {
    let o = QuantizeOptions::default();
    let a = RowScaled::quantize(Nvfp4::default(), &rows(), 2, 16, &o).unwrap();
    // A weight row of 0.5s quantizes exactly (code 6, factor 1/12).
    let w = QuantizedTensor::quantize(Nvfp4::default(), &[0.5f32; 16], 1, 16, &o).unwrap();
    assert!(w.dequantize().iter().all(|&v| v == 0.5));
    let mut c = [0.0f32; 2];
    gemm_row_scaled(&a, &w, 1.0, 0.0, &mut c).unwrap();
    // First principles: 0.5 · the sum of each dequantized row.
    let d = a.dequantize();
    for (i, &ci) in c.iter().enumerate() {
        let want: f64 = d[i * 16..(i + 1) * 16]
            .iter()
            .map(|&v| 0.5 * v as f64)
            .sum();
        assert!(
            (ci as f64 - want).abs() <= want.abs() * 1e-6,
            "row {i}: {ci} vs {want}"
        );
    }
    // beta: C = f32(f32(D · k_i) + f32(beta · C)).
    let mut c2 = [1.0f32, -2.0];
    gemm_row_scaled(&a, &w, 1.0, 0.5, &mut c2).unwrap();
    assert_eq!(c2, [c[0] + 0.5, c[1] - 1.0]);
}

#[test]
fn what_row_scaling_cannot_take_is_refused() {
    let o = QuantizeOptions::default();
    let x = rows();
    fn refused<F: blockscale::format::BlockFormat>(r: Result<RowScaled<F>, Error>, why: &str) {
        match r {
            Err(Error::InvalidArgument(m)) => assert!(m.contains(why), "{m}"),
            Err(e) => panic!("{why}: {e}"),
            Ok(_) => panic!("{why}: accepted"),
        }
    }
    refused(
        RowScaled::quantize(MxFp8E4M3::default(), &[0.0f32; 64], 2, 32, &o),
        "no tensor scale",
    );
    refused(
        RowScaled::quantize(Nvfp4::WEIGHTS_2D, &x, 2, 16, &o),
        "one row high",
    );
    let sr = QuantizeOptions {
        rounding: TensorRounding::Stochastic { seed: 1 },
        ..o
    };
    refused(
        RowScaled::quantize(Nvfp4::default(), &x, 2, 16, &sr),
        "nearest",
    );
    let amax = QuantizeOptions {
        global_amax: Some(3.0),
        ..o
    };
    refused(
        RowScaled::quantize(Nvfp4::default(), &x, 2, 16, &amax),
        "global_amax",
    );
    // A length that is not rows · cols is the quantizer's usual error.
    assert!(matches!(
        RowScaled::quantize(Nvfp4::default(), &x[..31], 2, 16, &o),
        Err(Error::LengthMismatch { .. })
    ));
    // The other operand needs a tensor amax.
    let a = RowScaled::quantize(Nvfp4::default(), &x, 2, 16, &o).unwrap();
    let mx = QuantizedTensor::quantize(MxFp8E4M3::default(), &[0.5f32; 32], 1, 32, &o).unwrap();
    let mut c = [0.0f32; 2];
    assert!(matches!(
        gemm_row_scaled(&a, &mx, 1.0, 0.0, &mut c),
        Err(Error::InvalidArgument(_))
    ));
}

/// The recipe's `row_scaled_activation`: X's rows (fprop) and, for wgrad,
/// its columns each get their own amax; R1's bytes either way.
#[test]
fn recipe_row_scales_x_in_fprop_and_wgrad() {
    use blockscale::recipe::{Nvfp4Options, OperandRole, QuantizedOperand, Recipe};
    let r = Recipe::nvfp4_with(Nvfp4Options {
        row_scaled_activation: true,
        rht: false,
        ..Default::default()
    });
    assert!(r.validate().is_ok());
    let operand =
        |role, x: &[f32], rows, cols| match r.spec(role).quantize(x, rows, cols, None).unwrap() {
            QuantizedOperand::RowScaled(q) => q,
            other => panic!("{role:?}: row-scaled expected, got {other:?}"),
        };
    let want = hex("e7469201d6247bf4e745a301e7452a91");
    // Fprop: X = R1's two rows.
    let x = rows();
    let f = operand(OperandRole::FpropInput, &x, 2, 16);
    assert_eq!(
        (f.row_amax(), f.unit().data()),
        (&[3.0, 100.0][..], &want[..])
    );
    assert_eq!(f.unit().scale_bits(), [0x7E, 0x7E]);
    // Wgrad: X = R1's rows as columns (16 tokens × 2 features); the
    // columnwise copy stores them as rows, one amax per feature.
    let mut xt = vec![0.0f32; 32];
    for (i, v) in x.iter().enumerate() {
        xt[(i % 16) * 2 + i / 16] = *v;
    }
    let w = operand(OperandRole::WgradInput, &xt, 16, 2);
    assert_eq!(
        (w.row_amax(), w.unit().data()),
        (&[3.0, 100.0][..], &want[..])
    );
    assert_eq!(w.stored_shape(), (2, 16));
    let back = w.dequantize(); // logical 16 × 2
    assert_eq!(back.len(), 32);
    assert_eq!(back[0], 3.0);
    assert_eq!(back[2], -2.0); // row 0's second element, dequantized (R1)
    // Weights and gradients keep one amax.
    assert!(matches!(
        r.spec(OperandRole::FpropWeight)
            .quantize(&[0.5f32; 256], 16, 16, None)
            .unwrap(),
        QuantizedOperand::Block(_)
    ));
    assert!(matches!(
        r.spec(OperandRole::WgradGradOutput)
            .quantize(&x, 16, 2, None)
            .unwrap(),
        QuantizedOperand::Block(_)
    ));
    // TE refuses row scaling with the RHT (X's wgrad copy has it).
    let with_rht = Recipe::nvfp4_with(Nvfp4Options {
        row_scaled_activation: true,
        ..Default::default()
    });
    assert!(with_rht.validate().is_err());
}

/// A layer run with row-scaled X (and 4over6): each GEMM equals, to f32
/// accumulation error, the f64 product of its dequantized operands, so the
/// row amaxes multiply the right rows (fprop) and columns (wgrad).
#[test]
fn a_layer_with_row_scaled_x_multiplies_by_the_right_amaxes() {
    use blockscale::recipe::{
        FourOverSixRoles, LinearLayer, LinearShape, Nvfp4Options, OperandRole, Recipe,
    };
    let (t, i, o) = (32, 32, 16);
    let shape = LinearShape {
        tokens: t,
        in_features: i,
        out_features: o,
    };
    // Rows and columns of X with amaxes that differ by orders of magnitude.
    let x: Vec<f32> = (0..t * i)
        .map(|n| ((n as f32 * 0.37).sin()) * 10f32.powi((n / i % 4) as i32 - (n % i % 3) as i32))
        .collect();
    let w: Vec<f32> = (0..o * i).map(|n| (n as f32 * 0.11).cos()).collect();
    let dy: Vec<f32> = (0..t * o).map(|n| (n as f32 * 0.53).sin()).collect();
    for four_over_six in [FourOverSixRoles::None, FourOverSixRoles::All] {
        let r = Recipe::nvfp4_with(Nvfp4Options {
            row_scaled_activation: true,
            four_over_six,
            rht: false,
            stochastic_gradients: false,
            ..Default::default()
        });
        let out = LinearLayer::new(r.clone(), 0, 1)
            .unwrap()
            .run(0, &x, &w, &dy, shape)
            .unwrap();
        let deq = |role: OperandRole, v: &[f32], rows, cols| {
            r.spec(role)
                .quantize(v, rows, cols, None)
                .unwrap()
                .dequantize()
        };
        // C = A · Bᵀ over logical matrices given as (values, rows, K, K-stride, row-stride).
        let check = |got: &[f32],
                     a: &[f32],
                     b: &[f32],
                     m: usize,
                     n: usize,
                     k: usize,
                     a_at: &dyn Fn(usize, usize) -> usize,
                     b_at: &dyn Fn(usize, usize) -> usize| {
            for p in 0..m {
                for q in 0..n {
                    let (mut s, mut mag) = (0f64, 0f64);
                    for kk in 0..k {
                        let v = f64::from(a[a_at(p, kk)]) * f64::from(b[b_at(q, kk)]);
                        s += v;
                        mag += v.abs();
                    }
                    let g = f64::from(got[p * n + q]);
                    assert!(
                        (g - s).abs() <= mag * 1e-5 + 1e-30,
                        "{four_over_six:?} [{p}][{q}]: {g} vs {s}"
                    );
                }
            }
        };
        let xf = deq(OperandRole::FpropInput, &x, t, i);
        let wf = deq(OperandRole::FpropWeight, &w, o, i);
        check(&out.y, &xf, &wf, t, o, i, &|p, kk| p * i + kk, &|q, kk| {
            q * i + kk
        });
        let dyw = deq(OperandRole::WgradGradOutput, &dy, t, o);
        let xw = deq(OperandRole::WgradInput, &x, t, i);
        // dW[p][q] = Σ_token dY[token][p] · X[token][q].
        check(
            &out.dw,
            &dyw,
            &xw,
            o,
            i,
            t,
            &|p, kk| kk * o + p,
            &|q, kk| kk * i + q,
        );
    }
}
