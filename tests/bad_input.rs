//! Every kind of bad input to the public API gives a typed error, never a
//! panic: wrong lengths, shapes that are not whole blocks or overflow
//! `usize`, zero-sized blocks, NaN and ±Inf parameters, and (feature `io`)
//! malformed files and tensors whose public fields disagree.
//!
//! CI also runs this file in a debug build, where integer overflow panics,
//! so arithmetic that would wrap silently in release is caught too.

use blockscale::element::{ConvertOptions, RandomBits, slice};
use blockscale::format::{
    BlockFormat, Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp8E4M3, MxFp8E5M2, Nvfp4,
};
use blockscale::layout::{self, ScaleLayout};
use blockscale::recipe::{AmaxCompute, DelayedScalingConfig};
use blockscale::recipe::{LinearLayer, LinearShape, OperandRole, Recipe};
use blockscale::rht::{Rht, SignVector};
use blockscale::tensor::{
    AnyQuantized, Direction, PartialBlocks, QuantizeOptions, QuantizedTensor, QuantizedView,
    bits_per_element,
};
use blockscale::{E4M3, E8M0, Error};

/// Runs `f`, failing the test with `what` if it panics, and returns its result.
fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => panic!("{what}: panicked instead of returning an error"),
    }
}

/// Fails unless `r` is the error variant named `want` (as `Debug` prints
/// it) with a message.
#[track_caller]
fn is_err<T: std::fmt::Debug>(want: &str, what: &str, r: Result<T, Error>) {
    match r {
        Err(e) if format!("{e:?}").starts_with(want) => {
            assert!(!e.to_string().is_empty(), "{what}: empty message")
        }
        other => panic!("{what}: expected {want}, got {other:?}"),
    }
}

#[track_caller]
fn is_invalid<T: std::fmt::Debug>(what: &str, r: Result<T, Error>) {
    is_err("InvalidArgument", what, r)
}

fn is_length<T: std::fmt::Debug>(what: &str, r: Result<T, Error>) {
    assert!(
        matches!(r, Err(Error::LengthMismatch { .. })),
        "{what}: expected LengthMismatch, got {r:?}"
    );
}

const O: QuantizeOptions = QuantizeOptions {
    direction: Direction::Rowwise,
    rounding: blockscale::tensor::TensorRounding::NearestEven,
    partial_blocks: PartialBlocks::Reject,
    global_amax: None,
};

#[test]
fn element_slices() {
    let mut out = [E4M3::ZERO; 2];
    is_length(
        "encode into a short slice",
        no_panic("encode", || {
            slice::encode(&[1.0f32; 3], &mut out, ConvertOptions::default())
        }),
    );
    let mut back = [0f32; 1];
    is_length(
        "decode into a short slice",
        no_panic("decode", || slice::decode(&out, &mut back)),
    );
    is_invalid("0 random bits", RandomBits::new(0, 0));
    is_invalid("33 random bits", RandomBits::new(0, 33));
    is_invalid("random value wider than its bits", RandomBits::new(4, 2));
}

#[test]
fn quantize_shapes_and_lengths() {
    let x = vec![1.0f32; 64];
    is_length(
        "source shorter than the shape",
        no_panic("quantize", || {
            QuantizedTensor::quantize(Nvfp4::default(), &x, 4, 32, &O)
        }),
    );
    let r = no_panic("quantize", || {
        QuantizedTensor::quantize(Nvfp4::default(), &x[..60], 3, 20, &O)
    });
    assert!(
        matches!(
            r,
            Err(Error::NotWholeBlocks {
                shape: (3, 20),
                block: (1, 16),
                ..
            })
        ),
        "partial block rejected: {r:?}"
    );
    // Shapes whose element count overflows usize, in both directions.
    for (rows, cols) in [(usize::MAX, 2), (2, usize::MAX), (usize::MAX, usize::MAX)] {
        for direction in [Direction::Rowwise, Direction::Columnwise] {
            let opts = QuantizeOptions {
                direction,
                partial_blocks: PartialBlocks::ZeroPad,
                ..O
            };
            is_err(
                "ShapeOverflow",
                "overflowing shape",
                no_panic("quantize", || {
                    QuantizedTensor::quantize(MxFp4::default(), &x, rows, cols, &opts)
                }),
            );
        }
    }
    // Blocks larger than the tensor, and of usize::MAX, under ZeroPad.
    let zp = QuantizeOptions {
        partial_blocks: PartialBlocks::ZeroPad,
        ..O
    };
    let q = no_panic("huge block", || {
        QuantizedTensor::quantize(
            Fp8Blockwise::<E4M3>::new(usize::MAX, usize::MAX),
            &x,
            8,
            8,
            &zp,
        )
    })
    .expect("one partial tile");
    assert_eq!(q.scales().len(), 1);
    is_err(
        "NotWholeBlocks",
        "huge block, rejected as partial",
        no_panic("quantize", || {
            QuantizedTensor::quantize(Fp8Blockwise::<E4M3>::new(usize::MAX, 1), &x, 8, 8, &O)
        }),
    );
    // Zero-sized blocks.
    for (r, c) in [(0, 128), (1, 0), (0, 0)] {
        is_invalid(
            "zero-sized block",
            no_panic("quantize", || {
                QuantizedTensor::quantize(Fp8Blockwise::<E4M3>::new(r, c), &x, 8, 8, &zp)
            }),
        );
    }
    // Empty tensors are fine, and dequantize to nothing.
    let e = QuantizedTensor::quantize(Nvfp4::default(), &[] as &[f32], 0, 16, &O).unwrap();
    assert!(e.dequantize().is_empty() && e.scales().is_empty());
}

#[test]
fn non_finite_parameters() {
    let x = vec![1.0f32; 32];
    for s in [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        -2.0,
        1e-45,
    ] {
        is_invalid(
            "bad fixed FP8 scale",
            no_panic("quantize", || {
                QuantizedTensor::quantize(Fp8Tensorwise::<E4M3>::with_scale(s), &x, 1, 32, &O)
            }),
        );
    }
    for a in [f32::NAN, -1.0, f32::INFINITY, f32::NEG_INFINITY] {
        let opts = QuantizeOptions {
            global_amax: Some(a),
            ..O
        };
        is_err(
            "InvalidValue",
            "bad global amax",
            no_panic("quantize", || {
                QuantizedTensor::quantize(Nvfp4::default(), &x, 1, 32, &opts)
            }),
        );
    }
    // NaN and ±Inf elements are data, not errors: every format quantizes
    // them by its rules, without panicking.
    let mut y = x.clone();
    y[0] = f32::NAN;
    y[1] = f32::INFINITY;
    y[2] = f32::NEG_INFINITY;
    y[3] = f32::MAX;
    y[4] = f32::from_bits(1);
    fn ok<F: BlockFormat>(f: F, y: &[f32]) {
        let q = no_panic(&f.name(), || {
            QuantizedTensor::quantize(f.clone(), y, 1, 32, &O)
        })
        .unwrap_or_else(|e| panic!("{}: {e}", f.name()));
        assert_eq!(q.dequantize().len(), 32);
    }
    ok(Nvfp4::default(), &y);
    ok(MxFp4::default(), &y);
    ok(MxFp8E5M2::default(), &y);
    ok(Fp8Tensorwise::<E4M3>::current(), &y);
    ok(Fp8Blockwise::<E4M3>::new(1, 32), &y);
}

/// A shape far beyond its source is refused before the output is
/// allocated: were it allocated first, 2²⁰ × 2²⁰ would abort this test
/// ("memory allocation failed") instead of failing it.
#[test]
fn huge_shapes_refused_before_allocating() {
    let x = [1.0f32; 32];
    fn huge<T: std::fmt::Debug>(r: Result<T, Error>) {
        assert!(
            matches!(
                r,
                Err(Error::LengthMismatch {
                    expected: 1_099_511_627_776,
                    found: 32,
                    ..
                })
            ),
            "{r:?}"
        )
    }
    for direction in [Direction::Rowwise, Direction::Columnwise] {
        let o = QuantizeOptions { direction, ..O };
        huge(
            QuantizedTensor::quantize(MxFp8E4M3::default(), &x, 1 << 20, 1 << 20, &o)
                .map(|q| q.shape()),
        );
        huge(
            QuantizedTensor::fake_quantize(Nvfp4::default(), &x, 1 << 20, 1 << 20, &o)
                .map(|v| v.len()),
        );
        huge(
            AnyQuantized::quantize(&"mxfp4".parse().unwrap(), &x, 1 << 20, 1 << 20, &o)
                .map(|q| q.shape()),
        );
        let mut q = QuantizedTensor::quantize(MxFp8E4M3::default(), &x, 1, 32, &O).unwrap();
        let before = (q.data().to_vec(), q.scales().to_vec());
        huge(q.requantize(&x, 1 << 20, 1 << 20, &o).map(|_| 0));
        assert_eq!(
            (q.shape(), q.data(), q.scales()),
            ((1, 32), &before.0[..], &before.1[..])
        );
    }
    // from_parts allocates nothing, and checks the data against the shape.
    is_length(
        "from_parts, huge shape",
        QuantizedTensor::from_parts(
            MxFp8E4M3::default(),
            (1 << 20, 1 << 20),
            Direction::Rowwise,
            PartialBlocks::Reject,
            vec![0x38; 32],
            vec![E8M0::ONE],
            None,
        ),
    );
    // An empty 0 × 2⁴⁰ tensor is valid: nothing is sized by its width.
    for direction in [Direction::Rowwise, Direction::Columnwise] {
        let o = QuantizeOptions { direction, ..O };
        let (rows, cols) = match direction {
            Direction::Rowwise => (0, 1 << 40),
            Direction::Columnwise => (1 << 40, 0),
        };
        let mut q = QuantizedTensor::quantize(MxFp4::default(), &[] as &[f32], rows, cols, &o)
            .expect("an empty tensor");
        assert!(q.data().is_empty() && q.scales().is_empty() && q.dequantize().is_empty());
        q.requantize(&[] as &[f32], rows, cols, &o).unwrap();
        q.requantize(&x, 1, 32, &O).unwrap();
        assert_eq!(q.data().len(), 16);
    }
    // Shapes whose element count overflows usize, everywhere.
    for (rows, cols) in [(usize::MAX, 2), (1 << 33, 1 << 31)] {
        let o = QuantizeOptions {
            partial_blocks: PartialBlocks::ZeroPad,
            ..O
        };
        let mut q = QuantizedTensor::quantize(MxFp4::default(), &x, 1, 32, &O).unwrap();
        is_err(
            "ShapeOverflow",
            "requantize, overflow",
            q.requantize(&x, rows, cols, &o),
        );
        is_err(
            "ShapeOverflow",
            "AnyQuantized, overflow",
            AnyQuantized::quantize(&"mxfp4".parse().unwrap(), &x, rows, cols, &o),
        );
        is_err(
            "ShapeOverflow",
            "AnyQuantized::from_parts, overflow",
            AnyQuantized::from_parts(
                &"mxfp4".parse().unwrap(),
                (rows, cols),
                Direction::Rowwise,
                PartialBlocks::ZeroPad,
                vec![0; 16],
                &[0x7F],
                None,
            ),
        );
    }
}

/// The caller's global amax is checked one way in quantize, requantize
/// and from_parts: finite and non-negative, with −0 taken as +0.
#[test]
fn global_amax_checked_alike() {
    let x: Vec<f32> = (0..32).map(|i| i as f32 - 16.0).collect();
    let with = |a: f32| QuantizeOptions {
        global_amax: Some(a),
        ..O
    };
    fn named<T: std::fmt::Debug>(what: &str, a: f32, r: Result<T, Error>) {
        match r {
            Err(Error::InvalidValue { what: w, value, .. }) => {
                assert_eq!(w, "global amax", "{what}");
                assert_eq!(value.to_bits(), f64::from(a).to_bits(), "{what}");
            }
            other => panic!("{what} {a}: expected InvalidValue, got {other:?}"),
        }
    }
    for a in [
        -4.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -f32::MIN_POSITIVE,
    ] {
        named(
            "quantize",
            a,
            no_panic("quantize", || {
                QuantizedTensor::quantize(Nvfp4::default(), &x, 2, 16, &with(a))
            }),
        );
        named(
            "quantize, FP8 per tensor",
            a,
            QuantizedTensor::quantize(Fp8Tensorwise::<E4M3>::current(), &x, 2, 16, &with(a)),
        );
        let mut q = QuantizedTensor::quantize(Nvfp4::default(), &x, 2, 16, &O).unwrap();
        let before = q.data().to_vec();
        named("requantize", a, q.requantize(&x, 2, 16, &with(a)));
        assert_eq!((q.data(), q.global_amax()), (&before[..], Some(16.0)));
        named(
            "from_parts",
            a,
            no_panic("from_parts", || {
                QuantizedTensor::from_parts(
                    Nvfp4::default(),
                    (2, 16),
                    Direction::Rowwise,
                    PartialBlocks::Reject,
                    before.clone(),
                    q.scales().to_vec(),
                    Some(a),
                )
            }),
        );
        named(
            "AnyQuantized::from_parts",
            a,
            AnyQuantized::from_parts(
                &"fp8".parse().unwrap(),
                (1, 32),
                Direction::Rowwise,
                PartialBlocks::Reject,
                vec![0x38; 32],
                &[1f32.to_bits()],
                Some(a),
            ),
        );
    }
    // −0 is fine, and is +0: the same bytes, values and amax.
    let zero = QuantizedTensor::quantize(Nvfp4::default(), &x, 2, 16, &with(0.0)).unwrap();
    let neg = QuantizedTensor::quantize(Nvfp4::default(), &x, 2, 16, &with(-0.0)).unwrap();
    assert_eq!((neg.data(), neg.scales()), (zero.data(), zero.scales()));
    assert_eq!(neg.global_amax().map(f32::to_bits), Some(0));
    let bits = |v: Vec<f32>| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(neg.dequantize()), bits(zero.dequantize()));
    let mut r = neg.clone();
    r.requantize(&x, 2, 16, &with(-0.0)).unwrap();
    let p = QuantizedTensor::from_parts(
        Nvfp4::default(),
        (2, 16),
        Direction::Rowwise,
        PartialBlocks::Reject,
        zero.data().to_vec(),
        zero.scales().to_vec(),
        Some(-0.0),
    )
    .unwrap();
    assert_eq!(p.global_amax().map(f32::to_bits), Some(0));
    assert_eq!(bits(p.dequantize()), bits(zero.dequantize()));
}

/// from_parts takes scales as stored: the NaN encodings the quantizers
/// write for blocks holding a NaN (E8M0 0xFF, E4M3 0x7F), and FP32 NaN and
/// ±Inf, which torchao's and compressed-tensors' FP8 factors are for
/// blocks holding a NaN or ±Inf.
#[test]
fn from_parts_scales() {
    let mx = QuantizedTensor::from_parts(
        MxFp8E4M3::default(),
        (1, 32),
        Direction::Rowwise,
        PartialBlocks::Reject,
        vec![0x38; 32],
        vec![E8M0::from_bits(0xFF)],
        None,
    )
    .expect("E8M0 NaN is a scale by the spec");
    assert!(mx.dequantize().iter().all(|v| v.is_nan()));
    let nv = QuantizedTensor::from_parts(
        Nvfp4::default(),
        (1, 16),
        Direction::Rowwise,
        PartialBlocks::Reject,
        vec![0x22; 8],
        vec![E4M3::from_bits(0x7F)],
        Some(1.0),
    )
    .expect("E4M3 NaN is a scale NVFP4 quantizers write");
    assert!(nv.dequantize().iter().all(|v| v.is_nan()));
    for s in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let t = no_panic("from_parts", || {
            QuantizedTensor::from_parts(
                Fp8Blockwise::<E4M3>::new(1, 32),
                (1, 64),
                Direction::Rowwise,
                PartialBlocks::Reject,
                vec![0x38; 64],
                vec![1.0, s],
                None,
            )
        })
        .expect("an FP32 scale as a producer stores it");
        // E4M3 0x38 is 1: the first block is 1s, the second the scale itself.
        let d = t.dequantize();
        assert!(d[..32].iter().all(|&v| v == 1.0));
        assert!(
            d[32..]
                .iter()
                .all(|&v| v.to_bits() == s.to_bits() || (v.is_nan() && s.is_nan()))
        );
    }
}
#[test]
fn tensors_from_parts_and_accessors() {
    let q = QuantizedTensor::quantize(Nvfp4::default(), &[1.0f32; 32], 2, 16, &O).unwrap();
    let parts = |data: Vec<u8>, scales: Vec<E4M3>, amax: Option<f32>, shape| {
        no_panic("from_parts", || {
            QuantizedTensor::from_parts(
                Nvfp4::default(),
                shape,
                Direction::Rowwise,
                PartialBlocks::Reject,
                data,
                scales,
                amax,
            )
        })
    };
    let (d, s) = (q.data().to_vec(), q.scales().to_vec());
    is_length(
        "short data",
        parts(d[1..].to_vec(), s.clone(), Some(1.0), (2, 16)),
    );
    is_length(
        "short scales",
        parts(d.clone(), s[1..].to_vec(), Some(1.0), (2, 16)),
    );
    is_invalid("missing amax", parts(d.clone(), s.clone(), None, (2, 16)));
    is_err(
        "ShapeOverflow",
        "overflowing shape",
        parts(d.clone(), s.clone(), Some(1.0), (usize::MAX, 16)),
    );
    is_invalid(
        "needless amax",
        no_panic("from_parts", || {
            QuantizedTensor::from_parts(
                MxFp4::default(),
                (1, 32),
                Direction::Rowwise,
                PartialBlocks::Reject,
                vec![0; 16],
                vec![E8M0::ONE],
                Some(1.0),
            )
        }),
    );
    let mut short = vec![0f32; 31];
    is_length("dequantize_into", q.dequantize_into(&mut short));
    is_length("error_metrics", q.error_metrics(&[0.0; 3]));
    assert!(q.element(2, 0).is_none() && q.element(0, 16).is_none());
    assert!(q.element(usize::MAX, usize::MAX).is_none());
    assert!(q.scale_at(usize::MAX, 0).is_none());
    let mut r = q.clone();
    is_length(
        "requantize with a short source",
        r.requantize(&[1.0f32; 16], 2, 16, &O),
    );
    assert_eq!(
        r.data(),
        q.data(),
        "a failed requantize leaves the tensor as it was"
    );
    is_invalid(
        "bits per element, empty",
        bits_per_element(&Nvfp4::default(), 0, 16),
    );
    is_err(
        "ShapeOverflow",
        "bits per element, overflow",
        no_panic("bits_per_element", || {
            bits_per_element(&Nvfp4::default(), usize::MAX, usize::MAX)
        }),
    );
    is_invalid(
        "bits per element, zero block",
        no_panic("bits_per_element", || {
            bits_per_element(&Fp8Blockwise::<E4M3>::new(0, 1), 4, 4)
        }),
    );
}

#[test]
fn scale_layouts() {
    for (r, c) in [(usize::MAX, 1), (1, usize::MAX), (usize::MAX / 2, 8)] {
        is_err(
            "ShapeOverflow",
            "storage_len",
            no_panic("storage_len", || ScaleLayout::Swizzled.storage_len(r, c)),
        );
        is_err(
            "ShapeOverflow",
            "swizzled_shape",
            no_panic("swizzled_shape", || layout::swizzled_shape(r, c)),
        );
    }
    assert!(layout::swizzle(&[1u8; 3], 2, 2, 0).is_err());
    assert!(layout::unswizzle(&[1u8; 3], 2, 2).is_err());
    // Outside its precondition the offset is meaningless but never panics.
    no_panic("swizzled_offset", || {
        layout::swizzled_offset(usize::MAX, usize::MAX, usize::MAX)
    });
}

#[test]
fn gemm_operands() {
    let a = QuantizedTensor::quantize(MxFp4::default(), &[1.0f32; 64], 2, 32, &O).unwrap();
    let b = QuantizedTensor::quantize(MxFp4::default(), &[1.0f32; 128], 2, 64, &O).unwrap();
    let n16 = QuantizedTensor::quantize(Nvfp4::default(), &[1.0f32; 64], 2, 32, &O).unwrap();
    let mut c = vec![0f32; 4];
    assert_eq!(
        no_panic("gemm", || blockscale::gemm::gemm(&a, &b, 1.0, 0.0, &mut c)),
        Err(Error::KMismatch {
            a: (2, 32),
            b: (2, 64)
        })
    );
    is_err(
        "BlockMismatch",
        "blocks along K",
        no_panic("gemm", || {
            blockscale::gemm::gemm(&a, &n16, 1.0, 0.0, &mut c)
        }),
    );
    is_length(
        "C length",
        no_panic("gemm", || {
            blockscale::gemm::gemm_reference(&a, &a, 1.0, 0.0, &mut c[..3])
        }),
    );
    is_length(
        "accuracy x",
        no_panic("accuracy", || {
            blockscale::gemm::accuracy(&a, &a, &[0.0; 3], &[0.0; 64])
        }),
    );
    // Blocks far longer than K are one block of K: the fast path and the
    // reference agree, and nothing overflows.
    let zp = QuantizeOptions {
        partial_blocks: PartialBlocks::ZeroPad,
        ..O
    };
    let x: Vec<f32> = (0..6 * 40).map(|i| (i % 7) as f32 - 3.0).collect();
    let big = Fp8Blockwise::<E4M3>::new(usize::MAX, usize::MAX);
    let h = QuantizedTensor::quantize(big, &x, 6, 40, &zp).unwrap();
    let (mut c1, mut c2) = (vec![0f32; 36], vec![0f32; 36]);
    no_panic("gemm", || blockscale::gemm::gemm(&h, &h, 1.0, 0.0, &mut c1)).unwrap();
    no_panic("gemm", || {
        blockscale::gemm::gemm_reference(&h, &h, 1.0, 0.0, &mut c2)
    })
    .unwrap();
    assert_eq!(c1, c2);
    // Non-finite alpha and beta are arithmetic, not errors.
    let mut c = vec![f32::NAN; 4];
    blockscale::gemm::gemm(&a, &a, f32::INFINITY, 0.0, &mut c).unwrap();
    assert!(c.iter().all(|v| v.is_infinite()), "beta = 0 never reads C");
}

#[test]
fn transforms_recipes_and_scalers() {
    for n in [0, 1, 8, 48, 512, usize::MAX] {
        is_invalid(
            "RHT size",
            no_panic("Rht::new", || Rht::new(n, SignVector::Ones)),
        );
    }
    let rht = Rht::transformer_engine();
    let mut v = vec![0f32; 20];
    is_err(
        "NotWholeBlocks",
        "partial RHT chunk",
        rht.forward(&mut v, 1, 20, Direction::Rowwise),
    );
    is_length(
        "RHT data length",
        rht.forward(&mut v, 2, 16, Direction::Rowwise),
    );
    is_err(
        "ShapeOverflow",
        "RHT overflowing shape",
        no_panic("rht", || {
            rht.inverse(&mut v, usize::MAX, 16, Direction::Columnwise)
        }),
    );
    is_invalid(
        "history 0",
        DelayedScalingConfig::new(0, AmaxCompute::Max, 0),
    );
    is_invalid(
        "layer out of range",
        LinearLayer::new(Recipe::mxfp8(), 3, 2),
    );
    let shape = LinearShape {
        tokens: 32,
        in_features: 32,
        out_features: 32,
    };
    let mut l = LinearLayer::new(Recipe::mxfp8(), 0, 1).unwrap();
    let x = vec![0.5f32; 32 * 32];
    is_length(
        "short weight",
        no_panic("run", || l.run(0, &x, &x[1..], &x, shape)),
    );
    let odd = LinearShape {
        tokens: 31,
        in_features: 32,
        out_features: 32,
    };
    assert!(no_panic("run", || l.run(0, &x[..31 * 32], &x, &x[..31 * 32], odd)).is_err());
    let huge = LinearShape {
        tokens: usize::MAX,
        in_features: 32,
        out_features: 32,
    };
    assert!(no_panic("run", || l.run(0, &x, &x, &x, huge)).is_err());
    let spec = Recipe::delayed().spec(OperandRole::FpropInput);
    is_invalid("delayed without a scale", spec.quantize(&x, 32, 32, None));
    is_invalid(
        "RecipeKind",
        blockscale::recipe::RecipeKind::from_name("fp3"),
    );
}

#[cfg(feature = "io")]
mod files {
    use super::*;
    use blockscale::io::{DType, Tensor, layouts, npy, st};

    #[test]
    fn tensors_whose_fields_disagree() {
        let bad = Tensor {
            dtype: DType::F32,
            shape: vec![2, 2],
            data: vec![0; 15],
        };
        is_length("to_f32", no_panic("to_f32", || bad.to_f32()));
        is_length("npy::to_bytes", npy::to_bytes(&bad));
        let huge = Tensor {
            dtype: DType::U8,
            shape: vec![usize::MAX, 4],
            data: vec![],
        };
        is_invalid("overflowing shape", huge.validate());
        assert_eq!(huge.numel(), usize::MAX);
        no_panic("matrix_shape", || huge.matrix_shape());
        is_invalid(
            "Tensor::new overflow",
            Tensor::new(DType::F64, vec![1 << 62, 4], vec![]),
        );
        is_invalid(
            "from_f32 into an integer type",
            Tensor::from_f32(DType::U8, vec![1], &[1.0]),
        );
        is_invalid(
            "reinterpret across sizes",
            Tensor::new(DType::U8, vec![2], vec![0; 2])
                .unwrap()
                .reinterpret(DType::BF16),
        );
        // Layout dequantizers: inconsistent or mismatched tensors.
        let w = Tensor {
            dtype: DType::U8,
            shape: vec![2, 8],
            data: vec![0; 3],
        };
        let s = Tensor::new(DType::F8E4M3, vec![2, 1], vec![0x38; 2]).unwrap();
        let s2 = Tensor {
            dtype: DType::F32,
            shape: vec![],
            data: vec![],
        };
        assert!(
            no_panic("modelopt", || layouts::dequantize_modelopt_nvfp4(
                &w, &s, &s2
            ))
            .is_err()
        );
        let w = Tensor::new(DType::U8, vec![2, 8], vec![0; 16]).unwrap();
        assert!(
            no_panic("modelopt", || layouts::dequantize_modelopt_nvfp4(
                &w, &s, &s2
            ))
            .is_err()
        );
        let wide = Tensor {
            dtype: DType::U8,
            shape: vec![1, usize::MAX],
            data: vec![],
        };
        assert!(
            no_panic("modelopt", || layouts::dequantize_modelopt_nvfp4(
                &wide, &s, &s2
            ))
            .is_err()
        );
        let blocks = Tensor::new(DType::U8, vec![1, 2, 16], vec![0; 32]).unwrap();
        let scales = Tensor {
            dtype: DType::U8,
            shape: vec![1, 2],
            data: vec![127],
        };
        assert!(
            no_panic("gptoss", || layouts::dequantize_gptoss_mxfp4(
                &blocks, &scales
            ))
            .is_err()
        );
        for json in [
            "",
            "{",
            "{\"format\": 3}",
            "{\"format\":\"mxfp8\",\"shape\":[-1,2]}",
            "null",
        ] {
            let d = Tensor::new(DType::U8, vec![64], vec![0; 64]).unwrap();
            let sc = Tensor::new(DType::F8E8M0, vec![2, 1], vec![127; 2]).unwrap();
            assert!(
                no_panic("read_own", || layouts::read_own(&d, &sc, json)).is_err(),
                "{json}"
            );
        }
    }

    #[test]
    fn malformed_files() {
        for b in [
            &b""[..],
            b"\x93NUMPY",
            b"\x93NUMPY\x09\x00\x00\x00",
            b"\x93NUMPY\x01\x00\xff\xff{",
        ] {
            is_invalid("npy", no_panic("npy", || npy::from_bytes(b)));
        }
        let header =
            "{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551615, 2), }";
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend((header.len() as u16).to_le_bytes());
        b.extend(header.as_bytes());
        is_invalid(
            "npy overflowing shape",
            no_panic("npy", || npy::from_bytes(&b)),
        );
        // (`{}` after its length is a valid, empty file.)
        let empty = st::SafeFile::from_bytes("x", b"\x02\0\0\0\0\0\0\0{}".to_vec());
        assert!(empty.unwrap().names().is_empty());
        for b in [
            &b""[..],
            &[0xff; 8],
            &[3, 0, 0, 0, 0, 0, 0, 0, b'{', b'}'],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0],
        ] {
            assert!(matches!(
                no_panic("safetensors", || st::SafeFile::from_bytes("x", b.to_vec())),
                Err(Error::File { .. })
            ));
        }
        let header =
            br#"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}"#;
        let mut b = (header.len() as u64).to_le_bytes().to_vec();
        b.extend_from_slice(header);
        assert!(no_panic("safetensors", || st::SafeFile::from_bytes("x", b)).is_err());
        let f = st::SafeFile::from_bytes("x", {
            let h = br#"{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#;
            let mut b = (h.len() as u64).to_le_bytes().to_vec();
            b.extend_from_slice(h);
            b.push(1);
            b
        })
        .unwrap();
        assert!(matches!(f.tensor("missing"), Err(Error::File { .. })));
        assert!(
            f.info("missing").is_err() && f.raw("missing").is_err() && f.nbytes("missing").is_err()
        );
    }

    /// The operating system's error stays reachable: its kind through
    /// `io_kind`, itself through `source()`; an error met inside a file
    /// keeps its variant under `root()`.
    #[test]
    fn file_errors_keep_their_source() {
        use std::error::Error as _;
        let missing = std::env::temp_dir().join("blockscale-no-such-dir/w.safetensors");
        let Err(e) = st::SafeFile::open(&missing) else {
            panic!("{} opened", missing.display())
        };
        assert_eq!(e.io_kind(), Some(std::io::ErrorKind::NotFound), "{e}");
        assert_eq!(e.path(), Some(missing.display().to_string().as_str()));
        let source = e.source().expect("an io error has a source");
        assert!(source.downcast_ref::<std::io::Error>().is_some());
        assert!(e.to_string().contains("cannot open"), "{e}");

        let inner = Error::KMismatch {
            a: (2, 32),
            b: (2, 64),
        };
        let e = inner.clone().in_file("m.safetensors", Some("w"));
        assert_eq!(e.root(), &inner);
        assert_eq!(e.source().unwrap().to_string(), inner.to_string());
        assert_eq!(
            e.to_string(),
            "m.safetensors: tensor w: K mismatch: A is 2x32, B is 2x64 (both stored along K)"
        );
        // A file error is not wrapped twice.
        assert_eq!(e.clone().in_file("other", None), e);
    }

    /// A tensor quantized from a NaN or an infinity has a NaN or +Inf
    /// tensor amax. The writers refuse it, naming the tensor, rather than
    /// write a global scale (null in JSON, NaN or 0 as a number) that no
    /// reader takes back.
    #[test]
    fn writers_refuse_a_non_finite_tensor_amax() {
        use blockscale::io::gguf;
        let mut x = vec![1.0f32; 2 * 32];
        let fine = QuantizedTensor::quantize(Nvfp4::default(), &x, 2, 32, &O).unwrap();
        for bad in [f32::NAN, f32::INFINITY] {
            x[7] = bad;
            let q = QuantizedTensor::quantize(Nvfp4::default(), &x, 2, 32, &O).unwrap();
            let q8 =
                QuantizedTensor::quantize(Fp8Tensorwise::<E4M3>::default(), &x, 2, 32, &O).unwrap();
            assert!(!q.global_amax().unwrap().is_finite());
            let amax = |what: &str, e: Error| match e {
                Error::InvalidValue { what: w, .. } => {
                    assert_eq!(w, "tensor w's tensor amax", "{what}")
                }
                other => panic!("{what}: {other:?}"),
            };
            amax("own", layouts::own("w", &q).unwrap_err());
            amax("own fp8", layouts::own("w", &q8).unwrap_err());
            amax("modelopt", layouts::modelopt_nvfp4("w", &q).unwrap_err());
            amax(
                "modelopt experts",
                layouts::modelopt_nvfp4_experts("w", &[fine.clone(), q.clone()]).unwrap_err(),
            );
            amax("compressed", layouts::compressed("w", &q).unwrap_err());
            amax("compressed fp8", layouts::compressed("w", &q8).unwrap_err());
            amax("gguf", gguf::gguf_tensors_nvfp4("w", &q).unwrap_err());
            amax(
                "gguf experts",
                gguf::gguf_tensors_nvfp4_experts("w", &[fine.clone(), q.clone()]).unwrap_err(),
            );
        }
    }
}
