//! Whole checkpoints: `convert` (BF16/F16/F32 → NVFP4, MXFP4 or any format) and
//! the directory form of `dequantize` (quantized → BF16).
//!
//! A checkpoint is one `.safetensors` file, or a directory with
//! `model.safetensors.index.json` (sharded) or `*.safetensors` files, and
//! usually `config.json`. Shards are processed one at a time, tensors of a
//! shard in parallel, so memory stays at about one shard whatever the
//! model's size. Each output file is written atomically.

use crate::{dequantize_file, finite_values, is_float};
use blockscale::Error;
use blockscale::format::{AnyFormat, BlockFormat, BlockShape, FormatId, MxFp4, Nvfp4};
use blockscale::io::{DType, layouts, st};
use blockscale::tensor::{AnyQuantized, QuantizeOptions, QuantizedTensor};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Where a converted checkpoint's weights go: the layout real loaders
/// read for the format, or this crate's own for the rest.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// 1×16 NVFP4 in Model-Optimizer's layout, with hf_quant_config.json.
    ModelOpt(Nvfp4),
    /// 1×32 MXFP4 in gpt-oss's layout (`_blocks`, `_scales`).
    GptOss(MxFp4),
    /// Any other format, in blockscale's own layout.
    Own(AnyFormat),
}

impl Target {
    /// The target of `--to`: NVFP4 without a profile takes
    /// Model-Optimizer's numbers (its layout's producer).
    fn parse(to: &str) -> Result<Target, Error> {
        let mut id: FormatId = to.parse()?;
        if id.family() == "nvfp4" && id.option("profile").is_none() {
            id = id.with("profile", "modelopt");
        }
        let one_d = |b: BlockShape| matches!(b, BlockShape::Tile { rows: 1, .. });
        Ok(match AnyFormat::from_id(&id)? {
            AnyFormat::Nvfp4(f) if one_d(f.block()) => Target::ModelOpt(f),
            AnyFormat::MxFp4(f) if one_d(f.block()) => Target::GptOss(f),
            f => Target::Own(f),
        })
    }
}

#[derive(clap::Args)]
pub struct ConvertArgs {
    /// A .safetensors file or a checkpoint directory
    model: PathBuf,
    /// Target format: nvfp4 (Model-Optimizer layout and numbers), mxfp4
    /// (gpt-oss layout), or any other format of `quantize --format`
    /// (blockscale's own layout)
    #[arg(long = "to")]
    to: String,
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

/// Tensors that stay in high precision whatever the options: embeddings,
/// norms, the output head, and anything that is not a 2-D+ weight.
fn always_kept(name: &str, shape: &[usize]) -> bool {
    let lower = name.to_ascii_lowercase();
    shape.len() < 2
        || !(lower.ends_with("weight") || lower.ends_with("_proj"))
        || [
            "embed",
            "norm",
            "lm_head",
            "wte",
            "wpe",
            "ln_",
            "router",
            "gate.weight",
        ]
        .iter()
        .any(|k| lower.contains(k))
}

/// The shards of a checkpoint, and its index's weight map if sharded.
fn shards(model: &Path) -> Result<(PathBuf, Vec<String>), Error> {
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

fn create_dir(out: &Path) -> Result<(), Error> {
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

/// One input tensor's output tensors, its metadata entry, and whether it is
/// a linear weight left unquantized.
type Converted = (Vec<(String, st::Entry)>, Option<(String, String)>, bool);

pub fn convert(a: ConvertArgs) -> Result<(), Error> {
    let to = Target::parse(&a.to)?;
    let (dir, files) = shards(&a.model)?;
    create_dir(&a.output)?;
    // The last layers to keep, from every shard's names.
    let mut all_names = Vec::new();
    let mut total = 0u64;
    for f in &files {
        let sf = st::SafeFile::open(dir.join(f))?;
        for n in sf.names() {
            total += sf.nbytes(&n)? as u64;
            all_names.push(n);
        }
    }
    let max_layer = all_names.iter().filter_map(|n| layer_index(n)).max();
    let kept_layer = |name: &str| match (layer_index(name), max_layer) {
        (Some(i), Some(m)) => a.keep_last_layers > 0 && i + a.keep_last_layers > m,
        _ => false,
    };
    let pb = progress(total);
    let started = std::time::Instant::now();
    let finished = std::sync::atomic::AtomicUsize::new(0);
    let mut done = 0usize;
    let mut weight_map = BTreeMap::new();
    let mut excluded_modules = std::collections::BTreeSet::new();
    let mut total_out = 0u64;
    for file in &files {
        let path = dir.join(file);
        let sf = st::SafeFile::open(&path)?;
        let names = sf.names();
        let results: Vec<Result<Converted, Error>> = names
            .par_iter()
            .map(|n| {
                let raw = sf.raw(n)?;
                let quantize = is_float_st(&raw.dtype)
                    && !always_kept(n, &raw.shape)
                    && !a.exclude.iter().any(|g| glob(g, n))
                    && !kept_layer(n);
                let out = if quantize {
                    let (t, meta) = quantize_tensor(&path, &sf, n, to)?;
                    (t, meta, false)
                } else {
                    (vec![(n.clone(), raw.into())], None, raw_is_linear(n, &sf))
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
            for (tn, e) in tensors {
                total_out += match &e {
                    st::Entry::Tensor(t) => t.data.len(),
                    st::Entry::Raw(r) => r.data.len(),
                } as u64;
                weight_map.insert(tn.clone(), file.clone());
                out.push((tn, e));
            }
            if let Some((k, v)) = m {
                meta.insert(k, v);
            }
            done += 1;
        }
        let mut meta = if meta.is_empty() {
            HashMap::new()
        } else {
            meta
        };
        meta.insert("format".into(), "pt".into());
        st::write_entries(a.output.join(file), &out, Some(meta))?;
    }
    pb.finish_with_message(format!("{done} tensors"));
    write_configs(&dir, &a, to, &weight_map, total_out, &excluded_modules)?;
    out!(
        "converted {done} tensors in {:.1} s to {}",
        started.elapsed().as_secs_f64(),
        a.output.display()
    );
    Ok(())
}

fn is_float_st(d: &safetensors::Dtype) -> bool {
    matches!(
        d,
        safetensors::Dtype::BF16 | safetensors::Dtype::F16 | safetensors::Dtype::F32
    )
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

#[allow(clippy::type_complexity)]
fn quantize_tensor(
    path: &Path,
    sf: &st::SafeFile,
    name: &str,
    to: Target,
) -> Result<(Vec<(String, st::Entry)>, Option<(String, String)>), Error> {
    let t = sf.tensor(name)?;
    let x = finite_values(path, name, &t)?;
    let (rows, cols) = t.matrix_shape();
    let o = QuantizeOptions::default();
    let ctx = |e: Error| e.in_file(path, Some(name));
    let entries = |v: Vec<(String, blockscale::io::Tensor)>| {
        v.into_iter()
            .map(|(n, t)| (n, st::Entry::Tensor(t)))
            .collect()
    };
    Ok(match to {
        Target::ModelOpt(f) => {
            let q = QuantizedTensor::quantize(f, &x, rows, cols, &o).map_err(ctx)?;
            (
                entries(layouts::modelopt_nvfp4(name, &q).map_err(ctx)?),
                None,
            )
        }
        Target::GptOss(f) => {
            let q = QuantizedTensor::quantize(f, &x, rows, cols, &o).map_err(ctx)?;
            let mut v = layouts::gptoss_mxfp4(name, &q).map_err(ctx)?;
            // Keep the leading dimensions of 3-D (expert) weights.
            if t.shape.len() > 2 {
                let mut b = t.shape.clone();
                let last = b.pop().unwrap_or(0);
                b.extend([last / 32, 16]);
                v[0].1.shape = b.clone();
                v[1].1.shape = b[..b.len() - 1].to_vec();
            }
            (entries(v), None)
        }
        Target::Own(f) => {
            let q = AnyQuantized::quantize(&f, &x, rows, cols, &o).map_err(ctx)?;
            let (v, meta) = layouts::own(name, &q).map_err(ctx)?;
            (entries(v), Some(meta))
        }
    })
}

fn read_json(path: &Path) -> Result<Option<Value>, Error> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::file(path, None, format!("cannot read: {e}")))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::file(path, None, format!("malformed JSON: {e}")))
}

fn write_json(path: &Path, v: &Value) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(v).expect("JSON serializes");
    blockscale::io::write_bytes(path, text.as_bytes())
}

fn write_index(out: &Path, weight_map: &BTreeMap<String, String>, total: u64) -> Result<(), Error> {
    write_json(
        &out.join("model.safetensors.index.json"),
        &json!({"metadata": {"total_size": total}, "weight_map": weight_map}),
    )
}

fn write_configs(
    dir: &Path,
    a: &ConvertArgs,
    to: Target,
    weight_map: &BTreeMap<String, String>,
    total: u64,
    excluded: &std::collections::BTreeSet<String>,
) -> Result<(), Error> {
    let excluded: Vec<&String> = excluded.iter().collect();
    let mut config = read_json(&dir.join("config.json"))?;
    match to {
        Target::ModelOpt(_) => {
            // Model-Optimizer's export: hf_quant_config.json, and the same
            // facts as `quantization_config` in config.json.
            let q = json!({"quant_algo": "NVFP4", "group_size": 16, "exclude_modules": excluded});
            write_json(
                &a.output.join("hf_quant_config.json"),
                &json!({"producer": {"name": "blockscale", "version": env!("CARGO_PKG_VERSION")}, "quantization": q}),
            )?;
            if let Some(c) = config.as_mut().and_then(Value::as_object_mut) {
                c.insert(
                    "quantization_config".into(),
                    json!({"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": 16, "exclude_modules": excluded}),
                );
            }
        }
        Target::GptOss(_) => {
            if let Some(c) = config.as_mut().and_then(Value::as_object_mut) {
                c.insert(
                    "quantization_config".into(),
                    json!({"quant_method": "mxfp4", "modules_to_not_convert": excluded}),
                );
            }
        }
        Target::Own(f) => {
            if let Some(c) = config.as_mut().and_then(Value::as_object_mut) {
                c.insert(
                    "quantization_config".into(),
                    json!({"quant_method": "blockscale", "format": f.to_string(), "modules_to_not_convert": excluded}),
                );
            }
        }
    }
    if let Some(c) = config {
        write_json(&a.output.join("config.json"), &c)?;
    }
    if !a.model.is_file() || dir.join("model.safetensors.index.json").exists() {
        write_index(&a.output, weight_map, total)?;
    }
    Ok(())
}

/// `dequantize DIR -o OUT`: every shard upcast, the quantization config
/// dropped from `config.json`, the index rewritten.
pub fn dequantize_dir(input: &Path, out: &Path, dtype: DType) -> Result<(), Error> {
    let (dir, files) = shards(input)?;
    create_dir(out)?;
    let mut weight_map = BTreeMap::new();
    let mut total = 0u64;
    for file in &files {
        let tensors = dequantize_file(&dir.join(file), dtype)?;
        for (n, e) in &tensors {
            total += match e {
                st::Entry::Tensor(t) => t.data.len(),
                st::Entry::Raw(r) => r.data.len(),
            } as u64;
            weight_map.insert(n.clone(), file.clone());
        }
        st::write_entries(out.join(file), &tensors, None)?;
    }
    if let Some(mut c) = read_json(&dir.join("config.json"))? {
        if let Some(o) = c.as_object_mut() {
            o.remove("quantization_config");
        }
        write_json(&out.join("config.json"), &c)?;
    }
    write_index(out, &weight_map, total)?;
    debug_assert!(is_float(dtype));
    Ok(())
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
        assert!(always_kept("model.embed_tokens.weight", &[10, 10]));
        assert!(always_kept("model.layers.0.input_layernorm.weight", &[10]));
        assert!(!always_kept("model.layers.0.mlp.up_proj.weight", &[10, 32]));
    }
}
