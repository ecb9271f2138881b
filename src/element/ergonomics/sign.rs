//! The sign, order and category operations, one macro arm per kind of
//! element: [`E8M0`](crate::E8M0) (unsigned, no zero), [`Int8`](crate::Int8)
//! (two's complement), the five OCP sign–magnitude minifloats and the two
//! fnuz ones (no −0, 0x80 the NaN).

/// Adds `total_cmp`, `abs`, the sign predicates, `classify` and its
/// predicates to element type `$t` of kind `$kind`, and where the type has a
/// sign, `signum`, `copysign` and `Neg`.
macro_rules! element_sign {
    // ----- `is_normal` and `is_subnormal` from `classify`, for the minifloats
    (@category_predicates $t:ident) => {
        impl $t {
            /// True if [`Self::classify`] is `Normal`: finite, nonzero and
            /// not subnormal.
            ///
            /// ```
            #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
            /// assert!(T::MIN_POSITIVE.is_normal() && T::MIN.is_normal());
            /// assert!(!T::ZERO.is_normal() && !T::MIN_POSITIVE_SUBNORMAL.is_normal());
            /// ```
            #[inline]
            pub const fn is_normal(self) -> bool {
                matches!(self.classify(), core::num::FpCategory::Normal)
            }

            /// True if [`Self::classify`] is `Subnormal`: nonzero with a
            /// magnitude below [`Self::MIN_POSITIVE`].
            ///
            /// ```
            #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
            /// assert!(T::MIN_POSITIVE_SUBNORMAL.is_subnormal());
            /// assert!(!T::ZERO.is_subnormal() && !T::MIN_POSITIVE.is_subnormal());
            /// ```
            #[inline]
            pub const fn is_subnormal(self) -> bool {
                matches!(self.classify(), core::num::FpCategory::Subnormal)
            }
        }
    };
    // ----- E8M0: unsigned, no zero, no infinity, 0xFF NaN ------------------
    (E8M0, $t:ident) => {
        impl $t {
            /// The total order of the codes, which is the order of the values
            /// with NaN above every number: 2⁻¹²⁷ (0x00) < … < 2¹²⁷ (0xFE) <
            /// NaN (0xFF), that is, the order of [`Self::to_bits`].
            ///
            /// E8M0 has no sign, so there is no −NaN, −0 or negative value to
            /// place; this agrees with `f32::total_cmp` of the decoded values
            /// (NaN decodes to +NaN), and `Equal` means the same code.
            ///
            /// ```
            /// use blockscale::E8M0;
            /// use core::cmp::Ordering;
            /// assert_eq!(E8M0::MIN.total_cmp(&E8M0::ONE), Ordering::Less);
            /// assert_eq!(E8M0::NAN.total_cmp(&E8M0::MAX), Ordering::Greater);
            /// assert_eq!(E8M0::NAN.total_cmp(&E8M0::NAN), Ordering::Equal);
            /// let mut v = vec![E8M0::NAN, E8M0::MAX, E8M0::ONE];
            /// v.sort_by(E8M0::total_cmp);
            /// assert_eq!(v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), [0x7F, 0xFE, 0xFF]);
            /// ```
            #[inline]
            pub fn total_cmp(&self, other: &Self) -> core::cmp::Ordering {
                self.0.cmp(&other.0)
            }

            /// The absolute value: `self` itself, since every E8M0 value
            /// (and its NaN) is positive. For code generic over element types.
            ///
            /// ```
            /// use blockscale::E8M0;
            /// assert_eq!(E8M0::MIN.abs().to_bits(), 0x00);
            /// assert_eq!(E8M0::NAN.abs().to_bits(), 0xFF);
            /// ```
            #[inline]
            pub const fn abs(self) -> Self {
                self
            }

            /// Always `true`: E8M0 has no sign bit, and every value, NaN
            /// included, is positive (`f32::NAN` is sign-positive too).
            ///
            /// ```
            /// use blockscale::E8M0;
            /// assert!(E8M0::MIN.is_sign_positive() && E8M0::NAN.is_sign_positive());
            /// ```
            #[inline]
            pub const fn is_sign_positive(self) -> bool {
                true
            }

            /// Always `false`: E8M0 has no sign bit (see [`Self::is_sign_positive`]).
            ///
            /// ```
            /// use blockscale::E8M0;
            /// assert!(!E8M0::MIN.is_sign_negative());
            /// ```
            #[inline]
            pub const fn is_sign_negative(self) -> bool {
                false
            }

            /// The category of the value in E8M0's own format: `Nan` for
            /// 0xFF, `Normal` for every other code. E8M0 has no zero, no
            /// infinity and no subnormals (ml_dtypes' `float8_e8m0fnu` has
            /// `denorm_absent` and `min() = 2⁻¹²⁷`), so its smallest value
            /// 2⁻¹²⁷ (0x00) is `Normal` here, although as an f32 it is
            /// subnormal and `f32::classify` of [`Self::to_f32`] says `Subnormal`.
            ///
            /// ```
            /// use blockscale::E8M0;
            /// use core::num::FpCategory;
            /// assert_eq!(E8M0::MIN.classify(), FpCategory::Normal);
            /// assert_eq!(E8M0::MIN.to_f32().classify(), FpCategory::Subnormal);
            /// assert_eq!(E8M0::NAN.classify(), FpCategory::Nan);
            /// ```
            #[inline]
            pub const fn classify(self) -> core::num::FpCategory {
                if self.0 == 0xFF {
                    core::num::FpCategory::Nan
                } else {
                    core::num::FpCategory::Normal
                }
            }

            /// True unless NaN: every other code is normal (see [`Self::classify`]).
            ///
            /// ```
            /// use blockscale::E8M0;
            /// assert!(E8M0::MIN.is_normal() && E8M0::MAX.is_normal());
            /// assert!(!E8M0::NAN.is_normal());
            /// ```
            #[inline]
            pub const fn is_normal(self) -> bool {
                matches!(self.classify(), core::num::FpCategory::Normal)
            }

            /// Always `false`: E8M0 has no subnormals (see [`Self::classify`]).
            ///
            /// ```
            /// use blockscale::E8M0;
            /// assert!(!E8M0::MIN.is_subnormal());
            /// ```
            #[inline]
            pub const fn is_subnormal(self) -> bool {
                false
            }
        }
    };

    // ----- Int8: two's complement times 2⁻⁶, no NaN, no Inf, no −0 ---------
    (Int8, $t:ident) => {
        impl $t {
            /// The total order of the values, which for a two's-complement
            /// integer is the order of the codes as `i8`: −2 (0x80) <
            /// −127/64 (0x81) < … < 0 < … < 127/64 (0x7F).
            ///
            /// There is no NaN, infinity or −0, so this agrees with
            /// `f32::total_cmp` (and `partial_cmp`) of the decoded values,
            /// and `Equal` means the same code.
            ///
            /// ```
            /// use blockscale::Int8;
            /// use core::cmp::Ordering;
            /// assert_eq!(Int8::MIN.total_cmp(&Int8::ZERO), Ordering::Less);
            /// assert_eq!(Int8::from_bits(0x80).total_cmp(&Int8::MIN), Ordering::Less);
            /// let mut v = vec![Int8::MAX, Int8::MIN, Int8::ZERO];
            /// v.sort_by(Int8::total_cmp);
            /// assert_eq!(v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), [0x81, 0x00, 0x7F]);
            /// ```
            #[inline]
            pub fn total_cmp(&self, other: &Self) -> core::cmp::Ordering {
                (self.0 as i8).cmp(&(other.0 as i8))
            }

            /// The absolute value, saturating as `i8::saturating_abs`: exact
            /// for every code but 0x80, whose value −2 has no positive
            /// counterpart (conversions never produce 0x80: the range is
            /// symmetric), which gives [`Self::MAX`] (127/64).
            ///
            /// ```
            /// use blockscale::Int8;
            /// assert_eq!(Int8::MIN.abs(), Int8::MAX);
            /// assert_eq!(Int8::from_f32(-0.5).abs().to_f32(), 0.5);
            /// assert_eq!(Int8::from_bits(0x80).abs(), Int8::MAX); // |−2| saturates
            /// ```
            #[inline]
            pub const fn abs(self) -> Self {
                $t((self.0 as i8).saturating_abs() as u8)
            }

            /// The sign as an element, as `i8::signum` (Int8 is an integer
            /// format and has no −0): [`Self::ONE`] for positive values,
            /// [`Self::ZERO`] for 0, −1 (0xC0) for negative values. (Unlike
            /// `f32::signum`, which gives 1 for +0.)
            ///
            /// ```
            /// use blockscale::Int8;
            /// assert_eq!(Int8::MAX.signum(), Int8::ONE);
            /// assert_eq!(Int8::ZERO.signum(), Int8::ZERO);
            /// assert_eq!(Int8::MIN.signum().to_f32(), -1.0);
            /// ```
            #[inline]
            pub const fn signum(self) -> Self {
                $t(((self.0 as i8).signum() * 64) as u8)
            }

            /// The magnitude of `self` (saturating as [`Self::abs`]) with the
            /// sign of `sign`. A negative `sign` gives −|self|, which is
            /// always representable; a zero `self` gives 0 (there is no −0).
            ///
            /// ```
            /// use blockscale::Int8;
            /// assert_eq!(Int8::ONE.copysign(Int8::MIN).to_f32(), -1.0);
            /// assert_eq!(Int8::MIN.copysign(Int8::ZERO), Int8::MAX);
            /// assert_eq!(Int8::from_bits(0x80).copysign(Int8::MIN), Int8::MIN); // −|−2| = −127/64
            /// ```
            #[inline]
            pub const fn copysign(self, sign: Self) -> Self {
                let m = (self.0 as i8).saturating_abs();
                $t((if (sign.0 as i8) < 0 { -m } else { m }) as u8)
            }

            /// True for 0 and positive values: the two's-complement sign bit
            /// is clear (Int8 has no −0).
            ///
            /// ```
            /// use blockscale::Int8;
            /// assert!(Int8::ZERO.is_sign_positive() && Int8::MAX.is_sign_positive());
            /// assert!(!Int8::MIN.is_sign_positive());
            /// ```
            #[inline]
            pub const fn is_sign_positive(self) -> bool {
                (self.0 as i8) >= 0
            }

            /// True for negative values: the two's-complement sign bit is set.
            ///
            /// ```
            /// use blockscale::Int8;
            /// assert!(Int8::MIN.is_sign_negative() && Int8::from_bits(0x80).is_sign_negative());
            /// assert!(!Int8::ZERO.is_sign_negative());
            /// ```
            #[inline]
            pub const fn is_sign_negative(self) -> bool {
                (self.0 as i8) < 0
            }

            /// `Zero` for 0 and `Normal` for every other code: an integer
            /// format has no NaN, infinity or subnormal range (every nonzero
            /// value has the same absolute precision 2⁻⁶; `Normal` says only
            /// that the value is finite and nonzero). `f32::classify` of the
            /// decoded value says the same, since k/64 is a normal f32.
            ///
            /// ```
            /// use blockscale::Int8;
            /// use core::num::FpCategory;
            /// assert_eq!(Int8::ZERO.classify(), FpCategory::Zero);
            /// assert_eq!(Int8::MIN_POSITIVE.classify(), FpCategory::Normal);
            /// ```
            #[inline]
            pub const fn classify(self) -> core::num::FpCategory {
                if self.0 == 0 {
                    core::num::FpCategory::Zero
                } else {
                    core::num::FpCategory::Normal
                }
            }

            /// True for every nonzero value (see [`Self::classify`]).
            ///
            /// ```
            /// use blockscale::Int8;
            /// assert!(Int8::MIN_POSITIVE.is_normal() && !Int8::ZERO.is_normal());
            /// ```
            #[inline]
            pub const fn is_normal(self) -> bool {
                self.0 != 0
            }

            /// Always `false`: an integer format has no subnormals (see
            /// [`Self::classify`]).
            ///
            /// ```
            /// use blockscale::Int8;
            /// assert!(!Int8::MIN_POSITIVE.is_subnormal());
            /// ```
            #[inline]
            pub const fn is_subnormal(self) -> bool {
                false
            }
        }

        /// Negation, saturating as `i8::saturating_neg`: exact for every code
        /// but 0x80 (−2), whose negation 2 is not representable and gives
        /// [`Int8::MAX`] (127/64). −0 does not exist: `-ZERO` is `ZERO`.
        ///
        /// ```
        /// use blockscale::Int8;
        /// assert_eq!(-Int8::MAX, Int8::MIN);
        /// assert_eq!((-Int8::ZERO).to_bits(), 0);
        /// assert_eq!(-Int8::from_bits(0x80), Int8::MAX);
        /// ```
        impl core::ops::Neg for $t {
            type Output = $t;
            #[inline]
            fn neg(self) -> $t {
                $t((self.0 as i8).saturating_neg() as u8)
            }
        }
    };

    // ----- fnuz minifloats: sign–magnitude, no −0, 0x80 the one NaN (fnuz.rs)
    (E4M3Fnuz, $t:ident) => {
        $crate::element::ergonomics::element_sign_fnuz!($t);
    };
    (E5M2Fnuz, $t:ident) => {
        $crate::element::ergonomics::element_sign_fnuz!($t);
    };

    // ----- The sign–magnitude minifloats (E2M1, E2M3, E3M2, E4M3, E5M2) ----
    ($kind:ident, $t:ident) => {
        impl $t {
            /// The key whose unsigned order is IEEE totalOrder: negative
            /// codes (sign set) inverted, so that larger magnitudes come
            /// first, below the non-negative codes with the sign bit set.
            #[inline]
            const fn total_order_key(self) -> u8 {
                let mask = ((1u16 << Self::BITS) - 1) as u8;
                let sign = Self::SPEC.sign_bit();
                let b = self.0 & mask;
                if b & sign != 0 { !b & mask } else { b | sign }
            }

            /// IEEE 754-2019 §5.10 totalOrder, as `f32::total_cmp`:
            /// −NaN < −Inf < negative numbers < −0 < +0 < positive numbers <
            /// +Inf < +NaN, where a NaN's sign is its sign bit (so for E4M3,
            /// 0xFF is −NaN and 0x7F, `E4M3::NAN`, is +NaN). Formats without
            /// NaN or Inf simply lack those ends.
            ///
            /// Distinct codes never compare `Equal` (`partial_cmp` and `==`
            /// compare values instead: +0 == −0, NaN ≠ NaN). Where a format
            /// has several NaNs of one sign (E5M2's S.11111.01, .10, .11),
            /// they are ordered by payload, the larger payload further from
            /// zero, as `f32::total_cmp` orders f32 NaNs. Otherwise this is
            /// `f32::total_cmp` of [`Self::to_f32`]: decoding is exact and
            /// keeps every sign, a NaN's included. Only the low
            /// [`Self::BITS`] bits of the byte count.
            ///
            /// ```
            #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
            /// use core::cmp::Ordering;
            /// assert_eq!(T::NEG_ZERO.total_cmp(&T::ZERO), Ordering::Less);
            /// assert_eq!(T::MIN.total_cmp(&T::NEG_ZERO), Ordering::Less);
            /// assert_eq!(T::MAX.total_cmp(&T::ONE), Ordering::Greater);
            /// let mut v = vec![T::MAX, T::ZERO, T::MIN, T::NEG_ZERO, T::ONE];
            /// v.sort_by(T::total_cmp);
            /// assert_eq!(v.iter().map(|x| x.to_f32()).collect::<Vec<_>>(),
            ///            [T::MIN.to_f32(), -0.0, 0.0, 1.0, T::MAX.to_f32()]);
            /// assert!(v[1].is_sign_negative() && v[2].is_sign_positive());
            /// ```
            #[inline]
            pub fn total_cmp(&self, other: &Self) -> core::cmp::Ordering {
                self.total_order_key().cmp(&other.total_order_key())
            }

            /// The absolute value: the sign bit cleared, as `f32::abs`
            /// (−0 → +0, −NaN → +NaN, −Inf → +Inf). Always exact.
            ///
            /// ```
            #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
            /// assert_eq!(T::MIN.abs(), T::MAX);
            /// assert!(T::NEG_ZERO.abs().is_sign_positive());
            /// ```
            #[inline]
            pub const fn abs(self) -> Self {
                $t(self.0 & !Self::SPEC.sign_bit())
            }

            /// The sign as an element, as `f32::signum`: [`Self::ONE`] for
            /// +0 and positive values (+Inf included), −1 for −0 and negative
            /// values, and `self` unchanged for NaN.
            ///
            /// ```
            #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
            /// assert_eq!(T::MAX.signum(), T::ONE);
            /// assert_eq!(T::ZERO.signum(), T::ONE);
            /// assert_eq!(T::NEG_ZERO.signum().to_f32(), -1.0);
            /// assert_eq!(T::MIN_POSITIVE_SUBNORMAL.copysign(T::MIN).signum().to_f32(), -1.0);
            /// ```
            #[inline]
            pub const fn signum(self) -> Self {
                if matches!(self.classify(), core::num::FpCategory::Nan) {
                    self
                } else {
                    Self::ONE.copysign(self)
                }
            }

            /// The magnitude of `self` with the sign bit of `sign`, as
            /// `f32::copysign` (a NaN `self` gives NaN with `sign`'s sign;
            /// a NaN `sign` gives its sign bit). Always exact.
            ///
            /// ```
            #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
            /// assert_eq!(T::MAX.copysign(T::NEG_ZERO), T::MIN);
            /// assert_eq!(T::MIN.copysign(T::ZERO), T::MAX);
            /// ```
            #[inline]
            pub const fn copysign(self, sign: Self) -> Self {
                let s = Self::SPEC.sign_bit();
                $t((self.0 & !s) | (sign.0 & s))
            }

            /// True if the sign bit is clear: +0, positive values, +Inf and
            /// NaNs with the sign bit clear, as `f32::is_sign_positive`.
            ///
            /// ```
            #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
            /// assert!(T::ZERO.is_sign_positive() && T::MAX.is_sign_positive());
            /// assert!(!T::NEG_ZERO.is_sign_positive());
            /// ```
            #[inline]
            pub const fn is_sign_positive(self) -> bool {
                self.0 & Self::SPEC.sign_bit() == 0
            }

            /// True if the sign bit is set: −0, negative values, −Inf and
            /// NaNs with the sign bit set, as `f32::is_sign_negative`.
            ///
            /// ```
            #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
            /// assert!(T::NEG_ZERO.is_sign_negative() && T::MIN.is_sign_negative());
            /// assert!(!T::ZERO.is_sign_negative());
            /// ```
            #[inline]
            pub const fn is_sign_negative(self) -> bool {
                !self.is_sign_positive()
            }

            /// The category of the value in this format (not in f32, where
            /// every element is normal or zero), from the fields: `Nan` and
            /// `Infinite` for the codes [`Self::SPEC`]'s specials reserve;
            /// `Zero` for ±0; `Subnormal` for a zero exponent field with a
            /// nonzero mantissa (magnitudes below [`Self::MIN_POSITIVE`]);
            /// `Normal` otherwise.
            ///
            /// ```
            #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
            /// use core::num::FpCategory;
            /// assert_eq!(T::NEG_ZERO.classify(), FpCategory::Zero);
            /// assert_eq!(T::MIN_POSITIVE_SUBNORMAL.classify(), FpCategory::Subnormal);
            /// assert_eq!(T::MIN_POSITIVE.classify(), FpCategory::Normal);
            /// assert_eq!(T::MAX.classify(), FpCategory::Normal);
            /// ```
            #[inline]
            pub const fn classify(self) -> core::num::FpCategory {
                use core::num::FpCategory;
                use $crate::element::Specials;
                let spec = Self::SPEC;
                let m_all = ((1u32 << spec.man_bits) - 1) as u8;
                let e_all = ((1u32 << spec.exp_bits) - 1) as u8;
                let magnitude = self.0 & (spec.sign_bit() - 1);
                let e = magnitude >> spec.man_bits;
                let m = magnitude & m_all;
                if e == e_all {
                    match spec.specials {
                        Specials::InfNan if m == 0 => return FpCategory::Infinite,
                        Specials::InfNan => return FpCategory::Nan,
                        Specials::NanOnly if m == m_all => return FpCategory::Nan,
                        _ => {}
                    }
                }
                match (e, m) {
                    (0, 0) => FpCategory::Zero,
                    (0, _) => FpCategory::Subnormal,
                    _ => FpCategory::Normal,
                }
            }
        }
        $crate::element::ergonomics::element_sign!(@category_predicates $t);

        /// Negation: the sign bit flipped, as f32's `-` (+0 ↔ −0, and a
        /// NaN's sign flips). Always exact.
        ///
        /// ```
        #[doc = concat!("use blockscale::", stringify!($t), " as T;")]
        /// assert_eq!(-T::MAX, T::MIN);
        /// assert_eq!((-T::ZERO).to_bits(), T::NEG_ZERO.to_bits());
        /// assert_eq!((-(-T::ONE)).to_bits(), T::ONE.to_bits());
        /// ```
        impl core::ops::Neg for $t {
            type Output = $t;
            #[inline]
            fn neg(self) -> $t {
                $t(self.0 ^ Self::SPEC.sign_bit())
            }
        }
    };
}
pub(crate) use element_sign;
