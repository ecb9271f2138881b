//! Whole checkpoints: `convert` (BF16/F16/F32 → any format, in a loader's
//! layout or blockscale's own); `restore` has the way back.
//!
//! A checkpoint is one `.safetensors` file, or a directory with
//! `model.safetensors.index.json` (sharded) or `*.safetensors` files, and
//! usually `config.json`. Shards are processed one at a time, tensors of a
//! shard in parallel, so memory stays at about one shard whatever the
//! model's size. Each output file is written atomically.

use crate::finite_values;
use crate::gguf::{self, Piece};
use crate::plan::{global_amaxes, plan_checkpoint};
use crate::target::{LayoutArg, Target, write_configs};
use blockscale::Error;
use blockscale::format::{AnyFormat, BlockFormat};
use blockscale::io::detect::TRANSPOSED_KEY;
use blockscale::io::model::{Family, Role};
use blockscale::io::{DType, layouts, st};
use blockscale::tensor::{
    AnyQuantized, Direction, PartialBlocks, QuantizeOptions, QuantizedTensor,
};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct ConvertArgs {
    /// A .safetensors file or a checkpoint directory
    pub(crate) model: PathBuf,
    /// Target format, as `quantize --format` takes it (nvfp4, mxfp4,
    /// fp8-block,2d, ...), or fp8-channel (E4M3, one factor per output
    /// channel; compressed-tensors only); nvfp4 without a profile takes
    /// Model-Optimizer's numbers. `--layout` says how it is stored
    #[arg(long = "to")]
    pub(crate) to: String,
    /// Layout family of the output
    #[arg(long, value_enum, default_value_t = LayoutArg::Auto)]
    pub(crate) layout: LayoutArg,
    /// Output directory (created if missing)
    #[arg(short, long)]
    pub(crate) output: PathBuf,
    /// Keep tensors whose name matches this glob (`*` and `?`) unchanged;
    /// may be repeated
    #[arg(long)]
    pub(crate) exclude: Vec<String>,
    /// Keep the last N transformer layers unchanged
    #[arg(long, default_value_t = 0)]
    pub(crate) keep_last_layers: usize,
    /// Activation amaxes from any calibration tool: a JSON object
    /// {"module": amax} (module = weight name without `.weight`), or a
    /// safetensors file of one-value tensors named `module` or
    /// `module.input_quantizer._amax` (Model-Optimizer's); writes
    /// each NVFP4 linear's `input_scale` (amax/2688; fused layers share the
    /// largest) and the W4A4 method `NVFP4` (Model-Optimizer layout only)
    #[arg(long, value_name = "FILE")]
    pub(crate) activation_amax: Option<PathBuf>,
}

/// `*` matches any run of characters, `?` any one character. (A dozen
/// lines instead of a glob crate: tensor names are not paths.)
pub fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The transformer layer a tensor belongs to: the number after a `layers`,
/// `layer`, `h` or `blocks` path component.
pub fn layer_index(name: &str) -> Option<usize> {
    let parts: Vec<&str> = name.split('.').collect();
    parts.windows(2).find_map(|w| {
        matches!(w[0], "layers" | "layer" | "h" | "blocks")
            .then(|| w[1].parse().ok())
            .flatten()
    })
}

/// The shards of a checkpoint, and its index's weight map if sharded.
pub(crate) fn shards(model: &Path) -> Result<(PathBuf, Vec<String>), Error> {
    if model.is_file() {
        let dir = model.parent().unwrap_or(Path::new(".")).to_path_buf();
        let name = model
            .file_name()
            .expect("a file")
            .to_string_lossy()
            .into_owned();
        return Ok((dir, vec![name]));
    }
    let index = model.join("model.safetensors.index.json");
    if index.exists() {
        let text = std::fs::read_to_string(&index)
            .map_err(|e| Error::file(&index, None, format!("cannot read: {e}")))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| Error::file(&index, None, format!("malformed index: {e}")))?;
        let map = v["weight_map"]
            .as_object()
            .ok_or_else(|| Error::file(&index, None, "index has no weight_map"))?;
        let mut files: Vec<String> = map
            .values()
            .filter_map(|f| f.as_str().map(str::to_owned))
            .collect();
        files.sort();
        files.dedup();
        return Ok((model.to_path_buf(), files));
    }
    let mut files: Vec<String> = std::fs::read_dir(model)
        .map_err(|e| Error::file(model, None, format!("cannot read directory: {e}")))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".safetensors"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::file(model, None, "no .safetensors files"));
    }
    Ok((model.to_path_buf(), files))
}

pub(crate) fn create_dir(out: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(out)
        .map_err(|e| Error::file(out, None, format!("cannot create output directory: {e}")))?;
    // Fail now, not after an hour of work, if it is not writable.
    blockscale::io::write_bytes(out.join(".blockscale-write-test"), b"")?;
    let _ = std::fs::remove_file(out.join(".blockscale-write-test"));
    Ok(())
}

fn progress(total: u64) -> ProgressBar {
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
        )
        .expect("valid template"),
    );
    pb
}

/// One input tensor's output tensors and metadata entries, and whether it
/// is a linear weight left unquantized.
type Converted = (Vec<Piece>, Vec<(String, String)>, bool);

/// A quantized tensor's output tensors and metadata entries.
type Quantized = (Vec<Piece>, Vec<(String, String)>);

pub fn convert(a: ConvertArgs) -> Result<(), Error> {
    let to = Target::parse(&a.to, a.layout)?;
    let (dir, files) = shards(&a.model)?;
    let config = read_json(&dir.join("config.json"))?;
    let family = Family::from_config(config.as_ref());
    let (planned, all_names, total) = plan_checkpoint(&dir, &files, family, &a, to)?;
    if !planned.guessed.is_empty() {
        let shown: Vec<&str> = planned.guessed.iter().take(4).map(String::as_str).collect();
        eprintln!(
            "warning: architecture {:?} is not in the model table; {} tensors are quantized \
             as linear weights by their names alone ({}{})",
            config
                .as_ref()
                .and_then(|c| c["model_type"].as_str())
                .unwrap_or("unknown"),
            planned.guessed.len(),
            shown.join(", "),
            if planned.guessed.len() > shown.len() {
                ", …"
            } else {
                ""
            }
        );
    }
    let inputs = match &a.activation_amax {
        Some(file) => crate::amax::input_amaxes(file, &planned, to)?,
        None => HashMap::new(),
    };
    let gguf_total = match to {
        Target::Gguf(f) => Some(gguf::check(&dir, &files, &planned, f.has_global_scale())?),
        _ => None,
    };
    let gguf_meta = gguf::metadata(
        config.as_ref().and_then(|c| c["model_type"].as_str()),
        &to.format_name(),
    );
    create_dir(&a.output)?;
    let amaxes = if to.has_global_scale() {
        global_amaxes(&dir, &files, &planned)?
    } else {
        HashMap::new()
    };
    let pb = progress(total);
    let started = std::time::Instant::now();
    let finished = std::sync::atomic::AtomicUsize::new(0);
    let mut done = 0usize;
    let mut weight_map = BTreeMap::new();
    let mut excluded_modules = std::collections::BTreeSet::new();
    let mut total_out = 0u64;
    for (i, file) in files.iter().enumerate() {
        let path = dir.join(file);
        let sf = st::SafeFile::open(&path)?;
        let names = sf.names();
        let results: Vec<Result<Converted, Error>> = names
            .par_iter()
            .map(|n| {
                let out = match planned.plan.get(n) {
                    Some(p) => {
                        let (mut t, meta) =
                            quantize_tensor(&path, &sf, n, p.role, to, amaxes.get(n))?;
                        if let Some(&amax) = inputs.get(n) {
                            // Model-Optimizer: input_scale = amax / (6 · 448).
                            let m = n.strip_suffix(".weight").unwrap_or(n);
                            let s = blockscale::io::Tensor::from_f32(
                                DType::F32,
                                vec![],
                                &[amax / 2688.0],
                            )?;
                            t.push(Piece::St(format!("{m}.input_scale"), s.into()));
                        }
                        (t, meta, false)
                    }
                    None => {
                        let raw = sf.raw(n)?;
                        let piece = match to {
                            Target::Gguf(_) => Piece::Gguf(
                                blockscale::io::gguf::gguf_tensor_raw(n, &raw)
                                    .map_err(|e| e.in_file(&path, Some(n)))?,
                            ),
                            _ => Piece::St(n.clone(), raw.into()),
                        };
                        (vec![piece], Vec::new(), raw_is_linear(n, &sf))
                    }
                };
                pb.inc(sf.nbytes(n)? as u64);
                let k = finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                pb.set_message(format!(
                    "{k}/{} tensors, {:.1} tensors/s",
                    all_names.len(),
                    k as f64 / started.elapsed().as_secs_f64().max(1e-9)
                ));
                Ok(out)
            })
            .collect();
        let mut out = Vec::new();
        let mut meta = HashMap::new();
        for (n, r) in names.iter().zip(results) {
            let (tensors, m, excluded_linear) = r?;
            if excluded_linear {
                excluded_modules.insert(n.strip_suffix(".weight").unwrap_or(n).to_string());
            }
            for p in tensors {
                total_out += p.nbytes() as u64;
                weight_map.insert(p.name().to_string(), file.clone());
                out.push(p);
            }
            meta.extend(m);
            done += 1;
        }
        if let Some(total) = gguf_total {
            gguf::write_shard(
                &a.output,
                (i, files.len()),
                total,
                &gguf_meta,
                &planned,
                out,
            )?;
            continue;
        }
        let out: Vec<(String, st::Entry)> = out
            .into_iter()
            .filter_map(|p| match p {
                Piece::St(n, e) => Some((n, e)),
                Piece::Gguf(_) => None,
            })
            .collect();
        meta.insert("format".into(), "pt".into());
        st::write_entries(a.output.join(file), &out, Some(meta))?;
    }
    pb.finish_with_message(format!("{done} tensors"));
    let excluded: Vec<String> = match family {
        // gpt-oss's own list (its config.json), in its order.
        Family::GptOss => [
            "model.layers.*.self_attn",
            "model.layers.*.mlp.router",
            "model.embed_tokens",
            "lm_head",
        ]
        .map(String::from)
        .to_vec(),
        _ => excluded_modules.into_iter().collect(),
    };
    write_configs(&dir, &a, to, config, &weight_map, total_out, &excluded)?;
    out!(
        "converted {done} tensors in {:.1} s to {}",
        started.elapsed().as_secs_f64(),
        a.output.display()
    );
    Ok(())
}

/// A linear layer's weight left unquantized (so it goes into the excluded
/// modules list).
fn raw_is_linear(name: &str, sf: &st::SafeFile) -> bool {
    name.ends_with(".weight")
        && sf.info(name).is_ok_and(|(_, shape)| shape.len() == 2)
        && !["embed", "norm", "wte", "wpe", "ln_"]
            .iter()
            .any(|k| name.to_ascii_lowercase().contains(k))
}

/// Each expert's slice quantized on its own with its options.
fn per_expert<'a, F: BlockFormat>(
    f: F,
    experts: usize,
    slice: impl Fn(usize) -> (&'a [f32], QuantizeOptions),
    (rows, cols): (usize, usize),
) -> Result<Vec<QuantizedTensor<F>>, Error> {
    (0..experts)
        .map(|e| {
            let (x, o) = slice(e);
            QuantizedTensor::quantize(f.clone(), x, rows, cols, &o)
        })
        .collect()
}

/// Quantizes one planned tensor: a linear weight as one matrix, a stack
/// per expert (gpt-oss's `[E, in, out]` stacks columnwise, so that blocks
/// run along the input dimension), each with its global amax if the
/// format has a global scale.
fn quantize_tensor(
    path: &Path,
    sf: &st::SafeFile,
    name: &str,
    role: Role,
    to: Target,
    amax: Option<&Vec<f32>>,
) -> Result<Quantized, Error> {
    let t = sf.tensor(name)?;
    let x = finite_values(path, name, &t)?;
    let ctx = |e: Error| e.in_file(path, Some(name));
    let entries = |v: Vec<(String, blockscale::io::Tensor)>| {
        v.into_iter().map(|(n, t)| Piece::St(n, t.into())).collect()
    };
    let (experts, transposed) = match role {
        Role::Experts { transposed } => (t.shape[0], transposed),
        _ => (1, false),
    };
    let (rows, cols) = match t.shape[..] {
        [_, r, c] if experts > 1 || matches!(role, Role::Experts { .. }) => (r, c),
        _ => t.matrix_shape(),
    };
    let opts = |e: usize| QuantizeOptions {
        direction: if transposed {
            Direction::Columnwise
        } else {
            Direction::Rowwise
        },
        global_amax: amax.map(|m| m[e.min(m.len().saturating_sub(1))]),
        ..Default::default()
    };
    let each = |e: usize| &x[e * rows * cols..(e + 1) * rows * cols];
    let stack = matches!(role, Role::Experts { .. });
    let mark = |m: &mut Vec<(String, String)>| {
        if transposed {
            m.push((format!("{TRANSPOSED_KEY}{name}"), "true".into()));
        }
    };
    Ok(match to {
        Target::ModelOpt(f) => {
            let qs = per_expert(f, experts, |e| (each(e), opts(e)), (rows, cols)).map_err(ctx)?;
            let v = if stack {
                layouts::modelopt_nvfp4_experts(name, &qs)
            } else {
                layouts::modelopt_nvfp4(name, &qs[0])
            };
            let mut m = Vec::new();
            mark(&mut m);
            (entries(v.map_err(ctx)?), m)
        }
        Target::GptOss(f) => {
            let qs = per_expert(f, experts, |e| (each(e), opts(e)), (rows, cols)).map_err(ctx)?;
            let v = if stack {
                layouts::gptoss_mxfp4_experts(name, &qs)
            } else {
                layouts::gptoss_mxfp4(name, &qs[0])
            };
            (entries(v.map_err(ctx)?), Vec::new())
        }
        Target::Gguf(f) => {
            use blockscale::io::gguf as g;
            let sizes = (rows, cols);
            let v = match f {
                AnyFormat::MxFp4(f) => {
                    let qs = per_expert(f, experts, |e| (each(e), opts(e)), sizes).map_err(ctx)?;
                    if stack {
                        g::gguf_tensors_mxfp4_experts(name, &qs)
                    } else {
                        g::gguf_tensors_mxfp4(name, &qs[0])
                    }
                }
                AnyFormat::Nvfp4(f) => {
                    let qs = per_expert(f, experts, |e| (each(e), opts(e)), sizes).map_err(ctx)?;
                    if stack {
                        g::gguf_tensors_nvfp4_experts(name, &qs)
                    } else {
                        g::gguf_tensors_nvfp4(name, &qs[0])
                    }
                }
                f => Err(Error::InvalidArgument(format!("GGUF holds no {f}"))),
            };
            (
                v.map_err(ctx)?.into_iter().map(Piece::Gguf).collect(),
                Vec::new(),
            )
        }
        Target::Compressed(f, kind) => {
            let f = match kind {
                layouts::Compressed::Fp8Channel => crate::target::channelwise(cols).into(),
                _ => f,
            };
            let o = QuantizeOptions {
                partial_blocks: PartialBlocks::ZeroPad,
                global_amax: amax.map(|m| m[0]),
                ..Default::default()
            };
            let q = AnyQuantized::quantize(&f, &x, rows, cols, &o).map_err(ctx)?;
            (
                entries(layouts::compressed(name, &q).map_err(ctx)?),
                Vec::new(),
            )
        }
        Target::DeepSeek(f) => {
            let o = QuantizeOptions {
                partial_blocks: PartialBlocks::ZeroPad,
                ..Default::default()
            };
            let q = AnyQuantized::quantize(&f, &x, rows, cols, &o).map_err(ctx)?;
            (
                entries(layouts::deepseek_fp8(name, &q).map_err(ctx)?),
                Vec::new(),
            )
        }
        Target::Own(f) => {
            // One tensor for the stack: experts as consecutive rows, each
            // stored [out, in] (so blocks run along the input dimension).
            let (data, srows, scols) = if transposed {
                (
                    layouts::transpose_stack(&x, rows, cols),
                    experts * cols,
                    rows,
                )
            } else {
                (x.clone(), experts * rows, cols)
            };
            let o = QuantizeOptions {
                global_amax: amax.map(|m| m.iter().fold(0f32, |a, &b| a.max(b))),
                ..Default::default()
            };
            let q = AnyQuantized::quantize(&f, &data, srows, scols, &o).map_err(ctx)?;
            let (v, meta) = layouts::own(name, &q).map_err(ctx)?;
            let mut m = vec![meta];
            if stack {
                let stored = if transposed {
                    [experts, cols, rows]
                } else {
                    [experts, rows, cols]
                };
                m.push((
                    format!("blockscale-shape:{name}"),
                    serde_json::to_string(&stored).expect("JSON serializes"),
                ));
            }
            mark(&mut m);
            (entries(v), m)
        }
    })
}

pub(crate) fn read_json(path: &Path) -> Result<Option<Value>, Error> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::file(path, None, format!("cannot read: {e}")))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::file(path, None, format!("malformed JSON: {e}")))
}

pub(crate) fn write_json(path: &Path, v: &Value) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(v).expect("JSON serializes");
    blockscale::io::write_bytes(path, text.as_bytes())
}

pub(crate) fn write_index(
    out: &Path,
    weight_map: &BTreeMap<String, String>,
    total: u64,
) -> Result<(), Error> {
    write_json(
        &out.join("model.safetensors.index.json"),
        &json!({"metadata": {"total_size": total}, "weight_map": weight_map}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_layers() {
        assert!(glob("*.mlp.*", "model.layers.3.mlp.down_proj.weight"));
        assert!(glob(
            "model.layers.?.self_attn*",
            "model.layers.7.self_attn.q_proj.weight"
        ));
        assert!(!glob("*.attn.*", "model.layers.3.mlp.down_proj.weight"));
        assert!(glob("*", ""));
        assert_eq!(layer_index("model.layers.12.mlp.up_proj.weight"), Some(12));
        assert_eq!(layer_index("transformer.h.3.attn.c_attn.weight"), Some(3));
        assert_eq!(layer_index("lm_head.weight"), None);
        let kept = |n: &str, s: &[usize]| Family::Unknown.plan(n, s).role == Role::Keep;
        assert!(kept("model.embed_tokens.weight", &[10, 10]));
        assert!(kept("model.layers.0.input_layernorm.weight", &[10]));
        assert!(!kept("model.layers.0.mlp.up_proj.weight", &[10, 32]));
    }
}
