//! One format's `requantize`, repeated: a steady workload to profile.
//!
//! ```text
//! cargo build --release -p blockscale-bench --example quant_one
//! perf record -e cpu-clock target/release/examples/quant_one nvfp4 stochastic 16 4096 20000
//! ```
//!
//! Arguments: the format (`mxfp8`: MXFP8-E4M3; `mxfp4`; `nvfp4`;
//! `fp8-1x128`: FP8-E4M3 1×128; `fp8-tensor`: FP8-E4M3 per tensor,
//! current scaling), the rounding (`nearest`, `stochastic` or `stochastic8`, seed 1), the
//! shape (rows, columns: 16 × 4096 fits in L2, as `quant_split`'s first
//! column), the number of calls, and `reuse` (the default: `requantize`
//! into the same buffers) or `fresh` (`quantize`, which allocates the
//! output each call, as `quant_bench`'s "quantize" rows). The data are `smooth_data`, as in
//! `quant_split`; the calls run on one thread, and the example prints
//! the machine, the time per call and the elements per second.

use blockscale::E4M3;
use blockscale::format::{BlockFormat, Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp8E4M3, Nvfp4};
use blockscale::tensor::{QuantizeOptions, QuantizedTensor, TensorRounding};
use blockscale_bench::smooth_data;
use std::time::Instant;

fn run<F: BlockFormat>(
    f: F,
    rounding: TensorRounding,
    (rows, cols): (usize, usize),
    calls: u32,
    fresh: bool,
) {
    let n = rows * cols;
    let x = smooth_data(n);
    let o = QuantizeOptions {
        rounding,
        ..Default::default()
    };
    let mut q = QuantizedTensor::quantize(f.clone(), &x, rows, cols, &o).expect("quantize");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a thread pool");
    let t = Instant::now();
    pool.install(|| {
        for _ in 0..calls {
            if fresh {
                q = QuantizedTensor::quantize(f.clone(), &x, rows, cols, &o).expect("quantize");
            } else {
                q.requantize(&x, rows, cols, &o).expect("requantize");
            }
        }
    });
    let per = t.elapsed().as_secs_f64() / f64::from(calls);
    println!(
        "{}, {rows} x {cols}, 1 thread: {:.1} us per call, {:.2} Gelem/s",
        q.format().name(),
        per * 1e6,
        n as f64 / per / 1e9
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or(default.into());
    let num = |i: usize, default: usize| -> usize {
        arg(i, &default.to_string())
            .parse()
            .expect("rows, columns and calls: positive integers")
    };
    let rounding = match arg(2, "stochastic").as_str() {
        "nearest" => TensorRounding::NearestEven,
        "stochastic" => TensorRounding::Stochastic { seed: 1 },
        "stochastic8" => TensorRounding::Stochastic8 { seed: 1 },
        other => panic!("rounding {other:?}: nearest, stochastic or stochastic8"),
    };
    let (rows, cols) = (num(3, 16), num(4, 4096));
    let calls = u32::try_from(num(5, 20000)).expect("calls: fewer than 2^32");
    let fresh = match arg(6, "reuse").as_str() {
        "reuse" => false,
        "fresh" => true,
        other => panic!("buffers {other:?}: reuse or fresh"),
    };
    let shape = (rows, cols);
    assert!(
        rows > 0 && cols > 0 && calls > 0,
        "rows, columns and calls: positive integers"
    );
    // Not `Machine::read`: its TSC calibration would spin inside the profile.
    println!(
        "CPU: {}; SIMD level {}",
        blockscale::simd::cpu(),
        blockscale::simd::active().name()
    );
    match arg(1, "nvfp4").as_str() {
        "mxfp8" => run(MxFp8E4M3::default(), rounding, shape, calls, fresh),
        "mxfp4" => run(MxFp4::default(), rounding, shape, calls, fresh),
        "nvfp4" => run(Nvfp4::default(), rounding, shape, calls, fresh),
        "fp8-1x128" => run(
            Fp8Blockwise::<E4M3>::default(),
            rounding,
            shape,
            calls,
            fresh,
        ),
        "fp8-tensor" => run(
            Fp8Tensorwise::<E4M3>::current(),
            rounding,
            shape,
            calls,
            fresh,
        ),
        other => panic!("format {other:?}: mxfp8, mxfp4, nvfp4, fp8-1x128 or fp8-tensor"),
    }
}
