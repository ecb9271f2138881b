//! `blockscale convert`: the command line of
//! [`blockscale::io::checkpoint::convert`], with a progress bar.

use blockscale::Error;
use blockscale::io::checkpoint::{self, ConvertOptions, Layout, Progress};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct ConvertArgs {
    /// A .safetensors file or a checkpoint directory
    model: PathBuf,
    /// Target format, as `quantize --format` takes it (nvfp4, mxfp4,
    /// fp8-block,2d, ...), or fp8-channel (E4M3, one factor per output
    /// channel; compressed-tensors only); nvfp4 without a profile takes
    /// Model-Optimizer's numbers. `--layout` says how it is stored
    #[arg(long = "to")]
    to: String,
    /// Layout family of the output
    #[arg(long, value_enum, default_value_t = LayoutArg::Auto)]
    layout: LayoutArg,
    /// Output directory (created if missing)
    #[arg(short, long)]
    output: PathBuf,
    /// Keep tensors whose name matches this glob (`*` and `?`) unchanged;
    /// may be repeated
    #[arg(long)]
    exclude: Vec<String>,
    /// Keep the last N transformer layers unchanged
    #[arg(long, default_value_t = 0)]
    keep_last_layers: usize,
    /// Activation amaxes from any calibration tool: a JSON object
    /// {"module": amax} (module = weight name without `.weight`), or a
    /// safetensors file of one-value tensors named `module` or
    /// `module.input_quantizer._amax` (Model-Optimizer's); writes
    /// each NVFP4 linear's `input_scale` (amax/2688; fused layers share the
    /// largest) and the W4A4 method `NVFP4` (Model-Optimizer layout only)
    #[arg(long, value_name = "FILE")]
    activation_amax: Option<PathBuf>,
}

/// A layout family `convert --layout` writes: [`Layout`], with the help
/// text clap shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LayoutArg {
    /// The loaders' layout for the format: Model-Optimizer for 1x16 NVFP4,
    /// gpt-oss for 1x32 MXFP4, blockscale's own for the rest
    Auto,
    /// Model-Optimizer NVFP4 (vLLM, TensorRT-LLM)
    Modelopt,
    /// gpt-oss MXFP4 (transformers)
    GptOss,
    /// DeepSeek FP8, 128x128 blocks (DeepSeek-V3, transformers, vLLM)
    Deepseek,
    /// compressed-tensors (llm-compressor, vLLM): 1x16 NVFP4, 1x32 MXFP4
    /// and MXFP8, FP8 per tensor, per channel or in 128x128 blocks
    CompressedTensors,
    /// GGUF (llama.cpp, candle, mistral.rs): ggml's 1x32 MXFP4 and 1x16
    /// NVFP4 blocks, the checkpoint's tensor names, one .gguf per shard
    Gguf,
    /// blockscale's own layout, any format
    Blockscale,
}

impl From<LayoutArg> for Layout {
    fn from(l: LayoutArg) -> Layout {
        match l {
            LayoutArg::Auto => Layout::Auto,
            LayoutArg::Modelopt => Layout::Modelopt,
            LayoutArg::GptOss => Layout::GptOss,
            LayoutArg::Deepseek => Layout::Deepseek,
            LayoutArg::CompressedTensors => Layout::CompressedTensors,
            LayoutArg::Gguf => Layout::Gguf,
            LayoutArg::Blockscale => Layout::Blockscale,
        }
    }
}

pub fn run(a: ConvertArgs) -> Result<(), Error> {
    let mut opts = ConvertOptions::new(a.to);
    opts.layout = a.layout.into();
    opts.exclude = a.exclude;
    opts.keep_last_layers = a.keep_last_layers;
    opts.activation_amax = a.activation_amax;
    let pb = ProgressBar::new(0);
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
        )
        .expect("valid template"),
    );
    let started = Instant::now();
    let tensors = std::sync::OnceLock::new();
    let report = checkpoint::convert_with_progress(&a.model, &a.output, &opts, &|p| match p {
        Progress::Planned {
            tensors: n,
            bytes,
            guessed,
            model_type,
        } => {
            let _ = tensors.set(n);
            pb.set_length(bytes);
            if !guessed.is_empty() {
                warn_guessed(guessed, model_type);
            }
        }
        Progress::Tensor { done, bytes } => {
            pb.set_position(bytes);
            pb.set_message(format!(
                "{done}/{} tensors, {:.1} tensors/s",
                tensors.get().copied().unwrap_or(0),
                done as f64 / started.elapsed().as_secs_f64().max(1e-9)
            ));
        }
        _ => {}
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            pb.abandon();
            return Err(e);
        }
    };
    pb.finish_with_message(format!("{} tensors", report.tensors));
    out!(
        "converted {} tensors in {:.1} s to {}",
        report.tensors,
        started.elapsed().as_secs_f64(),
        a.output.display()
    );
    Ok(())
}

fn warn_guessed(guessed: &[String], model_type: Option<&str>) {
    let shown: Vec<&str> = guessed.iter().take(4).map(String::as_str).collect();
    eprintln!(
        "warning: architecture {:?} is not in the model table; {} tensors are quantized \
         as linear weights by their names alone ({}{})",
        model_type.unwrap_or("unknown"),
        guessed.len(),
        shown.join(", "),
        if guessed.len() > shown.len() {
            ", …"
        } else {
            ""
        }
    );
}
