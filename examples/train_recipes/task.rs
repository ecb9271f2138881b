//! The task: a fixed random teacher and its training and validation sets.

use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

use crate::{LAYERS, TEACHER_HIDDEN, TOKENS, TRAIN_BATCHES, VAL_BATCHES, WIDTHS};

/// Uniform in [0, 1) with 53 bits.
pub fn uniform(rng: &mut Xoshiro256PlusPlus) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Standard normal (Box–Muller).
pub fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    let u = uniform(rng).max(1e-300);
    let v = uniform(rng);
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

pub fn rng_for(seed: u64, stream: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Gaussian matrix `rows × cols` with standard deviation `std`.
pub fn gaussian(rng: &mut Xoshiro256PlusPlus, rows: usize, cols: usize, std: f64) -> Vec<f32> {
    (0..rows * cols)
        .map(|_| (normal(rng) * std) as f32)
        .collect()
}

/// GELU, tanh form, and its derivative.
pub fn gelu(z: f32) -> f32 {
    let c = 0.797_884_6_f32; // sqrt(2/π)
    0.5 * z * (1.0 + (c * (z + 0.044715 * z * z * z)).tanh())
}

pub fn gelu_grad(z: f32) -> f32 {
    let c = 0.797_884_6_f32;
    let t = (c * (z + 0.044715 * z * z * z)).tanh();
    0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * z * z)
}

/// Y = X·Wᵀ in f64 (the teacher only: data generation, not training).
pub fn teacher_matmul(x: &[f32], w: &[f32], n_in: usize, n_out: usize) -> Vec<f64> {
    let tokens = x.len() / n_in;
    let mut y = vec![0f64; tokens * n_out];
    for t in 0..tokens {
        let xr = &x[t * n_in..(t + 1) * n_in];
        for o in 0..n_out {
            let wr = &w[o * n_in..(o + 1) * n_in];
            y[t * n_out + o] = xr
                .iter()
                .zip(wr)
                .map(|(a, b)| f64::from(*a) * f64::from(*b))
                .sum();
        }
    }
    y
}

/// One batch: inputs (TOKENS × 128) and targets (TOKENS × 128).
pub struct Batch {
    pub x: Vec<f32>,
    pub target: Vec<f32>,
}

/// The teacher and the fixed training and validation sets.
pub struct Task {
    pub train: Vec<Batch>,
    pub val: Vec<Batch>,
}

impl Task {
    pub fn new(seed: u64) -> Task {
        let (d_in, d_out) = (WIDTHS[0], WIDTHS[LAYERS]);
        let mut rng = rng_for(seed, 1);
        let w1 = gaussian(&mut rng, TEACHER_HIDDEN, d_in, (2.0 / d_in as f64).sqrt());
        let w2 = gaussian(
            &mut rng,
            d_out,
            TEACHER_HIDDEN,
            (1.0 / TEACHER_HIDDEN as f64).sqrt(),
        );
        let outliers: Vec<usize> = (0..4)
            .map(|_| (rng.next_u64() % d_in as u64) as usize)
            .collect();
        let batch = |rng: &mut Xoshiro256PlusPlus| -> (Vec<f32>, Vec<f64>) {
            let mut x = vec![0f32; TOKENS * d_in];
            for t in 0..TOKENS {
                let token_scale = (0.75 * normal(rng)).exp();
                for c in 0..d_in {
                    let mut v = normal(rng) * token_scale;
                    if outliers.contains(&c) {
                        v *= 8.0;
                    }
                    if uniform(rng) < 1e-3 {
                        v *= 20.0;
                    }
                    x[t * d_in + c] = v as f32;
                }
            }
            let h: Vec<f32> = teacher_matmul(&x, &w1, d_in, TEACHER_HIDDEN)
                .into_iter()
                .map(|v| gelu(v as f32))
                .collect();
            (x, teacher_matmul(&h, &w2, TEACHER_HIDDEN, d_out))
        };
        let mut raw_train: Vec<_> = (0..TRAIN_BATCHES).map(|_| batch(&mut rng)).collect();
        let mut val_rng = rng_for(seed, 2);
        let mut raw_val: Vec<_> = (0..VAL_BATCHES).map(|_| batch(&mut val_rng)).collect();
        // Targets scaled to unit mean square over the training set.
        let (sum, n) = raw_train.iter().fold((0f64, 0usize), |(s, n), (_, y)| {
            (s + y.iter().map(|v| v * v).sum::<f64>(), n + y.len())
        });
        let scale = (n as f64 / sum).sqrt();
        let finish = |raw: &mut Vec<(Vec<f32>, Vec<f64>)>| -> Vec<Batch> {
            raw.drain(..)
                .map(|(x, y)| Batch {
                    x,
                    target: y.iter().map(|v| (v * scale) as f32).collect(),
                })
                .collect()
        };
        Task {
            train: finish(&mut raw_train),
            val: finish(&mut raw_val),
        }
    }
}
