//! Quantize and dequantize throughput against a plain memory copy of the
//! same bytes, on a 64 Mi-element f32 tensor (8192 × 8192), at 1 and 2
//! threads.
//!
//! ```sh
//! cargo run --release -p blockscale-bench --example quant_bench            # the table
//! cargo run --release -p blockscale-bench --example quant_bench -- --casts # element casts only, against a one-thread copy, then in L2
//! ```
//!
//! Each figure is the best of several runs. "copy" copies the f32 input
//! into a preallocated buffer (read 4 B, write 4 B per element); "of copy"
//! is the operation's element rate over the copy's, at the same thread
//! count. `quantize` allocates its output, as the API does, so its time
//! includes the kernel's first-touch page faults; `requantize` writes into a
//! reused tensor (`QuantizedTensor::requantize`), as the copy writes into a
//! reused buffer. Dequantizers write into a reused buffer. The header names
//! the machine (CPU model, microarchitecture, SIMD level); the last column
//! is TSC cycles per element at one thread.

use blockscale::element::{ConvertOptions, slice};
use blockscale::format::{BlockFormat, Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp8E4M3, Nvfp4};
use blockscale::tensor::{QuantizeOptions, QuantizedTensor, TensorRounding};
use blockscale::{E2M1, E4M3, E5M2, Element};
use rayon::prelude::*;
use std::hint::black_box;
use std::time::Instant;

const ROWS: usize = 8192;
const COLS: usize = 8192;
const N: usize = ROWS * COLS;
/// Runs per measurement (the best wall time counts).
const REPS: usize = 5;

/// Seeded heavy-tailed inputs (a fixed LCG through a Cauchy-like map).
fn inputs(n: usize) -> Vec<f32> {
    let mut x = vec![0f32; n];
    x.par_chunks_mut(1 << 16).enumerate().for_each(|(k, c)| {
        let mut s: u64 = 0x9E37_79B9_7F4A_7C15 ^ (k as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        for v in c {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = ((s >> 40) as f32 + 0.5) / (1u64 << 24) as f32;
            *v = (std::f32::consts::PI * (u - 0.45)).tan();
        }
    });
    x
}

/// CPU time of the calling thread in seconds (Linux `schedstat`; 0 elsewhere).
fn thread_cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns * 1e-9)
}

thread_local! {
    /// The CPU time of the best run of the last `best` on this thread.
    static LAST_CPU: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

/// Best wall time of `reps` runs after a warm-up run, in seconds; the calling thread's mean
/// CPU time per run is kept for [`last_cpu`] (meaningful for one thread;
/// `schedstat` advances in scheduler ticks, so it is averaged over all runs).
fn best(reps: usize, mut f: impl FnMut()) -> f64 {
    // One unmeasured run first: it faults in the output pages.
    f();
    let mut best = f64::INFINITY;
    let c0 = thread_cpu();
    for _ in 0..reps {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    let cpu = (thread_cpu() - c0) / reps as f64;
    LAST_CPU.with(|l| l.set(cpu));
    best
}

fn last_cpu() -> f64 {
    LAST_CPU.with(|l| l.get())
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

struct Row {
    name: String,
    /// Wall seconds at 1 and 2 threads.
    secs: [f64; 2],
    /// CPU seconds of the one-thread run (the pool's worker thread).
    cpu: f64,
}

/// `QUANT_BENCH_ONLY=substring` runs only the matching operations (for profiling).
fn wanted(name: &str) -> bool {
    std::env::var("QUANT_BENCH_ONLY").map_or(true, |s| name.contains(&s))
}

/// Quantize and requantize rows; `global_amax` given (delayed scaling)
/// spares a format with a tensor scale its amax pass over the input.
fn quant<F: BlockFormat>(
    f: F,
    rounding: TensorRounding,
    global_amax: Option<f32>,
    x: &[f32],
    rows: &mut Vec<Row>,
) {
    if !wanted(&format!(
        "quantize {}{:?}{global_amax:?}",
        f.name(),
        rounding
    )) {
        return;
    }
    let opts = QuantizeOptions {
        rounding,
        global_amax,
        ..Default::default()
    };
    let suffix = match (rounding, global_amax) {
        (TensorRounding::Stochastic { .. }, _) => " (stochastic)",
        (TensorRounding::Stochastic8 { .. }, _) => " (stochastic8)",
        (_, Some(_)) => " (tensor amax given: one pass)",
        _ => "",
    };
    let mut secs = [0.0; 2];
    let mut cpu = 0.0;
    for (i, t) in [1, 2].into_iter().enumerate() {
        (secs[i], cpu) = pool(t).install(|| {
            let w = best(REPS, || {
                let q = QuantizedTensor::quantize(f.clone(), x, ROWS, COLS, &opts).unwrap();
                black_box(q.data().len());
            });
            (w, if i == 0 { last_cpu() } else { cpu })
        });
    }
    rows.push(Row {
        name: format!("quantize {}{suffix}", f.name()),
        secs,
        cpu,
    });
    // The same into a reused tensor: no allocation, so no page faults.
    let mut q = QuantizedTensor::quantize(f.clone(), x, ROWS, COLS, &opts).unwrap();
    for (i, t) in [1, 2].into_iter().enumerate() {
        (secs[i], cpu) = pool(t).install(|| {
            let w = best(REPS, || q.requantize(x, ROWS, COLS, &opts).unwrap());
            (w, if i == 0 { last_cpu() } else { cpu })
        });
    }
    rows.push(Row {
        name: format!("requantize {}{suffix}", f.name()),
        secs,
        cpu,
    });
}

fn dequant<F: BlockFormat>(f: F, x: &[f32], out: &mut [f32], rows: &mut Vec<Row>) {
    if !wanted(&format!("dequantize {}", f.name())) {
        return;
    }
    let q =
        QuantizedTensor::quantize(f.clone(), x, ROWS, COLS, &QuantizeOptions::default()).unwrap();
    let mut secs = [0.0; 2];
    let mut cpu = 0.0;
    for (i, t) in [1, 2].into_iter().enumerate() {
        (secs[i], cpu) = pool(t).install(|| {
            let w = best(REPS, || q.dequantize_into(out).unwrap());
            (w, if i == 0 { last_cpu() } else { cpu })
        });
    }
    rows.push(Row {
        name: format!("dequantize {}", f.name()),
        secs,
        cpu,
    });
}

fn cast<T: Element>(x: &[f32], rows: &mut Vec<Row>) {
    let mut q = vec![T::from_bits(0); x.len()];
    let mut y = vec![0f32; x.len()];
    let p = pool(1);
    let enc = p.install(|| {
        best(REPS, || {
            slice::encode(x, &mut q, ConvertOptions::default()).unwrap()
        })
    });
    let dec = p.install(|| best(REPS, || slice::decode(&q, &mut y).unwrap()));
    rows.push(Row {
        name: format!("cast f32 -> {}", T::NAME),
        secs: [enc, f64::NAN],
        cpu: f64::NAN,
    });
    rows.push(Row {
        name: format!("cast {} -> f32", T::NAME),
        secs: [dec, f64::NAN],
        cpu: f64::NAN,
    });
}

/// Each cast's best time per call over `x` (small enough to stay in
/// cache), from runs of 200 calls.
fn casts_in_cache(x: &[f32]) -> Vec<(String, f64)> {
    fn one<T: Element>(x: &[f32], out: &mut Vec<(String, f64)>) {
        let mut q = vec![T::from_bits(0); x.len()];
        let mut y = vec![0f32; x.len()];
        let calls = 200;
        let enc = best(REPS, || {
            for _ in 0..calls {
                slice::encode(black_box(x), &mut q, ConvertOptions::default()).unwrap();
            }
        });
        let dec = best(REPS, || {
            for _ in 0..calls {
                slice::decode(black_box(&q), &mut y).unwrap();
            }
        });
        black_box(&y);
        out.push((format!("cast f32 -> {}", T::NAME), enc / calls as f64));
        out.push((format!("cast {} -> f32", T::NAME), dec / calls as f64));
    }
    let mut out = Vec::new();
    pool(1).install(|| {
        one::<E4M3>(x, &mut out);
        one::<E5M2>(x, &mut out);
        one::<E2M1>(x, &mut out);
    });
    out
}

fn main() {
    let casts_only = std::env::args().any(|a| a == "--casts");
    let machine = blockscale_bench::Machine::read();
    println!(
        "blockscale quant_bench: {ROWS}x{COLS} f32 ({} Mi elements)",
        N >> 20
    );
    println!("{machine}");
    let x = inputs(N);
    if casts_only {
        // Element casts on 16 Mi elements, one thread.
        let n = 1 << 24;
        let mut rows = Vec::new();
        cast::<E4M3>(&x[..n], &mut rows);
        cast::<E5M2>(&x[..n], &mut rows);
        cast::<E2M1>(&x[..n], &mut rows);
        // The same-size f32 copy on one thread, in the chunks the table's
        // copy uses, as the baseline of this run.
        let mut d = vec![0f32; n];
        let copy = pool(1).install(|| {
            best(REPS, || {
                for (d, s) in d.chunks_mut(1 << 16).zip(x[..n].chunks(1 << 16)) {
                    d.copy_from_slice(s);
                }
            })
        });
        black_box(&d);
        println!(
            "copy f32 -> f32 (baseline): {:.3} Gelem/s",
            n as f64 / copy / 1e9
        );
        for r in &rows {
            println!(
                "{}: {:.3} Gelem/s, {:.0}% of copy, {:.2} cycles/element",
                r.name,
                n as f64 / r.secs[0] / 1e9,
                100.0 * copy / r.secs[0],
                machine.cycles_per(r.secs[0], n as f64)
            );
        }
        // The same casts on 64 Ki elements, which stay in L2 across calls:
        // the kernels' own rate, without the memory's.
        let m = 1 << 16;
        for (name, secs) in casts_in_cache(&x[..m]) {
            println!(
                "{name}, {} Ki elements in L2: {:.3} Gelem/s",
                m >> 10,
                m as f64 / secs / 1e9
            );
        }
        return;
    }
    let mut dst = vec![0f32; N];
    let mut copy = [0.0; 2];
    let mut copy_cpu = 0.0;
    for (i, t) in [1, 2].into_iter().enumerate() {
        (copy[i], copy_cpu) = pool(t).install(|| {
            let w = best(REPS + 2, || {
                dst.par_chunks_mut(1 << 16)
                    .zip(x.par_chunks(1 << 16))
                    .for_each(|(d, s)| d.copy_from_slice(s));
            });
            (w, if i == 0 { last_cpu() } else { copy_cpu })
        });
    }
    black_box(&dst);
    let mut rows = vec![Row {
        name: "copy f32 -> f32 (baseline)".into(),
        secs: copy,
        cpu: copy_cpu,
    }];
    let nearest = TensorRounding::NearestEven;
    let sr = TensorRounding::Stochastic { seed: 1 };
    let a = Some(blockscale::scale::amax(&x));
    quant(Nvfp4::default(), nearest, None, &x, &mut rows);
    quant(Nvfp4::default(), nearest, a, &x, &mut rows);
    quant(MxFp4::default(), nearest, None, &x, &mut rows);
    quant(MxFp8E4M3::default(), nearest, None, &x, &mut rows);
    quant(
        Fp8Tensorwise::<E4M3>::current(),
        nearest,
        None,
        &x,
        &mut rows,
    );
    quant(
        Fp8Blockwise::<E4M3>::ACTIVATIONS,
        nearest,
        None,
        &x,
        &mut rows,
    );
    quant(Nvfp4::default(), sr, None, &x, &mut rows);
    quant(MxFp4::default(), sr, None, &x, &mut rows);
    quant(MxFp8E4M3::default(), sr, None, &x, &mut rows);
    let sr8 = TensorRounding::Stochastic8 { seed: 1 };
    quant(Nvfp4::default(), sr8, None, &x, &mut rows);
    quant(MxFp4::default(), sr8, None, &x, &mut rows);
    quant(MxFp8E4M3::default(), sr8, None, &x, &mut rows);
    dequant(Nvfp4::default(), &x, &mut dst, &mut rows);
    dequant(MxFp4::default(), &x, &mut dst, &mut rows);
    dequant(MxFp8E4M3::default(), &x, &mut dst, &mut rows);
    dequant(Fp8Tensorwise::<E4M3>::current(), &x, &mut dst, &mut rows);
    dequant(Fp8Blockwise::<E4M3>::ACTIVATIONS, &x, &mut dst, &mut rows);
    println!();
    println!(
        "| operation | 1 thread Gelem/s | of copy | 2 threads Gelem/s | of copy | 2T/1T | 1 thread, per CPU-second | cycles/elem, 1 thread |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let g = |s: f64| N as f64 / s / 1e9;
        println!(
            "| {} | {:.2} | {:.0}% | {:.2} | {:.0}% | {:.2}x | {:.2} | {:.2} |",
            r.name,
            g(r.secs[0]),
            100.0 * copy[0] / r.secs[0],
            g(r.secs[1]),
            100.0 * copy[1] / r.secs[1],
            r.secs[0] / r.secs[1],
            g(r.cpu),
            machine.cycles_per(r.secs[0], N as f64)
        );
    }
    println!();
    println!(
        "The last column divides by the worker thread's mean CPU time per run (Linux schedstat) instead of the best wall time: it discounts time the thread waited for a core on a loaded machine."
    );
}
