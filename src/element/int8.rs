//! The MXINT8 element: an 8-bit two's-complement integer with an implicit
//! scale of 2⁻⁶ (OCP MX v1.0 §5.3).

use super::engine::{MagnitudeRounding, round_shift};
use super::{ConvertOptions, NanToFinite, code_byte, element_common};

code_byte! {
    /// MXINT8 element: two's-complement `i8` times 2⁻⁶, so values are
    /// k/64 for k in −128..=127.
    ///
    /// Conversion is **symmetric**, as microxcaling (`mx/formats.py`) does: it
    /// clamps to ±127/64 and never produces 0x80 (−2), which decodes (to −2.0,
    /// by the two's-complement definition) but only arrives from raw bytes.
    ///
    /// [`Int8::from_f32`]: round `x·64` to the nearest integer, ties to even,
    /// clamp to ±127 (there is no Inf, so overflow and ±Inf saturate under either
    /// [`Overflow`](super::Overflow) mode); NaN gives 0 (there is no −0; see
    /// [`NanToFinite`] for +max). −0 gives 0.
    ///
    /// ```
    /// use blockscale::Int8;
    /// assert_eq!(Int8::from_f32(0.5).to_bits(), 32);
    /// assert_eq!(Int8::from_f32(1.0 / 128.0).to_f32(), 0.0);       // tie to even
    /// assert_eq!(Int8::from_f32(3.0 / 128.0).to_f32(), 2.0 / 64.0); // tie to even
    /// assert_eq!(Int8::from_f32(-5.0), Int8::MIN);
    /// assert_eq!(Int8::MAX.to_f32(), 127.0 / 64.0);
    /// assert_eq!(Int8::from_bits(0x80).to_f32(), -2.0);
    /// ```
    Int8
}

/// Value of every byte, (b as i8) / 64, built at compile time.
static INT8_DECODE: [f32; 256] = {
    let mut t = [0f32; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b as u8 as i8) as f32 / 64.0;
        b += 1;
    }
    t
};

impl Int8 {
    /// 0.
    pub const ZERO: Int8 = Int8(0);
    /// 1 (64 · 2⁻⁶).
    pub const ONE: Int8 = Int8(64);
    /// Largest value, 127/64.
    pub const MAX: Int8 = Int8(127);
    /// Most negative value conversions produce, −127/64 (symmetric range).
    pub const MIN: Int8 = Int8(0x81);
    /// Smallest positive value, 1/64. All values are multiples of it.
    pub const MIN_POSITIVE: Int8 = Int8(1);
    /// Difference between 1 and the next larger value, 1/64.
    pub const EPSILON: Int8 = Int8(1);

    /// Conversion from f64 with explicit options: `x·64` rounded once to an
    /// integer by `opts.rounding`, clamped to ±127; NaN per `opts.nan`
    /// (`MlDtypes` and `Zero` give 0, `PositiveMax` gives 127).
    #[inline]
    pub const fn from_f64_with(x: f64, opts: ConvertOptions) -> Self {
        if x.is_nan() {
            return match opts.nan {
                NanToFinite::PositiveMax => Int8::MAX,
                NanToFinite::MlDtypes | NanToFinite::Zero | NanToFinite::NegativeZero => Int8::ZERO,
            };
        }
        let neg = x.is_sign_negative();
        let a = x.abs();
        let k = if a >= 2.0 {
            127
        } else {
            // a < 2: significand m (53 bits) times 2^(e − 1075); in units of
            // 2^-6 that is m · 2^(e − 1069), a right shift by 1069 − e ≥ 45.
            let bits = a.to_bits();
            let e = if bits >> 52 != 0 {
                (bits >> 52) as u32
            } else {
                1
            };
            let implicit = if bits >> 52 != 0 { 1u64 << 52 } else { 0 };
            let m = (bits & ((1 << 52) - 1)) | implicit;
            let k = round_shift(m, 1069 - e, MagnitudeRounding::new(opts.rounding, neg));
            if k > 127 { 127 } else { k }
        };
        let k = k as i8;
        Int8((if neg { -k } else { k }) as u8)
    }

    #[inline]
    const fn astype_f32(x: f32) -> Self {
        Self::from_f64_with(super::widen(x), ConvertOptions::ML_DTYPES)
    }
}

element_common!(
    Int8,
    Int8,
    None,
    8,
    6,
    ConvertOptions::ML_DTYPES,
    INT8_DECODE
);
