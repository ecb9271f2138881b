//! Rounding modes other than the ml_dtypes default, checked against values
//! worked out by hand and against first principles (stochastic rounding's
//! distribution).

use blockscale::element::{ConvertOptions, NanToFinite, Overflow, RandomBits, Rounding, slice};
use blockscale::{E2M1, E2M3, E3M2, E4M3, E5M2, E8M0, Element, Int8};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

fn with(r: Rounding) -> ConvertOptions {
    ConvertOptions::ML_DTYPES.with_rounding(r)
}

#[test]
fn directed_rounding_golden_values() {
    // E2M1 neighbours of 2.2 are 2 and 3; of -2.2, -3 and -2.
    let cases: [(Rounding, f32, f32); 10] = [
        (Rounding::TowardZero, 2.9, 2.0),
        (Rounding::TowardZero, -2.9, -2.0),
        (Rounding::Up, 2.2, 3.0),
        (Rounding::Up, -2.9, -2.0),
        (Rounding::Down, 2.9, 2.0),
        (Rounding::Down, -2.2, -3.0),
        (Rounding::NearestTiesAway, 2.5, 3.0),
        (Rounding::NearestTiesAway, -0.25, -0.5),
        (Rounding::NearestEven, 0.25, 0.0),
        (Rounding::Up, 1e-30, 0.5),
    ];
    for (r, x, want) in cases {
        assert_eq!(E2M1::from_f32_with(x, with(r)).to_f32(), want, "{r:?} {x}");
    }
    // Overflow under round-toward-zero is ±max, not NaN (IEEE 754 §7.4).
    assert_eq!(
        E4M3::from_f32_with(1000.0, with(Rounding::TowardZero)),
        E4M3::MAX
    );
    assert_eq!(E4M3::from_f32_with(-1000.0, with(Rounding::Up)), E4M3::MIN);
    assert!(E4M3::from_f32_with(-1000.0, with(Rounding::Down)).is_nan());
    assert_eq!(E5M2::from_f32_with(1e6, with(Rounding::Up)), E5M2::INFINITY);
    // E8M0 directions: floor(log2) and ceil(log2).
    assert_eq!(
        E8M0::from_f32_with(6.0, with(Rounding::Down)).exponent(),
        Some(2)
    );
    assert_eq!(
        E8M0::from_f32_with(6.0, with(Rounding::Up)).exponent(),
        Some(3)
    );
    assert_eq!(
        E8M0::from_f32_with(4.0, with(Rounding::Up)).exponent(),
        Some(2)
    );
    assert_eq!(
        E8M0::from_f32_with(3.0, with(Rounding::NearestEven)).exponent(),
        Some(1) // tie between codes 128 and 129: even is 128 = 2^1
    );
    assert_eq!(
        E8M0::from_f32_with(3.0, with(Rounding::NearestTiesAway)).exponent(),
        Some(2)
    );
    assert_eq!(
        E8M0::from_f32_with(1.5, with(Rounding::NearestEven)).exponent(),
        Some(1)
    );
    // INT8: x·64 rounded; -3/128 → -1.5 units → -2 (even), toward zero -1.
    assert_eq!(Int8::from_f32(-3.0 / 128.0).to_bits() as i8, -2);
    assert_eq!(
        Int8::from_f32_with(-3.0 / 128.0, with(Rounding::TowardZero)).to_bits() as i8,
        -1
    );
    assert_eq!(
        Int8::from_f32_with(-3.0 / 128.0, with(Rounding::Down)).to_bits() as i8,
        -2
    );
}

#[test]
fn nan_policies_into_formats_without_nan() {
    let neg_nan = f32::from_bits(0xFFC0_0000);
    let opt = |nan| ConvertOptions {
        nan,
        ..ConvertOptions::ML_DTYPES
    };
    assert_eq!(E2M1::from_f32(f32::NAN).to_bits(), 0x8);
    assert_eq!(E2M1::from_f32(neg_nan).to_bits(), 0x0);
    assert_eq!(
        E3M2::from_f32_with(neg_nan, opt(NanToFinite::Zero)).to_bits(),
        0
    );
    assert_eq!(
        E2M3::from_f32_with(neg_nan, opt(NanToFinite::PositiveMax)),
        E2M3::MAX
    );
    assert_eq!(
        E2M1::from_f32_with(f32::NAN, ConvertOptions::SATFINITE).to_f32(),
        6.0
    );
    assert!(E4M3::from_f32_with(f32::NAN, ConvertOptions::SATFINITE).is_nan());
    assert_eq!(
        E4M3::from_f32_with(f32::NEG_INFINITY, ConvertOptions::SATFINITE),
        E4M3::MIN
    );
    assert_eq!(
        E8M0::from_f32_with(0.0, ConvertOptions::SATFINITE),
        E8M0::MIN
    );
    assert_eq!(
        E8M0::from_f32_with(f32::INFINITY, ConvertOptions::SATFINITE),
        E8M0::MAX
    );
}

#[test]
fn f64_inputs_round_once() {
    // 1 + 2^-4 + 2^-40 is just above the E4M3 tie between 1 and 1.125: from f64
    // it rounds up; through f32 (which drops 2^-40) it would tie to 1.
    let x = 1.0 + 2f64.powi(-4) + 2f64.powi(-40);
    assert_eq!(E4M3::from_f64(x).to_f32(), 1.125);
    assert_eq!(E4M3::from_f32(x as f32).to_f32(), 1.0);
    assert_eq!(E8M0::from_f64(1e300).to_bits(), 0xFF);
    assert_eq!(E2M1::from_f64(-1e-300).to_bits(), 0x8);
}

/// The two representable neighbours of `x` in `T`, by scanning every code.
fn neighbours<T: Element>(x: f32) -> (f32, f32) {
    let vals: Vec<f32> = (0..1u32 << T::BITS)
        .map(|c| T::from_bits(c as u8).to_f32())
        .filter(|v| v.is_finite())
        .collect();
    let lo = vals
        .iter()
        .copied()
        .filter(|&v| v <= x)
        .fold(f32::NEG_INFINITY, f32::max);
    let hi = vals
        .iter()
        .copied()
        .filter(|&v| v >= x)
        .fold(f32::INFINITY, f32::min);
    (lo, hi)
}

fn sr_only_neighbours<T: Element>(rng: &mut Xoshiro256PlusPlus) {
    let max = T::MAX_F32;
    for _ in 0..20_000 {
        let x = (rng.next_u32() as f32 / u32::MAX as f32 * 2.0 - 1.0) * max;
        let (lo, hi) = neighbours::<T>(x);
        let bits = RandomBits::from_rng(rng);
        let y = T::from_f32_with(x, with(Rounding::Stochastic(bits))).to_f32();
        assert!(
            y == lo || y == hi,
            "{}: SR({x}) = {y}, not in [{lo}, {hi}]",
            T::NAME
        );
    }
}

#[test]
fn stochastic_rounding_returns_a_neighbour() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    sr_only_neighbours::<E2M1>(&mut rng);
    sr_only_neighbours::<E2M3>(&mut rng);
    sr_only_neighbours::<E3M2>(&mut rng);
    sr_only_neighbours::<E4M3>(&mut rng);
    sr_only_neighbours::<E5M2>(&mut rng);
    sr_only_neighbours::<Int8>(&mut rng);
}

/// With n random bits, a value a fraction f = k/2^n of the way from lo to hi
/// rounds up for exactly k of the 2^n random values: the distribution is
/// exact, not merely close.
#[test]
fn stochastic_rounding_with_8_bits_is_exact_in_distribution() {
    // E4M3 between 1 and 1.125: x = 1 + k/256 · 0.125.
    for k in [0u32, 1, 37, 128, 200, 255] {
        let x = 1.0 + k as f32 / 256.0 * 0.125;
        let ups = (0..256)
            .filter(|&r| {
                let b = RandomBits::new(r, 8).unwrap();
                E4M3::from_f32_with(x, with(Rounding::Stochastic(b))).to_f32() == 1.125
            })
            .count();
        assert_eq!(ups as u32, k, "x = {x}");
    }
    // The same in the subnormal range: E2M1 0.5 · (k/256) rounds up k times in 256.
    for k in [1u32, 64, 255] {
        let x = 0.5 * k as f32 / 256.0;
        let ups = (0..256)
            .filter(|&r| {
                E2M1::from_f32_with(
                    x,
                    with(Rounding::Stochastic(RandomBits::new(r, 8).unwrap())),
                )
                .to_f32()
                    == 0.5
            })
            .count();
        assert_eq!(ups as u32, k);
    }
    assert!(RandomBits::new(256, 8).is_err());
    assert!(RandomBits::new(0, 0).is_err());
    assert!(RandomBits::new(0, 33).is_err());
}

/// Unbiased in expectation: the sample mean of SR(x) over N draws lies
/// within 5 standard errors of x, where the standard error of one draw is
/// (hi − lo)·√(p(1−p)) with p = (x − lo)/(hi − lo).
#[test]
fn stochastic_rounding_is_unbiased() {
    const N: usize = 200_000;
    type Convert = fn(f32, ConvertOptions) -> f32;
    let cases: [(f32, Convert); 4] = [
        (2.3, |x, o| E2M1::from_f32_with(x, o).to_f32()),
        (-0.2, |x, o| E2M1::from_f32_with(x, o).to_f32()),
        (300.0, |x, o| E4M3::from_f32_with(x, o).to_f32()),
        (0.0007, |x, o| E5M2::from_f32_with(x, o).to_f32()),
    ];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2026);
    for (x, f) in cases {
        let samples: Vec<f32> = (0..N)
            .map(|_| {
                f(
                    x,
                    with(Rounding::Stochastic(RandomBits::from_rng(&mut rng))),
                )
            })
            .collect();
        let lo = samples.iter().copied().fold(f32::INFINITY, f32::min) as f64;
        let hi = samples.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let p = (x as f64 - lo) / (hi - lo);
        let se = (hi - lo) * (p * (1.0 - p) / N as f64).sqrt();
        let mean = samples.iter().map(|&v| v as f64).sum::<f64>() / N as f64;
        assert!(
            (mean - x as f64).abs() < 5.0 * se,
            "x = {x}: mean {mean}, 5σ = {}",
            5.0 * se
        );
        // And nearest rounding is biased on the same input (the point of SR).
        let nearest = f(x, ConvertOptions::ML_DTYPES) as f64;
        assert!((nearest - x as f64).abs() > 10.0 * se);
    }
}

#[test]
fn stochastic_rounding_is_reproducible_for_a_seed() {
    let src: Vec<f32> = (0..4096).map(|i| (i as f32 * 0.37).sin() * 5.0).collect();
    let run = |seed| {
        let mut dst = vec![E2M1::ZERO; src.len()];
        slice::encode_stochastic(
            &src,
            &mut dst,
            ConvertOptions::SATFINITE,
            &mut Xoshiro256PlusPlus::seed_from_u64(seed),
        )
        .unwrap();
        dst.iter().map(|e| e.to_bits()).collect::<Vec<u8>>()
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}

#[test]
fn saturating_stochastic_rounding_never_exceeds_max() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    for _ in 0..10_000 {
        let o = ConvertOptions {
            rounding: Rounding::Stochastic(RandomBits::from_rng(&mut rng)),
            overflow: Overflow::Saturate,
            ..Default::default()
        };
        assert_eq!(E4M3::from_f32_with(447.9, o).to_f32().max(448.0), 448.0);
        assert_eq!(E4M3::from_f32_with(460.0, o), E4M3::MAX);
    }
}
