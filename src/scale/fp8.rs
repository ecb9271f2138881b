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

use super::ElementMap;
use crate::Element;
use crate::element::{CastRule, ZeroSign};

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

/// Whose FP8 bytes to reproduce, for per-tensor and blockwise FP8 with
/// FP32 scales. The producers agree on the idea (map the amax onto the
/// element's largest value) and differ in whether they multiply or divide,
/// in f32 or f64, in what they store, and in what a zero, tiny or NaN amax
/// gives.
///
/// With A the tensor's (or block's) amax, M the element's largest value
/// (448 for E4M3) and f(·) one rounding to f32:
///
/// | profile | per-tensor | blockwise | element q = FP8(·), saturated | stored (dequant factor) |
/// |---|---|---|---|---|
/// | `TransformerEngine` | yes | yes | x · s, s = [`current_scale`]`(A, M, pow2)` | f(1/s) |
/// | `ModelOptimizer` (0.47) | yes | no | x / d, d = A'/M, A' = A clamped to [2⁻¹²⁶, FLT_MAX], 0 → M | d |
/// | `TorchAo` (0.18) tensor | yes | | x · s, s = f(M / max(f64(A), 10⁻¹²)) | f(1/s) |
/// | `TorchAo` (0.18) block | | yes | x / d, d = A/M | d |
/// | `CompressedTensors` (0.20) | yes | yes | x / d + 0, d = A/M, 0 → 2⁻²³ | d |
/// | `DeepGemm` | no | yes | x · f(1/d), d = max(A, f(10⁻⁴))/M, rounded up to 2^k if pow2 | d |
///
/// Sources, read for the operation order and checked against the
/// producers' own bytes on CPU where they run there
/// (`tests/producer_corners.rs`, from `tests/producers/gen_corners.py`):
/// - Transformer Engine `common/recipe/recipe_common.cuh`
///   (`compute_scale_from_amax`), see [`current_scale`].
/// - Model-Optimizer 0.47, the Hugging Face export of `FP8_DEFAULT_CFG`:
///   `export/quant_utils.py` `get_scaling_factor` (`export_amax() /
///   maxbound`; `_sanitize_export_amax` turns an amax of 0 into maxbound
///   and clamps to [`finfo(float32).tiny`, `finfo(float32).max`]) and
///   `to_quantized_weight(w, s, "fp8")` = `(w / s).to(float8_e4m3fn)`.
///   Its calibration refuses NaN and ±Inf; the crate follows the formula
///   (a NaN amax gives NaN elements, an infinite one d = FLT_MAX/M).
/// - torchao 0.18 `float8/float8_utils.py` (`amax_to_scale`: `448 /
///   torch.clamp(amax.to(float64), min=1e-12)` then `.to(float32)`;
///   `to_fp8_saturated`), as `hp_tensor_to_float8_dynamic` runs it for
///   training; the stored factor is the f32 reciprocal its matmul hands
///   `torch._scaled_mm`. Blockwise: the inference `Float8Tensor` with
///   `PerBlock` granularity, `quantization/quant_primitives.py`
///   (`_choose_scale_float8`: `amax / 448`, no floor, so a zero block
///   divides 0 by 0; `_quantize_affine_float8`: clamp, then cast).
///   torch's CPU `max` returns the NaN 0xFFFFFFFF for a tensor holding a
///   NaN, so every element of such a tensor is 0xFF.
/// - compressed-tensors 0.20 `quantization/utils/helpers.py`
///   (`calculate_qparams`: `max(|min|, |max|) / (448 · 2 / 2)`, an exact 0
///   replaced by `finfo(float32).eps`) and `lifecycle/forward.py`
///   (`_quantize`: `clamp(x / scale + zero_point, ±448)` with a float
///   zero point 0.0, so −0 becomes +0).
/// - DeepGEMM `deep_gemm/utils/math.py` (commit 54e2261 of 2026-06):
///   `per_token_cast_to_fp8` (1×128), `per_block_cast_to_fp8` (128×128),
///   `per_channel_cast_to_fp8` (128×1): `amax.clamp(1e-4) / 448`, with
///   `use_ue8m0` `ceil_to_ue8m0` (the f32's exponent plus one if any
///   mantissa bit is set, clamped to [1, 254]), then `x * (1.0 / sf)`.
///   DeepGEMM needs a GPU to install, so its vectors are worked by hand
///   (`tests/fp8_profiles.rs`).
///
/// Special cases the producers' arithmetic gives and the crate writes
/// explicitly, so that the bytes do not depend on the CPU's NaN rules:
/// torchao's zero block (0/0) and NaN tensor give every element the
/// E4M3 NaN with the sign set (0xFF, the x86 default NaN and torch's NaN
/// maximum). A block holding a NaN divides by a NaN (compressed-tensors,
/// torchao blockwise): as on x86, a NaN element keeps its own sign and
/// every other element takes the divisor's (positive, 0x7F).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Fp8Profile {
    /// NVIDIA Transformer Engine (the default): `Float8CurrentScaling` and
    /// `Float8BlockScaling`.
    #[default]
    TransformerEngine,
    /// NVIDIA Model-Optimizer's FP8 checkpoint export (per-tensor, E4M3).
    ModelOptimizer,
    /// torchao: `torchao.float8` training (per-tensor) and the inference
    /// `Float8Tensor` (blockwise), E4M3.
    TorchAo,
    /// compressed-tensors' `float-quantized` FP8 (presets `FP8` and
    /// `FP8_BLOCK`), as LLM Compressor writes it, E4M3.
    CompressedTensors,
    /// DeepSeek's DeepGEMM reference casts (blockwise, E4M3; power-of-two
    /// UE8M0 scales by default, as `use_ue8m0` gives).
    DeepGemm,
}

impl Fp8Profile {
    /// Every profile.
    pub const ALL: &'static [Fp8Profile] = &[
        Fp8Profile::TransformerEngine,
        Fp8Profile::ModelOptimizer,
        Fp8Profile::TorchAo,
        Fp8Profile::CompressedTensors,
        Fp8Profile::DeepGemm,
    ];

    /// The short name the command line and format identifiers use: `te`,
    /// `modelopt`, `torchao`, `compressed-tensors`, `deepgemm`.
    ///
    /// ```
    /// use blockscale::scale::fp8::Fp8Profile;
    /// assert_eq!(Fp8Profile::DeepGemm.name(), "deepgemm");
    /// assert!(Fp8Profile::ALL.iter().all(|p| Fp8Profile::from_name(p.name()) == Some(*p)));
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Fp8Profile::TransformerEngine => "te",
            Fp8Profile::ModelOptimizer => "modelopt",
            Fp8Profile::TorchAo => "torchao",
            Fp8Profile::CompressedTensors => "compressed-tensors",
            Fp8Profile::DeepGemm => "deepgemm",
        }
    }

    /// The profile with short name `name`, if any.
    pub fn from_name(name: &str) -> Option<Fp8Profile> {
        Fp8Profile::ALL.iter().copied().find(|p| p.name() == name)
    }

    /// Whether the producer writes this granularity: one scale per tensor
    /// (`per_tensor`) or one per block.
    ///
    /// ```
    /// use blockscale::scale::fp8::Fp8Profile;
    /// assert!(Fp8Profile::ModelOptimizer.writes(true) && !Fp8Profile::ModelOptimizer.writes(false));
    /// assert!(!Fp8Profile::DeepGemm.writes(true) && Fp8Profile::DeepGemm.writes(false));
    /// ```
    pub const fn writes(self, per_tensor: bool) -> bool {
        match self {
            Fp8Profile::ModelOptimizer => per_tensor,
            Fp8Profile::DeepGemm => !per_tensor,
            _ => true,
        }
    }

    /// Whether the producer has a power-of-two option for this
    /// granularity (Transformer Engine's `power_2_scale`, DeepGEMM's
    /// `use_ue8m0`); the others never round the scale.
    pub const fn has_power_of_two(self, per_tensor: bool) -> bool {
        match self {
            Fp8Profile::TransformerEngine => true,
            Fp8Profile::DeepGemm => !per_tensor,
            _ => false,
        }
    }

    /// The producer's default for the power-of-two option of a blockwise
    /// format (on for Transformer Engine's `Float8BlockScaling` and for
    /// DeepGEMM's UE8M0 scales).
    pub const fn block_power_of_two(self) -> bool {
        matches!(self, Fp8Profile::TransformerEngine | Fp8Profile::DeepGemm)
    }

    /// How the producer's cast signs a zero result: compressed-tensors adds
    /// a zero point of +0.0, so −0 becomes +0.
    pub fn element_cast(self) -> CastRule {
        match self {
            Fp8Profile::CompressedTensors => CastRule::IEEE.with_zero(ZeroSign::BelowZero),
            _ => CastRule::IEEE,
        }
    }
}

/// One FP8 scale as `profile` computes it from the amax `amax` of a
/// tensor (`per_tensor`) or of a block, for element `T`: the stored
/// dequantization factor and what is done to each element before the
/// saturating cast. `power_of_two` is Transformer Engine's or DeepGEMM's
/// option (ignored by the others).
///
/// ```
/// use blockscale::E4M3;
/// use blockscale::scale::ElementMap;
/// use blockscale::scale::fp8::{fp8_scale, Fp8Profile};
/// // DeepGEMM: 1/448 rounded up to 2^-8, elements multiplied by 256.
/// assert_eq!(fp8_scale::<E4M3>(Fp8Profile::DeepGemm, 1.0, true, false), (2f32.powi(-8), ElementMap::Mul(256.0)));
/// // compressed-tensors: a zero amax gives the factor 2^-23.
/// assert_eq!(fp8_scale::<E4M3>(Fp8Profile::CompressedTensors, 0.0, false, true), (2f32.powi(-23), ElementMap::Div(2f32.powi(-23))));
/// ```
pub fn fp8_scale<T: Element>(
    profile: Fp8Profile,
    amax: f32,
    power_of_two: bool,
    per_tensor: bool,
) -> (f32, ElementMap) {
    let max = T::MAX_F32;
    // The E4M3 (or other) NaN with the sign bit set or clear.
    let nan = |negative: bool| {
        let bits = if negative { 0xFFC0_0000 } else { 0x7FC0_0000 };
        T::from_f32(f32::from_bits(bits)).to_bits()
    };
    match profile {
        Fp8Profile::TransformerEngine => {
            let s = current_scale(amax, max, power_of_two);
            (scale_inv(s), ElementMap::Mul(s))
        }
        Fp8Profile::ModelOptimizer => {
            let a = if amax == 0.0 {
                max
            } else {
                amax.clamp(f32::MIN_POSITIVE, f32::MAX)
            };
            let d = a / max;
            (d, ElementMap::Div(d))
        }
        Fp8Profile::TorchAo if per_tensor => {
            if amax.is_nan() {
                // torch's CPU max returns the NaN 0xFFFFFFFF, which s and
                // every element inherit.
                let s = f32::from_bits(0xFFFF_FFFF);
                return (s, ElementMap::Zero(nan(true)));
            }
            let s = (f64::from(max) / f64::from(amax).max(1e-12)) as f32;
            (1.0 / s, ElementMap::Mul(s))
        }
        Fp8Profile::TorchAo => {
            let d = amax / max;
            if amax == 0.0 {
                // 0/0: the x86 default NaN, sign set.
                (d, ElementMap::Zero(nan(true)))
            } else {
                (d, ElementMap::Div(d))
            }
        }
        Fp8Profile::CompressedTensors => {
            let d = amax / max;
            let d = if d == 0.0 { f32::EPSILON } else { d };
            (d, ElementMap::Div(d))
        }
        Fp8Profile::DeepGemm => {
            let d = deepgemm_factor(amax, max, power_of_two);
            (d, ElementMap::Mul(1.0 / d))
        }
    }
}

/// DeepGEMM's FP32 block factor (`deep_gemm/utils/math.py`): `sf =
/// f32(max(amax, 1e-4) / fp8_max)`, the floor compared in f32 and a NaN
/// amax kept (torch's `clamp`), then with `ue8m0` rounded up to a power
/// of two by [`ceil_to_ue8m0`]. Elements are `FP8(x · f32(1/sf))`.
///
/// ```
/// use blockscale::scale::fp8::deepgemm_factor;
/// assert_eq!(deepgemm_factor(3.0, 448.0, true), 2f32.powi(-7));   // 3/448 ≈ 2^-7.2
/// assert_eq!(deepgemm_factor(0.0, 448.0, true), 2f32.powi(-22));  // 1e-4/448 ≈ 2^-22.1
/// assert_eq!(deepgemm_factor(3.0, 448.0, false), 3.0 / 448.0);
/// ```
pub fn deepgemm_factor(amax: f32, fp8_max: f32, ue8m0: bool) -> f32 {
    let a = if amax < 1e-4 { 1e-4 } else { amax };
    let sf = a / fp8_max;
    if ue8m0 { ceil_to_ue8m0(sf) } else { sf }
}

/// DeepGEMM's `ceil_to_ue8m0`: the least power of two at or above `|x|`,
/// by the bits: the biased exponent, plus one if any mantissa bit is set,
/// clamped to [1, 254] (so a NaN or infinite `x` gives 2¹²⁷).
///
/// ```
/// use blockscale::scale::fp8::ceil_to_ue8m0;
/// assert_eq!(ceil_to_ue8m0(0.25), 0.25);
/// assert_eq!(ceil_to_ue8m0(0.2500001), 0.5);
/// assert_eq!(ceil_to_ue8m0(f32::NAN), 2f32.powi(127));
/// assert_eq!(ceil_to_ue8m0(0.0), f32::MIN_POSITIVE);
/// ```
pub fn ceil_to_ue8m0(x: f32) -> f32 {
    let bits = x.to_bits() & 0x7FFF_FFFF;
    let exp = (bits >> 23) + u32::from(bits & 0x7F_FFFF != 0);
    f32::from_bits(exp.clamp(1, 254) << 23)
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
