//! AMD's fnuz FP8 formats: per-tensor and blockwise quantization on
//! E4M3FNUZ/E5M2FNUZ against hand-worked values, and the lossless move of
//! OCP E4M3/E5M2 tensors to them (vLLM's `normalize_e4m3fn_to_e4m3fnuz`
//! rule: same byte, −0 → 0, scale × 2) checked against its definition.

use blockscale::format::{AnyFormat, BlockFormat, Fp8Blockwise, Fp8Tensorwise};
use blockscale::tensor::{Direction, PartialBlocks, QuantizeOptions, QuantizedTensor};
use blockscale::{E4M3, E4M3Fnuz, E5M2, E5M2Fnuz, Error};

fn opts() -> QuantizeOptions {
    QuantizeOptions::default()
}

/// Values that reach every kind of code: zeros of both signs, the top of
/// the range, subnormals, values that round to zero, a tie.
fn corner_values() -> Vec<f32> {
    let mut x = vec![
        0.0,
        -0.0,
        448.0,
        -448.0,
        1.0,
        -1.0,
        2f32.powi(-9),
        -2f32.powi(-10),
        1e-6,
        -1e-6,
    ];
    x.extend((0..118).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.173));
    x
}

#[test]
fn fnuz_tensorwise_by_hand() {
    // amax 240 gives s = 240/240 = 1: the elements are E4M3FNUZ(x) saturated.
    let x = [240.0f32, -250.0, 1.0, -0.0, 0.0009765625, -0.0004, 0.5625];
    let f = Fp8Tensorwise::<E4M3Fnuz>::current();
    let o = QuantizeOptions {
        global_amax: Some(240.0),
        ..opts()
    };
    let q = QuantizedTensor::quantize(f, &x, 1, 7, &o).unwrap();
    assert_eq!(q.scales(), &[1.0]);
    // 240 = 0x7F; −250 saturates to −240 = 0xFF; 1 = 2^(8−8) = 0x40; −0 → 0x00
    // (no −0); 2^-10 is the smallest subnormal 0x01; −0.0004 rounds to −0,
    // which is 0x00; 0.5625 = 2^-1 · 1.125 = 0x39.
    assert_eq!(q.data(), &[0x7F, 0xFF, 0x40, 0x00, 0x01, 0x00, 0x39]);
    assert_eq!(f.id().to_string(), "fp8-e4m3fnuz");
    // E5M2FNUZ: amax 57344 = max gives s = 1; 1 = 2^(16−16) = 0x40.
    let g = Fp8Tensorwise::<E5M2Fnuz>::current();
    let q = QuantizedTensor::quantize(
        g,
        &[57344.0, -1.0, 1e9],
        1,
        3,
        &QuantizeOptions {
            global_amax: Some(57344.0),
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(q.data(), &[0x7F, 0xC0, 0x7F]);
}

#[test]
fn fnuz_formats_parse_and_print() {
    for id in [
        "fp8-e4m3fnuz",
        "fp8-e5m2fnuz,pow2",
        "fp8-block-e4m3fnuz",
        "fp8-block-e5m2fnuz,2d",
    ] {
        let f: AnyFormat = id.parse().unwrap();
        assert_eq!(f.to_string(), id);
    }
    let f: AnyFormat = "fp8-block-e4m3fnuz,2d".parse().unwrap();
    assert_eq!(f, AnyFormat::Fp8BlockwiseE4M3Fnuz(Fp8Blockwise::WEIGHTS));
}

/// The definition of the move: each byte kept, except the OCP −0 (0x80)
/// → 0 and the OCP NaN/Inf → 0x80; each stored scale doubled; every
/// dequantized value equal (with −0 read as +0).
fn check_move<A, B>(q: &QuantizedTensor<A>, z: &QuantizedTensor<B>)
where
    A: BlockFormat<Scale = f32>,
    B: BlockFormat<Scale = f32>,
{
    for (&a, &b) in q.data().iter().zip(z.data()) {
        assert_eq!(b, if a == 0x80 { 0 } else { a }, "byte {a:#04x}");
    }
    for (&s, &t) in q.scales().iter().zip(z.scales()) {
        assert_eq!(t, 2.0 * s);
    }
    for (&v, &w) in q.dequantize().iter().zip(&z.dequantize()) {
        assert_eq!(w.to_bits(), (v + 0.0).to_bits(), "{v} became {w}");
    }
}

#[test]
fn e4m3_and_e5m2_tensors_move_to_fnuz_without_loss() {
    let x = corner_values();
    let q =
        QuantizedTensor::quantize(Fp8Tensorwise::<E4M3>::current(), &x, 2, 64, &opts()).unwrap();
    assert!(q.data().contains(&0x80), "the input must reach −0");
    let z = q.to_fnuz().unwrap();
    check_move(&q, &z);
    assert_eq!(z.global_amax(), q.global_amax());

    let q = QuantizedTensor::quantize(Fp8Tensorwise::<E5M2>::with_scale(0.25), &x, 2, 64, &opts())
        .unwrap();
    let z = q.to_fnuz().unwrap();
    assert_eq!(z.format().scale, Some(0.125));
    check_move(&q, &z);

    for dir in [Direction::Rowwise, Direction::Columnwise] {
        let o = QuantizeOptions {
            direction: dir,
            ..opts()
        };
        let q = QuantizedTensor::quantize(Fp8Blockwise::<E4M3>::new(1, 4), &x, 4, 32, &o).unwrap();
        let z = q.to_fnuz().unwrap();
        assert_eq!(z.direction(), dir);
        check_move(&q, &z);
        let q = QuantizedTensor::quantize(Fp8Blockwise::<E5M2>::new(2, 2), &x, 4, 32, &o).unwrap();
        let z = q.to_fnuz().unwrap();
        check_move(&q, &z);
    }
}

#[test]
fn nan_codes_and_huge_scales() {
    // A GPU's bytes with a NaN (0x7F) and −0: NaN stays NaN, −0 becomes 0.
    let f = Fp8Blockwise::<E4M3>::new(1, 4);
    let q = QuantizedTensor::from_parts(
        f,
        (1, 4),
        Direction::Rowwise,
        PartialBlocks::Reject,
        vec![0x7F, 0x80, 0x38, 0xB8],
        vec![1.0],
        None,
    )
    .unwrap();
    let z = q.to_fnuz().unwrap();
    assert_eq!(z.data(), &[0x80, 0x00, 0x38, 0xB8]);
    let d = z.dequantize();
    assert!(d[0].is_nan());
    assert_eq!(&d[1..], &[0.0, 1.0, -1.0]);
    // E5M2 +Inf (0x7C) has no fnuz counterpart: NaN.
    let q = QuantizedTensor::from_parts(
        Fp8Blockwise::<E5M2>::new(1, 2),
        (1, 2),
        Direction::Rowwise,
        PartialBlocks::Reject,
        vec![0x7C, 0x3C],
        vec![1.0],
        None,
    )
    .unwrap();
    assert_eq!(q.to_fnuz().unwrap().data(), &[0x80, 0x3C]);
    // A stored scale whose double overflows f32 is refused, naming the block.
    let q = QuantizedTensor::from_parts(
        f,
        (1, 8),
        Direction::Rowwise,
        PartialBlocks::Reject,
        vec![0x38; 8],
        vec![1.0, f32::MAX],
        None,
    )
    .unwrap();
    match q.to_fnuz().unwrap_err() {
        Error::InvalidValue { what, .. } => assert_eq!(what, "FP8-E4M3-block1x4: scale 1"),
        e => panic!("{e}"),
    }
    assert_eq!(E4M3::NEG_ZERO.to_bits(), 0x80);
    assert!(E5M2Fnuz::from_bits(0x80).is_nan());
}

/// A GEMM's output depends only on the operands' values, which the move
/// to fnuz keeps: the fnuz GEMM (fast path and reference) equals the OCP
/// one bit for bit.
#[test]
fn fnuz_gemm_equals_the_ocp_gemm() {
    use blockscale::gemm::{gemm, gemm_reference};
    let (m, n, k) = (9, 7, 256);
    let val = |i: usize| ((i * 7919 % 1009) as f32 - 504.0) * 0.0173;
    let xa: Vec<f32> = (0..m * k).map(val).collect();
    let xb: Vec<f32> = (0..n * k).map(|i| val(i + 17)).collect();
    let a =
        QuantizedTensor::quantize(Fp8Blockwise::<E4M3>::ACTIVATIONS, &xa, m, k, &opts()).unwrap();
    let b =
        QuantizedTensor::quantize(Fp8Blockwise::<E5M2>::ACTIVATIONS, &xb, n, k, &opts()).unwrap();
    let (za, zb) = (a.to_fnuz().unwrap(), b.to_fnuz().unwrap());
    let mut want = vec![0f32; m * n];
    gemm_reference(&a, &b, 1.0, 0.0, &mut want).unwrap();
    for fast in [false, true] {
        let mut got = vec![0f32; m * n];
        if fast {
            gemm(&za, &zb, 1.0, 0.0, &mut got).unwrap();
        } else {
            gemm_reference(&za, &zb, 1.0, 0.0, &mut got).unwrap();
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want), "fast path: {fast}");
    }
}
