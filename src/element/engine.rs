//! The one conversion engine behind every element format.
//!
//! A format is a [`MiniFloatSpec`]: exponent bits, mantissa bits, bias and what
//! the all-ones exponent means. From that the engine derives the decode table
//! at compile time and converts any f64 (and so any f32, f16 or bf16, which
//! widen exactly) with one rounding of its exact value.

use super::{ConvertOptions, NanToFinite, Overflow, Rounding};

/// What the largest exponent field encodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Specials {
    /// All codes are finite (OCP FP4 and FP6: `E2M1`, `E2M3`, `E3M2`).
    None,
    /// Only S.1…1.1…1 is NaN; no infinities (OCP E4M3, ml_dtypes `float8_e4m3fn`).
    NanOnly,
    /// IEEE-like: exponent all ones with mantissa 0 is ±Inf, otherwise NaN (E5M2).
    InfNan,
    /// "fnuz" (finite, NaN, unsigned zero; AMD MI300, ml_dtypes
    /// `float8_e4m3fnuz`/`float8_e5m2fnuz`): every exponent field is finite,
    /// there is no −0, and the code with only the sign bit set (0x80) is
    /// the one NaN.
    Fnuz,
}

/// The parameters that define a sign–exponent–mantissa element format.
///
/// ```
/// use blockscale::element::{MiniFloatSpec, Specials};
/// use blockscale::E4M3;
/// assert_eq!(E4M3::SPEC, MiniFloatSpec { exp_bits: 4, man_bits: 3, bias: 7, specials: Specials::NanOnly });
/// assert_eq!(E4M3::SPEC.max_code(), 0x7E);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MiniFloatSpec {
    /// Exponent field width.
    pub exp_bits: u32,
    /// Mantissa (fraction) field width.
    pub man_bits: u32,
    /// Exponent bias: a normal code's value is `2^(e − bias) · 1.m`, a
    /// subnormal's (e = 0) `2^(1 − bias) · 0.m`.
    pub bias: i32,
    /// Meaning of the largest exponent field.
    pub specials: Specials,
}

impl MiniFloatSpec {
    /// Total width including the sign bit.
    pub const fn bits(&self) -> u32 {
        1 + self.exp_bits + self.man_bits
    }

    /// The sign bit.
    pub const fn sign_bit(&self) -> u8 {
        1 << (self.exp_bits + self.man_bits)
    }

    const fn exp_all_ones(&self) -> u32 {
        (1 << self.exp_bits) - 1
    }

    /// Magnitude code of the largest finite value.
    pub const fn max_code(&self) -> u8 {
        let all = (1u32 << (self.exp_bits + self.man_bits)) - 1;
        (match self.specials {
            Specials::None | Specials::Fnuz => all,
            Specials::NanOnly => all - 1,
            Specials::InfNan => all - (1 << self.man_bits),
        }) as u8
    }

    /// Code of 2^(−mantissa bits), the gap between 1 and the next value
    /// (a subnormal when bias ≤ mantissa bits, as in FP4 and FP6 E2M3).
    pub const fn epsilon_code(&self) -> u8 {
        let e = self.bias - self.man_bits as i32;
        if e >= 1 {
            (e << self.man_bits) as u8
        } else {
            // m · 2^(1 − bias − M) = 2^(−M) for m = 2^(bias − 1).
            1 << (self.bias - 1)
        }
    }

    /// Positive infinity's code, if the format has one.
    pub const fn inf_code(&self) -> Option<u8> {
        match self.specials {
            Specials::InfNan => Some((self.exp_all_ones() << self.man_bits) as u8),
            _ => None,
        }
    }

    /// The NaN code that conversions produce (ml_dtypes' `quiet_NaN`), if
    /// the format has NaN: the sign bit clear, except in fnuz formats,
    /// whose one NaN is the sign bit alone.
    pub const fn nan_code(&self) -> Option<u8> {
        match self.specials {
            Specials::None => None,
            Specials::Fnuz => Some(self.sign_bit()),
            Specials::NanOnly => Some(((1u32 << (self.exp_bits + self.man_bits)) - 1) as u8),
            // E5M2's quiet NaN is S.11111.10.
            Specials::InfNan => {
                Some(((self.exp_all_ones() << self.man_bits) | (1 << (self.man_bits - 1))) as u8)
            }
        }
    }

    /// The f32 bit pattern of `code`'s value, from the definition.
    const fn decode_bits(&self, code: u32) -> u32 {
        let m_bits = self.man_bits;
        let sign = ((code >> (self.exp_bits + m_bits)) & 1) << 31;
        let e = (code >> m_bits) & self.exp_all_ones();
        let m = code & ((1 << m_bits) - 1);
        if matches!(self.specials, Specials::Fnuz) && sign != 0 && e == 0 && m == 0 {
            return 0xFFC0_0000;
        }
        if e == self.exp_all_ones() {
            match self.specials {
                Specials::InfNan if m == 0 => return sign | 0x7F80_0000,
                Specials::InfNan => return sign | 0x7FC0_0000,
                Specials::NanOnly if m == (1 << m_bits) - 1 => return sign | 0x7FC0_0000,
                _ => {}
            }
        }
        if e == 0 {
            if m == 0 {
                return sign;
            }
            // Subnormal m·2^(1−bias−M): normalise around m's leading one p.
            let p = 31 - m.leading_zeros();
            let exp = p as i32 + 1 - self.bias - m_bits as i32 + 127;
            let frac = (m - (1 << p)) << (23 - p);
            return sign | ((exp as u32) << 23) | frac;
        }
        let exp = e as i32 - self.bias + 127;
        sign | ((exp as u32) << 23) | (m << (23 - m_bits))
    }

    /// The value of every byte, as f32; bits above the format's width are
    /// ignored (so the table repeats).
    pub const fn decode_table(&self) -> [f32; 256] {
        let mut t = [0f32; 256];
        let mask = (1u32 << self.bits()) - 1;
        let mut i = 0;
        while i < 256 {
            t[i] = f32::from_bits(self.decode_bits(i as u32 & mask));
            i += 1;
        }
        t
    }

    /// The code of a rounded magnitude above [`Self::max_code`], or of ±Inf,
    /// with sign bits `sign`: ±Inf or NaN where the format and `overflow`
    /// say so, ±max otherwise (always ±max when rounding `toward_zero`).
    #[inline(always)]
    const fn overflowed(&self, sign: u8, toward_zero: bool, overflow: Overflow) -> u8 {
        let code = match (overflow, toward_zero, self.specials) {
            (Overflow::NonSaturating, false, Specials::InfNan) => self.inf_code(),
            (Overflow::NonSaturating, false, Specials::NanOnly | Specials::Fnuz) => self.nan_code(),
            _ => None,
        };
        sign | match code {
            Some(c) => c,
            None => self.max_code(),
        }
    }

    /// Converts `x` with one rounding of its exact value: the engine. A
    /// `const fn`, so that the element types' `from_f32_const` run it at
    /// compile time; it reads only bits (no float arithmetic), so compile
    /// time and run time agree bit for bit.
    #[inline(always)]
    pub(crate) const fn encode(&self, x: f64, opts: ConvertOptions) -> u8 {
        let bits = x.to_bits();
        let neg = bits >> 63 != 0;
        let sign = if neg { self.sign_bit() } else { 0 };
        let a = bits & !(1 << 63);
        if a > 0x7FF0_0000_0000_0000 {
            return match self.nan_code() {
                Some(nan) => sign | nan,
                None => match opts.nan {
                    NanToFinite::MlDtypes => sign ^ self.sign_bit(),
                    NanToFinite::Zero => 0,
                    NanToFinite::PositiveMax => self.max_code(),
                    NanToFinite::NegativeZero => self.sign_bit(),
                },
            };
        }
        if a == 0x7FF0_0000_0000_0000 {
            return self.overflowed(sign, false, opts.overflow);
        }
        let mode = MagnitudeRounding::new(opts.rounding, neg);
        let code = round_to_grid(a, self.man_bits, self.bias, mode);
        if code > self.max_code() as u64 {
            let toward_zero = matches!(mode, MagnitudeRounding::TowardZero);
            self.overflowed(sign, toward_zero, opts.overflow)
        } else if code == 0 && matches!(self.specials, Specials::Fnuz) {
            // No −0: a negative value that rounds to zero is +0 (ml_dtypes).
            0
        } else {
            sign | code as u8
        }
    }
}

/// A rounding mode seen from the magnitude, once the sign is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MagnitudeRounding {
    NearestEven,
    NearestTiesAway,
    TowardZero,
    AwayFromZero,
    Stochastic { random: u32, count: u32 },
}

impl MagnitudeRounding {
    #[inline(always)]
    pub(crate) const fn new(r: Rounding, negative: bool) -> Self {
        match r {
            Rounding::NearestEven => MagnitudeRounding::NearestEven,
            Rounding::NearestTiesAway => MagnitudeRounding::NearestTiesAway,
            Rounding::TowardZero => MagnitudeRounding::TowardZero,
            Rounding::Up if negative => MagnitudeRounding::TowardZero,
            Rounding::Up => MagnitudeRounding::AwayFromZero,
            Rounding::Down if negative => MagnitudeRounding::AwayFromZero,
            Rounding::Down => MagnitudeRounding::TowardZero,
            Rounding::Stochastic(b) => MagnitudeRounding::Stochastic {
                random: b.value(),
                count: b.count(),
            },
        }
    }
}

/// `v / 2^s` rounded to an integer by `mode`. Valid for `v < 2^63` and any `s`.
#[inline(always)]
pub(crate) const fn round_shift(v: u64, s: u32, mode: MagnitudeRounding) -> u64 {
    if s == 0 {
        return v;
    }
    let q = if s >= 64 { 0 } else { v >> s };
    let rem = if s >= 64 { v } else { v & ((1 << s) - 1) };
    let up = match mode {
        MagnitudeRounding::TowardZero => false,
        MagnitudeRounding::AwayFromZero => rem != 0,
        MagnitudeRounding::NearestEven | MagnitudeRounding::NearestTiesAway => {
            // For s > 63, half = 2^(s−1) > 2^63 > v = rem: round down.
            if s > 63 {
                false
            } else {
                let half = 1u64 << (s - 1);
                let ties_away = matches!(mode, MagnitudeRounding::NearestTiesAway);
                rem > half || (rem == half && (ties_away || q & 1 == 1))
            }
        }
        MagnitudeRounding::Stochastic { random, count } => {
            // The top `count` discarded bits plus the random bits; a carry out rounds up.
            let top = if s >= count {
                let t = if s - count >= 64 { 0 } else { v >> (s - count) };
                t & ((1u64 << count) - 1)
            } else {
                rem << (count - s)
            };
            top + random as u64 >= 1u64 << count
        }
    };
    q + up as u64
}

/// Rounds the magnitude of a finite f64 (bits `a`, sign clear) onto the grid
/// of a format with `man_bits` mantissa bits and `bias`, with an unbounded
/// exponent above. Returns the magnitude code `e << man_bits | m`, which
/// exceeds the format's largest code exactly when the rounded value does.
#[inline(always)]
pub(crate) const fn round_to_grid(
    a: u64,
    man_bits: u32,
    bias: i32,
    mode: MagnitudeRounding,
) -> u64 {
    let e64 = (a >> 52) as i32;
    // The format's biased exponent of x, if x is a normal number there.
    let e = e64 - 1023 + bias;
    if e >= 1 {
        // Same layout as f64 once rebiased: rounding the fraction may carry
        // into the exponent, which is the right next value.
        let rebased = a - (((1023 - bias) as u64) << 52);
        round_shift(rebased, 52 - man_bits, mode)
    } else {
        // Subnormal in the format: count units of 2^(1 − bias − man_bits).
        let implicit = if e64 != 0 { 1u64 << 52 } else { 0 };
        let m = (a & ((1 << 52) - 1)) | implicit;
        let e_eff = if e64 > 1 { e64 } else { 1 };
        let s = 1076 - bias - man_bits as i32 - e_eff;
        round_shift(m, s as u32, mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    #[test]
    fn round_shift_hand_cases() {
        use MagnitudeRounding::*;
        // 0b1011 / 4 = 2.75; 0b1010 / 4 = 2.5; 0b1110 / 4 = 3.5.
        assert_eq!(round_shift(0b1011, 2, NearestEven), 3);
        assert_eq!(round_shift(0b1010, 2, NearestEven), 2);
        assert_eq!(round_shift(0b1110, 2, NearestEven), 4);
        assert_eq!(round_shift(0b1010, 2, NearestTiesAway), 3);
        assert_eq!(round_shift(0b1011, 2, TowardZero), 2);
        assert_eq!(round_shift(0b1001, 2, AwayFromZero), 3);
        assert_eq!(round_shift(0b1000, 2, AwayFromZero), 2);
        assert_eq!(round_shift(1, 200, AwayFromZero), 1);
        assert_eq!(round_shift(u64::MAX >> 1, 64, NearestEven), 0);
        // 2.5 with 2 random bits: discarded fraction 0b10, so r ∈ {2, 3} carries.
        let sr = |random| Stochastic { random, count: 2 };
        assert_eq!(
            (0..4)
                .map(|r| round_shift(0b1010, 2, sr(r)))
                .collect::<Vec<_>>(),
            [2, 2, 3, 3]
        );
        // Fewer discarded bits than random bits: 2.5 = 0b101 / 2, with 4 random bits.
        let sr4 = |random| Stochastic { random, count: 4 };
        assert_eq!(round_shift(0b101, 1, sr4(7)), 2);
        assert_eq!(round_shift(0b101, 1, sr4(8)), 3);
    }
}
