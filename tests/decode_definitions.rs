//! Every code of every element format decodes to the value its definition
//! gives, computed here from sign, exponent, mantissa and bias (OCP MX v1.0
//! §5, docs/SEMANTICS.md §1) without the crate's tables or specs.

use blockscale::{E2M1, E2M3, E3M2, E4M3, E4M3Fnuz, E5M2, E5M2Fnuz, E8M0, Element, Int8};

#[derive(Clone, Copy)]
enum Special {
    None,
    NanOnly,
    InfNan,
    /// No −0: the code with only the sign bit set is NaN (Graphcore/AMD fnuz).
    Fnuz,
}

/// The value of `code` in a sign–exponent–mantissa format, from the OCP definition.
fn definition(code: u32, e_bits: u32, m_bits: u32, bias: i32, special: Special) -> f64 {
    let sign = if code >> (e_bits + m_bits) & 1 == 1 {
        -1.0
    } else {
        1.0
    };
    let e = (code >> m_bits) & ((1 << e_bits) - 1);
    let m = code & ((1 << m_bits) - 1);
    let e_max = (1 << e_bits) - 1;
    match special {
        Special::InfNan if e == e_max && m == 0 => return sign * f64::INFINITY,
        Special::InfNan if e == e_max => return f64::NAN,
        Special::NanOnly if e == e_max && m == (1 << m_bits) - 1 => return f64::NAN,
        Special::Fnuz if sign < 0.0 && e == 0 && m == 0 => return f64::NAN,
        _ => {}
    }
    let frac = m as f64 / (1u32 << m_bits) as f64;
    if e == 0 {
        sign * frac * 2f64.powi(1 - bias)
    } else {
        sign * (1.0 + frac) * 2f64.powi(e as i32 - bias)
    }
}

fn check_all_codes<T: Element>(def: impl Fn(u32) -> f64) {
    for code in 0..1u32 << T::BITS {
        let want = def(code);
        let got = T::from_bits(code as u8).to_f32() as f64;
        if want.is_nan() {
            assert!(
                got.is_nan(),
                "{} code {code:#04x}: want NaN, got {got}",
                T::NAME
            );
        } else {
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{} code {code:#04x}: want {want}, got {got}",
                T::NAME
            );
        }
        // High bits of the byte are ignored.
        if T::BITS < 8 {
            let high = T::from_bits((code | 0x80) as u8);
            assert_eq!(high.to_bits(), code as u8);
        }
    }
}

#[test]
fn minifloat_codes_match_their_definition() {
    check_all_codes::<E2M1>(|c| definition(c, 2, 1, 1, Special::None));
    check_all_codes::<E2M3>(|c| definition(c, 2, 3, 1, Special::None));
    check_all_codes::<E3M2>(|c| definition(c, 3, 2, 3, Special::None));
    check_all_codes::<E4M3>(|c| definition(c, 4, 3, 7, Special::NanOnly));
    check_all_codes::<E5M2>(|c| definition(c, 5, 2, 15, Special::InfNan));
    check_all_codes::<E4M3Fnuz>(|c| definition(c, 4, 3, 8, Special::Fnuz));
    check_all_codes::<E5M2Fnuz>(|c| definition(c, 5, 2, 16, Special::Fnuz));
}

#[test]
fn e8m0_and_int8_codes_match_their_definition() {
    check_all_codes::<E8M0>(|c| {
        if c == 0xFF {
            f64::NAN
        } else {
            2f64.powi(c as i32 - 127)
        }
    });
    check_all_codes::<Int8>(|c| (c as u8 as i8) as f64 / 64.0);
}

#[test]
fn e2m1_values_are_the_ocp_list() {
    let want = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0];
    for (code, &v) in want.iter().enumerate() {
        assert_eq!(E2M1::from_bits(code as u8).to_f32(), v);
        assert_eq!(E2M1::from_bits(code as u8 | 0x8).to_f32(), -v);
    }
}

/// The docs/SEMANTICS.md §1 table: max finite, min normal, min subnormal, epsilon.
#[test]
fn constants_match_the_format_table() {
    macro_rules! check {
        ($t:ty, $max:expr, $min_normal:expr, $min_sub:expr, $eps:expr) => {
            assert_eq!(<$t>::MAX.to_f32(), $max, stringify!($t));
            assert_eq!(<$t>::MIN.to_f32(), -$max, stringify!($t));
            assert_eq!(<$t>::MIN_POSITIVE.to_f32(), $min_normal, stringify!($t));
            assert_eq!(
                <$t>::MIN_POSITIVE_SUBNORMAL.to_f32(),
                $min_sub,
                stringify!($t)
            );
            assert_eq!(<$t>::EPSILON.to_f32(), $eps, stringify!($t));
            assert_eq!(<$t>::ONE.to_f32(), 1.0, stringify!($t));
            assert_eq!(<$t>::ZERO.to_f32(), 0.0, stringify!($t));
            assert_eq!(<$t as Element>::MAX_F32, $max, stringify!($t));
        };
        ($t:ty, $max:expr, $min_normal:expr, $min_sub:expr, $eps:expr, signed_zero) => {
            check!($t, $max, $min_normal, $min_sub, $eps);
            assert!(<$t>::NEG_ZERO.to_f32().is_sign_negative(), stringify!($t));
        };
    }
    check!(E2M1, 6.0, 1.0, 0.5, 0.5, signed_zero);
    check!(E2M3, 7.5, 1.0, 0.125, 0.125, signed_zero);
    check!(E3M2, 28.0, 0.25, 0.0625, 0.25, signed_zero);
    check!(
        E4M3,
        448.0,
        2f32.powi(-6),
        2f32.powi(-9),
        0.125,
        signed_zero
    );
    check!(
        E5M2,
        57344.0,
        2f32.powi(-14),
        2f32.powi(-16),
        0.25,
        signed_zero
    );
    // AMD's fnuz types: bias one more than OCP's, every exponent finite.
    check!(E4M3Fnuz, 240.0, 2f32.powi(-7), 2f32.powi(-10), 0.125);
    check!(E5M2Fnuz, 57344.0, 2f32.powi(-15), 2f32.powi(-17), 0.25);
    for nan in [E4M3Fnuz::NAN.to_bits(), E5M2Fnuz::NAN.to_bits()] {
        assert_eq!(nan, 0x80);
    }
    assert!(E4M3Fnuz::NAN.is_nan() && E5M2Fnuz::NAN.is_nan());
    assert!(!E4M3Fnuz::from_bits(0xFF).is_nan() && !E4M3Fnuz::from_bits(0x7F).is_infinite());
    assert!(E4M3::NAN.is_nan() && E4M3::NAN.to_bits() == 0x7F);
    assert!(E4M3::from_bits(0xFF).is_nan());
    assert!(!E4M3::from_bits(0x7E).is_nan());
    assert!(E5M2::NAN.is_nan() && E5M2::NAN.to_bits() == 0x7E);
    assert_eq!(E5M2::INFINITY.to_f32(), f32::INFINITY);
    assert_eq!(E5M2::NEG_INFINITY.to_f32(), f32::NEG_INFINITY);
    assert!(E5M2::INFINITY.is_infinite() && !E5M2::INFINITY.is_finite());
    assert_eq!(E8M0::MAX.to_f32(), 2f32.powi(127));
    assert_eq!(E8M0::MIN_POSITIVE.to_f32(), 2f32.powi(-127));
    assert!(E8M0::NAN.is_nan());
    assert_eq!(Int8::MAX.to_f32(), 127.0 / 64.0);
    assert_eq!(Int8::MIN.to_f32(), -127.0 / 64.0);
    assert_eq!(Int8::EPSILON.to_f32(), 1.0 / 64.0);
}

#[test]
fn comparison_and_formatting_are_by_value() {
    assert_eq!(E4M3::ZERO, E4M3::NEG_ZERO);
    assert_ne!(E4M3::NAN, E4M3::NAN);
    assert!(E4M3::from_f32(-1.0) < E4M3::from_f32(0.5));
    assert!(E2M1::MAX > E2M1::MIN);
    assert_eq!(E4M3::NAN.partial_cmp(&E4M3::ONE), None);
    assert_eq!(format!("{}", E4M3::from_f32(1.5)), "1.5");
    assert_eq!(format!("{:?}", E5M2::from_f32(-2.0)), "-2.0");
    assert_eq!(format!("{}", E8M0::NAN), "NaN");
    assert_eq!(f32::from(E2M3::MAX), 7.5);
    assert_eq!(f64::from(Int8::ONE), 1.0);
    assert_eq!(E4M3::from_f16(half::f16::from_f32(3.0)).to_f32(), 3.0);
    assert_eq!(
        E5M2::from_bf16(half::bf16::from_f32(-0.375)).to_f32(),
        -0.375
    );
    let bytes: &[u8] = bytemuck::cast_slice(&[E4M3::ONE, E4M3::MAX]);
    assert_eq!(bytes, [0x38, 0x7E]);
}
