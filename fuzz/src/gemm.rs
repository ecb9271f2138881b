//! The `gemm` target: the fast GEMM against the naive reference.

use arbitrary::Unstructured;
use blockscale::format::{BlockFormat, Fp8Blockwise, Fp8Tensorwise, Mx, MxFp4, MxFp8E4M3, Nvfp4};
use blockscale::simd::{self};
use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
use blockscale::{E2M3, E3M2, E4M3, E5M2, Int8};

use blockscale::testing::{levels, same_values};

use crate::{pick, values};

/// An operand's values: `values`, or for [`Shape::Long`] `skewed`.
type Values = fn(&mut Unstructured, usize) -> Vec<f32>;

fn operand<F: BlockFormat>(
    f: F,
    u: &mut Unstructured,
    (rows, k): (usize, usize),
    values: Values,
) -> Option<QuantizedTensor<F>> {
    let x = values(u, rows * k);
    QuantizedTensor::quantize(f, &x, rows, k, &QuantizeOptions::default()).ok()
}

/// The operands' sizes.
#[derive(Clone, Copy)]
enum Shape {
    /// Up to 24 × 40 outputs, K a multiple of 32 up to 192, `values`.
    Small,
    /// Up to 12 × 20 outputs, any K in 256..=1152, `skewed` values (C's
    /// from `values` as for `Small`): per tensor E4M3 × E5M2 sums past
    /// f64's 53 bits, with few elements below the i16 planes' first window
    /// (`Plan::I16Wide`, which needs blocks of 8 chunks of 32 or more) or
    /// many (`Plan::I64`).
    Long,
}

fn check_gemm<FA: BlockFormat, FB: BlockFormat>(
    fa: FA,
    fb: FB,
    u: &mut Unstructured,
    shape: Shape,
) {
    let (m, n, k, draw): (usize, usize, usize, Values) = match shape {
        Shape::Small => (
            u.int_in_range(1..=24).unwrap_or(1),
            u.int_in_range(1..=40).unwrap_or(1),
            32 * u.int_in_range(1..=6usize).unwrap_or(1),
            values,
        ),
        Shape::Long => (
            u.int_in_range(1..=12).unwrap_or(1),
            u.int_in_range(1..=20).unwrap_or(1),
            u.int_in_range(256..=1152).unwrap_or(256),
            skewed,
        ),
    };
    let (alpha, beta) = (pick(u, &[1.0f32, -0.5, 3.0]), pick(u, &[0.0f32, 1.0, -2.0]));
    let (Some(a), Some(b)) = (operand(fa, u, (m, k), draw), operand(fb, u, (n, k), draw)) else {
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
        if let Err(d) = same_values(&got, &want) {
            panic!(
                "{} x {} m={m} n={n} k={k} at {level:?}: fast GEMM vs reference: {d}",
                a.format().name(),
                b.format().name()
            );
        }
    }
    // A C of the wrong length is an error, not a panic.
    let mut short = vec![0f32; m * n - 1];
    assert!(blockscale::gemm::gemm(&a, &b, alpha, beta, &mut short).is_err());
}

/// Values for [`Shape::Long`]: most `m/16 · 2^e` with e −1 or 0 (2^-5 to
/// 8 in magnitude), and one in about `rare` (0: none) with e down to −40,
/// so that few or many elements need a plane of the i16 kernels after the
/// first.
fn skewed(u: &mut Unstructured, n: usize) -> Vec<f32> {
    let rare = pick(u, &[0u32, 16, 128, 1024]);
    (0..n)
        .map(|_| {
            let m = u.int_in_range(-128..=127i8).unwrap_or(0) as f32 / 16.0;
            // Exhausted input reads as "not tiny" (`ratio` answers true).
            let tiny = rare != 0 && !u.ratio(rare - 1, rare).unwrap_or(true);
            let e = if tiny {
                u.int_in_range(-40..=-8i32).unwrap_or(-8)
            } else {
                u.int_in_range(-1..=0i32).unwrap_or(0)
            };
            m * 2f32.powi(e)
        })
        .collect()
}

/// The fast GEMM against the naive reference, bit for bit, on arbitrary
/// small operands (NaN, ±Inf and extreme scales included) of every kernel
/// class: i8, f64, i64, the i16 planes with i64 sums, and generic.
pub fn gemm(data: &[u8]) {
    use Shape::{Long, Small};
    let mut u = Unstructured::new(data);
    let (t4, t5) = (
        Fp8Tensorwise::<E4M3>::current(),
        Fp8Tensorwise::<E5M2>::current(),
    );
    match u.int_in_range(0..=8u8).unwrap_or(0) {
        0 => check_gemm(Nvfp4::default(), Nvfp4::WEIGHTS_2D, &mut u, Small),
        1 => check_gemm(MxFp4::default(), MxFp4::default(), &mut u, Small),
        2 => check_gemm(Mx::<E2M3>::default(), Mx::<Int8>::default(), &mut u, Small),
        3 => check_gemm(MxFp8E4M3::default(), MxFp8E4M3::default(), &mut u, Small),
        4 => check_gemm(MxFp8E4M3::default(), Mx::<E5M2>::default(), &mut u, Small),
        5 => check_gemm(Mx::<E5M2>::default(), Mx::<E5M2>::default(), &mut u, Small),
        6 => check_gemm(t4, Fp8Blockwise::<E4M3>::new(32, 32), &mut u, Small),
        7 => check_gemm(
            Mx::<E3M2>::default(),
            Fp8Blockwise::<E4M3>::new(1, 32),
            &mut u,
            Small,
        ),
        _ if u.arbitrary().unwrap_or(false) => check_gemm(t5, t4, &mut u, Long),
        _ => check_gemm(t4, t5, &mut u, Long),
    }
}
