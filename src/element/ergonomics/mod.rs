//! What `half::f16` offers besides arithmetic, for every element type: IEEE
//! total order, sign operations and classification (`sign.rs`; the fnuz
//! types' in `fnuz.rs`), parsing,
//! bit formatting and `const` conversions (here), and, behind features,
//! `num-traits` and `serde` impls (`interop.rs`; `zerocopy`'s derives sit on
//! the type definitions). One macro, [`element_ergonomics`], invoked by
//! `element_common!` for each type.
//!
//! Only `core` paths here: the crate is on its way to `no_std` + `alloc`.

mod fnuz;
mod interop;
mod sign;

pub(crate) use fnuz::element_sign_fnuz;
pub(crate) use interop::element_interop;
#[cfg(feature = "num-traits")]
pub(crate) use interop::int_to_f64_odd;
pub(crate) use sign::element_sign;

/// Adds to element type `$t` (kind `$kind`, `$bits` wide, default
/// conversion options `$default`) everything `half::f16` has that needs no
/// arithmetic. Invoked by `element_common!`.
macro_rules! element_ergonomics {
    ($t:ident, $kind:ident, $bits:literal, $default:expr) => {
        $crate::element::ergonomics::element_sign!($kind, $t);
        $crate::element::ergonomics::element_interop!($t, $bits);
        $crate::element::element_ergonomics!(@common $t, $bits, $default);
    };

    (@common $t:ident, $bits:literal, $default:expr) => {
        impl $t {
            /// [`Self::from_f32`] as a `const fn`, for `const` and `static`
            /// initialisers: the same result bit for bit (ml_dtypes'
            /// `astype`, one rounding of `x`'s exact value). The conversions
            /// use only integer operations on the bits and exact comparisons,
            /// and take a NaN's sign from its bits, so compile time and run
            /// time agree.
            ///
            /// ```
            #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
            /// const X: T = T::from_f32_const(0.1);
            /// assert_eq!(X.to_bits(), T::from_f32(0.1).to_bits());
            /// ```
            #[inline]
            pub const fn from_f32_const(x: f32) -> Self {
                Self::astype_f32(x)
            }

            /// [`Self::from_f64`] as a `const fn`: the same result bit for
            /// bit (the type's default options, one rounding of `x`).
            ///
            /// ```
            #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
            /// const X: T = T::from_f64_const(-0.3);
            /// assert_eq!(X.to_bits(), T::from_f64(-0.3).to_bits());
            /// ```
            #[inline]
            pub const fn from_f64_const(x: f64) -> Self {
                Self::from_f64_with(x, $default)
            }

            /// The exact value as f64, usable in constant expressions
            /// (as [`Self::to_f64`]; a NaN keeps its sign).
            ///
            /// ```
            #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
            /// const ONE: f64 = T::ONE.to_f64_const();
            /// assert_eq!(ONE, 1.0);
            /// ```
            #[inline]
            pub const fn to_f64_const(self) -> f64 {
                $crate::element::widen(self.to_f32_const())
            }
        }

        /// Parses a decimal number as `f64` does (`"0.1"`, `"-2.5e3"`, `"inf"`,
        /// `"-infinity"`, `"NaN"`, case-insensitive), then converts with
        #[doc = concat!("[`", stringify!($t), "::from_f64`]: ±Inf, NaN and")]
        /// out-of-range values become whatever that conversion makes of
        /// them (saturated, NaN, ±Inf, or for NaN into a format without NaN,
        /// zero), never an error. Errors are `f64`'s: a
        /// [`ParseFloatError`](core::num::ParseFloatError) for text that is
        /// not a number.
        ///
        /// The decimal is rounded twice, to the nearest f64 and then once
        /// to the element. The result can differ from rounding the decimal
        /// directly only when the decimal lies within half an f64 ulp of one
        /// of the element's rounding boundaries (a midpoint between two
        /// neighbouring values, or the overflow threshold) without being
        /// on it, so that the f64 lands on the boundary.
        ///
        /// ```
        #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
        /// let x: T = "0.1".parse().unwrap();
        /// assert_eq!(x.to_bits(), T::from_f64(0.1).to_bits());
        /// assert_eq!("1".parse::<T>().unwrap(), T::ONE);
        /// assert!("garbage".parse::<T>().is_err());
        /// ```
        impl core::str::FromStr for $t {
            type Err = core::num::ParseFloatError;
            #[inline]
            fn from_str(s: &str) -> Result<$t, core::num::ParseFloatError> {
                s.parse::<f64>().map($t::from_f64)
            }
        }

        /// The encoding ([`to_bits`](Self::to_bits)) in lower-case
        /// hexadecimal, with `u8`'s flags: `{:#04x}` gives `0x` and two digits.
        ///
        /// ```
        #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
        /// assert_eq!(format!("{:x}", T::ONE), format!("{:x}", T::ONE.to_bits()));
        /// assert_eq!(format!("{:#04x}", T::from_bits(0x0a)), "0x0a");
        /// ```
        impl core::fmt::LowerHex for $t {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::LowerHex::fmt(&self.0, f)
            }
        }

        /// The encoding ([`to_bits`](Self::to_bits)) in upper-case
        /// hexadecimal, with `u8`'s flags.
        ///
        /// ```
        #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
        /// assert_eq!(format!("{:#04X}", T::from_bits(0x0a)), "0x0A");
        /// ```
        impl core::fmt::UpperHex for $t {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::UpperHex::fmt(&self.0, f)
            }
        }

        /// The encoding ([`to_bits`](Self::to_bits)) in binary, with `u8`'s
        #[doc = concat!("flags: `{:0", stringify!($bits), "b}` shows all ", stringify!($bits), " bits.")]
        ///
        /// ```
        #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
        /// assert_eq!(format!("{:b}", T::from_bits(0b101)), "101");
        /// assert_eq!(format!("{:#010b}", T::from_bits(0b101)), "0b00000101");
        /// ```
        impl core::fmt::Binary for $t {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Binary::fmt(&self.0, f)
            }
        }

        /// The encoding ([`to_bits`](Self::to_bits)) in octal, with `u8`'s flags.
        ///
        /// ```
        #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
        /// assert_eq!(format!("{:o}", T::from_bits(0o12)), "12");
        /// ```
        impl core::fmt::Octal for $t {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Octal::fmt(&self.0, f)
            }
        }
    };
}
pub(crate) use element_ergonomics;
