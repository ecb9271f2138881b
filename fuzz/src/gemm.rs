//! The `gemm` target: the fast GEMM against the naive reference.

use arbitrary::Unstructured;
use blockscale::format::{BlockFormat, Fp8Blockwise, Fp8Tensorwise, Mx, MxFp4, MxFp8E4M3, Nvfp4};
use blockscale::simd::{self};
use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
use blockscale::{E2M3, E3M2, E4M3, E5M2, Int8};

use blockscale::testing::{levels, same_values};

use crate::{pick, values};

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
