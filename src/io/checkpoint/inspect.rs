//! [`inspect`]: what a tensor file holds, as data the command line prints
//! and the Python package returns.

use crate::Error;
use crate::io::gguf::{self, Value};
use crate::io::{Tensor, detect, npy, st};
use std::path::Path;

/// The kind of a tensor file, by its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// NumPy `.npy`: one tensor.
    Npy,
    /// `.safetensors`.
    Safetensors,
    /// llama.cpp's `.gguf`.
    Gguf,
}

/// What a tensor file holds: [`inspect`]'s answer.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Inspection {
    /// The kind of file.
    pub kind: FileKind,
    /// Every tensor, in the file's order.
    pub tensors: Vec<TensorSummary>,
    /// A GGUF file's metadata, in the file's order (empty for the others).
    pub metadata: Vec<(String, Value)>,
}

/// One tensor of an [`Inspection`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TensorSummary {
    /// The tensor's name (a `.npy` file's stem).
    pub name: String,
    /// The element type as the file names it: safetensors' (`BF16`,
    /// `F8_E4M3`), [`DType::name`](crate::io::DType::name) for `.npy`,
    /// ggml's (`MXFP4`, `F32`) for GGUF.
    pub dtype: String,
    /// The shape, outermost first.
    pub shape: Vec<usize>,
    /// Its part in a quantized weight, as
    /// [`detect::describe`] names it
    /// (`"unquantized"` for none); `None` for `.npy` and GGUF.
    pub role: Option<String>,
    /// Statistics of the scale values, for a tensor that holds scales.
    pub scales: Option<ScaleStats>,
    /// Statistics of the values, for a `.npy` file's numeric tensor.
    pub values: Option<ValueStats>,
}

/// Statistics of a tensor of scale factors.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct ScaleStats {
    /// How many scales.
    pub count: usize,
    /// The smallest finite non-zero magnitude (+∞ if there is none).
    pub min: f32,
    /// The largest finite magnitude (0 if there is none).
    pub max: f32,
    /// The mean of log₂ of the finite non-zero magnitudes (0 if none).
    pub log2_mean: f64,
    /// How many are zero.
    pub zero: usize,
    /// How many are NaN or ±∞.
    pub nonfinite: usize,
}

impl ScaleStats {
    /// The statistics of a scale tensor, or `None` if `t` holds no scale
    /// type [`detect::scale_values`] reads.
    ///
    /// ```
    /// use blockscale::io::{DType, Tensor, checkpoint::ScaleStats};
    /// // Three E8M0 scales: 2^0, 2^3 and NaN (0xFF).
    /// let t = Tensor::new(DType::F8E8M0, vec![3], vec![127, 130, 255])?;
    /// let s = ScaleStats::of(&t).unwrap();
    /// assert_eq!((s.count, s.min, s.max, s.log2_mean), (3, 1.0, 8.0, 1.5));
    /// assert_eq!((s.zero, s.nonfinite), (0, 1));
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn of(t: &Tensor) -> Option<ScaleStats> {
        let v = detect::scale_values(t)?;
        let finite: Vec<f32> = v
            .iter()
            .map(|x| x.abs())
            .filter(|x| x.is_finite())
            .collect();
        let nonzero: Vec<f32> = finite.iter().copied().filter(|&x| x != 0.0).collect();
        let log2_sum: f64 = nonzero.iter().map(|x| f64::from(*x).log2()).sum();
        Some(ScaleStats {
            count: v.len(),
            min: nonzero.iter().copied().fold(f32::INFINITY, f32::min),
            max: finite.iter().copied().fold(0.0, f32::max),
            log2_mean: log2_sum / nonzero.len().max(1) as f64,
            zero: finite.len() - nonzero.len(),
            nonfinite: v.len() - finite.len(),
        })
    }
}

/// Statistics of a tensor's values.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct ValueStats {
    /// How many values.
    pub count: usize,
    /// The largest magnitude (NaN ignored).
    pub amax: f32,
    /// How many are NaN or ±∞.
    pub nonfinite: usize,
}

/// What a `.npy`, `.safetensors` or `.gguf` file holds: each tensor's
/// dtype and shape, for safetensors the quantization layout each tensor
/// belongs to and its scale statistics, for `.npy` the amax, for GGUF the
/// metadata. Reads scale tensors (and a `.npy` file's values), never a
/// safetensors file's weights.
///
/// ```
/// use blockscale::io::checkpoint::{FileKind, inspect};
/// use blockscale::io::{DType, Tensor, npy};
/// let path = std::env::temp_dir().join(format!("bs-inspect-{}.npy", std::process::id()));
/// npy::write(&path, &Tensor::from_f32(DType::F32, vec![2, 2], &[1.0, -3.0, 0.5, f32::NAN])?)?;
/// let i = inspect(&path)?;
/// assert_eq!(i.kind, FileKind::Npy);
/// let v = i.tensors[0].values.unwrap();
/// assert_eq!((i.tensors[0].shape.clone(), v.amax, v.nonfinite), (vec![2, 2], 3.0, 1));
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn inspect(path: impl AsRef<Path>) -> Result<Inspection, Error> {
    let path = path.as_ref();
    let ext = path.extension().and_then(|e| e.to_str());
    match ext {
        Some("npy") => {
            let t = npy::read(path)?;
            let values = t.to_f32().ok().map(|x| ValueStats {
                count: x.len(),
                amax: x.iter().fold(0f32, |m, v| m.max(v.abs())),
                nonfinite: x.iter().filter(|v| !v.is_finite()).count(),
            });
            let name = path
                .file_stem()
                .map_or_else(|| "tensor".into(), |s| s.to_string_lossy().into_owned());
            Ok(Inspection {
                kind: FileKind::Npy,
                tensors: vec![TensorSummary {
                    name,
                    dtype: t.dtype.name().into(),
                    shape: t.shape,
                    role: None,
                    scales: None,
                    values,
                }],
                metadata: Vec::new(),
            })
        }
        Some("gguf") => {
            let f = gguf::read(path)?;
            let tensors = f
                .tensors
                .into_iter()
                .map(|t| TensorSummary {
                    name: t.name,
                    dtype: format!("{:?}", t.ggml_type),
                    shape: t.shape,
                    role: None,
                    scales: None,
                    values: None,
                })
                .collect();
            Ok(Inspection {
                kind: FileKind::Gguf,
                tensors,
                metadata: f.metadata,
            })
        }
        Some("safetensors") => {
            let f = st::SafeFile::open(path)?;
            let roles = detect::describe(&f)?;
            let mut tensors = Vec::new();
            for n in f.names() {
                let (dtype, shape) = f.info(&n)?;
                let role = roles.get(&n).map_or("unquantized", String::as_str);
                let scales = if role.ends_with("scales") || role.contains("scales (") {
                    ScaleStats::of(&f.tensor(&n)?)
                } else {
                    None
                };
                tensors.push(TensorSummary {
                    role: Some(role.to_string()),
                    name: n,
                    dtype,
                    shape,
                    scales,
                    values: None,
                });
            }
            Ok(Inspection {
                kind: FileKind::Safetensors,
                tensors,
                metadata: Vec::new(),
            })
        }
        _ => Err(Error::file(
            path,
            None,
            "unknown file type (expected .npy, .safetensors or .gguf)",
        )),
    }
}
