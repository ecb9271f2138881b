//! Block-scaled GEMM throughput against an f32 GEMM, measured in one run.
//!
//! ```text
//! cargo run --release -p blockscale-bench --example gemm_bench            # 512, 1024, 2048
//! cargo run --release -p blockscale-bench --example gemm_bench -- 1024    # one size
//! ```
//!
//! For each square size and for 1 and 2 threads it times `blockscale::gemm`
//! (C = A·Bᵀ from quantized operands, packing included, quantization not)
//! and two f32 GEMMs on the same machine in the same run: the `gemm`
//! crate's (AVX-512 kernels where the CPU has them) and the system BLAS's
//! `cblas_sgemm` (OpenBLAS or MKL, loaded at run time when installed). It
//! prints the machine (CPU model, microarchitecture, SIMD level), effective
//! GFLOP/s (2·M·N·K / time, best of several runs) with the ratios to both
//! baselines, and TSC cycles per 1000 multiply-adds per thread. An f64
//! GEMM row shows the rate of f64 lanes, where FP8 once summed. E4M3,
//! E3M2 and E5M2 now sum in i16 planes whose pair sums are exact in i32
//! (`vpdpwssd` with AVX-512 VNNI, `vpmaddwd` otherwise). E4M3 x E5M2
//! pairs (HYBRID) need up to 55-bit sums, and E5M2 pairs 69: they take
//! the i16 planes too when the data leaves enough low zero bits in every
//! integer (this uniform data does), and otherwise f64 runs flushed into
//! i64 lanes (the "30 binades" rows, MX and per tensor) or the generic
//! kernel. Per tensor, where only a few elements reach the subnormals
//! (the "few subnormals" row), the planes stay sparse and sum in i64.

use blockscale::format::{
    BlockFormat, Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp6E3M2, MxFp8E4M3, MxFp8E5M2, MxInt8, Nvfp4,
};
use blockscale::gemm::gemm;
use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
use blockscale::{E4M3, E5M2};
use blockscale_bench::{
    Blas, Machine, best, gemm_data as data, ref_gemm, tiny_data as tiny, wide_data as wide,
};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

struct Row {
    name: String,
    s: usize,
    threads: usize,
    gflops: f64,
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
    });
}

fn main() {
    let sizes: Vec<usize> = match std::env::args().nth(1) {
        Some(a) => vec![a.parse().expect("size: a positive integer")],
        None => vec![512, 1024, 2048],
    };
    let machine = Machine::read();
    let blas = Blas::open();
    println!("blockscale GEMM against f32 GEMMs, one run");
    println!("{machine}");
    println!(
        "baselines: the gemm crate 0.19 (f32, AVX-512 kernels where present); system BLAS: {}",
        blas.as_ref()
            .map_or("not found (apt install libopenblas0)".into(), |b| b
                .name
                .clone())
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
            let gflops = |t: f64| 2.0 * (s as f64).powi(3) / t / 1e9;
            let mut c = vec![0f32; s * s];
            let t = pool.install(|| best(|| ref_gemm(&x, &y, &mut c, s, threads, 1.0)));
            rows.push(Row {
                name: "f32 (gemm crate)".into(),
                s,
                threads,
                gflops: gflops(t),
            });
            if let Some(blas) = &blas {
                let t = best(|| blas.sgemm_nt(&x, &y, &mut c, s, threads));
                rows.push(Row {
                    name: "f32 (system BLAS)".into(),
                    s,
                    threads,
                    gflops: gflops(t),
                });
            }
            // f64 GEMM: the ceiling for FP8, whose exact block sums need 41 bits.
            let (x64, y64): (Vec<f64>, Vec<f64>) = (
                x.iter().map(|&v| v as f64).collect(),
                y.iter().map(|&v| v as f64).collect(),
            );
            let mut c64 = vec![0f64; s * s];
            let t64 = pool.install(|| best(|| ref_gemm(&x64, &y64, &mut c64, s, threads, 1.0)));
            rows.push(Row {
                name: "f64 (gemm crate)".into(),
                s,
                threads,
                gflops: gflops(t64),
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
                r,
            );
            let (e3m2, e4m3) = (MxFp6E3M2::default(), MxFp8E4M3::default());
            measure(e3m2, e3m2, &x, &y, s, threads, &pool, r);
            measure(e4m3, e4m3, &x, &y, s, threads, &pool, r);
            let t8 = Fp8Tensorwise::<E4M3>::current();
            measure(t8, t8, &x, &y, s, threads, &pool, r);
            let (act, wt) = (
                Fp8Blockwise::<E4M3>::ACTIVATIONS,
                Fp8Blockwise::<E4M3>::WEIGHTS,
            );
            measure(act, wt, &x, &y, s, threads, &pool, r);
            let e5m2 = MxFp8E5M2::default();
            measure(e4m3, e5m2, &x, &y, s, threads, &pool, r);
            let t5 = Fp8Tensorwise::<E5M2>::current();
            measure(t8, t5, &x, &y, s, threads, &pool, r);
            measure(e5m2, e5m2, &x, &y, s, threads, &pool, r);
            // The planner sums E4M3 x E5M2 in f64 when every integer present
            // shares enough low zero bits; subnormals leave it the i64 runs.
            let (xw, yw) = (wide(&mut rng, s * s), wide(&mut rng, s * s));
            let before = rows.len();
            measure(e4m3, e5m2, &xw, &yw, s, threads, &pool, &mut rows);
            // Per tensor, as the FP8 recipes' backward GEMMs: one 1024-long
            // sum per output, and scales that are not powers of two (the
            // exact scalar term).
            measure(t8, t5, &xw, &yw, s, threads, &pool, &mut rows);
            for row in &mut rows[before..] {
                row.name += " (30 binades)";
            }
            // A few elements at the subnormals: sums past f64 again, on
            // data whose planes after the first stay sparse.
            let (xt, yt) = (tiny(&mut rng, s * s), tiny(&mut rng, s * s));
            measure(t8, t5, &xt, &yt, s, threads, &pool, &mut rows);
            let last = rows.len() - 1;
            rows[last].name += " (few subnormals)";
        }
    }
    // One row per format, one column per (size, threads): GFLOP/s and the
    // ratios to the two f32 GEMMs measured at the same size and thread count.
    let mut names: Vec<&str> = Vec::new();
    for r in &rows {
        if !names.contains(&r.name.as_str()) {
            names.push(&r.name);
        }
    }
    let find = |name: &str, s: usize, t: usize| {
        rows.iter()
            .find(|r| r.name == name && r.s == s && r.threads == t)
            .map(|r| r.gflops)
    };
    let cols: Vec<(usize, usize)> = sizes.iter().flat_map(|&s| [(s, 1), (s, 2)]).collect();
    let last = *sizes.last().expect("a size");
    println!(
        "\nEach cell: GFLOP/s (x the gemm crate's f32, x the system BLAS's f32, same size and threads). \
         Last column: TSC cycles per 1000 multiply-adds per thread at {last}^3, 1 thread."
    );
    let w = names.iter().map(|n| n.len()).max().unwrap_or(0).max(14);
    print!("\n| {:<w$} |", "format (A x B)");
    for (s, t) in &cols {
        print!(" {:>22} |", format!("{s}^3, {t} thr"));
    }
    println!(" {:>10} |", "cyc/1k MAC");
    print!("|{:-<1$}|", "", w + 2);
    for _ in &cols {
        print!("{:->23}:|", "");
    }
    println!("{:->11}:|", "");
    for name in names {
        print!("| {name:<w$} |");
        for &(s, t) in &cols {
            let cell = match find(name, s, t) {
                Some(g) => {
                    let f = find("f32 (gemm crate)", s, t).unwrap_or(f64::NAN);
                    match find("f32 (system BLAS)", s, t) {
                        Some(b) => format!("{g:.0} ({:.2}x, {:.2}x)", g / f, g / b),
                        None => format!("{g:.0} ({:.2}x)", g / f),
                    }
                }
                None => "-".into(),
            };
            print!(" {cell:>22} |");
        }
        let cycles = find(name, last, 1).map_or("-".into(), |g| {
            format!("{:.0}", machine.cycles_per(1.0, g * 1e9 / 2.0) * 1e3)
        });
        println!(" {cycles:>10} |");
    }
}
