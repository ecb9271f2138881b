//! The crate's first example: every element format's value table, and a few
//! numbers round-tripped through each, on an embedded default input.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```

use blockscale::element::{ConvertOptions, Rounding};
use blockscale::{E2M1, E2M3, E3M2, E4M3, E5M2, E8M0, Element, Int8};

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

fn round_trips<T: Element>() {
    let row: Vec<String> = SAMPLES
        .iter()
        .map(|&x| format!("{:>9}", format!("{}", T::from_f32(x))))
        .collect();
    let sat: Vec<String> = SAMPLES
        .iter()
        .map(|&x| {
            format!(
                "{:>9}",
                format!("{}", T::from_f32_with(x, ConvertOptions::SATFINITE))
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
        .map(|x| format!("{:>9}", format!("{x}")))
        .collect();
    println!("{:>5} input     {}", "", header.join(""));
    round_trips::<E2M1>();
    round_trips::<E2M3>();
    round_trips::<E3M2>();
    round_trips::<E4M3>();
    round_trips::<E5M2>();
    round_trips::<E8M0>();
    round_trips::<Int8>();

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
