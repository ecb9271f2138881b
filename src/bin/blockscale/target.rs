//! Where `convert` writes: the layout family for the format (`--layout`),
//! and the configuration files its loaders read.

use crate::checkpoint::{ConvertArgs, write_index, write_json};
use blockscale::Error;
use blockscale::format::{AnyFormat, BlockFormat, BlockShape, FormatId, MxFp4, Nvfp4};
use blockscale::io::layouts;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// A layout family `convert --layout` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LayoutArg {
    /// The loaders' layout for the format: Model-Optimizer for 1x16 NVFP4,
    /// gpt-oss for 1x32 MXFP4, blockscale's own for the rest
    Auto,
    /// Model-Optimizer NVFP4 (vLLM, TensorRT-LLM)
    Modelopt,
    /// gpt-oss MXFP4 (transformers)
    GptOss,
    /// DeepSeek FP8, 128x128 blocks (DeepSeek-V3, transformers, vLLM)
    Deepseek,
    /// compressed-tensors (llm-compressor, vLLM): 1x16 NVFP4, 1x32 MXFP4,
    /// FP8 in 128x128 blocks
    CompressedTensors,
    /// GGUF (llama.cpp, candle, mistral.rs): ggml's 1x32 MXFP4 and 1x16
    /// NVFP4 blocks, the checkpoint's tensor names, one .gguf per shard
    Gguf,
    /// blockscale's own layout, any format
    Blockscale,
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
            Target::Compressed(_, layouts::Compressed::Fp8Block) => None,
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

    /// The target of `--to` and `--layout`: NVFP4 without a profile takes
    /// Model-Optimizer's numbers (its layout's producer).
    pub(crate) fn parse(to: &str, layout: LayoutArg) -> Result<Target, Error> {
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
                "--layout {}: holds {what}, not {format}",
                clap::ValueEnum::to_possible_value(&layout)
                    .map_or("?".into(), |v| v.get_name().to_string())
            )))
        };
        match (layout, format) {
            (LayoutArg::Auto | LayoutArg::Modelopt, AnyFormat::Nvfp4(f)) if one_d(f.block()) => {
                Ok(Target::ModelOpt(f))
            }
            (LayoutArg::Auto | LayoutArg::GptOss, AnyFormat::MxFp4(f)) if one_d(f.block()) => {
                Ok(Target::GptOss(f))
            }
            (LayoutArg::Deepseek, f) if deepseek => Ok(Target::DeepSeek(f)),
            (LayoutArg::Gguf, f @ (AnyFormat::Nvfp4(_) | AnyFormat::MxFp4(_)))
                if one_d(f.block()) =>
            {
                Ok(Target::Gguf(f))
            }
            (LayoutArg::CompressedTensors, f) => match layouts::Compressed::of(&f.id()) {
                Some(kind) => Ok(Target::Compressed(f, kind)),
                None => refuse("1x16 NVFP4, 1x32 MXFP4 or E4M3 in 128x128 blocks (fp8-block,2d)"),
            },
            (LayoutArg::Auto | LayoutArg::Blockscale, f) => Ok(Target::Own(f)),
            (LayoutArg::Modelopt, _) => refuse("1x16 NVFP4"),
            (LayoutArg::GptOss, _) => refuse("1x32 MXFP4"),
            (LayoutArg::Gguf, _) => refuse("1x32 MXFP4 or 1x16 NVFP4"),
            (LayoutArg::Deepseek, _) => {
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
    dir: &Path,
    a: &ConvertArgs,
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
                &a.output.join("hf_quant_config.json"),
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
            let weights = match kind {
                layouts::Compressed::Nvfp4Packed => {
                    json!({"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16, "symmetric": true, "dynamic": false})
                }
                layouts::Compressed::Mxfp4Packed => {
                    json!({"num_bits": 4, "type": "float", "strategy": "group", "group_size": 32, "symmetric": true, "dynamic": false})
                }
                _ => {
                    json!({"num_bits": 8, "type": "float", "strategy": "block", "block_structure": [128, 128], "symmetric": true, "dynamic": false})
                }
            };
            // FP8 blocks come with dynamic per-token-group activations
            // (llm-compressor's FP8_BLOCK scheme); FP4 here is weight-only.
            let inputs = match kind {
                layouts::Compressed::Fp8Block => {
                    json!({"num_bits": 8, "type": "float", "strategy": "group", "group_size": 128, "symmetric": true, "dynamic": true})
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
                write_json(&a.output.join("config.json"), &c)?;
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
        write_json(&a.output.join("config.json"), &c)?;
    }
    if !a.model.is_file() || dir.join("model.safetensors.index.json").exists() {
        write_index(&a.output, weight_map, total)?;
    }
    Ok(())
}
