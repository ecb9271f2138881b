//! The OCP MX formats: 32 elements share an E8M0 scale.

use super::{BlockFormat, BlockShape, FormatId};
use crate::Error;
use crate::element::CastRule;
use crate::element::ElementKind;
use crate::prelude::*;
use crate::scale::ElementMap;
use crate::scale::mx::{MxProfile, MxScaleRule, mx_block};
use crate::{E2M1, E2M3, E3M2, E4M3, E5M2, E8M0, Element, Int8};
use core::marker::PhantomData;

/// An MX format with element type `T` (OCP MX v1.0; [SEMANTICS.md](crate::contract) §2): 32
/// consecutive elements (or a 32×32 tile with `two_d`) share one E8M0 scale
/// X chosen by `rule`, and `q_i = T(x_i · (1/X))`, rounded to nearest even
/// (or stochastically) and saturated. 1/X is a power of two, so the
/// multiplication is exact (Transformer Engine multiplies; dividing gives
/// the same bytes).
///
/// The default rule is [`MxScaleRule::Rceil`], Transformer Engine's and
/// cuBLAS's, because the bytes users compare against on GPUs come from them
/// and it never clips; [`MxScaleRule::Floor`] is the OCP spec's.
///
/// Blocks whose scale is NaN (a NaN in the block) store zero elements and
/// dequantize to NaN, as OCP defines.
///
/// ```
/// use blockscale::format::MxFp4;
/// use blockscale::scale::mx::MxScaleRule;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x = vec![7.0f32; 32];
/// let floor = QuantizedTensor::quantize(MxFp4::new(MxScaleRule::Floor), &x, 1, 32, &QuantizeOptions::default())?;
/// let rceil = QuantizedTensor::quantize(MxFp4::default(), &x, 1, 32, &QuantizeOptions::default())?;
/// assert_eq!(floor.dequantize()[0], 6.0); // clipped
/// assert_eq!(rceil.dequantize()[0], 8.0); // 2 · 4
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Debug, PartialEq, Eq)]
pub struct Mx<T> {
    /// How the shared scale is chosen.
    pub rule: MxScaleRule,
    /// Whose arithmetic to reproduce for that rule ([`MxProfile`]; the
    /// default is Transformer Engine's).
    pub profile: MxProfile,
    /// 32×32 tiles instead of 1×32 blocks.
    pub two_d: bool,
    _elem: PhantomData<fn() -> T>,
}

impl<T> Clone for Mx<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Mx<T> {}

impl<T> Default for Mx<T> {
    fn default() -> Self {
        Mx::new(MxScaleRule::default())
    }
}

impl<T> Mx<T> {
    /// 1×32 blocks with scale rule `rule`.
    pub const fn new(rule: MxScaleRule) -> Self {
        Mx {
            rule,
            profile: MxProfile::TransformerEngine,
            two_d: false,
            _elem: PhantomData,
        }
    }

    /// 32×32 tiles with scale rule `rule` (Transformer Engine's 2-D weight blocks).
    pub const fn new_2d(rule: MxScaleRule) -> Self {
        Mx {
            rule,
            profile: MxProfile::TransformerEngine,
            two_d: true,
            _elem: PhantomData,
        }
    }

    /// This format with `profile`'s arithmetic.
    ///
    /// ```
    /// use blockscale::format::{BlockFormat, MxFp4};
    /// use blockscale::scale::mx::{MxProfile, MxScaleRule};
    /// let ggml = MxFp4::new(MxScaleRule::Floor).with_profile(MxProfile::Ggml);
    /// assert_eq!(ggml.id().to_string(), "mxfp4,profile=ggml"); // FLOOR is ggml's one rule
    /// assert_eq!("mxfp4,profile=ggml".parse::<blockscale::format::AnyFormat>()?.to_string(), "mxfp4,profile=ggml");
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub const fn with_profile(self, profile: MxProfile) -> Self {
        Mx { profile, ..self }
    }
}

/// MXFP8 with E4M3 elements.
pub type MxFp8E4M3 = Mx<E4M3>;
/// MXFP8 with E5M2 elements.
pub type MxFp8E5M2 = Mx<E5M2>;
/// MXFP6 with E2M3 elements.
pub type MxFp6E2M3 = Mx<E2M3>;
/// MXFP6 with E3M2 elements.
pub type MxFp6E3M2 = Mx<E3M2>;
/// MXFP4 (E2M1 elements).
pub type MxFp4 = Mx<E2M1>;
/// MXINT8 (8-bit integer elements scaled by 2⁻⁶).
pub type MxInt8 = Mx<Int8>;

impl<T: Element> BlockFormat for Mx<T> {
    type Elem = T;
    type Scale = E8M0;
    type Global = ();

    fn name(&self) -> String {
        let e = match T::KIND {
            ElementKind::E2M1 => "MXFP4".to_string(),
            ElementKind::Int8 => "MXINT8".to_string(),
            k => format!("MXFP{}-{}", k.bits(), k.name()),
        };
        let e = if self.rule == MxScaleRule::default() {
            e
        } else {
            format!("{e}-{:?}", self.rule).to_uppercase()
        };
        let e = if self.profile == MxProfile::default() {
            e
        } else {
            format!("{e}-{}", self.profile.name())
        };
        if self.two_d { format!("{e}-2D") } else { e }
    }
    fn id(&self) -> FormatId {
        let mut id = FormatId::new(mx_family(T::KIND));
        if self.rule != self.profile.default_rule() {
            id = id.with("rule", self.rule.name());
        }
        if self.profile != MxProfile::default() {
            id = id.with("profile", self.profile.name());
        }
        if self.two_d {
            id = id.with("2d", "true");
        }
        id
    }
    fn from_id(id: &FormatId) -> Result<Self, Error> {
        id.expect(mx_family(T::KIND), &["rule", "profile", "2d"])?;
        let rules: Vec<_> = MxScaleRule::ALL.iter().map(|&r| (r.name(), r)).collect();
        let profiles: Vec<_> = MxProfile::ALL.iter().map(|&p| (p.name(), p)).collect();
        let profile = id.choice("profile", &profiles)?.unwrap_or_default();
        let rule = id.choice("rule", &rules)?.unwrap_or(profile.default_rule());
        if !profile.writes(T::KIND) {
            return Err(Error::InvalidArgument(format!(
                "format '{id}': {} does not write MX with {} elements",
                profile.name(),
                T::NAME
            )));
        }
        if !profile.rules().contains(&rule) {
            let names: Vec<_> = profile.rules().iter().map(|r| r.name()).collect();
            return Err(Error::InvalidArgument(format!(
                "format '{id}': profile {} has the scale rule {}, not {}",
                profile.name(),
                names.join(", "),
                rule.name()
            )));
        }
        let f = if super::two_d(id)? {
            Mx::new_2d(rule)
        } else {
            Mx::new(rule)
        };
        Ok(f.with_profile(profile))
    }
    fn block(&self) -> BlockShape {
        if self.two_d {
            BlockShape::Tile { rows: 32, cols: 32 }
        } else {
            BlockShape::Tile { rows: 1, cols: 32 }
        }
    }
    fn has_global_scale(&self) -> bool {
        false
    }
    fn scale_rule(&self) -> String {
        format!("{:?} ({} arithmetic)", self.rule, self.profile.name())
    }
    fn global(&self, _amax: f32) {}
    fn block_scale(&self, block_amax: f32, _g: &()) -> (E8M0, ElementMap, f32) {
        let (x, map) = mx_block::<T>(self.profile, self.rule, block_amax);
        (x, map, x.to_f32())
    }
    fn block_scales(&self, amaxes: &[f32], _g: &(), scales: &mut [E8M0], maps: &mut [ElementMap]) {
        // The bit-level RCEIL off the portable level, which stays the
        // specification that the fast path is tested against.
        let fast = self.rule == MxScaleRule::Rceil
            && self.profile == MxProfile::TransformerEngine
            && crate::simd::active() != crate::simd::Level::Portable;
        for ((&a, s), m) in amaxes.iter().zip(scales.iter_mut()).zip(maps.iter_mut()) {
            (*s, *m) = if fast {
                rceil_fast::<T>(a)
            } else {
                let (s, m, _) = self.block_scale(a, &());
                (s, m)
            };
        }
    }
    fn dequant_factor(&self, s: E8M0, _g: &()) -> f32 {
        s.to_f32()
    }
    fn global_amax(&self, _g: &()) -> Option<f32> {
        None
    }
    fn tensor_alpha(&self, _g: &()) -> f32 {
        1.0
    }
    fn element_cast(&self) -> CastRule {
        crate::scale::mx::element_cast::<T>(self.profile)
    }
}

/// The RCEIL scale and map on f32 bits: `t = amax · (1/max)` rounded up to
/// a power of two is t's exponent field (E8M0 and f32 share the bias 127),
/// plus one if t has mantissa bits; f32 subnormals above 2⁻¹²⁷ round up to
/// 2⁻¹²⁶, and exponents above 127 saturate to 0xFE. Equals
/// `block_scale` under `MxScaleRule::Rceil` and Transformer Engine's
/// profile (tested against it).
#[inline]
fn rceil_fast<T: Element>(amax: f32) -> (E8M0, ElementMap) {
    if amax.is_nan() {
        return (E8M0::NAN, ElementMap::Zero(0));
    }
    let t = (amax.abs() * (1.0 / T::MAX_F32)).to_bits();
    let code = if amax.is_infinite() {
        0xFE
    } else if t >= 0x0080_0000 {
        ((t >> 23) + u32::from(t & 0x007F_FFFF != 0)).min(0xFE)
    } else {
        u32::from(t > 0x0040_0000)
    };
    let x = E8M0::from_bits(code as u8);
    // Transformer Engine's `exp2f_rcp`: 1 for byte 0x00 (see `mx_block`).
    let m = if code == 0 { 1.0 } else { 1.0 / x.to_f32() };
    (x, ElementMap::Mul(m))
}

/// The family keyword of MX with element `kind`: the OCP name in lower
/// case, with the element for the FP8 and FP6 variants other than the
/// first (`mxfp8` is E4M3, `mxfp6` is E2M3, as the command line has always
/// spelt them).
fn mx_family(kind: ElementKind) -> &'static str {
    match kind {
        ElementKind::E4M3 => "mxfp8",
        ElementKind::E5M2 => "mxfp8-e5m2",
        // No producer writes MX with fnuz elements; the names exist so
        // that every `Mx<T>` has one.
        ElementKind::E4M3Fnuz => "mxfp8-e4m3fnuz",
        ElementKind::E5M2Fnuz => "mxfp8-e5m2fnuz",
        ElementKind::E2M3 => "mxfp6",
        ElementKind::E3M2 => "mxfp6-e3m2",
        ElementKind::E2M1 => "mxfp4",
        ElementKind::Int8 => "mxint8",
        ElementKind::E8M0 => "mx-e8m0",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rceil_fast` against the specification (`mx_block` under RCEIL and
    /// Transformer Engine's profile) for every element type: on every f32
    /// exponent with the mantissa patterns that decide rounding (0, 1,
    /// half, all ones), on a stride through all 2³² patterns, and on ±0,
    /// ±Inf and NaN.
    fn check<T: Element>() {
        // Under Miri, which interprets every step (all of this took 47 s
        // there), every fifth exponent and a coarser stride.
        let every = if cfg!(miri) { 5 } else { 1 };
        let edges = (0..256u32).step_by(every).flat_map(|e| {
            [0, 1, 0x0040_0000, 0x0040_0001, 0x007F_FFFF].map(move |m| (e << 23) | m)
        });
        let step = if cfg!(miri) { 16_777_259 } else { 65_521 };
        let stride = (0..=u32::MAX / step).map(move |i| i * step);
        for bits in edges.chain(stride) {
            for a in [f32::from_bits(bits), -f32::from_bits(bits)] {
                let want = mx_block::<T>(MxProfile::TransformerEngine, MxScaleRule::Rceil, a);
                let got = rceil_fast::<T>(a);
                assert_eq!(got.0.to_bits(), want.0.to_bits(), "{} amax {a:e}", T::NAME);
                match (got.1, want.1) {
                    (ElementMap::Mul(g), ElementMap::Mul(w)) => {
                        assert_eq!(g.to_bits(), w.to_bits(), "{} amax {a:e}", T::NAME)
                    }
                    (g, w) => assert_eq!(g, w, "{} amax {a:e}", T::NAME),
                }
            }
        }
    }

    #[test]
    fn rceil_fast_equals_the_rule() {
        check::<E4M3>();
        check::<E5M2>();
        check::<E2M3>();
        check::<E3M2>();
        check::<E2M1>();
        check::<Int8>();
    }
}
