//! `blockscale`: quantize, dequantize, inspect, compare and convert tensors
//! and checkpoints in block-scaled formats. Build with `--features cli`.
//!
//! Every command reports a bad input as one line naming the file (and the
//! tensor) and exits with status 1; every output is written to a temporary
//! file and renamed into place, so a failure leaves nothing partial.

/// `println!` that stops quietly (status 0) when stdout is closed, as when
/// piped into `head`, instead of panicking.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($t)*).is_err() {
            return Ok(());
        }
    }};
}

mod compare;
mod convert;
mod formats;
mod vectors;

use blockscale::Error;
use blockscale::io::checkpoint::{self, FileKind};
use blockscale::io::gguf::Value;
use blockscale::io::{DType, finite_values, layouts, read_tensors, st};
use blockscale::tensor::{AnyQuantized, QuantizeOptions, TensorRounding};
use clap::{Parser, Subcommand, ValueEnum};
use formats::{Opts, Profile, Rule};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "blockscale",
    version,
    about = "Quantize, dequantize, inspect, compare and convert tensors and checkpoints in \
             block-scaled formats (NVFP4, MXFP8/6/4, MXINT8, FP8)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Quantize every floating-point tensor of a .npy or .safetensors file
    /// into blockscale's own safetensors layout
    Quantize(QuantizeArgs),
    /// Dequantize a quantized file (blockscale, Model-Optimizer NVFP4,
    /// gpt-oss MXFP4, DeepSeek FP8, compressed-tensors, GGUF) to .npy or
    /// safetensors, or a quantized checkpoint directory to a BF16 one
    Dequantize(DequantizeArgs),
    /// List a file's tensors: dtype, shape, detected quantization layout and
    /// scale statistics
    Inspect(InspectArgs),
    /// Tabulate SQNR, max error and saturation of every format on a file's
    /// tensors, with and without the Random Hadamard Transform, and draw an
    /// SVG chart
    Compare(compare::CompareArgs),
    /// Convert a BF16/F16/F32 checkpoint (one safetensors file or a sharded
    /// one with model.safetensors.index.json) to a format in a loader's
    /// layout (Model-Optimizer, gpt-oss, DeepSeek, compressed-tensors, GGUF)
    /// or blockscale's own
    Convert(convert::ConvertArgs),
    /// Write a test-vector bundle for a GPU kernel: inputs, the quantized
    /// operands in the scale and data layouts the kernel reads, and the exact
    /// GEMM output (plain, or grouped as DeepGEMM's contiguous or masked MoE
    /// GEMMs), as safetensors with a JSON manifest
    Vectors(vectors::VectorsArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Rounding {
    /// Round to nearest, ties to even
    Nearest,
    /// 32 random bits per element from a Xoshiro256++ stream per tile
    Stochastic,
    /// 8 random bits per element (the GPUs' resolution) from a counter;
    /// faster
    Stochastic8,
}

#[derive(clap::Args)]
struct QuantizeArgs {
    /// Format: nvfp4, mxfp8, mxfp8-e5m2, mxfp6, mxfp6-e3m2, mxfp4, mxint8,
    /// fp8, fp8-e5m2, fp8-e4m3fnuz, fp8-e5m2fnuz, fp8-block, fp8-block-e5m2,
    /// fp8-block-e4m3fnuz, fp8-block-e5m2fnuz, with options after commas
    /// (`mxfp4,rule=floor`, `fp8-block,block=64x64`)
    #[arg(long)]
    format: String,
    /// Whose bytes to reproduce, corners included (NVFP4, MX and FP8; an
    /// MX producer's own scale rule unless --scale-rule names another it has)
    #[arg(long, value_enum)]
    profile: Option<Profile>,
    /// MX scale-exponent rule (default: the profile's own; TE: rceil)
    #[arg(long, value_enum)]
    scale_rule: Option<Rule>,
    /// 2-D blocks (16x16 NVFP4, 32x32 MX, 128x128 FP8 blockwise)
    #[arg(long = "2d")]
    two_d: bool,
    /// Element rounding
    #[arg(long, value_enum, default_value = "nearest")]
    rounding: Rounding,
    /// Seed for stochastic rounding
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Input .npy or .safetensors file
    input: PathBuf,
    /// Output .safetensors file
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(clap::Args)]
struct DequantizeArgs {
    /// A quantized .safetensors or .gguf file, or a checkpoint directory
    input: PathBuf,
    /// Output: a .npy file (one tensor), a .safetensors file, or a directory
    /// (for a checkpoint directory)
    #[arg(short, long)]
    output: PathBuf,
    /// Element type of the output (default: bf16 for safetensors and
    /// checkpoints, f32 for .npy)
    #[arg(long)]
    dtype: Option<String>,
}

#[derive(clap::Args)]
struct InspectArgs {
    /// A .npy, .safetensors or .gguf file
    file: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Quantize(a) => quantize(a),
        Cmd::Dequantize(a) => dequantize(a),
        Cmd::Inspect(a) => inspect(a),
        Cmd::Compare(a) => compare::run(a),
        Cmd::Convert(a) => convert::run(a),
        Cmd::Vectors(a) => vectors::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("blockscale: {e}");
            ExitCode::FAILURE
        }
    }
}

fn quantize(a: QuantizeArgs) -> Result<(), Error> {
    let format = formats::parse(
        &a.format,
        Opts {
            profile: a.profile,
            scale_rule: a.scale_rule,
            two_d: a.two_d,
        },
    )?;
    let opts = QuantizeOptions {
        rounding: match a.rounding {
            Rounding::Nearest => TensorRounding::NearestEven,
            Rounding::Stochastic => TensorRounding::Stochastic { seed: a.seed },
            Rounding::Stochastic8 => TensorRounding::Stochastic8 { seed: a.seed },
        },
        ..Default::default()
    };
    let mut out = Vec::new();
    let mut meta = HashMap::new();
    for (name, t) in read_tensors(&a.input)? {
        if !t.dtype.is_float() {
            out.push((name, t));
            continue;
        }
        let x = finite_values(&a.input, &name, &t)?;
        let (rows, cols) = t.matrix_shape();
        let q = AnyQuantized::quantize(&format, &x, rows, cols, &opts)
            .map_err(|e| e.in_file(&a.input, Some(&name)))?;
        let (tensors, (key, json)) = layouts::own(&name, &q)?;
        out.extend(tensors);
        meta.insert(key, json);
        meta.insert(
            format!("blockscale-shape:{name}"),
            serde_json::to_string(&t.shape).expect("shape serializes"),
        );
    }
    st::write(&a.output, &out, Some(meta))
}

fn dequantize(a: DequantizeArgs) -> Result<(), Error> {
    let dtype = match &a.dtype {
        None => None,
        Some(s) => Some(DType::parse(s).filter(|d| d.is_float()).ok_or_else(|| {
            Error::InvalidArgument(format!("--dtype {s}: expected f32, f16, bf16 or f64"))
        })?),
    };
    checkpoint::dequantize(&a.input, &a.output, dtype)
}

fn inspect(a: InspectArgs) -> Result<(), Error> {
    let path = &a.file;
    let i = checkpoint::inspect(path)?;
    match i.kind {
        FileKind::Npy => {
            let t = &i.tensors[0];
            out!("{}: .npy, {} {:?}", path.display(), t.dtype, t.shape);
            if let Some(v) = t.values {
                out!(
                    "  amax {:.6e}, {} non-finite of {}",
                    v.amax,
                    v.nonfinite,
                    v.count
                );
            }
        }
        FileKind::Gguf => {
            out!(
                "{}: GGUF v{}, {} tensors, {} metadata keys",
                path.display(),
                blockscale::io::gguf::VERSION,
                i.tensors.len(),
                i.metadata.len()
            );
            for (k, v) in &i.metadata {
                match v {
                    Value::Array(t, items) if items.len() > 8 => {
                        out!("  {k} = [{} {t:?} values]", items.len())
                    }
                    Value::Array(_, items) => {
                        let shown: Vec<String> = items.iter().map(show).collect();
                        out!("  {k} = [{}]", shown.join(", "))
                    }
                    v => out!("  {k} = {}", show(v)),
                }
            }
            for t in &i.tensors {
                out!("  {:<48} {:<6} {:?}", t.name, t.dtype, t.shape);
            }
        }
        _ => {
            out!(
                "{}: safetensors, {} tensors",
                path.display(),
                i.tensors.len()
            );
            for t in &i.tensors {
                let r = t.role.as_deref().unwrap_or("unquantized");
                out!(
                    "  {:<48} {:<8} {:<18} {r}",
                    t.name,
                    t.dtype,
                    format!("{:?}", t.shape)
                );
                if let Some(s) = t.scales {
                    out!(
                        "      scales: {} values, min {:.4e}, max {:.4e}, geometric mean 2^{:.2}, {} zero, {} non-finite",
                        s.count,
                        s.min,
                        s.max,
                        s.log2_mean,
                        s.zero,
                        s.nonfinite
                    );
                }
            }
        }
    }
    Ok(())
}

/// A GGUF metadata value as `inspect` prints it.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::U8(x) => x.to_string(),
        Value::I8(x) => x.to_string(),
        Value::U16(x) => x.to_string(),
        Value::I16(x) => x.to_string(),
        Value::U32(x) => x.to_string(),
        Value::I32(x) => x.to_string(),
        Value::U64(x) => x.to_string(),
        Value::I64(x) => x.to_string(),
        Value::F32(x) => x.to_string(),
        Value::F64(x) => x.to_string(),
        Value::Bool(x) => x.to_string(),
        other => format!("{other:?}"),
    }
}
