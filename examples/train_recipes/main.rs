//! Trains one small network under every recipe, then compares post-training
//! quantization (PTQ) with quantization-aware training (QAT).
//!
//! ```sh
//! cargo run --release --features cli --example train_recipes -- --steps 600 --seed 0 --svg train_recipes.svg
//! ```
//!
//! **Task.** Teacher–student regression: a fixed random teacher
//! (128 → 256 → 128, GELU) maps heavy-tailed inputs to targets. Each input
//! row is Gaussian times a log-normal per-token scale, four fixed "outlier
//! channels" are 8× larger, and one element in a thousand is a 20× spike, as
//! in LLM activations. The training set is a fixed list of batches visited in
//! the same order by every run; the validation set is drawn from a separate
//! stream.
//!
//! **Student.** A 4-layer MLP 128 → 256 → 256 → 256 → 128 with GELU between
//! layers and no biases, trained with MSE on 256-token batches. Every
//! linear layer's fprop, dgrad and wgrad GEMMs run through
//! [`LinearLayer::forward`] and [`LinearLayer::backward`] (together exactly
//! [`LinearLayer::run`]): the recipe's quantizers and this crate's GEMM.
//! Adam is written out below; the learning rate follows warmup–stable–decay
//! (5% linear warmup, constant, linear decay to zero over the last 20%).
//! All runs share seed, initial weights, data order and schedule, except
//! one BF16 run with other initial weights that measures seed noise.
//!
//! **Runs.** `bf16` (every layer BF16); the FP8 recipes `delayed`,
//! `tensorwise`, `mxfp8`, `blockwise`; `mxfp4` and `nvfp4` with the last
//! layer in BF16 (the paper keeps its last layers in BF16); and NVFP4
//! ablations: no RHT, no stochastic rounding, no 2-D weights, every layer
//! in FP4, the last two layers in BF16, and BF16 from 80% of the steps.
//!
//! **Validation** loss is computed for every run with the same BF16
//! forward pass of the master (f32) weights, so runs differ only in what
//! training produced.
//!
//! **PTQ vs QAT** (the gpt-oss recipe): the BF16-trained weights are
//! fake-quantized (rowwise, along the fprop K axis) to MXFP4 and to NVFP4
//! and evaluated; then training continues for a tenth of the steps with
//! fake-quantized weights in the forward pass and a straight-through
//! estimator (the gradient of the quantized weight is applied to the f32
//! weight) at a tenth of the learning rate, and the quantized model is
//! evaluated again. A BF16 continuation of the same length is the control.

use std::path::PathBuf;

use blockscale::Error;
use blockscale::format::{MxFp4, Nvfp4};
use blockscale::recipe::{Bf16Selection, LinearLayer, LinearShape, Nvfp4Options, Recipe};
use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
use clap::Parser;
use rayon::prelude::*;

/// Tokens per batch (a multiple of 128 for the `blockwise` recipe).
const TOKENS: usize = 256;
/// Student widths: input, three hidden, output.
const WIDTHS: [usize; 5] = [128, 256, 256, 256, 128];
const LAYERS: usize = WIDTHS.len() - 1;
/// Teacher hidden width.
const TEACHER_HIDDEN: usize = 256;
/// Distinct training batches (visited in order, cyclically).
const TRAIN_BATCHES: usize = 64;
/// Validation batches.
const VAL_BATCHES: usize = 4;
/// Peak learning rate of Adam.
const PEAK_LR: f32 = 2e-3;

#[derive(Parser, Debug)]
#[command(about = "Train a small MLP under every recipe; PTQ vs QAT")]
struct Args {
    /// Training steps per run (at least 20).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(20..))]
    steps: u64,
    /// Seed of the task, the initial weights and stochastic rounding.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to write the SVG of the validation-loss curves.
    #[arg(long, default_value = "train_recipes.svg")]
    svg: PathBuf,
}

mod plot;
mod task;

use plot::plot;
use task::{Batch, Task, gaussian, gelu, gelu_grad, rng_for};

fn shape(l: usize) -> LinearShape {
    LinearShape {
        tokens: TOKENS,
        in_features: WIDTHS[l],
        out_features: WIDTHS[l + 1],
    }
}

/// The student's initial weights (out × in each), shared by every run.
fn init_weights(seed: u64) -> Vec<Vec<f32>> {
    let mut rng = rng_for(seed, 3);
    (0..LAYERS)
        .map(|l| {
            let gain = if l + 1 < LAYERS { 2.0 } else { 1.0 };
            gaussian(
                &mut rng,
                WIDTHS[l + 1],
                WIDTHS[l],
                (gain / WIDTHS[l] as f64).sqrt(),
            )
        })
        .collect()
}

/// Mean squared error and its gradient with respect to `y`.
fn mse(y: &[f32], target: &[f32]) -> (f64, Vec<f32>) {
    let n = y.len() as f32;
    let loss = y
        .iter()
        .zip(target)
        .map(|(a, b)| f64::from(a - b).powi(2))
        .sum::<f64>()
        / y.len() as f64;
    let grad = y
        .iter()
        .zip(target)
        .map(|(a, b)| 2.0 * (a - b) / n)
        .collect();
    (loss, grad)
}

/// One matrix per layer.
type PerLayer = Vec<Vec<f32>>;

/// Forward pass: returns the inputs of every layer (`inputs[0]` is the
/// batch) and the pre-activations of every layer.
fn forward(
    layers: &[LinearLayer],
    weights: &[Vec<f32>],
    step: u64,
    x: &[f32],
) -> Result<(PerLayer, PerLayer), Error> {
    let mut inputs = vec![x.to_vec()];
    let mut pre = Vec::with_capacity(LAYERS);
    for l in 0..LAYERS {
        let z = layers[l].forward(step, &inputs[l], &weights[l], shape(l))?;
        if l + 1 < LAYERS {
            inputs.push(z.iter().map(|&v| gelu(v)).collect());
        }
        pre.push(z);
    }
    Ok((inputs, pre))
}

/// One forward and backward pass: the loss and every layer's dW.
fn loss_and_grads(
    layers: &mut [LinearLayer],
    weights: &[Vec<f32>],
    step: u64,
    batch: &Batch,
) -> Result<(f64, Vec<Vec<f32>>), Error> {
    let (inputs, pre) = forward(layers, weights, step, &batch.x)?;
    let (loss, mut grad) = mse(&pre[LAYERS - 1], &batch.target);
    let mut dws = vec![Vec::new(); LAYERS];
    for l in (0..LAYERS).rev() {
        if l + 1 < LAYERS {
            for (g, &z) in grad.iter_mut().zip(&pre[l]) {
                *g *= gelu_grad(z);
            }
        }
        let (dx, dw) = layers[l].backward(step, &inputs[l], &weights[l], &grad, shape(l))?;
        dws[l] = dw;
        grad = dx;
    }
    Ok((loss, dws))
}

/// Adam (β₁ 0.9, β₂ 0.95, ε 1e-8, no weight decay), written out.
struct Adam {
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    t: i32,
}

impl Adam {
    fn new(weights: &[Vec<f32>]) -> Adam {
        let zeros: Vec<Vec<f32>> = weights.iter().map(|w| vec![0.0; w.len()]).collect();
        Adam {
            m: zeros.clone(),
            v: zeros,
            t: 0,
        }
    }

    fn step(&mut self, weights: &mut [Vec<f32>], grads: &[Vec<f32>], lr: f32) {
        let (b1, b2, eps) = (0.9f32, 0.95f32, 1e-8f32);
        self.t += 1;
        let c1 = 1.0 - b1.powi(self.t);
        let c2 = 1.0 - b2.powi(self.t);
        for l in 0..weights.len() {
            for i in 0..weights[l].len() {
                let g = grads[l][i];
                let m = b1 * self.m[l][i] + (1.0 - b1) * g;
                let v = b2 * self.v[l][i] + (1.0 - b2) * g * g;
                self.m[l][i] = m;
                self.v[l][i] = v;
                weights[l][i] -= lr * (m / c1) / ((v / c2).sqrt() + eps);
            }
        }
    }
}

/// Warmup–stable–decay: linear warmup over the first 5% of steps, constant,
/// then linear decay to zero over the last 20%.
fn wsd(step: u64, steps: u64, peak: f32) -> f32 {
    let warmup = (steps / 20).max(1);
    let decay_start = steps - steps / 5;
    if step < warmup {
        peak * (step + 1) as f32 / warmup as f32
    } else if step < decay_start {
        peak
    } else {
        peak * (steps - step) as f32 / (steps - decay_start) as f32
    }
}

/// The all-BF16 recipe: every layer selected for BF16.
fn bf16_recipe() -> Recipe {
    let mut r = Recipe::nvfp4();
    r.bf16 = Bf16Selection {
        first: LAYERS,
        ..Default::default()
    };
    r
}

/// Validation loss of `weights` with the BF16 forward pass.
fn val_loss(task: &Task, weights: &[Vec<f32>]) -> Result<f64, Error> {
    let layers = bf16_layers()?;
    let mut sum = 0.0;
    for b in &task.val {
        let (_, pre) = forward(&layers, weights, 0, &b.x)?;
        sum += mse(&pre[LAYERS - 1], &b.target).0;
    }
    Ok(sum / task.val.len() as f64)
}

fn bf16_layers() -> Result<Vec<LinearLayer>, Error> {
    (0..LAYERS)
        .map(|l| LinearLayer::new(bf16_recipe(), l, LAYERS))
        .collect()
}

/// One training run.
struct Run {
    name: &'static str,
    recipe: Recipe,
    /// Mixed into the seed of the initial weights (0 for every run but the
    /// noise reference).
    init: u64,
}

/// What a run produced.
struct Trained {
    weights: Vec<Vec<f32>>,
    /// (step, validation loss), at 20 evenly spaced steps and the end.
    curve: Vec<(u64, f64)>,
}

fn train(run: &Run, task: &Task, args: &Args) -> Result<Trained, Error> {
    let mut recipe = run.recipe.clone();
    recipe.seed = args.seed;
    let mut layers = (0..LAYERS)
        .map(|l| LinearLayer::new(recipe.clone(), l, LAYERS))
        .collect::<Result<Vec<_>, _>>()?;
    let mut weights = init_weights(args.seed ^ run.init);
    let mut adam = Adam::new(&weights);
    let every = (args.steps / 20).max(1);
    let mut curve = Vec::new();
    for step in 0..args.steps {
        if step % every == 0 {
            curve.push((step, val_loss(task, &weights)?));
        }
        let batch = &task.train[step as usize % task.train.len()];
        let (_, grads) = loss_and_grads(&mut layers, &weights, step, batch)?;
        adam.step(&mut weights, &grads, wsd(step, args.steps, PEAK_LR));
    }
    curve.push((args.steps, val_loss(task, &weights)?));
    Ok(Trained { weights, curve })
}

/// Weight-only quantization for PTQ and QAT.
#[derive(Clone, Copy)]
enum WeightFormat {
    /// No quantization (the BF16 control).
    None,
    /// MXFP4, 1×32 along K, E8M0 scales (RCEIL).
    Mxfp4,
    /// NVFP4, 1×16 along K, E4M3 scales and an FP32 tensor scale.
    Nvfp4,
}

impl WeightFormat {
    fn name(self) -> &'static str {
        match self {
            WeightFormat::None => "BF16 (no quantization)",
            WeightFormat::Mxfp4 => "MXFP4 weights",
            WeightFormat::Nvfp4 => "NVFP4 weights",
        }
    }

    fn apply(self, weights: &[Vec<f32>]) -> Result<Vec<Vec<f32>>, Error> {
        let opts = QuantizeOptions::default();
        (0..LAYERS)
            .map(|l| {
                let (rows, cols) = (WIDTHS[l + 1], WIDTHS[l]);
                match self {
                    WeightFormat::None => Ok(weights[l].clone()),
                    WeightFormat::Mxfp4 => QuantizedTensor::fake_quantize(
                        MxFp4::default(),
                        &weights[l],
                        rows,
                        cols,
                        &opts,
                    ),
                    WeightFormat::Nvfp4 => QuantizedTensor::fake_quantize(
                        Nvfp4::default(),
                        &weights[l],
                        rows,
                        cols,
                        &opts,
                    ),
                }
            })
            .collect()
    }
}

/// (PTQ loss, QAT loss) of `format` starting from `base`.
fn ptq_qat(
    format: WeightFormat,
    base: &[Vec<f32>],
    task: &Task,
    args: &Args,
) -> Result<(f64, f64), Error> {
    let ptq = val_loss(task, &format.apply(base)?)?;
    let qat_steps = (args.steps / 10).max(2);
    let mut weights = base.to_vec();
    let mut adam = Adam::new(&weights);
    let mut layers = bf16_layers()?;
    for s in 0..qat_steps {
        let step = args.steps + s;
        let batch = &task.train[step as usize % task.train.len()];
        // Straight-through estimator: the forward pass sees the quantized
        // weights, the gradient updates the f32 weights as if the quantizer
        // were the identity.
        let quantized = format.apply(&weights)?;
        let (_, grads) = loss_and_grads(&mut layers, &quantized, step, batch)?;
        adam.step(&mut weights, &grads, wsd(s, qat_steps, PEAK_LR / 10.0));
    }
    let qat = val_loss(task, &format.apply(&weights)?)?;
    Ok((ptq, qat))
}

fn runs(steps: u64) -> Vec<Run> {
    let nv = |o: Nvfp4Options, last: usize| {
        let mut r = Recipe::nvfp4_with(o);
        r.bf16.last = last;
        r
    };
    let d = Nvfp4Options::default();
    let mut mxfp4 = Recipe::mxfp4();
    mxfp4.bf16.last = 1;
    let mut late = nv(d, 1);
    late.bf16.from_step = Some(steps - steps / 5);
    let no_sr = Nvfp4Options {
        stochastic_gradients: false,
        ..d
    };
    let no_2d = Nvfp4Options {
        two_d_weights: false,
        ..d
    };
    let run = |name, recipe| Run {
        name,
        recipe,
        init: 0,
    };
    vec![
        run("bf16", bf16_recipe()),
        Run {
            init: 1,
            ..run("bf16, other init (noise)", bf16_recipe())
        },
        run("delayed (FP8)", Recipe::delayed()),
        run("tensorwise (FP8)", Recipe::tensorwise()),
        run("mxfp8", Recipe::mxfp8()),
        run("blockwise (FP8)", Recipe::blockwise()),
        run("mxfp4 (last layer BF16)", mxfp4),
        run("nvfp4 (last layer BF16)", nv(d, 1)),
        run("nvfp4 - no RHT", nv(Nvfp4Options { rht: false, ..d }, 1)),
        run("nvfp4 - no stochastic rounding", nv(no_sr, 1)),
        run("nvfp4 - no 2-D weights", nv(no_2d, 1)),
        run("nvfp4 - all layers FP4", nv(d, 0)),
        run("nvfp4 - last 2 layers BF16", nv(d, 2)),
        run("nvfp4 - BF16 for last 20%", late),
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let task = Task::new(args.seed);
    println!(
        "teacher-student regression, student MLP {WIDTHS:?} (GELU), {TOKENS} tokens/batch, \
         {} steps, seed {}, Adam with WSD (peak lr {PEAK_LR})",
        args.steps, args.seed
    );
    let runs = runs(args.steps);
    let trained = runs
        .par_iter()
        .map(|r| train(r, &task, &args))
        .collect::<Result<Vec<_>, Error>>()?;

    let base = trained[0].curve.last().expect("a final point").1;
    println!("\nfinal validation loss per run (BF16 forward of the trained weights)\n");
    println!("| run | val loss | vs bf16 |");
    println!("|---|---:|---:|");
    for (run, t) in runs.iter().zip(&trained) {
        let loss = t.curve.last().expect("a final point").1;
        println!(
            "| {} | {:.5} | {:+.2}% |",
            run.name,
            loss,
            100.0 * (loss / base - 1.0)
        );
    }

    let formats = [WeightFormat::None, WeightFormat::Mxfp4, WeightFormat::Nvfp4];
    let results = formats
        .par_iter()
        .map(|&f| ptq_qat(f, &trained[0].weights, &task, &args))
        .collect::<Result<Vec<_>, Error>>()?;
    println!(
        "\nPTQ vs QAT of the bf16 model (QAT: {} steps, STE, peak lr {:.0e})\n",
        (args.steps / 10).max(2),
        PEAK_LR / 10.0
    );
    println!("| weights | bf16 model | PTQ | vs bf16 | after QAT | vs bf16 |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (f, (ptq, qat)) in formats.iter().zip(&results) {
        println!(
            "| {} | {:.5} | {:.5} | {:+.2}% | {:.5} | {:+.2}% |",
            f.name(),
            base,
            ptq,
            100.0 * (ptq / base - 1.0),
            qat,
            100.0 * (qat / base - 1.0)
        );
    }

    plot(&args.svg, &runs, &trained)?;
    println!("\nloss curves written to {}", args.svg.display());
    Ok(())
}
