//! Block-scaled GEMM throughput against an f32 GEMM, measured in one run.
//!
//! ```text
//! cargo run --release -p blockscale-bench --example gemm_bench            # 512, 1024, 2048
//! cargo run --release -p blockscale-bench --example gemm_bench -- 1024    # one size
//! ```
//!
//! For each square size and for 1 and 2 threads it times `blockscale::gemm`
//! (C = A·Bᵀ from quantized operands, packing included, quantization not)
//! and the `gemm` crate's f32 GEMM (AVX-512 kernels where the CPU has them)
//! on the same machine, and prints effective GFLOP/s (2·M·N·K / time, best
//! of several runs) and the ratio. An f64 GEMM row shows the ceiling of the
//! FP8 kernels, whose exact block sums need f64 lanes; E4M3 x E5M2 pairs
//! (HYBRID) need 55-bit sums and run on i64 lanes.

use blockscale::format::{
    BlockFormat, Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp6E3M2, MxFp8E4M3, MxFp8E5M2, MxInt8, Nvfp4,
};
use blockscale::gemm::gemm;
use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
use blockscale::{E4M3, E5M2, simd};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use std::time::Instant;

fn data(rng: &mut Xoshiro256PlusPlus, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| (rng.next_u32() as f32 / u32::MAX as f32 - 0.5) * 4.0)
        .collect()
}

/// Best wall time of `f` over at least 3 runs and about 0.5 s.
fn best(mut f: impl FnMut()) -> f64 {
    f(); // warm-up: page faults, pool start
    let (mut best, start, mut runs) = (f64::INFINITY, Instant::now(), 0);
    while runs < 3 || (start.elapsed().as_secs_f64() < 0.5 && runs < 50) {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
        runs += 1;
    }
    best
}

/// C = A·Bᵀ for s×s row-major matrices with the `gemm` crate (f32 or f64).
fn ref_gemm<T: 'static + Copy + Default>(
    a: &[T],
    b: &[T],
    c: &mut [T],
    s: usize,
    threads: usize,
    one: T,
) {
    let par = if threads == 1 {
        sgemm::Parallelism::None
    } else {
        sgemm::Parallelism::Rayon(threads)
    };
    let si = s as isize;
    assert!(a.len() == s * s && b.len() == s * s && c.len() == s * s);
    // SAFETY: a, b and c are s×s row-major matrices (asserted); B is read as Bᵀ
    // (column stride s, row stride 1); nothing aliases c.
    unsafe {
        sgemm::gemm(
            s,
            s,
            s,
            c.as_mut_ptr(),
            1,
            si,
            false,
            a.as_ptr(),
            1,
            si,
            b.as_ptr(),
            si,
            1,
            T::default(),
            one,
            false,
            false,
            false,
            par,
        );
    }
}

struct Row {
    name: String,
    s: usize,
    threads: usize,
    gflops: f64,
    f32_gflops: f64,
}

#[allow(clippy::too_many_arguments)]
fn measure<FA: BlockFormat, FB: BlockFormat>(
    fa: FA,
    fb: FB,
    x: &[f32],
    y: &[f32],
    s: usize,
    threads: usize,
    pool: &rayon::ThreadPool,
    f32_gflops: f64,
    rows: &mut Vec<Row>,
) {
    let o = QuantizeOptions::default();
    let a = QuantizedTensor::quantize(fa, x, s, s, &o).expect("quantize A");
    let b = QuantizedTensor::quantize(fb, y, s, s, &o).expect("quantize B");
    let mut c = vec![0f32; s * s];
    let t = pool.install(|| best(|| gemm(&a, &b, 1.0, 0.0, &mut c).expect("gemm")));
    let name = if a.format().name() == b.format().name() {
        a.format().name()
    } else {
        format!("{} x {}", a.format().name(), b.format().name())
    };
    rows.push(Row {
        name,
        s,
        threads,
        gflops: 2.0 * (s as f64).powi(3) / t / 1e9,
        f32_gflops,
    });
}

fn main() {
    let sizes: Vec<usize> = match std::env::args().nth(1) {
        Some(a) => vec![a.parse().expect("size: a positive integer")],
        None => vec![512, 1024, 2048],
    };
    println!(
        "blockscale GEMM vs f32 GEMM (gemm crate), SIMD level {}, {} CPUs",
        simd::active().name(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut rows = Vec::new();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2025);
    for &s in &sizes {
        let (x, y) = (data(&mut rng, s * s), data(&mut rng, s * s));
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool");
            let mut c = vec![0f32; s * s];
            let t = pool.install(|| best(|| ref_gemm(&x, &y, &mut c, s, threads, 1.0)));
            let f = 2.0 * (s as f64).powi(3) / t / 1e9;
            // f64 GEMM: the ceiling for FP8, whose exact block sums need 41 bits.
            let (x64, y64): (Vec<f64>, Vec<f64>) = (
                x.iter().map(|&v| v as f64).collect(),
                y.iter().map(|&v| v as f64).collect(),
            );
            let mut c64 = vec![0f64; s * s];
            let t64 = pool.install(|| best(|| ref_gemm(&x64, &y64, &mut c64, s, threads, 1.0)));
            rows.push(Row {
                name: "f32 (gemm crate)".into(),
                s,
                threads,
                gflops: f,
                f32_gflops: f,
            });
            rows.push(Row {
                name: "f64 (gemm crate)".into(),
                s,
                threads,
                gflops: 2.0 * (s as f64).powi(3) / t64 / 1e9,
                f32_gflops: f,
            });
            let r = &mut rows;
            measure(
                Nvfp4::default(),
                Nvfp4::WEIGHTS_2D,
                &x,
                &y,
                s,
                threads,
                &pool,
                f,
                r,
            );
            measure(
                MxFp4::default(),
                MxFp4::default(),
                &x,
                &y,
                s,
                threads,
                &pool,
                f,
                r,
            );
            measure(
                MxInt8::default(),
                MxInt8::default(),
                &x,
                &y,
                s,
                threads,
                &pool,
                f,
                r,
            );
            let (e3m2, e4m3) = (MxFp6E3M2::default(), MxFp8E4M3::default());
            measure(e3m2, e3m2, &x, &y, s, threads, &pool, f, r);
            measure(e4m3, e4m3, &x, &y, s, threads, &pool, f, r);
            let t8 = Fp8Tensorwise::<E4M3>::current();
            measure(t8, t8, &x, &y, s, threads, &pool, f, r);
            let (act, wt) = (
                Fp8Blockwise::<E4M3>::ACTIVATIONS,
                Fp8Blockwise::<E4M3>::WEIGHTS,
            );
            measure(act, wt, &x, &y, s, threads, &pool, f, r);
            measure(e4m3, MxFp8E5M2::default(), &x, &y, s, threads, &pool, f, r);
            let t5 = Fp8Tensorwise::<E5M2>::current();
            measure(t8, t5, &x, &y, s, threads, &pool, f, r);
        }
    }
    // One row per format, one column per (size, threads): GFLOP/s and the
    // ratio to the f32 GEMM measured at the same size and thread count.
    let mut names: Vec<&str> = Vec::new();
    for r in &rows {
        if !names.contains(&r.name.as_str()) {
            names.push(&r.name);
        }
    }
    let cols: Vec<(usize, usize)> = sizes.iter().flat_map(|&s| [(s, 1), (s, 2)]).collect();
    print!("\n| {:<44} |", "format (A x B)");
    for (s, t) in &cols {
        print!(" {:>15} |", format!("{s}^3, {t} thr"));
    }
    print!("\n|{:-<46}|", "");
    for _ in &cols {
        print!("{:->16}:|", "");
    }
    println!();
    for name in names {
        print!("| {name:<44} |");
        for &(s, t) in &cols {
            let r = rows
                .iter()
                .find(|r| r.name == name && r.s == s && r.threads == t);
            let cell = match r {
                Some(r) if r.name.starts_with("f32") => format!("{:.0}", r.gflops),
                Some(r) => format!("{:.0} ({:.2}x)", r.gflops, r.gflops / r.f32_gflops),
                None => "-".into(),
            };
            print!(" {cell:>15} |");
        }
        println!();
    }
}
