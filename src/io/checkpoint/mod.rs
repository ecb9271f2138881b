//! Whole checkpoints: [`convert`] a BF16/F16/F32 checkpoint to any format,
//! in a loader's layout or this crate's own; [`dequantize`] a quantized one
//! back; [`inspect`](fn@inspect) a tensor file. The command line's `convert`,
//! `dequantize` and `inspect` and the Python package's functions of the
//! same names call these.
//!
//! A checkpoint is one `.safetensors` file, or a directory with
//! `model.safetensors.index.json` (sharded) or `*.safetensors` files, and
//! usually `config.json`. Shards are processed one at a time, tensors of a
//! shard in parallel, so memory stays at about one shard whatever the
//! model's size. Every input is checked before anything is written, and
//! each output file is written atomically.

mod amax;
mod gguf;
mod inspect;
mod plan;
mod quantize;
mod restore;
mod target;

pub use inspect::{FileKind, Inspection, ScaleStats, TensorSummary, ValueStats, inspect};
pub use restore::dequantize;
pub use target::Layout;

use self::gguf::Piece;
use self::plan::{global_amaxes, plan_checkpoint};
use self::quantize::quantize_tensor;
use self::target::{Target, write_configs};
use crate::Error;
use crate::io::model::Family;
use crate::io::{DType, layouts, st};
use crate::par::*;
use crate::tensor::AnyQuantized;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// What [`convert`] writes, besides where.
///
/// ```
/// use blockscale::io::checkpoint::{ConvertOptions, Layout};
/// let mut o = ConvertOptions::new("mxfp8");
/// o.layout = Layout::CompressedTensors;
/// o.exclude.push("*.self_attn.*".into());
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ConvertOptions {
    /// The target format, as [`FormatId`](crate::format::FormatId) names it
    /// (`nvfp4`, `mxfp4`, `fp8-block,2d`, …), or `fp8-channel` (E4M3, one
    /// factor per output channel; compressed-tensors only). NVFP4 without a
    /// profile takes Model-Optimizer's numbers.
    pub to: String,
    /// The layout family of the output.
    pub layout: Layout,
    /// Tensors whose name matches one of these globs (`*` any run, `?` any
    /// one character) stay unchanged.
    pub exclude: Vec<String>,
    /// The last this many transformer layers stay unchanged.
    pub keep_last_layers: usize,
    /// Activation amaxes from any calibration tool: a JSON object
    /// `{"module": amax}` (module = the weight's name without `.weight`),
    /// or a safetensors file of one-value tensors named `module` or
    /// `module.input_quantizer._amax` (Model-Optimizer's). Each NVFP4
    /// linear gets its `input_scale` (amax/2688; fused layers share the
    /// largest) and the configuration says W4A4 (`NVFP4`);
    /// Model-Optimizer layout only.
    pub activation_amax: Option<PathBuf>,
}

impl ConvertOptions {
    /// Options that convert every linear weight to `to` in its loaders'
    /// layout ([`Layout::Auto`]), excluding nothing.
    ///
    /// ```
    /// use blockscale::io::checkpoint::{ConvertOptions, Layout};
    /// let o = ConvertOptions::new("nvfp4");
    /// assert_eq!((o.to.as_str(), o.layout, o.keep_last_layers), ("nvfp4", Layout::Auto, 0));
    /// ```
    pub fn new(to: impl Into<String>) -> ConvertOptions {
        ConvertOptions {
            to: to.into(),
            layout: Layout::Auto,
            exclude: Vec::new(),
            keep_last_layers: 0,
            activation_amax: None,
        }
    }
}

/// How far a [`convert_with_progress`] has got.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// Every input is checked and the plan made; nothing is written yet.
    Planned {
        /// Tensors in the checkpoint.
        tensors: usize,
        /// Their bytes.
        bytes: u64,
        /// Tensors quantized by their names alone, because the
        /// architecture (`config.json`'s `model_type`) is not in the model
        /// table.
        guessed: &'a [String],
        /// `config.json`'s `model_type`, if any.
        model_type: Option<&'a str>,
    },
    /// One more tensor converted (called from worker threads).
    Tensor {
        /// Tensors converted so far.
        done: usize,
        /// Input bytes converted so far.
        bytes: u64,
    },
}

/// What [`convert`] did.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ConvertReport {
    /// Tensors read.
    pub tensors: usize,
    /// Of them, quantized.
    pub quantized: usize,
    /// Tensors quantized by their names alone (see [`Progress::Planned`]).
    pub guessed: Vec<String>,
    /// Bytes of tensor data written.
    pub output_bytes: u64,
}

/// Converts the BF16/F16/F32 checkpoint `model` (one `.safetensors` file
/// or a checkpoint directory) into directory `output` (created if
/// missing): every linear weight the model table knows (or, for an unknown
/// architecture, each 2-D `.weight` that is not an embedding or a norm)
/// quantized to `opts.to` in `opts.layout`, the other tensors unchanged,
/// `config.json` with the layout's `quantization_config`, and the shard
/// index. The layouts and configurations are those of the contract's
/// [§6](crate::contract).
///
/// Errors, before anything is written: a weight that is not whole blocks
/// of the layout's format, fused layers that differ in input size, a
/// non-finite value, expert stacks in a layout without them, a format the
/// layout does not hold. Each names the file and the tensor.
///
/// ```
/// use blockscale::io::checkpoint::{ConvertOptions, convert};
/// use blockscale::io::{DType, Tensor, st};
/// let dir = std::env::temp_dir().join(format!("bs-conv-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let w: Vec<f32> = (0..32 * 64).map(|i| (i as f32 * 0.37).sin()).collect();
/// let t = Tensor::from_f32(DType::BF16, vec![32, 64], &w)?;
/// st::write(dir.join("in.safetensors"), &[("model.layers.0.mlp.up_proj.weight".into(), t)], None)?;
/// let r = convert(dir.join("in.safetensors"), dir.join("out"), &ConvertOptions::new("nvfp4"))?;
/// assert_eq!((r.tensors, r.quantized), (1, 1));
/// // Model-Optimizer's layout: packed FP4, E4M3 block scales, the global scale.
/// let out = st::SafeFile::open(dir.join("out/in.safetensors"))?;
/// let p = "model.layers.0.mlp.up_proj";
/// assert_eq!(out.info(&format!("{p}.weight"))?, ("U8".into(), vec![32, 32]));
/// assert_eq!(out.info(&format!("{p}.weight_scale"))?, ("F8_E4M3".into(), vec![32, 4]));
/// assert_eq!(out.info(&format!("{p}.weight_scale_2"))?.1, Vec::<usize>::new());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn convert(
    model: impl AsRef<Path>,
    output: impl AsRef<Path>,
    opts: &ConvertOptions,
) -> Result<ConvertReport, Error> {
    convert_with_progress(model, output, opts, &|_| {})
}

/// `*` matches any run of characters, `?` any one character. (A dozen
/// lines instead of a glob crate: tensor names are not paths.)
pub(crate) fn glob(pattern: &str, name: &str) -> bool {
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
pub(crate) fn layer_index(name: &str) -> Option<usize> {
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
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        return Ok((dir, vec![name]));
    }
    let index = model.join("model.safetensors.index.json");
    if index.exists() {
        let text = std::fs::read_to_string(&index).map_err(|e| Error::io(&index, "read", e))?;
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
        .map_err(|e| Error::io(model, "read directory", e))?
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
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, "create output directory", e))?;
    // Fail now, not after an hour of work, if it is not writable.
    crate::io::write_bytes(out.join(".blockscale-write-test"), b"")?;
    let _ = std::fs::remove_file(out.join(".blockscale-write-test"));
    Ok(())
}

/// One input tensor's output tensors and metadata entries, and whether it
/// is a linear weight left unquantized.
type Converted = (Vec<Piece>, Vec<(String, String)>, bool);

/// A quantized tensor's output tensors and metadata entries.
type Quantized = (Vec<Piece>, Vec<(String, String)>);

/// [`convert`], calling `progress` once the plan is made and after each
/// tensor (from worker threads), as the command line's progress bar wants.
///
/// ```
/// use blockscale::io::checkpoint::{ConvertOptions, Progress, convert_with_progress};
/// use blockscale::io::{DType, Tensor, st};
/// use std::sync::Mutex;
/// let dir = std::env::temp_dir().join(format!("bs-prog-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let w = Tensor::from_f32(DType::F32, vec![4, 32], &[0.5; 128])?;
/// let b = Tensor::from_f32(DType::F32, vec![4], &[0.0; 4])?;
/// let tensors = [("fc.weight".to_string(), w), ("fc.bias".to_string(), b)];
/// st::write(dir.join("m.safetensors"), &tensors, None)?;
/// let seen = Mutex::new(Vec::new());
/// let o = ConvertOptions::new("mxfp8");
/// let r = convert_with_progress(dir.join("m.safetensors"), dir.join("out"), &o, &|p| {
///     seen.lock().unwrap().push(match p {
///         Progress::Planned { tensors, bytes, .. } => (tensors, bytes),
///         Progress::Tensor { done, bytes } => (done, bytes),
///         _ => unreachable!(),
///     })
/// })?;
/// let mut seen = seen.into_inner().unwrap();
/// seen[1..].sort();
/// // The plan (2 tensors, 528 bytes), then one call per tensor.
/// assert_eq!(seen[0], (2, 528));
/// assert_eq!(seen.last(), Some(&(2, 528)));
/// assert_eq!((r.tensors, r.quantized), (2, 1));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn convert_with_progress(
    model: impl AsRef<Path>,
    output: impl AsRef<Path>,
    a: &ConvertOptions,
    progress: &(dyn Fn(Progress<'_>) + Sync),
) -> Result<ConvertReport, Error> {
    let (model, out) = (model.as_ref(), output.as_ref());
    let to = Target::parse(&a.to, a.layout)?;
    let (dir, files) = shards(model)?;
    let config = read_json(&dir.join("config.json"))?;
    let family = Family::from_config(config.as_ref());
    let (planned, all_names, total) = plan_checkpoint(&dir, &files, family, a, to)?;
    let inputs = match &a.activation_amax {
        Some(file) => amax::input_amaxes(file, &planned, to)?,
        None => HashMap::new(),
    };
    let model_type = config.as_ref().and_then(|c| c["model_type"].as_str());
    let gguf_total = match to {
        Target::Gguf(f) => Some(gguf::check(&dir, &files, &planned, f.has_global_scale())?),
        _ => None,
    };
    let gguf_meta = gguf::metadata(model_type, &to.format_name());
    progress(Progress::Planned {
        tensors: all_names.len(),
        bytes: total,
        guessed: &planned.guessed,
        model_type,
    });
    create_dir(out)?;
    let amaxes = if to.has_global_scale() {
        global_amaxes(&dir, &files, &planned)?
    } else {
        HashMap::new()
    };
    let finished = AtomicUsize::new(0);
    let bytes_done = AtomicU64::new(0);
    let mut done = 0usize;
    let mut weight_map = BTreeMap::new();
    let mut excluded_modules = BTreeSet::new();
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
                            let s =
                                crate::io::Tensor::from_f32(DType::F32, vec![], &[amax / 2688.0])?;
                            t.push(Piece::St(format!("{m}.input_scale"), s.into()));
                        }
                        (t, meta, false)
                    }
                    None => {
                        let raw = sf.raw(n)?;
                        let piece = match to {
                            Target::Gguf(_) => Piece::Gguf(
                                crate::io::gguf::gguf_tensor_raw(n, &raw)
                                    .map_err(|e| e.in_file(&path, Some(n)))?,
                            ),
                            _ => Piece::St(n.clone(), raw.into()),
                        };
                        (vec![piece], Vec::new(), raw_is_linear(n, &sf))
                    }
                };
                let bytes = sf.nbytes(n)? as u64;
                progress(Progress::Tensor {
                    done: finished.fetch_add(1, Ordering::Relaxed) + 1,
                    bytes: bytes_done.fetch_add(bytes, Ordering::Relaxed) + bytes,
                });
                Ok(out)
            })
            .collect();
        let mut pieces = Vec::new();
        let mut meta = HashMap::new();
        for (n, r) in names.iter().zip(results) {
            let (tensors, m, excluded_linear) = r?;
            if excluded_linear {
                excluded_modules.insert(n.strip_suffix(".weight").unwrap_or(n).to_string());
            }
            for p in tensors {
                total_out += p.nbytes() as u64;
                weight_map.insert(p.name().to_string(), file.clone());
                pieces.push(p);
            }
            meta.extend(m);
            done += 1;
        }
        if let Some(total) = gguf_total {
            gguf::write_shard(out, (i, files.len()), total, &gguf_meta, &planned, pieces)?;
            continue;
        }
        let entries: Vec<(String, st::Entry)> = pieces
            .into_iter()
            .filter_map(|p| match p {
                Piece::St(n, e) => Some((n, e)),
                Piece::Gguf(_) => None,
            })
            .collect();
        meta.insert("format".into(), "pt".into());
        st::write_entries(out.join(file), &entries, Some(meta))?;
    }
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
    write_configs(
        (&dir, model, out),
        a,
        to,
        config,
        &weight_map,
        total_out,
        &excluded,
    )?;
    Ok(ConvertReport {
        tensors: done,
        quantized: planned.plan.len(),
        guessed: planned.guessed,
        output_bytes: total_out,
    })
}

/// The tensors `layout` stores for one quantized weight named `name`, and
/// the safetensors metadata entries it needs (blockscale's own layout has
/// one): what [`convert`] writes for a 2-D weight, for a tensor quantized
/// elsewhere. [`Layout::Auto`] picks as `convert` does; GGUF is refused
/// (its tensors are ggml's, not safetensors').
///
/// ```
/// use blockscale::io::checkpoint::{Layout, layout_tensors};
/// use blockscale::tensor::{AnyQuantized, QuantizeOptions};
/// let x: Vec<f32> = (0..4 * 64).map(|i| (i as f32 * 0.37).sin()).collect();
/// let q = AnyQuantized::quantize(&"nvfp4".parse()?, &x, 4, 64, &QuantizeOptions::default())?;
/// let (t, meta) = layout_tensors("proj.weight", &q, Layout::Auto)?;
/// let names: Vec<&str> = t.iter().map(|(n, _)| n.as_str()).collect();
/// assert_eq!(names, ["proj.weight", "proj.weight_scale", "proj.weight_scale_2"]);
/// assert!(meta.is_empty());
/// assert!(layout_tensors("proj.weight", &q, Layout::GptOss).is_err());
/// # Ok::<(), blockscale::Error>(())
/// ```
#[allow(clippy::type_complexity)]
pub fn layout_tensors(
    name: &str,
    q: &AnyQuantized,
    layout: Layout,
) -> Result<(Vec<(String, crate::io::Tensor)>, Vec<(String, String)>), Error> {
    let view = q.view();
    let to = Target::parse(&view.format_id().to_string(), layout)?;
    match (to, q) {
        (Target::ModelOpt(_), AnyQuantized::Nvfp4(t)) => {
            Ok((layouts::modelopt_nvfp4(name, t)?, Vec::new()))
        }
        (Target::GptOss(_), AnyQuantized::MxFp4(t)) => {
            Ok((layouts::gptoss_mxfp4(name, t)?, Vec::new()))
        }
        (Target::Compressed(..), _) => Ok((layouts::compressed(name, view)?, Vec::new())),
        (Target::DeepSeek(_), _) => Ok((layouts::deepseek_fp8(name, view)?, Vec::new())),
        (Target::Own(_), _) => {
            let (t, meta) = layouts::own(name, view)?;
            Ok((t, vec![meta]))
        }
        _ => Err(Error::InvalidArgument(format!(
            "layout {layout}: {} is written by convert only",
            view.format_id()
        ))),
    }
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

pub(crate) fn read_json(path: &Path) -> Result<Option<Value>, Error> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "read", e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::file(path, None, format!("malformed JSON: {e}")))
}

pub(crate) fn write_json(path: &Path, v: &Value) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(v).expect("JSON serializes");
    crate::io::write_bytes(path, text.as_bytes())
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
        let kept =
            |n: &str, s: &[usize]| Family::Unknown.plan(n, s).role == crate::io::model::Role::Keep;
        assert!(kept("model.embed_tokens.weight", &[10, 10]));
        assert!(kept("model.layers.0.input_layernorm.weight", &[10]));
        assert!(!kept("model.layers.0.mlp.up_proj.weight", &[10, 32]));
    }
}
