//! How accurate is each format's GEMM? For every format pair it quantizes
//! two seeded matrices, multiplies them with `blockscale::gemm`, and prints
//! the relative Frobenius error against (1) the exact f64 product of the
//! dequantized operands, which is the GEMM's own error (FP32 accumulation),
//! and (2) the product of the unquantized operands, which is what the
//! format costs.
//!
//! ```text
//! cargo run --release --example gemm_accuracy
//! ```
//!
//! Data (seeded): `gaussian` is i.i.d. standard normal; `heavy-tailed` is a
//! normal times a per-column log-normal scale exp(0.75·z) with one element
//! in a thousand multiplied by 40, shaped like LLM activations. A is
//! 128×2048 and B is 128×2048 (C = A·Bᵀ is 128×128, K = 2048).

use blockscale::format::{
    BlockFormat, Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp6E2M3, MxFp6E3M2, MxFp8E4M3, MxFp8E5M2,
    MxInt8, Nvfp4,
};
use blockscale::gemm::accuracy;
use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
use blockscale::{E4M3, E5M2};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

const M: usize = 128;
const K: usize = 2048;

fn matrix(seed: u64, heavy: bool) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut normal = move || {
        // Box–Muller from two uniforms in (0, 1].
        let u1 = (rng.next_u32() as f64 + 1.0) / 4294967296.0;
        let u2 = rng.next_u32() as f64 / 4294967296.0;
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let col: Vec<f64> = (0..K)
        .map(|_| if heavy { (0.75 * normal()).exp() } else { 1.0 })
        .collect();
    let mut x: Vec<f64> = (0..M * K).map(|i| normal() * col[i % K]).collect();
    if heavy {
        for i in (0..x.len()).step_by(1000) {
            x[(i * 7919) % (M * K)] *= 40.0;
        }
    }
    x.into_iter().map(|v| v as f32).collect()
}

fn row<FA: BlockFormat, FB: BlockFormat>(fa: FA, fb: FB, x: &[f32], y: &[f32]) {
    let o = QuantizeOptions::default();
    let a = QuantizedTensor::quantize(fa, x, M, K, &o).expect("quantize A");
    let b = QuantizedTensor::quantize(fb, y, M, K, &o).expect("quantize B");
    let acc = accuracy(&a, &b, x, y).expect("accuracy");
    let name = if a.format().name() == b.format().name() {
        a.format().name()
    } else {
        format!("{} x {}", a.format().name(), b.format().name())
    };
    println!(
        "| {name:<44} | {:>12.2e} | {:>12.4} | {:>10.3} |",
        acc.vs_dequantized, acc.vs_unquantized, acc.max_vs_unquantized
    );
}

fn main() {
    for (label, heavy) in [("gaussian", false), ("heavy-tailed", true)] {
        let (x, y) = (matrix(1, heavy), matrix(2, heavy));
        println!("\n{label} A, B ({M}x{K} each):\n");
        println!(
            "| {:<44} | {:>12} | {:>12} | {:>10} |",
            "format (A x B)", "vs exact deq", "vs f32 input", "max/rms"
        );
        println!("|{:-<46}|{:->14}|{:->14}|{:->12}|", "", "", "", "");
        row(Nvfp4::default(), Nvfp4::default(), &x, &y);
        row(Nvfp4::default(), Nvfp4::WEIGHTS_2D, &x, &y);
        row(MxFp4::default(), MxFp4::default(), &x, &y);
        row(MxFp6E2M3::default(), MxFp6E2M3::default(), &x, &y);
        row(MxFp6E3M2::default(), MxFp6E3M2::default(), &x, &y);
        row(MxFp8E4M3::default(), MxFp8E4M3::default(), &x, &y);
        row(MxFp8E4M3::default(), MxFp8E5M2::default(), &x, &y);
        row(MxInt8::default(), MxInt8::default(), &x, &y);
        let (t4, t5) = (
            Fp8Tensorwise::<E4M3>::current(),
            Fp8Tensorwise::<E5M2>::current(),
        );
        row(t4, t4, &x, &y);
        row(t4, t5, &x, &y);
        row(
            Fp8Blockwise::<E4M3>::ACTIVATIONS,
            Fp8Blockwise::<E4M3>::WEIGHTS,
            &x,
            &y,
        );
    }
}
