//! The seven sign–exponent–mantissa element formats (OCP's five and AMD's
//! two fnuz FP8 types), each a declaration of its [`MiniFloatSpec`]; all
//! behaviour comes from the engine.

use super::engine::{MiniFloatSpec, Specials};
use super::{ConvertOptions, code_byte, element_common};

macro_rules! minifloat {
    // fnuz formats have no −0: their code 0x80 is NaN.
    (@neg_zero $t:ident, Fnuz) => {};
    (@neg_zero $t:ident, $sp:ident) => {
        /// −0.
        pub const NEG_ZERO: $t = $t(Self::SPEC.sign_bit());
    };
    (
        $(#[$doc:meta])*
        $t:ident, $m:ident, bits: $bits:literal,
        exp: $e:literal, man: $man:literal, bias: $bias:literal, specials: $sp:ident,
        consts: { $($(#[$cdoc:meta])* $c:ident = $v:literal;)* }
    ) => {
        code_byte! {
            $(#[$doc])*
            $t
        }

        /// Value of every byte, built at compile time from the spec.
        static $m: [f32; 256] = $t::SPEC.decode_table();

        impl $t {
            /// The format's definition.
            pub const SPEC: MiniFloatSpec = MiniFloatSpec {
                exp_bits: $e,
                man_bits: $man,
                bias: $bias,
                specials: Specials::$sp,
            };
            /// +0.
            pub const ZERO: $t = $t(0);
            minifloat!(@neg_zero $t, $sp);
            /// 1.
            pub const ONE: $t = $t((($bias as u32) << $man) as u8);
            /// Largest finite value.
            pub const MAX: $t = $t(Self::SPEC.max_code());
            /// Most negative finite value (−MAX).
            pub const MIN: $t = $t(Self::SPEC.max_code() | Self::SPEC.sign_bit());
            /// Smallest positive normal value, 2^(1 − bias).
            pub const MIN_POSITIVE: $t = $t(1 << $man);
            /// Smallest positive subnormal value, 2^(1 − bias − mantissa bits).
            pub const MIN_POSITIVE_SUBNORMAL: $t = $t(1);
            /// Difference between 1 and the next larger value, 2^(−mantissa bits).
            pub const EPSILON: $t = $t(Self::SPEC.epsilon_code());
            $($(#[$cdoc])* pub const $c: $t = $t($v);)*

            /// Conversion from f64 with explicit options, rounding `x`'s exact value once.
            ///
            /// - Rounding: as `opts.rounding` says, to the nearest representable
            ///   magnitudes, subnormals included (no flush to zero).
            /// - Overflow: a rounded magnitude above [`Self::MAX`], or ±Inf,
            ///   follows `opts.overflow` (see [`Overflow`](super::Overflow)).
            /// - NaN: the format's quiet NaN with the input's sign if it has
            ///   NaN; otherwise `opts.nan`.
            /// - ±0 keep their sign.
            #[inline]
            pub const fn from_f64_with(x: f64, opts: ConvertOptions) -> Self {
                $t(Self::SPEC.encode(x, opts))
            }

            #[inline]
            const fn astype_f32(x: f32) -> Self {
                Self::from_f64_with(super::widen(x), ConvertOptions::ML_DTYPES)
            }
        }

        element_common!($t, $t, Some($t::SPEC), $bits, $man, ConvertOptions::ML_DTYPES, $m);
    };
}

minifloat! {
    /// OCP FP4 E2M1: 1 sign, 2 exponent, 1 mantissa bit, bias 1; values
    /// {0, 0.5, 1, 1.5, 2, 3, 4, 6} and their negatives (code | 0x8). No Inf, no NaN.
    ///
    /// Stored in the low 4 bits of a byte; [`slice::pack_e2m1`](super::slice::pack_e2m1)
    /// packs two per byte. [`E2M1::from_f32`] is ml_dtypes'
    /// `astype(float4_e2m1fn)`: nearest-even, saturating to ±6 (±Inf too),
    /// NaN → −0 for +NaN and +0 for −NaN.
    ///
    /// ```
    /// use blockscale::E2M1;
    /// assert_eq!(E2M1::from_f32(2.5).to_f32(), 2.0);   // tie to even
    /// assert_eq!(E2M1::from_f32(5.0).to_f32(), 4.0);   // tie to even
    /// assert_eq!(E2M1::from_f32(100.0), E2M1::MAX);    // saturates
    /// assert_eq!(E2M1::from_f32(-0.2).to_bits(), 0x8);  // −0
    /// assert_eq!(E2M1::MAX.to_f32(), 6.0);
    /// ```
    E2M1, E2M1_DECODE, bits: 4, exp: 2, man: 1, bias: 1, specials: None, consts: {}
}

minifloat! {
    /// OCP FP6 E2M3: 1 sign, 2 exponent, 3 mantissa bits, bias 1; max 7.5,
    /// min normal 1, min subnormal 0.125. No Inf, no NaN. Stored in the low 6
    /// bits of a byte.
    ///
    /// [`E2M3::from_f32`] is ml_dtypes' `astype(float6_e2m3fn)`: nearest-even,
    /// saturating, NaN → zero with the sign inverted.
    ///
    /// ```
    /// use blockscale::E2M3;
    /// assert_eq!(E2M3::from_f32(7.2).to_f32(), 7.0); // step 0.5 in [4, 8)
    /// assert_eq!(E2M3::from_f32(f32::INFINITY), E2M3::MAX);
    /// assert_eq!(E2M3::MIN_POSITIVE_SUBNORMAL.to_f32(), 0.125);
    /// ```
    E2M3, E2M3_DECODE, bits: 6, exp: 2, man: 3, bias: 1, specials: None, consts: {}
}

minifloat! {
    /// OCP FP6 E3M2: 1 sign, 3 exponent, 2 mantissa bits, bias 3; max 28,
    /// min normal 0.25, min subnormal 0.0625. No Inf, no NaN. Stored in the
    /// low 6 bits of a byte.
    ///
    /// [`E3M2::from_f32`] is ml_dtypes' `astype(float6_e3m2fn)`: nearest-even,
    /// saturating, NaN → zero with the sign inverted.
    ///
    /// ```
    /// use blockscale::E3M2;
    /// assert_eq!(E3M2::from_f32(0.03125).to_f32(), 0.0); // tie to even (0)
    /// assert_eq!(E3M2::from_f32(30.0), E3M2::MAX);
    /// assert_eq!(E3M2::MAX.to_f32(), 28.0);
    /// ```
    E3M2, E3M2_DECODE, bits: 6, exp: 3, man: 2, bias: 3, specials: None, consts: {}
}

minifloat! {
    /// OCP FP8 E4M3 ("fn": finite and NaN only, ml_dtypes `float8_e4m3fn`):
    /// 1 sign, 4 exponent, 3 mantissa bits, bias 7; max 448, min normal 2⁻⁶,
    /// min subnormal 2⁻⁹; NaN = S.1111.111, no Inf.
    ///
    /// [`E4M3::from_f32`] is ml_dtypes' `astype(float8_e4m3fn)`: nearest-even,
    /// non-saturating: magnitudes that round above 448 (465 and up; 464 ties
    /// to 448) and ±Inf become NaN. [`ConvertOptions::SATFINITE`] clamps to ±448
    /// as Transformer Engine's quantizers do.
    ///
    /// ```
    /// use blockscale::{E4M3, element::ConvertOptions};
    /// assert_eq!(E4M3::from_f32(464.0).to_f32(), 448.0);
    /// assert!(E4M3::from_f32(465.0).is_nan());
    /// assert_eq!(E4M3::from_f32_with(1e9, ConvertOptions::SATFINITE), E4M3::MAX);
    /// assert_eq!(E4M3::NAN.to_bits(), 0x7F);
    /// ```
    E4M3, E4M3_DECODE, bits: 8, exp: 4, man: 3, bias: 7, specials: NanOnly,
    consts: {
        /// The quiet NaN conversions produce, 0x7F (0xFF is −NaN).
        NAN = 0x7F;
    }
}

minifloat! {
    /// OCP FP8 E5M2 (ml_dtypes `float8_e5m2`): 1 sign, 5 exponent, 2 mantissa
    /// bits, bias 15, IEEE-like; max 57344, min normal 2⁻¹⁴, min subnormal
    /// 2⁻¹⁶; ±Inf = S.11111.00, NaN = S.11111.{01,10,11}.
    ///
    /// [`E5M2::from_f32`] is ml_dtypes' `astype(float8_e5m2)`: nearest-even,
    /// magnitudes from 61440 (the tie above 57344, which rounds to even, up)
    /// become ±Inf; NaN → 0x7E with the input's sign.
    ///
    /// ```
    /// use blockscale::E5M2;
    /// assert_eq!(E5M2::from_f32(61439.0), E5M2::MAX);
    /// assert_eq!(E5M2::from_f32(61440.0), E5M2::INFINITY);
    /// assert!(E5M2::from_f32(f32::NAN).is_nan());
    /// ```
    E5M2, E5M2_DECODE, bits: 8, exp: 5, man: 2, bias: 15, specials: InfNan,
    consts: {
        /// The quiet NaN conversions produce, 0x7E (0xFE is −NaN).
        NAN = 0x7E;
        /// +Inf.
        INFINITY = 0x7C;
        /// −Inf.
        NEG_INFINITY = 0xFC;
    }
}

minifloat! {
    /// FP8 E4M3FNUZ (AMD MI300; ml_dtypes `float8_e4m3fnuz`): 1 sign, 4
    /// exponent, 3 mantissa bits, bias 8; max 240, min normal 2⁻⁷, min
    /// subnormal 2⁻¹⁰. Every exponent field is finite; there is no −0 and no
    /// Inf, and 0x80 (the sign bit alone) is the one NaN.
    ///
    /// A code's value is half that of the same [`E4M3`] code (the bias is one
    /// more), except 0x7F/0xFF (±240 here, NaN there) and 0x80 (NaN here, −0
    /// there).
    ///
    /// [`E4M3Fnuz::from_f32`] is ml_dtypes' `astype(float8_e4m3fnuz)`:
    /// nearest-even; magnitudes that round above 240 (248 and up: 248 ties to
    /// even, 256), ±Inf and NaN become NaN; a negative value that rounds to
    /// zero becomes +0. [`ConvertOptions::SATFINITE`] clamps to ±240.
    ///
    /// ```
    /// use blockscale::{E4M3Fnuz, element::ConvertOptions};
    /// assert_eq!(E4M3Fnuz::MAX.to_f32(), 240.0);
    /// assert_eq!(E4M3Fnuz::from_f32(247.9).to_f32(), 240.0);
    /// assert!(E4M3Fnuz::from_f32(248.0).is_nan());
    /// assert_eq!(E4M3Fnuz::from_f32(-1e-30).to_bits(), 0x00); // no −0
    /// assert_eq!(E4M3Fnuz::from_f32_with(1e9, ConvertOptions::SATFINITE), E4M3Fnuz::MAX);
    /// assert_eq!(E4M3Fnuz::NAN.to_bits(), 0x80);
    /// ```
    E4M3Fnuz, E4M3FNUZ_DECODE, bits: 8, exp: 4, man: 3, bias: 8, specials: Fnuz,
    consts: {
        /// The one NaN, 0x80.
        NAN = 0x80;
    }
}

minifloat! {
    /// FP8 E5M2FNUZ (AMD MI300; ml_dtypes `float8_e5m2fnuz`): 1 sign, 5
    /// exponent, 2 mantissa bits, bias 16; max 57344, min normal 2⁻¹⁵, min
    /// subnormal 2⁻¹⁷. Every exponent field is finite; there is no −0 and no
    /// Inf, and 0x80 is the one NaN.
    ///
    /// [`E5M2Fnuz::from_f32`] is ml_dtypes' `astype(float8_e5m2fnuz)`:
    /// nearest-even; magnitudes that round above 57344 (61440 and up), ±Inf
    /// and NaN become NaN; a negative value that rounds to zero becomes +0.
    ///
    /// ```
    /// use blockscale::E5M2Fnuz;
    /// assert_eq!(E5M2Fnuz::MAX.to_f32(), 57344.0);
    /// assert_eq!(E5M2Fnuz::from_f32(61439.0), E5M2Fnuz::MAX);
    /// assert!(E5M2Fnuz::from_f32(61440.0).is_nan());
    /// assert!(E5M2Fnuz::from_f32(f32::INFINITY).is_nan());
    /// assert_eq!(E5M2Fnuz::MIN_POSITIVE_SUBNORMAL.to_f32(), 2f32.powi(-17));
    /// ```
    E5M2Fnuz, E5M2FNUZ_DECODE, bits: 8, exp: 5, man: 2, bias: 16, specials: Fnuz,
    consts: {
        /// The one NaN, 0x80.
        NAN = 0x80;
    }
}
