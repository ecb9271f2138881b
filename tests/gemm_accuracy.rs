//! Sanity bounds on the GEMM's accuracy: its own error (against the exact
//! product of the dequantized operands) is FP32 accumulation noise, and its
//! error against the unquantized product follows each format's precision.

use blockscale::format::{
    BlockFormat, Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp6E2M3, MxFp6E3M2, MxFp8E4M3, MxInt8, Nvfp4,
};
use blockscale::gemm::{GemmAccuracy, accuracy, gemm};
use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
use blockscale::{E4M3, Error};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

const M: usize = 128;
const K: usize = 1024;

fn gaussian(seed: u64) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..M * K)
        .map(|_| {
            let u1 = (rng.next_u32() as f64 + 1.0) / 4294967296.0;
            let u2 = rng.next_u32() as f64 / 4294967296.0;
            ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        })
        .collect()
}

fn measure<F: BlockFormat>(f: F, x: &[f32], y: &[f32]) -> GemmAccuracy {
    let o = QuantizeOptions::default();
    let a = QuantizedTensor::quantize(f.clone(), x, M, K, &o).unwrap();
    let b = QuantizedTensor::quantize(f, y, M, K, &o).unwrap();
    accuracy(&a, &b, x, y).unwrap()
}

#[test]
fn accuracy_matches_an_independent_computation() {
    let (x, y) = (gaussian(1), gaussian(2));
    let o = QuantizeOptions::default();
    let a = QuantizedTensor::quantize(MxFp8E4M3::default(), &x, M, K, &o).unwrap();
    let b = QuantizedTensor::quantize(MxFp8E4M3::default(), &y, M, K, &o).unwrap();
    let got = accuracy(&a, &b, &x, &y).unwrap();
    // By hand: C from the GEMM, R from f64 sums of the dequantized values.
    let mut c = vec![0f32; M * M];
    gemm(&a, &b, 1.0, 0.0, &mut c).unwrap();
    let (da, db) = (a.dequantize(), b.dequantize());
    let (mut num, mut den) = (0f64, 0f64);
    for i in 0..M {
        for j in 0..M {
            let r: f64 = (0..K)
                .map(|k| da[i * K + k] as f64 * db[j * K + k] as f64)
                .sum();
            num += (c[i * M + j] as f64 - r).powi(2);
            den += r * r;
        }
    }
    assert!(((num / den).sqrt() - got.vs_dequantized).abs() <= 1e-12);
    // Mismatched unquantized operands are an error, not a panic.
    assert!(matches!(
        accuracy(&a, &b, &x[1..], &y),
        Err(Error::LengthMismatch { .. })
    ));
}

#[test]
fn errors_follow_each_formats_precision() {
    let (x, y) = (gaussian(3), gaussian(4));
    let nv = measure(Nvfp4::default(), &x, &y);
    let mx4 = measure(MxFp4::default(), &x, &y);
    let e2m3 = measure(MxFp6E2M3::default(), &x, &y);
    let e3m2 = measure(MxFp6E3M2::default(), &x, &y);
    let e4m3 = measure(MxFp8E4M3::default(), &x, &y);
    let int8 = measure(MxInt8::default(), &x, &y);
    let t8 = measure(Fp8Tensorwise::<E4M3>::current(), &x, &y);
    let o = QuantizeOptions::default();
    let bw = accuracy(
        &QuantizedTensor::quantize(Fp8Blockwise::<E4M3>::ACTIVATIONS, &x, M, K, &o).unwrap(),
        &QuantizedTensor::quantize(Fp8Blockwise::<E4M3>::WEIGHTS, &y, M, K, &o).unwrap(),
        &x,
        &y,
    )
    .unwrap();
    // The GEMM's own error: K/32 = 32 f32 additions of ~2^-24 relative error
    // each, a random walk far below this bound.
    for acc in [nv, mx4, e2m3, e3m2, e4m3, int8, t8, bw] {
        assert!(acc.vs_dequantized < 1e-6, "{acc:?}");
    }
    // Against the unquantized product: with independent rounding errors of
    // relative RMS e per element, C's relative error is about e·√2. For
    // Gaussian data e is about 2^-(mantissa bits + 1)·1.2 for the
    // floating-point formats, larger for FP4's 1-bit mantissa.
    assert!(int8.vs_unquantized < 0.02, "{int8:?}");
    assert!(e4m3.vs_unquantized < 0.06 && t8.vs_unquantized < 0.06 && bw.vs_unquantized < 0.06);
    assert!(
        e2m3.vs_unquantized < 0.06 && e3m2.vs_unquantized < 0.12,
        "{e2m3:?} {e3m2:?}"
    );
    assert!(nv.vs_unquantized < 0.2 && mx4.vs_unquantized < 0.25);
    // More mantissa bits, less error; NVFP4's finer E4M3 scales beat MXFP4's.
    assert!(int8.vs_unquantized < e4m3.vs_unquantized);
    assert!(e2m3.vs_unquantized < e3m2.vs_unquantized);
    assert!(e4m3.vs_unquantized < nv.vs_unquantized);
    assert!(nv.vs_unquantized < mx4.vs_unquantized);
}
