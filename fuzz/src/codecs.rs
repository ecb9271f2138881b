//! The `codecs` target: every element codec against a brute-force oracle.

use arbitrary::Unstructured;
use blockscale::element::{ConvertOptions, NanToFinite, Overflow, RandomBits, Rounding, slice};
use blockscale::simd::{self, Level};
use blockscale::{E2M1, E2M3, E3M2, E4M3, E5M2, E8M0, Element, Int8};
use half::{bf16, f16};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

use blockscale::testing::levels;

use crate::pick;

fn convert_options(u: &mut Unstructured) -> ConvertOptions {
    let rounding = match u.int_in_range(0..=5u8).unwrap_or(0) {
        0 => Rounding::NearestEven,
        1 => Rounding::NearestTiesAway,
        2 => Rounding::TowardZero,
        3 => Rounding::Up,
        4 => Rounding::Down,
        _ => {
            let count = u.int_in_range(1..=32u32).unwrap_or(32);
            let value = u.arbitrary::<u32>().unwrap_or(0);
            let value = if count == 32 {
                value
            } else {
                value & ((1 << count) - 1)
            };
            Rounding::Stochastic(RandomBits::new(value, count).expect("fits by construction"))
        }
    };
    ConvertOptions {
        rounding,
        overflow: pick(u, &[Overflow::NonSaturating, Overflow::Saturate]),
        nan: pick(
            u,
            &[
                NanToFinite::MlDtypes,
                NanToFinite::Zero,
                NanToFinite::PositiveMax,
            ],
        ),
    }
}

/// The largest non-negative value of `T` at or below `|x|` and the smallest
/// at or above it, with their codes, found by scanning `T`'s value table:
/// an oracle that shares nothing with the codec's bit arithmetic.
fn neighbours<T: Element>(mag: f64) -> ((f64, u8), (f64, u8)) {
    let mut lo = (f64::NEG_INFINITY, 0u8);
    let mut hi = (f64::INFINITY, 0u8);
    for code in 0..=255u8 {
        let v = T::DECODE[code as usize] as f64;
        // Only the canonical non-negative codes of the conversion's range
        // (-0 and raw-only codes such as MXINT8's 0x80 excluded).
        if v.is_nan() || v < 0.0 || v > T::MAX_F32 as f64 || v.is_sign_negative() {
            continue;
        }
        if v <= mag && v > lo.0 {
            lo = (v, code);
        }
        if v >= mag && v < hi.0 {
            hi = (v, code);
        }
    }
    (lo, hi)
}

/// What `T::from_f64_with(x, opts)` must give for finite `x` with
/// `|x| <= T::MAX_F32`, by the definitions of the rounding modes
/// (IEEE 754 §4.3; stochastic: PTX `cvt.rs`, as `RandomBits` documents).
fn oracle<T: Element>(x: f64, opts: ConvertOptions) -> f64 {
    let mag = x.abs();
    let ((lo, lo_code), (hi, _)) = neighbours::<T>(mag);
    let up = if lo == hi {
        false
    } else {
        let (d_lo, d_hi) = (mag - lo, hi - mag);
        match opts.rounding {
            Rounding::NearestEven => d_hi < d_lo || (d_hi == d_lo && lo_code & 1 == 1),
            Rounding::NearestTiesAway => d_hi <= d_lo,
            Rounding::TowardZero => false,
            Rounding::Up => x > 0.0,
            Rounding::Down => x < 0.0,
            Rounding::Stochastic(bits) => {
                // The discarded fraction, truncated to `count` bits, plus the
                // random bits; a carry rounds up. `(mag - lo) / (hi - lo)` is
                // exact: both are short binary fractions of the same scale.
                let n = bits.count() as i32;
                let f = ((mag - lo) / (hi - lo) * 2f64.powi(n)).floor();
                f + bits.value() as f64 >= 2f64.powi(n)
            }
            other => unimplemented!("no oracle for {other:?}: add one"),
        }
    };
    let v = if up { hi } else { lo };
    if x < 0.0 { -v } else { v }
}

/// One element type: scalar conversions against the oracle and the special
/// value rules, f32 against f64 input, the slice (SIMD) paths against the
/// scalar ones, and decoding.
fn check_element<T: Element>(xs: &[f32], bytes: &[u8], opts: ConvertOptions, seed: u64) {
    let has_nan = T::DECODE.iter().any(|v| v.is_nan());
    for &x in xs {
        let e = T::from_f32_with(x, opts);
        let v = e.to_f32();
        // A finite f32 widens to f64 exactly: both entry points must agree.
        let e64 = T::from_f64_with(x as f64, opts);
        assert_eq!(
            e.to_bits(),
            e64.to_bits(),
            "{} f32 vs f64 path, x = {x:e}",
            T::NAME
        );
        if x.is_nan() {
            if has_nan {
                assert!(v.is_nan(), "{}: NaN gave {v}", T::NAME);
            } else {
                let want = match opts.nan {
                    NanToFinite::PositiveMax => T::MAX_F32,
                    _ => 0.0,
                };
                assert_eq!(v, want, "{}: NaN with {opts:?}", T::NAME);
            }
        } else if x.abs() <= T::MAX_F32 {
            let want = oracle::<T>(x as f64, opts);
            assert_eq!(
                v as f64,
                want,
                "{} x = {x:e} ({:#x}) {opts:?}",
                T::NAME,
                x.to_bits()
            );
            // Zero keeps the input's sign where the format has −0.
            if v == 0.0 && T::DECODE[0x80].to_bits() == (-0f32).to_bits() {
                assert_eq!(
                    v.is_sign_negative(),
                    x.is_sign_negative(),
                    "{} sign of 0",
                    T::NAME
                );
            }
        } else if opts.overflow == Overflow::Saturate {
            // Beyond the largest finite value (±Inf included): ±max.
            assert_eq!(v, T::MAX_F32.copysign(x), "{} saturate x = {x:e}", T::NAME);
        } else {
            // Non-saturating: ±max, or the format's NaN or ±Inf.
            assert!(
                v.abs() == T::MAX_F32 || v.is_nan() || v.is_infinite(),
                "{} overflow x = {x:e} gave {v}",
                T::NAME
            );
        }
    }

    // The slice entry points (SIMD where the CPU has it) against the scalar
    // definition, element by element, and at every level the CPU has.
    let scalar: Vec<u8> = xs
        .iter()
        .map(|&x| T::from_f32_with(x, opts).to_bits())
        .collect();
    for level in levels() {
        simd::with_level(level, || {
            let mut out = vec![T::from_bits(0); xs.len()];
            match opts.rounding {
                Rounding::Stochastic(_) => {
                    let run = |out: &mut [T]| {
                        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
                        slice::encode_stochastic(xs, out, opts, &mut rng).expect("lengths match");
                    };
                    run(&mut out);
                    // Each element rounds to one of its two neighbours.
                    for (x, e) in xs.iter().zip(&out) {
                        if x.is_finite() && x.abs() <= T::MAX_F32 {
                            let ((lo, _), (hi, _)) = neighbours::<T>(x.abs() as f64);
                            let m = e.to_f32().abs() as f64;
                            assert!(m == lo || m == hi, "{} SR x = {x:e} gave {m}", T::NAME);
                        }
                    }
                    // The same bytes on the portable path, with the same seed.
                    let mut portable = vec![T::from_bits(0); xs.len()];
                    simd::with_level(Level::Portable, || run(&mut portable));
                    assert!(
                        out.iter()
                            .zip(&portable)
                            .all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{} stochastic slice at {level:?} differs from portable",
                        T::NAME
                    );
                }
                _ => {
                    slice::encode(xs, &mut out, opts).expect("lengths match");
                    let got: Vec<u8> = out.iter().map(|e| e.to_bits()).collect();
                    assert_eq!(
                        got,
                        scalar,
                        "{} slice encode at {level:?} {opts:?}",
                        T::NAME
                    );
                    // bf16 and f16 sources: the slice path equals widening then converting.
                    let h: Vec<bf16> = xs.iter().map(|&x| bf16::from_f32(x)).collect();
                    slice::encode(&h, &mut out, opts).expect("lengths match");
                    for (s, e) in h.iter().zip(&out) {
                        assert_eq!(e.to_bits(), T::from_f32_with(s.to_f32(), opts).to_bits());
                    }
                    let h: Vec<f16> = xs.iter().map(|&x| f16::from_f32(x)).collect();
                    slice::encode(&h, &mut out, opts).expect("lengths match");
                    for (s, e) in h.iter().zip(&out) {
                        assert_eq!(e.to_bits(), T::from_f32_with(s.to_f32(), opts).to_bits());
                    }
                }
            }
            // Decoding any byte: the value table, bit for bit, on every path.
            let codes: Vec<T> = bytes.iter().map(|&b| T::from_bits(b)).collect();
            let mut back = vec![0f32; codes.len()];
            slice::decode(&codes, &mut back).expect("lengths match");
            for (c, v) in codes.iter().zip(&back) {
                let want = c.to_f32();
                assert!(
                    v.to_bits() == want.to_bits() || (v.is_nan() && want.is_nan()),
                    "{} decode {:#x} at {level:?}",
                    T::NAME,
                    c.to_bits()
                );
                // Every decoded value in the conversion range converts back
                // to a code of itself (MXINT8's raw-only 0x80, −2, does not).
                if !want.is_nan() && want.abs() <= T::MAX_F32 {
                    assert_eq!(T::from_f32(want).to_f32(), want, "{} round trip", T::NAME);
                }
            }
        });
    }
}

/// Every element codec from arbitrary bits and options: see
/// [`check_element`]. E8M0 is checked against its own rule: the result is a
/// power of two adjacent to the input.
pub fn codecs(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let which = u.int_in_range(0..=6u8).unwrap_or(0);
    let opts = convert_options(&mut u);
    let seed = u.arbitrary::<u64>().unwrap_or(0);
    let n = u.int_in_range(0..=80usize).unwrap_or(0);
    let xs: Vec<f32> = (0..n)
        .map(|_| f32::from_bits(u.arbitrary::<u32>().unwrap_or(0)))
        .collect();
    let bytes = u.take_rest();
    match which {
        0 => check_element::<E2M1>(&xs, bytes, opts, seed),
        1 => check_element::<E2M3>(&xs, bytes, opts, seed),
        2 => check_element::<E3M2>(&xs, bytes, opts, seed),
        3 => check_element::<E4M3>(&xs, bytes, opts, seed),
        4 => check_element::<E5M2>(&xs, bytes, opts, seed),
        5 => check_element::<Int8>(&xs, bytes, opts, seed),
        _ => {
            for &x in &xs {
                let e = E8M0::from_f32_with(x, opts);
                let v = e.to_f32();
                assert_eq!(e.to_bits(), E8M0::from_f64_with(x as f64, opts).to_bits());
                let in_range = x.is_finite() && x >= 2f32.powi(-127) && x <= 2f32.powi(127);
                if in_range {
                    // A power of two within a factor of two of x.
                    let lo = 2f64.powi((x as f64).log2().floor() as i32);
                    let got = v as f64;
                    assert!(
                        got == lo || got == 2.0 * lo,
                        "E8M0 x = {x:e} gave {v:e} {opts:?}"
                    );
                    if opts.rounding == Rounding::TowardZero || opts.rounding == Rounding::Down {
                        assert_eq!(got, lo, "E8M0 x = {x:e} toward zero");
                    }
                }
                if x.is_nan() {
                    assert!(v.is_nan());
                }
            }
            for &b in bytes {
                let e = E8M0::from_bits(b);
                if b == 0xFF {
                    assert!(e.to_f32().is_nan());
                } else {
                    assert_eq!(e.to_f32() as f64, 2f64.powi(b as i32 - 127));
                    assert_eq!(E8M0::from_f32(e.to_f32()).to_bits(), b);
                }
            }
        }
    }
}
