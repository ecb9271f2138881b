//! The E8M0 shared-scale rules of the MX formats (OCP MX v1.0 §6.3 and the
//! producers that depart from it; [SEMANTICS.md](crate::contract) §2).

use crate::element::{
    CastRule, ConvertOptions, ElementKind, Overflow, Rounding, Ties, ZeroSign,
    flush_subnormal as ftz,
};
use crate::scale::ElementMap;
use crate::{E8M0, Element};

/// How an MX block's E8M0 scale X is chosen from the block's amax.
///
/// With `emax` the exponent of the element format's largest value (E4M3 8,
/// E5M2 15, E2M3 2, E3M2 4, E2M1 2, INT8 0) and `max` that value:
///
/// | rule | X | source |
/// |---|---|---|
/// | `Floor` | 2^(⌊log₂ amax⌋ − emax) | OCP §6.3, microxcaling, torchao default |
/// | `Rceil` | `cvt.rp.satfinite.ue8m0(f32(amax · f32(1/max)))` = 2^⌈log₂(amax/max)⌉ | Transformer Engine, cuBLAS, JAX |
/// | `Ceil` | 2^(⌈log₂ amax⌉ − emax) | torchao `ScaleCalculationMode.CEIL` |
/// | `Even` | 2^(⌊log₂ r⌋ − emax), r = amax rounded half-up to the element's mantissa bits | torchao `ScaleCalculationMode.EVEN` |
///
/// `Floor` can clip the top of a block (an FP4 block whose amax has
/// mantissa above 1.5 saturates at 6·X); `Rceil` never clips. The exponent
/// is clamped to E8M0's range [−127, 127].
///
/// Special amax values, for every rule: 0 gives X = 2⁻¹²⁷ (byte 0x00, as
/// Transformer Engine writes for a zero block); NaN gives the NaN scale
/// 0xFF (OCP: the whole block is NaN). +Inf gives 0xFF under `Floor`,
/// `Ceil` and `Even` (torchao, microxcaling) and 0xFE under `Rceil`
/// (Transformer Engine's `satfinite`).
///
/// These are the rules as defined, on the amax's bits. Producers that
/// compute them differently (torchao's and Model-Optimizer's RCEIL through
/// an f32 `log2`, ggml's FLOOR) and what each does to the elements are
/// [`MxProfile`]s.
///
/// ```
/// use blockscale::{E2M1, E4M3, scale::mx::{mx_scale, MxScaleRule}};
/// // amax 7 in MXFP4: FLOOR gives 2^(2−2) = 1 (7 clips to 6); RCEIL 2^⌈log2(7/6)⌉ = 2.
/// assert_eq!(mx_scale::<E2M1>(7.0, MxScaleRule::Floor).to_f32(), 1.0);
/// assert_eq!(mx_scale::<E2M1>(7.0, MxScaleRule::Rceil).to_f32(), 2.0);
/// // amax 448·1.5 in MXFP8 E4M3: FLOOR 2^(9−8) = 2; CEIL 2^(10−8) = 4.
/// assert_eq!(mx_scale::<E4M3>(672.0, MxScaleRule::Floor).to_f32(), 2.0);
/// assert_eq!(mx_scale::<E4M3>(672.0, MxScaleRule::Ceil).to_f32(), 4.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MxScaleRule {
    /// OCP's rule: 2^(⌊log₂ amax⌋ − emax).
    Floor,
    /// Transformer Engine's and cuBLAS's rule: round amax/max up to a power
    /// of two.
    #[default]
    Rceil,
    /// torchao CEIL: 2^(⌈log₂ amax⌉ − emax).
    Ceil,
    /// torchao EVEN: round amax to the element's precision first, then as FLOOR.
    Even,
}

impl MxScaleRule {
    /// Every rule.
    pub const ALL: &'static [MxScaleRule] = &[
        MxScaleRule::Floor,
        MxScaleRule::Rceil,
        MxScaleRule::Ceil,
        MxScaleRule::Even,
    ];

    /// The lower-case name the command line and format identifiers use:
    /// `floor`, `rceil`, `ceil`, `even`.
    ///
    /// ```
    /// use blockscale::scale::mx::MxScaleRule;
    /// assert_eq!(MxScaleRule::Rceil.name(), "rceil");
    /// assert!(MxScaleRule::ALL.iter().all(|r| MxScaleRule::from_name(r.name()) == Some(*r)));
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            MxScaleRule::Floor => "floor",
            MxScaleRule::Rceil => "rceil",
            MxScaleRule::Ceil => "ceil",
            MxScaleRule::Even => "even",
        }
    }

    /// The rule with name `name`, if any.
    pub fn from_name(name: &str) -> Option<MxScaleRule> {
        MxScaleRule::ALL.iter().copied().find(|r| r.name() == name)
    }
}

/// The exponent of `T`'s largest finite value.
pub fn emax<T: Element>() -> i32 {
    (T::MAX_F32.to_bits() >> 23) as i32 - 127
}

/// `x > 0` rounded half up to `man_bits` mantissa bits (adding half an ulp
/// of that width and truncating; may carry to infinity).
fn round_half_up(x: f32, man_bits: u32) -> f32 {
    let shift = 23 - man_bits;
    f32::from_bits((x.to_bits() + (1 << (shift - 1))) & !((1 << shift) - 1))
}

/// ⌊log₂ x⌋ for finite x > 0 (f32 subnormals included).
fn floor_log2(x: f32) -> i32 {
    let b = x.to_bits();
    if b >= 0x0080_0000 {
        (b >> 23) as i32 - 127
    } else {
        -127 - (b.leading_zeros() as i32 - 9)
    }
}

fn from_exponent_clamped(e: i32) -> E8M0 {
    E8M0::from_bits((e.clamp(-127, 127) + 127) as u8)
}

/// The shared E8M0 scale of an MX block with absolute maximum `amax` (see
/// [`MxScaleRule`] for every rule and special value).
pub fn mx_scale<T: Element>(amax: f32, rule: MxScaleRule) -> E8M0 {
    if amax.is_nan() {
        return E8M0::NAN;
    }
    if amax == 0.0 {
        return E8M0::MIN;
    }
    if amax.is_infinite() {
        return if rule == MxScaleRule::Rceil {
            E8M0::MAX
        } else {
            E8M0::NAN
        };
    }
    let amax = amax.abs();
    let emax = emax::<T>();
    match rule {
        MxScaleRule::Floor => from_exponent_clamped(floor_log2(amax) - emax),
        MxScaleRule::Ceil => {
            let f = floor_log2(amax);
            let b = amax.to_bits();
            let is_pow2 = if b >= 0x0080_0000 {
                b & 0x007F_FFFF == 0
            } else {
                b.count_ones() == 1
            };
            from_exponent_clamped(if is_pow2 { f } else { f + 1 } - emax)
        }
        MxScaleRule::Even => {
            from_exponent_clamped(floor_log2(round_half_up(amax, T::MAN_BITS)) - emax)
        }
        MxScaleRule::Rceil => {
            let t = amax * (1.0 / T::MAX_F32);
            let opts = ConvertOptions {
                rounding: Rounding::Up,
                overflow: Overflow::Saturate,
                ..Default::default()
            };
            E8M0::from_f32_with(t, opts)
        }
    }
}

/// Whose MX bytes to reproduce: how a producer computes the scale a rule
/// names, what it multiplies or divides the elements by, and how it casts
/// them. Each profile supports the rules its producer offers
/// ([`MxProfile::rules`]).
///
/// | profile | rules | scale | elements |
/// |---|---|---|---|
/// | `TransformerEngine` | all | [`mx_scale`] | x · `exp2f_rcp(X)`: 1/X, but 1 for byte 0x00 under RCEIL |
/// | `Ocp` | all | [`mx_scale`] | x · 1/X (OCP arithmetic, 2¹²⁷ for byte 0x00) |
/// | `TorchAo` | all | FLOOR/CEIL/EVEN on the amax's exponent field; RCEIL ⌈log2f(amax/max)⌉ | FLOOR/CEIL/EVEN: x / max(X, 2⁻¹²⁶); RCEIL: as `TransformerEngine` |
/// | `Jax` | RCEIL | [`mx_scale`], denormals flushed, NaN amax → 0x00 | x · 1/X, denormals flushed |
/// | `ModelOptimizer` | RCEIL | ⌈log2f(amax/max)⌉ | x / X; FP4 ties toward zero, zeros −0 unless x > 0 |
/// | `CompressedTensors` | EVEN | EVEN with 1 mantissa bit for FP4 and FP8, 3 for FP6 | x / X; zeros −0 only for x < 0 |
/// | `Ggml` | FLOOR | ⌊log2f(amax)⌋ − 2, the byte wrapping below 2⁻¹²⁵ | x / X, ties toward zero, no −0 |
/// | `Cutlass` | RCEIL | [`mx_scale`] | x · 1/X (2¹²⁷ for byte 0x00); a NaN scale gives NaN elements |
///
/// log2f is a correctly rounded f32 logarithm: for an amax just above a
/// power of two it rounds to the integer, so the scale is one step smaller
/// than the rule's definition gives (torchao, Model-Optimizer) or, just
/// below, one step larger (ggml).
///
/// Sources (read for the arithmetic; the bytes are checked against the
/// producers' own on CPU by `tests/producer_corners.rs`):
/// - Transformer Engine `common/util/ptx.cuh` (`exp2f_rcp`,
///   `float_to_e8m0`).
/// - torchao 0.18 `prototype/mx_formats/mx_tensor.py` (`to_mx`,
///   `_to_mx_rceil`): `scale_fp32 = clamp(2^(byte − 127),
///   min=F32_MIN_NORMAL)`, then `data_hp / scale_fp32`.
/// - JAX 0.10 `_src/cudnn/scaled_matmul_stablehlo.py::quantize` under `jit`
///   on CPU.
/// - Model-Optimizer 0.47 `torch/quantization/qtensor/mxfp4_tensor.py` and
///   `mxfp8_tensor.py` (`quantize`): `ceil(log2(amax / max))`; FP4 codes by
///   strict `>` comparisons, sign `(2 − sign(x)) // 2`.
/// - compressed-tensors 0.20 `quantization/utils/mxfp4_utils.py`
///   (`generate_mx_scales`, `round_to_power_2`); the compressor adds the
///   zero point after dividing, so −0 becomes +0.
/// - ggml `ggml-quants.c::quantize_row_mxfp4_ref` and gguf-py 0.19
///   `quants.py::MXFP4` (`floor(log2(amax)) − 2 + 127` cast to `uint8`:
///   on x86 a negative value wraps, so a block of amax below 2⁻¹²⁵ gets a
///   byte near 0xFF; nearest of the doubled E2M1 table, first minimum).
///
/// - CUTLASS 4 block-scaled GEMM output (the SM100/SM120 epilogue fusions
///   `LinCombBlockScaleFactor` with UE8M0 scale factors, and their host
///   reference `compute_1d_scaling_factor_and_quantized_output` in
///   `tools/util/include/cutlass/util/reference/host/gett.hpp`) with norm
///   constant 1, the only one cuBLASLt offers for UE8M0 output:
///   `cvt.rp.satfinite.ue8m0` of `amax · (1/max)`, the exact reciprocal
///   `2^(127 − (byte − 127))`, and `cvt.rn.satfinite` of the product (a
///   NaN block's elements are the element format's NaN, +max for FP4/FP6).
///
/// Not reproduced: blocks with a NaN or infinite element under torchao
/// and JAX, where those producers' integer casts of NaN and ∞ decide the
/// byte, and compressed-tensors' blocks whose rounded amax overflows to ∞.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MxProfile {
    /// NVIDIA Transformer Engine (and cuBLAS): the default.
    #[default]
    TransformerEngine,
    /// The OCP MX v1.0 arithmetic.
    Ocp,
    /// torchao's `to_mx` (0.18).
    TorchAo,
    /// JAX's cuDNN scaled-matmul quantizer, as XLA runs it on CPU (0.10).
    Jax,
    /// NVIDIA Model-Optimizer's `MXFP4QTensor`/`MXFP8QTensor` (0.44–0.47).
    ModelOptimizer,
    /// compressed-tensors' MX quantization (0.20).
    CompressedTensors,
    /// ggml / llama.cpp's MXFP4 (`GGML_TYPE_MXFP4`).
    Ggml,
    /// The MX output of a CUTLASS block-scaled GEMM epilogue
    /// ([`crate::gemm::gemm_quantized`]).
    Cutlass,
}

impl MxProfile {
    /// Every profile.
    pub const ALL: &'static [MxProfile] = &[
        MxProfile::TransformerEngine,
        MxProfile::Ocp,
        MxProfile::TorchAo,
        MxProfile::Jax,
        MxProfile::ModelOptimizer,
        MxProfile::CompressedTensors,
        MxProfile::Ggml,
        MxProfile::Cutlass,
    ];

    /// The short name the command line and format identifiers use: `te`,
    /// `ocp`, `torchao`, `jax`, `modelopt`, `compressed-tensors`, `ggml`,
    /// `cutlass`.
    ///
    /// ```
    /// use blockscale::scale::mx::MxProfile;
    /// assert!(MxProfile::ALL.iter().all(|p| MxProfile::from_name(p.name()) == Some(*p)));
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            MxProfile::TransformerEngine => "te",
            MxProfile::Ocp => "ocp",
            MxProfile::TorchAo => "torchao",
            MxProfile::Jax => "jax",
            MxProfile::ModelOptimizer => "modelopt",
            MxProfile::CompressedTensors => "compressed-tensors",
            MxProfile::Ggml => "ggml",
            MxProfile::Cutlass => "cutlass",
        }
    }

    /// The profile with short name `name`, if any.
    pub fn from_name(name: &str) -> Option<MxProfile> {
        MxProfile::ALL.iter().copied().find(|p| p.name() == name)
    }

    /// The rule a format with this profile gets when none is named: TE's
    /// RCEIL, OCP's and torchao's FLOOR, and the one rule of the others.
    ///
    /// ```
    /// use blockscale::scale::mx::{MxProfile, MxScaleRule};
    /// assert_eq!(MxProfile::Ocp.default_rule(), MxScaleRule::Floor);
    /// assert_eq!(MxProfile::TransformerEngine.default_rule(), MxScaleRule::Rceil);
    /// ```
    pub const fn default_rule(self) -> MxScaleRule {
        match self {
            MxProfile::TransformerEngine => MxScaleRule::Rceil,
            MxProfile::Ocp | MxProfile::TorchAo => MxScaleRule::Floor,
            p => p.rules()[0],
        }
    }

    /// Whether this producer writes MX with element `kind`: TE, OCP and
    /// torchao every element, JAX FP8, Model-Optimizer E2M1 and E4M3,
    /// compressed-tensors E2M1, E2M3 and E4M3, ggml E2M1, CUTLASS's GEMM
    /// output the OCP floats (FP8, FP6, FP4).
    ///
    /// ```
    /// use blockscale::element::ElementKind;
    /// use blockscale::scale::mx::MxProfile;
    /// assert!(MxProfile::Ggml.writes(ElementKind::E2M1));
    /// assert!(!MxProfile::Ggml.writes(ElementKind::E4M3));
    /// ```
    pub const fn writes(self, kind: ElementKind) -> bool {
        use ElementKind::*;
        match self {
            MxProfile::TransformerEngine | MxProfile::Ocp | MxProfile::TorchAo => true,
            MxProfile::Jax => matches!(kind, E4M3 | E5M2),
            MxProfile::ModelOptimizer => matches!(kind, E2M1 | E4M3),
            MxProfile::CompressedTensors => matches!(kind, E2M1 | E2M3 | E4M3),
            MxProfile::Ggml => matches!(kind, E2M1),
            MxProfile::Cutlass => matches!(kind, E2M1 | E2M3 | E3M2 | E4M3 | E5M2),
        }
    }

    /// The scale rules this producer offers.
    ///
    /// ```
    /// use blockscale::scale::mx::{MxProfile, MxScaleRule};
    /// assert_eq!(MxProfile::Ggml.rules(), &[MxScaleRule::Floor]);
    /// assert_eq!(MxProfile::TorchAo.rules().len(), 4);
    /// ```
    pub const fn rules(self) -> &'static [MxScaleRule] {
        match self {
            MxProfile::TransformerEngine | MxProfile::Ocp | MxProfile::TorchAo => MxScaleRule::ALL,
            MxProfile::Jax | MxProfile::ModelOptimizer | MxProfile::Cutlass => {
                &[MxScaleRule::Rceil]
            }
            MxProfile::CompressedTensors => &[MxScaleRule::Even],
            MxProfile::Ggml => &[MxScaleRule::Floor],
        }
    }
}

/// f32 log₂ of `x > 0`, rounded from an f64 logarithm (what torch's and
/// numpy's `log2` give at the values that matter: next to powers of two,
/// where it rounds to the integer). `libm`, so that the result is the same
/// with and without std on every platform.
fn log2f(x: f32) -> f32 {
    libm::log2(f64::from(x)) as f32
}

/// The byte of 2^e, e clamped to E8M0's range.
fn byte_of(e: f32) -> E8M0 {
    from_exponent_clamped(e.clamp(-127.0, 127.0) as i32)
}

/// The E8M0 scale and element map of an MX block of amax `amax` with
/// element `T`, under `profile` and `rule` (one of `profile.rules()`).
///
/// ```
/// use blockscale::E2M1;
/// use blockscale::scale::{ElementMap, mx::{mx_block, MxProfile, MxScaleRule}};
/// // A block whose scale byte is 0x00: TE multiplies by 1, OCP by 2^127,
/// // torchao (FLOOR) divides by 2^-126.
/// let (x, te) = mx_block::<E2M1>(MxProfile::TransformerEngine, MxScaleRule::Rceil, 1e-38);
/// assert_eq!((x.to_bits(), te), (0x00, ElementMap::Mul(1.0)));
/// let (_, ocp) = mx_block::<E2M1>(MxProfile::Ocp, MxScaleRule::Rceil, 1e-38);
/// assert_eq!(ocp, ElementMap::Mul(2f32.powi(127)));
/// let (_, tao) = mx_block::<E2M1>(MxProfile::TorchAo, MxScaleRule::Floor, 1e-38);
/// assert_eq!(tao, ElementMap::Mul(2f32.powi(126)));
/// ```
pub fn mx_block<T: Element>(
    profile: MxProfile,
    rule: MxScaleRule,
    amax: f32,
) -> (E8M0, ElementMap) {
    let x = match profile {
        MxProfile::TransformerEngine | MxProfile::Ocp | MxProfile::Cutlass => {
            mx_scale::<T>(amax, rule)
        }
        MxProfile::TorchAo => torchao_scale::<T>(amax, rule),
        MxProfile::Jax => {
            if amax.is_nan() {
                E8M0::MIN
            } else if amax.is_infinite() {
                // The bit-level round-up of ∞ keeps its exponent field.
                E8M0::NAN
            } else {
                mx_scale::<T>(ftz(amax), MxScaleRule::Rceil)
            }
        }
        MxProfile::ModelOptimizer => {
            if amax.is_nan() {
                E8M0::NAN
            } else if amax == 0.0 {
                E8M0::MIN
            } else {
                byte_of(libm::ceilf(log2f(amax.abs() / T::MAX_F32)))
            }
        }
        MxProfile::CompressedTensors => {
            if amax.is_nan() {
                E8M0::NAN
            } else if amax == 0.0 {
                E8M0::MIN
            } else {
                // FP4 and FP8 round the amax to one mantissa bit, FP6 to three.
                let m = if T::BITS == 6 { 3 } else { 1 };
                let r = round_half_up(amax.abs(), m);
                from_exponent_clamped(floor_log2(r) - emax::<T>())
            }
        }
        MxProfile::Ggml => {
            if amax.is_nan() {
                // Every distance to a NaN is NaN: the search keeps code 0.
                return (E8M0::MIN, ElementMap::Zero(0));
            } else if amax == 0.0 {
                E8M0::MIN
            } else {
                // floor(log2(amax)) − 2 + 127, cast to uint8: a negative
                // value wraps on x86 (−1 → 0xFF).
                let e = libm::floorf(log2f(amax.abs())) as i32 - emax::<T>() + 127;
                E8M0::from_bits(e as u8)
            }
        }
    };
    if x.is_nan() {
        let map = match (profile, rule) {
            // torchao and JAX scale by the float 2^(255 − 127) = ∞ (JAX
            // writes ∞'s byte too): finite elements become ±0, a NaN stays
            // NaN (an ∞ becomes the CPU's ∞ · 0, NaN). torchao's RCEIL and
            // CUTLASS multiply by a NaN: every element becomes the positive NaN a
            // GPU returns (a CPU may keep a NaN element's own sign, so the
            // code is fixed here rather than left to the multiply).
            // `cvt.rn.satfinite` of a NaN: FP8's canonical NaN 0x7F (E5M2
            // included), +max for FP4 and FP6.
            (MxProfile::Cutlass, _) if matches!(T::KIND, ElementKind::E4M3 | ElementKind::E5M2) => {
                ElementMap::Zero(0x7F)
            }
            (MxProfile::TorchAo, MxScaleRule::Rceil) | (MxProfile::Cutlass, _) => ElementMap::Zero(
                element_cast::<T>(profile)
                    .encode::<T>(f32::NAN, crate::element::ConvertOptions::SATFINITE)
                    .to_bits(),
            ),
            (MxProfile::TorchAo | MxProfile::Jax, _) => ElementMap::Mul(0.0),
            _ => ElementMap::Zero(0),
        };
        return (x, map);
    }
    let inv = 1.0 / x.to_f32();
    let m = match profile {
        MxProfile::TransformerEngine | MxProfile::TorchAo
            if rule == MxScaleRule::Rceil && x.to_bits() == 0 =>
        {
            1.0
        }
        // 1 / 2⁻¹²⁶.
        MxProfile::TorchAo if x.to_bits() == 0 => f32::from_bits((127 + 126) << 23),
        _ => inv,
    };
    (x, ElementMap::Mul(m))
}

/// torchao's scale: FLOOR, CEIL and EVEN on the amax's exponent field
/// (an f32 subnormal counts as 2⁻¹²⁷, ∞ as 2¹²⁸), RCEIL through log2f.
fn torchao_scale<T: Element>(amax: f32, rule: MxScaleRule) -> E8M0 {
    if amax.is_nan() {
        return E8M0::NAN;
    }
    let a = amax.abs();
    if rule == MxScaleRule::Rceil {
        if a.is_infinite() {
            return E8M0::MAX;
        }
        return if a == 0.0 {
            E8M0::MIN
        } else {
            byte_of(libm::ceilf(log2f(a / T::MAX_F32)))
        };
    }
    let bits = match rule {
        MxScaleRule::Even => {
            let shift = 23 - T::MAN_BITS;
            (a.to_bits() + (1 << (shift - 1))) & (0x1FF << 23)
        }
        _ => a.to_bits(),
    };
    let mut e = (bits >> 23) as i32 - 127;
    if rule == MxScaleRule::Ceil && bits & 0x007F_FFFF != 0 {
        e += 1;
    }
    let e = (e - emax::<T>()).clamp(-127, 128);
    E8M0::from_bits((e + 127) as u8)
}

/// The element cast each profile's producer uses ([`CastRule`]).
pub fn element_cast<T: Element>(profile: MxProfile) -> CastRule {
    match profile {
        MxProfile::Jax => CastRule::IEEE.with_flush_subnormals(true),
        MxProfile::ModelOptimizer if T::BITS == 4 => CastRule::IEEE
            .with_ties(Ties::TowardZero)
            .with_zero(ZeroSign::NotAboveZero),
        // Its FP4 cast multiplies by `sign(x)` and its FP8 path adds the
        // zero point, both turning −0 into +0; FP6 keeps the IEEE sign.
        MxProfile::CompressedTensors if T::BITS != 6 => {
            CastRule::IEEE.with_zero(ZeroSign::BelowZero)
        }
        MxProfile::Ggml => CastRule::IEEE
            .with_ties(Ties::TowardZero)
            .with_zero(ZeroSign::Never),
        _ => CastRule::IEEE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_log2_covers_subnormals() {
        assert_eq!(floor_log2(1.0), 0);
        assert_eq!(floor_log2(6.5), 2);
        assert_eq!(floor_log2(f32::from_bits(0x0040_0000)), -127);
        assert_eq!(floor_log2(f32::from_bits(1)), -149);
        assert_eq!(floor_log2(f32::MAX), 127);
    }
}
