//! The sign, order and category operations of the fnuz minifloats
//! ([`E4M3Fnuz`](crate::E4M3Fnuz), [`E5M2Fnuz`](crate::E5M2Fnuz)): sign–magnitude
//! like OCP's, but with no −0, and 0x80 (the sign bit alone) their one NaN,
//! so every operation that would set or clear the sign of 0 or NaN keeps it.

/// `element_sign!` for an fnuz type `$t`.
macro_rules! element_sign_fnuz {
    ($t:ident) => {
        impl $t {
            /// The NaN code, 0x80 (the sign bit alone).
            const NAN_BITS: u8 = Self::SPEC.sign_bit();

            /// The key whose unsigned order is the total order below.
            #[inline]
            const fn total_order_key(self) -> u8 {
                let b = self.0;
                if b == Self::NAN_BITS {
                    0
                } else if b & Self::NAN_BITS != 0 {
                    // 0xFF (most negative) → 1 … 0x81 → 0x7F.
                    0u8.wrapping_sub(b)
                } else {
                    b | Self::NAN_BITS
                }
            }

            /// A total order of the codes: NaN < negative numbers < 0 <
            /// positive numbers. This is `f32::total_cmp` of
            /// [`Self::to_f32`]: the NaN (0x80) decodes to −NaN, as
            /// ml_dtypes decodes it, and there is no −0, so `Equal` means
            /// the same code.
            ///
            /// ```
            #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
            /// use core::cmp::Ordering;
            /// assert_eq!(T::NAN.total_cmp(&T::MIN), Ordering::Less);
            /// assert_eq!(T::MIN.total_cmp(&T::ZERO), Ordering::Less);
            /// let mut v = vec![T::MAX, T::ZERO, T::NAN, T::MIN, T::ONE];
            /// v.sort_by(T::total_cmp);
            /// assert_eq!(v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            ///            [0x80, 0xFF, 0x00, T::ONE.to_bits(), 0x7F]);
            /// ```
            #[inline]
            pub fn total_cmp(&self, other: &Self) -> core::cmp::Ordering {
                self.total_order_key().cmp(&other.total_order_key())
            }

            /// The absolute value: the sign bit cleared, except that NaN
            /// stays NaN (clearing its bit would make it 0). Always exact.
            ///
            /// ```
            #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
            /// assert_eq!(T::MIN.abs(), T::MAX);
            /// assert!(T::NAN.abs().is_nan());
            /// ```
            #[inline]
            pub const fn abs(self) -> Self {
                if self.0 == Self::NAN_BITS {
                    self
                } else {
                    $t(self.0 & !Self::NAN_BITS)
                }
            }

            /// The sign as an element, as `f32::signum`: [`Self::ONE`] for 0
            /// and positive values, −1 for negative values, NaN for NaN.
            ///
            /// ```
            #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
            /// assert_eq!(T::ZERO.signum(), T::ONE);
            /// assert_eq!(T::MIN.signum().to_f32(), -1.0);
            /// assert!(T::NAN.signum().is_nan());
            /// ```
            #[inline]
            pub const fn signum(self) -> Self {
                if self.0 == Self::NAN_BITS {
                    self
                } else {
                    $t(Self::ONE.0 | (self.0 & Self::NAN_BITS))
                }
            }

            /// The magnitude of `self` with the sign of `sign`, as
            /// `f32::copysign` but with no −0: 0 and NaN are returned
            /// unchanged; a NaN `sign` counts as negative (it decodes to
            /// −NaN). Always exact.
            ///
            /// ```
            #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
            /// assert_eq!(T::MAX.copysign(T::MIN), T::MIN);
            /// assert_eq!(T::MIN.copysign(T::ZERO), T::MAX);
            /// assert_eq!(T::ZERO.copysign(T::MIN).to_bits(), 0);
            /// ```
            #[inline]
            pub const fn copysign(self, sign: Self) -> Self {
                if self.0 & !Self::NAN_BITS == 0 {
                    self
                } else {
                    $t((self.0 & !Self::NAN_BITS) | (sign.0 & Self::NAN_BITS))
                }
            }

            /// True if the sign bit is clear: 0 and positive values (NaN
            /// has the sign bit set), as `f32::is_sign_positive` of
            /// [`Self::to_f32`].
            ///
            /// ```
            #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
            /// assert!(T::ZERO.is_sign_positive() && !T::MIN.is_sign_positive());
            /// ```
            #[inline]
            pub const fn is_sign_positive(self) -> bool {
                self.0 & Self::NAN_BITS == 0
            }

            /// True if the sign bit is set: negative values and NaN, as
            /// `f32::is_sign_negative` of [`Self::to_f32`].
            ///
            /// ```
            #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
            /// assert!(T::MIN.is_sign_negative() && T::NAN.is_sign_negative());
            /// assert!(!T::ZERO.is_sign_negative());
            /// ```
            #[inline]
            pub const fn is_sign_negative(self) -> bool {
                !self.is_sign_positive()
            }

            /// The category of the value in this format: `Nan` for 0x80,
            /// `Zero` for 0x00, `Subnormal` for a zero exponent field with a
            /// nonzero mantissa, `Normal` otherwise (every exponent field is
            /// finite; there is no infinity).
            ///
            /// ```
            #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
            /// use core::num::FpCategory;
            /// assert_eq!(T::NAN.classify(), FpCategory::Nan);
            /// assert_eq!(T::ZERO.classify(), FpCategory::Zero);
            /// assert_eq!(T::MIN_POSITIVE_SUBNORMAL.classify(), FpCategory::Subnormal);
            /// assert_eq!(T::MAX.classify(), FpCategory::Normal);
            /// ```
            #[inline]
            pub const fn classify(self) -> core::num::FpCategory {
                use core::num::FpCategory;
                let magnitude = self.0 & !Self::NAN_BITS;
                if self.0 == Self::NAN_BITS {
                    FpCategory::Nan
                } else if magnitude == 0 {
                    FpCategory::Zero
                } else if magnitude >> Self::SPEC.man_bits == 0 {
                    FpCategory::Subnormal
                } else {
                    FpCategory::Normal
                }
            }
        }
        $crate::element::ergonomics::element_sign!(@category_predicates $t);

        /// Negation: the sign bit flipped, except that 0 and NaN (which
        /// have no negation of another code) stay as they are. Always exact.
        ///
        /// ```
        #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
        /// assert_eq!(-T::MAX, T::MIN);
        /// assert_eq!((-T::ZERO).to_bits(), 0);
        /// assert!((-T::NAN).is_nan());
        /// ```
        impl core::ops::Neg for $t {
            type Output = $t;
            #[inline]
            fn neg(self) -> $t {
                if self.0 & !Self::NAN_BITS == 0 {
                    self
                } else {
                    $t(self.0 ^ Self::NAN_BITS)
                }
            }
        }
    };
}
pub(crate) use element_sign_fnuz;
