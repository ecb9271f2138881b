//! Where [`convert`](super::convert) writes: the layout family for the
//! format, and the configuration files its loaders read.

use super::{ConvertOptions, write_index, write_json};
use crate::E4M3;
use crate::Error;
use crate::format::{AnyFormat, BlockFormat, BlockShape, FormatId, Fp8Blockwise, MxFp4, Nvfp4};
use crate::io::layouts;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// The target for FP8 E4M3 with one factor per output channel, which is no
/// format of its own: [`channelwise`] of each weight's width.
pub(crate) const CHANNEL: &str = "fp8-channel";

/// E4M3 with one factor (amax/448, not a power of two) per row of `cols`.
pub(crate) fn channelwise(cols: usize) -> Fp8Blockwise<E4M3> {
    let mut f = Fp8Blockwise::new(1, cols);
    f.power_of_two = false;
    f
}

/// The layout family a converted checkpoint is written in (the contract's
/// [§6](crate::contract) describes each one's tensors).
///
/// ```
/// use blockscale::io::checkpoint::Layout;
/// let l: Layout = "compressed-tensors".parse()?;
/// assert_eq!(l, Layout::CompressedTensors);
/// assert_eq!(l.name(), "compressed-tensors");
/// assert!("tensorrt".parse::<Layout>().is_err());
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Layout {
    /// The loaders' layout for the format: Model-Optimizer for 1x16 NVFP4,
    /// gpt-oss for 1x32 MXFP4, blockscale's own for the rest.
    #[default]
    Auto,
    /// Model-Optimizer NVFP4 (vLLM, TensorRT-LLM).
    Modelopt,
    /// gpt-oss MXFP4 (transformers).
    GptOss,
    /// DeepSeek FP8, 128x128 blocks (DeepSeek-V3, transformers, vLLM).
    Deepseek,
    /// compressed-tensors (llm-compressor, vLLM): 1x16 NVFP4, 1x32 MXFP4
    /// and MXFP8, FP8 per tensor, per channel or in 128x128 blocks.
    CompressedTensors,
    /// GGUF (llama.cpp, candle, mistral.rs): ggml's 1x32 MXFP4 and 1x16
    /// NVFP4 blocks, the checkpoint's tensor names, one .gguf per shard.
    Gguf,
    /// blockscale's own layout, any format.
    Blockscale,
}

impl Layout {
    /// Every layout, in declaration order.
    pub const ALL: [Layout; 7] = [
        Layout::Auto,
        Layout::Modelopt,
        Layout::GptOss,
        Layout::Deepseek,
        Layout::CompressedTensors,
        Layout::Gguf,
        Layout::Blockscale,
    ];

    /// The layout's name, as the command line's `--layout` takes it.
    pub const fn name(self) -> &'static str {
        match self {
            Layout::Auto => "auto",
            Layout::Modelopt => "modelopt",
            Layout::GptOss => "gpt-oss",
            Layout::Deepseek => "deepseek",
            Layout::CompressedTensors => "compressed-tensors",
            Layout::Gguf => "gguf",
            Layout::Blockscale => "blockscale",
        }
    }
}

impl core::fmt::Display for Layout {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for Layout {
    type Err = Error;

    fn from_str(s: &str) -> Result<Layout, Error> {
        Layout::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Layout::ALL.iter().map(|l| l.name()).collect();
                Error::InvalidArgument(format!(
                    "layout {s:?}: expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// Where a converted checkpoint's weights go: the layout real loaders
/// read for the format, or this crate's own for the rest.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    /// 1×16 NVFP4 in Model-Optimizer's layout, with hf_quant_config.json.
    ModelOpt(Nvfp4),
    /// 1×32 MXFP4 in gpt-oss's layout (`_blocks`, `_scales`).
    GptOss(MxFp4),
    /// E4M3 in 128×128 blocks in DeepSeek's layout (`weight_scale_inv`).
    DeepSeek(AnyFormat),
    /// compressed-tensors' layout for the format.
    Compressed(AnyFormat, layouts::Compressed),
    /// 1×32 MXFP4 or 1×16 NVFP4 in ggml's blocks, in GGUF files.
    Gguf(AnyFormat),
    /// Any format, in blockscale's own layout.
    Own(AnyFormat),
}

impl Target {
    /// Whether the format has a per-tensor global scale (fused layers and
    /// experts need their global amax computed first).
    pub(crate) fn has_global_scale(self) -> bool {
        match self {
            Target::ModelOpt(_) => true,
            Target::GptOss(_) | Target::DeepSeek(_) => false,
            // llm-compressor scales each FP8 tensor on its own; only
            // NVFP4's global scales are shared by fused layers.
            Target::Compressed(_, layouts::Compressed::Fp8Tensor) => false,
            Target::Compressed(f, _) | Target::Gguf(f) | Target::Own(f) => f.has_global_scale(),
        }
    }

    /// The block a weight must be whole blocks of, (outputs, inputs);
    /// `None` where partial blocks are padded (DeepSeek's layout).
    pub(crate) fn whole_blocks(self) -> Option<(usize, usize)> {
        let tile = |b: BlockShape| match b {
            BlockShape::Tile { rows, cols } => Some((rows, cols)),
            BlockShape::Tensor => None,
        };
        match self {
            Target::ModelOpt(f) => tile(f.block()),
            Target::GptOss(f) => tile(f.block()),
            Target::DeepSeek(_) => None,
            Target::Compressed(
                _,
                layouts::Compressed::Fp8Block | layouts::Compressed::Fp8Channel,
            ) => None,
            // ggml's NVFP4 block holds four 16-element blocks.
            Target::Gguf(AnyFormat::Nvfp4(_)) => Some((1, 64)),
            Target::Compressed(f, _) | Target::Gguf(f) | Target::Own(f) => tile(f.block()),
        }
    }

    /// Whether the layout holds 3-D expert stacks (compressed-tensors and
    /// DeepSeek store experts as separate 2-D weights).
    pub(crate) fn holds_stacks(self) -> bool {
        !matches!(self, Target::Compressed(..) | Target::DeepSeek(_))
    }

    /// The format's name, for messages.
    pub(crate) fn format_name(self) -> String {
        match self {
            Target::ModelOpt(f) => f.name(),
            Target::GptOss(f) => f.name(),
            Target::DeepSeek(f) | Target::Compressed(f, _) | Target::Gguf(f) | Target::Own(f) => {
                f.name()
            }
        }
    }

    /// The target of a format name and a layout: NVFP4 without a profile takes
    /// Model-Optimizer's numbers (its layout's producer).
    pub(crate) fn parse(to: &str, layout: Layout) -> Result<Target, Error> {
        if to == CHANNEL {
            return match layout {
                Layout::CompressedTensors => Ok(Target::Compressed(
                    channelwise(128).into(),
                    layouts::Compressed::Fp8Channel,
                )),
                _ => Err(Error::InvalidArgument(format!(
                    "{CHANNEL} is written in layout compressed-tensors only"
                ))),
            };
        }
        let mut id: FormatId = to.parse()?;
        if id.family() == "nvfp4" && id.option("profile").is_none() {
            id = id.with("profile", "modelopt");
        }
        let one_d = |b: BlockShape| matches!(b, BlockShape::Tile { rows: 1, .. });
        let format = AnyFormat::from_id(&id)?;
        let deepseek = matches!(id.family(), "fp8-block" | "fp8-block-ue8m0")
            && format.id().option("2d") == Some("true");
        let refuse = |what: &str| {
            Err(Error::InvalidArgument(format!(
                "layout {layout} holds {what}, not {format}"
            )))
        };
        match (layout, format) {
            (Layout::Auto | Layout::Modelopt, AnyFormat::Nvfp4(f)) if one_d(f.block()) => {
                Ok(Target::ModelOpt(f))
            }
            (Layout::Auto | Layout::GptOss, AnyFormat::MxFp4(f)) if one_d(f.block()) => {
                Ok(Target::GptOss(f))
            }
            (Layout::Deepseek, f) if deepseek => Ok(Target::DeepSeek(f)),
            (Layout::Gguf, f @ (AnyFormat::Nvfp4(_) | AnyFormat::MxFp4(_))) if one_d(f.block()) => {
                Ok(Target::Gguf(f))
            }
            (Layout::CompressedTensors, f) => match layouts::Compressed::of(&f.id(), 0) {
                Some(kind) => Ok(Target::Compressed(f, kind)),
                None => refuse(
                    "nvfp4, mxfp4, mxfp8, fp8 (per tensor), fp8-channel or fp8-block,2d (128x128)",
                ),
            },
            (Layout::Auto | Layout::Blockscale, f) => Ok(Target::Own(f)),
            (Layout::Modelopt, _) => refuse("1x16 NVFP4"),
            (Layout::GptOss, _) => refuse("1x32 MXFP4"),
            (Layout::Gguf, _) => refuse("1x32 MXFP4 or 1x16 NVFP4"),
            (Layout::Deepseek, _) => {
                refuse("E4M3 in 128x128 blocks (fp8-block,2d or fp8-block-ue8m0,2d)")
            }
        }
    }
}

/// The configuration files of a converted checkpoint. Model-Optimizer
/// NVFP4 is weight-only (`W4A16_NVFP4`: no activation statistics, so no
/// `input_scale`), written as vLLM reads it: `config.json`'s
/// `quantization_config` first (`quant_method`, `quant_algo`, `ignore`,
/// `group_size`, `kv_cache_scheme`, `config_groups`, `producer`), then
/// `hf_quant_config.json` (`quantization.{quant_algo, kv_cache_quant_algo,
/// group_size, exclude_modules}`, each key present).
pub(crate) fn write_configs(
    (dir, model, out): (&Path, &Path, &Path),
    a: &ConvertOptions,
    to: Target,
    mut config: Option<Value>,
    weight_map: &BTreeMap<String, String>,
    total: u64,
    excluded: &[String],
) -> Result<(), Error> {
    let producer = json!({"name": "blockscale", "version": env!("CARGO_PKG_VERSION")});
    let quantization_config = match to {
        Target::ModelOpt(_) => {
            // W4A4 (`NVFP4`) when activation amaxes gave every linear an
            // `input_scale`; weight-only otherwise.
            let w4a4 = a.activation_amax.is_some();
            let algo = if w4a4 { "NVFP4" } else { "W4A16_NVFP4" };
            let q = json!({"quant_algo": algo, "kv_cache_quant_algo": null, "group_size": 16, "exclude_modules": excluded});
            write_json(
                &out.join("hf_quant_config.json"),
                &json!({"producer": producer, "quantization": q}),
            )?;
            let fp4 = json!({"dynamic": false, "num_bits": 4, "type": "float", "group_size": 16});
            let mut group = json!({"weights": fp4, "targets": ["Linear"]});
            if w4a4 {
                group["input_activations"] = fp4.clone();
            }
            json!({
                "quant_method": "modelopt",
                "quant_algo": algo,
                "group_size": 16,
                "ignore": excluded,
                "kv_cache_scheme": null,
                "config_groups": {"group_0": group},
                "producer": producer,
            })
        }
        Target::GptOss(_) => json!({"quant_method": "mxfp4", "modules_to_not_convert": excluded}),
        // llm-compressor's configuration (compressed-tensors'
        // QuantizationConfig): one group for every Linear but the kept ones.
        Target::Compressed(_, kind) => {
            // llm-compressor's presets: NVFP4A16, MXFP4A16, MXFP8A16 (weight
            // only), FP8 (per tensor) and FP8_DYNAMIC (per channel) with
            // dynamic per-token activations, FP8_BLOCK with dynamic 1x128
            // groups.
            let mut weights = json!({"num_bits": 8, "type": "float", "strategy": kind.strategy(), "symmetric": true, "dynamic": false});
            let group = |w: &mut Value, size: usize, dtype: &str| {
                w["group_size"] = json!(size);
                w["scale_dtype"] = json!(dtype);
            };
            match kind {
                layouts::Compressed::Nvfp4Packed => {
                    weights["num_bits"] = json!(4);
                    group(&mut weights, 16, "torch.float8_e4m3fn");
                }
                layouts::Compressed::Mxfp4Packed => {
                    weights["num_bits"] = json!(4);
                    group(&mut weights, 32, "torch.uint8");
                }
                // compressed-tensors recognizes MXFP8 by its uint8 scales.
                layouts::Compressed::Mxfp8 => group(&mut weights, 32, "torch.uint8"),
                layouts::Compressed::Fp8Block => weights["block_structure"] = json!([128, 128]),
                _ => {}
            }
            let dynamic = |strategy: &str| json!({"num_bits": 8, "type": "float", "strategy": strategy, "symmetric": true, "dynamic": true});
            let inputs = match kind {
                layouts::Compressed::Fp8Block => {
                    let mut g = dynamic("group");
                    g["group_size"] = json!(128);
                    g
                }
                layouts::Compressed::Fp8Tensor | layouts::Compressed::Fp8Channel => {
                    dynamic("token")
                }
                _ => Value::Null,
            };
            json!({
                "quant_method": "compressed-tensors",
                "format": kind.name(),
                "quantization_status": "compressed",
                "config_groups": {"group_0": {"targets": ["Linear"], "format": kind.name(), "weights": weights, "input_activations": inputs, "output_activations": null}},
                "ignore": excluded,
                "kv_cache_scheme": null,
            })
        }
        // DeepSeek-V3's config.json; `scale_fmt` as V3.1 spells power-of-two
        // factors; the kept layers as transformers' and vLLM's FP8 configs
        // name them.
        Target::DeepSeek(f) => {
            let mut c = json!({
                "quant_method": "fp8",
                "fmt": "e4m3",
                "activation_scheme": "dynamic",
                "weight_block_size": [128, 128],
                "modules_to_not_convert": excluded,
                "ignored_layers": excluded,
            });
            if f.id().family() == "fp8-block-ue8m0" {
                c["scale_fmt"] = json!("ue8m0");
            }
            c
        }
        Target::Gguf(_) => {
            // A GGUF file describes itself; config.json goes along
            // unchanged for `dequantize` to restore.
            if let Some(c) = config {
                write_json(&out.join("config.json"), &c)?;
            }
            return Ok(());
        }
        Target::Own(f) => json!({
            "quant_method": "blockscale",
            "format": f.to_string(),
            "modules_to_not_convert": excluded,
        }),
    };
    if let Some(c) = config.as_mut().and_then(Value::as_object_mut) {
        c.insert("quantization_config".into(), quantization_config);
    }
    if let Some(c) = config {
        write_json(&out.join("config.json"), &c)?;
    }
    if !model.is_file() || dir.join("model.safetensors.index.json").exists() {
        write_index(out, weight_map, total)?;
    }
    Ok(())
}
