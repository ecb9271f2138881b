//! OCP FP8 codes as AMD's fnuz codes of half the value: the rule behind
//! vLLM's `normalize_e4m3fn_to_e4m3fnuz` (`vllm/model_executor/layers/
//! quantization/utils/w8a8_utils.py`), which keeps each byte, writes the
//! FN −0 (0x80, NaN in fnuz) as 0, and doubles the scale.
//!
//! An fnuz type's bias is one more than its OCP twin's, so the same
//! exponent and mantissa fields mean exactly half the value, subnormals
//! included. Only the codes that mean something else differ: −0 becomes 0,
//! and the OCP NaNs (and E5M2's ±Inf, which fnuz lacks) become the fnuz
//! NaN 0x80, where vLLM's reinterpretation would read ±240 (E4M3) or a
//! finite E5M2FNUZ value.

use super::{E4M3, E4M3Fnuz, E5M2, E5M2Fnuz, Element};

/// An OCP FP8 element type with an fnuz twin whose codes are worth half:
/// [`E4M3`] → [`E4M3Fnuz`], [`E5M2`] → [`E5M2Fnuz`]. Sealed.
///
/// ```
/// use blockscale::element::ToFnuz;
/// use blockscale::{E4M3, E5M2};
/// for x in [E4M3::MAX, E4M3::MIN_POSITIVE_SUBNORMAL, E4M3::from_f32(-3.25)] {
///     assert_eq!(x.to_fnuz_halved().to_f32(), x.to_f32() / 2.0);
/// }
/// assert_eq!(E4M3::NEG_ZERO.to_fnuz_halved().to_bits(), 0x00);
/// assert!(E4M3::NAN.to_fnuz_halved().is_nan());
/// assert!(E5M2::INFINITY.to_fnuz_halved().is_nan());
/// ```
pub trait ToFnuz: Element + private::Sealed {
    /// The fnuz type.
    type Fnuz: Element;
    /// The fnuz code of exactly half this value: the same byte, except −0
    /// → 0 and NaN or ±Inf → the fnuz NaN (0x80).
    fn to_fnuz_halved(self) -> Self::Fnuz;
}

mod private {
    pub trait Sealed {}
    impl Sealed for super::E4M3 {}
    impl Sealed for super::E5M2 {}
}

impl ToFnuz for E4M3 {
    type Fnuz = E4M3Fnuz;
    #[inline]
    fn to_fnuz_halved(self) -> E4M3Fnuz {
        match self.to_bits() {
            0x80 => E4M3Fnuz::ZERO,
            b if b & 0x7F == 0x7F => E4M3Fnuz::NAN,
            b => E4M3Fnuz::from_bits(b),
        }
    }
}

impl ToFnuz for E5M2 {
    type Fnuz = E5M2Fnuz;
    #[inline]
    fn to_fnuz_halved(self) -> E5M2Fnuz {
        match self.to_bits() {
            0x80 => E5M2Fnuz::ZERO,
            b if b & 0x7C == 0x7C => E5M2Fnuz::NAN,
            b => E5M2Fnuz::from_bits(b),
        }
    }
}
