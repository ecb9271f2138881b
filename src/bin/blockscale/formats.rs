//! Formats chosen on the command line: a format identifier
//! ([`blockscale::format::FormatId`]: `nvfp4`, `mxfp4,rule=floor`, …) with
//! the `--profile`, `--scale-rule` and `--2d` flags folded in as options.

use blockscale::Error;
use blockscale::format::{AnyFormat, FormatId};

/// Options that shape a format.
#[derive(Clone, Copy, Debug, Default)]
pub struct Opts {
    pub profile: Option<Profile>,
    pub scale_rule: Option<Rule>,
    pub two_d: bool,
}

/// `--profile`: whose bytes to reproduce (`Nvfp4Profile`, `MxProfile`,
/// `Fp8Profile`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// NVIDIA Transformer Engine (the default: NVFP4, MX RCEIL, FP8).
    Te,
    /// NVIDIA Model-Optimizer 0.45 and later (NVFP4, MXFP4, MXFP8, FP8 per-tensor).
    Modelopt,
    /// NVIDIA Model-Optimizer 0.35 to 0.44 (NVFP4).
    ModeloptLegacy,
    /// torchao (NVFP4, MX, FP8).
    Torchao,
    /// JAX on CPU (NVFP4, MXFP8).
    Jax,
    /// compressed-tensors / LLM Compressor (NVFP4, MX, FP8).
    CompressedTensors,
    /// ggml / llama.cpp (MXFP4).
    Ggml,
    /// DeepGEMM's reference casts (FP8 blockwise).
    Deepgemm,
    /// The OCP MX specification's arithmetic (MX; FLOOR unless --scale-rule says otherwise).
    Ocp,
}

/// `--scale-rule` for MX formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Rule {
    Floor,
    Rceil,
    Ceil,
    Even,
}

/// The name clap gives a value-enum variant (its lower-case spelling, as
/// the library's option values are spelt).
fn value_name(v: impl clap::ValueEnum) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// Parses a format identifier and folds the flags into it; errors name
/// the valid choices.
pub fn parse(name: &str, o: Opts) -> Result<AnyFormat, Error> {
    let mut id: FormatId = name.parse()?;
    let family = id.family().to_string();
    let is_mx = family.starts_with("mx");
    if !is_mx && o.scale_rule.is_some() {
        return Err(Error::InvalidArgument(format!(
            "--scale-rule applies to MX formats, not {family}"
        )));
    }
    // The format checks the profile (each family has its own set).
    match o.profile {
        Some(p) if family == "nvfp4" || is_mx || family.starts_with("fp8") => {
            id = id.with("profile", &value_name(p));
        }
        Some(_) => {
            return Err(Error::InvalidArgument(format!(
                "--profile applies to NVFP4, MX and FP8 formats, not {family}"
            )));
        }
        None => {}
    }
    if let Some(r) = o.scale_rule {
        id = id.with("rule", &value_name(r));
    }
    if o.two_d {
        id = id.with("2d", "true");
    }
    AnyFormat::from_id(&id)
}
