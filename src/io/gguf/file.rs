//! The container: reading and writing a whole file.

use super::*;
use super::{put, write_atomic};
use crate::Error;
use std::path::Path;

pub(super) fn pad(n: usize, align: usize) -> usize {
    n.div_ceil(align) * align
}

pub(super) fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Writes `file` to `path` atomically (through a temporary file renamed
/// into place). Errors as [`GgufFile::to_bytes`], naming the file.
///
/// ```
/// use blockscale::io::gguf::{self, GgufFile, GgufTensor, Value};
/// let path = std::env::temp_dir().join(format!("bs-gguf-w-{}.gguf", std::process::id()));
/// let f = GgufFile {
///     metadata: vec![("general.architecture".into(), Value::String("llama".into()))],
///     tensors: vec![GgufTensor::f32("a", vec![1], &[1.0])?, GgufTensor::f32("a", vec![1], &[2.0])?],
/// };
/// assert!(gguf::write(&path, &f).is_err()); // duplicate name
/// assert!(!path.exists());
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn write(path: impl AsRef<Path>, file: &GgufFile) -> Result<(), Error> {
    let path = path.as_ref();
    let bytes = file.to_bytes().map_err(|e| e.in_file(path, None))?;
    write_atomic(path, |w| put(w, path, &bytes))
}

/// Reads a GGUF v3 file.
///
/// Errors ([`Error::File`], naming the file and the tensor concerned) for a
/// file that is missing, truncated anywhere, not GGUF (bad magic), of
/// another version, with counts the file's length cannot hold, a key or
/// tensor name that is duplicated or not UTF-8, an unknown value or ggml
/// type, a bad `general.alignment`, dimensions whose product overflows or
/// that are not whole blocks, or tensor data that is misaligned or lies
/// outside the file. Nothing is allocated beyond what the file's own length
/// bounds.
///
/// ```
/// use blockscale::io::gguf::{self, GgufFile, GgufTensor};
/// let path = std::env::temp_dir().join(format!("bs-gguf-r-{}.gguf", std::process::id()));
/// let f = GgufFile { metadata: vec![], tensors: vec![GgufTensor::f32("s", vec![1], &[3.0])?] };
/// gguf::write(&path, &f)?;
/// assert_eq!(gguf::read(&path)?, f);
/// std::fs::write(&path, b"GGUF\x02\0\0\0").unwrap();
/// assert!(gguf::read(&path).unwrap_err().to_string().contains("version 2"));
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn read(path: impl AsRef<Path>) -> Result<GgufFile, Error> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "read", e))?;
    parse(path, &bytes)
}

/// A reader over a file's bytes whose every read is bounds-checked.
pub(super) struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn err(&self, tensor: Option<&str>, msg: impl Into<String>) -> Error {
        Error::file(self.path, tensor, msg.into())
    }

    fn left(&self) -> usize {
        self.b.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str, tensor: Option<&str>) -> Result<&'a [u8], Error> {
        if n > self.left() {
            return Err(self.err(
                tensor,
                format!(
                    "truncated: {what} at byte {} needs {n} bytes, {} are left",
                    self.pos,
                    self.left()
                ),
            ));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &str, t: Option<&str>) -> Result<[u8; N], Error> {
        let s = self.take(N, what, t)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u32(&mut self, what: &str, t: Option<&str>) -> Result<u32, Error> {
        self.array(what, t).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &str, t: Option<&str>) -> Result<u64, Error> {
        self.array(what, t).map(u64::from_le_bytes)
    }

    /// A count of items of at least `min` bytes each, checked against the
    /// bytes left so that no allocation exceeds the file.
    fn count(&mut self, min: usize, what: &str, t: Option<&str>) -> Result<usize, Error> {
        let n = self.u64(what, t)?;
        match usize::try_from(n) {
            Ok(n) if n.checked_mul(min).is_some_and(|b| b <= self.left()) => Ok(n),
            _ => Err(self.err(
                t,
                format!(
                    "{what} is {n}, more than the {} bytes left can hold",
                    self.left()
                ),
            )),
        }
    }

    fn string(&mut self, what: &str, t: Option<&str>) -> Result<String, Error> {
        let n = self.count(1, &format!("{what} length"), t)?;
        let s = self.take(n, what, t)?;
        String::from_utf8(s.to_vec()).map_err(|_| self.err(t, format!("{what} is not UTF-8")))
    }

    fn value_type(&mut self, what: &str) -> Result<ValueType, Error> {
        let id = self.u32(what, None)?;
        ValueType::ALL
            .get(id as usize)
            .copied()
            .ok_or_else(|| self.err(None, format!("{what}: unknown value type {id}")))
    }

    fn value(&mut self, t: ValueType, key: &str) -> Result<Value, Error> {
        let what = format!("metadata {key:?}");
        let w = what.as_str();
        Ok(match t {
            ValueType::U8 => Value::U8(self.array::<1>(w, None)?[0]),
            ValueType::I8 => Value::I8(i8::from_le_bytes(self.array(w, None)?)),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.array(w, None)?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.array(w, None)?)),
            ValueType::U32 => Value::U32(self.u32(w, None)?),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.array(w, None)?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.array(w, None)?)),
            ValueType::Bool => match self.array::<1>(w, None)?[0] {
                b @ (0 | 1) => Value::Bool(b == 1),
                b => return Err(self.err(None, format!("{what}: bool byte {b}"))),
            },
            ValueType::String => Value::String(self.string(w, None)?),
            ValueType::U64 => Value::U64(self.u64(w, None)?),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.array(w, None)?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.array(w, None)?)),
            ValueType::Array => {
                let et = self.value_type(&format!("{what} element type"))?;
                if et == ValueType::Array {
                    return Err(self.err(None, format!("{what}: nested arrays are not supported")));
                }
                let n = self.count(et.min_size(), &format!("{what} array length"), None)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(et, key)?);
                }
                Value::Array(et, items)
            }
        })
    }
}

/// A tensor info as the file gives it.
pub(super) struct Info {
    name: String,
    shape: Vec<usize>,
    ggml_type: GgmlType,
    offset: u64,
}

pub(super) fn parse(path: &Path, bytes: &[u8]) -> Result<GgufFile, Error> {
    let mut c = Cursor {
        b: bytes,
        pos: 0,
        path,
    };
    let magic = c.array::<4>("magic", None)?;
    if magic != MAGIC {
        return Err(c.err(None, format!("not a GGUF file (magic {magic:02x?})")));
    }
    let version = c.u32("version", None)?;
    if version != VERSION {
        return Err(c.err(
            None,
            format!("GGUF version {version}; only version {VERSION} is read"),
        ));
    }
    // The smallest tensor info: empty name, one dimension, type and offset.
    let n_tensors = c.count(8 + 4 + 8 + 4 + 8, "tensor count", None)?;
    // The smallest key/value: empty key, type, one byte.
    let n_kv = c.count(8 + 4 + 1, "metadata count", None)?;
    let mut metadata = Vec::with_capacity(n_kv);
    let mut keys = std::collections::HashSet::new();
    for _ in 0..n_kv {
        let key = c.string("metadata key", None)?;
        if !keys.insert(key.clone()) {
            return Err(c.err(None, format!("duplicate metadata key {key:?}")));
        }
        let t = c.value_type(&format!("metadata {key:?} type"))?;
        let v = c.value(t, &key)?;
        metadata.push((key, v));
    }
    let mut file = GgufFile {
        metadata,
        tensors: Vec::new(),
    };
    let align = file.alignment().map_err(|e| e.in_file(path, None))?;
    let mut infos = Vec::with_capacity(n_tensors);
    let mut names = std::collections::HashSet::new();
    for _ in 0..n_tensors {
        let name = c.string("tensor name", None)?;
        let t = Some(name.as_str());
        if name.len() >= MAX_NAME {
            return Err(c.err(
                t,
                format!("name is {} bytes; ggml allows {}", name.len(), MAX_NAME - 1),
            ));
        }
        if !names.insert(name.clone()) {
            return Err(c.err(t, "duplicate tensor name"));
        }
        let n_dims = c.u32("dimension count", t)? as usize;
        if n_dims == 0 || n_dims > MAX_DIMS {
            return Err(c.err(
                t,
                format!("{n_dims} dimensions; GGUF tensors have 1 to {MAX_DIMS}"),
            ));
        }
        let mut shape = Vec::with_capacity(n_dims);
        let mut numel: u64 = 1;
        for _ in 0..n_dims {
            let d = c.u64("dimension", t)?;
            // gguf.cpp: every ne fits int64_t and so does their product.
            numel = numel
                .checked_mul(d)
                .filter(|&n| n <= i64::MAX as u64)
                .ok_or_else(|| c.err(t, "the dimensions' product overflows"))?;
            shape.push(usize::try_from(d).map_err(|_| c.err(t, "a dimension overflows usize"))?);
        }
        shape.reverse();
        let id = c.u32("ggml type", t)?;
        let ggml_type = GgmlType::from_id(id)
            .ok_or_else(|| c.err(t, format!("ggml type {id} is not one this reader decodes")))?;
        let offset = c.u64("data offset", t)?;
        if !offset.is_multiple_of(align as u64) {
            return Err(c.err(
                t,
                format!("data offset {offset} is not a multiple of the alignment {align}"),
            ));
        }
        infos.push(Info {
            name,
            shape,
            ggml_type,
            offset,
        });
    }
    let start = pad(c.pos, align);
    for info in infos {
        let t = Some(info.name.as_str());
        let n = info
            .ggml_type
            .nbytes(&info.shape)
            .map_err(|e| e.in_file(path, t))?;
        let range = usize::try_from(info.offset)
            .ok()
            .and_then(|o| start.checked_add(o))
            .and_then(|a| Some(a..a.checked_add(n)?))
            .filter(|r| r.end <= bytes.len())
            .ok_or_else(|| {
                c.err(
                    t,
                    format!(
                        "data at offset {} ({n} bytes, {:?} {:?}) lies outside the file's {} bytes of data",
                        info.offset,
                        info.ggml_type,
                        info.shape,
                        bytes.len().saturating_sub(start)
                    ),
                )
            })?;
        file.tensors.push(GgufTensor {
            name: info.name,
            shape: info.shape,
            ggml_type: info.ggml_type,
            data: bytes[range].to_vec(),
        });
    }
    Ok(file)
}
