//! One format's GEMM, repeated: a steady workload to profile.
//!
//! ```text
//! cargo build --release -p blockscale-bench --example gemm_one
//! perf record -e cpu-clock target/release/examples/gemm_one mxfp8 1024 40
//! ```
//!
//! Arguments: the format (`fp8-tensor`: FP8-E4M3 per tensor; `fp8-1x128`:
//! E4M3 1×128 activations × 128×128 weights; `mxfp8`: MXFP8-E4M3;
//! `mxfp6`: MXFP6-E3M2; `nvfp4`: NVFP4 × NVFP4-2D; `nvfp4-1d`: NVFP4 with
//! 1 × 16 blocks on both sides; `mxfp4`; `mxint8`; `hybrid`: MXFP8-E4M3 ×
//! MXFP8-E5M2; `hybrid-wide`: the same on data over 30 binades;
//! `hybrid-tensor`: FP8-E4M3 × FP8-E5M2 per tensor on that data, as the
//! delayed and tensorwise recipes' backward GEMMs meet it; both as
//! `gemm_bench`'s "30 binades" rows; `hybrid-tensor-tiny`: the per-tensor
//! pair on `tiny_data`, as its "few subnormals" row), the square size (1024), the number of calls (40) and,
//! optionally, B's row count N (the output's columns; default the size)
//! and K. A small N (`gemm_one mxfp8 4096 10 16`) leaves mostly A's
//! packing to time. The data are `gemm_bench`'s (`gemm_data`, uniform in
//! [−2, 2), or `wide_data`; the same seed); the GEMMs run on one thread,
//! and the example prints the machine and the mean time per call.

use blockscale::format::{
    BlockFormat, Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp6E3M2, MxFp8E4M3, MxFp8E5M2, MxInt8, Nvfp4,
};
use blockscale::gemm::gemm;
use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
use blockscale::{E4M3, E5M2};
use blockscale_bench::{gemm_data, tiny_data, wide_data};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;
use std::time::Instant;

fn run<FA: BlockFormat, FB: BlockFormat>(
    fa: FA,
    fb: FB,
    x: &[f32],
    y: &[f32],
    (s, n, k): (usize, usize, usize),
    calls: u32,
) {
    let o = QuantizeOptions::default();
    let a = QuantizedTensor::quantize(fa, x, s, k, &o).expect("quantize A");
    let b = QuantizedTensor::quantize(fb, y, n, k, &o).expect("quantize B");
    let mut c = vec![0f32; s * n];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a thread pool");
    let t = Instant::now();
    for _ in 0..calls {
        pool.install(|| gemm(&a, &b, 1.0, 0.0, &mut c).expect("gemm"));
    }
    let per = t.elapsed().as_secs_f64() / f64::from(calls);
    let gflops = 2.0 * (s * k * n) as f64 / per / 1e9;
    println!(
        "{} x {}, M = {s}, K = {k}, N = {n}, 1 thread: {:.2} ms per call, {gflops:.0} GFLOP/s",
        a.format().name(),
        b.format().name(),
        per * 1e3
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let format = args.get(1).map_or("mxfp8", String::as_str);
    let s: usize = args
        .get(2)
        .map_or(1024, |v| v.parse().expect("size: a positive integer"));
    let calls: u32 = args
        .get(3)
        .map_or(40, |v| v.parse().expect("calls: a positive integer"));
    let n: usize = args
        .get(4)
        .map_or(s, |v| v.parse().expect("N: a positive integer"));
    let k: usize = args
        .get(5)
        .map_or(s, |v| v.parse().expect("K: a positive integer"));
    // Not `Machine::read`: its TSC calibration would spin inside the profile.
    let level = blockscale::simd::active();
    println!(
        "CPU: {}; SIMD level {}",
        blockscale::simd::cpu(),
        level.name()
    );
    // A and B from one seed, by one of `blockscale_bench`'s generators.
    let data = |make: fn(&mut Xoshiro256PlusPlus, usize) -> Vec<f32>| {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2025);
        (make(&mut rng, s * k), make(&mut rng, n * k))
    };
    let (x, y) = data(gemm_data);
    match format {
        "fp8-tensor" => {
            let f = Fp8Tensorwise::<E4M3>::current();
            run(f, f, &x, &y, (s, n, k), calls)
        }
        "fp8-1x128" => run(
            Fp8Blockwise::<E4M3>::ACTIVATIONS,
            Fp8Blockwise::<E4M3>::WEIGHTS,
            &x,
            &y,
            (s, n, k),
            calls,
        ),
        "mxfp8" => {
            let f = MxFp8E4M3::default();
            run(f, f, &x, &y, (s, n, k), calls)
        }
        "mxfp6" => {
            let f = MxFp6E3M2::default();
            run(f, f, &x, &y, (s, n, k), calls)
        }
        "nvfp4" => run(
            Nvfp4::default(),
            Nvfp4::WEIGHTS_2D,
            &x,
            &y,
            (s, n, k),
            calls,
        ),
        "mxfp4" => run(MxFp4::default(), MxFp4::default(), &x, &y, (s, n, k), calls),
        "mxint8" => run(
            MxInt8::default(),
            MxInt8::default(),
            &x,
            &y,
            (s, n, k),
            calls,
        ),
        "hybrid" => run(
            MxFp8E4M3::default(),
            MxFp8E5M2::default(),
            &x,
            &y,
            (s, n, k),
            calls,
        ),
        // Over 30 binades (`wide_data`), as gradients span: some elements
        // are subnormal, and the 1024-long sums need the i64 kernel; or
        // uniform with a few subnormals (`tiny_data`).
        "hybrid-tensor" | "hybrid-tensor-tiny" => {
            let make = if format == "hybrid-tensor" {
                wide_data
            } else {
                tiny_data
            };
            let (x, y) = data(make);
            let (fa, fb) = (
                Fp8Tensorwise::<E4M3>::current(),
                Fp8Tensorwise::<E5M2>::current(),
            );
            run(fa, fb, &x, &y, (s, n, k), calls)
        }
        "nvfp4-1d" => run(Nvfp4::default(), Nvfp4::default(), &x, &y, (s, n, k), calls),
        "hybrid-wide" => {
            let (x, y) = data(wide_data);
            let (fa, fb) = (MxFp8E4M3::default(), MxFp8E5M2::default());
            run(fa, fb, &x, &y, (s, n, k), calls)
        }
        other => {
            eprintln!(
                "unknown format {other:?}: fp8-tensor, fp8-1x128, mxfp8, mxfp6, nvfp4, nvfp4-1d, mxfp4, mxint8, hybrid, hybrid-tensor, hybrid-tensor-tiny or hybrid-wide"
            );
            std::process::exit(2);
        }
    }
}
