//! The `quantize` target: every format and option on arbitrary data and shapes.

use arbitrary::Unstructured;
use blockscale::format::{AnyFormat, BlockFormat, FormatId, FormatVisitor, ScaleCodec};
use blockscale::scale::mx::MxScaleRule;
use blockscale::scale::nvfp4::Nvfp4Profile;
use blockscale::simd::{self, Level};
use blockscale::tensor::{
    Direction, PartialBlocks, QuantizeOptions, QuantizedTensor, TensorRounding,
};
use half::bf16;

use crate::{pick, same_f32, values};

fn quantize_options(u: &mut Unstructured) -> QuantizeOptions {
    QuantizeOptions {
        direction: pick(u, &[Direction::Rowwise, Direction::Columnwise]),
        rounding: if u.ratio(1, 3).unwrap_or(false) {
            TensorRounding::Stochastic {
                seed: u.arbitrary().unwrap_or(0),
            }
        } else {
            TensorRounding::NearestEven
        },
        partial_blocks: pick(u, &[PartialBlocks::Reject, PartialBlocks::ZeroPad]),
        global_amax: if u.ratio(1, 5).unwrap_or(false) {
            Some(f32::from_bits(u.arbitrary().unwrap_or(0)))
        } else {
            None
        },
    }
}

/// Scales compare by value, NaN equal to NaN (E8M0's 0xFF, an FP32 NaN).
fn same_scales<S: ScaleCodec>(a: &[S], b: &[S]) -> bool {
    let v = |s: &[S]| s.iter().map(|x| x.value()).collect::<Vec<_>>();
    same_f32(&v(a), &v(b))
}

/// Quantize, requantize, dequantize and rebuild one tensor in format `f`.
fn check_format<F: BlockFormat>(f: F, u: &mut Unstructured) {
    // A caller's fixed scale can saturate any element and overflow x̂.
    let id = f.id();
    let own_scale = id.option("scale").is_none();
    let rows = u.int_in_range(0..=40usize).unwrap_or(0);
    let cols = u.int_in_range(0..=300usize).unwrap_or(0);
    let opts = quantize_options(u);
    // Sometimes a source of the wrong length, which must be an error.
    let n = if u.ratio(1, 16).unwrap_or(false) {
        u.int_in_range(0..=rows * cols + 3).unwrap_or(0)
    } else {
        rows * cols
    };
    let x = values(u, n);
    let q = QuantizedTensor::quantize(f.clone(), &x, rows, cols, &opts);
    if n != rows * cols {
        assert!(
            q.is_err(),
            "{}: a source of the wrong length was accepted",
            f.name()
        );
        return;
    }
    let Ok(q) = q else { return };
    assert_eq!(q.shape(), (rows, cols));
    // The portable path is the specification of the SIMD kernels.
    let p = simd::with_level(Level::Portable, || {
        QuantizedTensor::quantize(f.clone(), &x, rows, cols, &opts).expect("accepted above")
    });
    assert_eq!(q.data(), p.data(), "{} data: SIMD vs portable", f.name());
    assert!(
        same_scales(q.scales(), p.scales()),
        "{} scales: SIMD vs portable",
        f.name()
    );
    let d = q.dequantize();
    assert!(
        same_f32(&d, &p.dequantize()),
        "{} dequantize: SIMD vs portable",
        f.name()
    );
    assert_eq!(d.len(), rows * cols);
    // The same source as f16 and bf16 equals quantizing its f32 widening.
    let h: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
    let hw: Vec<f32> = h.iter().map(|v| v.to_f32()).collect();
    let qh = QuantizedTensor::quantize(f.clone(), &h, rows, cols, &opts).expect("same shape");
    let qw = QuantizedTensor::quantize(f.clone(), &hw, rows, cols, &opts).expect("same shape");
    assert_eq!(qh.data(), qw.data(), "{} bf16 source", f.name());
    // Finite input and its own amax: finite output, never above the input's
    // magnitude by more than the scale's rounding allows (NVFP4's E4M3
    // block scale, which rounds to nearest, is the only one that can
    // exceed; a factor of 2 bounds everything).
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    // (Near f32's top, q · factor can legitimately overflow to ±Inf: an
    // element that rounds up, or Transformer Engine's NVFP4 factor
    // f32(s_b · A) / 2688, which overflows from A > f32::MAX / 448.)
    // torchao's NVFP4 gives NaN when A/2688 underflows (`Nvfp4Profile`).
    let torchao_underflow = id.option("profile") == Some("torchao") && amax < 1e-38;
    if own_scale
        && !torchao_underflow
        && opts.global_amax.is_none()
        && x.iter().all(|v| v.is_finite())
        && amax <= f32::MAX / 4096.0
    {
        for (i, v) in d.iter().enumerate() {
            assert!(
                v.is_finite(),
                "{}: finite x[{i}] = {} gave {v}",
                f.name(),
                x[i]
            );
            // (Stochastic rounding may round a value far below the block's
            // smallest step, as under E8M0's 2⁻¹²⁷ floor, up to that step.)
            if opts.rounding == TensorRounding::NearestEven {
                assert!(
                    v.abs() <= 2.0 * amax,
                    "{}: x̂[{i}] = {v} > 2·amax {amax}",
                    f.name()
                );
            }
        }
    }
    // requantize into the tensor gives the same bytes.
    let mut r = QuantizedTensor::quantize(f.clone(), &vec![0f32; rows * cols], rows, cols, &opts)
        .expect("same shape");
    r.requantize(&x, rows, cols, &opts).expect("same shape");
    assert_eq!(r.data(), q.data(), "{} requantize", f.name());
    // Rebuilt from its parts, it dequantizes to the same values.
    let rebuilt = QuantizedTensor::from_parts(
        f.clone(),
        (rows, cols),
        opts.direction,
        opts.partial_blocks,
        q.data().to_vec(),
        q.scales().to_vec(),
        q.global_amax(),
    )
    .expect("parts of a valid tensor");
    assert!(
        same_f32(&rebuilt.dequantize(), &d),
        "{} from_parts",
        f.name()
    );
    // dequantize_into checks its output length.
    let mut short = vec![0f32; (rows * cols).saturating_sub(1)];
    if rows * cols > 0 {
        assert!(q.dequantize_into(&mut short).is_err());
    }
    // Element and scale accessors: None out of range, never a panic.
    let (sr, sc) = q.stored_shape();
    assert!(q.element(sr, 0).is_none() && q.scale_at(0, sc).is_none());
    assert_eq!(q.element(0, 0).is_some(), sr * sc > 0);
}

/// A format of any family with arbitrary options: the family from
/// [`AnyFormat::families`], then each option a family may take, kept when
/// the family accepts it ([`BlockFormat::from_id`]). Nothing here names a
/// format, so a new one is fuzzed as soon as it is in the format list.
fn any_format(u: &mut Unstructured) -> AnyFormat {
    let families = AnyFormat::families();
    let names: Vec<&str> = families.iter().map(String::as_str).collect();
    let mut id = FormatId::new(pick(u, &names));
    let profiles: Vec<&str> = Nvfp4Profile::ALL.iter().map(|p| p.name()).collect();
    let rules: Vec<&str> = MxScaleRule::ALL.iter().map(|r| r.name()).collect();
    for key in ["profile", "rule", "2d", "pow2", "scale", "block"] {
        if !u.ratio(1, 3).unwrap_or(false) {
            continue;
        }
        let value = match key {
            "profile" => pick(u, &profiles).to_string(),
            "rule" => pick(u, &rules).to_string(),
            "2d" | "pow2" => u.arbitrary::<bool>().unwrap_or(false).to_string(),
            "scale" => format!("{:e}", f32::from_bits(u.arbitrary().unwrap_or(0x3f80_0000))),
            _ if u.ratio(1, 4).unwrap_or(false) => format!(
                "{}x{}",
                u.arbitrary::<usize>().unwrap_or(1),
                u.arbitrary::<usize>().unwrap_or(1)
            ),
            _ => format!(
                "{}x{}",
                u.int_in_range(0..=130usize).unwrap_or(1),
                u.int_in_range(0..=130usize).unwrap_or(1)
            ),
        };
        let with = id.clone().with(key, &value);
        if AnyFormat::from_id(&with).is_ok() {
            id = with;
        }
    }
    let f = AnyFormat::from_id(&id).expect("every option was checked");
    // The identifier round-trips through its text (compared as
    // identifiers: a NaN fixed scale is unequal to itself as a value).
    let back = f.to_string().parse::<AnyFormat>().map(|g| g.id());
    assert_eq!(back.ok(), Some(f.id()), "{id}");
    f
}

/// Quantize and dequantize of arbitrary data and shapes, for every format
/// and option: see [`check_format`]. Block shapes of FP8 blockwise are
/// arbitrary too (zero-sized ones must be rejected).
pub fn quantize(data: &[u8]) {
    struct Check<'a, 'b>(&'a mut Unstructured<'b>);
    impl FormatVisitor for Check<'_, '_> {
        type Output = ();
        fn visit<F: BlockFormat>(self, f: F) {
            check_format(f, self.0)
        }
    }
    let mut u = Unstructured::new(data);
    any_format(&mut u).visit(Check(&mut u))
}
