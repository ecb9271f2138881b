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

mod amax;
mod checkpoint;
mod compare;
mod formats;
mod gguf;
mod plan;
mod restore;
mod target;

use blockscale::Error;
use blockscale::io::{DType, Tensor, detect, layouts, npy, st};
use blockscale::tensor::{AnyQuantized, QuantizeOptions, TensorRounding};
use clap::{Parser, Subcommand, ValueEnum};
use formats::{Opts, Profile, Rule};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
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
    Convert(checkpoint::ConvertArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Rounding {
    Nearest,
    Stochastic,
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
        Cmd::Convert(a) => checkpoint::convert(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("blockscale: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The named tensors of a .npy (named after the file) or .safetensors file.
pub(crate) fn read_tensors(path: &Path) -> Result<Vec<(String, Tensor)>, Error> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "tensor".into());
            Ok(vec![(name, npy::read(path)?)])
        }
        Some("safetensors") => {
            let f = st::SafeFile::open(path)?;
            f.names()
                .into_iter()
                .map(|n| f.tensor(&n).map(|t| (n, t)))
                .collect()
        }
        _ => Err(Error::file(
            path,
            None,
            "unknown file type (expected .npy or .safetensors)",
        )),
    }
}

pub(crate) fn is_float(d: DType) -> bool {
    matches!(d, DType::F64 | DType::F32 | DType::F16 | DType::BF16)
}

/// The tensor's values as f32, rejecting NaN and ±Inf (quantizing them is
/// never what a checkpoint tool wants).
pub(crate) fn finite_values(path: &Path, name: &str, t: &Tensor) -> Result<Vec<f32>, Error> {
    let x = t.to_f32().map_err(|e| e.in_file(path, Some(name)))?;
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::file(
            path,
            Some(name),
            format!("non-finite value {} at flat index {i}", x[i]),
        ));
    }
    Ok(x)
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
        },
        ..Default::default()
    };
    let mut out = Vec::new();
    let mut meta = HashMap::new();
    for (name, t) in read_tensors(&a.input)? {
        if !is_float(t.dtype) {
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

/// Dequantizes every quantized tensor of one safetensors file, whatever
/// its layout, and passes the others through unchanged.
pub(crate) fn dequantize_file(
    path: &Path,
    dtype: DType,
) -> Result<Vec<(String, st::Entry)>, Error> {
    if path.extension().is_some_and(|e| e == "gguf") {
        let file = blockscale::io::gguf::read(path)?;
        return blockscale::io::gguf::to_entries(&file, dtype).map_err(|e| e.in_file(path, None));
    }
    let f = st::SafeFile::open(path)?;
    // Never pass quantized bytes on as if they were weights.
    if let Some(n) = detect::unrecognized(&f)?.first() {
        let (dtype, shape) = f.info(n)?;
        return Err(Error::file(
            path,
            Some(n),
            format!(
                "{dtype} {shape:?} looks quantized, but is in no layout this tool reads ({})",
                detect::KNOWN_LAYOUTS
            ),
        ));
    }
    let mut consumed = std::collections::HashSet::new();
    let mut out: Vec<(String, st::Entry)> = Vec::new();
    for stored in detect::detect(&f)? {
        let name = stored.name();
        let (x, shape) = stored.dequantize(&f)?;
        let t = Tensor::from_f32(dtype, shape, &x).map_err(|e| e.in_file(path, Some(name)))?;
        out.push((name.to_string(), t.into()));
        consumed.extend(stored.parts().into_iter().map(|(n, _)| n));
    }
    for n in &f.names() {
        if !consumed.contains(n) {
            out.push((n.clone(), f.raw(n)?.into()));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn dequantize(a: DequantizeArgs) -> Result<(), Error> {
    let parse_dtype = |default: DType| -> Result<DType, Error> {
        match &a.dtype {
            None => Ok(default),
            Some(s) => DType::parse(s).filter(|d| is_float(*d)).ok_or_else(|| {
                Error::InvalidArgument(format!("--dtype {s}: expected f32, f16, bf16 or f64"))
            }),
        }
    };
    if a.input.is_dir() {
        return restore::dequantize_dir(&a.input, &a.output, parse_dtype(DType::BF16)?);
    }
    let to_npy = a.output.extension().is_some_and(|e| e == "npy");
    let dtype = parse_dtype(if to_npy { DType::F32 } else { DType::BF16 })?;
    let tensors = dequantize_file(&a.input, dtype)?;
    if to_npy {
        let mut decoded = tensors.into_iter().filter_map(|(n, e)| match e {
            st::Entry::Tensor(t) => Some((n, t)),
            st::Entry::Raw(_) => None,
        });
        match (decoded.next(), decoded.next()) {
            (Some((_, t)), None) => npy::write(&a.output, &t),
            _ => Err(Error::file(
                &a.input,
                None,
                "a .npy output holds one tensor; this file has several (write .safetensors)",
            )),
        }
    } else {
        st::write_entries(&a.output, &tensors, None)
    }
}

fn scale_stats(t: &Tensor) -> Option<String> {
    let v = detect::scale_values(t)?;
    let finite: Vec<f32> = v.iter().copied().filter(|x| x.is_finite()).collect();
    let nonzero: Vec<f32> = finite.iter().copied().filter(|&x| x != 0.0).collect();
    let min = nonzero.iter().copied().fold(f32::INFINITY, f32::min);
    let max = finite.iter().copied().fold(0f32, f32::max);
    let log_mean =
        nonzero.iter().map(|x| x.abs().log2() as f64).sum::<f64>() / nonzero.len().max(1) as f64;
    Some(format!(
        "scales: {} values, min {min:.4e}, max {max:.4e}, geometric mean 2^{log_mean:.2}, {} zero, {} non-finite",
        v.len(),
        finite.len() - nonzero.len(),
        v.len() - finite.len()
    ))
}

fn inspect(a: InspectArgs) -> Result<(), Error> {
    let path = &a.file;
    if path.extension().is_some_and(|e| e == "npy") {
        let t = npy::read(path)?;
        out!("{}: .npy, {} {:?}", path.display(), t.dtype.name(), t.shape);
        if let Ok(x) = t.to_f32() {
            let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
            let nonfinite = x.iter().filter(|v| !v.is_finite()).count();
            out!("  amax {amax:.6e}, {nonfinite} non-finite of {}", x.len());
        }
        return Ok(());
    }
    if path.extension().is_some_and(|e| e == "gguf") {
        return gguf::inspect(path);
    }
    let f = st::SafeFile::open(path)?;
    let names = f.names();
    let roles = detect::describe(&f)?;
    out!("{}: safetensors, {} tensors", path.display(), names.len());
    for n in &names {
        let info = f.info(n)?;
        let r = roles.get(n).map_or("unquantized", String::as_str);
        out!(
            "  {n:<48} {:<8} {:<18} {r}",
            info.0,
            format!("{:?}", info.1)
        );
        if r.ends_with("scales") || r.contains("scales (") {
            let t = f.tensor(n)?;
            if let Some(s) = scale_stats(&t) {
                out!("      {s}");
            }
        }
    }
    Ok(())
}
