//! Tensor files: `.npy` (as NumPy and ml_dtypes write them), safetensors
//! (memory-mapped) and GGUF (llama.cpp's format, with its MXFP4 and NVFP4
//! blocks: [`gguf`]), plus the checkpoint layouts of Model-Optimizer NVFP4,
//! gpt-oss MXFP4 and this crate's own format ([SEMANTICS.md](crate::contract)
//! §6). Behind the `io` feature.
//!
//! Every reader returns a typed [`Error::File`] naming the file (and the
//! tensor) for a truncated or malformed file, and every writer writes to a
//! temporary file in the destination's directory and renames it into place
//! on success, so a failure never leaves a half-written file.

pub mod checkpoint;
pub mod detect;
pub mod gguf;
/// The `safetensors` whose `Dtype` [`st::RawTensor`] holds.
pub use safetensors;
/// The `serde_json` whose `Value` [`model::Family::from_config`] reads.
pub use serde_json;
pub mod layouts;
pub mod model;
pub mod npy;
pub mod st;

use crate::{E4M3, E5M2, E8M0, Error};
use half::{bf16, f16};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The element type of a stored tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DType {
    /// IEEE binary64.
    F64,
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
    /// bfloat16.
    BF16,
    /// OCP FP8 E4M3 (`float8_e4m3fn`).
    F8E4M3,
    /// OCP FP8 E5M2 (`float8_e5m2`).
    F8E5M2,
    /// OCP E8M0 scale (`float8_e8m0fnu`).
    F8E8M0,
    /// Unsigned byte (also packed FP4 and raw scale bytes).
    U8,
    /// Signed byte.
    I8,
    /// One opaque byte per element: how ml_dtypes' `float8_e4m3fn`,
    /// `float4_e2m1fn` and `float8_e8m0fnu` arrays arrive in `.npy` (`<V1`);
    /// [`Tensor::reinterpret`] gives them their type.
    Raw8,
}

impl DType {
    /// Every dtype, in declaration order.
    ///
    /// ```
    /// use blockscale::io::DType;
    /// assert_eq!(DType::ALL.len(), 10);
    /// assert!(DType::ALL.iter().all(|d| DType::parse(d.name()) == Some(*d)));
    /// ```
    pub const ALL: &'static [DType] = &[
        DType::F64,
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::F8E4M3,
        DType::F8E5M2,
        DType::F8E8M0,
        DType::U8,
        DType::I8,
        DType::Raw8,
    ];

    /// Bytes per element.
    ///
    /// ```
    /// assert_eq!(blockscale::io::DType::BF16.size(), 2);
    /// ```
    pub const fn size(self) -> usize {
        match self {
            DType::F64 => 8,
            DType::F32 => 4,
            DType::F16 | DType::BF16 => 2,
            _ => 1,
        }
    }

    /// The name used in messages and on the command line (`f32`, `bf16`,
    /// `f8e4m3`, ...).
    ///
    /// ```
    /// assert_eq!(blockscale::io::DType::F8E4M3.name(), "f8e4m3");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            DType::F64 => "f64",
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F8E4M3 => "f8e4m3",
            DType::F8E5M2 => "f8e5m2",
            DType::F8E8M0 => "f8e8m0",
            DType::U8 => "u8",
            DType::I8 => "i8",
            DType::Raw8 => "raw8",
        }
    }

    /// Parses [`DType::name`].
    ///
    /// ```
    /// use blockscale::io::DType;
    /// assert_eq!(DType::parse("bf16"), Some(DType::BF16));
    /// assert_eq!(DType::parse("f12"), None);
    /// ```
    pub fn parse(s: &str) -> Option<DType> {
        DType::ALL.iter().copied().find(|d| d.name() == s)
    }

    /// Whether values of this type are numbers [`Tensor::to_f32`] can read.
    pub const fn is_numeric(self) -> bool {
        !matches!(self, DType::Raw8)
    }

    /// Whether this is a floating-point type a weight is stored in (f64,
    /// f32, f16, bf16): the types that are quantized, and that
    /// dequantizing writes.
    ///
    /// ```
    /// use blockscale::io::DType;
    /// assert!(DType::BF16.is_float());
    /// assert!(!DType::F8E4M3.is_float() && !DType::U8.is_float());
    /// ```
    pub const fn is_float(self) -> bool {
        matches!(self, DType::F64 | DType::F32 | DType::F16 | DType::BF16)
    }
}

/// A dense row-major tensor as stored in a file: dtype, shape and the raw
/// little-endian bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Element type.
    pub dtype: DType,
    /// Shape (empty for a scalar).
    pub shape: Vec<usize>,
    /// `numel · dtype.size()` bytes, little-endian.
    pub data: Vec<u8>,
}

impl Tensor {
    /// A tensor from raw bytes; errors if their length does not match.
    ///
    /// ```
    /// use blockscale::io::{DType, Tensor};
    /// let t = Tensor::new(DType::U8, vec![2, 3], vec![0; 6])?;
    /// assert_eq!(t.numel(), 6);
    /// assert!(Tensor::new(DType::F32, vec![2], vec![0; 6]).is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn new(dtype: DType, shape: Vec<usize>, data: Vec<u8>) -> Result<Tensor, Error> {
        let t = Tensor { dtype, shape, data };
        t.validate()?;
        Ok(t)
    }

    /// The number of elements (1 for a scalar). Saturates at `usize::MAX`
    /// for a shape whose product overflows (which [`Tensor::new`] rejects,
    /// but the fields are public).
    pub fn numel(&self) -> usize {
        numel(&self.shape).unwrap_or(usize::MAX)
    }

    /// Checks what [`Tensor::new`] checks, for a tensor whose public fields
    /// were set directly: the shape's product fits `usize` and the data
    /// holds exactly `numel · size` bytes.
    ///
    /// ```
    /// use blockscale::io::{DType, Tensor};
    /// let t = Tensor { dtype: DType::F32, shape: vec![2], data: vec![0; 7] };
    /// assert!(t.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        let bytes = numel(&self.shape)?
            .checked_mul(self.dtype.size())
            .ok_or_else(|| {
                Error::InvalidArgument(format!("shape {:?} overflows usize", self.shape))
            })?;
        crate::error::check_len("tensor data (bytes)", bytes, self.data.len())
    }

    /// Encodes f32 values as `dtype`, rounding to nearest-even (saturating
    /// FP8 E4M3 at ±448 and E5M2 at ±57344 as `ConvertOptions::SATFINITE`
    /// does; E8M0 as ml_dtypes does). Errors for [`DType::Raw8`] and
    /// integer types.
    ///
    /// ```
    /// use blockscale::io::{DType, Tensor};
    /// let t = Tensor::from_f32(DType::BF16, vec![2], &[1.0, 3.14159])?;
    /// assert_eq!(t.to_f32()?, vec![1.0, 3.140625]);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn from_f32(dtype: DType, shape: Vec<usize>, x: &[f32]) -> Result<Tensor, Error> {
        crate::error::check_len("values", numel(&shape)?, x.len())?;
        let sat = crate::element::ConvertOptions::SATFINITE;
        let data: Vec<u8> = match dtype {
            DType::F64 => x.iter().flat_map(|&v| (v as f64).to_le_bytes()).collect(),
            DType::F32 => x.iter().flat_map(|&v| v.to_le_bytes()).collect(),
            DType::F16 => x
                .iter()
                .flat_map(|&v| f16::from_f32(v).to_le_bytes())
                .collect(),
            DType::BF16 => x
                .iter()
                .flat_map(|&v| bf16::from_f32(v).to_le_bytes())
                .collect(),
            DType::F8E4M3 => x
                .iter()
                .map(|&v| E4M3::from_f32_with(v, sat).to_bits())
                .collect(),
            DType::F8E5M2 => x
                .iter()
                .map(|&v| E5M2::from_f32_with(v, sat).to_bits())
                .collect(),
            DType::F8E8M0 => x.iter().map(|&v| E8M0::from_f32(v).to_bits()).collect(),
            DType::U8 | DType::I8 | DType::Raw8 => {
                return Err(Error::InvalidArgument(format!(
                    "cannot encode floating-point values as {}",
                    dtype.name()
                )));
            }
        };
        Tensor::new(dtype, shape, data)
    }

    /// The values as f32: exact for every type but F64 (rounded to nearest
    /// even). Errors for [`DType::Raw8`], whose meaning the file does not say,
    /// and for a tensor whose data length disagrees with its shape
    /// ([`Tensor::validate`]).
    ///
    /// ```
    /// use blockscale::io::{DType, Tensor};
    /// let t = Tensor::new(DType::F8E4M3, vec![2], vec![0x38, 0xFE])?;
    /// assert_eq!(t.to_f32()?, vec![1.0, -448.0]);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn to_f32(&self) -> Result<Vec<f32>, Error> {
        // The fields are public: never decode a partial element silently.
        self.validate()?;
        let d = &self.data;
        Ok(match self.dtype {
            DType::F64 => d
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect(),
            DType::F32 => d
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect(),
            DType::F16 => d
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            DType::BF16 => d
                .chunks_exact(2)
                .map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            DType::F8E4M3 => d.iter().map(|&b| E4M3::from_bits(b).to_f32()).collect(),
            DType::F8E5M2 => d.iter().map(|&b| E5M2::from_bits(b).to_f32()).collect(),
            DType::F8E8M0 => d.iter().map(|&b| E8M0::from_bits(b).to_f32()).collect(),
            DType::U8 => d.iter().map(|&b| b as f32).collect(),
            DType::I8 => d.iter().map(|&b| b as i8 as f32).collect(),
            DType::Raw8 => {
                return Err(Error::InvalidArgument(
                    "raw 8-bit data (an ml_dtypes `V1` array): reinterpret it as f8e4m3, f8e8m0 or u8 first"
                        .into(),
                ));
            }
        })
    }

    /// The same bytes read as another type of the same size (for `.npy`
    /// arrays ml_dtypes saved as opaque bytes).
    ///
    /// ```
    /// use blockscale::io::{DType, Tensor};
    /// let raw = Tensor::new(DType::Raw8, vec![1], vec![0x38])?;
    /// assert_eq!(raw.reinterpret(DType::F8E4M3)?.to_f32()?, vec![1.0]);
    /// assert!(Tensor::new(DType::Raw8, vec![1], vec![0])?.reinterpret(DType::BF16).is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn reinterpret(self, dtype: DType) -> Result<Tensor, Error> {
        if dtype.size() != self.dtype.size() {
            return Err(Error::InvalidArgument(format!(
                "cannot read {} ({} bytes) as {} ({} bytes)",
                self.dtype.name(),
                self.dtype.size(),
                dtype.name(),
                dtype.size()
            )));
        }
        Ok(Tensor { dtype, ..self })
    }

    /// The tensor as a matrix: all leading dimensions flattened into rows
    /// (a vector is one row, a scalar 1×1).
    ///
    /// ```
    /// use blockscale::io::{DType, Tensor};
    /// let t = Tensor::new(DType::U8, vec![2, 3, 4], vec![0; 24])?;
    /// assert_eq!(t.matrix_shape(), (6, 4));
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn matrix_shape(&self) -> (usize, usize) {
        match self.shape.split_last() {
            None => (1, 1),
            Some((&cols, lead)) => (numel(lead).unwrap_or(usize::MAX), cols),
        }
    }
}

fn numel(shape: &[usize]) -> Result<usize, Error> {
    shape.iter().try_fold(1usize, |acc, &d| {
        acc.checked_mul(d)
            .ok_or_else(|| Error::InvalidArgument(format!("shape {shape:?} overflows usize")))
    })
}

/// Writes a file atomically: `write` fills a temporary file in `path`'s
/// directory, which is synced and renamed to `path` only if `write`
/// succeeds; on any error the temporary file is removed.
pub(crate) fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> Result<(), Error>,
) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::file(path, None, "not a file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let file = std::fs::File::create(&tmp).map_err(|e| Error::io(path, "create", e))?;
        let mut w = std::io::BufWriter::new(file);
        write(&mut w)?;
        let file = w
            .into_inner()
            .map_err(|e| Error::io(path, "write", e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(path, "sync", e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, "rename into place", e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The named tensors of a `.npy` file (one, named after the file's stem) or
/// a `.safetensors` file (every tensor, in the file's order).
///
/// ```
/// use blockscale::io::{DType, Tensor, npy, read_tensors};
/// let path = std::env::temp_dir().join(format!("bs-rt-{}.npy", std::process::id()));
/// npy::write(&path, &Tensor::from_f32(DType::F32, vec![2], &[1.0, 2.0])?)?;
/// let t = read_tensors(&path)?;
/// assert_eq!(t[0].0, format!("bs-rt-{}", std::process::id()));
/// assert_eq!(t[0].1.to_f32()?, [1.0, 2.0]);
/// assert!(read_tensors("weights.bin").is_err());
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn read_tensors(path: impl AsRef<Path>) -> Result<Vec<(String, Tensor)>, Error> {
    let path = path.as_ref();
    match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "tensor".into());
            Ok(vec![(name, npy::read(path)?)])
        }
        Some("safetensors") => {
            let f = st::SafeFile::open(path)?;
            f.names()
                .into_iter()
                .map(|n| f.tensor(&n).map(|t| (n, t)))
                .collect()
        }
        _ => Err(Error::file(
            path,
            None,
            "unknown file type (expected .npy or .safetensors)",
        )),
    }
}

/// Tensor `name` of file `path` as f32, refusing NaN and ±Inf with an
/// error that names the file, the tensor and the first such element:
/// quantizing them is never what a checkpoint tool wants.
///
/// ```
/// use blockscale::io::{DType, Tensor, finite_values};
/// let t = Tensor::from_f32(DType::F32, vec![2], &[1.0, f32::NAN])?;
/// let e = finite_values("w.npy", "w", &t).unwrap_err();
/// assert_eq!(e.to_string(), "w.npy: tensor w: non-finite value NaN at flat index 1");
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn finite_values(path: impl AsRef<Path>, name: &str, t: &Tensor) -> Result<Vec<f32>, Error> {
    let path = path.as_ref();
    let x = t.to_f32().map_err(|e| e.in_file(path, Some(name)))?;
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::file(
            path,
            Some(name),
            format!("non-finite value {} at flat index {i}", x[i]),
        ));
    }
    Ok(x)
}

/// Refuses to write a tensor whose tensor amax is NaN or +Inf (one
/// quantized from such values): its global scale would be written as JSON
/// null (which `read_own` refuses), NaN, ±Inf or 0 (the whole tensor then
/// dequantizes to NaN or ±Inf).
pub(crate) fn finite_amax(name: &str, amax: Option<f32>) -> Result<(), Error> {
    match amax {
        Some(a) if !a.is_finite() => Err(Error::InvalidValue {
            what: format!("tensor {name}'s tensor amax"),
            value: a.into(),
            expected: "a finite number to be written (quantize finite values)",
        }),
        _ => Ok(()),
    }
}

/// Writes `bytes` to `path` atomically: through a temporary file in the
/// same directory, renamed into place only once fully written and synced.
///
/// ```
/// let path = std::env::temp_dir().join(format!("bs-wb-{}.txt", std::process::id()));
/// blockscale::io::write_bytes(&path, b"hello")?;
/// assert_eq!(std::fs::read(&path).unwrap(), b"hello");
/// assert!(blockscale::io::write_bytes("/nonexistent-dir/x", b"").is_err());
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn write_bytes(path: impl AsRef<Path>, bytes: &[u8]) -> Result<(), Error> {
    let path = path.as_ref();
    write_atomic(path, |w| put(w, path, bytes))
}

/// Maps a file read-only.
#[allow(unsafe_code)]
pub(crate) fn map(path: &Path) -> Result<memmap2::Mmap, Error> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, "open", e))?;
    // SAFETY: the map is read-only and private to this process; like every
    // reader of memory-mapped checkpoints (safetensors, NumPy's mmap_mode)
    // it relies on no other process truncating or rewriting the file while
    // it is mapped, which the command line documents.
    unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, "map", e))
}

/// `write_all` with the error mapped to the destination path.
pub(crate) fn put(w: &mut impl Write, path: &Path, bytes: &[u8]) -> Result<(), Error> {
    w.write_all(bytes).map_err(|e| Error::io(path, "write", e))
}
