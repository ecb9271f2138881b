//! How a producer's element cast departs from IEEE rounding of the value
//! it is given: the direction of exact ties and the sign of a zero result.
//! Several producers cast to FP4 with table searches or thresholds rather
//! than IEEE conversions ([SEMANTICS.md](crate::contract) §9), and their bytes
//! differ from `from_f32_with` there.

use super::{ConvertOptions, Element, Rounding};

/// `x`, or a zero of its sign if `x` is an f32 subnormal: what a CPU with
/// denormals off (XLA's) reads and writes.
pub(crate) fn flush_subnormal(x: f32) -> f32 {
    if x.is_subnormal() {
        0.0f32.copysign(x)
    } else {
        x
    }
}

/// Which neighbour an exact tie goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Ties {
    /// To the even code (IEEE; the rounding mode decides).
    #[default]
    Even,
    /// To the smaller magnitude (Model-Optimizer's MXFP4 cast compares
    /// with `>`; ggml takes the first of two equal distances).
    TowardZero,
}

/// The sign of a zero result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ZeroSign {
    /// The input's sign (IEEE: −0 and small negatives give −0).
    #[default]
    Input,
    /// −0 only for inputs below zero, so −0 itself gives +0: the sign is
    /// `x < 0` (Model-Optimizer ≥ 0.45 `_cast_fp4`, compressed-tensors).
    BelowZero,
    /// −0 for every input not above zero, +0 included: the sign is
    /// `(2 − sign(x)) // 2` (Model-Optimizer's MXFP4 cast).
    NotAboveZero,
    /// Never −0 (ggml's nearest search finds the +0 entry first).
    Never,
}

/// A producer's element cast: [`Element::from_f32_with`] with exact ties
/// and zero signs decided as the producer decides them, after flushing
/// f32 subnormal inputs to zero if the producer runs with denormals off.
///
/// ```
/// use blockscale::element::{CastRule, ConvertOptions, Ties, ZeroSign};
/// use blockscale::{E2M1, Element};
/// let opts = ConvertOptions::SATFINITE;
/// let modelopt_mx = CastRule::IEEE.with_ties(Ties::TowardZero).with_zero(ZeroSign::NotAboveZero);
/// assert_eq!(modelopt_mx.encode::<E2M1>(2.5, opts).to_f32(), 2.0);  // tie toward zero
/// assert_eq!(modelopt_mx.encode::<E2M1>(3.5, opts).to_f32(), 3.0);  // IEEE gives 4
/// assert_eq!(modelopt_mx.encode::<E2M1>(0.0, opts).to_bits(), 0x8); // +0 → −0
/// assert_eq!(CastRule::IEEE.encode::<E2M1>(-0.0, opts).to_bits(), 0x8);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CastRule {
    /// Exact ties, under round-to-nearest.
    pub ties: Ties,
    /// The sign of zero results (not of NaN conversions, which
    /// [`super::NanToFinite`] decides).
    pub zero: ZeroSign,
    /// Read f32 subnormal inputs as zero of the same sign (XLA on CPU).
    pub flush_subnormals: bool,
}

impl CastRule {
    /// IEEE conversion: what [`Element::from_f32_with`] does.
    pub const IEEE: CastRule = CastRule {
        ties: Ties::Even,
        zero: ZeroSign::Input,
        flush_subnormals: false,
    };

    /// This rule with exact ties sent by `ties`.
    pub const fn with_ties(self, ties: Ties) -> CastRule {
        CastRule { ties, ..self }
    }

    /// This rule with zero results signed by `zero`.
    pub const fn with_zero(self, zero: ZeroSign) -> CastRule {
        CastRule { zero, ..self }
    }

    /// This rule, reading f32 subnormal inputs as zero if `flush`.
    pub const fn with_flush_subnormals(self, flush: bool) -> CastRule {
        CastRule {
            flush_subnormals: flush,
            ..self
        }
    }

    /// `x` converted with `opts` and this rule.
    pub fn encode<T: Element>(self, x: f32, opts: ConvertOptions) -> T {
        let x = if self.flush_subnormals {
            flush_subnormal(x)
        } else {
            x
        };
        let mut c = T::from_f32_with(x, opts);
        if x.is_nan() {
            return c;
        }
        if self.ties == Ties::TowardZero && opts.rounding == Rounding::NearestEven {
            let t = T::from_f32_with(x, opts.with_rounding(Rounding::TowardZero));
            let (lo, hi) = (f64::from(t.to_f32()).abs(), f64::from(c.to_f32()).abs());
            // Exact in f64: both neighbours and twice x have few bits.
            if hi > lo && hi.is_finite() && 2.0 * f64::from(x).abs() == lo + hi {
                c = t;
            }
        }
        if c.to_f32() == 0.0
            && let Some(spec) = T::SPEC
        {
            let negative = match self.zero {
                ZeroSign::Input => return c,
                ZeroSign::BelowZero => x < 0.0,
                ZeroSign::NotAboveZero => x <= 0.0,
                ZeroSign::Never => false,
            };
            let magnitude = c.to_bits() & !spec.sign_bit();
            c = T::from_bits(if negative {
                magnitude | spec.sign_bit()
            } else {
                magnitude
            });
        }
        c
    }
}
