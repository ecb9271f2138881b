//! The GEMM epilogue and block-scaled GEMM outputs (SEMANTICS.md §7):
//! vectors worked by hand from CUTLASS's epilogue arithmetic, and the
//! fused GEMM against its steps written out. The numpy rendering of
//! CUTLASS's host reference is in `python/tests/test_blockscale.py`.

use blockscale::format::{MxFp4, MxFp8E4M3, Nvfp4};
use blockscale::gemm::{Bias, Epilogue, gemm_epilogue, gemm_quantized, gemm_reference};
use blockscale::scale::mx::MxProfile;
use blockscale::scale::nvfp4::Nvfp4Profile;
use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
use blockscale::{E2M1, E4M3, Element, Error};

const CUTLASS: Nvfp4 = Nvfp4 {
    profile: Nvfp4Profile::Cutlass,
    two_d: false,
};
const TE: Nvfp4 = Nvfp4 {
    profile: Nvfp4Profile::TransformerEngine,
    two_d: false,
};

fn codes<F: blockscale::format::BlockFormat>(q: &QuantizedTensor<F>) -> Vec<u8> {
    let (r, c) = q.stored_shape();
    (0..r * c)
        .map(|i| q.element(i / c, i % c).unwrap().to_bits())
        .collect()
}

fn with_amax(a: f32) -> QuantizeOptions {
    QuantizeOptions {
        global_amax: Some(a),
        ..Default::default()
    }
}

/// A = 100: S_enc = f32(2688/100) = 26.88. A block of amax a_b =
/// 0.006539481 gets s_b = e4m3(a_b · f32(26.88 · f32(1/6))) = 15/512
/// (0x0F). TE multiplies by f32(1/f32(s_b · f32(1/26.88))) = 917.50397,
/// CUTLASS by f32(26.88 · f32(512/15)) = 917.504: 0.0008174351 lands below
/// the 0.75 tie under TE (0.5, code 1) and on it under CUTLASS (ties to
/// even: 1, code 2); 0.0038146973 gives 3.4999998 (3, code 5) and 3.5
/// (4, code 6). Worked in numpy with ml_dtypes.
#[test]
fn nvfp4_cutlass_multiplies_by_the_norm_constant_over_the_scale() {
    let mut x = [0.0f32; 16];
    x[0] = 0.006_539_481;
    x[1] = 0.000_817_435_1;
    x[2] = 0.003_814_697_3;
    let c = QuantizedTensor::quantize(CUTLASS, &x, 1, 16, &with_amax(100.0)).unwrap();
    let t = QuantizedTensor::quantize(TE, &x, 1, 16, &with_amax(100.0)).unwrap();
    assert_eq!(c.scales()[0].to_bits(), 0x0F);
    assert_eq!(t.scales()[0].to_bits(), 0x0F);
    assert_eq!(codes(&c)[..3], [7, 2, 6]);
    assert_eq!(codes(&t)[..3], [7, 1, 5]);
    // Dequantization q · s_b / S_enc: 6 · (15/512) / 26.88.
    let want = 6.0 * (15.0f32 / 512.0) / (2688.0f32 / 100.0);
    assert_eq!(c.dequantize()[0], want);
}

/// The corners: a zero block stores zeros; a block whose E4M3 scale
/// underflows (amax · S_enc / 6 below 2⁻¹⁰) gets SF = 0 and the multiplier
/// FLT_MAX, so its nonzero elements saturate to ±6 (and decode to 0); a
/// NaN block gets SF 0x7F and a NaN multiplier, every element +6 (0x7).
#[test]
fn nvfp4_cutlass_corners() {
    let mut x = vec![0.0f32; 48];
    x[16] = 1e-7;
    x[17] = -1e-7;
    x[32] = f32::NAN;
    x[33] = -1.0;
    let q = QuantizedTensor::quantize(CUTLASS, &x, 1, 48, &with_amax(2688.0)).unwrap();
    let s: Vec<u8> = q.scales().iter().map(|s| s.to_bits()).collect();
    assert_eq!(s, [0x00, 0x00, 0x7F]);
    let c = codes(&q);
    assert!(c[..16].iter().all(|&v| v == 0));
    assert_eq!(c[16..19], [0x7, 0xF, 0x0]);
    assert!(c[32..].iter().all(|&v| v == 0x7), "{:?}", &c[32..]);
    let d = q.dequantize();
    assert_eq!(d[16], 0.0);
    assert!(d[32].is_nan());
}

/// MX under CUTLASS: RCEIL scales, the exact reciprocal 2^(127 − byte + 127)
/// (2¹²⁷ for byte 0x00, where TE multiplies by 1), and a NaN block's
/// elements the canonical NaN 0x7F.
#[test]
fn mx_cutlass_corners() {
    let f = MxFp8E4M3::default().with_profile(MxProfile::Cutlass);
    let te = MxFp8E4M3::default();
    let mut x = vec![0.0f32; 96];
    // amax 672 = 448 · 1.5: SF = 2^⌈log2 1.5⌉ = 2 (byte 128); 672/2 = 336
    // is the tie between E4M3 320 and 352: even mantissa, 320 (0x7A).
    x[0] = 672.0;
    // amax 2^-120: 2^-120 · f32(1/448) < 2^-127, byte 0x00; 2^-120 · 2^127
    // = 128 (0x70) under CUTLASS, 2^-120 · 1 = 0 under TE.
    x[32] = 2f32.powi(-120);
    x[64] = f32::NAN;
    x[65] = 1.0;
    let o = QuantizeOptions::default();
    let q = QuantizedTensor::quantize(f, &x, 1, 96, &o).unwrap();
    let t = QuantizedTensor::quantize(te, &x, 1, 96, &o).unwrap();
    let s: Vec<u8> = q.scales().iter().map(|s| s.to_bits()).collect();
    assert_eq!(s, [128, 0x00, 0xFF]);
    let (c, ct) = (codes(&q), codes(&t));
    assert_eq!((c[0], c[32], ct[32]), (0x7A, 0x70, 0x00));
    assert!(c[64..].iter().all(|&v| v == 0x7F));
    // MXINT8 is not a CUTLASS output type.
    assert!(
        "mxint8,profile=cutlass"
            .parse::<blockscale::format::AnyFormat>()
            .is_err()
    );
    assert!(
        "mxfp4,profile=cutlass,rule=floor"
            .parse::<blockscale::format::AnyFormat>()
            .is_err()
    );
}

/// The epilogue's order and roundings: column scale, row scale, bias,
/// then beta, each rounded to f32.
#[test]
fn epilogue_rounds_each_step_in_order() {
    let (y, c, r) = (1.0f32 + f32::EPSILON, 1.0f32 + f32::EPSILON, 3.0f32);
    // y · c = 1 + 2⁻²² + 2⁻⁴⁶ → 1 + 2⁻²²; times 3 = 3 + 3·2⁻²² (exact).
    let want = (1.0f32 + 2.0 * f32::EPSILON) * 3.0 + 0.5;
    let mut out = [0.0f32];
    Epilogue::new()
        .col_scale(&[c])
        .row_scale(&[r])
        .bias(Bias::PerColumn(&[0.5]))
        .apply(&[y], 1, 1, 0.0, &mut out)
        .unwrap();
    assert_eq!(out[0], want);
    // beta: f32(v + f32(beta · C)), C read only then.
    let mut out = [f32::NAN];
    Epilogue::new().apply(&[2.0], 1, 1, 0.0, &mut out).unwrap();
    assert_eq!(out[0], 2.0);
    let mut out = [4.0f32];
    Epilogue::new()
        .bias(Bias::PerRow(&[1.0]))
        .apply(&[2.0], 1, 1, 0.25, &mut out)
        .unwrap();
    assert_eq!(out[0], 4.0);
}

#[test]
fn epilogue_errors_name_the_vector_and_write_nothing() {
    let o = QuantizeOptions::default();
    let a = QuantizedTensor::quantize(MxFp4::default(), &[1.0f32; 2 * 32], 2, 32, &o).unwrap();
    let b = QuantizedTensor::quantize(MxFp4::default(), &[1.0f32; 3 * 32], 3, 32, &o).unwrap();
    let mut c = [7.0f32; 6];
    let e = Epilogue::new().bias(Bias::PerColumn(&[1.0, 2.0]));
    let err = gemm_epilogue(&a, &b, 1.0, 0.0, &e, &mut c).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LengthMismatch {
                expected: 3,
                found: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("bias"), "{err}");
    assert_eq!(c, [7.0; 6]);
    let e = Epilogue::new().row_scale(&[1.0; 3]);
    assert!(
        gemm_epilogue(&a, &b, 1.0, 0.0, &e, &mut c)
            .unwrap_err()
            .to_string()
            .contains("row_scale")
    );
    assert!(gemm_epilogue(&a, &b, 1.0, 0.0, &Epilogue::new(), &mut c[..5]).is_err());
    let err = gemm_quantized(&a, &b, 1.0, &Epilogue::new(), CUTLASS, &o).unwrap_err();
    assert!(err.to_string().contains("16"), "{err}"); // N = 3 is not a whole block
}

/// A D whose values are known exactly: A is 1×32 ones, B's row j holds
/// (j − 16)/32, so D = 32 · (j − 16)/32 = j − 16 (every value exact in
/// MXFP8). Under NVFP4 with the norm constant 1 (A = 2688), each block
/// of 16 has SF = e4m3(amax · f32(1/6)) and elements e2m1(y · 1/SF),
/// worked here from E4M3 and E2M1 rounding.
#[test]
fn gemm_quantized_on_an_exact_product() {
    let o = QuantizeOptions::default();
    let a = QuantizedTensor::quantize(MxFp8E4M3::default(), &[1.0f32; 32], 1, 32, &o).unwrap();
    let b_in: Vec<f32> = (0..32 * 32)
        .map(|i| ((i / 32) as f32 - 16.0) / 32.0)
        .collect();
    let b = QuantizedTensor::quantize(MxFp8E4M3::default(), &b_in, 32, 32, &o).unwrap();
    let mut y = [0.0f32; 32];
    gemm_reference(&a, &b, 1.0, 0.0, &mut y).unwrap();
    let exact: Vec<f32> = (0..32).map(|j| j as f32 - 16.0).collect();
    assert_eq!(y.to_vec(), exact);
    let d = gemm_quantized(&a, &b, 1.0, &Epilogue::new(), CUTLASS, &with_amax(2688.0)).unwrap();
    // Block 0, amax 16: 16 · f32(1/6) = 2.6666667 → E4M3 2.75 (0x43 …
    // between 2.5 and 2.75, nearer 2.75). Block 1, amax 15: 2.5 → 2.5.
    let sf: Vec<f32> = d.scales().iter().map(|s| s.to_f32()).collect();
    assert_eq!(sf, [2.75, 2.5]);
    // Elements: e2m1_rn(y · f32(1/SF)).
    for (j, &v) in exact.iter().enumerate() {
        let s = sf[j / 16];
        let want = E2M1::from_f32(v * (1.0 / s)).to_bits();
        assert_eq!(d.element(0, j).unwrap().to_bits(), want, "column {j}");
    }
    // -16/2.75 = -5.818 → -6 (0xF); 7/2.5 = 2.8 → 3 (0x5); 15/2.5 = 6 (0x7).
    let c = codes(&d);
    assert_eq!((c[0], c[23], c[31]), (0xF, 0x5, 0x7));
    // The E4M3 scale of block 0, by hand: 2.75 is 1.375 · 2¹, bits 0 1000 011.
    assert_eq!(E4M3::from_f32(2.75).to_bits(), 0x43);
}
