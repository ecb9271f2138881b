//! What a test of this crate, or of code checked against it, needs: the
//! f32 values where formats differ, bitwise comparison that says where two
//! results part, and the properties every block format must have.
//!
//! The crate's own tests and fuzz targets use these, each with its own
//! generator (proptest, seeded streams, `arbitrary` bytes); a kernel
//! author's test suite may use them too.
//!
//! ```
//! use blockscale::format::Nvfp4;
//! use blockscale::tensor::QuantizeOptions;
//! use blockscale::testing::{check_quantize, specials};
//!
//! let mut x = specials();
//! x.resize(64, 1.5);
//! check_quantize(Nvfp4::default(), &x, 4, 16, &QuantizeOptions::default()).unwrap();
//! ```

use std::fmt;

use half::bf16;

use crate::element::Element;
use crate::format::{BlockFormat, BlockShape, ScaleCodec};
use crate::simd::{self, Level};
use crate::tensor::{Direction, PartialBlocks, QuantizeOptions, QuantizedTensor, TensorRounding};

/// Special f32 values that matter to any format, both signs: zeros, the
/// smallest and largest subnormals, the smallest normals, the largest
/// finite value, infinities, signalling and quiet NaNs with payloads, and
/// a few powers of two with their neighbours.
///
/// ```
/// let s = blockscale::testing::specials();
/// assert!(s.iter().any(|v| v.is_nan()) && s.contains(&f32::NEG_INFINITY));
/// ```
pub fn specials() -> Vec<f32> {
    let positive: [u32; 21] = [
        0,
        1,
        2,
        3,
        0x3FF,
        0x0040_0000,
        0x007F_FFFF,
        0x0080_0000,
        0x0080_0001,
        0x7F7F_FFFF,
        0x7F80_0000,
        0x7F80_0001,
        0x7FA0_0000,
        0x7FC0_0000,
        0x7FC0_0001,
        0x7FFF_FFFF,
        0x3F80_0000,
        0x4000_0000,
        0x3FFF_FFFF,
        0x3C00_0000,
        0x3800_0000,
    ];
    let negative = positive.map(|b| b | 0x8000_0000);
    positive
        .into_iter()
        .chain(negative)
        .map(f32::from_bits)
        .collect()
}

/// The rounding oracle: the finite value of `T` nearest to `x`, with ties
/// to the even code (the one whose magnitude's index among `T`'s
/// non-negative finite values is even: an even mantissa), saturating at
/// `±T::MAX_F32`, the sign kept on zero where `T` has −0. `None` for NaN and
/// for [`crate::E8M0`] (no mantissa; it rounds ties away from zero).
///
/// It is a nearest search in f64 over [`Element::values`], written
/// without the encoders, so a test that compares
/// `T::from_f32_with(x, opts)` (with `Overflow::Saturate` and ties to even)
/// with it checks them against their definition. For an infinite `x` it
/// gives `±max`, as saturation does.
///
/// ```
/// use blockscale::element::{ConvertOptions, Overflow};
/// use blockscale::testing::{grid_points, nearest_even_saturating};
/// use blockscale::{E2M1, Element};
/// assert_eq!(nearest_even_saturating::<E2M1>(2.5).map(E2M1::to_f32), Some(2.0)); // tie: even code
/// assert_eq!(nearest_even_saturating::<E2M1>(-7.0).map(E2M1::to_f32), Some(-6.0)); // saturates
/// let sat = ConvertOptions { overflow: Overflow::Saturate, ..ConvertOptions::ML_DTYPES };
/// for x in grid_points::<E2M1>().into_iter().filter(|x| !x.is_nan()) {
///     assert_eq!(Some(E2M1::from_f32_with(x, sat)), nearest_even_saturating::<E2M1>(x), "{x}");
/// }
/// ```
pub fn nearest_even_saturating<T: Element + PartialEq>(x: f32) -> Option<T> {
    if x.is_nan() || T::NAME == crate::E8M0::NAME {
        return None;
    }
    // Non-negative finite values, ascending, each with its code.
    let mut mags: Vec<(f64, T)> = T::codes()
        .map(|c| (c.to_f32(), c))
        .filter(|(v, _)| v.is_finite() && v.is_sign_positive())
        .map(|(v, c)| (v as f64, c))
        .collect();
    mags.sort_by(|a, b| a.0.total_cmp(&b.0));
    mags.dedup_by(|a, b| a.0 == b.0);
    let a = (x as f64).abs();
    let i = mags.partition_point(|(v, _)| *v <= a).saturating_sub(1);
    let k = match mags.get(i + 1) {
        None => i,
        Some((hi, _)) => {
            let (down, up) = (a - mags[i].0, hi - a);
            if down < up || (down == up && i % 2 == 0) {
                i
            } else {
                i + 1
            }
        }
    };
    let (v, c) = mags[k];
    if x.is_sign_positive() {
        return Some(c);
    }
    // The code of −v: for zero, −0 where the type has it.
    let neg = |c: &T| {
        let w = c.to_f32();
        w == -(v as f32) && (v != 0.0 || w.is_sign_negative())
    };
    T::codes().find(neg).or(Some(c))
}

/// Every finite value of `T` with its f32 neighbours, and the exact
/// midpoint (a rounding tie) between each pair of neighbouring values with
/// its neighbours, both signs; then points past the largest value, where
/// saturation and overflow rules act.
///
/// ```
/// use blockscale::E2M1;
/// let g = blockscale::testing::grid_points::<E2M1>();
/// assert!(g.contains(&5.0) && g.contains(&-0.25) && g.contains(&6.0));
/// ```
pub fn grid_points<T: Element>() -> Vec<f32> {
    let mut vals: Vec<f32> = (0..1u32 << T::BITS)
        .map(|c| T::DECODE[c as usize])
        .filter(|v| v.is_finite() && *v >= 0.0)
        .collect();
    vals.sort_by(f32::total_cmp);
    vals.dedup();
    let mut out = Vec::new();
    let mut push = |x: f32| {
        for y in [x, x.next_up(), x.next_down()] {
            out.push(y);
            out.push(-y);
        }
    };
    for w in vals.windows(2) {
        push(w[0]);
        push(((f64::from(w[0]) + f64::from(w[1])) / 2.0) as f32);
    }
    if let [.., below, max] = vals[..] {
        push(max);
        let step = max - below;
        for k in [0.5f32, 1.0, 1.5, 2.0, 4.0, 1e6] {
            push(max + step * k);
        }
    }
    out
}

/// Where two results part: the first index whose values differ, or the
/// lengths when they differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The first differing index (the shorter length, if the lengths differ).
    pub index: usize,
    /// The left value's bits at `index`, `None` past its end.
    pub left: Option<u32>,
    /// The right value's bits at `index`, `None` past its end.
    pub right: Option<u32>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |b: Option<u32>| match b {
            Some(b) => format!("{:e} ({b:#010x})", f32::from_bits(b)),
            None => "nothing (shorter)".to_string(),
        };
        write!(
            f,
            "values differ at index {}: {} vs {}",
            self.index,
            show(self.left),
            show(self.right)
        )
    }
}

impl std::error::Error for Mismatch {}

fn compare(a: &[f32], b: &[f32], eq: impl Fn(f32, f32) -> bool) -> Result<(), Mismatch> {
    let at = |i: usize| Mismatch {
        index: i,
        left: a.get(i).map(|v| v.to_bits()),
        right: b.get(i).map(|v| v.to_bits()),
    };
    match a.iter().zip(b).position(|(&x, &y)| !eq(x, y)) {
        Some(i) => Err(at(i)),
        None if a.len() != b.len() => Err(at(a.len().min(b.len()))),
        None => Ok(()),
    }
}

/// `Ok` when `a` and `b` are the same bits, NaN payloads and zero signs
/// included; otherwise where they first differ.
///
/// ```
/// use blockscale::testing::same_bits;
/// assert!(same_bits(&[0.0, f32::NAN], &[0.0, f32::NAN]).is_ok());
/// let m = same_bits(&[1.0, 0.0], &[1.0, -0.0]).unwrap_err();
/// assert_eq!(m.index, 1);
/// ```
pub fn same_bits(a: &[f32], b: &[f32]) -> Result<(), Mismatch> {
    compare(a, b, |x, y| x.to_bits() == y.to_bits())
}

/// As [`same_bits`], but any NaN equals any NaN: for results whose NaN
/// payload the contract leaves open (a NaN scale's decoded value).
///
/// ```
/// use blockscale::testing::same_values;
/// assert!(same_values(&[f32::NAN], &[-f32::NAN]).is_ok());
/// assert!(same_values(&[0.0], &[-0.0]).is_err());
/// ```
pub fn same_values(a: &[f32], b: &[f32]) -> Result<(), Mismatch> {
    compare(a, b, |x, y| {
        x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
    })
}

/// Property 1 of [`check_quantize`] when `quantize` refused its arguments:
/// `requantize` refuses them too and leaves its tensor as it was;
/// `from_parts` refuses an overflowing shape, and checks the global amax
/// as `quantize` does (`valid`: the format passes `validate`).
fn refused_everywhere<F: BlockFormat>(
    f: &F,
    x: &[f32],
    rows: usize,
    cols: usize,
    opts: &QuantizeOptions,
    valid: bool,
) -> Result<(), String> {
    let none = QuantizeOptions::default();
    if let Ok(mut t) = QuantizedTensor::quantize(f.clone(), &[] as &[f32], 0, 0, &none) {
        if t.requantize(x, rows, cols, opts).is_ok() {
            return Err("requantize accepted what quantize refused".into());
        }
        if t.shape() != (0, 0) || !t.data().is_empty() || !t.scales().is_empty() {
            return Err("a refused requantize changed its tensor".into());
        }
    }
    // from_parts takes an amax exactly when the format has a global scale.
    let amax = f
        .has_global_scale()
        .then(|| opts.global_amax.unwrap_or(1.0));
    if rows.checked_mul(cols).is_none()
        && QuantizedTensor::from_parts(
            f.clone(),
            (rows, cols),
            opts.direction,
            opts.partial_blocks,
            vec![0; x.len()],
            vec![<F::Scale as ScaleCodec>::PAD; 1],
            amax,
        )
        .is_ok()
    {
        return Err(format!("from_parts accepted the shape {rows}x{cols}"));
    }
    let empty = QuantizedTensor::from_parts(
        f.clone(),
        (0, 0),
        Direction::Rowwise,
        PartialBlocks::Reject,
        Vec::new(),
        Vec::new(),
        amax,
    );
    let amax_ok = amax.is_none_or(|a| a.is_finite() && a >= 0.0);
    if empty.is_ok() != (valid && amax_ok) {
        return Err(format!(
            "from_parts and quantize disagree on the global amax {amax:?}: {empty:?}"
        ));
    }
    Ok(())
}

/// A property of [`check_quantize`] that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The format's identifier, as [`BlockFormat::id`] prints it.
    pub format: String,
    /// What failed and where.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.format, self.detail)
    }
}

impl std::error::Error for Violation {}

/// Checks the properties every block format has, on one input, `rows` ×
/// `cols` row-major (`x` may have the wrong length, which must be an
/// error):
///
/// 1. quantizing fails exactly when the format's parameters are invalid
///    ([`BlockFormat::validate`]), `x` has the wrong length, the global
///    amax is NaN, ±Inf or negative, or the stored shape is not whole
///    blocks under [`PartialBlocks::Reject`]; when it fails, `requantize`
///    refuses the same arguments and leaves its tensor as it was, and
///    `from_parts` refuses the same global amax and an overflowing shape;
/// 2. the active SIMD level gives the portable path's bytes, scales and
///    dequantized values (the portable path is the specification);
/// 3. a bf16 source quantizes as its f32 widening;
/// 4. `requantize` into a used tensor gives the fresh tensor's bytes;
/// 5. the parts rebuild a tensor that dequantizes to the same values;
/// 6. finite input in range, with the format's own scale, dequantizes to
///    finite values, at most twice its amax under nearest rounding;
/// 7. `dequantize_into` rejects a short buffer, and the accessors return
///    `None` out of range.
///
/// Every refusal must come before any allocation: a shape far larger than
/// `x` (such as 2²⁰ × 2²⁰) must be an error, not an allocation failure.
///
/// ```
/// use blockscale::format::{MxFp4, Nvfp4};
/// use blockscale::tensor::{Direction, QuantizeOptions};
/// use blockscale::testing::check_quantize;
///
/// let x: Vec<f32> = (0..32 * 3).map(|i| (i as f32 - 40.0) / 7.0).collect();
/// let columns = QuantizeOptions { direction: Direction::Columnwise, ..Default::default() };
/// check_quantize(MxFp4::default(), &x, 3, 32, &QuantizeOptions::default()).unwrap();
/// // 3 rows are not whole 16-element blocks columnwise: an error, as it must be.
/// check_quantize(Nvfp4::default(), &x, 3, 32, &columns).unwrap();
/// ```
pub fn check_quantize<F: BlockFormat>(
    f: F,
    x: &[f32],
    rows: usize,
    cols: usize,
    opts: &QuantizeOptions,
) -> Result<(), Violation> {
    let id = f.id().to_string();
    let fail = |detail: String| Violation {
        format: id.clone(),
        detail,
    };
    let shaped = rows.checked_mul(cols) == Some(x.len());
    let (sr, sc) = match opts.direction {
        Direction::Rowwise => (rows, cols),
        Direction::Columnwise => (cols, rows),
    };
    let whole = match f.block() {
        BlockShape::Tile { rows: tr, cols: tc } => tr > 0 && tc > 0 && sr % tr == 0 && sc % tc == 0,
        BlockShape::Tensor => true,
    };
    // 1. Accepted exactly when it should be.
    let amax_ok = opts.global_amax.is_none_or(|g| g.is_finite() && g >= 0.0);
    let fits = whole || opts.partial_blocks == PartialBlocks::ZeroPad;
    let valid = f.validate().is_ok();
    let q = match QuantizedTensor::quantize(f.clone(), x, rows, cols, opts) {
        Ok(q) if valid && shaped && amax_ok && fits => q,
        Err(_) if !(valid && shaped && amax_ok && fits) => {
            return refused_everywhere(&f, x, rows, cols, opts, valid).map_err(fail);
        }
        Ok(_) if !valid => return Err(fail("a format that fails validate() was used".into())),
        Ok(_) if !shaped => return Err(fail("a source of the wrong length was accepted".into())),
        Ok(_) if !amax_ok => {
            return Err(fail(
                "a global amax that is NaN, ±Inf or negative was accepted".into(),
            ));
        }
        Ok(_) => return Err(fail("partial blocks were accepted under Reject".into())),
        Err(e) => return Err(fail(format!("a valid source was rejected: {e}"))),
    };
    if q.shape() != (rows, cols) {
        return Err(fail(format!("shape {:?}, not {rows}x{cols}", q.shape())));
    }
    // 2. SIMD against portable.
    let level = simd::active();
    let p = simd::with_level(Level::Portable, || {
        QuantizedTensor::quantize(f.clone(), x, rows, cols, opts)
    })
    .map_err(|e| {
        fail(format!(
            "the portable path rejected what {level:?} accepted: {e}"
        ))
    })?;
    if q.data() != p.data() {
        return Err(fail(format!(
            "element bytes at {level:?} differ from portable"
        )));
    }
    let scales =
        |t: &QuantizedTensor<F>| t.scales().iter().map(|s| s.to_bits()).collect::<Vec<_>>();
    if scales(&q) != scales(&p)
        || q.global_amax().map(f32::to_bits) != p.global_amax().map(f32::to_bits)
    {
        return Err(fail(format!("scales at {level:?} differ from portable")));
    }
    let d = q.dequantize();
    // The portable dequantization, not `p`'s at this level.
    same_bits(&d, &simd::with_level(Level::Portable, || p.dequantize()))
        .map_err(|m| fail(format!("dequantized at {level:?} vs portable: {m}")))?;
    // 3. A bf16 source is its f32 widening.
    let h: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
    let widened: Vec<f32> = h.iter().map(|v| v.to_f32()).collect();
    let qh = QuantizedTensor::quantize(f.clone(), &h, rows, cols, opts);
    let qw = QuantizedTensor::quantize(f.clone(), &widened, rows, cols, opts);
    match (qh, qw) {
        (Ok(a), Ok(b)) if a.data() == b.data() => {}
        _ => return Err(fail("a bf16 source differs from its f32 widening".into())),
    }
    // 4. requantize into a used tensor.
    let junk: Vec<f32> = x.iter().map(|v| -3.0 * v).collect();
    let mut r = QuantizedTensor::quantize(f.clone(), &junk, rows, cols, opts)
        .map_err(|e| fail(format!("a same-shape source was rejected: {e}")))?;
    r.requantize(x, rows, cols, opts)
        .map_err(|e| fail(format!("requantize rejected its source: {e}")))?;
    if r.data() != q.data() {
        return Err(fail("requantize differs from quantize".into()));
    }
    if scales(&r) != scales(&q) {
        return Err(fail("requantize's scales differ from quantize's".into()));
    }
    // 5. Rebuilt from its parts. An amax computed from NaN or ±Inf data is
    // no caller's to give back: from_parts refuses it like any other.
    let rebuilt = QuantizedTensor::from_parts(
        f.clone(),
        (rows, cols),
        opts.direction,
        opts.partial_blocks,
        q.data().to_vec(),
        q.scales().to_vec(),
        q.global_amax(),
    );
    match (rebuilt, q.global_amax().is_none_or(f32::is_finite)) {
        (Ok(t), true) => {
            same_bits(&t.dequantize(), &d).map_err(|m| fail(format!("from_parts: {m}")))?
        }
        (Err(_), false) => {}
        (Ok(_), false) => {
            return Err(fail(format!(
                "from_parts accepted the global amax {:?}",
                q.global_amax()
            )));
        }
        (Err(e), true) => {
            return Err(fail(format!(
                "the parts of a valid tensor were rejected: {e}"
            )));
        }
    }
    // 6. Bounded output. A caller's fixed scale or global amax may saturate
    // and overflow; near f32's top, q · factor may overflow legitimately;
    // producers' own arithmetic gives NaN for zero and tiny tensors
    // (`Nvfp4Profile`: 0/0 once A/2688 underflows; torchao's FP8 blocks of
    // zeros, `Fp8Profile`) and ggml's scale byte
    // wraps to NaN for blocks of amax in [2⁻¹²⁶, 2⁻¹²⁵) (`MxProfile`);
    // stochastic rounding may round a tiny value up to the block's step.
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let id = f.id();
    let producer_nan = match id.option("profile") {
        None | Some("te") | Some("ocp") => false,
        Some("ggml") => true,
        // torchao's Float8Tensor divides a zero block by its zero factor.
        Some("torchao") if id.family().starts_with("fp8-block") => true,
        Some(_) => amax < 1e-30,
    };
    if f.id().option("scale").is_none()
        && opts.global_amax.is_none()
        && !producer_nan
        && x.iter().all(|v| v.is_finite())
        && amax <= f32::MAX / 4096.0
    {
        let nearest = opts.rounding == TensorRounding::NearestEven;
        if let Some(i) = d
            .iter()
            .position(|v| !v.is_finite() || (nearest && v.abs() > 2.0 * amax))
        {
            return Err(fail(format!(
                "finite x[{i}] = {:e} dequantized to {:e} (amax {amax:e})",
                x[i], d[i]
            )));
        }
    }
    // 7. Buffers and accessors.
    if !d.is_empty() && q.dequantize_into(&mut vec![0f32; d.len() - 1]).is_ok() {
        return Err(fail("dequantize_into accepted a short buffer".into()));
    }
    let (sr, sc) = q.stored_shape();
    if q.element(sr, 0).is_some() || q.scale_at(0, sc).is_some() {
        return Err(fail("an accessor returned a value out of range".into()));
    }
    if q.element(0, 0).is_some() != (sr * sc > 0) {
        return Err(fail("element(0, 0) disagrees with the stored shape".into()));
    }
    Ok(())
}

/// The SIMD levels a call on this thread may use, lowest first: each is
/// checked against the portable path, not only the best.
///
/// ```
/// let levels = blockscale::testing::levels();
/// assert_eq!(levels[0], blockscale::simd::Level::Portable);
/// assert_eq!(*levels.last().unwrap(), blockscale::simd::active());
/// ```
pub fn levels() -> Vec<Level> {
    let top = simd::active();
    [
        Level::Portable,
        Level::Avx2,
        Level::Avx512,
        Level::Avx512Vnni,
    ]
    .into_iter()
    .filter(|&l| l <= top)
    .collect()
}

#[cfg(feature = "proptest")]
pub mod strategy;
