//! The `quantize` target: every format and option on arbitrary data and shapes.

use arbitrary::Unstructured;
use blockscale::format::{AnyFormat, BlockFormat, FormatId, FormatVisitor};
use blockscale::scale::mx::MxScaleRule;
use blockscale::scale::nvfp4::Nvfp4Profile;
use blockscale::simd;
use blockscale::tensor::{Direction, PartialBlocks, QuantizeOptions, TensorRounding};
use blockscale::testing::{check_quantize, levels};

use crate::{pick, values};

/// Global amaxes at the edges of what `quantize`, `requantize` and
/// `from_parts` accept (finite and non-negative; −0 counts as +0).
const SPECIAL_AMAXES: [f32; 9] = [
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    -4.0,
    -0.0,
    0.0,
    f32::MIN_POSITIVE,
    f32::MAX,
    -f32::MIN_POSITIVE,
];

/// Dimensions of shapes far beyond any source: their element count is
/// huge (2⁴⁰ from two of 2²⁰) or overflows `usize`. They must be refused
/// before anything is allocated.
const HUGE_DIMS: [usize; 6] = [0, 1, 1 << 20, 1 << 32, usize::MAX / 2 + 1, usize::MAX];

fn quantize_options(u: &mut Unstructured) -> QuantizeOptions {
    QuantizeOptions {
        direction: pick(u, &[Direction::Rowwise, Direction::Columnwise]),
        rounding: match u.int_in_range(0..=5u8).unwrap_or(0) {
            0 => TensorRounding::Stochastic {
                seed: u.arbitrary().unwrap_or(0),
            },
            1 => TensorRounding::Stochastic8 {
                seed: u.arbitrary().unwrap_or(0),
            },
            _ => TensorRounding::NearestEven,
        },
        partial_blocks: pick(u, &[PartialBlocks::Reject, PartialBlocks::ZeroPad]),
        global_amax: if u.ratio(1, 5).unwrap_or(false) {
            // Raw bits are rarely NaN or ±Inf: the values the amax check
            // turns on are drawn on purpose half the time.
            Some(if u.arbitrary().unwrap_or(false) {
                pick(u, &SPECIAL_AMAXES)
            } else {
                f32::from_bits(u.arbitrary().unwrap_or(0))
            })
        } else {
            None
        },
    }
}

/// Quantize, requantize, dequantize and rebuild one tensor in format `f`:
/// the shared property set, [`check_quantize`]. Sometimes the source has
/// the wrong length, which must be an error; sometimes the shape is huge
/// or overflows and the source short, which must be an error too, not an
/// allocation failure (a 0 × 2⁴⁰ shape with an empty source is a valid,
/// empty tensor).
fn check_format<F: BlockFormat>(f: F, u: &mut Unstructured) {
    let mut rows = u.int_in_range(0..=40usize).unwrap_or(0);
    let mut cols = u.int_in_range(0..=300usize).unwrap_or(0);
    let opts = quantize_options(u);
    // The huge shapes are drawn inside the wrong-length branch, so the rest
    // of the corpus decodes as before.
    let n = if !u.ratio(1, 16).unwrap_or(false) {
        rows * cols
    } else if u.ratio(1, 4).unwrap_or(false) {
        let mut dim = || match u.int_in_range(0..=3u8).unwrap_or(0) {
            0 => u.arbitrary::<usize>().unwrap_or(usize::MAX),
            _ => pick(u, &HUGE_DIMS),
        };
        (rows, cols) = (dim(), dim());
        u.int_in_range(0..=64usize).unwrap_or(0)
    } else {
        u.int_in_range(0..=rows * cols + 3).unwrap_or(0)
    };
    let x = values(u, n);
    // `check_quantize` holds the active level to the portable path: every
    // level this CPU has takes a turn, so that an AVX-512 host checks the
    // AVX2 kernels too (the portable level alone only where there is no
    // other).
    let levels = levels();
    for &level in levels.get(1..).filter(|l| !l.is_empty()).unwrap_or(&levels) {
        let r = simd::with_level(level, || check_quantize(f.clone(), &x, rows, cols, &opts));
        if let Err(v) = r {
            panic!("{level:?}: {v}");
        }
    }
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
