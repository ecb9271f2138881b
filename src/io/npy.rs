//! `.npy` files (NumPy format versions 1, 2 and 3), as NumPy and ml_dtypes
//! write them.
//!
//! A small reader and writer of our own rather than an npy crate: the
//! format is a magic string, a Python-dict header and raw bytes, and the
//! arrays this crate meets are the ones ml_dtypes saves, whose dtypes NumPy
//! records as opaque `<V2` (bfloat16), `<V1` (float8_e4m3fn, float4_e2m1fn,
//! float8_e8m0fnu, one byte per element) or `<f1` (float8_e5m2), which
//! generic npy crates reject. Reading maps `<V2` to [`DType::BF16`] (the
//! only 2-byte ml_dtypes type NumPy does not know), `<f1` to
//! [`DType::F8E5M2`] and `<V1` to [`DType::Raw8`] for the caller to
//! [`Tensor::reinterpret`]; writing uses the same descriptors, so
//! `np.load(f).view(ml_dtypes.bfloat16)` reads what this writes.

use super::{DType, Tensor, put, write_atomic};
use crate::Error;
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";

fn descr(d: DType) -> &'static str {
    match d {
        DType::F64 => "<f8",
        DType::F32 => "<f4",
        DType::F16 => "<f2",
        DType::BF16 => "<V2",
        DType::F8E5M2 => "<f1",
        DType::F8E4M3 | DType::F8E8M0 | DType::Raw8 => "<V1",
        DType::U8 => "|u1",
        DType::I8 => "|i1",
    }
}

fn parse_descr(s: &str) -> Option<DType> {
    Some(match s {
        "<f8" => DType::F64,
        "<f4" => DType::F32,
        "<f2" => DType::F16,
        "<V2" | "|V2" => DType::BF16,
        "<f1" | "|f1" => DType::F8E5M2,
        "<V1" | "|V1" => DType::Raw8,
        "|u1" | "<u1" => DType::U8,
        "|i1" | "<i1" => DType::I8,
        _ => return None,
    })
}

/// Reads a `.npy` file (memory-mapped, then copied into the tensor).
///
/// Errors ([`Error::File`], naming the file) on a missing magic string, an
/// unknown version, a truncated or malformed header, an unsupported dtype
/// (big-endian, or any type not in [`DType`]), Fortran order, or data
/// shorter or longer than the shape says.
///
/// ```
/// use blockscale::io::{DType, Tensor, npy};
/// let dir = std::env::temp_dir().join(format!("bs-npy-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("x.npy");
/// let t = Tensor::from_f32(DType::F32, vec![2, 2], &[1.0, 2.0, 3.0, 4.0])?;
/// npy::write(&path, &t)?;
/// assert_eq!(npy::read(&path)?, t);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn read(path: impl AsRef<Path>) -> Result<Tensor, Error> {
    let path = path.as_ref();
    let map = super::map(path)?;
    parse(&map).map_err(|m| Error::file(path, None, m))
}

/// Parses the bytes of a `.npy` file already in memory (from a network
/// buffer, an archive, a fuzzer), with the same checks as [`read`].
///
/// Errors: [`Error::InvalidArgument`] with the same messages [`read`] gives.
///
/// ```
/// use blockscale::io::{DType, npy};
/// let mut b = b"\x93NUMPY\x01\x00".to_vec();
/// let header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }";
/// b.extend_from_slice(&(header.len() as u16).to_le_bytes());
/// b.extend_from_slice(header.as_bytes());
/// b.extend_from_slice(&[7, 9]);
/// let t = npy::from_bytes(&b)?;
/// assert_eq!((t.dtype, t.shape.clone(), t.data.clone()), (DType::U8, vec![2], vec![7, 9]));
/// assert!(npy::from_bytes(&b[..b.len() - 1]).is_err()); // one byte short
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn from_bytes(bytes: &[u8]) -> Result<Tensor, Error> {
    parse(bytes).map_err(Error::InvalidArgument)
}

/// Parses `.npy` bytes.
fn parse(b: &[u8]) -> Result<Tensor, String> {
    if b.len() < 10 || &b[..6] != MAGIC {
        return Err("not a .npy file (no \\x93NUMPY magic)".into());
    }
    let (hlen, start): (usize, usize) = match b[6] {
        1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
        2 | 3 => {
            if b.len() < 12 {
                return Err("truncated header".into());
            }
            (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
        }
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = b
        .get(start..start.saturating_add(hlen))
        .ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not text")?;
    let field = |key: &str| -> Result<&str, String> {
        let pat = format!("'{key}':");
        let at = header.find(&pat).ok_or(format!("header has no '{key}'"))?;
        Ok(header[at + pat.len()..].trim_start())
    };
    let d = field("descr")?;
    let d = d
        .strip_prefix('\'')
        .and_then(|r| r.split('\'').next())
        .ok_or("malformed 'descr'")?;
    let dtype = parse_descr(d).ok_or(format!("unsupported dtype '{d}'"))?;
    if field("fortran_order")?.starts_with("True") {
        return Err(
            "Fortran-order arrays are not supported (save with np.ascontiguousarray)".into(),
        );
    }
    let sh = field("shape")?;
    let sh = sh
        .strip_prefix('(')
        .and_then(|r| r.split(')').next())
        .ok_or("malformed 'shape'")?;
    let shape = sh
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("malformed shape entry '{s}'"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let data = &b[start + hlen..];
    let want = shape
        .iter()
        .try_fold(dtype.size(), |a, &d| a.checked_mul(d))
        .ok_or("shape overflows usize")?;
    if data.len() != want {
        return Err(format!(
            "data has {} bytes, shape {shape:?} of {} needs {want}",
            data.len(),
            dtype.name()
        ));
    }
    Tensor::new(dtype, shape, data.to_vec()).map_err(|e| e.to_string())
}

/// Writes `t` as a version-1 `.npy` file (header padded to 64 bytes, as
/// NumPy does), atomically (see [`crate::io`]). `f8e4m3` and `f8e8m0` are
/// written as `<V1` and `bf16` as `<V2`, exactly as ml_dtypes' arrays are.
///
/// ```
/// use blockscale::io::{DType, Tensor, npy};
/// let path = std::env::temp_dir().join(format!("bs-npy-w-{}.npy", std::process::id()));
/// npy::write(&path, &Tensor::from_f32(DType::BF16, vec![3], &[1.0, 2.0, 3.0])?)?;
/// assert_eq!(npy::read(&path)?.dtype, DType::BF16);
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn write(path: impl AsRef<Path>, t: &Tensor) -> Result<(), Error> {
    let path = path.as_ref();
    let bytes = to_bytes(t).map_err(|e| e.in_file(path, None))?;
    write_atomic(path, |w| put(w, path, &bytes))
}

/// The bytes [`write()`] puts in a file: a version-1 header padded to 64
/// bytes, then the data.
///
/// Errors ([`Error::LengthMismatch`] or [`Error::InvalidArgument`]) if the
/// tensor's data does not hold exactly `numel · size` bytes (its fields are
/// public, so it may have been built without [`Tensor::new`]), or if the
/// shape does not fit a version-1 header.
///
/// ```
/// use blockscale::io::{DType, Tensor, npy};
/// let t = Tensor::new(DType::I8, vec![2, 1], vec![0xFF, 1])?;
/// let b = npy::to_bytes(&t)?;
/// assert_eq!(b.len() % 64, 2); // 64-byte header, 2 bytes of data
/// assert_eq!(npy::from_bytes(&b)?, t);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn to_bytes(t: &Tensor) -> Result<Vec<u8>, Error> {
    t.validate()?;
    let shape = match t.shape.len() {
        1 => format!("({},)", t.shape[0]),
        _ => format!(
            "({})",
            t.shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        descr(t.dtype)
    );
    // magic (6) + version (2) + length (2) + header + '\n' ≡ 0 (mod 64)
    let pad = (64 - (10 + header.len() + 1) % 64) % 64;
    header.extend(std::iter::repeat_n(' ', pad));
    header.push('\n');
    let hlen = u16::try_from(header.len())
        .map_err(|_| Error::InvalidArgument("shape too long for a .npy header".into()))?;
    let mut out = Vec::with_capacity(10 + header.len() + t.data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&hlen.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&t.data);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes NumPy 2.x wrote for `np.save(f, np.arange(6, dtype='<f4').reshape(2, 3))`
    /// (header as NumPy formats it).
    #[test]
    fn reads_what_numpy_writes() {
        let mut b = b"\x93NUMPY\x01\x00v\x00".to_vec();
        let mut h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }".to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        assert_eq!(h.len(), 0x76);
        b.extend(h.as_bytes());
        for i in 0..6 {
            b.extend((i as f32).to_le_bytes());
        }
        let t = parse(&b).unwrap();
        assert_eq!(t.shape, vec![2, 3]);
        assert_eq!(t.to_f32().unwrap(), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        // Truncations at every length are errors, never panics.
        for n in 0..b.len() {
            assert!(parse(&b[..n]).is_err(), "{n}");
        }
        let h = b"{'descr': '<f8', 'fortran_order': False, 'shape': (), }\n";
        let mut scalar = b"\x93NUMPY\x01\x00".to_vec();
        scalar.extend((h.len() as u16).to_le_bytes());
        scalar.extend(h);
        scalar.extend(2.5f64.to_le_bytes());
        assert_eq!(parse(&scalar).unwrap().to_f32().unwrap(), vec![2.5]);
    }
}
