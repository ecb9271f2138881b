//! Where quantization's time goes, one thread: TSC cycles per element of
//! `requantize` (nearest, and stochastic for three formats) on a tensor that fits in L2 (16 × 4096, 256 KiB: the
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
use blockscale_bench::{Machine, best};

/// Cycles per element of `requantize` of a `rows × cols` tensor.
fn cycles<F: BlockFormat>(
    m: &Machine,
    f: &F,
    rows: usize,
    cols: usize,
    ga: Option<f32>,
    rounding: TensorRounding,
) -> f64 {
    let n = rows * cols;
    // Smooth data with no zero blocks: every block takes the encode path.
    let x: Vec<f32> = (0..n)
        .map(|i| (i as f32 * 0.37).sin() * 3.0 + 0.01)
        .collect();
    let o = QuantizeOptions {
        global_amax: ga,
        rounding,
        ..Default::default()
    };
    let mut q = QuantizedTensor::quantize(f.clone(), &x, rows, cols, &o).expect("quantize");
    let reps = (1 << 24) / n + 1;
    let secs = best(|| {
        for _ in 0..reps {
            q.requantize(&x, rows, cols, &o).expect("requantize");
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

fn measure<F: BlockFormat>(m: &Machine, f: &F, ga: Option<f32>, sr: bool, row: &mut Row) {
    let rounding = if sr {
        TensorRounding::Stochastic { seed: 1 }
    } else {
        TensorRounding::NearestEven
    };
    row.small = row.small.min(cycles(m, f, 16, 4096, ga, rounding));
    row.large = row.large.min(cycles(m, f, 8192, 8192, ga, rounding));
}

fn main() {
    let m = Machine::read();
    println!("blockscale quant_split: requantize, 1 thread, TSC cycles per element");
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
        let given = Some(3.01);
        let names = [
            "copy f32 -> f32".to_string(),
            MxFp8E4M3::default().name(),
            MxFp4::default().name(),
            Nvfp4::default().name(),
            format!("{} (tensor amax given)", Nvfp4::default().name()),
            Fp8Blockwise::<E4M3>::default().name(),
            Fp8Tensorwise::<E4M3>::current().name(),
            format!("{} (stochastic)", MxFp8E4M3::default().name()),
            format!("{} (stochastic)", MxFp4::default().name()),
            format!("{} (stochastic)", Nvfp4::default().name()),
        ];
        let mut rows: Vec<Row> = names.into_iter().map(Row::new).collect();
        for _ in 0..ROUNDS {
            rows[0].small = rows[0].small.min(copy(16 * 4096));
            rows[0].large = rows[0].large.min(copy(8192 * 8192));
            measure(&m, &MxFp8E4M3::default(), None, false, &mut rows[1]);
            measure(&m, &MxFp4::default(), None, false, &mut rows[2]);
            measure(&m, &Nvfp4::default(), None, false, &mut rows[3]);
            measure(&m, &Nvfp4::default(), given, false, &mut rows[4]);
            measure(
                &m,
                &Fp8Blockwise::<E4M3>::default(),
                None,
                false,
                &mut rows[5],
            );
            measure(
                &m,
                &Fp8Tensorwise::<E4M3>::current(),
                None,
                false,
                &mut rows[6],
            );
            measure(&m, &MxFp8E4M3::default(), None, true, &mut rows[7]);
            measure(&m, &MxFp4::default(), None, true, &mut rows[8]);
            measure(&m, &Nvfp4::default(), None, true, &mut rows[9]);
        }
        for r in &rows {
            r.print();
        }
    });
}
