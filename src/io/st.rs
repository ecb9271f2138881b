//! safetensors files, through the `safetensors` crate, memory-mapped so that
//! a checkpoint larger than RAM is read one tensor at a time.

use super::{DType, Tensor, put, write_atomic};
use crate::Error;
use safetensors::SafeTensorError;
use safetensors::tensor::{Dtype, Metadata, SafeTensors, TensorInfo, TensorView};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn to_st(d: DType) -> Dtype {
    match d {
        DType::F64 => Dtype::F64,
        DType::F32 => Dtype::F32,
        DType::F16 => Dtype::F16,
        DType::BF16 => Dtype::BF16,
        DType::F8E4M3 => Dtype::F8_E4M3,
        DType::F8E5M2 => Dtype::F8_E5M2,
        DType::F8E8M0 => Dtype::F8_E8M0,
        DType::U8 | DType::Raw8 => Dtype::U8,
        DType::I8 => Dtype::I8,
    }
}

fn from_st(d: Dtype) -> Option<DType> {
    Some(match d {
        Dtype::F64 => DType::F64,
        Dtype::F32 => DType::F32,
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        Dtype::F8_E4M3 => DType::F8E4M3,
        Dtype::F8_E5M2 => DType::F8E5M2,
        Dtype::F8_E8M0 => DType::F8E8M0,
        Dtype::U8 => DType::U8,
        Dtype::I8 => DType::I8,
        _ => return None,
    })
}

/// The bytes a [`SafeFile`] reads from.
enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// An open safetensors file: the header is parsed and validated once (by
/// the `safetensors` crate: JSON, dtypes, shapes against byte sizes,
/// contiguous offsets within the buffer), and tensors are copied out of the
/// memory map on demand.
pub struct SafeFile {
    path: PathBuf,
    bytes: Bytes,
    /// Where the data section starts (8 + header length).
    data_start: usize,
    header: Metadata,
}

impl SafeFile {
    /// Opens and validates `path` (header, offsets, dtypes' sizes).
    ///
    /// Errors ([`Error::File`]) if the file is missing, truncated or its
    /// header is malformed.
    ///
    /// ```
    /// use blockscale::io::{DType, Tensor, st};
    /// let path = std::env::temp_dir().join(format!("bs-st-doc-{}.safetensors", std::process::id()));
    /// let w = Tensor::from_f32(DType::BF16, vec![2, 2], &[1.0, -2.0, 0.5, 4.0])?;
    /// st::write(&path, &[("w".to_string(), w.clone())], None)?;
    /// let f = st::SafeFile::open(&path)?;
    /// assert_eq!(f.names(), vec!["w".to_string()]);
    /// assert_eq!(f.tensor("w")?, w);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<SafeFile, Error> {
        let path = path.as_ref().to_path_buf();
        let map = super::map(&path)?;
        SafeFile::validate(path, Bytes::Mapped(map))
    }

    /// A safetensors file already in memory, with the same checks as
    /// [`SafeFile::open`]; `name` stands for the path in error messages.
    ///
    /// ```
    /// use blockscale::io::st::SafeFile;
    /// let header = br#"{"w":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#;
    /// let mut b = (header.len() as u64).to_le_bytes().to_vec();
    /// b.extend_from_slice(header);
    /// b.extend_from_slice(&[3, 4]);
    /// let f = SafeFile::from_bytes("in-memory", b.clone())?;
    /// assert_eq!(f.tensor("w")?.data, vec![3, 4]);
    /// b.pop(); // truncated: an error, not a panic
    /// assert!(SafeFile::from_bytes("in-memory", b).is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn from_bytes(name: impl AsRef<Path>, bytes: Vec<u8>) -> Result<SafeFile, Error> {
        SafeFile::validate(name.as_ref().to_path_buf(), Bytes::Owned(bytes))
    }

    fn validate(path: PathBuf, bytes: Bytes) -> Result<SafeFile, Error> {
        let bad = |e: SafeTensorError| {
            Error::file(&path, None, format!("not a valid safetensors file: {e}"))
        };
        // `read_metadata` (which `deserialize` is built on) parses the header
        // once and checks dtypes, shapes against byte sizes, contiguous
        // offsets and that the data section ends exactly at the buffer's end.
        let (n, header) = SafeTensors::read_metadata(&bytes).map_err(bad)?;
        Ok(SafeFile {
            data_start: 8 + n,
            path,
            bytes,
            header,
        })
    }

    /// A tensor's header entry and bytes; errors if it is missing.
    fn entry(&self, name: &str) -> Result<(&TensorInfo, &[u8]), Error> {
        let info = self
            .header
            .info(name)
            .ok_or_else(|| Error::file(&self.path, Some(name), "no such tensor"))?;
        let (a, b) = info.data_offsets;
        // Validated in `validate`; checked again so that no index can panic.
        let data = self
            .data_start
            .checked_add(a)
            .zip(self.data_start.checked_add(b))
            .and_then(|(a, b)| self.bytes.get(a..b))
            .ok_or_else(|| Error::file(&self.path, Some(name), "data offsets out of range"))?;
        Ok((info, data))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tensor names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.header.tensors().into_keys().collect();
        n.sort();
        n
    }

    /// The `__metadata__` map of the header (empty if none).
    pub fn metadata(&self) -> HashMap<String, String> {
        self.header.metadata().clone().unwrap_or_default()
    }

    /// The dtype (as the file names it) and shape of a tensor, without
    /// copying its data.
    pub fn info(&self, name: &str) -> Result<(String, Vec<usize>), Error> {
        let (info, _) = self.entry(name)?;
        Ok((format!("{:?}", info.dtype), info.shape.clone()))
    }

    /// Bytes of a tensor's data.
    pub fn nbytes(&self, name: &str) -> Result<usize, Error> {
        Ok(self.entry(name)?.1.len())
    }

    /// A copy of one tensor. Errors if it is missing or of a dtype this crate
    /// does not handle (the message names the dtype).
    pub fn tensor(&self, name: &str) -> Result<Tensor, Error> {
        let (info, data) = self.entry(name)?;
        let dtype = from_st(info.dtype).ok_or_else(|| {
            Error::file(
                &self.path,
                Some(name),
                format!("unsupported dtype {:?}", info.dtype),
            )
        })?;
        Tensor::new(dtype, info.shape.clone(), data.to_vec())
            .map_err(|e| e.in_file(&self.path, Some(name)))
    }

    /// The raw bytes, dtype and shape of a tensor of any dtype, for copying
    /// it unchanged.
    pub fn raw(&self, name: &str) -> Result<RawTensor, Error> {
        let (info, data) = self.entry(name)?;
        Ok(RawTensor {
            dtype: info.dtype,
            shape: info.shape.clone(),
            data: data.to_vec(),
        })
    }
}

/// A tensor of any safetensors dtype, copied byte for byte.
#[derive(Clone, Debug, PartialEq)]
pub struct RawTensor {
    /// The dtype as safetensors names it.
    pub dtype: Dtype,
    /// Shape.
    pub shape: Vec<usize>,
    /// Bytes.
    pub data: Vec<u8>,
}

/// What can be written: a decoded [`Tensor`] or a [`RawTensor`].
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    /// A tensor of a [`DType`].
    Tensor(Tensor),
    /// A tensor copied unchanged.
    Raw(RawTensor),
}

impl From<Tensor> for Entry {
    fn from(t: Tensor) -> Entry {
        Entry::Tensor(t)
    }
}

impl From<RawTensor> for Entry {
    fn from(t: RawTensor) -> Entry {
        Entry::Raw(t)
    }
}

/// Writes named tensors (and optional `__metadata__`) to `path`,
/// atomically. Errors on a duplicate name.
///
/// ```
/// use blockscale::io::{DType, Tensor, st};
/// let path = std::env::temp_dir().join(format!("bs-st-w-{}.safetensors", std::process::id()));
/// let t = Tensor::from_f32(DType::F32, vec![1], &[1.0])?;
/// assert!(st::write(&path, &[("a".into(), t.clone()), ("a".into(), t)], None).is_err());
/// assert!(!path.exists());
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn write(
    path: impl AsRef<Path>,
    tensors: &[(String, Tensor)],
    metadata: Option<HashMap<String, String>>,
) -> Result<(), Error> {
    let entries: Vec<(String, Entry)> = tensors
        .iter()
        .map(|(n, t)| (n.clone(), Entry::Tensor(t.clone())))
        .collect();
    write_entries(path, &entries, metadata)
}

/// [`write()`] for a mix of decoded and raw tensors.
pub fn write_entries(
    path: impl AsRef<Path>,
    tensors: &[(String, Entry)],
    metadata: Option<HashMap<String, String>>,
) -> Result<(), Error> {
    let path = path.as_ref();
    let mut seen = std::collections::HashSet::new();
    let mut views = Vec::with_capacity(tensors.len());
    for (name, e) in tensors {
        if !seen.insert(name.as_str()) {
            return Err(Error::file(path, Some(name), "duplicate tensor name"));
        }
        let (dtype, shape, data) = match e {
            Entry::Tensor(t) => (to_st(t.dtype), &t.shape, &t.data),
            Entry::Raw(r) => (r.dtype, &r.shape, &r.data),
        };
        let v = TensorView::new(dtype, shape.clone(), data)
            .map_err(|e| Error::file(path, Some(name), e.to_string()))?;
        views.push((name.as_str(), v));
    }
    let bytes = safetensors::tensor::serialize(views, metadata)
        .map_err(|e| Error::file(path, None, e.to_string()))?;
    write_atomic(path, |w| put(w, path, &bytes))
}
