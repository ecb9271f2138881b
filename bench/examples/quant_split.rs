//! Where quantization's time goes, one thread: TSC cycles per element of
//! `requantize` (nearest, and both stochastic roundings for three formats) and of
//! `dequantize_into` on a tensor that fits in L2 (16 × 4096, 256 KiB: the
//! kernels' compute) and on one that does not (8192 × 8192, 256 MiB: the
//! compute plus what DRAM adds), with the difference in a third column.
//!
//! ```text
//! cargo run --release -p blockscale-bench --example quant_split
//! ```
//!
//! Each cell is the best of three rounds of several runs each, the rounds
//! interleaved across the table so that a slow spell of a shared host does
//! not land on one row; to compare two builds, alternate them and compare
//! best with best.

use blockscale::E4M3;
use blockscale::format::{BlockFormat, Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp8E4M3, Nvfp4};
use blockscale::tensor::{QuantizeOptions, QuantizedTensor, TensorRounding};
use blockscale_bench::{Machine, best, smooth_data};

/// What a row of the table times.
#[derive(Clone, Copy)]
enum Op {
    /// `requantize` with this tensor amax (`None`: computed) and rounding.
    Requantize(Option<f32>, TensorRounding),
    /// `dequantize_into` an f32 buffer.
    Dequantize,
}

/// Cycles per element of `op` on a `rows × cols` tensor.
fn cycles<F: BlockFormat>(m: &Machine, f: &F, rows: usize, cols: usize, op: Op) -> f64 {
    let n = rows * cols;
    let x = smooth_data(n);
    let (ga, rounding) = match op {
        Op::Requantize(ga, r) => (ga, r),
        Op::Dequantize => (None, TensorRounding::NearestEven),
    };
    let o = QuantizeOptions {
        global_amax: ga,
        rounding,
        ..Default::default()
    };
    let mut q = QuantizedTensor::quantize(f.clone(), &x, rows, cols, &o).expect("quantize");
    let mut y = vec![0f32; n];
    let reps = (1 << 24) / n + 1;
    let secs = best(|| {
        for _ in 0..reps {
            match op {
                Op::Requantize(..) => q.requantize(&x, rows, cols, &o).expect("requantize"),
                Op::Dequantize => q.dequantize_into(&mut y).expect("dequantize"),
            }
        }
    });
    m.cycles_per(secs / reps as f64, n as f64)
}

const ROUNDS: usize = 3;

/// One row: the best cells over the rounds.
struct Row {
    name: String,
    small: f64,
    large: f64,
}

impl Row {
    fn new(name: String) -> Row {
        Row {
            name,
            small: f64::INFINITY,
            large: f64::INFINITY,
        }
    }

    fn print(&self) {
        let (s, l) = (self.small, self.large);
        println!("| {} | {s:.2} | {l:.2} | {:.2} |", self.name, l - s);
    }
}

fn measure<F: BlockFormat>(m: &Machine, f: &F, op: Op, row: &mut Row) {
    row.small = row.small.min(cycles(m, f, 16, 4096, op));
    row.large = row.large.min(cycles(m, f, 8192, 8192, op));
}

fn main() {
    let m = Machine::read();
    println!("blockscale quant_split: requantize and dequantize, 1 thread, TSC cycles per element");
    println!("{m}\n");
    println!("| format | in L2 (16 x 4096) | from DRAM (8192 x 8192) | DRAM adds |");
    println!("|---|---|---|---|");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a thread pool");
    pool.install(|| {
        let copy = |n: usize| {
            let x = vec![1f32; n];
            let mut y = vec![0f32; n];
            let reps = (1 << 24) / n + 1;
            let secs = best(|| {
                for _ in 0..reps {
                    y.copy_from_slice(std::hint::black_box(&x));
                }
            });
            m.cycles_per(secs / reps as f64, n as f64)
        };
        // One read pass, as a tensor amax makes: NVFP4 and FP8 per tensor
        // (with the amax computed) make it before the encoding pass.
        let read = |n: usize| {
            let x = vec![1f32; n];
            let reps = (1 << 24) / n + 1;
            let secs = best(|| {
                for _ in 0..reps {
                    // Eight independent sums: vector adds, no reassociation.
                    let s = std::hint::black_box(&x)
                        .chunks_exact(8)
                        .fold([0f32; 8], |mut a, c| {
                            for (a, &v) in a.iter_mut().zip(c) {
                                *a += v;
                            }
                            a
                        });
                    std::hint::black_box(s);
                }
            });
            m.cycles_per(secs / reps as f64, n as f64)
        };
        let near = Op::Requantize(None, TensorRounding::NearestEven);
        let given = Op::Requantize(Some(3.01), TensorRounding::NearestEven);
        let sr = Op::Requantize(None, TensorRounding::Stochastic { seed: 1 });
        let sr8 = Op::Requantize(None, TensorRounding::Stochastic8 { seed: 1 });
        let deq = Op::Dequantize;
        let (mx8, mx4, nv) = (MxFp8E4M3::default(), MxFp4::default(), Nvfp4::default());
        let (b128, tw) = (
            Fp8Blockwise::<E4M3>::default(),
            Fp8Tensorwise::<E4M3>::current(),
        );
        let names = [
            "copy f32 -> f32".to_string(),
            "read f32 (a sum)".to_string(),
            mx8.name(),
            mx4.name(),
            nv.name(),
            format!("{} (tensor amax given)", nv.name()),
            b128.name(),
            tw.name(),
            format!("{} (stochastic)", mx8.name()),
            format!("{} (stochastic)", mx4.name()),
            format!("{} (stochastic)", nv.name()),
            format!("{} (stochastic8)", mx8.name()),
            format!("{} (stochastic8)", mx4.name()),
            format!("{} (stochastic8)", nv.name()),
            format!("dequantize {}", mx8.name()),
            format!("dequantize {}", mx4.name()),
            format!("dequantize {}", nv.name()),
            format!("dequantize {}", b128.name()),
            format!("dequantize {}", tw.name()),
        ];
        let mut rows: Vec<Row> = names.into_iter().map(Row::new).collect();
        for _ in 0..ROUNDS {
            rows[0].small = rows[0].small.min(copy(16 * 4096));
            rows[0].large = rows[0].large.min(copy(8192 * 8192));
            rows[1].small = rows[1].small.min(read(16 * 4096));
            rows[1].large = rows[1].large.min(read(8192 * 8192));
            measure(&m, &mx8, near, &mut rows[2]);
            measure(&m, &mx4, near, &mut rows[3]);
            measure(&m, &nv, near, &mut rows[4]);
            measure(&m, &nv, given, &mut rows[5]);
            measure(&m, &b128, near, &mut rows[6]);
            measure(&m, &tw, near, &mut rows[7]);
            measure(&m, &mx8, sr, &mut rows[8]);
            measure(&m, &mx4, sr, &mut rows[9]);
            measure(&m, &nv, sr, &mut rows[10]);
            measure(&m, &mx8, sr8, &mut rows[11]);
            measure(&m, &mx4, sr8, &mut rows[12]);
            measure(&m, &nv, sr8, &mut rows[13]);
            measure(&m, &mx8, deq, &mut rows[14]);
            measure(&m, &mx4, deq, &mut rows[15]);
            measure(&m, &nv, deq, &mut rows[16]);
            measure(&m, &b128, deq, &mut rows[17]);
            measure(&m, &tw, deq, &mut rows[18]);
        }
        for r in &rows {
            r.print();
        }
    });
}
