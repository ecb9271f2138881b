//! Golden vectors for the block formats. The expected bytes come from
//! independent reference quantizers (numpy float32 arithmetic and ml_dtypes
//! casts, written from SEMANTICS.md in `tests/golden/gen_golden.py`), and the
//! special cases are worked by hand in the comments.

use blockscale::format::{Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp8E4M3, Nvfp4};
use blockscale::scale::mx::{MxProfile, MxScaleRule};
use blockscale::scale::nvfp4::Nvfp4Profile;
use blockscale::tensor::{Direction, PartialBlocks, QuantizeOptions, QuantizedTensor};
use blockscale::{E4M3, E5M2, Element, Error};

/// Four NVFP4 blocks (see gen_golden.py `nvfp4_input`):
/// 0. E2M1 ties at unit scale (the tensor amax is 2688, so S_enc = 1 and a
///    block of amax 6 gets s_b = 1, e_b = 1): 0.25 → 0, 0.75 → 1, 1.25 → 1,
///    1.75 → 2, 2.5 → 2, 3.5 → 4, 5 → 4 (ties to even codes);
/// 1. the tensor's amax block (s_b = 448);
/// 2. an all-zero block;
/// 3. a block so small that s_b underflows E4M3 to 0.
fn nvfp4_input() -> Vec<f32> {
    let mut x = vec![
        0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 6.0, -0.25, -0.75, -5.0, 0.1, 0.3, -1.6, 4.4, 0.0,
    ];
    x.extend([
        2688.0, -1000.0, 700.0, 300.0, 150.0, 100.0, 37.0, -19.0, 9.0, 5.0, 2.0, 1.0, 0.5, -0.2,
        0.0, 1e-3,
    ]);
    x.extend([0.0; 16]);
    for _ in 0..4 {
        x.extend([1e-4, -2e-4, 3e-5, 0.0]);
    }
    x
}

fn nibbles<F: blockscale::format::BlockFormat>(q: &QuantizedTensor<F>) -> Vec<u8> {
    q.data().iter().flat_map(|b| [b & 0xF, b >> 4]).collect()
}

const FIRST_TWO_BLOCKS: [u8; 32] = [
    0, 2, 2, 4, 4, 6, 6, 7, 8, 10, 14, 0, 1, 11, 6, 0, //
    7, 12, 3, 1, 1, 0, 0, 8, 0, 0, 0, 0, 0, 8, 0, 0,
];

fn nvfp4(profile: Nvfp4Profile) -> QuantizedTensor<Nvfp4> {
    QuantizedTensor::quantize(
        Nvfp4 {
            profile,
            two_d: false,
        },
        &nvfp4_input(),
        1,
        64,
        &QuantizeOptions::default(),
    )
    .unwrap()
}

#[test]
fn nvfp4_transformer_engine_golden() {
    let q = nvfp4(Nvfp4Profile::TransformerEngine);
    assert_eq!(q.global_amax(), Some(2688.0));
    let s: Vec<u8> = q.scales().iter().map(|s| s.to_bits()).collect();
    // 1.0, 448, and 0 for the zero and the underflowing block.
    assert_eq!(s, [0x38, 0x7E, 0x00, 0x00]);
    let n = nibbles(&q);
    assert_eq!(n[..32], FIRST_TWO_BLOCKS);
    assert_eq!(n[32..48], [0; 16]);
    // s_b = 0 ⇒ e_b = FLT_MAX ⇒ every non-zero element saturates to ±6,
    // and dequantizes to 0 (factor 0 · A / 2688).
    assert_eq!(n[48..52], [7, 15, 7, 0]);
    let d = q.dequantize();
    assert!(d[48..].iter().all(|&v| v == 0.0));
    // Dequantized ties at unit scale: (s_b · A) · (1/2688) = 1 exactly here?
    // 2688 · f32(1/2688) rounds to 1 (f32(1/2688) is within half an ulp).
    assert_eq!(d[..8], [0.0, 1.0, 1.0, 2.0, 2.0, 4.0, 4.0, 6.0]);
}

#[test]
fn nvfp4_other_profiles_golden() {
    // A = 2688, so w = A/2688 = 1. Block 3 is zero; block 4 has amax 2e-4,
    // whose scale 2e-4/6 = 3.3e-5 is below half of E4M3's smallest 2^-9.
    let scales =
        |q: &QuantizedTensor<Nvfp4>| q.scales().iter().map(|s| s.to_bits()).collect::<Vec<_>>();

    // Model-Optimizer ≥ 0.45: the zero block's 0 becomes 1.0 (0x38), the tiny
    // block's scale is clamped up to 2^-9 (0x01); 1e-4 · 512 = 0.05 → 0,
    // −2e-4 · 512 = −0.10 → −0 (its sign is x < 0), 3e-5 → 0, 0 → +0.
    let mo = nvfp4(Nvfp4Profile::ModelOptimizer);
    assert_eq!(scales(&mo), [0x38, 0x7E, 0x38, 0x01]);
    let n = nibbles(&mo);
    assert_eq!(n[..32], FIRST_TWO_BLOCKS);
    assert_eq!(n[48..52], [0, 8, 0, 0]);

    // Model-Optimizer 0.35–0.44: no clamp, so the tiny block stores 0x00
    // and its elements divide by 0: ±6, and 0/0 = NaN → +6.
    let legacy = nvfp4(Nvfp4Profile::ModelOptimizerLegacy);
    assert_eq!(scales(&legacy), [0x38, 0x7E, 0x38, 0x00]);
    assert_eq!(nibbles(&legacy)[48..52], [7, 15, 7, 7]);

    let tao = nvfp4(Nvfp4Profile::TorchAo);
    // Block scales are clamped below at 2^-6 (E4M3 0x08).
    assert_eq!(scales(&tao), [0x38, 0x7E, 0x08, 0x08]);
    assert_eq!(nibbles(&tao)[48..52], [0, 8, 0, 0]);

    // JAX: s_b = 0 makes the element multiplier f(1/0 · c) = ∞: zeros give
    // 0 · ∞ = NaN, which XLA's convert makes −0 (8); the tiny block's
    // nonzero elements saturate to ±6.
    let jax = nvfp4(Nvfp4Profile::Jax);
    assert_eq!(scales(&jax), [0x38, 0x7E, 0x00, 0x00]);
    let n = nibbles(&jax);
    assert!(n[32..48].iter().all(|&c| c == 8));
    assert_eq!(n[48..52], [7, 15, 7, 8]);

    // compressed-tensors: zero and underflowing blocks get 0.125 (0x20);
    // the elements divide by 0.125/g ≈ 0.125: −2e-4 · 8 → −0, the rest +0.
    let ct = nvfp4(Nvfp4Profile::CompressedTensors);
    assert_eq!(scales(&ct)[2..], [0x20, 0x20]);
    assert_eq!(nibbles(&ct)[48..52], [0, 8, 0, 0]);
}

#[test]
fn nvfp4_special_amax_values() {
    let zeros = [0f32; 16];
    let q = QuantizedTensor::quantize(Nvfp4::default(), &zeros, 1, 16, &QuantizeOptions::default())
        .unwrap();
    // A = 0 ⇒ S_enc = 1; s_b = 0; all q = 0; dequantizes to 0.
    assert_eq!(
        (q.scales()[0].to_bits(), q.data(), q.dequantize()),
        (0, &[0u8; 8][..], vec![0.0; 16])
    );

    let mut x = vec![1.0f32; 16];
    x[3] = f32::INFINITY;
    let q = QuantizedTensor::quantize(Nvfp4::default(), &x, 1, 16, &QuantizeOptions::default())
        .unwrap();
    // A = Inf ⇒ S_enc = 2688/Inf = 0 ⇒ 1. a_b = Inf ⇒ s_b = satfinite(Inf) = 448.
    assert_eq!(q.global().s_enc, 1.0);
    assert_eq!(q.scales()[0], E4M3::MAX);

    x[3] = f32::NAN;
    let q = QuantizedTensor::quantize(Nvfp4::default(), &x, 1, 16, &QuantizeOptions::default())
        .unwrap();
    // A = NaN ⇒ S_enc = NaN (TE's fused kernel and reference): everything is NaN.
    assert!(q.global().s_enc.is_nan());
    assert!(q.dequantize().iter().all(|v| v.is_nan()));

    // A caller-supplied global amax (amax reduced across shards) replaces the tensor's.
    let opts = QuantizeOptions {
        global_amax: Some(2688.0),
        ..Default::default()
    };
    let q = QuantizedTensor::quantize(Nvfp4::default(), &[3.0f32; 16], 1, 16, &opts).unwrap();
    assert_eq!(q.global_amax(), Some(2688.0));
    // S_enc = 1: s_b = e4m3(3/6) = 0.5, e_b = 2, q = E2M1(6) = code 7.
    assert_eq!((q.scales()[0].to_f32(), q.data()[0]), (0.5, 0x77));
}

fn mx_input() -> Vec<f32> {
    let mut x = vec![7.0, 0.3, -2.9, 1.0, 0.25, 0.75];
    x.extend([0.5; 26]);
    x.extend([7.0, -3.0, 2.5, 0.0]);
    x.extend([0.125; 28]);
    x.extend([0.0; 32]);
    x.extend([672.0, 1.0, -200.0]);
    x.extend([3.0; 29]);
    x
}

#[test]
fn mxfp4_scale_rules_golden() {
    let cases: [(MxScaleRule, [u8; 4], [u8; 6]); 4] = [
        // FLOOR: amax 7 ⇒ 2^(2−2) = 1: 7 clips to 6 (code 7).
        (MxScaleRule::Floor, [127, 127, 0, 134], [7, 1, 13, 2, 0, 2]),
        // RCEIL: 7/6 rounds up to 2: 7/2 = 3.5 → 4 (code 6).
        (MxScaleRule::Rceil, [128, 128, 0, 134], [6, 0, 11, 1, 0, 1]),
        (MxScaleRule::Ceil, [128, 128, 0, 135], [6, 0, 11, 1, 0, 1]),
        (MxScaleRule::Even, [128, 128, 0, 134], [6, 0, 11, 1, 0, 1]),
    ];
    for (rule, scales, head) in cases {
        let q = QuantizedTensor::quantize(
            MxFp4::new(rule),
            &mx_input(),
            1,
            128,
            &QuantizeOptions::default(),
        )
        .unwrap();
        let s: Vec<u8> = q.scales().iter().map(|s| s.to_bits()).collect();
        assert_eq!(s, scales, "{rule:?}");
        assert_eq!(nibbles(&q)[..6], head, "{rule:?}");
    }
}

#[test]
fn mxfp8_scale_rules_golden() {
    let cases: [(MxScaleRule, [u8; 4], [u8; 8]); 2] = [
        (
            MxScaleRule::Floor,
            [121, 121, 0, 128],
            [0x7e, 0x5a, 0xf4, 0x68, 0x58, 0x64, 0x60, 0x60],
        ),
        (
            MxScaleRule::Ceil,
            [122, 122, 0, 129],
            [0x76, 0x52, 0xec, 0x60, 0x50, 0x5c, 0x58, 0x58],
        ),
    ];
    for (rule, scales, head) in cases {
        let q = QuantizedTensor::quantize(
            MxFp8E4M3::new(rule),
            &mx_input(),
            1,
            128,
            &QuantizeOptions::default(),
        )
        .unwrap();
        let s: Vec<u8> = q.scales().iter().map(|s| s.to_bits()).collect();
        assert_eq!(s, scales, "{rule:?}");
        assert_eq!(q.data()[..8], head, "{rule:?}");
        // 672 = 1.3125 · 2^9: FLOOR gives X = 2^1 and 336 = 1.3125 · 2^8, a
        // tie between 320 and 352 that goes to even 320 (0x7A); CEIL 2^2 → 168 → 160.
        let top = q.element(0, 96).unwrap().to_f32();
        assert_eq!(
            top,
            if rule == MxScaleRule::Floor {
                320.0
            } else {
                160.0
            }
        );
    }
}

#[test]
fn mx_special_blocks() {
    let mut x = vec![1.0f32; 64];
    x[5] = f32::NAN;
    x[40] = f32::INFINITY;
    let q = QuantizedTensor::quantize(
        MxFp8E4M3::new(MxScaleRule::Floor),
        &x,
        1,
        64,
        &QuantizeOptions::default(),
    )
    .unwrap();
    assert_eq!(q.scales()[0].to_bits(), 0xFF);
    assert_eq!(q.scales()[1].to_bits(), 0xFF);
    assert!(q.dequantize().iter().all(|v| v.is_nan()));
    let q = QuantizedTensor::quantize(MxFp8E4M3::default(), &x, 1, 64, &QuantizeOptions::default())
        .unwrap();
    // RCEIL follows Transformer Engine: Inf → 0xFE.
    assert_eq!(q.scales()[1].to_bits(), 0xFE);
}

#[test]
fn fp8_tensorwise_and_blockwise_golden() {
    // amax 2 ⇒ s = 448/2 = 224; 0.3·224 = 67.2 → E4M3 64 (step 8 in [64, 128)): 64/224.
    let q = QuantizedTensor::quantize(
        Fp8Tensorwise::<E4M3>::current(),
        &[2.0f32, 0.3, -1.0, 0.0],
        1,
        4,
        &QuantizeOptions::default(),
    )
    .unwrap();
    assert_eq!(q.scales(), &[1.0 / 224.0]);
    assert_eq!(q.element(0, 1).unwrap().to_f32(), 64.0);
    // E5M2 max 57344: s = 28672; 0.3·28672 = 8601.6 → 8192 (step 2048).
    let q = QuantizedTensor::quantize(
        Fp8Tensorwise::<E5M2>::current(),
        &[2.0f32, 0.3],
        1,
        2,
        &QuantizeOptions::default(),
    )
    .unwrap();
    assert_eq!(q.element(0, 1).unwrap().to_f32(), 8192.0);
    // A delayed-scaling scale is used as given; values past 448 saturate.
    let q = QuantizedTensor::quantize(
        Fp8Tensorwise::<E4M3>::with_scale(100.0),
        &[5.0f32, 0.01],
        1,
        2,
        &QuantizeOptions::default(),
    )
    .unwrap();
    assert_eq!(q.element(0, 0).unwrap(), E4M3::MAX);
    assert_eq!(q.element(0, 1).unwrap().to_f32(), 1.0);
    // Blockwise 1×128, power of two: amax 3 ⇒ 448/3 = 149.3 ⇒ 128.
    let mut x = vec![3.0f32; 256];
    x[200] = 0.0;
    x[128..].iter_mut().for_each(|v| *v = 0.0);
    let q = QuantizedTensor::quantize(
        Fp8Blockwise::<E4M3>::ACTIVATIONS,
        &x,
        1,
        256,
        &QuantizeOptions::default(),
    )
    .unwrap();
    // The zero block: amax 0 ⇒ scale 1.
    assert_eq!(q.scales(), &[1.0 / 128.0, 1.0]);
    assert_eq!(q.element(0, 0).unwrap().to_f32(), 384.0);
}

#[test]
fn shapes_and_bad_input() {
    let x = vec![1.0f32; 48];
    // 48 columns are not whole 32-blocks.
    let err = QuantizedTensor::quantize(MxFp4::default(), &x, 1, 48, &QuantizeOptions::default())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotWholeBlocks {
                shape: (1, 48),
                block: (1, 32),
                ..
            }
        ),
        "{err}"
    );
    let pad = QuantizeOptions {
        partial_blocks: PartialBlocks::ZeroPad,
        ..Default::default()
    };
    let q = QuantizedTensor::quantize(MxFp4::default(), &x, 1, 48, &pad).unwrap();
    assert_eq!(
        (q.scale_shape(), q.scales().len(), q.data().len()),
        ((1, 2), 2, 24)
    );
    assert_eq!(q.dequantize(), x);
    // Wrong length, overflowing shape.
    assert!(matches!(
        QuantizedTensor::quantize(Nvfp4::default(), &x, 2, 16, &QuantizeOptions::default()),
        Err(Error::LengthMismatch {
            expected: 32,
            found: 48,
            ..
        })
    ));
    assert!(
        QuantizedTensor::quantize(
            Nvfp4::default(),
            &x,
            usize::MAX,
            16,
            &QuantizeOptions::default()
        )
        .is_err()
    );
    // Zero-sized blocks.
    assert!(QuantizedTensor::quantize(Fp8Blockwise::<E4M3>::new(0, 128), &x, 1, 48, &pad).is_err());
    // Empty tensors quantize to nothing.
    let q = QuantizedTensor::quantize(
        Nvfp4::default(),
        &[] as &[f32],
        0,
        16,
        &QuantizeOptions::default(),
    )
    .unwrap();
    assert!(q.data().is_empty() && q.scales().is_empty() && q.dequantize().is_empty());
    // Raw parts are validated.
    let q = QuantizedTensor::quantize(
        Nvfp4::default(),
        &[1.0f32; 32],
        2,
        16,
        &QuantizeOptions::default(),
    )
    .unwrap();
    let rebuilt = QuantizedTensor::from_parts(
        Nvfp4::default(),
        (2, 16),
        Direction::Rowwise,
        PartialBlocks::Reject,
        q.data().to_vec(),
        q.scales().to_vec(),
        q.global_amax(),
    )
    .unwrap();
    assert_eq!(rebuilt.dequantize(), q.dequantize());
    assert!(
        QuantizedTensor::from_parts(
            Nvfp4::default(),
            (2, 16),
            Direction::Rowwise,
            PartialBlocks::Reject,
            vec![0; 3],
            q.scales().to_vec(),
            Some(1.0)
        )
        .is_err()
    );
    assert!(
        QuantizedTensor::from_parts(
            Nvfp4::default(),
            (2, 16),
            Direction::Rowwise,
            PartialBlocks::Reject,
            q.data().to_vec(),
            q.scales().to_vec(),
            None
        )
        .is_err()
    );
    let _ = E4M3::NAME;
}

/// A block whose RCEIL scale byte is 0x00 (amax/448 ≤ 2⁻¹²⁷). Transformer
/// Engine multiplies its elements by `exp2f_rcp(0)` = 1
/// (`transformer_engine/common/util/ptx.cuh`), so x = −1.4456583e-37 gives
/// −0 (0x80), the byte TE and torchao write; OCP arithmetic multiplies by
/// 2¹²⁷: x·2¹²⁷ = −24.597…, which rounds to −24 = 1.1011.100 (0xDC).
#[test]
fn rceil_zero_scale_byte() {
    let mut x = vec![0.0f32; 32];
    x[0] = -1.4456583e-37;
    x[1] = 1.0e-37;
    x[2] = -3.0e-38;
    let o = QuantizeOptions::default();
    let te = QuantizedTensor::quantize(MxFp8E4M3::default(), &x, 1, 32, &o).unwrap();
    assert_eq!(te.scales()[0].to_bits(), 0x00);
    assert_eq!(&te.data()[..3], &[0x80, 0x00, 0x80]);
    assert!(te.data()[3..].iter().all(|&b| b == 0));
    // The same bytes from the portable path (the SIMD levels take a
    // bit-level RCEIL of their own; `with_level` needs std).
    #[cfg(feature = "std")]
    {
        let portable = blockscale::simd::with_level(blockscale::simd::Level::Portable, || {
            QuantizedTensor::quantize(MxFp8E4M3::default(), &x, 1, 32, &o).unwrap()
        });
        assert_eq!(portable.data(), te.data());
    }
    let ocp = QuantizedTensor::quantize(
        MxFp8E4M3::default().with_profile(MxProfile::Ocp),
        &x,
        1,
        32,
        &o,
    )
    .unwrap();
    assert_eq!(ocp.scales()[0].to_bits(), 0x00);
    assert_eq!(ocp.data()[0], 0xDC);
    // 1e-37·2^127 = 17.01…, above the midpoint 17 of 16 and 18:
    // 18 = 0.1011.001 (0x59).
    assert_eq!(ocp.data()[1], 0x59);
    // MXFP4 (max 6, so amax ≤ 6·2⁻¹²⁷): TE −0 and +0 (0x8 low nibble,
    // 0x0 high); OCP −1e-38·2¹²⁷ = −1.70 → −1.5 (0xB) and
    // 2e-39·2¹²⁷ = 0.34 → 0.5 (0x1).
    let mut z = vec![0.0f32; 32];
    (z[0], z[1]) = (-1.0e-38, 2.0e-39);
    let te4 = QuantizedTensor::quantize(MxFp4::default(), &z, 1, 32, &o).unwrap();
    assert_eq!(te4.scales()[0].to_bits(), 0x00);
    assert_eq!(te4.data()[0], 0x08);
    let ocp4 =
        QuantizedTensor::quantize(MxFp4::default().with_profile(MxProfile::Ocp), &z, 1, 32, &o)
            .unwrap();
    assert_eq!(ocp4.data()[0], 0x1B);
    // Blocks with any other scale byte are multiplied by 1/X under both.
    let y: Vec<f32> = x.iter().map(|v| v * 2.0f32.powi(20)).collect();
    let a = QuantizedTensor::quantize(MxFp8E4M3::default(), &y, 1, 32, &o).unwrap();
    let b = QuantizedTensor::quantize(
        MxFp8E4M3::default().with_profile(MxProfile::Ocp),
        &y,
        1,
        32,
        &o,
    )
    .unwrap();
    assert_ne!(a.scales()[0].to_bits(), 0x00);
    assert_eq!(a.data(), b.data());
}

#[test]
fn f32_subnormal_blocks() {
    // A block of f32 subnormals around 2^-140: FLOOR wants X = 2^(-140-8),
    // clamped to E8M0's 2^-127; x/X = 2^-13 is below E4M3's smallest
    // subnormal 2^-10 half-way point, so every element flushes to zero.
    let x = vec![f32::from_bits(1 << 9); 32]; // 2^-140, built exactly
    let q = QuantizedTensor::quantize(
        MxFp8E4M3::new(MxScaleRule::Floor),
        &x,
        1,
        32,
        &QuantizeOptions::default(),
    )
    .unwrap();
    assert_eq!(q.scales()[0].to_bits(), 0x00);
    assert!(q.dequantize().iter().all(|&v| v == 0.0));
    // NVFP4: A = 2^-140 makes 2688/A overflow, so S_enc is clamped to
    // FLT_MAX; the block scale a_b·FLT_MAX/6 ≈ 4.1e-5 is below half of E4M3's
    // smallest subnormal 2^-9, so s_b = 0 and the tensor flushes to zero.
    let q = QuantizedTensor::quantize(
        Nvfp4::default(),
        &x[..16],
        1,
        16,
        &QuantizeOptions::default(),
    )
    .unwrap();
    assert_eq!(q.global().s_enc, f32::MAX);
    assert_eq!(q.scales()[0].to_bits(), 0);
    assert!(q.dequantize().iter().all(|&v| v == 0.0));
}

#[test]
#[cfg(feature = "std")] // recipes need std
fn delayed_scaling_drives_fp8_tensorwise() {
    use blockscale::recipe::{AmaxCompute, DelayedScaler, DelayedScalingConfig};
    let cfg = DelayedScalingConfig::new(2, AmaxCompute::Max, 0).unwrap();
    let mut scaler = DelayedScaler::new(cfg, 448.0).unwrap();
    // Step 0 has no history: scale 1, so 600 saturates to 448.
    let step0 = [600.0f32, 1.0];
    let q = QuantizedTensor::quantize(
        Fp8Tensorwise::<E4M3>::with_scale(scaler.scale()),
        &step0,
        1,
        2,
        &QuantizeOptions::default(),
    )
    .unwrap();
    assert_eq!(q.element(0, 0).unwrap(), E4M3::MAX);
    scaler.update(600.0);
    // Step 1 uses step 0's amax: 448/600 = 0.74666667; 600·s = 448 exactly representable.
    let q = QuantizedTensor::quantize(
        Fp8Tensorwise::<E4M3>::with_scale(scaler.scale()),
        &step0,
        1,
        2,
        &QuantizeOptions::default(),
    )
    .unwrap();
    assert_eq!(scaler.scale(), 448.0f32 / 600.0);
    assert_eq!(q.element(0, 0).unwrap(), E4M3::MAX);
    assert_eq!(q.dequantize()[0], 448.0 * (1.0 / (448.0f32 / 600.0)));
}
