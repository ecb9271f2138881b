//! Which checkpoint layout a safetensors file's tensors are stored in
//! ([`layouts`]), judged by names, dtypes and metadata, and
//! the dequantization of each quantized weight found.
//!
//! ```
//! use blockscale::format::MxFp8E4M3;
//! use blockscale::io::{detect, layouts, st};
//! use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
//!
//! let x: Vec<f32> = (0..64).map(|i| i as f32 / 8.0).collect();
//! let q = QuantizedTensor::quantize(MxFp8E4M3::default(), &x, 2, 32, &QuantizeOptions::default())?;
//! let (tensors, (key, json)) = layouts::own("w", &q)?;
//! let path = std::env::temp_dir().join(format!("bs-detect-{}.safetensors", std::process::id()));
//! st::write(&path, &tensors, Some([(key, json)].into()))?;
//!
//! let file = st::SafeFile::open(&path)?;
//! let found = detect::detect(&file)?;
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].name(), "w");
//! let (values, shape) = found[0].dequantize(&file)?;
//! assert_eq!((values, shape), (q.dequantize(), vec![2, 32]));
//! assert_eq!(detect::describe(&file)?["w.qscales"], "blockscale block scales");
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), blockscale::Error>(())
//! ```

use super::layouts;
use super::st::SafeFile;
use super::{DType, Tensor};
use crate::Error;
use crate::tensor::QuantizedView;
use std::collections::HashMap;

/// A quantized weight found in a file, with the names of its tensors.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stored {
    /// This crate's own layout: `{name}.qdata`, `{name}.qscales` and the
    /// metadata entry `blockscale:{name}` (its JSON is `meta`).
    Own {
        /// The weight's name.
        name: String,
        /// The metadata JSON.
        meta: String,
    },
    /// gpt-oss MXFP4: `{name}_blocks` and `{name}_scales`.
    GptOss {
        /// The weight's name.
        name: String,
    },
    /// Model-Optimizer NVFP4: `{name}` (U8), `{name}_scale`, `{name}_scale_2`.
    ModelOpt {
        /// The weight's name.
        name: String,
    },
    /// DeepSeek FP8: `{name}` (F8_E4M3) and `{name}_scale_inv` (F32).
    DeepSeek {
        /// The weight's name.
        name: String,
    },
    /// compressed-tensors: the tensors of module `{m}` for weight
    /// `name` = `{m}.weight` ([`layouts::compressed`]).
    Compressed {
        /// The weight's name.
        name: String,
        /// Its compressed-tensors format.
        kind: layouts::Compressed,
    },
}

impl Stored {
    /// The weight's name.
    pub fn name(&self) -> &str {
        match self {
            Stored::Own { name, .. }
            | Stored::GptOss { name }
            | Stored::ModelOpt { name }
            | Stored::DeepSeek { name }
            | Stored::Compressed { name, .. } => name,
        }
    }

    /// The names of the tensors that hold it, with what each one is. For
    /// Model-Optimizer, a `…input_scale` beside a `…weight` is listed too
    /// (an activation scale, meaningless once the weight is dequantized).
    pub fn parts(&self) -> Vec<(String, String)> {
        match self {
            Stored::Own { name, meta } => {
                let f = layouts::own_format(meta).map_or_else(|_| "?".into(), |f| f.name());
                vec![
                    (format!("{name}.qdata"), format!("blockscale {f} data")),
                    (format!("{name}.qscales"), "blockscale block scales".into()),
                ]
            }
            Stored::GptOss { name } => vec![
                (
                    format!("{name}_blocks"),
                    "gpt-oss MXFP4 blocks (E2M1 pairs)".into(),
                ),
                (
                    format!("{name}_scales"),
                    "gpt-oss MXFP4 scales (E8M0)".into(),
                ),
            ],
            Stored::ModelOpt { name } => {
                let mut v = vec![
                    (
                        name.clone(),
                        "Model-Optimizer NVFP4 weight (E2M1 pairs)".to_string(),
                    ),
                    (
                        format!("{name}_scale"),
                        "Model-Optimizer NVFP4 block scales (E4M3)".into(),
                    ),
                    (
                        format!("{name}_scale_2"),
                        "Model-Optimizer NVFP4 global scale (A/2688)".into(),
                    ),
                ];
                if let Some(p) = name.strip_suffix("weight") {
                    v.push((format!("{p}input_scale"), "activation scale".into()));
                }
                v
            }
            Stored::DeepSeek { name } => vec![
                (name.clone(), "DeepSeek FP8 weight (E4M3)".into()),
                (
                    format!("{name}_scale_inv"),
                    "DeepSeek FP8 block factors (128x128)".into(),
                ),
            ],
            Stored::Compressed { name, kind } => {
                let m = name.strip_suffix(".weight").unwrap_or(name);
                let what = format!("compressed-tensors {}", kind.name());
                let mut v = match packed_fp4(*kind) {
                    false => vec![(name.clone(), format!("{what} weight"))],
                    true => vec![(format!("{m}.weight_packed"), format!("{what} weight"))],
                };
                v.push((format!("{m}.weight_scale"), format!("{what} scales")));
                if *kind == layouts::Compressed::Nvfp4Packed {
                    v.push((
                        format!("{m}.weight_global_scale"),
                        format!("{what} global scale"),
                    ));
                }
                for a in ["input_global_scale", "input_scale"] {
                    v.push((format!("{m}.{a}"), "activation scale".into()));
                }
                v
            }
        }
    }

    /// The dequantized weight, row-major, and its shape (the original
    /// shape for this crate's layout when the file records it under
    /// `blockscale-shape:{name}`, as the command line writes it).
    ///
    /// Errors: the file's errors, naming the tensor.
    pub fn dequantize(&self, f: &SafeFile) -> Result<(Vec<f32>, Vec<usize>), Error> {
        let path = f.path().to_path_buf();
        let at = |e: Error, n: &str| e.in_file(&path, Some(n));
        match self {
            Stored::Own { name, meta } => {
                let (data, scales) = (
                    f.tensor(&format!("{name}.qdata"))?,
                    f.tensor(&format!("{name}.qscales"))?,
                );
                let q = layouts::read_own(&data, &scales, meta).map_err(|e| at(e, name))?;
                let (rows, cols) = q.shape();
                let shape = f
                    .metadata()
                    .get(&format!("blockscale-shape:{name}"))
                    .and_then(|s| serde_json::from_str::<Vec<usize>>(s).ok())
                    .filter(|s| s.iter().product::<usize>() == rows * cols)
                    .unwrap_or_else(|| vec![rows, cols]);
                Ok(untranspose(f, name, q.dequantize(), shape))
            }
            Stored::GptOss { name } => {
                let b = f.tensor(&format!("{name}_blocks"))?;
                let s = f.tensor(&format!("{name}_scales"))?;
                if b.shape.len() == 4 {
                    // An expert stack: back to [E, in, out], as transformers loads it.
                    let (x, shape) =
                        layouts::dequantize_gptoss_experts(&b, &s).map_err(|e| at(e, name))?;
                    return Ok((x, shape.to_vec()));
                }
                let x = layouts::dequantize_gptoss_mxfp4(&b, &s).map_err(|e| at(e, name))?;
                let mut shape = b.shape[..b.shape.len().saturating_sub(1)].to_vec();
                if let Some(last) = shape.last_mut() {
                    *last = last.saturating_mul(32);
                }
                Ok((x, shape))
            }
            Stored::ModelOpt { name } => {
                let w = f.tensor(name)?;
                let s = f.tensor(&format!("{name}_scale"))?;
                let s2 = f.tensor(&format!("{name}_scale_2"))?;
                let x = layouts::dequantize_modelopt_nvfp4(&w, &s, &s2).map_err(|e| at(e, name))?;
                let mut shape = w.shape.clone();
                if let Some(last) = shape.last_mut() {
                    *last = last.saturating_mul(2);
                }
                Ok(untranspose(f, name, x, shape))
            }
            Stored::Compressed { name, kind } => {
                let m = name.strip_suffix(".weight").unwrap_or(name);
                let packed = match packed_fp4(*kind) {
                    false => f.tensor(name)?,
                    true => f.tensor(&format!("{m}.weight_packed"))?,
                };
                let scale = f.tensor(&format!("{m}.weight_scale"))?;
                let global = match kind {
                    layouts::Compressed::Nvfp4Packed => {
                        Some(f.tensor(&format!("{m}.weight_global_scale"))?)
                    }
                    _ => None,
                };
                let x = layouts::dequantize_compressed(*kind, &packed, &scale, global.as_ref())
                    .map_err(|e| at(e, name))?;
                let (rows, width) = packed.matrix_shape();
                let cols = match packed_fp4(*kind) {
                    false => width,
                    true => width.saturating_mul(2),
                };
                Ok((x, vec![rows, cols]))
            }
            Stored::DeepSeek { name } => {
                let w = f.tensor(name)?;
                let s = f.tensor(&format!("{name}_scale_inv"))?;
                let x = layouts::dequantize_deepseek_fp8(&w, &s).map_err(|e| at(e, name))?;
                Ok((x, w.shape))
            }
        }
    }
}

/// The metadata key that marks a stack the converter stored transposed
/// (`[E, out, in]` for a parameter `[E, in, out]`, gpt-oss's experts).
pub const TRANSPOSED_KEY: &str = "blockscale-transposed:";

/// A stack marked with [`TRANSPOSED_KEY`] back in its parameter's orientation.
fn untranspose(f: &SafeFile, name: &str, x: Vec<f32>, shape: Vec<usize>) -> (Vec<f32>, Vec<usize>) {
    let marked = f
        .metadata()
        .get(&format!("{TRANSPOSED_KEY}{name}"))
        .is_some_and(|v| v == "true");
    match shape[..] {
        [e, rows, cols] if marked => (
            layouts::transpose_stack(&x, rows, cols),
            vec![e, cols, rows],
        ),
        _ => (x, shape),
    }
}

/// Every quantized weight in `f`, in the order of [`SafeFile::names`]
/// (this crate's own layout first, by metadata key).
///
/// Errors: a tensor whose header cannot be read.
pub fn detect(f: &SafeFile) -> Result<Vec<Stored>, Error> {
    let names = f.names();
    let set: std::collections::HashSet<&str> = names.iter().map(String::as_str).collect();
    let has = |n: &str| set.contains(n);
    let meta: HashMap<String, String> = f.metadata();
    let mut own: Vec<Stored> = meta
        .iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("blockscale:")?;
            Some(Stored::Own {
                name: name.to_string(),
                meta: v.clone(),
            })
        })
        .collect();
    own.sort_by(|a, b| a.name().cmp(b.name()));
    let mut found = own;
    for n in &names {
        if let Some(w) = n.strip_suffix("_blocks")
            && has(&format!("{w}_scales"))
        {
            found.push(Stored::GptOss {
                name: w.to_string(),
            });
        }
        if has(&format!("{n}_scale")) && has(&format!("{n}_scale_2")) && f.info(n)?.0 == "U8" {
            found.push(Stored::ModelOpt { name: n.clone() });
        }
        if has(&format!("{n}_scale_inv")) && f.info(n)?.0 == "F8_E4M3" {
            found.push(Stored::DeepSeek { name: n.clone() });
        }
        if let Some(kind) = compressed_kind(f, n, &has)? {
            let m = n
                .strip_suffix(".weight_packed")
                .or_else(|| n.strip_suffix(".weight"))
                .unwrap_or(n);
            found.push(Stored::Compressed {
                name: format!("{m}.weight"),
                kind,
            });
        }
    }
    Ok(found)
}

/// Whether compressed-tensors packs the format's codes two per byte into
/// `weight_packed` (else they are `weight`, one byte each).
fn packed_fp4(kind: layouts::Compressed) -> bool {
    matches!(
        kind,
        layouts::Compressed::Nvfp4Packed | layouts::Compressed::Mxfp4Packed
    )
}

/// The compressed-tensors format whose main tensor is `n`, if any: a
/// `….weight_packed` U8 with an F8_E4M3 `weight_scale` and a
/// `weight_global_scale` (NVFP4) or a U8 `weight_scale` (MXFP4); or a
/// `….weight` F8_E4M3 with a U8 `weight_scale` of one E8M0 byte per 32
/// inputs (MXFP8), or an F32 or BF16 `weight_scale` of one factor per
/// 128×128 block, per output channel (`[out, 1]`) or per tensor (`[1]` or
/// `[]`, also how Model-Optimizer stores per-tensor FP8).
fn compressed_kind(
    f: &SafeFile,
    n: &str,
    has: &dyn Fn(&str) -> bool,
) -> Result<Option<layouts::Compressed>, Error> {
    use layouts::Compressed as C;
    if let Some(m) = n.strip_suffix(".weight_packed") {
        let scale = format!("{m}.weight_scale");
        if f.info(n)?.0 != "U8" || !has(&scale) {
            return Ok(None);
        }
        return Ok(match f.info(&scale)?.0.as_str() {
            "F8_E4M3" if has(&format!("{m}.weight_global_scale")) => Some(C::Nvfp4Packed),
            "U8" => Some(C::Mxfp4Packed),
            _ => None,
        });
    }
    if let Some(m) = n.strip_suffix(".weight") {
        let scale = format!("{m}.weight_scale");
        if !has(&scale) {
            return Ok(None);
        }
        let (wd, ws) = f.info(n)?;
        let (sd, ss) = f.info(&scale)?;
        let &[r, c] = ws.as_slice() else {
            return Ok(None);
        };
        if wd != "F8_E4M3" {
            return Ok(None);
        }
        let float = sd == "F32" || sd == "BF16";
        return Ok(match ss.as_slice() {
            [sr, sc] if sd == "U8" && c.is_multiple_of(32) && (*sr, *sc) == (r, c / 32) => {
                Some(C::Mxfp8)
            }
            [sr, sc] if float && (*sr, *sc) == (r.div_ceil(128), c.div_ceil(128)) => {
                Some(C::Fp8Block)
            }
            [sr, 1] if float && *sr == r => Some(C::Fp8Channel),
            [1] | [] if float => Some(C::Fp8Tensor),
            _ => None,
        });
    }
    Ok(None)
}

/// The layouts [`detect`] reads, for messages.
pub const KNOWN_LAYOUTS: &str = "blockscale's own (.qdata/.qscales), Model-Optimizer NVFP4 (weight/_scale/_scale_2), \
     gpt-oss MXFP4 (_blocks/_scales), DeepSeek FP8 (weight/_scale_inv) and compressed-tensors \
     (weight_packed or weight, weight_scale: NVFP4, MXFP4, MXFP8, FP8 per tensor, channel or 128x128 block)";

/// Tensors of `f` that look quantized but belong to no weight [`detect`]
/// found: 8-bit or smaller float and integer matrices, and scale-like
/// companions (`…_scale`, `…_scales`, `…scale_inv`, `…_blocks`,
/// `…global_scale`, `…weight_packed`), except activation scales
/// (`…input_scale`). A reader that passed them through would hand
/// quantized bytes on as if they were weights.
///
/// Errors: a tensor whose header cannot be read.
///
/// ```
/// use blockscale::io::{DType, Tensor, detect, st};
/// let path = std::env::temp_dir().join(format!("bs-unrec-{}.safetensors", std::process::id()));
/// let w = Tensor::new(DType::I8, vec![2, 2], vec![3; 4])?;
/// let s = Tensor::from_f32(DType::F32, vec![2, 1], &[0.5, 0.25])?;
/// let b = Tensor::from_f32(DType::BF16, vec![2], &[1.0, 2.0])?;
/// // compressed-tensors' INT8 (`int-quantized`), which `detect` does not read.
/// st::write(&path, &[("w.weight".into(), w), ("w.weight_scale".into(), s), ("w.bias".into(), b)], None)?;
/// let f = st::SafeFile::open(&path)?;
/// assert_eq!(detect::unrecognized(&f)?, ["w.weight", "w.weight_scale"]);
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn unrecognized(f: &SafeFile) -> Result<Vec<String>, Error> {
    let mut known = std::collections::HashSet::new();
    for s in detect(f)? {
        known.extend(s.parts().into_iter().map(|(n, _)| n));
    }
    let mut out = Vec::new();
    for n in f.names() {
        if known.contains(&n) || n.ends_with("input_scale") {
            continue;
        }
        let (dtype, shape) = f.info(&n)?;
        let narrow = dtype.starts_with("F8")
            || dtype.starts_with("F6")
            || dtype.starts_with("F4")
            || ((dtype == "U8" || dtype == "I8") && shape.len() >= 2);
        let companion = ["_scale", "_scales", "scale_inv", "_blocks", "global_scale"]
            .iter()
            .any(|s| n.ends_with(s))
            || n.ends_with("weight_packed");
        if narrow || companion {
            out.push(n);
        }
    }
    Ok(out)
}

/// What each tensor of `f` is: its part of a quantized weight
/// ([`Stored::parts`]), `"activation scale"` for a lone `…input_scale`,
/// or `"unquantized"`.
///
/// Errors: as [`detect`].
pub fn describe(f: &SafeFile) -> Result<HashMap<String, String>, Error> {
    let mut what: HashMap<String, String> = HashMap::new();
    for s in detect(f)? {
        what.extend(s.parts());
    }
    for n in f.names() {
        let w = if n.ends_with("input_scale") {
            "activation scale"
        } else {
            "unquantized"
        };
        what.entry(n).or_insert_with(|| w.to_string());
    }
    Ok(what)
}

/// A tensor's values for statistics of its scales: E4M3, E8M0 and F32
/// scales by value, U8 as E8M0 bytes (gpt-oss); `None` for other dtypes.
///
/// ```
/// use blockscale::io::{DType, Tensor, detect::scale_values};
/// let gpt_oss = Tensor::new(DType::U8, vec![2], vec![127, 130])?;
/// assert_eq!(scale_values(&gpt_oss), Some(vec![1.0, 8.0]));
/// assert_eq!(scale_values(&Tensor::new(DType::I8, vec![1], vec![1])?), None);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn scale_values(t: &Tensor) -> Option<Vec<f32>> {
    match t.dtype {
        DType::F8E4M3 | DType::F8E8M0 | DType::F32 => t.to_f32().ok(),
        DType::U8 => Some(
            t.data
                .iter()
                .map(|&b| crate::E8M0::from_bits(b).to_f32())
                .collect(),
        ),
        _ => None,
    }
}
