//! Helpers the recipe, linear-layer and RHT tests share: seeded Gaussian data
//! and the exact f64 products the quantized layers are measured against.
// Each test file uses a subset.
#![allow(dead_code)]

use blockscale::recipe::LinearShape;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

/// `n` seeded standard-normal values (Box–Muller) times `scale`.
pub fn data(seed: u64, n: usize, scale: f32) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let v = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let g = (-2.0 * u.max(1e-300).ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
            g as f32 * scale
        })
        .collect()
}

/// C = A·Bᵀ in f64, row-major A (m×k), B (n×k).
pub fn abt(a: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f64> {
    let mut c = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k)
                .map(|l| f64::from(a[i * k + l]) * f64::from(b[j * k + l]))
                .sum();
        }
    }
    c
}

/// The transpose of a row-major `rows × cols` matrix.
pub fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..rows * cols)
        .map(|i| x[(i % rows) * cols + i / rows])
        .collect()
}

/// Signal-to-quantization-noise ratio in dB of `approx` against `reference`.
pub fn sqnr(reference: &[f64], approx: &[f32]) -> f64 {
    let s: f64 = reference.iter().map(|x| x * x).sum();
    let e: f64 = reference
        .iter()
        .zip(approx)
        .map(|(x, y)| (x - f64::from(*y)).powi(2))
        .sum();
    10.0 * (s / e).log10()
}

/// Y, dX, dW in f64 from the unquantized inputs.
pub fn exact(x: &[f32], w: &[f32], dy: &[f32], s: LinearShape) -> [Vec<f64>; 3] {
    let (t, i, o) = (s.tokens, s.in_features, s.out_features);
    [
        abt(x, w, t, o, i),
        abt(dy, &transpose(w, o, i), t, i, o),
        abt(&transpose(dy, t, o), &transpose(x, t, i), o, i, t),
    ]
}
