//! The six recipes against hand-written expectations (Transformer Engine's
//! recipe defaults and the NVFP4 paper): each operand's specification, and
//! its quantization against the named formats applied independently.

use blockscale::element::ElementKind::{self, E4M3 as Q4, E5M2 as Q5};
use blockscale::format::{AnyFormat, Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp8E4M3, Nvfp4};
use blockscale::recipe::{
    LinearLayer, LinearShape, Nvfp4Options, OperandRole, OperandSpec, Recipe, RecipeKind,
    operand_seed,
};
use blockscale::rht::{Rht, SignVector};
use blockscale::tensor::{Direction, QuantizeOptions, QuantizedTensor, TensorRounding};
use blockscale::{E4M3, E5M2, Error};

use Direction::{Columnwise as Col, Rowwise as Row};
use OperandRole::*;

mod support;
use support::{abt, data, sqnr, transpose};

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
    for &role in OperandRole::ALL {
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
        other => panic!("no hand-written quantizer for {other:?}: add one"),
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
        for &role in OperandRole::ALL {
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
