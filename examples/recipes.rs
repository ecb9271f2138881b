//! Runs each of the six recipes (and the NVFP4 paper's ablations) on one
//! seeded linear layer and prints how far Y, dX and dW are from the exact
//! (f64) layer.
//!
//! ```sh
//! cargo run --release --example recipes
//! ```

use blockscale::Error;
use blockscale::recipe::{LinearLayer, LinearShape, Nvfp4Options, Recipe, RecipeKind};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

/// Gaussian values with 0.5% outliers 10× larger, times `scale`.
fn data(rng: &mut Xoshiro256PlusPlus, n: usize, scale: f32) -> Vec<f32> {
    let mut u = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (0..n)
        .map(|_| {
            let g = (-2.0 * u().max(1e-300).ln()).sqrt() * (2.0 * std::f64::consts::PI * u()).cos();
            let outlier = if u() < 0.005 { 10.0 } else { 1.0 };
            (g * outlier) as f32 * scale
        })
        .collect()
}

/// C = A·Bᵀ in f64 for row-major A (m×k) and B (n×k) given as closures.
fn abt(
    a: impl Fn(usize, usize) -> f32,
    b: impl Fn(usize, usize) -> f32,
    (m, n, k): (usize, usize, usize),
) -> Vec<f64> {
    let mut c = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k)
                .map(|l| f64::from(a(i, l)) * f64::from(b(j, l)))
                .sum();
        }
    }
    c
}

/// (SQNR in dB, relative Frobenius error) of `approx` against `exact`.
fn error(exact: &[f64], approx: &[f32]) -> (f64, f64) {
    let s: f64 = exact.iter().map(|x| x * x).sum();
    let e: f64 = exact
        .iter()
        .zip(approx)
        .map(|(x, y)| (x - f64::from(*y)).powi(2))
        .sum();
    (10.0 * (s / e).log10(), (e / s).sqrt())
}

fn main() -> Result<(), Error> {
    let shape = LinearShape {
        tokens: 256,
        in_features: 256,
        out_features: 128,
    };
    let (t, i, o) = (shape.tokens, shape.in_features, shape.out_features);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2025);
    let x = data(&mut rng, t * i, 1.0);
    let w = data(&mut rng, o * i, 0.05);
    let dy = data(&mut rng, t * o, 1e-3);

    let y = abt(|r, c| x[r * i + c], |r, c| w[r * i + c], (t, o, i));
    let dx = abt(|r, c| dy[r * o + c], |r, c| w[c * i + r], (t, i, o));
    let dw = abt(|r, c| dy[c * o + r], |r, c| x[c * i + r], (o, i, t));

    println!(
        "linear layer, X {t}×{i}, W {o}×{i}, dY {t}×{o} (Gaussian with 0.5% 10× outliers, seed 2025)"
    );
    println!("error vs the exact f64 layer: SQNR in dB (relative Frobenius error)\n");
    println!(
        "{:<28} {:>18} {:>18} {:>18}",
        "recipe", "Y = X·Wᵀ", "dX = dY·W", "dW = dYᵀ·X"
    );
    let mut recipes: Vec<(String, Recipe)> = RecipeKind::ALL
        .iter()
        .map(|&k| (k.name().to_string(), Recipe::from_kind(k)))
        .collect();
    let base = Nvfp4Options::default();
    recipes.extend([
        (
            "nvfp4, 2-D weights off".to_string(),
            Recipe::nvfp4_with(Nvfp4Options {
                two_d_weights: false,
                ..base
            }),
        ),
        (
            "nvfp4, stochastic off".to_string(),
            Recipe::nvfp4_with(Nvfp4Options {
                stochastic_gradients: false,
                ..base
            }),
        ),
        (
            "nvfp4, RHT off".to_string(),
            Recipe::nvfp4_with(Nvfp4Options { rht: false, ..base }),
        ),
    ]);
    for (name, recipe) in recipes {
        let kind = recipe.kind;
        let mut layer = LinearLayer::new(recipe, 0, 1)?;
        let mut out = layer.run(0, &x, &w, &dy, shape)?;
        let mut label = name;
        if kind == RecipeKind::Delayed {
            // Step 0 has no amax history (scale 1); report step 1, whose
            // scales come from step 0's amaxes.
            out = layer.run(1, &x, &w, &dy, shape)?;
            label.push_str(" (step 1)");
        }
        let cell = |exact: &[f64], got: &[f32]| {
            let (db, rel) = error(exact, got);
            format!("{db:6.2} ({rel:.4})")
        };
        println!(
            "{label:<28} {:>18} {:>18} {:>18}",
            cell(&y, &out.y),
            cell(&dx, &out.dx),
            cell(&dw, &out.dw)
        );
    }
    Ok(())
}
