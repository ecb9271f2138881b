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
}

impl Stored {
    /// The weight's name.
    pub fn name(&self) -> &str {
        match self {
            Stored::Own { name, .. } | Stored::GptOss { name } | Stored::ModelOpt { name } => name,
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
                Ok((q.dequantize(), shape))
            }
            Stored::GptOss { name } => {
                let b = f.tensor(&format!("{name}_blocks"))?;
                let s = f.tensor(&format!("{name}_scales"))?;
                let x = layouts::dequantize_gptoss_mxfp4(&b, &s).map_err(|e| at(e, name))?;
                let mut shape = b.shape[..b.shape.len() - 1].to_vec();
                let last = shape.pop().unwrap_or(0);
                shape.push(last * 32);
                Ok((x, shape))
            }
            Stored::ModelOpt { name } => {
                let w = f.tensor(name)?;
                let s = f.tensor(&format!("{name}_scale"))?;
                let s2 = f.tensor(&format!("{name}_scale_2"))?;
                let x = layouts::dequantize_modelopt_nvfp4(&w, &s, &s2).map_err(|e| at(e, name))?;
                let (rows, half) = w.matrix_shape();
                Ok((x, vec![rows, half * 2]))
            }
        }
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
    }
    Ok(found)
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
