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

/// `--profile`: whose numbers to reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// NVIDIA Transformer Engine (NVFP4 operation order, MX RCEIL).
    Te,
    /// NVIDIA Model-Optimizer (NVFP4).
    Modelopt,
    /// torchao (NVFP4).
    Torchao,
    /// JAX / AQT (NVFP4).
    Jax,
    /// The OCP MX specification (MX FLOOR scale rule).
    Ocp,
}

/// `--scale-rule` for MX formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Rule {
    Floor,
    Rceil,
    Ceil,
    Even,
    // RCEIL scales with OCP's multiplier for scale byte 0x00.
    RceilOcp,
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
    match (o.profile, family.as_str()) {
        (None, _) => {}
        (Some(Profile::Ocp), "nvfp4") => {
            return Err(Error::InvalidArgument(
                "--profile ocp applies to MX formats; NVFP4 takes te, modelopt, torchao or jax"
                    .into(),
            ));
        }
        (Some(p), "nvfp4") => id = id.with("profile", &value_name(p)),
        // The MX profiles are scale rules: OCP's FLOOR, TE's RCEIL (the
        // default); an explicit --scale-rule wins.
        (Some(Profile::Ocp), _) if is_mx && o.scale_rule.is_none() => id = id.with("rule", "floor"),
        (Some(_), _) => {}
    }
    if let Some(r) = o.scale_rule {
        id = id.with("rule", &value_name(r));
    }
    if o.two_d {
        id = id.with("2d", "true");
    }
    AnyFormat::from_id(&id)
}
