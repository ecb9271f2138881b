//! The linear-layer helper: its three GEMMs against operands quantized
//! independently with the named formats, RHT, stochastic rounding, BF16
//! layers, delayed-scaling state and bad input.

use blockscale::format::{Fp8Tensorwise, MxFp4};
use blockscale::gemm::gemm_reference;
use blockscale::recipe::{
    Bf16Selection, LinearLayer, LinearShape, Nvfp4Options, OperandRole, QuantizedOperand, Recipe,
    RecipeKind,
};
use blockscale::tensor::{AnyQuantized, QuantizeOptions, QuantizedTensor};
use blockscale::{E4M3, Error};

use OperandRole::*;

mod support;
use support::{abt, data, exact, sqnr, transpose};

#[test]
fn rht_on_wgrad_operands_leaves_the_exact_product_unchanged() {
    let (t, o, i) = (64, 16, 32);
    let dy = data(4, t * o, 1e-2);
    let x = data(5, t * i, 1.0);
    let recipe = Recipe::nvfp4();
    let (sa, sb) = (recipe.spec(WgradGradOutput), recipe.spec(WgradInput));
    let want = abt(&transpose(&dy, t, o), &transpose(&x, t, i), o, i, t);
    let mags = abt(
        &transpose(&dy, t, o)
            .iter()
            .map(|v| v.abs())
            .collect::<Vec<_>>(),
        &transpose(&x, t, i)
            .iter()
            .map(|v| v.abs())
            .collect::<Vec<_>>(),
        o,
        i,
        t,
    );
    for bf16 in [false, true] {
        let (mut a, mut b) = (dy.clone(), x.clone());
        let ra = sa.rht.clone().unwrap().with_bf16_rounding(bf16);
        let rb = sb.rht.clone().unwrap().with_bf16_rounding(bf16);
        ra.forward(&mut a, t, o, sa.direction).unwrap();
        rb.forward(&mut b, t, i, sb.direction).unwrap();
        assert_ne!(a, dy);
        let got = abt(&transpose(&a, t, o), &transpose(&b, t, i), o, i, t);
        // Unchanged up to the rounding of the transformed entries: 2^-24
        // relative in f32, 2^-9 with TE's BF16 output (×4: |M| entries sum).
        let rel = if bf16 { 2f64.powi(-9) } else { 2f64.powi(-24) };
        for k in 0..o * i {
            assert!(
                (got[k] - want[k]).abs() <= 2.0 * 4.0 * rel * mags[k] * 4.0,
                "bf16 {bf16}: {} vs {}",
                got[k],
                want[k]
            );
        }
    }
}

#[test]
fn stochastic_rounding_is_unbiased_where_nearest_is_biased() {
    // dY: in every 16-token block of every column one entry is 6 (so the
    // block maps 6 ↦ E2M1 6 with scale ≈ 1) and the other 15 are 2.4, which
    // nearest rounding always sends to 2 (bias −0.4 each) and stochastic
    // rounding to 2 or 3 with probabilities 0.6 / 0.4 (mean 2.4).
    // X is all ones, exact in NVFP4. dW = dYᵀ·X = 6 + 15·2.4 = 42 per
    // 16-token block; with 16 tokens, every entry of dW is 42.
    let (t, o, i) = (16, 16, 16);
    let shape = LinearShape {
        tokens: t,
        in_features: i,
        out_features: o,
    };
    let dy: Vec<f32> = (0..t * o)
        .map(|k| if k / o == k % o { 6.0 } else { 2.4 })
        .collect();
    let x = vec![1.0f32; t * i];
    let w = vec![1.0f32; o * i];
    let exact_dw = 42.0f64;

    let sr = Recipe::nvfp4_with(Nvfp4Options {
        rht: false,
        ..Default::default()
    });
    let nearest = Recipe::nvfp4_with(Nvfp4Options {
        rht: false,
        stochastic_gradients: false,
        ..Default::default()
    });
    let mut l = LinearLayer::new(nearest, 0, 1).unwrap();
    let dw = l.run(0, &x, &w, &dy, shape).unwrap().dw;
    let nearest_mean = dw.iter().map(|&v| f64::from(v)).sum::<f64>() / dw.len() as f64;
    // 6 + 15·2 = 36, up to the f32 rounding of NVFP4's global scales.
    assert!((nearest_mean - 36.0).abs() < 1e-3, "{nearest_mean}");

    let runs = 400;
    let mut l = LinearLayer::new(sr, 0, 1).unwrap();
    let mut mean = vec![0f64; o * i];
    for step in 0..runs {
        let dw = l.run(step, &x, &w, &dy, shape).unwrap().dw;
        for (m, v) in mean.iter_mut().zip(dw) {
            *m += f64::from(v) / runs as f64;
        }
    }
    let overall = mean.iter().sum::<f64>() / mean.len() as f64;
    let worst = mean
        .iter()
        .map(|m| (m - exact_dw).abs())
        .fold(0f64, f64::max);
    // Per entry: 15 independent roundings, variance 15·0.24 = 3.6, so the
    // mean of 400 runs has σ ≈ 0.095; the overall mean σ ≈ 0.024 (16
    // independent columns).
    assert!((overall - exact_dw).abs() < 0.1, "SR mean {overall}");
    assert!(worst < 0.5, "worst SR mean error {worst}");
    assert!((nearest_mean - exact_dw).abs() > 5.0);
}

#[test]
fn nvfp4_2d_weights_give_fprop_and_dgrad_the_same_weight() {
    let (o, i) = (48, 64);
    let w = data(6, o * i, 0.02);
    let same = |recipe: &Recipe| {
        let f = recipe.spec(FpropWeight).quantize(&w, o, i, None).unwrap();
        let d = recipe.spec(DgradWeight).quantize(&w, o, i, None).unwrap();
        assert_eq!(f.stored_shape(), (o, i));
        assert_eq!(d.stored_shape(), (i, o));
        (f.dequantize() == d.dequantize(), f, d)
    };
    let (eq, f, d) = same(&Recipe::nvfp4());
    assert!(eq, "2-D weights: fprop and dgrad differ");
    // Bit for bit: the dgrad copy's stored codes are the fprop codes transposed.
    let (
        QuantizedOperand::Block(AnyQuantized::Nvfp4(f)),
        QuantizedOperand::Block(AnyQuantized::Nvfp4(d)),
    ) = (&f, &d)
    else {
        panic!("NVFP4 operands expected");
    };
    for r in 0..o {
        for c in 0..i {
            assert_eq!(f.element(r, c), d.element(c, r));
        }
    }
    // With 1×16 weights (the ablation) the two copies are quantized along
    // different axes and differ.
    let (eq, _, _) = same(&Recipe::nvfp4_with(Nvfp4Options {
        two_d_weights: false,
        ..Default::default()
    }));
    assert!(!eq, "1-D weights should differ between fprop and dgrad");
}

#[test]
fn bf16_layers_and_steps_compute_in_bf16() {
    let shape = LinearShape {
        tokens: 32,
        in_features: 32,
        out_features: 16,
    };
    let (t, i, o) = (32, 32, 16);
    let x = data(7, t * i, 1.0);
    let w = data(8, o * i, 0.1);
    let dy = data(9, t * o, 1e-2);
    let mut recipe = Recipe::nvfp4();
    recipe.bf16 = Bf16Selection {
        last: 1,
        from_step: Some(10),
        ..Default::default()
    };
    // Independent BF16 layer: round to bf16, multiply, sum in f32 in K order.
    let r = |v: &[f32]| -> Vec<f32> {
        v.iter()
            .map(|&a| half::bf16::from_f32(a).to_f32())
            .collect()
    };
    let f32_abt = |a: &[f32], b: &[f32], m: usize, n: usize, k: usize| -> Vec<f32> {
        let mut c = vec![0f32; m * n];
        for p in 0..m {
            for q in 0..n {
                let mut acc = 0f32;
                for l in 0..k {
                    acc += a[p * k + l] * b[q * k + l];
                }
                c[p * n + q] = acc;
            }
        }
        c
    };
    let (bx, bw, bdy) = (r(&x), r(&w), r(&dy));
    let y = f32_abt(&bx, &bw, t, o, i);
    let dx = f32_abt(&bdy, &transpose(&bw, o, i), t, i, o);
    let dw = f32_abt(&transpose(&bdy, t, o), &transpose(&bx, t, i), o, i, t);

    let mut last = LinearLayer::new(recipe.clone(), 3, 4).unwrap();
    let out = last.run(0, &x, &w, &dy, shape).unwrap();
    assert!(out.bf16);
    assert_eq!((&out.y, &out.dx, &out.dw), (&y, &dx, &dw));

    let mut first = LinearLayer::new(recipe, 0, 4).unwrap();
    let early = first.run(9, &x, &w, &dy, shape).unwrap();
    assert!(!early.bf16 && early.y != y);
    let late = first.run(10, &x, &w, &dy, shape).unwrap();
    assert!(late.bf16);
    assert_eq!(late.y, y);
}

#[test]
fn delayed_recipe_keeps_amax_histories_per_layer() {
    let shape = LinearShape {
        tokens: 4,
        in_features: 8,
        out_features: 2,
    };
    let x: Vec<f32> = (0..32).map(|k| (k % 5) as f32 * 0.5 - 1.0).collect(); // amax 1
    let w: Vec<f32> = (0..16).map(|k| (k % 7) as f32 - 3.0).collect(); // amax 3
    let dy: Vec<f32> = (0..8).map(|k| (k as f32 - 3.5) * 1e-3).collect(); // amax 3.5e-3
    let mut layer = LinearLayer::new(Recipe::delayed(), 0, 1).unwrap();
    let d = layer.state().delayed.clone().unwrap();
    assert_eq!(
        (d.input.scale(), d.weight.scale(), d.grad_output.scale()),
        (1.0, 1.0, 1.0)
    );
    assert_eq!(d.input.history().len(), 1024); // TE's default history
    layer.run(0, &x, &w, &dy, shape).unwrap();
    let d = layer.state().delayed.clone().unwrap();
    assert_eq!(d.input.scale(), 448.0);
    assert_eq!(d.weight.scale(), 448.0f32 / 3.0);
    let dy_amax = dy.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert_eq!(d.grad_output.scale(), 57344.0 / dy_amax);
    assert_eq!(*d.input.history().last().unwrap(), 1.0);

    // Step 1 quantizes with step 0's scales, whatever step 1's amaxes are:
    // X doubled saturates at 448/448 = 1 (E4M3 satfinite).
    let x2: Vec<f32> = x.iter().map(|v| v * 2.0).collect();
    let out = layer.run(1, &x2, &w, &dy, shape).unwrap();
    let qx = QuantizedTensor::quantize(
        Fp8Tensorwise::<E4M3>::with_scale(448.0),
        &x2,
        4,
        8,
        &QuantizeOptions::default(),
    )
    .unwrap();
    assert!(qx.dequantize().iter().all(|v| v.abs() <= 1.0));
    let qw = QuantizedTensor::quantize(
        Fp8Tensorwise::<E4M3>::with_scale(448.0 / 3.0),
        &w,
        2,
        8,
        &QuantizeOptions::default(),
    )
    .unwrap();
    let mut y = vec![0f32; 8];
    gemm_reference(&qx, &qw, 1.0, 0.0, &mut y).unwrap();
    assert_eq!(out.y, y);
    // Now the history holds both steps' amaxes and the max wins.
    let d = layer.state().delayed.as_ref().unwrap();
    assert_eq!(d.input.scale(), 224.0);
}

#[test]
fn every_recipe_approximates_the_f32_layer() {
    let shape = LinearShape {
        tokens: 128,
        in_features: 256,
        out_features: 128,
    };
    let x = data(10, 128 * 256, 1.0);
    let w = data(11, 128 * 256, 0.05);
    let dy = data(12, 128 * 128, 1e-3);
    let [y, dx, dw] = exact(&x, &w, &dy, shape);
    for &kind in RecipeKind::ALL {
        let mut layer = LinearLayer::new(Recipe::from_kind(kind), 0, 1).unwrap();
        // Delayed scaling needs one step of history.
        let mut out = layer.run(0, &x, &w, &dy, shape).unwrap();
        if kind == RecipeKind::Delayed {
            out = layer.run(1, &x, &w, &dy, shape).unwrap();
        }
        // FP8 (3 mantissa bits, E5M2 gradients 2) ≳ 20 dB; NVFP4 ≳ 12 dB.
        let floor = if matches!(kind, RecipeKind::Nvfp4 | RecipeKind::Mxfp4) {
            12.0
        } else {
            20.0
        };
        for (name, want, got) in [
            ("Y", &y, &out.y),
            ("dX", &dx, &out.dx),
            ("dW", &dw, &out.dw),
        ] {
            let s = sqnr(want, got);
            println!("{kind:?} {name}: {s:.1} dB");
            assert!(s > floor, "{kind:?} {name}: {s:.1} dB");
        }
    }
}

#[test]
fn bad_shapes_and_lengths_are_typed_errors_and_leave_state_alone() {
    let shape = LinearShape {
        tokens: 16,
        in_features: 16,
        out_features: 16,
    };
    let v = vec![1.0f32; 256];
    let mut layer = LinearLayer::new(Recipe::delayed(), 0, 1).unwrap();
    assert!(matches!(
        layer.run(0, &v[..255], &v, &v, shape),
        Err(Error::LengthMismatch { .. })
    ));
    assert_eq!(
        layer.state().delayed.as_ref().unwrap().input.history()[1023],
        0.0
    );
    // 16 is not a whole number of MXFP8's 32-blocks, nor of 128-blocks.
    for recipe in [Recipe::mxfp8(), Recipe::blockwise()] {
        let mut l = LinearLayer::new(recipe, 0, 1).unwrap();
        assert!(matches!(
            l.run(0, &v, &v, &v, shape),
            Err(Error::NotWholeBlocks { .. })
        ));
    }
    // NVFP4 with 24 tokens: not whole 16-blocks along the wgrad axis.
    let s24 = LinearShape {
        tokens: 24,
        ..shape
    };
    let mut l = LinearLayer::new(Recipe::nvfp4(), 0, 1).unwrap();
    assert!(matches!(
        l.run(0, &vec![1.0; 24 * 16], &v, &vec![1.0; 24 * 16], s24),
        Err(Error::NotWholeBlocks { .. })
    ));
    assert!(LinearLayer::new(Recipe::nvfp4(), 2, 2).is_err());
    let mut r = Recipe::tensorwise();
    r.fp8_format = blockscale::recipe::Fp8Format::E5M2;
    assert!(LinearLayer::new(r, 0, 1).is_err());
    assert!(matches!(
        RecipeKind::from_name("fp8"),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn forward_then_backward_is_run_for_every_recipe() {
    let shape = LinearShape {
        tokens: 128,
        in_features: 128,
        out_features: 128,
    };
    let x = data(20, 128 * 128, 1.0);
    let w = data(21, 128 * 128, 0.05);
    let dy = data(22, 128 * 128, 1e-3);
    for &kind in RecipeKind::ALL {
        let mut split = LinearLayer::new(Recipe::from_kind(kind), 0, 2).unwrap();
        let mut whole = split.clone();
        for step in 0..3 {
            let y = split.forward(step, &x, &w, shape).unwrap();
            let (dx, dw) = split.backward(step, &x, &w, &dy, shape).unwrap();
            let out = whole.run(step, &x, &w, &dy, shape).unwrap();
            assert_eq!((y, dx, dw), (out.y, out.dx, out.dw), "{kind:?} step {step}");
            assert_eq!(split.state(), whole.state(), "{kind:?} step {step}");
        }
        assert!(matches!(
            split.forward(0, &x[..100], &w, shape),
            Err(Error::LengthMismatch { .. })
        ));
    }
}

#[test]
fn mxfp4_operands_are_mxfp4_fake_quantized_along_k() {
    let x = data(30, 64 * 96, 1.0);
    let recipe = Recipe::mxfp4();
    for &role in OperandRole::ALL {
        let spec = recipe.spec(role);
        let q = spec.quantize(&x, 64, 96, None).unwrap();
        assert!(
            matches!(q, QuantizedOperand::Block(AnyQuantized::MxFp4(_))),
            "{role:?}"
        );
        let opts = QuantizeOptions {
            direction: role.direction(),
            ..Default::default()
        };
        let want = QuantizedTensor::fake_quantize(MxFp4::default(), &x, 64, 96, &opts).unwrap();
        assert_eq!(q.dequantize(), want, "{role:?}");
    }
    // 48 columns are not whole 1×32 blocks along K.
    assert!(
        recipe
            .spec(FpropInput)
            .quantize(&x[..96 * 48], 96, 48, None)
            .is_err()
    );
}
