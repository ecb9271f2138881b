//! Over all 2³² f32 bit patterns, every element encoder equals a slow,
//! obviously correct oracle: a nearest search, in f64, over the format's
//! values computed here from the definition, with the tie, overflow and NaN
//! rules written out. Checked for round-to-nearest-even in both overflow
//! modes on every input, and for round-toward-zero on every positive input.
//!
//! With `BLOCKSCALE_EXHAUSTIVE=1` every bit pattern is checked (CI's own
//! step, about five minutes on 2 cores); otherwise every
//! [`STRIDE`]th pattern plus, for each format, every value, its f32
//! neighbours and every exact tie ([`grid_points`]), which takes seconds.
//! Release mode only (`cargo test --release`).

use blockscale::element::{ConvertOptions, NanToFinite, Overflow, Rounding};
use blockscale::testing::grid_points;
use blockscale::{E2M1, E2M3, E3M2, E4M3, E4M3Fnuz, E5M2, E5M2Fnuz, E8M0, Element, Int8};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// What the oracle needs to know about a format, stated from its definition.
struct Oracle {
    /// Finite magnitudes in increasing order; index = magnitude code. One
    /// more entry follows: the value the next code would have with an
    /// unbounded exponent, which decides the tie at the top.
    values: Vec<f64>,
    sign_bit: u8,
    /// Codes for overflow under NonSaturating (the format's Inf or NaN, or
    /// `None` when it saturates), and for NaN input with each sign.
    overflow: Option<u8>,
    nan: [u8; 2],
    /// MXINT8 negates in two's complement instead of setting a sign bit.
    twos_complement: bool,
    /// The fnuz formats have no −0: a negative value that rounds to zero
    /// gives +0 (their sign-bit-only code is NaN).
    unsigned_zero: bool,
}

/// Nearest search with ties to the even code. Returns a magnitude index,
/// which may be `values.len() - 1` (the virtual next value) or beyond.
fn nearest_even(values: &[f64], i: usize, x: f64) -> usize {
    // values[i] <= x < values[i + 1]
    if x == values[i] || i + 1 == values.len() {
        return if x == values[i] { i } else { values.len() };
    }
    let twice = 2.0 * x; // exact
    let mid2 = values[i] + values[i + 1]; // exact: neighbours with few bits
    if twice < mid2 || (twice == mid2 && i.is_multiple_of(2)) {
        i
    } else {
        i + 1
    }
}

fn minifloat_oracle(
    e_bits: u32,
    m_bits: u32,
    bias: i32,
    max_code: usize,
    overflow: Option<u8>,
    nan: [u8; 2],
) -> Oracle {
    let mut values = Vec::new();
    for code in 0..=max_code + 1 {
        let e = (code >> m_bits) as i32;
        let m = (code & ((1 << m_bits) - 1)) as f64 / (1u32 << m_bits) as f64;
        values.push(if e == 0 {
            m * 2f64.powi(1 - bias)
        } else {
            (1.0 + m) * 2f64.powi(e - bias)
        });
    }
    Oracle {
        values,
        sign_bit: 1 << (e_bits + m_bits),
        overflow,
        nan,
        twos_complement: false,
        unsigned_zero: false,
    }
}

/// The sampling step of the default (not exhaustive) run: prime, so that
/// every low-order bit pattern of the mantissa is visited.
const STRIDE: u32 = 97;

/// Bits per chunk a thread takes at a time.
const CHUNK: u32 = 1 << 22;

/// The f32 bit patterns of the chunk at `start` to check, increasing: all
/// of them with `BLOCKSCALE_EXHAUSTIVE=1`, else every [`STRIDE`]th and those
/// of `grid` (sorted) in the chunk.
fn patterns(start: u32, end: u32, grid: &[u32]) -> Box<dyn Iterator<Item = u32>> {
    if std::env::var_os("BLOCKSCALE_EXHAUSTIVE").is_some_and(|v| v == "1") {
        return Box::new(start..end);
    }
    let lo = grid.partition_point(|&b| b < start);
    let hi = grid.partition_point(|&b| b < end);
    let mut v: Vec<u32> = (start..end).step_by(STRIDE as usize).collect();
    v.extend_from_slice(&grid[lo..hi]);
    v.sort_unstable();
    v.dedup();
    Box::new(v.into_iter())
}

/// The sorted bit patterns of `T`'s grid points and their negations.
fn grid<T: Element>() -> Vec<u32> {
    let mut g: Vec<u32> = grid_points::<T>()
        .iter()
        .flat_map(|x| [x.to_bits(), (-x).to_bits()])
        .collect();
    g.sort_unstable();
    g.dedup();
    g
}

/// Sweeps f32 magnitudes (both signs; [`patterns`]), in chunks over threads.
fn sweep<T: Element>(o: &Oracle) {
    // Magnitudes: the sweep applies both signs itself.
    let mut grid: Vec<u32> = grid::<T>().into_iter().map(|b| b & 0x7FFF_FFFF).collect();
    grid.sort_unstable();
    grid.dedup();
    let next = AtomicU32::new(0);
    let failures = AtomicU64::new(0);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let max_code = o.values.len() - 2;
    let max_val = o.values[max_code];
    let sat = ConvertOptions {
        overflow: Overflow::Saturate,
        ..ConvertOptions::ML_DTYPES
    };
    let rtz = ConvertOptions::ML_DTYPES.with_rounding(Rounding::TowardZero);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let start = next.fetch_add(CHUNK, Ordering::Relaxed);
                if start >= 0x8000_0000 {
                    break;
                }
                let mut i = o.values.partition_point(|&v| v <= f32::from_bits(start) as f64).saturating_sub(1);
                for bits in patterns(start, start + CHUNK, &grid) {
                    let x = f32::from_bits(bits);
                    let (want_rne, want_sat, want_rtz) = if x.is_nan() {
                        (o.nan[0], o.nan[0], o.nan[0])
                    } else if x.is_infinite() {
                        (o.overflow.unwrap_or(max_code as u8), max_code as u8, o.overflow.unwrap_or(max_code as u8))
                    } else {
                        let xf = x as f64;
                        while i + 1 < o.values.len() && o.values[i + 1] <= xf {
                            i += 1;
                        }
                        let r = nearest_even(&o.values, i, xf);
                        let rne = if r > max_code { o.overflow.unwrap_or(max_code as u8) } else { r as u8 };
                        let sat = r.min(max_code) as u8;
                        let rtz = if xf > max_val { max_code as u8 } else { i as u8 };
                        (rne, sat, rtz)
                    };
                    for neg in [false, true] {
                        let xs = if neg { -x } else { x };
                        let sign = if neg { o.sign_bit } else { 0 };
                        let signed = |c: u8| match (x.is_nan(), o.twos_complement) {
                            (true, _) => o.nan[neg as usize],
                            (false, false) if c == 0 && o.unsigned_zero => 0,
                            (false, false) => c | sign,
                            (false, true) => (if neg { -(c as i8) } else { c as i8 }) as u8,
                        };
                        // Toward zero is checked on positive inputs only, to
                        // keep the sweep near a minute; both overflow modes on all.
                        let got = [
                            T::from_f32(xs).to_bits(),
                            T::from_f32_with(xs, sat).to_bits(),
                            if neg { 0 } else { T::from_f32_with(xs, rtz).to_bits() },
                        ];
                        let want = [signed(want_rne), signed(want_sat), if neg { 0 } else { signed(want_rtz) }];
                        if got != want && failures.fetch_add(1, Ordering::Relaxed) < 10 {
                            eprintln!("{}: f32 {:#010x} ({xs:e}): got [rne, sat, rtz] {got:02x?}, want {want:02x?}", T::NAME, xs.to_bits());
                        }
                    }
                }
            });
        }
    });
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "{} mismatches",
        T::NAME
    );
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "exhaustive over 2^32 inputs: run with --release"
)]
fn e2m1_matches_the_oracle() {
    // No Inf/NaN: overflow saturates; NaN → zero with the sign inverted (ml_dtypes).
    sweep::<E2M1>(&minifloat_oracle(2, 1, 1, 0x7, None, [0x8, 0x0]));
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "exhaustive over 2^32 inputs: run with --release"
)]
fn e2m3_matches_the_oracle() {
    sweep::<E2M3>(&minifloat_oracle(2, 3, 1, 0x1F, None, [0x20, 0x0]));
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "exhaustive over 2^32 inputs: run with --release"
)]
fn e3m2_matches_the_oracle() {
    sweep::<E3M2>(&minifloat_oracle(3, 2, 3, 0x1F, None, [0x20, 0x0]));
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "exhaustive over 2^32 inputs: run with --release"
)]
fn e4m3_matches_the_oracle() {
    // Overflow → NaN (S.1111.111); NaN keeps its sign.
    sweep::<E4M3>(&minifloat_oracle(4, 3, 7, 0x7E, Some(0x7F), [0x7F, 0xFF]));
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "exhaustive over 2^32 inputs: run with --release"
)]
fn e5m2_matches_the_oracle() {
    // Overflow → Inf (S.11111.00); NaN → S.11111.10.
    sweep::<E5M2>(&minifloat_oracle(5, 2, 15, 0x7B, Some(0x7C), [0x7E, 0xFE]));
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "exhaustive over 2^32 inputs: run with --release"
)]
fn e4m3fnuz_matches_the_oracle() {
    // Every exponent finite (max 0x7F = 240); overflow, ±Inf and NaN → 0x80.
    let o = minifloat_oracle(4, 3, 8, 0x7F, Some(0x80), [0x80, 0x80]);
    sweep::<E4M3Fnuz>(&Oracle {
        unsigned_zero: true,
        ..o
    });
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "exhaustive over 2^32 inputs: run with --release"
)]
fn e5m2fnuz_matches_the_oracle() {
    // Every exponent finite (max 0x7F = 57344); overflow, ±Inf and NaN → 0x80.
    let o = minifloat_oracle(5, 2, 16, 0x7F, Some(0x80), [0x80, 0x80]);
    sweep::<E5M2Fnuz>(&Oracle {
        unsigned_zero: true,
        ..o
    });
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "exhaustive over 2^32 inputs: run with --release"
)]
fn int8_matches_the_oracle() {
    // k/64 for k = 0..=127, then the virtual 128/64; saturates; NaN → 0.
    let values = (0..=128).map(|k| k as f64 / 64.0).collect();
    sweep::<Int8>(&Oracle {
        values,
        sign_bit: 0,
        overflow: None,
        nan: [0, 0],
        twos_complement: true,
        unsigned_zero: false,
    });
    let nan_max = ConvertOptions {
        nan: NanToFinite::PositiveMax,
        ..ConvertOptions::ML_DTYPES
    };
    assert_eq!(Int8::from_f32_with(-f32::NAN, nan_max), Int8::MAX);
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "exhaustive over 2^32 inputs: run with --release"
)]
fn e8m0_matches_the_oracle() {
    // 2^-127 ..= 2^127, then the virtual 2^128.
    let values: Vec<f64> = (-127..=128).map(|e| 2f64.powi(e)).collect();
    let sat = ConvertOptions {
        overflow: Overflow::Saturate,
        rounding: Rounding::NearestTiesAway,
        ..ConvertOptions::ML_DTYPES
    };
    let floor = ConvertOptions::ML_DTYPES.with_rounding(Rounding::TowardZero);
    let next = AtomicU64::new(0);
    let failures = AtomicU64::new(0);
    let grid = grid::<E8M0>();
    std::thread::scope(|s| {
        for _ in 0..std::thread::available_parallelism().map_or(2, |n| n.get()) {
            s.spawn(|| loop {
                let start = next.fetch_add(CHUNK as u64, Ordering::Relaxed);
                if start >= 1 << 32 {
                    break;
                }
                let mut i = 0;
                let end = start + CHUNK as u64;
                // The last chunk ends at 2^32, which u32 cannot hold.
                let range = match u32::try_from(end) {
                    Ok(end) => patterns(start as u32, end, &grid),
                    Err(_) => Box::new(patterns(start as u32, u32::MAX, &grid).chain([u32::MAX])),
                };
                for bits in range {
                    let x = f32::from_bits(bits);
                    let xf = x as f64;
                    // ml_dtypes: nearest with ties away (up); f32 subnormals
                    // strictly inside (2^-127, 2^-126) go up; ≤ 2^-127 → 2^-127;
                    // zero, negatives, Inf, NaN and ≥ 1.5·2^127 → NaN.
                    // Saturate: the same nearest rounding without the
                    // subnormal quirk, clamped into [2^-127, 2^127].
                    let want: [u8; 3] = if x.is_nan() {
                        [0xFF; 3]
                    } else if xf <= 0.0 {
                        [0xFF, 0x00, 0xFF]
                    } else if x.is_infinite() {
                        [0xFF, 0xFE, 0xFF]
                    } else {
                        while values[i + 1] <= xf {
                            i += 1;
                        }
                        let up = xf > values[i] && 2.0 * xf >= values[i] + values[i + 1];
                        let nearest = i + up as usize;
                        let quirk = bits > 0x0040_0000 && bits < 0x0080_0000;
                        let astype = if quirk { 1 } else { nearest };
                        let astype = if astype > 0xFE { 0xFF } else { astype as u8 };
                        [astype, nearest.min(0xFE) as u8, i.min(0xFE) as u8]
                    };
                    let got = [E8M0::from_f32(x).to_bits(), E8M0::from_f32_with(x, sat).to_bits(), E8M0::from_f32_with(x, floor).to_bits()];
                    if got != want && failures.fetch_add(1, Ordering::Relaxed) < 10 {
                        eprintln!("E8M0: f32 {bits:#010x} ({x:e}): got [astype, sat, floor] {got:02x?}, want {want:02x?}");
                    }
                }
            });
        }
    });
    assert_eq!(failures.load(Ordering::Relaxed), 0);
}
