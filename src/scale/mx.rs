//! The E8M0 shared-scale rules of the MX formats (OCP MX v1.0 §6.3 and the
//! producers that depart from it; [SEMANTICS.md](crate::contract) §2).

use crate::element::{ConvertOptions, Overflow, Rounding};
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
/// | `RceilOcp` | as `Rceil` | OCP arithmetic for the elements (below) |
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
/// `Rceil` and `RceilOcp` choose the same scale and differ only in the
/// elements of a block whose scale byte is 0x00 (amax at most about
/// max·2⁻¹²⁷): Transformer Engine multiplies them by `exp2f_rcp(0)`, which
/// is 1 (`transformer_engine/common/util/ptx.cuh`, `exp2f_rcp`; torchao
/// copies it), so they all round to signed zeros; `RceilOcp` multiplies by
/// 1/X = 2¹²⁷, as OCP arithmetic says ([`crate::format::Mx`] applies this).
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
    /// of two; a block with scale byte 0x00 is multiplied by 1, as TE's
    /// `exp2f_rcp` does, so its elements become signed zeros.
    #[default]
    Rceil,
    /// torchao CEIL: 2^(⌈log₂ amax⌉ − emax).
    Ceil,
    /// torchao EVEN: round amax to the element's precision first, then as FLOOR.
    Even,
    /// The RCEIL scale with OCP arithmetic for the elements: every block,
    /// scale byte 0x00 included, is multiplied by 1/X.
    RceilOcp,
}

impl MxScaleRule {
    /// Every rule.
    pub const ALL: &'static [MxScaleRule] = &[
        MxScaleRule::Floor,
        MxScaleRule::Rceil,
        MxScaleRule::Ceil,
        MxScaleRule::Even,
        MxScaleRule::RceilOcp,
    ];

    /// The lower-case name the command line and format identifiers use:
    /// `floor`, `rceil`, `ceil`, `even`, `rceil-ocp`.
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
            MxScaleRule::RceilOcp => "rceil-ocp",
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
        return if matches!(rule, MxScaleRule::Rceil | MxScaleRule::RceilOcp) {
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
            // Add half an ulp at the element's mantissa width and truncate.
            let shift = 23 - T::MAN_BITS;
            let rounded =
                f32::from_bits((amax.to_bits() + (1 << (shift - 1))) & !((1 << shift) - 1));
            from_exponent_clamped(floor_log2(rounded) - emax)
        }
        MxScaleRule::Rceil | MxScaleRule::RceilOcp => {
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
