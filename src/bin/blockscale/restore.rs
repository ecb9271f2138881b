//! The directory form of `dequantize`: a quantized checkpoint (any layout
//! `io::detect` reads, or `convert --layout gguf`'s parts) back to BF16.

use crate::checkpoint::{create_dir, read_json, shards, write_index, write_json};
use crate::{dequantize_file, is_float};
use blockscale::Error;
use blockscale::io::{DType, detect, st};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The .gguf files of a directory that has no safetensors (a `convert
/// --layout gguf` output), sorted, or `None`.
fn gguf_parts(dir: &Path) -> Result<Option<Vec<String>>, Error> {
    let names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::file(dir, None, format!("cannot read directory: {e}")))?
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

/// `dequantize DIR -o OUT`: every shard upcast, the quantization config
/// dropped from `config.json`, the index rewritten.
pub fn dequantize_dir(input: &Path, out: &Path, dtype: DType) -> Result<(), Error> {
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
    debug_assert!(is_float(dtype));
    Ok(())
}
