//! One training step of a linear layer under each recipe, against the
//! same three GEMMs in f32, measured in one run.
//!
//! ```text
//! cargo run --release -p blockscale-bench --example recipe_step              # 1024, every recipe
//! cargo run --release -p blockscale-bench --example recipe_step -- 512 delayed
//! ```
//!
//! A step is `LinearLayer::run` at tokens = in = out = the size (1024):
//! the fprop, dgrad and wgrad GEMMs, the quantization of their six
//! operands, and the recipe's bookkeeping (the delayed-scaling amax
//! histories). The baseline is three f32 GEMMs of the same size by the
//! `gemm` crate, timed in the same run; the last column is its time over
//! the step's. Both run on one thread; each time is the best of several
//! steps. The data are `gemm_bench`'s (`gemm_data`,
//! uniform in [−2, 2)).

use blockscale::recipe::{LinearLayer, LinearShape, Recipe, RecipeKind};
use blockscale_bench::{Machine, best, gemm_data, ref_gemm};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let s: usize = match args.first().map(|a| a.parse()) {
        None => 1024,
        Some(Ok(s)) if s > 0 => s,
        Some(_) => {
            eprintln!("usage: recipe_step [size] [recipe]");
            std::process::exit(2);
        }
    };
    let kinds: Vec<RecipeKind> = match args.get(1) {
        None => RecipeKind::ALL.to_vec(),
        Some(name) => match RecipeKind::from_name(name) {
            Ok(k) => vec![k],
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        },
    };
    println!("blockscale recipe_step: a linear layer's step, tokens = in = out = {s}, 1 thread");
    println!("{}", Machine::read());
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2025);
    let (x, w, dy) = (
        gemm_data(&mut rng, s * s),
        gemm_data(&mut rng, s * s),
        gemm_data(&mut rng, s * s),
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a thread pool");
    let mut c = vec![0f32; s * s];
    let f32_gemm = pool.install(|| best(|| ref_gemm(&x, &w, &mut c, s, 1, 1.0)));
    let baseline = 3.0 * f32_gemm;
    println!();
    println!("| step | ms | x the f32 GEMMs' speed |");
    println!("|---|---:|---:|");
    println!(
        "| three f32 GEMMs (gemm crate, baseline) | {:.2} | 1.00x |",
        baseline * 1e3
    );
    let shape = LinearShape {
        tokens: s,
        in_features: s,
        out_features: s,
    };
    for kind in kinds {
        let mut layer = LinearLayer::new(Recipe::from_kind(kind), 0, 1).expect("a layer");
        let mut step = 0;
        let t = pool.install(|| {
            best(|| {
                let out = layer.run(step, &x, &w, &dy, shape).expect("a step");
                assert!(
                    !out.bf16,
                    "the benchmark times the recipe's formats, not BF16"
                );
                step += 1;
            })
        });
        println!(
            "| {} | {:.2} | {:.2}x |",
            kind.name(),
            t * 1e3,
            baseline / t
        );
    }
}
