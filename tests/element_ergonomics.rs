//! The `half::f16`-style ergonomics of the element types (total order, sign
//! operations, classification, parsing, bit formatting, const conversions)
//! and the optional `num-traits`, `serde` and `zerocopy` impls, each checked
//! over every code against something independent of the implementation:
//! f32's own operations on the decoded value, the bit layout, or integer
//! arithmetic.

use blockscale::{E2M1, E2M3, E3M2, E4M3, E4M3Fnuz, E5M2, E5M2Fnuz, E8M0, Element, Int8};
use core::cmp::Ordering;
use core::num::{FpCategory, ParseFloatError};

/// The inherent methods under test, gathered into a trait so that the checks
/// can be generic; each impl only forwards.
trait Ergonomic:
    Element
    + core::str::FromStr<Err = ParseFloatError>
    + core::fmt::LowerHex
    + core::fmt::UpperHex
    + core::fmt::Binary
    + core::fmt::Octal
{
    fn total_cmp(&self, other: &Self) -> Ordering;
    fn abs(self) -> Self;
    fn is_sign_positive(self) -> bool;
    fn is_sign_negative(self) -> bool;
    fn classify(self) -> FpCategory;
    fn is_normal(self) -> bool;
    fn is_subnormal(self) -> bool;
    fn round_f64(x: f64) -> Self;
    fn exact_f64(self) -> f64;
    fn to_f64_const(self) -> f64;
}

/// The sign–magnitude minifloats' extra operations.
trait Signed: Ergonomic + core::ops::Neg<Output = Self> {
    const SIGN_BIT: u8;
    fn signum(self) -> Self;
    fn copysign(self, sign: Self) -> Self;
}

macro_rules! forward {
    ($($t:ident),*) => {$(
        impl Ergonomic for $t {
            fn total_cmp(&self, other: &Self) -> Ordering { $t::total_cmp(self, other) }
            fn abs(self) -> Self { $t::abs(self) }
            fn is_sign_positive(self) -> bool { $t::is_sign_positive(self) }
            fn is_sign_negative(self) -> bool { $t::is_sign_negative(self) }
            fn classify(self) -> FpCategory { $t::classify(self) }
            fn is_normal(self) -> bool { $t::is_normal(self) }
            fn is_subnormal(self) -> bool { $t::is_subnormal(self) }
            fn round_f64(x: f64) -> Self { $t::from_f64(x) }
            fn exact_f64(self) -> f64 { $t::to_f64(self) }
            fn to_f64_const(self) -> f64 { $t::to_f64_const(self) }
        }
    )*};
}
forward!(E2M1, E2M3, E3M2, E4M3, E5M2, E4M3Fnuz, E5M2Fnuz, E8M0, Int8);

macro_rules! signed {
    ($($t:ident),*) => {$(
        impl Signed for $t {
            const SIGN_BIT: u8 = $t::SPEC.sign_bit();
            fn signum(self) -> Self { $t::signum(self) }
            fn copysign(self, sign: Self) -> Self { $t::copysign(self, sign) }
        }
    )*};
}
signed!(E2M1, E2M3, E3M2, E4M3, E5M2);

/// Runs `$check::<T>()` for every element type.
macro_rules! for_all_types {
    ($check:ident) => {
        $check::<E2M1>();
        $check::<E2M3>();
        $check::<E3M2>();
        $check::<E4M3>();
        $check::<E5M2>();
        $check::<E4M3Fnuz>();
        $check::<E5M2Fnuz>();
        $check::<E8M0>();
        $check::<Int8>();
    };
}

/// Runs `$check::<T>()` for the five sign–magnitude minifloats.
macro_rules! for_minifloats {
    ($check:ident) => {
        $check::<E2M1>();
        $check::<E2M3>();
        $check::<E3M2>();
        $check::<E4M3>();
        $check::<E5M2>();
    };
}

fn bits(x: impl Element) -> u8 {
    x.to_bits()
}

// ----- total_cmp -------------------------------------------------------------

/// For every pair of codes, `total_cmp` is `f32::total_cmp` of the decoded
/// values, except between two NaNs of one sign that decode to the same f32
/// (E5M2's payloads), which it orders by code, further from zero for the
/// larger payload; `Equal` exactly for the same code.
fn total_cmp_agrees_with_f32<T: Ergonomic>() {
    for a in T::codes() {
        for b in T::codes() {
            let (fa, fb) = (a.to_f32(), b.to_f32());
            let got = a.total_cmp(&b);
            assert_eq!(got == Ordering::Equal, bits(a) == bits(b), "{a:#x} {b:#x}");
            if fa.to_bits() != fb.to_bits() || bits(a) == bits(b) {
                assert_eq!(got, fa.total_cmp(&fb), "{} {a:#x} vs {b:#x}", T::NAME);
            } else {
                assert!(fa.is_nan() && fb.is_nan(), "{} {a:#x} {b:#x}", T::NAME);
                let by_code = bits(a).cmp(&bits(b));
                let want = if fa.is_sign_negative() {
                    by_code.reverse()
                } else {
                    by_code
                };
                assert_eq!(got, want, "{} {a:#x} vs {b:#x}", T::NAME);
            }
        }
    }
}

#[test]
fn total_cmp_is_f32_total_cmp_of_the_decoded_values() {
    for_all_types!(total_cmp_agrees_with_f32);
}

/// The decode tables keep a NaN's sign, which `total_cmp`'s agreement with
/// f32 relies on: every minifloat code decodes with its own sign bit.
fn decode_keeps_the_sign<T: Signed>() {
    for x in T::codes() {
        let negative = bits(x) & T::SIGN_BIT != 0;
        assert_eq!(
            x.to_f32().is_sign_negative(),
            negative,
            "{} {x:#x}",
            T::NAME
        );
    }
}

#[test]
fn decoding_keeps_every_sign_nan_included() {
    for_minifloats!(decode_keeps_the_sign);
    assert!(E4M3::from_bits(0xFF).to_f32().is_sign_negative());
    assert!(E5M2::from_bits(0xFD).to_f32().is_sign_negative());
}

/// Sorting every code by `total_cmp` gives the order the bit layout
/// dictates: for a sign–magnitude format, the negative codes from the
/// largest magnitude down to −0, then the non-negative ones upward.
fn sorted_codes<T: Ergonomic>() -> Vec<u8> {
    let mut v: Vec<T> = T::codes().collect();
    v.sort_by(T::total_cmp);
    for w in v.windows(2) {
        assert_eq!(w[0].total_cmp(&w[1]), Ordering::Less);
        assert_eq!(w[1].total_cmp(&w[0]), Ordering::Greater);
    }
    v.into_iter().map(bits).collect()
}

fn sign_magnitude_order<T: Signed>() {
    let s = T::SIGN_BIT;
    let want: Vec<u8> = (0..s).rev().map(|m| s | m).chain(0..s).collect();
    assert_eq!(sorted_codes::<T>(), want, "{}", T::NAME);
}

#[test]
fn total_cmp_orders_codes_as_the_bit_layout_says() {
    for_minifloats!(sign_magnitude_order);
    // Two's complement: by the code as i8.
    let want: Vec<u8> = (-128..=127i8).map(|k| k as u8).collect();
    assert_eq!(sorted_codes::<Int8>(), want);
    // Unsigned: by the code, NaN (0xFF) last.
    assert_eq!(sorted_codes::<E8M0>(), (0..=255u8).collect::<Vec<_>>());
}

#[test]
fn total_cmp_ignores_bits_above_the_width() {
    // Bytes cast in by bytemuck keep their high bits; they do not count.
    let cast = |b: u8| blockscale::bytemuck::cast::<u8, E2M1>(b);
    assert_eq!(cast(0xF3).total_cmp(&E2M1::from_bits(3)), Ordering::Equal);
    assert_eq!(cast(0x1B).total_cmp(&cast(0xE2)), Ordering::Less); // −1.5 < 1
    let cast6 = |b: u8| blockscale::bytemuck::cast::<u8, E3M2>(b);
    assert_eq!(cast6(0xC0).total_cmp(&E3M2::ZERO), Ordering::Equal);
}

// ----- sign operations -------------------------------------------------------

/// abs, neg, signum, copysign and the sign predicates of the minifloats are
/// f32's on the decoded value, bit for bit (a NaN's sign included).
fn minifloat_sign_ops<T: Signed>() {
    let f = |x: T| x.to_f32();
    for x in T::codes() {
        let v = f(x);
        assert_eq!(
            f(x.abs()).to_bits(),
            v.abs().to_bits(),
            "{} {x:#x}",
            T::NAME
        );
        assert_eq!(f(-x).to_bits(), (-v).to_bits(), "{} -{x:#x}", T::NAME);
        assert_eq!(bits(-(-x)), bits(x));
        assert_eq!(x.is_sign_positive(), v.is_sign_positive());
        assert_eq!(x.is_sign_negative(), v.is_sign_negative());
        let s = x.signum();
        if v.is_nan() {
            assert_eq!(bits(s), bits(x), "signum of NaN is itself");
        } else {
            assert_eq!(f(s), v.signum(), "{} signum {x:#x}", T::NAME);
            assert_eq!(f(s).is_sign_negative(), v.is_sign_negative());
        }
        for y in T::codes() {
            let got = f(x.copysign(y)).to_bits();
            assert_eq!(got, v.copysign(f(y)).to_bits(), "{} {x:#x} {y:#x}", T::NAME);
        }
    }
}

#[test]
fn minifloat_sign_operations_are_f32_s() {
    for_minifloats!(minifloat_sign_ops);
}

#[test]
fn int8_sign_operations_saturate_like_i8() {
    for x in Int8::codes() {
        let k = bits(x) as i8;
        let v = |k: i8| k as f32 / 64.0;
        assert_eq!(x.abs().to_f32(), v(k.saturating_abs()));
        assert_eq!((-x).to_f32(), v(k.saturating_neg()));
        assert_eq!(x.signum().to_f32(), k.signum() as f32);
        assert_eq!(x.is_sign_negative(), k < 0);
        assert_eq!(x.is_sign_positive(), k >= 0);
        // First principles: |x| and −x are exact where representable,
        // and saturate to 127/64 where not (|−2| = 2).
        let clamp = |y: f32| y.min(127.0 / 64.0);
        assert_eq!(x.abs().to_f32(), clamp(x.to_f32().abs()));
        assert_eq!((-x).to_f32(), clamp(-x.to_f32()));
        assert_ne!(bits(-x), 0x80, "conversions' symmetric range is kept");
        for y in Int8::codes() {
            let want = if y.is_sign_negative() {
                -clamp(x.to_f32().abs())
            } else {
                clamp(x.to_f32().abs())
            };
            assert_eq!(x.copysign(y).to_f32(), want);
            // No −0: the result is 0 when x is.
            if bits(x) == 0 {
                assert_eq!(bits(x.copysign(y)), 0);
            }
        }
    }
    assert_eq!(-Int8::from_bits(0x80), Int8::MAX);
    assert_eq!(Int8::from_bits(0x80).abs(), Int8::MAX);
}

#[test]
fn e8m0_is_positive_and_its_own_absolute_value() {
    for x in E8M0::codes() {
        assert_eq!(bits(x.abs()), bits(x));
        assert!(x.is_sign_positive() && !x.is_sign_negative());
        assert!(
            !x.to_f32().is_sign_negative(),
            "every decoded value is positive"
        );
    }
}

// ----- classification --------------------------------------------------------

/// The category from the value alone: NaN, ±Inf, ±0, below the smallest
/// normal (subnormal) or not.
fn category_from_value(v: f32, min_normal: f32) -> FpCategory {
    if v.is_nan() {
        FpCategory::Nan
    } else if v.is_infinite() {
        FpCategory::Infinite
    } else if v == 0.0 {
        FpCategory::Zero
    } else if v.abs() < min_normal {
        FpCategory::Subnormal
    } else {
        FpCategory::Normal
    }
}

fn classify_matches<T: Ergonomic>(min_normal: f32) {
    for x in T::codes() {
        let c = x.classify();
        assert_eq!(
            c,
            category_from_value(x.to_f32(), min_normal),
            "{} {x:#x}",
            T::NAME
        );
        assert_eq!(x.is_normal(), c == FpCategory::Normal);
        assert_eq!(x.is_subnormal(), c == FpCategory::Subnormal);
        assert_eq!(x.is_nan(), c == FpCategory::Nan);
    }
}

#[test]
fn classify_is_the_category_in_the_element_format() {
    // Minifloats: subnormal exactly below MIN_POSITIVE = 2^(1 − bias).
    classify_matches::<E2M1>(1.0);
    classify_matches::<E2M3>(1.0);
    classify_matches::<E3M2>(0.25);
    classify_matches::<E4M3>(2f32.powi(-6));
    classify_matches::<E5M2>(2f32.powi(-14));
    // Int8 has no subnormal range; k/64 is a normal f32, so f32 agrees.
    classify_matches::<Int8>(0.0);
    for x in Int8::codes() {
        assert_eq!(x.classify(), x.to_f32().classify());
    }
    // E8M0 has no subnormals: 2^-127 (0x00), an f32 subnormal, is normal here.
    classify_matches::<E8M0>(0.0);
    assert_eq!(E8M0::MIN.classify(), FpCategory::Normal);
    assert_eq!(E8M0::MIN.to_f32().classify(), FpCategory::Subnormal);
    // The counts, from the layouts: E4M3 has 2 NaNs, 2 zeros, 14 subnormals.
    let count = |c| E4M3::codes().filter(|x| x.classify() == c).count();
    assert_eq!(
        [
            FpCategory::Nan,
            FpCategory::Zero,
            FpCategory::Subnormal,
            FpCategory::Normal
        ]
        .map(count),
        [2, 2, 14, 238]
    );
    let count = |c| E5M2::codes().filter(|x| x.classify() == c).count();
    assert_eq!(count(FpCategory::Infinite), 2);
    assert_eq!(count(FpCategory::Nan), 6);
}

// ----- FromStr ---------------------------------------------------------------

fn parse_is_from_f64<T: Ergonomic>() {
    for s in [
        "0.1", "-inf", "inf", "nan", "NaN", "1e9", "-1e9", "-0", "0.3125", "1e-40",
    ] {
        let want = T::round_f64(s.parse::<f64>().unwrap());
        assert_eq!(bits(s.parse::<T>().unwrap()), bits(want), "{} {s}", T::NAME);
    }
    for s in ["garbage", "", "0x10", "1,5"] {
        let err = s.parse::<T>().unwrap_err();
        assert_eq!(err, s.parse::<f64>().unwrap_err(), "{} {s:?}", T::NAME);
    }
}

#[test]
fn from_str_parses_f64_and_rounds_once_more() {
    for_all_types!(parse_is_from_f64);
    let p = |s: &str| s.parse::<E4M3>().unwrap();
    assert_eq!(p("0.1").to_f32(), 0.1015625);
    assert_eq!(bits(p("-inf")), 0xFF, "E4M3 has no Inf: −Inf is −NaN");
    assert!(p("nan").is_nan() && p("1e9").is_nan());
    assert_eq!("-inf".parse::<E5M2>().unwrap(), E5M2::NEG_INFINITY);
    assert_eq!("1e9".parse::<E5M2>().unwrap(), E5M2::INFINITY);
    assert_eq!(
        bits("nan".parse::<E2M1>().unwrap()),
        0x8,
        "ml_dtypes: +NaN → −0"
    );
    assert_eq!("1e9".parse::<E2M1>().unwrap(), E2M1::MAX);
    assert_eq!("1e9".parse::<E8M0>().unwrap().exponent(), Some(30));
    assert!("-1".parse::<E8M0>().unwrap().is_nan());
    assert_eq!("1e9".parse::<Int8>().unwrap(), Int8::MAX);
    assert_eq!("-inf".parse::<Int8>().unwrap(), Int8::MIN);
}

// ----- bit formatting --------------------------------------------------------

fn formats_the_bits<T: Ergonomic>() {
    for x in T::codes() {
        let b = bits(x);
        assert_eq!(format!("{x:x}"), format!("{b:x}"));
        assert_eq!(format!("{x:#04X}"), format!("{b:#04X}"));
        assert_eq!(format!("{x:08b}"), format!("{b:08b}"));
        assert_eq!(format!("{x:#o}"), format!("{b:#o}"));
    }
}

#[test]
fn hex_binary_and_octal_show_the_encoding() {
    for_all_types!(formats_the_bits);
    assert_eq!(format!("{:#04x}", E4M3::NAN), "0x7f");
    assert_eq!(format!("{:X}", E5M2::NEG_INFINITY), "FC");
    assert_eq!(format!("{:04b}", E2M1::MIN), "1111");
    assert_eq!(format!("{:o}", Int8::MIN), "201");
    assert_eq!(format!("{:x}", E8M0::ONE), "7f");
}

// ----- const conversions -----------------------------------------------------

/// Inputs for the compile-time conversions: the special values, then
/// pseudo-random bf16 bit patterns (a bijection of the index, so no
/// repeats) as f32, every other one with random low bits (so that ties and
/// sticky bits both occur), and f64s with random low bits. Constant
/// evaluation is slow (all 2^16 bf16 values for every type took a minute of
/// compile time), so this is a sample of 2^12; run time checks them all.
const SPECIAL_F32: [u32; 12] = [
    0x0000_0000,
    0x8000_0000,
    0x7F80_0000,
    0xFF80_0000,
    0x7FC0_0000,
    0xFFC0_0000,
    0x7F80_0001,
    0x0000_0001,
    0x0040_0000,
    0x0040_0001,
    0x3F80_0000,
    0x7F7F_FFFF,
];

const fn mix(i: usize) -> u64 {
    (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

const fn f32_input(i: usize) -> f32 {
    if i < SPECIAL_F32.len() {
        return f32::from_bits(SPECIAL_F32[i]);
    }
    let pattern = (i as u32).wrapping_mul(0x9E37) & 0xFFFF;
    let low = if i % 2 == 1 { (mix(i) >> 48) as u32 } else { 0 };
    f32::from_bits(pattern << 16 | low)
}

const fn f64_input(i: usize) -> f64 {
    let pattern = (i as u64).wrapping_mul(0x9E37) & 0xFFFF;
    f64::from_bits(pattern << 48 | mix(i) >> 16)
}

/// `from_f32_const` and `from_f64_const` of the inputs, computed by the
/// compiler, against the run-time conversions.
macro_rules! const_tables {
    ($t:ident) => {{
        const N: usize = 1 << 12;
        const F32: [u8; N] = {
            let mut t = [0u8; N];
            let mut i = 0;
            while i < N {
                t[i] = $t::from_f32_const(f32_input(i)).to_bits();
                i += 1;
            }
            t
        };
        const F64: [u8; N] = {
            let mut t = [0u8; N];
            let mut i = 0;
            while i < N {
                t[i] = $t::from_f64_const(f64_input(i)).to_bits();
                i += 1;
            }
            t
        };
        for i in 0..N {
            let (x, y) = (f32_input(i), f64_input(i));
            let name = stringify!($t);
            assert_eq!(F32[i], $t::from_f32(x).to_bits(), "{name} from_f32({x:e})");
            assert_eq!(F64[i], $t::from_f64(y).to_bits(), "{name} from_f64({y:e})");
        }
        // And at run time, every bf16 value.
        for p in 0..1u32 << 16 {
            let x = f32::from_bits(p << 16);
            assert_eq!($t::from_f32_const(x).to_bits(), $t::from_f32(x).to_bits());
        }
    }};
}

#[test]
fn const_conversions_equal_the_run_time_ones() {
    const_tables!(E2M1);
    const_tables!(E2M3);
    const_tables!(E3M2);
    const_tables!(E4M3);
    const_tables!(E5M2);
    const_tables!(E8M0);
    const_tables!(Int8);
}

#[test]
fn const_conversions_in_constant_expressions() {
    const X: E4M3 = E4M3::from_f32_const(0.1);
    assert_eq!(X.to_f32(), 0.1015625);
    // A NaN's sign survives compile-time conversion.
    const NEG_NAN: E4M3 = E4M3::from_f32_const(-f32::NAN);
    assert_eq!(NEG_NAN.to_bits(), 0xFF);
    const NAN_TO_ZERO: E2M1 = E2M1::from_f32_const(f32::NAN);
    assert_eq!(NAN_TO_ZERO.to_bits(), 0x8);
    // E8M0's f32-subnormal rule (ml_dtypes rounds them up to 2^-126).
    const TINY: E8M0 = E8M0::from_f32_const(f32::from_bits(0x0040_0001));
    assert_eq!(TINY.to_bits(), 1);
    const HALF: f64 = Int8::from_f64_const(0.5).to_f64_const();
    assert_eq!(HALF, 0.5);
}

fn to_f64_const_is_exact<T: Ergonomic>() {
    for x in T::codes() {
        assert_eq!(x.to_f64_const().to_bits(), x.exact_f64().to_bits());
        let v = x.to_f32();
        assert!(v.is_nan() || x.to_f64_const() == v as f64);
    }
}

#[test]
fn to_f64_const_is_to_f64() {
    for_all_types!(to_f64_const_is_exact);
}

// ----- feature `serde` -------------------------------------------------------

#[cfg(feature = "serde")]
mod serde_impls {
    use super::*;
    use serde::de::value::{Error, F64Deserializer, StrDeserializer};

    fn json_round_trip<T: Ergonomic + serde::Serialize + serde::de::DeserializeOwned>() {
        for x in T::codes() {
            let s = serde_json::to_string(&x).unwrap();
            assert_eq!(
                s,
                bits(x).to_string(),
                "{} is serialized as its code",
                T::NAME
            );
            let back: T = serde_json::from_str(&s).unwrap();
            assert_eq!(bits(back), bits(x), "{} {x:#x}", T::NAME);
        }
        // A code too wide for the format, or not a code at all, is an error.
        let too_wide = (1u32 << T::BITS).to_string();
        assert!(serde_json::from_str::<T>(&too_wide).is_err(), "{}", T::NAME);
        assert!(serde_json::from_str::<T>("-1").is_err());
        assert!(serde_json::from_str::<T>("0.5").is_err());
    }

    #[test]
    fn every_code_round_trips_through_json() {
        for_all_types!(json_round_trip);
        assert_eq!(serde_json::to_string(&E4M3::NAN).unwrap(), "127");
        assert_eq!(
            serde_json::to_string(&[E2M1::MIN, E2M1::MAX]).unwrap(),
            "[15,7]"
        );
    }

    fn from_numbers_and_strings<T: Ergonomic + for<'de> serde::Deserialize<'de>>() {
        for v in [0.1, -3.7, 1e9, f64::NEG_INFINITY] {
            let x = T::deserialize(F64Deserializer::<Error>::new(v)).unwrap();
            assert_eq!(bits(x), bits(T::round_f64(v)), "{} {v}", T::NAME);
        }
        let x = T::deserialize(StrDeserializer::<Error>::new("0.1")).unwrap();
        assert_eq!(bits(x), bits(T::round_f64(0.1)));
        assert!(T::deserialize(StrDeserializer::<Error>::new("garbage")).is_err());
    }

    #[test]
    fn formats_that_hand_over_a_number_or_string_convert_it() {
        for_all_types!(from_numbers_and_strings);
    }
}

// ----- feature `num-traits` --------------------------------------------------

#[cfg(feature = "num-traits")]
mod num_traits_impls {
    use super::*;
    use num_traits::{AsPrimitive, Bounded, FromPrimitive, NumCast, ToPrimitive};

    fn to_primitive_is_f32_s<T: Ergonomic + ToPrimitive + AsPrimitive<f32> + AsPrimitive<f64>>() {
        for x in T::codes() {
            let v = x.to_f32();
            assert_eq!(ToPrimitive::to_i64(&x), v.to_i64(), "{} {x:#x}", T::NAME);
            assert_eq!(ToPrimitive::to_u64(&x), v.to_u64());
            assert_eq!(ToPrimitive::to_i8(&x), v.to_i8());
            assert_eq!(ToPrimitive::to_u128(&x), v.to_u128());
            let f = ToPrimitive::to_f32(&x).unwrap();
            assert_eq!(f.to_bits(), v.to_bits());
            assert_eq!(<T as AsPrimitive<f32>>::as_(x).to_bits(), v.to_bits());
            assert_eq!(
                <T as AsPrimitive<f64>>::as_(x).to_bits(),
                x.exact_f64().to_bits()
            );
        }
    }

    /// The nearest power of two to `n ≥ 1`, ties away from zero, by integer
    /// arithmetic: E8M0's default rounding, as an exponent.
    fn nearest_pow2_exponent(n: u128) -> i32 {
        let k = 127 - n.leading_zeros() as i32;
        let up = k >= 1 && n - (1u128 << k) >= 1u128 << (k - 1);
        k + up as i32
    }

    #[test]
    fn to_primitive_and_as_primitive_are_f32_s() {
        to_primitive_is_f32_s::<E2M1>();
        to_primitive_is_f32_s::<E2M3>();
        to_primitive_is_f32_s::<E3M2>();
        to_primitive_is_f32_s::<E4M3>();
        to_primitive_is_f32_s::<E5M2>();
        to_primitive_is_f32_s::<E8M0>();
        to_primitive_is_f32_s::<Int8>();
        assert_eq!(E8M0::MAX.to_u128(), Some(1 << 127));
        assert_eq!(E8M0::MAX.to_i64(), None);
        assert_eq!(E4M3::NAN.to_i32(), None);
        assert_eq!(Int8::MIN.to_i8(), Some(-1), "−127/64 truncates to −1");
    }

    fn small_integers_convert_as_f64<T: Ergonomic + FromPrimitive>() {
        for n in -70_000i64..=70_000 {
            let want = bits(T::round_f64(n as f64));
            assert_eq!(bits(<T as FromPrimitive>::from_i64(n).unwrap()), want);
            assert_eq!(
                bits(<T as FromPrimitive>::from_i32(n as i32).unwrap()),
                want
            );
        }
        for v in [0.1f64, -2.5, 1e30, f64::NAN, -f64::NAN] {
            let x = <T as FromPrimitive>::from_f64(v).unwrap();
            assert_eq!(bits(x), bits(T::round_f64(v)));
            let x = <T as FromPrimitive>::from_f32(v as f32).unwrap();
            assert_eq!(bits(x), bits(<T as Element>::from_f32(v as f32)));
        }
    }

    #[test]
    fn from_primitive_rounds_integers_once() {
        for_all_types!(small_integers_convert_as_f64);
        // Integers far beyond 2^53 round once, from their exact value: for
        // E8M0 against the nearest power of two by integer arithmetic, at
        // and around every tie 1.5·2^k.
        for k in 1..127u32 {
            let tie = 3u128 << (k - 1);
            for n in [tie - 1, tie, tie + 1, 1 << k, (1 << k) + 1] {
                let want = nearest_pow2_exponent(n);
                let got = E8M0::from_u128(n).unwrap();
                if want > 127 {
                    assert!(got.is_nan(), "{n}");
                } else {
                    assert_eq!(got.exponent(), Some(want), "{n}");
                }
            }
        }
        // Where `as f64` would round 3·2^60 − 1 up to the tie 3·2^60 and
        // then away from zero, to 2^62:
        let n = (3u64 << 60) - 1;
        assert_eq!(E8M0::from_u64(n).unwrap().exponent(), Some(61));
        assert_eq!(E8M0::from_f64(n as f64).exponent(), Some(62));
        assert_eq!(E8M0::from_u128(u128::MAX).map(E8M0::is_nan), Some(true));
        assert_eq!(E4M3::from_i64(i64::MIN).map(bits), Some(0xFF), "−NaN");
        assert_eq!(E5M2::from_u64(u64::MAX), Some(E5M2::INFINITY));
        assert_eq!(Int8::from_i64(-1000), Some(Int8::MIN));
        assert_eq!(E2M1::from_i128(i128::MIN), Some(E2M1::MIN));
    }

    #[test]
    fn num_cast_uses_the_exact_integer() {
        let c: E8M0 = num_traits::cast((3u64 << 60) - 1).unwrap();
        assert_eq!(c.exponent(), Some(61));
        let c: E8M0 = num_traits::cast(3i128 << 100).unwrap();
        assert_eq!(
            c.exponent(),
            Some(102),
            "the tie itself goes away from zero"
        );
        let c: E4M3 = num_traits::cast(0.1f64).unwrap();
        assert_eq!(c.to_f32(), 0.1015625);
        let c: E4M3 = <E4M3 as NumCast>::from(E2M1::MAX).unwrap();
        assert_eq!(c.to_f32(), 6.0);
        assert_eq!(num_traits::cast::<_, f32>(E5M2::MAX), Some(57344.0));
        assert_eq!(num_traits::cast::<_, i32>(E4M3::NAN), None);
        assert_eq!(num_traits::cast::<_, u8>(Int8::MIN), None);
    }

    #[test]
    fn bounded_is_min_and_max() {
        fn check<T: Ergonomic + Bounded>(min: T, max: T) {
            assert_eq!(bits(T::min_value()), bits(min));
            assert_eq!(bits(T::max_value()), bits(max));
        }
        check(E2M1::MIN, E2M1::MAX);
        check(E2M3::MIN, E2M3::MAX);
        check(E3M2::MIN, E3M2::MAX);
        check(E4M3::MIN, E4M3::MAX);
        check(E5M2::MIN, E5M2::MAX);
        check(E8M0::MIN, E8M0::MAX);
        check(Int8::MIN, Int8::MAX);
        assert_eq!(Int8::min_value().to_f32(), -127.0 / 64.0);
        assert_eq!(E8M0::min_value().exponent(), Some(-127));
    }
}

// ----- feature `zerocopy` ----------------------------------------------------

#[cfg(feature = "zerocopy")]
mod zerocopy_impls {
    use super::*;
    use zerocopy::{FromBytes, IntoBytes};

    fn bytes_are_codes<
        T: Ergonomic + FromBytes + IntoBytes + zerocopy::Immutable + zerocopy::KnownLayout,
    >() {
        let bytes: Vec<u8> = (0..=255).collect();
        let view = <[T]>::ref_from_bytes(&bytes).unwrap();
        for (b, x) in bytes.iter().zip(view) {
            let cast: T = blockscale::bytemuck::cast(*b);
            assert_eq!(x.as_bytes(), [*b]);
            assert_eq!(x.to_f32().to_bits(), cast.to_f32().to_bits());
            let read = T::read_from_bytes(&[*b]).unwrap();
            assert_eq!(read.to_f32().to_bits(), T::from_bits(*b).to_f32().to_bits());
        }
        assert_eq!(view.as_bytes(), &bytes[..]);
    }

    #[test]
    fn zerocopy_reads_and_writes_the_codes() {
        for_all_types!(bytes_are_codes);
        assert_eq!([E4M3::ONE, E4M3::NAN].as_bytes(), [0x38, 0x7F]);
    }
}

// ----- fnuz: no −0, 0x80 the one NaN ------------------------------------------

/// For every code (and every pair for `copysign`), the fnuz sign operations
/// equal f32's on the decoded values with −0 read as +0 (the format has no
/// −0) and NaN kept NaN; `classify` is f32's except that the codes below
/// 2^(1 − bias) are subnormal here.
fn fnuz_sign_ops_match_f32<T: Element + core::ops::Neg<Output = T>>(
    abs: fn(T) -> T,
    signum: fn(T) -> T,
    copysign: fn(T, T) -> T,
) {
    let same = |got: T, want: f32, what: &str, c: u8| {
        let g = got.to_f32();
        let ok = if want.is_nan() {
            g.is_nan()
        } else {
            g == want && !(g == 0.0 && g.is_sign_negative())
        };
        assert!(ok, "{} {what}({c:#04x}): got {g}, want {want}", T::NAME);
    };
    assert_eq!(
        T::from_bits(0x80).to_f32().to_bits(),
        0xFFC0_0000,
        "{} NaN decodes to −NaN",
        T::NAME
    );
    for c in 0..=255u8 {
        let x = T::from_bits(c);
        let v = x.to_f32();
        same(abs(x), v.abs(), "abs", c);
        same(-x, if v == 0.0 { 0.0 } else { -v }, "neg", c);
        same(signum(x), v.signum(), "signum", c);
        for s in 0..=255u8 {
            let sv = T::from_bits(s).to_f32();
            let want = if v == 0.0 || v.is_nan() {
                v
            } else {
                v.copysign(sv)
            };
            same(copysign(x, T::from_bits(s)), want, "copysign", c);
        }
    }
}

#[test]
fn fnuz_sign_operations_follow_f32_without_negative_zero() {
    fnuz_sign_ops_match_f32::<E4M3Fnuz>(E4M3Fnuz::abs, E4M3Fnuz::signum, E4M3Fnuz::copysign);
    fnuz_sign_ops_match_f32::<E5M2Fnuz>(E5M2Fnuz::abs, E5M2Fnuz::signum, E5M2Fnuz::copysign);
    // No code is −0, and only 0x80 is NaN.
    for c in 0..=255u8 {
        let v = E4M3Fnuz::from_bits(c).to_f32();
        assert!(!(v == 0.0 && v.is_sign_negative()));
        assert_eq!(v.is_nan(), c == 0x80);
        assert_eq!(E5M2Fnuz::from_bits(c).to_f32().is_nan(), c == 0x80);
    }
}
