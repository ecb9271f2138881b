//! E8M0: the unsigned power-of-two scale of the MX formats (OCP MX v1.0 §5.4).

use super::engine::{MagnitudeRounding, round_shift};
use super::{ConvertOptions, Overflow, Rounding, code_byte, element_common};

code_byte! {
    /// OCP E8M0 scale (ml_dtypes `float8_e8m0fnu`): 8 exponent bits, no sign, no
    /// mantissa. Code `b` is 2^(b − 127), from 2⁻¹²⁷ (0x00) to 2¹²⁷ (0xFE);
    /// 0xFF is NaN. There is no zero and no infinity.
    ///
    /// [`E8M0::from_f32`] is ml_dtypes' `astype(float8_e8m0fnu)`:
    /// - positive values round to the nearest power of two, **ties away from
    ///   zero** (1.5 → 2, 3 → 4, 0.75 → 1) ([`Rounding::NearestTiesAway`]);
    /// - values up to 2⁻¹²⁷ give 2⁻¹²⁷ (0x00), since nothing is smaller; f32
    ///   subnormals strictly between 2⁻¹²⁷ and 2⁻¹²⁶ give 2⁻¹²⁶ (0x01), as
    ///   ml_dtypes 0.6.0 does (not the nearer 2⁻¹²⁷, which
    ///   `from_f32_with(x, ConvertOptions::default().with_rounding(Rounding::NearestTiesAway))` gives);
    /// - values that round to 2¹²⁸ or more, ±Inf, NaN, ±0 and negatives give NaN (0xFF).
    ///
    /// [`E8M0::from_f32_with`] takes any [`Rounding`] ([`Rounding::Up`] is CUDA's
    /// `cvt.rp.ue8m0`, [`Rounding::Down`] takes the exponent of the value, as
    /// `floor(log2(x))`). With [`Overflow::Saturate`], overflow and +Inf give
    /// 2¹²⁷ (0xFE), and ±0 and negatives give 2⁻¹²⁷ (0x00), as a `satfinite`
    /// conversion clamps into range; NaN stays NaN.
    ///
    /// ```
    /// use blockscale::{E8M0, element::{ConvertOptions, Rounding}};
    /// assert_eq!(E8M0::from_f32(3.0).to_f32(), 4.0);           // tie away from zero
    /// assert_eq!(E8M0::from_f32(2.9).to_f32(), 2.0);
    /// let up = ConvertOptions::default().with_rounding(Rounding::Up);
    /// assert_eq!(E8M0::from_f32_with(2.1, up).to_f32(), 4.0);  // cvt.rp
    /// assert!(E8M0::from_f32(0.0).is_nan());
    /// assert_eq!(E8M0::from_exponent(-3).unwrap().to_f32(), 0.125);
    /// assert_eq!(E8M0::ONE.exponent(), Some(0));
    /// ```
    E8M0
}

/// Value of every byte, 2^(b − 127), built at compile time.
static E8M0_DECODE: [f32; 256] = {
    let mut t = [0f32; 256];
    let mut b = 0;
    while b < 255 {
        // 2^(b−127): f32 subnormal 2^-127 for b = 0, normal otherwise.
        t[b] = if b == 0 {
            f32::from_bits(0x0040_0000)
        } else {
            f32::from_bits((b as u32) << 23)
        };
        b += 1;
    }
    t[255] = f32::NAN;
    t
};

impl E8M0 {
    /// 2⁰ = 1 (0x7F).
    pub const ONE: E8M0 = E8M0(127);
    /// Largest value, 2¹²⁷ (0xFE).
    pub const MAX: E8M0 = E8M0(0xFE);
    /// Smallest value, 2⁻¹²⁷ (0x00). E8M0 has no zero and no sign, so this is
    /// also `MIN` and `MIN_POSITIVE`.
    pub const MIN_POSITIVE: E8M0 = E8M0(0);
    /// Smallest value (no negatives exist): 2⁻¹²⁷.
    pub const MIN: E8M0 = E8M0(0);
    /// NaN (0xFF).
    pub const NAN: E8M0 = E8M0(0xFF);
    /// Ratio between neighbouring values minus one: 2¹ − 1 = 1.
    pub const EPSILON: E8M0 = E8M0(127);

    /// 2^e, or `None` unless −127 ≤ e ≤ 127.
    pub const fn from_exponent(e: i32) -> Option<E8M0> {
        if e >= -127 && e <= 127 {
            Some(E8M0((e + 127) as u8))
        } else {
            None
        }
    }

    /// The unbiased exponent `b − 127`, or `None` for NaN.
    pub const fn exponent(self) -> Option<i32> {
        if self.0 == 0xFF {
            None
        } else {
            Some(self.0 as i32 - 127)
        }
    }

    /// Conversion from f64 with explicit options, rounding `x` once to a power
    /// of two (see the type's docs for ±0, negatives, NaN and overflow;
    /// `opts.nan` is unused, E8M0 has NaN).
    #[inline]
    pub const fn from_f64_with(x: f64, opts: ConvertOptions) -> Self {
        let sat = matches!(opts.overflow, Overflow::Saturate);
        if x.is_nan() {
            return E8M0::NAN;
        }
        if x <= 0.0 {
            return if sat { E8M0::MIN } else { E8M0::NAN };
        }
        if x == f64::INFINITY {
            return if sat { E8M0::MAX } else { E8M0::NAN };
        }
        let a = x.to_bits();
        let mode = MagnitudeRounding::new(opts.rounding, false);
        // 2^-127 has f64 bits (1023 − 127) << 52; below it nothing is smaller.
        const MIN_BITS: u64 = 896 << 52;
        if a < MIN_BITS {
            return E8M0::MIN;
        }
        // The f64 exponent field, rounded by the fraction below it, is the
        // power of two; rebias from 1023 to 127.
        let e = round_shift(a - MIN_BITS, 52, mode);
        if e > 0xFE {
            let toward_zero = matches!(mode, MagnitudeRounding::TowardZero);
            return if sat || toward_zero {
                E8M0::MAX
            } else {
                E8M0::NAN
            };
        }
        E8M0(e as u8)
    }

    #[inline]
    const fn astype_f32(x: f32) -> Self {
        // ml_dtypes 0.6.0 rounds f32 subnormals strictly above 2^-127 up to
        // 2^-126 rather than to the nearer 2^-127; reproduce it bit for bit.
        let b = x.to_bits();
        if b > 0x0040_0000 && b < 0x0080_0000 {
            return E8M0(1);
        }
        Self::from_f64_with(super::widen(x), E8M0_DEFAULT)
    }
}

const E8M0_DEFAULT: ConvertOptions =
    ConvertOptions::ML_DTYPES.with_rounding(Rounding::NearestTiesAway);
element_common!(E8M0, E8M0, None, 8, 0, E8M0_DEFAULT, E8M0_DECODE);
