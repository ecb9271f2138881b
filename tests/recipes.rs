//! The five recipes against hand-written expectations (Transformer Engine's
//! recipe defaults and the NVFP4 paper), and the linear-layer helper
//! against operands quantized independently with the named formats.

use blockscale::element::ElementKind::{self, E4M3 as Q4, E5M2 as Q5};
use blockscale::format::{AnyFormat, Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp8E4M3, Nvfp4};
use blockscale::gemm::gemm_reference;
use blockscale::recipe::{
    Bf16Selection, LinearLayer, LinearShape, Nvfp4Options, OperandRole, OperandSpec,
    QuantizedOperand, Recipe, RecipeKind, operand_seed,
};
use blockscale::rht::{Rht, SignVector};
use blockscale::tensor::{
    AnyQuantized, Direction, QuantizeOptions, QuantizedTensor, TensorRounding,
};
use blockscale::{E4M3, E5M2, Error};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

use Direction::{Columnwise as Col, Rowwise as Row};
use OperandRole::*;

fn data(seed: u64, n: usize, scale: f32) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let v = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let g = (-2.0 * u.max(1e-300).ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
            g as f32 * scale
        })
        .collect()
}

/// C = A·Bᵀ in f64, row-major A (m×k), B (n×k).
fn abt(a: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f64> {
    let mut c = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k)
                .map(|l| f64::from(a[i * k + l]) * f64::from(b[j * k + l]))
                .sum();
        }
    }
    c
}

fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..rows * cols)
        .map(|i| x[(i % rows) * cols + i / rows])
        .collect()
}

fn sqnr(reference: &[f64], approx: &[f32]) -> f64 {
    let s: f64 = reference.iter().map(|x| x * x).sum();
    let e: f64 = reference
        .iter()
        .zip(approx)
        .map(|(x, y)| (x - f64::from(*y)).powi(2))
        .sum();
    10.0 * (s / e).log10()
}

/// Y, dX, dW in f64 from the unquantized inputs.
fn exact(x: &[f32], w: &[f32], dy: &[f32], s: LinearShape) -> [Vec<f64>; 3] {
    let (t, i, o) = (s.tokens, s.in_features, s.out_features);
    [
        abt(x, w, t, o, i),
        abt(dy, &transpose(w, o, i), t, i, o),
        abt(&transpose(dy, t, o), &transpose(x, t, i), o, i, t),
    ]
}

/// (role, (format, delayed scaling), direction, stochastic rounding, has RHT).
type Expected = (OperandRole, (AnyFormat, bool), Direction, bool, bool);

fn parse(s: &str) -> AnyFormat {
    s.parse().unwrap()
}

#[test]
fn every_recipe_specifies_every_operand_as_its_source_does() {
    // (role, format, direction, rounding, rht) written out from TE's recipe
    // classes (transformer_engine/common/recipe/__init__.py) and the NVFP4
    // paper's §4 recommendations.
    let tw = |e: ElementKind, delayed| (parse(if e == Q4 { "fp8" } else { "fp8-e5m2" }), delayed);
    let nv = |two_d| (parse(if two_d { "nvfp4,2d" } else { "nvfp4" }), false);
    let bw = |e: ElementKind, (r, c)| {
        assert_eq!(e, Q4);
        (AnyFormat::from(Fp8Blockwise::<E4M3>::new(r, c)), false)
    };
    let mx = |e: ElementKind| (parse(if e == Q4 { "mxfp8" } else { "mxfp8-e5m2" }), false);
    let mx4 = (parse("mxfp4"), false);
    let (n, s) = (false, true);
    #[rustfmt::skip]
    let table: Vec<(RecipeKind, [Expected; 6])> = vec![
        (RecipeKind::Delayed, [
            (FpropInput, tw(Q4, true), Row, n, false), (FpropWeight, tw(Q4, true), Row, n, false),
            (DgradGradOutput, tw(Q5, true), Row, n, false), (DgradWeight, tw(Q4, true), Col, n, false),
            (WgradGradOutput, tw(Q5, true), Col, n, false), (WgradInput, tw(Q4, true), Col, n, false)]),
        (RecipeKind::Tensorwise, [
            (FpropInput, tw(Q4, false), Row, n, false), (FpropWeight, tw(Q4, false), Row, n, false),
            (DgradGradOutput, tw(Q5, false), Row, n, false), (DgradWeight, tw(Q4, false), Col, n, false),
            (WgradGradOutput, tw(Q5, false), Col, n, false), (WgradInput, tw(Q4, false), Col, n, false)]),
        (RecipeKind::Mxfp8, [
            (FpropInput, mx(Q4), Row, n, false), (FpropWeight, mx(Q4), Row, n, false),
            (DgradGradOutput, mx(Q4), Row, n, false), (DgradWeight, mx(Q4), Col, n, false),
            (WgradGradOutput, mx(Q4), Col, n, false), (WgradInput, mx(Q4), Col, n, false)]),
        (RecipeKind::Blockwise, [
            (FpropInput, bw(Q4, (1, 128)), Row, n, false), (FpropWeight, bw(Q4, (128, 128)), Row, n, false),
            (DgradGradOutput, bw(Q4, (1, 128)), Row, n, false), (DgradWeight, bw(Q4, (128, 128)), Col, n, false),
            (WgradGradOutput, bw(Q4, (1, 128)), Col, n, false), (WgradInput, bw(Q4, (1, 128)), Col, n, false)]),
        (RecipeKind::Nvfp4, [
            (FpropInput, nv(false), Row, n, false), (FpropWeight, nv(true), Row, n, false),
            (DgradGradOutput, nv(false), Row, s, false), (DgradWeight, nv(true), Col, n, false),
            (WgradGradOutput, nv(false), Col, s, true), (WgradInput, nv(false), Col, n, true)]),
        // The NVFP4 paper's MXFP4 comparison: every operand MXFP4, 1×32, nearest.
        (RecipeKind::Mxfp4, [
            (FpropInput, mx4, Row, n, false), (FpropWeight, mx4, Row, n, false),
            (DgradGradOutput, mx4, Row, n, false), (DgradWeight, mx4, Col, n, false),
            (WgradGradOutput, mx4, Col, n, false), (WgradInput, mx4, Col, n, false)]),
    ];
    for (kind, rows) in table {
        let recipe = Recipe::from_kind(kind);
        assert_eq!(RecipeKind::from_name(kind.name()).unwrap(), kind);
        for (role, (format, delayed), direction, stochastic, rht) in rows {
            let spec = recipe.spec(role);
            assert_eq!(spec.role, role);
            assert_eq!(spec.format, Some(format), "{kind:?} {role:?}");
            assert_eq!(spec.delayed, delayed, "{kind:?} {role:?}");
            assert_eq!(spec.direction, direction, "{kind:?} {role:?}");
            let rounding = if stochastic {
                TensorRounding::Stochastic {
                    seed: operand_seed(recipe.seed, 0, 0, role),
                }
            } else {
                TensorRounding::NearestEven
            };
            assert_eq!(spec.rounding, rounding, "{kind:?} {role:?}");
            assert_eq!(spec.rht.is_some(), rht, "{kind:?} {role:?}");
        }
    }
    // The NVFP4 RHT is TE's: 16 points, fixed signs, BF16 output, and the
    // same transform for both wgrad operands.
    let r = Recipe::nvfp4();
    let a = r.spec(WgradGradOutput).rht.unwrap();
    assert_eq!(a, r.spec(WgradInput).rht.unwrap());
    assert_eq!(
        (a.size(), a.sign_vector(), a.rounds_to_bf16()),
        (16, SignVector::TransformerEngine, true)
    );
    // 2-D blocks: weights only.
    assert!(
        r.spec(FpropWeight)
            .block()
            .is_some_and(|(rows, _)| rows > 1)
    );
    assert!(r.spec(FpropInput).block().is_none_or(|(rows, _)| rows <= 1));
}

#[test]
fn nvfp4_ablations_switch_off_one_technique_each() {
    let base = Nvfp4Options::default();
    let no2d = Recipe::nvfp4_with(Nvfp4Options {
        two_d_weights: false,
        ..base
    });
    let nosr = Recipe::nvfp4_with(Nvfp4Options {
        stochastic_gradients: false,
        ..base
    });
    let norht = Recipe::nvfp4_with(Nvfp4Options { rht: false, ..base });
    let full = Recipe::nvfp4();
    for role in OperandRole::ALL {
        let f = full.spec(role);
        let with = |r: &Recipe| r.spec(role);
        // Each ablation changes exactly its own field.
        assert_eq!(
            with(&no2d),
            OperandSpec {
                format: Some(parse("nvfp4")),
                ..f.clone()
            }
        );
        assert_eq!(
            with(&nosr),
            OperandSpec {
                rounding: TensorRounding::NearestEven,
                ..f.clone()
            }
        );
        assert_eq!(with(&norht), OperandSpec { rht: None, ..f });
    }
    // Seeded signs and a larger transform are options too.
    let big = Recipe::nvfp4_with(Nvfp4Options {
        rht_size: 64,
        rht_signs: SignVector::Seeded(5),
        ..base
    });
    assert_eq!(big.spec(WgradInput).rht.unwrap().size(), 64);
    // TE's fixed vector has 16 entries: size 64 with it is a typed error.
    let bad = Recipe::nvfp4_with(Nvfp4Options {
        rht_size: 64,
        ..base
    });
    assert!(matches!(
        LinearLayer::new(bad, 0, 1),
        Err(Error::InvalidArgument(_))
    ));
}

/// Quantizes `x` (rows × cols) directly with the named format, as the
/// recipe tables say, independently of `OperandSpec::quantize`.
fn direct(
    kind: RecipeKind,
    role: OperandRole,
    x: &[f32],
    rows: usize,
    cols: usize,
    seed: u64,
) -> Vec<f32> {
    let grad = matches!(role, DgradGradOutput | WgradGradOutput);
    let weight = matches!(role, FpropWeight | DgradWeight);
    let direction = match role {
        FpropInput | FpropWeight | DgradGradOutput => Row,
        _ => Col,
    };
    let nearest = QuantizeOptions {
        direction,
        ..Default::default()
    };
    match kind {
        RecipeKind::Tensorwise if grad => QuantizedTensor::fake_quantize(
            Fp8Tensorwise::<E5M2>::current(),
            x,
            rows,
            cols,
            &nearest,
        ),
        RecipeKind::Tensorwise => QuantizedTensor::fake_quantize(
            Fp8Tensorwise::<E4M3>::current(),
            x,
            rows,
            cols,
            &nearest,
        ),
        RecipeKind::Mxfp8 => {
            QuantizedTensor::fake_quantize(MxFp8E4M3::default(), x, rows, cols, &nearest)
        }
        RecipeKind::Blockwise if weight => {
            QuantizedTensor::fake_quantize(Fp8Blockwise::<E4M3>::WEIGHTS, x, rows, cols, &nearest)
        }
        RecipeKind::Blockwise => QuantizedTensor::fake_quantize(
            Fp8Blockwise::<E4M3>::ACTIVATIONS,
            x,
            rows,
            cols,
            &nearest,
        ),
        RecipeKind::Nvfp4 if weight => {
            QuantizedTensor::fake_quantize(Nvfp4::WEIGHTS_2D, x, rows, cols, &nearest)
        }
        RecipeKind::Nvfp4 => {
            let mut x = x.to_vec();
            if matches!(role, WgradGradOutput | WgradInput) {
                // TE: 16-point RHT with its fixed signs down the token axis, BF16 output.
                Rht::transformer_engine()
                    .forward(&mut x, rows, cols, Col)
                    .unwrap();
            }
            let opts = QuantizeOptions {
                rounding: if grad {
                    TensorRounding::Stochastic { seed }
                } else {
                    TensorRounding::NearestEven
                },
                ..nearest
            };
            QuantizedTensor::fake_quantize(Nvfp4::default(), &x, rows, cols, &opts)
        }
        RecipeKind::Mxfp4 => {
            QuantizedTensor::fake_quantize(MxFp4::default(), x, rows, cols, &nearest)
        }
        RecipeKind::Delayed => unreachable!("needs a scale"),
    }
    .unwrap()
}

#[test]
fn every_recipe_quantizes_each_operand_as_specified() {
    let shape = LinearShape {
        tokens: 128,
        in_features: 128,
        out_features: 128,
    };
    let (t, i, o) = (shape.tokens, shape.in_features, shape.out_features);
    let x = data(1, t * i, 1.0);
    let w = data(2, o * i, 0.05);
    let dy = data(3, t * o, 1e-3);
    for kind in [
        RecipeKind::Tensorwise,
        RecipeKind::Mxfp8,
        RecipeKind::Blockwise,
        RecipeKind::Nvfp4,
        RecipeKind::Mxfp4,
    ] {
        let mut recipe = Recipe::from_kind(kind);
        recipe.seed = 99;
        let (step, layer) = (4, 1);
        let mut deq = Vec::new();
        for role in OperandRole::ALL {
            let (src, rows, cols) = match role {
                FpropInput | WgradInput => (&x, t, i),
                FpropWeight | DgradWeight => (&w, o, i),
                _ => (&dy, t, o),
            };
            // The layer's spec carries the operand's own seed.
            let seed = operand_seed(99, step, layer, role);
            let q = recipe
                .layer_spec(role, layer, 3, step)
                .quantize(src, rows, cols, None)
                .unwrap();
            let want = direct(kind, role, src, rows, cols, seed);
            assert_eq!(q.dequantize(), want, "{kind:?} {role:?}");
            // Stored along K: (M or N) × K.
            let k = match role.gemm() {
                blockscale::recipe::Gemm::Fprop => i,
                blockscale::recipe::Gemm::Dgrad => o,
                blockscale::recipe::Gemm::Wgrad => t,
            };
            assert_eq!(q.stored_shape().1, k, "{kind:?} {role:?}");
            deq.push(want);
        }
        // The helper multiplies exactly these operands: compare with an
        // f64 product of the independently quantized values (the GEMM
        // differs only by its f32 accumulation).
        let mut layer_ = LinearLayer::new(recipe, 1, 3).unwrap();
        let out = layer_.run(4, &x, &w, &dy, shape).unwrap();
        let y = abt(&deq[0], &deq[1], t, o, i);
        let dx = abt(&deq[2], &transpose(&deq[3], o, i), t, i, o);
        let dw = abt(
            &transpose(&deq[4], t, o),
            &transpose(&deq[5], t, i),
            o,
            i,
            t,
        );
        for (name, got, want) in [("Y", &out.y, y), ("dX", &out.dx, dx), ("dW", &out.dw, dw)] {
            assert!(
                sqnr(&want, got) > 100.0,
                "{kind:?} {name}: {} dB",
                sqnr(&want, got)
            );
        }
    }
}

#[test]
fn operand_seed_is_the_documented_splitmix_chain() {
    fn splitmix64(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    for (seed, step, layer, role) in [
        (0u64, 0u64, 0usize, FpropInput),
        (7, 1000, 3, WgradGradOutput),
    ] {
        let want = splitmix64(
            seed ^ splitmix64(step ^ splitmix64(layer as u64 ^ splitmix64(role.index() as u64))),
        );
        assert_eq!(operand_seed(seed, step, layer, role), want);
    }
}

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
    for kind in RecipeKind::ALL {
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
            Err(Error::InvalidArgument(_))
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
        Err(Error::InvalidArgument(_))
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
    for kind in RecipeKind::ALL {
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
    for role in OperandRole::ALL {
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
