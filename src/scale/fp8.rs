//! FP8 per-tensor scaling: current (tensorwise) and delayed, as NVIDIA
//! Transformer Engine (TE) computes them ([SEMANTICS.md](crate::contract) §4).
//!
//! The scale `s` multiplies before rounding: `q = T(f32(x · s))`, and TE
//! stores `scale_inv = f32(1/s)` to dequantize with. Sources:
//! TE `transformer_engine/common/recipe/recipe_common.cuh`
//! (`compute_scale_from_amax`), `recipe/current_scaling.cu`,
//! `recipe/delayed_scaling.cu` (the fused `kernel_bulk` that TE's PyTorch
//! `DelayedScaling` runs by default), `recipe/__init__.py` (defaults) and
//! `pytorch/quantization.py` (the unfused fallback).

/// `f32(2^e)` rounded to nearest even, as `std::pow(2.f, e)` gives it:
/// +Inf above 2¹²⁷, subnormal down to 2⁻¹⁴⁹, 0 below (2⁻¹⁵⁰ ties to 0).
fn exp2_f32(e: i64) -> f32 {
    // 2^e is exact in f64 over f32's whole range and beyond, so the one
    // rounding is the conversion to f32 (which gives the same Inf and 0).
    crate::element::pow2_f64(e.clamp(-2000, 2000) as i32) as f32
}

/// The options of [`current_scale_with`]: the two knobs TE's
/// `compute_scale_from_amax` takes besides the amax and the FP8 maximum.
///
/// The default (`power_of_two: false`, `amax_epsilon: 0.0`,
/// `value_for_inf: f32::MAX`) is TE's `Float8CurrentScaling` recipe.
///
/// ```
/// use blockscale::scale::fp8::{current_scale_with, CurrentScaleOptions};
/// let opts = CurrentScaleOptions { amax_epsilon: 0.5, ..Default::default() };
/// // amax 0 is floored to the epsilon first: 448 / 0.5.
/// assert_eq!(current_scale_with(0.0, 448.0, opts), 896.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurrentScaleOptions {
    /// Round the scale down to a power of two by clearing its 23 mantissa
    /// bits. TE: `Float8CurrentScaling` off by default (environment variable
    /// `NVTE_FP8_CURRENT_SCALING_POWER_2_SCALES`), `Float8BlockScaling` on
    /// by default.
    pub power_of_two: bool,
    /// Floor for the amax: an amax below it (0 included, NaN excluded) is
    /// replaced by it before anything else. TE `QParams.amax_epsilon`,
    /// default 0.
    pub amax_epsilon: f32,
    /// What an overflowing `fp8_max / amax` (+Inf) becomes. TE uses
    /// `f32::MAX` for per-tensor current scaling and the input dtype's
    /// largest value for blockwise scaling (`compute_scale_from_types`:
    /// `f32::MAX` for f32 input, 3.3895314e38 = `0x7F7F0000` for bf16).
    pub value_for_inf: f32,
}

impl Default for CurrentScaleOptions {
    fn default() -> Self {
        CurrentScaleOptions {
            power_of_two: false,
            amax_epsilon: 0.0,
            value_for_inf: f32::MAX,
        }
    }
}

/// TE's current (tensorwise) scale for an amax: the scale that maps `amax`
/// onto `fp8_max`, with TE's special cases.
///
/// Exactly, with every operation in f32 (TE `recipe_common.cuh`
/// `compute_scale_from_amax` with epsilon 0 and `value_for_inf = f32::MAX`,
/// as `current_scaling.cu` calls it):
///
/// 1. if `amax < 0` (the epsilon floor), `amax = 0`;
/// 2. if `amax` is 0, ±Inf or NaN, return `1.0`;
/// 3. `s = f32(fp8_max / amax)`, rounded to nearest even;
/// 4. if `s` is ±Inf, `s = f32::MAX`;
/// 5. if `power_of_two`, clear the 23 mantissa bits of `s` (keep sign and
///    exponent): a normal `s` rounds down to a power of two, `f32::MAX`
///    becomes 2¹²⁷, and a subnormal `s` (impossible for `fp8_max ≥ 1`)
///    becomes 0.
///
/// `fp8_max` is meant to be the element's largest finite value (448 for
/// E4M3, 57344 for E5M2; see [`crate::recipe::Fp8Format::max_fwd`]); other values go through
/// the same arithmetic. For an epsilon or another Inf replacement see
/// [`current_scale_with`].
///
/// ```
/// use blockscale::scale::fp8::current_scale;
/// assert_eq!(current_scale(2.0, 448.0, false), 224.0);
/// assert_eq!(current_scale(2.0, 448.0, true), 128.0);   // 224 = 1.75 · 2^7
/// assert_eq!(current_scale(0.0, 448.0, false), 1.0);
/// assert_eq!(current_scale(f32::NAN, 448.0, false), 1.0);
/// assert_eq!(current_scale(1e-38, 448.0, false), f32::MAX); // 448/amax overflows
/// assert_eq!(current_scale(1e-38, 448.0, true), 2f32.powi(127));
/// ```
pub fn current_scale(amax: f32, fp8_max: f32, power_of_two: bool) -> f32 {
    current_scale_with(
        amax,
        fp8_max,
        CurrentScaleOptions {
            power_of_two,
            ..Default::default()
        },
    )
}

/// [`current_scale`] with TE's full set of options: an amax floor
/// (`amax_epsilon`) and the value that replaces an infinite scale.
///
/// Exactly (TE `recipe_common.cuh` `compute_scale_from_amax`):
///
/// 1. if `amax < amax_epsilon`, `amax = amax_epsilon` (a NaN amax is not
///    less than anything and stays NaN);
/// 2. if `amax` is 0, ±Inf or NaN, return `1.0`;
/// 3. `s = f32(fp8_max / amax)`;
/// 4. if `s` is ±Inf, `s = value_for_inf`;
/// 5. if `power_of_two`, `s = f32::from_bits(s.to_bits() & 0xFF80_0000)`.
///
/// ```
/// use blockscale::scale::fp8::{current_scale_with, CurrentScaleOptions};
/// // Blockwise scaling of bf16 input: an overflowing scale becomes bf16's max.
/// let bf16_max = f32::from_bits(0x7F7F_0000);
/// let opts = CurrentScaleOptions { value_for_inf: bf16_max, ..Default::default() };
/// assert_eq!(current_scale_with(1e-38, 448.0, opts), bf16_max);
/// assert_eq!(current_scale_with(4.0, 448.0, opts), 112.0);
/// ```
pub fn current_scale_with(amax: f32, fp8_max: f32, opts: CurrentScaleOptions) -> f32 {
    let amax = if amax < opts.amax_epsilon {
        opts.amax_epsilon
    } else {
        amax
    };
    if amax == 0.0 || !amax.is_finite() {
        return 1.0;
    }
    let mut s = fp8_max / amax;
    if s.is_infinite() {
        s = opts.value_for_inf;
    }
    if opts.power_of_two {
        s = f32::from_bits(s.to_bits() & 0xFF80_0000);
    }
    s
}

/// The dequantization scale TE stores next to FP8 data: `f32(1/scale)`,
/// rounded to nearest even (TE `utils.cuh` `reciprocal<float>` =
/// `__frcp_rn`).
///
/// `scale_inv(0) = +Inf`, `scale_inv(f32::MAX) = 2⁻¹²⁸` (subnormal; the
/// exact value is 2⁻¹²⁸·(1 + 2⁻²⁴ + …), which rounds to 2⁻¹²⁸).
///
/// ```
/// use blockscale::scale::fp8::scale_inv;
/// assert_eq!(scale_inv(128.0), 0.0078125);
/// assert_eq!(scale_inv(f32::MAX), f32::from_bits(0x0020_0000)); // 2^-128
/// ```
pub fn scale_inv(scale: f32) -> f32 {
    1.0 / scale
}

/// TE's delayed-scaling rule for one step (`delayed_scaling.cu`
/// `kernel_bulk`), in f32: with `chosen` the amax the history window gives,
/// the new scale is `(fp8_max · 2^-margin) / chosen` (+Inf becomes
/// `f32::MAX`) when `chosen` is finite and positive; otherwise the
/// `previous` scale is kept. The window itself is state, kept by
/// [`crate::recipe::DelayedScaler`].
///
/// ```
/// use blockscale::scale::fp8::delayed_scale;
/// assert_eq!(delayed_scale(2.0, 448.0, 1, 1.0), 112.0); // (448 · 2^-1) / 2
/// assert_eq!(delayed_scale(f32::NAN, 448.0, 0, 3.0), 3.0);
/// assert_eq!(delayed_scale(1e-40, 448.0, 0, 1.0), f32::MAX);
/// ```
pub fn delayed_scale(chosen: f32, fp8_max: f32, margin: i32, previous: f32) -> f32 {
    if chosen.is_finite() && chosen > 0.0 {
        let s = margin_max(fp8_max, margin) / chosen;
        if s.is_infinite() { f32::MAX } else { s }
    } else {
        previous
    }
}

/// `fp8_max · 2^-margin` in f32, the value a delayed scale maps the amax to.
///
/// ```
/// assert_eq!(blockscale::scale::fp8::margin_max(448.0, 2), 112.0);
/// ```
pub fn margin_max(fp8_max: f32, margin: i32) -> f32 {
    fp8_max * exp2_f32(-i64::from(margin))
}

#[cfg(test)]
mod tests {
    use super::exp2_f32;

    #[test]
    fn exp2_matches_powf_rounding() {
        assert_eq!(exp2_f32(0), 1.0);
        assert_eq!(exp2_f32(127), 1.7014118e38);
        assert_eq!(exp2_f32(128), f32::INFINITY);
        assert_eq!(exp2_f32(-126), f32::MIN_POSITIVE);
        assert_eq!(exp2_f32(-149), f32::from_bits(1));
        assert_eq!(exp2_f32(-150), 0.0);
    }
}
