//! The traits of other crates, each behind the feature of that name:
//! `num-traits` and `serde` (`zerocopy`'s are derived on the types).

/// An integer's exact value rounded to 53 bits by round-to-odd (the kept
/// bits, with the last one set if any dropped bit was set), as an f64.
///
/// Rounding that once more to a format of at most 51 significant bits, by
/// any rounding mode, gives the same result as rounding the integer itself
/// (Boldo and Melquiond, "When double rounding is odd", 2005), so integers
/// of any size convert with one rounding. Every element format has at most
/// 4 significant bits in its range (MXINT8's 8 bits all lie below 2).
#[cfg(feature = "num-traits")]
pub(crate) fn int_to_f64_odd(negative: bool, magnitude: u128) -> f64 {
    let v = if magnitude < 1 << 53 {
        magnitude as f64
    } else {
        let shift = 128 - magnitude.leading_zeros() - 53;
        let dropped = magnitude & ((1u128 << shift) - 1);
        let kept = (magnitude >> shift) | (dropped != 0) as u128;
        // kept < 2^53 converts exactly, and so does the product by 2^shift.
        kept as f64 * crate::element::pow2_f64(shift as i32)
    };
    if negative { -v } else { v }
}

/// Adds the `num-traits` and `serde` impls to element type `$t`, `$bits`
/// wide, each under its feature.
macro_rules! element_interop {
    ($t:ident, $bits:literal) => {
        $crate::element::ergonomics::element_interop!(@num_traits $t);
        $crate::element::ergonomics::element_interop!(@serde $t, $bits);
    };

    // ----- Feature `num-traits` --------------------------------------------
    (@num_traits $t:ident) => {
        /// (Feature `num-traits`.) Conversion to primitives through the
        /// exact f32 value, as `f32`'s own impl converts: integers are
        /// truncated toward zero, and `None` for NaN, ±Inf and values out of
        /// the integer type's range; `to_f32` and `to_f64` are exact.
        ///
        /// ```
        #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
        /// use num_traits::ToPrimitive;
        /// assert_eq!(T::ONE.to_i32(), Some(1));
        /// assert_eq!(T::from_f32(0.5).to_u8(), Some(0)); // truncated
        /// // The inherent `to_f32` (exact, not an Option) shadows the trait's:
        /// assert_eq!(ToPrimitive::to_f32(&T::MAX), Some(T::MAX.to_f32()));
        /// ```
        #[cfg(feature = "num-traits")]
        impl num_traits::ToPrimitive for $t {
            #[inline]
            fn to_i64(&self) -> Option<i64> {
                num_traits::ToPrimitive::to_i64(&$t::to_f32(*self))
            }
            #[inline]
            fn to_u64(&self) -> Option<u64> {
                num_traits::ToPrimitive::to_u64(&$t::to_f32(*self))
            }
            #[inline]
            fn to_i128(&self) -> Option<i128> {
                num_traits::ToPrimitive::to_i128(&$t::to_f32(*self))
            }
            #[inline]
            fn to_u128(&self) -> Option<u128> {
                num_traits::ToPrimitive::to_u128(&$t::to_f32(*self))
            }
            #[inline]
            fn to_f32(&self) -> Option<f32> {
                Some($t::to_f32(*self))
            }
            #[inline]
            fn to_f64(&self) -> Option<f64> {
                Some($t::to_f64(*self))
            }
        }

        /// (Feature `num-traits`.) Conversion from primitives by the type's
        #[doc = concat!("default rounding ([`", stringify!($t), "::from_f64`], and")]
        #[doc = concat!("[`", stringify!($t), "::from_f32`] for `from_f32`): always `Some`,")]
        /// out-of-range values saturating or becoming NaN or ±Inf as that
        /// conversion says. Integers of any width are rounded once, from
        /// their exact value (not through a lossy `as f64`).
        ///
        /// ```
        #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
        /// use num_traits::FromPrimitive;
        /// assert_eq!(T::from_i32(1), Some(T::ONE));
        /// assert_eq!(T::from_u8(0).unwrap().to_bits(), T::from_f32(0.0).to_bits());
        /// // The inherent `from_f64` (not an Option) shadows the trait's:
        /// let x = <T as FromPrimitive>::from_f64(0.3).unwrap();
        /// assert_eq!(x.to_bits(), T::from_f64(0.3).to_bits());
        /// ```
        #[cfg(feature = "num-traits")]
        impl num_traits::FromPrimitive for $t {
            #[inline]
            fn from_i64(n: i64) -> Option<Self> {
                Self::from_i128(n as i128)
            }
            #[inline]
            fn from_u64(n: u64) -> Option<Self> {
                Self::from_u128(n as u128)
            }
            #[inline]
            fn from_i128(n: i128) -> Option<Self> {
                let x = $crate::element::ergonomics::int_to_f64_odd(n < 0, n.unsigned_abs());
                Some($t::from_f64(x))
            }
            #[inline]
            fn from_u128(n: u128) -> Option<Self> {
                let x = $crate::element::ergonomics::int_to_f64_odd(false, n);
                Some($t::from_f64(x))
            }
            #[inline]
            fn from_f32(x: f32) -> Option<Self> {
                Some($t::from_f32(x))
            }
            #[inline]
            fn from_f64(x: f64) -> Option<Self> {
                Some($t::from_f64(x))
            }
        }

        /// (Feature `num-traits`.) `num_traits::cast` into this type, by the
        /// type's default rounding, as [`FromPrimitive`](num_traits::FromPrimitive):
        /// the source's `to_f64`, or for integers beyond 2⁵³ (where `to_f64`
        /// may round) its exact `to_i128`/`to_u128`. `None` only if the
        /// source has no f64 value.
        ///
        /// ```
        #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
        /// let x: T = num_traits::cast(0.1f64).unwrap();
        /// assert_eq!(x.to_bits(), T::from_f64(0.1).to_bits());
        /// let y: f32 = num_traits::cast(T::ONE).unwrap();
        /// assert_eq!(y, 1.0);
        /// ```
        #[cfg(feature = "num-traits")]
        impl num_traits::NumCast for $t {
            fn from<N: num_traits::ToPrimitive>(n: N) -> Option<Self> {
                use num_traits::FromPrimitive;
                let x = n.to_f64()?;
                // An f64 at or beyond 2^53 is an integer, so these are exact
                // for float sources too.
                if x.is_finite() && x.abs() >= 9007199254740992.0 {
                    if let Some(i) = n.to_i128() {
                        return Self::from_i128(i);
                    }
                    if let Some(u) = n.to_u128() {
                        return Self::from_u128(u);
                    }
                }
                Some($t::from_f64(x))
            }
        }

        /// (Feature `num-traits`.) `as`-style conversion to f32: the exact
        /// value ([`to_f32`](Self::to_f32)).
        ///
        /// ```
        #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
        /// use num_traits::AsPrimitive;
        /// let x: f32 = T::ONE.as_();
        /// assert_eq!(x, 1.0);
        /// ```
        #[cfg(feature = "num-traits")]
        impl num_traits::AsPrimitive<f32> for $t {
            #[inline]
            fn as_(self) -> f32 {
                $t::to_f32(self)
            }
        }

        /// (Feature `num-traits`.) `as`-style conversion to f64: the exact
        /// value ([`to_f64`](Self::to_f64)).
        ///
        /// ```
        #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
        /// use num_traits::AsPrimitive;
        /// let x: f64 = T::MAX.as_();
        /// assert_eq!(x, T::MAX.to_f64());
        /// ```
        #[cfg(feature = "num-traits")]
        impl num_traits::AsPrimitive<f64> for $t {
            #[inline]
            fn as_(self) -> f64 {
                $t::to_f64(self)
            }
        }

        /// (Feature `num-traits`.) The type's own finite bounds,
        #[doc = concat!("[`", stringify!($t), "::MIN`] and [`", stringify!($t), "::MAX`], as `f32`'s impl gives")]
        /// `f32::MIN` and `f32::MAX`. (For [`Int8`](crate::Int8) that is the
        /// symmetric −127/64, not the code 0x80 (−2) that only raw bytes
        /// produce; for [`E8M0`](crate::E8M0) it is 2⁻¹²⁷, the smallest value.)
        ///
        /// ```
        #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
        /// use num_traits::Bounded;
        /// assert_eq!(T::max_value().to_bits(), T::MAX.to_bits());
        /// assert_eq!(T::min_value().to_bits(), T::MIN.to_bits());
        /// ```
        #[cfg(feature = "num-traits")]
        impl num_traits::Bounded for $t {
            #[inline]
            fn min_value() -> Self {
                $t::MIN
            }
            #[inline]
            fn max_value() -> Self {
                $t::MAX
            }
        }
    };

    // ----- Feature `serde` -------------------------------------------------
    (@serde $t:ident, $bits:literal) => {
        /// (Feature `serde`.) Serialized as its encoding, as `half` serializes
        #[doc = concat!("`f16`: a newtype struct named `\"", stringify!($t), "\"` holding the")]
        /// code as a `u8` (bits above [`BITS`](Self::BITS) cleared), so
        /// every code, NaN signs and payloads and −0 included, round-trips,
        /// also through formats without NaN such as JSON (where it is a
        /// bare number: `E4M3::ONE` is `56`).
        ///
        /// ```
        #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
        /// assert_eq!(serde_json::to_string(&T::ONE).unwrap(), T::ONE.to_bits().to_string());
        /// ```
        #[cfg(feature = "serde")]
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_newtype_struct(stringify!($t), &$t::from_bits(self.0).0)
            }
        }

        /// (Feature `serde`.) The inverse of the `Serialize` impl, as `half`'s
        /// `f16` deserializes: a newtype struct holding the code as a `u8`
        #[doc = concat!("(an error unless it is below 2^", stringify!($bits), "), or, from formats that")]
        /// hand the visitor a number or a string instead, an f32, f64 or
        /// string converted by the type's default rounding (`from_f32`,
        /// `from_f64`, `FromStr`).
        ///
        /// ```
        #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
        /// let x: T = serde_json::from_str(&serde_json::to_string(&T::MIN).unwrap()).unwrap();
        /// assert_eq!(x.to_bits(), T::MIN.to_bits());
        /// assert!(serde_json::from_str::<T>("256").is_err());
        /// ```
        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl<'de> serde::de::Visitor<'de> for Visitor {
                    type Value = $t;
                    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                        f.write_str(concat!(
                            "a ",
                            stringify!($t),
                            " code (an integer below 2^",
                            stringify!($bits),
                            ")"
                        ))
                    }
                    fn visit_newtype_struct<D: serde::Deserializer<'de>>(
                        self,
                        deserializer: D,
                    ) -> Result<$t, D::Error> {
                        let code = <u8 as serde::Deserialize>::deserialize(deserializer)?;
                        if u32::from(code) >> $t::BITS != 0 {
                            return Err(serde::de::Error::invalid_value(
                                serde::de::Unexpected::Unsigned(code.into()),
                                &self,
                            ));
                        }
                        Ok($t(code))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$t, E> {
                        v.parse().map_err(|_| {
                            E::invalid_value(serde::de::Unexpected::Str(v), &"a number")
                        })
                    }
                    fn visit_f32<E: serde::de::Error>(self, v: f32) -> Result<$t, E> {
                        Ok($t::from_f32(v))
                    }
                    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<$t, E> {
                        Ok($t::from_f64(v))
                    }
                }
                deserializer.deserialize_newtype_struct(stringify!($t), Visitor)
            }
        }
    };
}
pub(crate) use element_interop;
