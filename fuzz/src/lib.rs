//! The bodies of blockscale's fuzz targets.
//!
//! Each target takes arbitrary bytes, drives one part of the public API with
//! them, and panics only when a property fails: a panic inside blockscale
//! on any input is itself a failure (every bad input must come back as an
//! `Err`). The properties are independent of the code under test where
//! possible: a brute-force rounding oracle over each element's value table,
//! the portable path as the specification of the SIMD kernels, the naive
//! GEMM as the specification of the fast one, and round trips through the
//! file formats.
//!
//! `fuzz_targets/*.rs` wrap these functions for cargo-fuzz (nightly); the
//! unit test at the bottom replays the committed corpus (`corpus/<target>/`)
//! on stable, which is what CI runs.

use arbitrary::Unstructured;
use blockscale::element::{ConvertOptions, NanToFinite, Overflow, RandomBits, Rounding, slice};
use blockscale::format::{
    AnyFormat, BlockFormat, FormatId, FormatVisitor, Fp8Blockwise, Fp8Tensorwise, Mx, MxFp4,
    MxFp8E4M3, Nvfp4, ScaleCodec,
};
use blockscale::io::{DType, Tensor, layouts, npy, st};
use blockscale::scale::mx::MxScaleRule;
use blockscale::scale::nvfp4::Nvfp4Profile;
use blockscale::simd::{self, Level};
use blockscale::tensor::{
    Direction, PartialBlocks, QuantizeOptions, QuantizedTensor, TensorRounding,
};
use blockscale::{E2M1, E2M3, E3M2, E4M3, E5M2, E8M0, Element, Int8};
use half::{bf16, f16};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target, by the name cargo-fuzz and the corpus directory use.
pub const TARGETS: &[(&str, Target)] = &[
    ("codecs", codecs),
    ("quantize", quantize),
    ("gemm", gemm),
    ("npy", npy),
    ("safetensors", safetensors),
    ("layouts", layouts),
];

// ---------------------------------------------------------------------------
// Element codecs

fn pick<T: Copy>(u: &mut Unstructured, from: &[T]) -> T {
    *u.choose(from).unwrap_or(&from[0])
}

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

/// The SIMD levels to compare: every one this CPU has, down to portable.
fn levels() -> Vec<Level> {
    [
        Level::Portable,
        Level::Avx2,
        Level::Avx512,
        Level::Avx512Vnni,
    ]
    .into_iter()
    .filter(|&l| l <= simd::detected())
    .collect()
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

// ---------------------------------------------------------------------------
// Block formats

/// Arbitrary f32 values: mostly a spread of ordinary magnitudes (so that
/// blocks have structure), sometimes any bit pattern (NaN, ±Inf, subnormals).
fn values(u: &mut Unstructured, n: usize) -> Vec<f32> {
    let raw = u.ratio(1, 8).unwrap_or(false);
    (0..n)
        .map(|_| {
            if raw {
                f32::from_bits(u.arbitrary().unwrap_or(0))
            } else {
                let m = u.int_in_range(-128..=127i8).unwrap_or(0) as f32 / 16.0;
                let e = u.int_in_range(-20..=20i32).unwrap_or(0);
                m * 2f32.powi(e)
            }
        })
        .collect()
}

fn quantize_options(u: &mut Unstructured) -> QuantizeOptions {
    QuantizeOptions {
        direction: pick(u, &[Direction::Rowwise, Direction::Columnwise]),
        rounding: if u.ratio(1, 3).unwrap_or(false) {
            TensorRounding::Stochastic {
                seed: u.arbitrary().unwrap_or(0),
            }
        } else {
            TensorRounding::NearestEven
        },
        partial_blocks: pick(u, &[PartialBlocks::Reject, PartialBlocks::ZeroPad]),
        global_amax: if u.ratio(1, 5).unwrap_or(false) {
            Some(f32::from_bits(u.arbitrary().unwrap_or(0)))
        } else {
            None
        },
    }
}

/// Scales compare by value, NaN equal to NaN (E8M0's 0xFF, an FP32 NaN).
fn same_scales<S: ScaleCodec>(a: &[S], b: &[S]) -> bool {
    let v = |s: &[S]| s.iter().map(|x| x.value()).collect::<Vec<_>>();
    same_f32(&v(a), &v(b))
}

fn same_f32(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

/// Quantize, requantize, dequantize and rebuild one tensor in format `f`.
fn check_format<F: BlockFormat>(f: F, u: &mut Unstructured) {
    // A caller's fixed scale can saturate any element and overflow x̂.
    let id = f.id();
    let own_scale = id.option("scale").is_none();
    let rows = u.int_in_range(0..=40usize).unwrap_or(0);
    let cols = u.int_in_range(0..=300usize).unwrap_or(0);
    let opts = quantize_options(u);
    // Sometimes a source of the wrong length, which must be an error.
    let n = if u.ratio(1, 16).unwrap_or(false) {
        u.int_in_range(0..=rows * cols + 3).unwrap_or(0)
    } else {
        rows * cols
    };
    let x = values(u, n);
    let q = QuantizedTensor::quantize(f.clone(), &x, rows, cols, &opts);
    if n != rows * cols {
        assert!(
            q.is_err(),
            "{}: a source of the wrong length was accepted",
            f.name()
        );
        return;
    }
    let Ok(q) = q else { return };
    assert_eq!(q.shape(), (rows, cols));
    // The portable path is the specification of the SIMD kernels.
    let p = simd::with_level(Level::Portable, || {
        QuantizedTensor::quantize(f.clone(), &x, rows, cols, &opts).expect("accepted above")
    });
    assert_eq!(q.data(), p.data(), "{} data: SIMD vs portable", f.name());
    assert!(
        same_scales(q.scales(), p.scales()),
        "{} scales: SIMD vs portable",
        f.name()
    );
    let d = q.dequantize();
    assert!(
        same_f32(&d, &p.dequantize()),
        "{} dequantize: SIMD vs portable",
        f.name()
    );
    assert_eq!(d.len(), rows * cols);
    // The same source as f16 and bf16 equals quantizing its f32 widening.
    let h: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
    let hw: Vec<f32> = h.iter().map(|v| v.to_f32()).collect();
    let qh = QuantizedTensor::quantize(f.clone(), &h, rows, cols, &opts).expect("same shape");
    let qw = QuantizedTensor::quantize(f.clone(), &hw, rows, cols, &opts).expect("same shape");
    assert_eq!(qh.data(), qw.data(), "{} bf16 source", f.name());
    // Finite input and its own amax: finite output, never above the input's
    // magnitude by more than the scale's rounding allows (NVFP4's E4M3
    // block scale, which rounds to nearest, is the only one that can
    // exceed; a factor of 2 bounds everything).
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    // (Near f32's top, q · factor can legitimately overflow to ±Inf: an
    // element that rounds up, or Transformer Engine's NVFP4 factor
    // f32(s_b · A) / 2688, which overflows from A > f32::MAX / 448.)
    // torchao's NVFP4 gives NaN when A/2688 underflows (`Nvfp4Profile`).
    let torchao_underflow = id.option("profile") == Some("torchao") && amax < 1e-38;
    if own_scale
        && !torchao_underflow
        && opts.global_amax.is_none()
        && x.iter().all(|v| v.is_finite())
        && amax <= f32::MAX / 4096.0
    {
        for (i, v) in d.iter().enumerate() {
            assert!(
                v.is_finite(),
                "{}: finite x[{i}] = {} gave {v}",
                f.name(),
                x[i]
            );
            // (Stochastic rounding may round a value far below the block's
            // smallest step, as under E8M0's 2⁻¹²⁷ floor, up to that step.)
            if opts.rounding == TensorRounding::NearestEven {
                assert!(
                    v.abs() <= 2.0 * amax,
                    "{}: x̂[{i}] = {v} > 2·amax {amax}",
                    f.name()
                );
            }
        }
    }
    // requantize into the tensor gives the same bytes.
    let mut r = QuantizedTensor::quantize(f.clone(), &vec![0f32; rows * cols], rows, cols, &opts)
        .expect("same shape");
    r.requantize(&x, rows, cols, &opts).expect("same shape");
    assert_eq!(r.data(), q.data(), "{} requantize", f.name());
    // Rebuilt from its parts, it dequantizes to the same values.
    let rebuilt = QuantizedTensor::from_parts(
        f.clone(),
        (rows, cols),
        opts.direction,
        opts.partial_blocks,
        q.data().to_vec(),
        q.scales().to_vec(),
        q.global_amax(),
    )
    .expect("parts of a valid tensor");
    assert!(
        same_f32(&rebuilt.dequantize(), &d),
        "{} from_parts",
        f.name()
    );
    // dequantize_into checks its output length.
    let mut short = vec![0f32; (rows * cols).saturating_sub(1)];
    if rows * cols > 0 {
        assert!(q.dequantize_into(&mut short).is_err());
    }
    // Element and scale accessors: None out of range, never a panic.
    let (sr, sc) = q.stored_shape();
    assert!(q.element(sr, 0).is_none() && q.scale_at(0, sc).is_none());
    assert_eq!(q.element(0, 0).is_some(), sr * sc > 0);
}

/// A format of any family with arbitrary options: the family from
/// [`AnyFormat::families`], then each option a family may take, kept when
/// the family accepts it ([`BlockFormat::from_id`]). Nothing here names a
/// format, so a new one is fuzzed as soon as it is in the format list.
fn any_format(u: &mut Unstructured) -> AnyFormat {
    let families = AnyFormat::families();
    let names: Vec<&str> = families.iter().map(String::as_str).collect();
    let mut id = FormatId::new(pick(u, &names));
    let profiles: Vec<&str> = Nvfp4Profile::ALL.iter().map(|p| p.name()).collect();
    let rules: Vec<&str> = MxScaleRule::ALL.iter().map(|r| r.name()).collect();
    for key in ["profile", "rule", "2d", "pow2", "scale", "block"] {
        if !u.ratio(1, 3).unwrap_or(false) {
            continue;
        }
        let value = match key {
            "profile" => pick(u, &profiles).to_string(),
            "rule" => pick(u, &rules).to_string(),
            "2d" | "pow2" => u.arbitrary::<bool>().unwrap_or(false).to_string(),
            "scale" => format!("{:e}", f32::from_bits(u.arbitrary().unwrap_or(0x3f80_0000))),
            _ if u.ratio(1, 4).unwrap_or(false) => format!(
                "{}x{}",
                u.arbitrary::<usize>().unwrap_or(1),
                u.arbitrary::<usize>().unwrap_or(1)
            ),
            _ => format!(
                "{}x{}",
                u.int_in_range(0..=130usize).unwrap_or(1),
                u.int_in_range(0..=130usize).unwrap_or(1)
            ),
        };
        let with = id.clone().with(key, &value);
        if AnyFormat::from_id(&with).is_ok() {
            id = with;
        }
    }
    let f = AnyFormat::from_id(&id).expect("every option was checked");
    // The identifier round-trips through its text.
    assert_eq!(f.to_string().parse::<AnyFormat>().ok(), Some(f), "{id}");
    f
}

/// Quantize and dequantize of arbitrary data and shapes, for every format
/// and option: see [`check_format`]. Block shapes of FP8 blockwise are
/// arbitrary too (zero-sized ones must be rejected).
pub fn quantize(data: &[u8]) {
    struct Check<'a, 'b>(&'a mut Unstructured<'b>);
    impl FormatVisitor for Check<'_, '_> {
        type Output = ();
        fn visit<F: BlockFormat>(self, f: F) {
            check_format(f, self.0)
        }
    }
    let mut u = Unstructured::new(data);
    any_format(&mut u).visit(Check(&mut u))
}

// ---------------------------------------------------------------------------
// GEMM

fn operand<F: BlockFormat>(
    f: F,
    u: &mut Unstructured,
    rows: usize,
    k: usize,
) -> Option<QuantizedTensor<F>> {
    let x = values(u, rows * k);
    QuantizedTensor::quantize(f, &x, rows, k, &QuantizeOptions::default()).ok()
}

fn check_gemm<FA: BlockFormat, FB: BlockFormat>(fa: FA, fb: FB, u: &mut Unstructured) {
    let m = u.int_in_range(1..=24usize).unwrap_or(1);
    let n = u.int_in_range(1..=40usize).unwrap_or(1);
    let k = 32 * u.int_in_range(1..=6usize).unwrap_or(1);
    let (alpha, beta) = (pick(u, &[1.0f32, -0.5, 3.0]), pick(u, &[0.0f32, 1.0, -2.0]));
    let (Some(a), Some(b)) = (operand(fa, u, m, k), operand(fb, u, n, k)) else {
        return;
    };
    let c0 = values(u, m * n);
    let mut want = c0.clone();
    let reference = blockscale::gemm::gemm_reference(&a, &b, alpha, beta, &mut want);
    for level in levels() {
        let mut got = c0.clone();
        let fast = simd::with_level(level, || {
            blockscale::gemm::gemm(&a, &b, alpha, beta, &mut got)
        });
        assert_eq!(fast.is_ok(), reference.is_ok());
        assert!(
            same_f32(&got, &want),
            "{} x {} m={m} n={n} k={k} at {level:?}: fast GEMM differs from the reference",
            a.format().name(),
            b.format().name()
        );
    }
    // A C of the wrong length is an error, not a panic.
    let mut short = vec![0f32; m * n - 1];
    assert!(blockscale::gemm::gemm(&a, &b, alpha, beta, &mut short).is_err());
}

/// The fast GEMM against the naive reference, bit for bit, on arbitrary
/// small operands (NaN, ±Inf and extreme scales included) of every kernel
/// class: i8, f64, i64 and generic.
pub fn gemm(data: &[u8]) {
    let mut u = Unstructured::new(data);
    match u.int_in_range(0..=7u8).unwrap_or(0) {
        0 => check_gemm(Nvfp4::default(), Nvfp4::WEIGHTS_2D, &mut u),
        1 => check_gemm(MxFp4::default(), MxFp4::default(), &mut u),
        2 => check_gemm(Mx::<E2M3>::default(), Mx::<Int8>::default(), &mut u),
        3 => check_gemm(MxFp8E4M3::default(), MxFp8E4M3::default(), &mut u),
        4 => check_gemm(MxFp8E4M3::default(), Mx::<E5M2>::default(), &mut u),
        5 => check_gemm(Mx::<E5M2>::default(), Mx::<E5M2>::default(), &mut u),
        6 => check_gemm(
            Fp8Tensorwise::<E4M3>::current(),
            Fp8Blockwise::<E4M3>::new(32, 32),
            &mut u,
        ),
        _ => check_gemm(
            Mx::<E3M2>::default(),
            Fp8Blockwise::<E4M3>::new(1, 32),
            &mut u,
        ),
    }
}

// ---------------------------------------------------------------------------
// Files

/// Everything a reader might do with a tensor it was handed.
fn use_tensor(t: &Tensor) {
    let _ = t.matrix_shape();
    let _ = t.numel();
    if let Ok(v) = t.to_f32() {
        assert_eq!(v.len(), t.numel(), "to_f32 of a valid tensor");
    }
}

/// The `.npy` reader on arbitrary bytes: an error or a valid tensor, and a
/// valid tensor writes back to bytes that read as the same tensor.
pub fn npy(data: &[u8]) {
    let Ok(t) = npy::from_bytes(data) else { return };
    t.validate().expect("the reader returns valid tensors");
    use_tensor(&t);
    let again = npy::to_bytes(&t).expect("a valid tensor writes");
    assert_eq!(npy::from_bytes(&again).expect("reads back"), t);
}

/// The safetensors reader on arbitrary bytes, then every layout dequantizer
/// on whatever tensors it finds, named as the layouts name them.
pub fn safetensors(data: &[u8]) {
    let Ok(f) = st::SafeFile::from_bytes("fuzz.safetensors", data.to_vec()) else {
        return;
    };
    let meta = f.metadata();
    let names = f.names();
    for name in &names {
        f.info(name).expect("listed names exist");
        let raw = f.raw(name).expect("listed names exist");
        assert_eq!(raw.data.len(), f.nbytes(name).expect("listed"));
        if let Ok(t) = f.tensor(name) {
            t.validate().expect("the reader returns valid tensors");
            use_tensor(&t);
        }
    }
    let get = |n: &str| f.tensor(n).ok();
    for name in &names {
        if let (Some(w), Some(s), Some(s2)) = (
            get(name),
            get(&format!("{name}_scale")),
            get(&format!("{name}_scale_2")),
        ) {
            let _ = layouts::dequantize_modelopt_nvfp4(&w, &s, &s2);
        }
        if let Some(stem) = name.strip_suffix("_blocks")
            && let (Some(b), Some(s)) = (get(name), get(&format!("{stem}_scales")))
        {
            let _ = layouts::dequantize_gptoss_mxfp4(&b, &s);
        }
    }
    for (key, json) in &meta {
        if let Some(stem) = key.strip_prefix("blockscale:")
            && let (Some(d), Some(s)) = (
                get(&format!("{stem}.qdata")),
                get(&format!("{stem}.qscales")),
            )
        {
            read_own_any(&d, &s, json);
        }
    }
}

/// [`layouts::read_own`] in whatever format the metadata names.
fn read_own_any(d: &Tensor, s: &Tensor, json: &str) {
    if let Ok(q) = layouts::read_own(d, s, json) {
        use blockscale::tensor::QuantizedView;
        let _ = q.dequantize();
    }
}

fn dtype(u: &mut Unstructured) -> DType {
    pick(u, &DType::ALL)
}

/// A tensor built field by field: its public fields need not agree.
fn raw_tensor(u: &mut Unstructured) -> Tensor {
    let dtype = dtype(u);
    let ndim = u.int_in_range(0..=4usize).unwrap_or(0);
    let shape = (0..ndim)
        .map(|_| {
            if u.ratio(1, 10).unwrap_or(false) {
                u.arbitrary::<usize>().unwrap_or(0)
            } else {
                u.int_in_range(0..=40usize).unwrap_or(0)
            }
        })
        .collect();
    let len = u.int_in_range(0..=512usize).unwrap_or(0);
    let data = u.bytes(len).map(<[u8]>::to_vec).unwrap_or_default();
    Tensor { dtype, shape, data }
}

/// The checkpoint layouts' dequantizers and the crate's own layout reader
/// with tensors whose fields disagree, and arbitrary metadata JSON.
pub fn layouts(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let (a, b, c) = (raw_tensor(&mut u), raw_tensor(&mut u), raw_tensor(&mut u));
    for t in [&a, &b, &c] {
        use_tensor(t);
        let _ = npy::to_bytes(t);
        let _ = t.clone().reinterpret(DType::U8);
    }
    if let Ok(v) = layouts::dequantize_modelopt_nvfp4(&a, &b, &c) {
        assert_eq!(v.len(), 2 * a.numel());
    }
    if let Ok(v) = layouts::dequantize_gptoss_mxfp4(&a, &b) {
        assert_eq!(v.len(), 2 * a.numel());
    }
    let json = String::from_utf8_lossy(u.take_rest()).into_owned();
    let _ = layouts::own_format(&json);
    read_own_any(&a, &b, &json);
    let _ = Tensor::from_f32(a.dtype, a.shape.clone(), &[0.0; 4]);
}

#[cfg(test)]
mod tests {
    use super::TARGETS;
    use std::path::Path;

    /// Replays every file of `corpus/<target>/` (and `regressions/<target>/`,
    /// inputs that once failed) through its target: the fuzz smoke test CI
    /// runs on stable.
    #[test]
    fn replay_corpus() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut total = 0;
        for (name, target) in TARGETS {
            let mut n = 0;
            for dir in ["corpus", "regressions"] {
                let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
                    continue;
                };
                let mut paths: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
                paths.sort();
                for p in paths {
                    let data = std::fs::read(&p).expect("corpus file readable");
                    let r = std::panic::catch_unwind(|| target(&data));
                    assert!(r.is_ok(), "{name}: {} fails", p.display());
                    n += 1;
                }
            }
            println!("{name}: {n} inputs");
            total += n;
        }
        assert!(total > 0, "no corpus found under {}", root.display());
    }

    /// Every target survives empty and short inputs.
    #[test]
    fn short_inputs() {
        for (_, target) in TARGETS {
            for len in 0..64 {
                target(&vec![0xA5; len]);
                target(&vec![0; len]);
                target(&vec![0xFF; len]);
            }
        }
    }
}
