//! [`Layout::Gguf`](super::Layout::Gguf): one GGUF file per input shard,
//! named as llama.cpp's `gguf-split` names the parts of a split model.

use super::plan::Planned;
use crate::Error;
use crate::io::gguf::{self, GgufFile, GgufTensor, Value, ValueType};
use crate::io::model::Role;
use crate::io::st;
use std::path::{Path, PathBuf};

/// An output tensor of `convert`: for a safetensors layout, or for GGUF.
pub(crate) enum Piece {
    St(String, st::Entry),
    Gguf(GgufTensor),
}

impl Piece {
    pub(crate) fn name(&self) -> &str {
        match self {
            Piece::St(n, _) => n,
            Piece::Gguf(t) => &t.name,
        }
    }

    pub(crate) fn nbytes(&self) -> usize {
        match self {
            Piece::St(_, st::Entry::Tensor(t)) => t.data.len(),
            Piece::St(_, st::Entry::Raw(r)) => r.data.len(),
            Piece::Gguf(t) => t.data.len(),
        }
    }
}

/// The output file of shard `i` of `n`: `model.gguf` alone, else
/// `model-00001-of-00003.gguf` (`llama_split_path`'s `%s-%05d-of-%05d.gguf`,
/// which llama.cpp follows from the first part to the rest).
pub(crate) fn shard_path(out: &Path, i: usize, n: usize) -> PathBuf {
    if n == 1 {
        out.join("model.gguf")
    } else {
        out.join(format!("model-{:05}-of-{n:05}.gguf", i + 1))
    }
}

/// Checks, before anything is written, that every tensor fits GGUF: a
/// plain type GGUF has (quantized ones are ggml's), at most four
/// dimensions, names ggml can hold (NVFP4's `.scale` ones included). Returns
/// the number of tensors the output will have, which the first part of a
/// split model records (`split.tensors.count`).
pub(crate) fn check(
    dir: &Path,
    files: &[String],
    planned: &Planned,
    nvfp4: bool,
) -> Result<usize, Error> {
    let mut count = 0;
    for file in files {
        let path = dir.join(file);
        let sf = st::SafeFile::open(&path)?;
        for n in sf.names() {
            let (dtype, shape) = sf.info(&n)?;
            let quantized = planned.plan.contains_key(&n);
            let mut names = vec![n.clone()];
            if quantized && nvfp4 {
                names.push(gguf::nvfp4_scale_name(&n));
            }
            if let Some(long) = names.iter().find(|m| m.len() >= gguf::MAX_NAME) {
                return Err(Error::file(
                    &path,
                    Some(&n),
                    format!(
                        "GGUF tensor names are shorter than {} bytes; {long:?} is {}",
                        gguf::MAX_NAME,
                        long.len()
                    ),
                ));
            }
            if !quantized && gguf::plain_type(&dtype).is_none() {
                return Err(Error::file(
                    &path,
                    Some(&n),
                    format!("GGUF has no type for {dtype}; exclude it or convert it first"),
                ));
            }
            if shape.is_empty() || shape.len() > gguf::MAX_DIMS {
                return Err(Error::file(
                    &path,
                    Some(&n),
                    format!(
                        "{} dimensions; GGUF tensors have 1 to {}",
                        shape.len(),
                        gguf::MAX_DIMS
                    ),
                ));
            }
            count += names.len();
        }
    }
    Ok(count)
}

/// The metadata of the first (or only) part: the architecture as
/// `config.json`'s `model_type` names it, ggml's quantization version and
/// the format; the parts of a split model also carry `split.*`.
pub(crate) fn metadata(model_type: Option<&str>, format: &str) -> Vec<(String, Value)> {
    vec![
        (
            "general.architecture".into(),
            Value::String(model_type.unwrap_or("unknown").into()),
        ),
        // GGML_QNT_VERSION, as llama.cpp's quantizer writes it.
        ("general.quantization_version".into(), Value::U32(2)),
        ("blockscale.format".into(), Value::String(format.into())),
    ]
}

/// Writes shard `i` of `n` (`tensors` of `total` in all). Metadata goes in
/// the first part only, as `gguf-split` writes it; every part carries
/// `split.no`, `split.count` and `split.tensors.count` when `n > 1`, and
/// [`gguf::TRANSPOSED_KEY`] for its own transposed expert stacks.
pub(crate) fn write_shard(
    out: &Path,
    (i, n): (usize, usize),
    total: usize,
    first: &[(String, Value)],
    planned: &Planned,
    pieces: Vec<Piece>,
) -> Result<(), Error> {
    let path = shard_path(out, i, n);
    let mut metadata = if i == 0 { first.to_vec() } else { Vec::new() };
    if n > 1 {
        let count = |what: &str, v: usize| {
            u16::try_from(v)
                .map_err(|_| Error::file(&path, None, format!("{v} {what}: GGUF allows 65535")))
        };
        metadata.push(("split.no".into(), Value::U16(count("parts", i)?)));
        metadata.push(("split.count".into(), Value::U16(count("parts", n)?)));
        let t = i32::try_from(total)
            .map_err(|_| Error::file(&path, None, format!("{total} tensors overflow i32")))?;
        metadata.push(("split.tensors.count".into(), Value::I32(t)));
    }
    let mut tensors = Vec::with_capacity(pieces.len());
    for p in pieces {
        match p {
            Piece::Gguf(t) => tensors.push(t),
            Piece::St(name, _) => {
                return Err(Error::file(&path, Some(&name), "not a GGUF tensor"));
            }
        }
    }
    let transposed: Vec<Value> = tensors
        .iter()
        .filter(|t| {
            planned
                .plan
                .get(&t.name)
                .is_some_and(|p| p.role == Role::Experts { transposed: true })
        })
        .map(|t| Value::String(t.name.clone()))
        .collect();
    if !transposed.is_empty() {
        metadata.push((
            gguf::TRANSPOSED_KEY.into(),
            Value::Array(ValueType::String, transposed),
        ));
    }
    gguf::write(&path, &GgufFile { metadata, tensors })
}
