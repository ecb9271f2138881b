//! The crate's first example, on embedded default inputs: every element
//! format's value table, a few numbers round-tripped through each, and the
//! table a user reads to choose a block format (SQNR, max error, saturation,
//! bits per element) on a seeded synthetic heavy-tailed matrix.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```

use blockscale::element::{ConvertOptions, Rounding};
use blockscale::format::{
    BlockFormat, Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp6E2M3, MxFp6E3M2, MxFp8E4M3, MxFp8E5M2,
    MxInt8, Nvfp4,
};
use blockscale::scale::mx::MxScaleRule;
use blockscale::tensor::{QuantizeOptions, QuantizedTensor, bits_per_element};
use blockscale::{E2M1, E2M3, E3M2, E4M3, E5M2, E8M0, Element, Int8};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

const ROWS: usize = 256;
const COLS: usize = 1024;

/// The embedded default tensor: a seeded 256×1024 matrix shaped like LLM
/// activations. Each element is a standard normal times a per-column
/// log-normal scale exp(0.75·z) (some channels run hotter than others), so
/// the distribution is heavy-tailed; one element in a thousand is an outlier
/// multiplied by 40. Seed 2026.
fn synthetic_activations() -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2026);
    let mut normal = move || {
        // Box–Muller from two uniforms in (0, 1].
        let u1 = (rng.next_u32() as f64 + 1.0) / 4294967296.0;
        let u2 = rng.next_u32() as f64 / 4294967296.0;
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let col_scale: Vec<f64> = (0..COLS).map(|_| (0.75 * normal()).exp()).collect();
    let mut x = Vec::with_capacity(ROWS * COLS);
    for _ in 0..ROWS {
        for &s in &col_scale {
            x.push(normal() * s);
        }
    }
    // Outliers: every 1000th element, deterministically placed.
    for i in (0..x.len()).step_by(1000) {
        x[(i * 7919) % (ROWS * COLS)] *= 40.0;
    }
    x.into_iter().map(|v| v as f32).collect()
}

fn format_row<F: BlockFormat>(f: F, x: &[f32]) {
    let name = f.name();
    let quantized = bits_per_element(&f, ROWS, COLS).and_then(|bpe| {
        QuantizedTensor::quantize(f, x, ROWS, COLS, &QuantizeOptions::default()).map(|q| (q, bpe))
    });
    let (q, bpe) = match quantized {
        Ok(q) => q,
        Err(e) => return println!("{name:<22} error: {e}"),
    };
    let m = q.error_metrics(x).expect("same shape");
    println!(
        "{name:<22} {:>8.2} {:>10.4} {:>10.3} {:>9.4} {:>9.4} {:>6.2}",
        m.sqnr_db,
        m.max_abs,
        m.mse,
        m.saturated * 100.0,
        m.flushed_to_zero * 100.0,
        bpe
    );
}

/// The embedded default input: ordinary values, ties, subnormals, overflow and specials.
const SAMPLES: [f32; 12] = [
    0.1,
    -0.3,
    1.0,
    2.5,
    3.3,
    -7.0,
    20.0,
    300.0,
    1e-3,
    1e5,
    f32::INFINITY,
    f32::NAN,
];

fn value_table<T: Element>() {
    let vals: Vec<f32> = (0..1u32 << T::BITS)
        .map(|c| T::from_bits(c as u8).to_f32())
        .filter(|v| v.is_finite() && *v >= 0.0 && v.is_sign_positive())
        .collect();
    let shown: Vec<String> = if vals.len() <= 40 {
        vals.iter().map(|v| format!("{v}")).collect()
    } else {
        let mut s: Vec<String> = vals[..8].iter().map(|v| format!("{v:e}")).collect();
        s.push(format!("… ({} values) …", vals.len() - 12));
        s.extend(vals[vals.len() - 4..].iter().map(|v| format!("{v}")));
        s
    };
    println!(
        "{:>5} ({} bits, max {}): {}",
        T::NAME,
        T::BITS,
        T::MAX_F32,
        shown.join(" ")
    );
}

/// A value in at most 9 characters.
fn short(v: f32) -> String {
    let s = format!("{v}");
    if s.len() > 9 { format!("{v:.2e}") } else { s }
}

fn round_trips<T: Element>() {
    let row: Vec<String> = SAMPLES
        .iter()
        .map(|&x| format!("{:>10}", short(T::from_f32(x).to_f32())))
        .collect();
    let sat: Vec<String> = SAMPLES
        .iter()
        .map(|&x| {
            format!(
                "{:>10}",
                short(T::from_f32_with(x, ConvertOptions::SATFINITE).to_f32())
            )
        })
        .collect();
    println!("{:>5} astype    {}", T::NAME, row.join(""));
    println!("{:>5} satfinite {}", "", sat.join(""));
}

fn main() {
    println!("Non-negative finite values of each element format\n");
    value_table::<E2M1>();
    value_table::<E2M3>();
    value_table::<E3M2>();
    value_table::<E4M3>();
    value_table::<E5M2>();
    value_table::<E8M0>();
    value_table::<Int8>();

    println!("\nRound trips (astype = ml_dtypes' default; satfinite = clamp, as GPU kernels do)\n");
    let header: Vec<String> = SAMPLES
        .iter()
        .map(|&x| format!("{:>10}", short(x)))
        .collect();
    println!("{:>5} input     {}", "", header.join(""));
    round_trips::<E2M1>();
    round_trips::<E2M3>();
    round_trips::<E3M2>();
    round_trips::<E4M3>();
    round_trips::<E5M2>();
    round_trips::<E8M0>();
    round_trips::<Int8>();

    let x = synthetic_activations();
    println!(
        "\nBlock formats on a seeded 256x1024 heavy-tailed matrix with 0.1% outliers (see synthetic_activations)\n"
    );
    println!(
        "{:<22} {:>8} {:>10} {:>10} {:>9} {:>9} {:>6}",
        "format", "SQNR dB", "max |err|", "MSE", "sat. %", "flush %", "bits"
    );
    format_row(Nvfp4::default(), &x);
    format_row(Nvfp4::WEIGHTS_2D, &x);
    format_row(MxFp4::default(), &x);
    format_row(MxFp4::new(MxScaleRule::Floor), &x);
    format_row(MxFp6E2M3::default(), &x);
    format_row(MxFp6E3M2::default(), &x);
    format_row(MxFp8E4M3::default(), &x);
    format_row(MxFp8E5M2::default(), &x);
    format_row(MxInt8::default(), &x);
    format_row(Fp8Tensorwise::<E4M3>::current(), &x);
    format_row(Fp8Tensorwise::<E5M2>::current(), &x);
    format_row(Fp8Blockwise::<E4M3>::ACTIVATIONS, &x);
    format_row(Fp8Blockwise::<E4M3>::WEIGHTS, &x);

    let up = ConvertOptions::default().with_rounding(Rounding::Up);
    println!(
        "\nE8M0 of 3.0: nearest (ties away) {}, up (cvt.rp) {}; E4M3 of 0.3 toward zero {}",
        E8M0::from_f32(3.0),
        E8M0::from_f32_with(2.1, up),
        E4M3::from_f32_with(
            0.3,
            ConvertOptions::default().with_rounding(Rounding::TowardZero)
        )
    );
}
