//! [`dequantize`]: a quantized file or checkpoint (any layout
//! [`detect`] reads, or a GGUF file or GGUF parts) back
//! to floating point.

use super::{create_dir, read_json, shards, write_index, write_json};
use crate::Error;
use crate::io::{DType, Tensor, detect, npy, st};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// Dequantizes a quantized file or checkpoint, whatever its layout, to
/// `dtype` (f32, f16, bf16 or f64; `None` is bf16, or f32 for a `.npy`
/// output), and passes every other tensor through unchanged.
///
/// - `input` a `.safetensors` or `.gguf` file: `output` is a `.safetensors`
///   file, or a `.npy` file if the input holds exactly one tensor.
/// - `input` a checkpoint directory (sharded, or the parts of a GGUF
///   conversion): `output` is a directory, created if missing, with one
///   safetensors file per shard, the index, and `config.json` without its
///   `quantization_config`.
///
/// Every shard is checked before anything is written: a tensor that looks
/// quantized but is in no layout this crate reads is an error, never
/// passed on as if it were a weight. Each output file is written
/// atomically.
///
/// ```
/// use blockscale::io::checkpoint::{ConvertOptions, convert, dequantize};
/// use blockscale::io::{DType, Tensor, st};
/// let dir = std::env::temp_dir().join(format!("bs-deq-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let w: Vec<f32> = (0..64 * 64).map(|i| (i as f32 * 0.37).sin()).collect();
/// let t = Tensor::from_f32(DType::BF16, vec![64, 64], &w)?;
/// st::write(dir.join("model.safetensors"), &[("layers.0.mlp.up_proj.weight".into(), t)], None)?;
/// convert(dir.join("model.safetensors"), dir.join("nvfp4"), &ConvertOptions::new("nvfp4"))?;
/// dequantize(dir.join("nvfp4"), dir.join("bf16"), None)?;
/// let back = st::SafeFile::open(dir.join("bf16/model.safetensors"))?;
/// assert_eq!(back.info("layers.0.mlp.up_proj.weight")?, ("BF16".into(), vec![64, 64]));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn dequantize(
    input: impl AsRef<Path>,
    output: impl AsRef<Path>,
    dtype: Option<DType>,
) -> Result<(), Error> {
    let (input, output) = (input.as_ref(), output.as_ref());
    if let Some(d) = dtype.filter(|d| !d.is_float()) {
        return Err(Error::InvalidArgument(format!(
            "dequantize to {}: expected f32, f16, bf16 or f64",
            d.name()
        )));
    }
    if input.is_dir() {
        return dequantize_dir(input, output, dtype.unwrap_or(DType::BF16));
    }
    let to_npy = output.extension().is_some_and(|e| e == "npy");
    let dtype = dtype.unwrap_or(if to_npy { DType::F32 } else { DType::BF16 });
    let tensors = dequantize_file(input, dtype)?;
    if to_npy {
        // Every tensor counts: the others would be dropped silently.
        let n = tensors.len();
        match tensors.into_iter().next() {
            Some((_, st::Entry::Tensor(t))) if n == 1 => npy::write(output, &t),
            Some((name, st::Entry::Raw(_))) if n == 1 => Err(Error::file(
                input,
                Some(&name),
                "is not quantized; there is nothing to dequantize",
            )),
            _ => Err(Error::file(
                input,
                None,
                format!("a .npy output holds one tensor; this file has {n} (write .safetensors)"),
            )),
        }
    } else {
        st::write_entries(output, &tensors, None)
    }
}

/// Dequantizes every quantized tensor of one safetensors or GGUF file,
/// whatever its layout, and passes the others through unchanged.
fn dequantize_file(path: &Path, dtype: DType) -> Result<Vec<(String, st::Entry)>, Error> {
    if path.extension().is_some_and(|e| e == "gguf") {
        let file = crate::io::gguf::read(path)?;
        return crate::io::gguf::to_entries(&file, dtype).map_err(|e| e.in_file(path, None));
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
    let mut consumed = HashSet::new();
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

/// The .gguf files of a directory that has no safetensors (a `convert
/// --layout gguf` output), sorted, or `None`.
fn gguf_parts(dir: &Path) -> Result<Option<Vec<String>>, Error> {
    let names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, "read directory", e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if names.iter().any(|n| n.ends_with(".safetensors")) {
        return Ok(None);
    }
    let mut parts: Vec<String> = names.into_iter().filter(|n| n.ends_with(".gguf")).collect();
    parts.sort();
    Ok((!parts.is_empty()).then_some(parts))
}

/// A checkpoint directory: every shard upcast, the quantization config
/// dropped from `config.json`, the index rewritten.
fn dequantize_dir(input: &Path, out: &Path, dtype: DType) -> Result<(), Error> {
    let (dir, files) = match gguf_parts(input)? {
        Some(parts) => (input.to_path_buf(), parts),
        None => shards(input)?,
    };
    // Every shard is checked before anything is written.
    let mut seen: HashMap<String, &str> = HashMap::new();
    for file in files.iter().filter(|f| f.ends_with(".safetensors")) {
        let path = dir.join(file);
        let f = st::SafeFile::open(&path)?;
        for n in f.names() {
            if let Some(other) = seen.insert(n.clone(), file) {
                return Err(Error::file(&path, Some(&n), format!("also in {other}")));
            }
        }
        if let Some(n) = detect::unrecognized(&f)?.first() {
            return Err(Error::file(
                &path,
                Some(n),
                format!(
                    "looks quantized, but is in no layout this tool reads ({})",
                    detect::KNOWN_LAYOUTS
                ),
            ));
        }
    }
    create_dir(out)?;
    let mut weight_map = BTreeMap::new();
    let mut total = 0u64;
    for file in &files {
        let tensors = dequantize_file(&dir.join(file), dtype)?;
        let file = match file.strip_suffix(".gguf") {
            Some(stem) => format!("{stem}.safetensors"),
            None => file.clone(),
        };
        for (n, e) in &tensors {
            total += match e {
                st::Entry::Tensor(t) => t.data.len(),
                st::Entry::Raw(r) => r.data.len(),
            } as u64;
            weight_map.insert(n.clone(), file.clone());
        }
        st::write_entries(out.join(&file), &tensors, None)?;
    }
    if let Some(mut c) = read_json(&dir.join("config.json"))? {
        if let Some(o) = c.as_object_mut() {
            o.remove("quantization_config");
        }
        write_json(&out.join("config.json"), &c)?;
    }
    write_index(out, &weight_map, total)?;
    Ok(())
}
