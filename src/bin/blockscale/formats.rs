//! Formats chosen by name on the command line, dispatched to the concrete
//! `BlockFormat` types.

use blockscale::Error;
use blockscale::format::{
    Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp6E2M3, MxFp6E3M2, MxFp8E4M3, MxFp8E5M2, MxInt8, Nvfp4,
};
use blockscale::scale::mx::MxScaleRule;
use blockscale::scale::nvfp4::Nvfp4Profile;
use blockscale::{E4M3, E5M2};

/// Every format name the command line accepts.
pub const NAMES: &[&str] = &[
    "nvfp4",
    "mxfp8",
    "mxfp8-e5m2",
    "mxfp6",
    "mxfp6-e3m2",
    "mxfp4",
    "mxint8",
    "fp8",
    "fp8-e5m2",
    "fp8-block",
];

/// A format with its options, as parsed from the command line.
#[derive(Clone, Copy, Debug)]
pub enum Spec {
    Nvfp4(Nvfp4),
    Mxfp8(MxFp8E4M3),
    Mxfp8E5m2(MxFp8E5M2),
    Mxfp6(MxFp6E2M3),
    Mxfp6E3m2(MxFp6E3M2),
    Mxfp4(MxFp4),
    Mxint8(MxInt8),
    Fp8(Fp8Tensorwise<E4M3>),
    Fp8E5m2(Fp8Tensorwise<E5M2>),
    Fp8Block(Fp8Blockwise<E4M3>),
}

/// Options that shape a format.
#[derive(Clone, Copy, Debug, Default)]
pub struct Opts {
    pub profile: Option<Profile>,
    pub scale_rule: Option<MxScaleRule>,
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
}

impl Rule {
    pub fn rule(self) -> MxScaleRule {
        match self {
            Rule::Floor => MxScaleRule::Floor,
            Rule::Rceil => MxScaleRule::Rceil,
            Rule::Ceil => MxScaleRule::Ceil,
            Rule::Even => MxScaleRule::Even,
        }
    }
}

impl Spec {
    /// Parses a format name with its options; errors name the valid choices.
    pub fn parse(name: &str, o: Opts) -> Result<Spec, Error> {
        let nv_profile = match o.profile {
            None | Some(Profile::Te) => Some(Nvfp4Profile::TransformerEngine),
            Some(Profile::Modelopt) => Some(Nvfp4Profile::ModelOptimizer),
            Some(Profile::Torchao) => Some(Nvfp4Profile::TorchAo),
            Some(Profile::Jax) => Some(Nvfp4Profile::Jax),
            Some(Profile::Ocp) => None,
        };
        let rule = match (o.scale_rule, o.profile) {
            (Some(r), _) => r,
            (None, Some(Profile::Ocp)) => MxScaleRule::Floor,
            (None, _) => MxScaleRule::default(),
        };
        let is_mx = name.starts_with("mx");
        if !is_mx && o.scale_rule.is_some() {
            return Err(Error::InvalidArgument(format!(
                "--scale-rule applies to MX formats, not {name}"
            )));
        }
        if name == "nvfp4" && nv_profile.is_none() {
            return Err(Error::InvalidArgument(
                "--profile ocp applies to MX formats; NVFP4 takes te, modelopt, torchao or jax"
                    .into(),
            ));
        }
        macro_rules! mx {
            ($t:ident) => {
                if o.two_d {
                    $t::new_2d(rule)
                } else {
                    $t::new(rule)
                }
            };
        }
        Ok(match name {
            "nvfp4" => Spec::Nvfp4(Nvfp4 {
                profile: nv_profile.expect("checked above"),
                two_d: o.two_d,
            }),
            "mxfp8" => Spec::Mxfp8(mx!(MxFp8E4M3)),
            "mxfp8-e5m2" => Spec::Mxfp8E5m2(mx!(MxFp8E5M2)),
            "mxfp6" => Spec::Mxfp6(mx!(MxFp6E2M3)),
            "mxfp6-e3m2" => Spec::Mxfp6E3m2(mx!(MxFp6E3M2)),
            "mxfp4" => Spec::Mxfp4(mx!(MxFp4)),
            "mxint8" => Spec::Mxint8(mx!(MxInt8)),
            "fp8" | "fp8-e5m2" if o.two_d => {
                return Err(Error::InvalidArgument(format!(
                    "--2d does not apply to per-tensor {name}"
                )));
            }
            "fp8" => Spec::Fp8(Fp8Tensorwise::current()),
            "fp8-e5m2" => Spec::Fp8E5m2(Fp8Tensorwise::current()),
            "fp8-block" => Spec::Fp8Block(if o.two_d {
                Fp8Blockwise::WEIGHTS
            } else {
                Fp8Blockwise::ACTIVATIONS
            }),
            other => {
                return Err(Error::InvalidArgument(format!(
                    "unknown format '{other}' (expected one of: {})",
                    NAMES.join(", ")
                )));
            }
        })
    }
}

/// Runs `$body` with `$f` bound to the concrete format of a [`Spec`].
#[macro_export]
macro_rules! with_format {
    ($spec:expr, |$f:ident| $body:expr) => {
        match $spec {
            $crate::formats::Spec::Nvfp4($f) => $body,
            $crate::formats::Spec::Mxfp8($f) => $body,
            $crate::formats::Spec::Mxfp8E5m2($f) => $body,
            $crate::formats::Spec::Mxfp6($f) => $body,
            $crate::formats::Spec::Mxfp6E3m2($f) => $body,
            $crate::formats::Spec::Mxfp4($f) => $body,
            $crate::formats::Spec::Mxint8($f) => $body,
            $crate::formats::Spec::Fp8($f) => $body,
            $crate::formats::Spec::Fp8E5m2($f) => $body,
            $crate::formats::Spec::Fp8Block($f) => $body,
        }
    };
}

/// The spec that reads back a tensor stored with `layouts::own`, from the
/// metadata's format name (`MXFP4-FLOOR-2D`, `NVFP4`, ...) and scale-rule
/// text (which names the NVFP4 profile).
pub fn from_stored(name: &str, scale_rule: &str) -> Result<Spec, Error> {
    let (base, two_d) = match name.strip_suffix("-2D") {
        Some(b) => (b, true),
        None => (name, false),
    };
    // "-RCEIL" before "-CEIL": the one is a suffix of the other.
    let mut rule = None;
    let mut base = base;
    for (suffix, r) in [
        ("-RCEIL", Rule::Rceil),
        ("-FLOOR", Rule::Floor),
        ("-CEIL", Rule::Ceil),
        ("-EVEN", Rule::Even),
    ] {
        if let Some(b) = base.strip_suffix(suffix) {
            base = b;
            rule = Some(r.rule());
            break;
        }
    }
    let profile = [
        ("TransformerEngine", Profile::Te),
        ("ModelOptimizer", Profile::Modelopt),
        ("TorchAo", Profile::Torchao),
        ("Jax", Profile::Jax),
    ]
    .into_iter()
    .find(|(p, _)| scale_rule.starts_with(p))
    .map(|(_, p)| p);
    let cli = match base {
        "NVFP4" => "nvfp4",
        "MXFP8-E4M3" => "mxfp8",
        "MXFP8-E5M2" => "mxfp8-e5m2",
        "MXFP6-E2M3" => "mxfp6",
        "MXFP6-E3M2" => "mxfp6-e3m2",
        "MXFP4" => "mxfp4",
        "MXINT8" => "mxint8",
        "FP8-E4M3-tensorwise" => "fp8",
        "FP8-E5M2-tensorwise" => "fp8-e5m2",
        "FP8-E4M3-block1x128" => "fp8-block",
        "FP8-E4M3-block128x128" => {
            return Spec::parse(
                "fp8-block",
                Opts {
                    two_d: true,
                    ..Opts::default()
                },
            );
        }
        other => {
            return Err(Error::InvalidArgument(format!(
                "unknown stored format '{other}'"
            )));
        }
    };
    Spec::parse(
        cli,
        Opts {
            profile: if cli == "nvfp4" { profile } else { None },
            scale_rule: rule,
            two_d,
        },
    )
}
