//! A property test as a downstream crate writes it, with `blockscale::testing`
//! alone: every element encoder (saturating, ties to even) against the
//! kit's rounding oracle, on every code and on every value, neighbour and
//! tie of the format, then on proptest's inputs.

use blockscale::element::{ConvertOptions, Overflow};
use blockscale::testing::{grid_points, nearest_even_saturating};
use blockscale::{E2M1, E2M3, E3M2, E4M3, E4M3Fnuz, E5M2, E5M2Fnuz, Element, Int8};

const SAT: ConvertOptions = ConvertOptions {
    overflow: Overflow::Saturate,
    ..ConvertOptions::ML_DTYPES
};

fn encoder_is_the_oracle<T: Element + PartialEq + std::fmt::Debug>() {
    for x in grid_points::<T>().into_iter().filter(|x| !x.is_nan()) {
        let want = nearest_even_saturating::<T>(x);
        assert_eq!(Some(T::from_f32_with(x, SAT)), want, "{} {x:e}", T::NAME);
    }
    for c in T::codes().filter(|c| c.to_f32().abs() <= T::MAX_F32) {
        assert_eq!(T::from_f32_with(c.to_f32(), SAT), c, "{}", T::NAME);
    }
}

#[test]
fn every_element_encoder_is_the_kits_oracle() {
    encoder_is_the_oracle::<E2M1>();
    encoder_is_the_oracle::<E2M3>();
    encoder_is_the_oracle::<E3M2>();
    encoder_is_the_oracle::<E4M3>();
    encoder_is_the_oracle::<E5M2>();
    encoder_is_the_oracle::<E4M3Fnuz>();
    encoder_is_the_oracle::<E5M2Fnuz>();
    encoder_is_the_oracle::<Int8>();
}

/// The oracle itself, by hand: E2M1's values are 0, 0.5, 1, 1.5, 2, 3, 4, 6.
#[test]
fn the_oracle_rounds_e2m1_by_hand() {
    let f = |x: f32| nearest_even_saturating::<E2M1>(x).map(E2M1::to_f32);
    let cases = [
        (0.25, 0.0),
        (0.75, 1.0),
        (1.25, 1.0),
        (1.75, 2.0),
        (2.5, 2.0),
        (3.5, 4.0),
    ];
    for (x, want) in cases
        .into_iter()
        .chain([(5.0, 4.0), (5.01, 6.0), (1e9, 6.0), (-2.5, -2.0)])
    {
        assert_eq!(f(x), Some(want), "{x}");
    }
    assert!(f(-0.1).unwrap().is_sign_negative() && f(f32::NAN).is_none());
}

#[cfg(feature = "proptest")]
mod with_proptest {
    use super::*;
    use blockscale::testing::strategy;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn e4m3_on_any_input(x in strategy::inputs::<E4M3>()) {
            prop_assume!(!x.is_nan());
            prop_assert_eq!(Some(E4M3::from_f32_with(x, SAT)), nearest_even_saturating::<E4M3>(x));
        }

        #[test]
        fn e3m2_codes_decode_and_encode_back(c in strategy::codes::<E3M2>()) {
            prop_assert_eq!(E3M2::from_f32(c.to_f32()), c);
        }
    }
}
