//! Element codecs: the scalar number formats that block formats are built from.
//!
//! | type | bits (s.e.m) | bias | max finite | min normal | min subnormal | Inf | NaN |
//! |---|---|---|---|---|---|---|---|
//! | [`E2M1`] (FP4) | 1.2.1 | 1 | 6 | 1 | 0.5 | – | – |
//! | [`E2M3`] (FP6) | 1.2.3 | 1 | 7.5 | 1 | 0.125 | – | – |
//! | [`E3M2`] (FP6) | 1.3.2 | 3 | 28 | 0.25 | 0.0625 | – | – |
//! | [`E4M3`] (FP8 "fn") | 1.4.3 | 7 | 448 | 2⁻⁶ | 2⁻⁹ | – | S.1111.111 |
//! | [`E5M2`] (FP8) | 1.5.2 | 15 | 57344 | 2⁻¹⁴ | 2⁻¹⁶ | S.11111.00 | S.11111.{01,10,11} |
//! | [`E4M3Fnuz`] (FP8, AMD) | 1.4.3 | 8 | 240 | 2⁻⁷ | 2⁻¹⁰ | – | 0x80 (no −0) |
//! | [`E5M2Fnuz`] (FP8, AMD) | 1.5.2 | 16 | 57344 | 2⁻¹⁵ | 2⁻¹⁷ | – | 0x80 (no −0) |
//! | [`E8M0`] (scale) | 0.8.0 | 127 | 2¹²⁷ | 2⁻¹²⁷ | – | – | 0xFF |
//! | [`Int8`] (MXINT8) | two's complement × 2⁻⁶ | – | 127/64 | – | – | – | – |
//!
//! Sources: OCP Microscaling Formats (MX) v1.0 §5; ml_dtypes `float8.h` and
//! `mxfloat.h` (the fnuz types are ml_dtypes' `float8_e4m3fnuz` and
//! `float8_e5m2fnuz`, from Graphcore's FP8 proposal, arXiv 2206.02915, as
//! AMD MI300 implements them). The seven minifloats are each a four-line declaration
//! ([`MiniFloatSpec`]) driving one conversion engine; E8M0 and MXINT8 are not
//! minifloats (no sign, no zero; an integer) and have their own small files,
//! sharing the engine's integer rounding step.
//!
//! Conversion from a real number has one entry point per type,
//! `from_f32_with(x, ConvertOptions)`, and a default, `from_f32`, that is
//! bit-identical to ml_dtypes' `astype` (checked over all 2³² f32 inputs).
//!
//! Besides conversion, every type has what `half::f16` has that needs no
//! arithmetic: `total_cmp` (IEEE totalOrder for the minifloats, the code
//! order with NaN last for E8M0, the value order for MXINT8), `abs`,
//! `is_sign_positive`/`is_sign_negative`, `classify`,
//! `is_normal`/`is_subnormal`, `FromStr` (via f64), `LowerHex`, `UpperHex`,
//! `Binary` and `Octal` of the encoding, and the `const fn`s
//! `from_f32_const`, `from_f64_const` and `to_f64_const`; the signed types
//! also have `signum`, `copysign` and `Neg` (saturating for MXINT8's 0x80).
//!
//! ```
//! use blockscale::E4M3;
//! const X: E4M3 = E4M3::from_f32_const(0.1);
//! assert_eq!(X.to_f32(), 0.1015625);
//! assert_eq!(format!("{:#04x}", E4M3::NAN), "0x7f");
//! assert!((-E4M3::NAN).total_cmp(&E4M3::MIN).is_lt());
//! assert_eq!("-448".parse::<E4M3>().unwrap(), E4M3::MIN);
//! ```
//!
//! # Traits behind features
//!
//! Off by default, each named after its crate:
//! - `num-traits`: `ToPrimitive`, `FromPrimitive`, `NumCast`,
//!   `AsPrimitive<f32>`, `AsPrimitive<f64>` and `Bounded` (no `Zero`, `One`,
//!   `Num` or `Float`: the types have no arithmetic);
//! - `serde`: `Serialize` and `Deserialize`, as the encoding (a newtype
//!   struct holding the code as `u8`), as `half` does for `f16`, so every
//!   code round-trips, NaN signs and −0 included;
//! - `zerocopy`: `FromBytes`, `IntoBytes`, `Immutable` and `KnownLayout`
//!   (every byte is a valid element; bits above a type's width are ignored).

mod cast;
mod e8m0;
mod engine;
mod ergonomics;
mod fnuz;
mod int8;
mod kernel;
mod minifloat;
pub(crate) mod nibble;
pub mod slice;

pub(crate) use cast::flush_subnormal;
pub use cast::{CastRule, Ties, ZeroSign};
pub use e8m0::E8M0;
pub use engine::{MiniFloatSpec, Specials};
pub(crate) use ergonomics::element_ergonomics;
pub use fnuz::ToFnuz;
pub use int8::Int8;
pub(crate) use kernel::{decoder, kernel_codec};
pub use minifloat::{E2M1, E2M3, E3M2, E4M3, E4M3Fnuz, E5M2, E5M2Fnuz};

use crate::Error;

/// A dequantized value `q · f` (a block format's `x̂ = q · f`), where a NaN
/// `q` keeps its own NaN, also when `f` is NaN. x86 keeps a product's first
/// NaN operand, but neither Rust nor LLVM fixes the operand order (LLVM
/// may commute a multiply), so the rule is spelled out; the SIMD decoders
/// blend it in the same way.
#[inline]
pub(crate) fn dequant_mul(q: f32, f: f32) -> f32 {
    if q.is_nan() { q } else { q * f }
}

/// How a real number that falls between two representable values is rounded.
///
/// Every element type accepts every mode. The directions are those of
/// IEEE 754-2019 §4.3; `Stochastic` is the PTX `cvt.rs` rule (the random bits
/// are added below the kept bits, and a carry rounds away from zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Rounding {
    /// Round to nearest, ties to even: the OCP MX default, used by ml_dtypes,
    /// Transformer Engine and torchao.
    #[default]
    NearestEven,
    /// Round to nearest, ties away from zero. ml_dtypes uses this for
    /// [`E8M0`] (1.5 → 2, 3 → 4).
    NearestTiesAway,
    /// Round toward zero (truncation), as ml_dtypes' C++ templates and
    /// microxcaling's `floor` mode offer.
    TowardZero,
    /// Round toward +∞ (CUDA `cvt.rp`, used for E8M0 scales under RCEIL).
    Up,
    /// Round toward −∞.
    Down,
    /// Stochastic rounding with caller-supplied random bits, see [`RandomBits`].
    Stochastic(RandomBits),
}

/// Random bits for one stochastic rounding, and how many of them to use.
///
/// With `n` bits `r`, the `n` bits just below the kept precision (the
/// discarded fraction `d`, truncated to `n` bits) are added to `r`; a carry out
/// of those `n` bits rounds the magnitude up. So a value a fraction `f` of the
/// way from its lower neighbour `lo` to `hi` rounds to `hi` with probability
/// `⌊f·2ⁿ⌋ / 2ⁿ`: within `2⁻ⁿ` of `f`, exactly `f` when `f` has at most `n`
/// bits. `n = 8` reproduces GPU-style 8-bit stochastic rounding; `n = 32`
/// (from an RNG) is unbiased to 2⁻³².
///
/// ```
/// use blockscale::{E2M1, element::{ConvertOptions, RandomBits, Rounding}};
/// // 2.5 is halfway between 2 and 3: with 8 random bits, r >= 128 rounds up.
/// let sr = |r| ConvertOptions { rounding: Rounding::Stochastic(RandomBits::new(r, 8).unwrap()), ..Default::default() };
/// assert_eq!(E2M1::from_f32_with(2.5, sr(127)).to_f32(), 2.0);
/// assert_eq!(E2M1::from_f32_with(2.5, sr(128)).to_f32(), 3.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandomBits {
    value: u32,
    count: u32,
}

impl RandomBits {
    /// `count` random bits taken from the low bits of `value`.
    ///
    /// Errors with [`Error::InvalidArgument`] unless `1 <= count <= 32`, or if
    /// `value` has bits set at or above `count` (they would be silently lost).
    pub fn new(value: u32, count: u32) -> Result<Self, Error> {
        if !(1..=32).contains(&count) {
            return Err(Error::InvalidArgument(format!(
                "stochastic rounding needs 1 to 32 random bits, got {count}"
            )));
        }
        if count < 32 && value >> count != 0 {
            return Err(Error::InvalidArgument(format!(
                "random value {value:#x} does not fit in {count} bits"
            )));
        }
        Ok(RandomBits { value, count })
    }

    /// All 32 bits of `value`.
    pub const fn full(value: u32) -> Self {
        RandomBits { value, count: 32 }
    }

    /// 32 bits drawn from `rng`.
    ///
    /// ```
    /// use blockscale::element::RandomBits;
    /// use rand_xoshiro::{Xoshiro256PlusPlus, rand_core::SeedableRng};
    /// let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    /// let bits = RandomBits::from_rng(&mut rng);
    /// assert_eq!(bits.count(), 32);
    /// ```
    pub fn from_rng<R: rand_core::Rng + ?Sized>(rng: &mut R) -> Self {
        RandomBits::full(rng.next_u32())
    }

    /// The random value.
    pub const fn value(self) -> u32 {
        self.value
    }

    /// How many bits of it are used.
    pub const fn count(self) -> u32 {
        self.count
    }
}

/// What happens to a finite value whose rounded magnitude exceeds the
/// format's largest finite value, and to ±Inf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// ml_dtypes' `astype`: E4M3 → NaN, E5M2 → ±Inf, E8M0 → NaN; formats with
    /// neither (FP4, FP6, MXINT8) clamp to ±max. Under round-toward-zero (and
    /// `Up`/`Down` toward zero) a finite overflow gives ±max, as IEEE 754 says.
    #[default]
    NonSaturating,
    /// Clamp to ±max (`satfinite`, as GPU kernels and every block quantizer
    /// do). ±Inf becomes ±max; NaN stays NaN where the format has one.
    Saturate,
}

/// What a NaN input becomes in a format that has no NaN (FP4, FP6, MXINT8).
///
/// Sources disagree ([SEMANTICS.md](crate::contract) §1.1), so the caller chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NanToFinite {
    /// ml_dtypes: zero with the NaN's sign bit inverted (`+NaN` → −0,
    /// `−NaN` → +0). For MXINT8, which has no −0, this gives 0.
    #[default]
    MlDtypes,
    /// +0 whatever the sign (ggml).
    Zero,
    /// +max whatever the sign (Transformer Engine's `satfinite` E2M1 kernels give +6).
    PositiveMax,
    /// −0 whatever the sign (XLA's CPU conversion to `f4e2m1fn`, as JAX
    /// runs it). For MXINT8, which has no −0, this gives 0.
    NegativeZero,
}

/// The options of a conversion from a real number to an element.
///
/// The default is ml_dtypes' `astype`: [`Rounding::NearestEven`] (for
/// [`E8M0`], which ml_dtypes rounds ties away, use [`E8M0::from_f32`]),
/// [`Overflow::NonSaturating`], [`NanToFinite::MlDtypes`].
///
/// ```
/// use blockscale::{E4M3, element::{ConvertOptions, Overflow}};
/// assert!(E4M3::from_f32(500.0).is_nan());
/// assert_eq!(E4M3::from_f32_with(500.0, ConvertOptions::SATFINITE).to_f32(), 448.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ConvertOptions {
    /// Rounding mode.
    pub rounding: Rounding,
    /// Overflow behaviour.
    pub overflow: Overflow,
    /// NaN into a format without NaN.
    pub nan: NanToFinite,
}

impl ConvertOptions {
    /// ml_dtypes' `astype`: nearest-even, non-saturating, NaN per ml_dtypes.
    pub const ML_DTYPES: Self = ConvertOptions {
        rounding: Rounding::NearestEven,
        overflow: Overflow::NonSaturating,
        nan: NanToFinite::MlDtypes,
    };

    /// PTX `cvt.rn.satfinite`, as Transformer Engine's quantizers use:
    /// nearest-even, clamp to ±max, NaN into FP4/FP6 gives +max.
    pub const SATFINITE: Self = ConvertOptions {
        rounding: Rounding::NearestEven,
        overflow: Overflow::Saturate,
        nan: NanToFinite::PositiveMax,
    };

    /// These options with another rounding mode.
    pub const fn with_rounding(self, rounding: Rounding) -> Self {
        ConvertOptions { rounding, ..self }
    }
}

/// The element formats, as a value: what [`Element::KIND`] names.
///
/// ```
/// use blockscale::element::ElementKind;
/// use blockscale::{E4M3, Element};
/// assert_eq!(E4M3::KIND, ElementKind::E4M3);
/// assert_eq!(ElementKind::Int8.name(), "INT8");
/// assert_eq!(ElementKind::E2M1.bits(), 4);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ElementKind {
    /// [`E2M1`] (FP4).
    E2M1,
    /// [`E2M3`] (FP6).
    E2M3,
    /// [`E3M2`] (FP6).
    E3M2,
    /// [`E4M3`] (FP8).
    E4M3,
    /// [`E5M2`] (FP8).
    E5M2,
    /// [`E4M3Fnuz`] (FP8, AMD).
    E4M3Fnuz,
    /// [`E5M2Fnuz`] (FP8, AMD).
    E5M2Fnuz,
    /// [`E8M0`] (scale).
    E8M0,
    /// [`Int8`] (MXINT8).
    Int8,
}

impl ElementKind {
    /// The name as in the OCP spec: `"E2M1"` … `"E8M0"`, `"INT8"`.
    pub const fn name(self) -> &'static str {
        match self {
            ElementKind::E2M1 => "E2M1",
            ElementKind::E2M3 => "E2M3",
            ElementKind::E3M2 => "E3M2",
            ElementKind::E4M3 => "E4M3",
            ElementKind::E5M2 => "E5M2",
            ElementKind::E4M3Fnuz => "E4M3FNUZ",
            ElementKind::E5M2Fnuz => "E5M2FNUZ",
            ElementKind::E8M0 => "E8M0",
            ElementKind::Int8 => "INT8",
        }
    }

    /// Width of an encoding in bits.
    pub const fn bits(self) -> u32 {
        match self {
            ElementKind::E2M1 => 4,
            ElementKind::E2M3 | ElementKind::E3M2 => 6,
            _ => 8,
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// Operations every element type shares: the trait that block formats and
/// bulk conversions are generic over. Sealed: the set of formats is this
/// crate's.
///
/// Each method equals the inherent method of the same name, documented on
/// each type.
///
/// ```
/// use blockscale::{E2M1, E4M3, Element};
/// fn roundtrip<T: Element>(x: f32) -> f32 { T::from_f32(x).to_f32() }
/// assert_eq!(roundtrip::<E4M3>(0.3), 0.3125);
/// assert_eq!(roundtrip::<E2M1>(0.3), 0.5);
/// assert_eq!(E2M1::BITS, 4);
/// ```
pub trait Element:
    sealed::Sealed
    + Copy
    + bytemuck::Pod
    + PartialEq
    + PartialOrd
    + core::fmt::Debug
    + core::fmt::Display
    + Send
    + Sync
    + 'static
{
    /// Which element this is: code that needs to know the format matches
    /// on this, never on [`Element::NAME`].
    const KIND: ElementKind;
    /// The format's name as in the OCP spec (`"E4M3"`, `"INT8"`), for messages.
    const NAME: &'static str;
    /// The sign–exponent–mantissa definition, for the five minifloats;
    /// `None` for [`E8M0`] and [`Int8`], which are not minifloats.
    const SPEC: Option<MiniFloatSpec>;
    /// Width of an encoding in bits (4, 6 or 8); higher bits of the byte are ignored.
    const BITS: u32;
    /// Whether tensors store two codes per byte (4-bit elements: element
    /// 2j in the low nibble, 2j+1 in the high one) rather than one.
    const PACKED: bool = Self::BITS == 4;
    /// Mantissa (fraction) bits: the precision that scale rules such as
    /// torchao's EVEN round to (MXINT8: 6, the bits below its leading one).
    const MAN_BITS: u32;
    /// Largest finite value, as f32.
    const MAX_F32: f32;
    /// The value of every code `0..2^BITS`, as f32 (NaN where the code is NaN).
    const DECODE: &'static [f32; 256];
    /// The element with these bits (bits above [`Element::BITS`] are cleared).
    fn from_bits(bits: u8) -> Self;
    /// The encoding.
    fn to_bits(self) -> u8;
    /// Exact value (every element is exactly representable in f32).
    fn to_f32(self) -> f32;
    /// ml_dtypes' `astype` from f32.
    fn from_f32(x: f32) -> Self;
    /// Conversion from f32 with explicit options.
    fn from_f32_with(x: f32, opts: ConvertOptions) -> Self;
    /// Conversion from f64 with explicit options (one rounding, from the f64 value).
    fn from_f64_with(x: f64, opts: ConvertOptions) -> Self;
    /// True for NaN encodings.
    fn is_nan(self) -> bool {
        self.to_f32().is_nan()
    }

    /// Every code once, in code order: `2^BITS` of them (16 for the 4-bit
    /// and 64 for the 6-bit types; iterating [`Element::DECODE`]'s 256
    /// entries would repeat theirs).
    ///
    /// ```
    /// use blockscale::{E2M1, E4M3, Element};
    /// assert_eq!(E2M1::codes().count(), 16);
    /// // An exhaustive round trip: every non-NaN code decodes and re-encodes to itself.
    /// assert!(E4M3::codes().filter(|c| !c.is_nan()).all(|c| E4M3::from_f32(c.to_f32()) == c));
    /// ```
    fn codes() -> impl Iterator<Item = Self>
    where
        Self: Sized,
    {
        (0..1u16 << Self::BITS).map(|b| Self::from_bits(b as u8))
    }

    /// The value of every code, in the order of [`Element::codes`]: NaN for
    /// NaN codes, both zeros where the type has them.
    ///
    /// ```
    /// use blockscale::{E2M1, Element};
    /// let v: Vec<f32> = E2M1::values().collect();
    /// assert_eq!(v[..8], [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]);
    /// assert!(v[8] == 0.0 && v[8].is_sign_negative());
    /// ```
    fn values() -> impl Iterator<Item = f32>
    where
        Self: Sized,
    {
        Self::codes().map(Self::to_f32)
    }
}

/// 2^e as an f64, exactly, from its bits: subnormal down to 2⁻¹⁰⁷⁴, 0 below,
/// +Inf above 2¹⁰²³. (`f64::powi` would do on today's targets, but Rust
/// leaves its precision unspecified, and Miri perturbs it on purpose.)
pub(crate) const fn pow2_f64(e: i32) -> f64 {
    if e > 1023 {
        f64::INFINITY
    } else if e >= -1022 {
        f64::from_bits(((e + 1023) as u64) << 52)
    } else if e >= -1074 {
        f64::from_bits(1 << (e + 1074))
    } else {
        0.0
    }
}

/// f32 → f64, exactly, keeping a NaN's sign: `as` leaves the sign of a NaN
/// unspecified (and constant folding may drop it), while ml_dtypes' NaN
/// rules depend on it.
#[inline(always)]
pub(crate) const fn widen(x: f32) -> f64 {
    if x.is_nan() {
        if x.is_sign_negative() {
            -f64::NAN
        } else {
            f64::NAN
        }
    } else {
        x as f64
    }
}

/// Declares element type `$t`: one code byte, transparent, with the
/// derives every element type has (bytemuck always, zerocopy behind its
/// feature).
macro_rules! code_byte {
    ($(#[$doc:meta])* $t:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
        #[cfg_attr(
            feature = "zerocopy",
            derive(
                zerocopy::FromBytes,
                zerocopy::IntoBytes,
                zerocopy::Immutable,
                zerocopy::KnownLayout
            )
        )]
        #[repr(transparent)]
        pub struct $t(u8);
    };
}
pub(crate) use code_byte;

/// Adds everything an element type shares that follows from `to_f32`,
/// `to_bits` and `from_f64_with`: value-based comparison, formatting, f64 and
/// half conversions, and the [`Element`] impl.
macro_rules! element_common {
    ($t:ident, $kind:ident, $spec:expr, $bits:literal, $man_bits:expr, $default:expr, $table:ident) => {
        impl $t {
            /// Width of an encoding in bits.
            pub const BITS: u32 = $bits;

            /// The element with these bits; bits above [`Self::BITS`] are cleared.
            #[inline]
            pub const fn from_bits(bits: u8) -> Self {
                $t(bits & ((1u16 << $bits) - 1) as u8)
            }

            /// The encoding (bits above [`Self::BITS`] are zero for values this crate made).
            #[inline]
            pub const fn to_bits(self) -> u8 {
                self.0
            }

            /// The exact value as f32 (every element is exactly representable), by table look-up.
            #[inline]
            pub fn to_f32(self) -> f32 {
                $table[(self.0 & ((1u16 << $bits) - 1) as u8) as usize]
            }

            /// The exact value as f64.
            #[inline]
            pub fn to_f64(self) -> f64 {
                $crate::element::widen(self.to_f32())
            }

            /// Conversion from f32 with ml_dtypes' `astype` semantics (see the type's docs).
            #[inline]
            pub fn from_f32(x: f32) -> Self {
                Self::astype_f32(x)
            }

            /// Conversion from f64 with ml_dtypes' `astype` semantics, rounded once from the f64 value.
            #[inline]
            pub fn from_f64(x: f64) -> Self {
                Self::from_f64_with(x, $default)
            }

            /// Conversion from f32 with explicit rounding, overflow and NaN options.
            ///
            /// f32 → f64 is exact, so this rounds once, from `x`'s exact value.
            #[inline]
            pub fn from_f32_with(x: f32, opts: $crate::element::ConvertOptions) -> Self {
                Self::from_f64_with($crate::element::widen(x), opts)
            }

            /// True for NaN encodings.
            #[inline]
            pub fn is_nan(self) -> bool {
                self.to_f32().is_nan()
            }

            /// True for ±Inf encodings.
            #[inline]
            pub fn is_infinite(self) -> bool {
                self.to_f32().is_infinite()
            }

            /// True unless NaN or ±Inf.
            #[inline]
            pub fn is_finite(self) -> bool {
                self.to_f32().is_finite()
            }
        }

        impl $crate::element::sealed::Sealed for $t {}

        impl $crate::element::Element for $t {
            const KIND: $crate::element::ElementKind = $crate::element::ElementKind::$kind;
            const NAME: &'static str = $crate::element::ElementKind::$kind.name();
            const SPEC: Option<$crate::element::MiniFloatSpec> = $spec;
            const BITS: u32 = $bits;
            const MAN_BITS: u32 = $man_bits;
            const MAX_F32: f32 = $t::MAX.to_f32_const();
            const DECODE: &'static [f32; 256] = &$table;
            #[inline]
            fn from_bits(bits: u8) -> Self {
                $t::from_bits(bits)
            }
            #[inline]
            fn to_bits(self) -> u8 {
                self.0
            }
            #[inline]
            fn to_f32(self) -> f32 {
                $t::to_f32(self)
            }
            #[inline]
            fn from_f32(x: f32) -> Self {
                $t::from_f32(x)
            }
            #[inline]
            fn from_f32_with(x: f32, opts: $crate::element::ConvertOptions) -> Self {
                $t::from_f32_with(x, opts)
            }
            #[inline]
            fn from_f64_with(x: f64, opts: $crate::element::ConvertOptions) -> Self {
                $t::from_f64_with(x, opts)
            }
        }

        impl $t {
            /// The value, usable in constant expressions.
            pub const fn to_f32_const(self) -> f32 {
                $table[(self.0 & ((1u16 << $bits) - 1) as u8) as usize]
            }
        }

        impl PartialEq for $t {
            /// By value: NaN ≠ NaN, +0 = −0.
            fn eq(&self, other: &Self) -> bool {
                self.to_f32() == other.to_f32()
            }
        }

        impl PartialOrd for $t {
            /// By value, as f32 orders.
            fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
                self.to_f32().partial_cmp(&other.to_f32())
            }
        }

        impl core::fmt::Display for $t {
            /// The value, formatted as f32 formats it.
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Display::fmt(&self.to_f32(), f)
            }
        }

        impl core::fmt::Debug for $t {
            /// The value, formatted as f32's `Debug` formats it.
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Debug::fmt(&self.to_f32(), f)
            }
        }

        impl From<$t> for f32 {
            fn from(x: $t) -> f32 {
                x.to_f32()
            }
        }

        impl From<$t> for f64 {
            fn from(x: $t) -> f64 {
                x.to_f64()
            }
        }

        impl $t {
            /// From an f16, rounding as [`crate::Element::from_f32`] does (exact
            /// widening to f32 first). A named conversion, not `From`:
            /// it rounds, and `From` promises no loss (half's own `From`
            /// impls are lossless).
            pub fn from_f16(x: half::f16) -> $t {
                $t::from_f32(x.to_f32())
            }

            /// From a bf16, rounding as [`crate::Element::from_f32`] does (exact
            /// widening to f32 first).
            pub fn from_bf16(x: half::bf16) -> $t {
                $t::from_f32(x.to_f32())
            }
        }

        $crate::element::element_ergonomics!($t, $kind, $bits, $default);
    };
}
pub(crate) use element_common;
