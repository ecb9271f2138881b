//! GGUF files (llama.cpp's and the `gguf` Python package's format) holding
//! MXFP4 (ggml type 39) and NVFP4 (ggml type 40) tensors.
//!
//! # The container
//!
//! GGUF v3, little-endian, as `gguf-py/gguf/gguf_writer.py` writes it and
//! `ggml/src/gguf.cpp` reads it (llama.cpp):
//!
//! 1. header: magic `GGUF`, `u32` version 3, `u64` tensor count, `u64`
//!    metadata count;
//! 2. metadata: key (`u64` length + UTF-8 bytes), `u32` value type, value
//!    ([`Value`]; an array is `u32` element type, `u64` count, elements);
//! 3. tensor infos: name, `u32` dimension count (1 to 4), `u64` dimensions
//!    in ggml order (`ne`, innermost first), `u32` ggml type, `u64` offset
//!    into the data section (a multiple of the alignment);
//! 4. zero padding to the alignment (`general.alignment`, a `u32` power of
//!    two, default 32), then each tensor's data, each padded to the
//!    alignment.
//!
//! # The blocks
//!
//! Both formats store E2M1 codes against ggml's table of *doubled* E2M1
//! values, `kvalues_mxfp4 = {0, 1, 2, 3, 4, 6, 8, 12, 0, −1, …, −12}`
//! (`ggml/src/ggml-common.h`), with scale decoders that halve
//! (`ggml/src/ggml-impl.h`). Code 8 (E2M1 −0) is +0 in that table, so ggml
//! reads this crate's −0 as +0; every other value is the same number.
//!
//! - **MXFP4** (`block_mxfp4`, 17 bytes per 32 elements): `e` (E8M0 byte),
//!   then `qs[16]`; element `j < 16` is the low nibble of `qs[j]` and element
//!   `j + 16` the high nibble of `qs[j]`. Value (`dequantize_row_mxfp4` in
//!   `ggml/src/ggml-quants.c`, `MXFP4` in `gguf-py/gguf/quants.py`):
//!   `kvalues[q] · d` with `d = ggml_e8m0_to_fp32_half(e) = 2^(e − 128)`
//!   (the bits `0x00200000 << e` for `e < 2`). Both factors are exact, so this
//!   is `e2m1 · 2^(e − 127)`, this crate's value, except that ggml has no NaN:
//!   `e = 255` reads as `2^127`.
//! - **NVFP4** (`block_nvfp4`, 36 bytes per 64 elements): `d[4]`, one UE4M3
//!   scale per 16-element sub-block, then `qs[32]`; in sub-block `s`,
//!   element `j < 8` is the low nibble of `qs[8s + j]` and element `j + 8`
//!   its high nibble. Value (`dequantize_row_nvfp4`, `gguf-py` `NVFP4`):
//!   `kvalues[q] · ggml_ue4m3_to_fp32(d[s])`, where `ggml_ue4m3_to_fp32(x)`
//!   is 0 for `x` = 0 or 0x7F and otherwise `0.5 · (1 + m/8) · 2^(e − 7)`
//!   (`0.5 · m · 2⁻⁹` for `e = 0`), `e = (x >> 3) & 15`, `m = x & 7`: bit 7
//!   is ignored. The product is exact: `e2m1 · E4M3(d[s])`.
//!
//! # The NVFP4 per-tensor scale
//!
//! A ggml block has no room for the second-level scale. llama.cpp's
//! converter (`conversion/base.py`, `_nvfp4_pack` and `_repack_nvfp4`) copies
//! Model-Optimizer's E4M3 block-scale bits with the sign bit cleared and
//! writes `weight_scale_2` beside the weight as an F32 tensor named like the
//! weight with `.weight` replaced by `.scale` (shape `[1]`; `[experts]` for
//! an expert stack; left out when it is 1). llama.cpp multiplies the matrix
//! product's output by it (`build_lora_mm` in `src/llama-graph.cpp`:
//! `ggml_mul(ggml_mul_mat(w, x), w_s)`), so the weight it computes with is
//! `f32(e2m1 · s) · w`: the exact block value times `w`, rounded once.
//! This crate's NVFP4 values are `e2m1 · f32(s · w)` (or Transformer
//! Engine's `e2m1 · f32(f32(s · A) · (1/2688))`), rounded twice, so the two
//! can differ by one unit in the last place; [`dequantize_nvfp4`] follows
//! ggml and [`QuantizedTensor::dequantize`](crate::tensor::QuantizedTensor::dequantize) this crate.
//!
//! ```
//! use blockscale::format::MxFp4;
//! use blockscale::io::gguf::{self, GgufFile, Value};
//! use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
//!
//! let x: Vec<f32> = (0..2 * 64).map(|i| (i as f32 * 0.37).sin() * 5.0).collect();
//! let q = QuantizedTensor::quantize(MxFp4::default(), &x, 2, 64, &QuantizeOptions::default())?;
//! let file = GgufFile {
//!     metadata: vec![("general.architecture".into(), Value::String("llama".into()))],
//!     tensors: gguf::gguf_tensors_mxfp4("blk.0.ffn_up.weight", &q)?,
//! };
//! let path = std::env::temp_dir().join(format!("bs-gguf-mod-{}.gguf", std::process::id()));
//! gguf::write(&path, &file)?;
//! let back = gguf::read(&path)?;
//! assert_eq!(back, file);
//! let t = back.tensor("blk.0.ffn_up.weight").unwrap();
//! assert_eq!(t.shape, vec![2, 64]);
//! let y = gguf::dequantize_tensor(t, None)?;
//! // The crate's values, with −0 read as +0 as ggml reads it.
//! assert!(y.iter().zip(q.dequantize()).all(|(a, b)| a.to_bits() == (b + 0.0).to_bits()));
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), blockscale::Error>(())
//! ```

use super::{put, write_atomic};
use crate::Error;
use std::path::Path;

mod blocks;
mod file;
mod tensors;
mod value;

pub use blocks::*;
pub use file::*;
pub use tensors::*;
pub use value::*;

/// The magic bytes every GGUF file starts with.
pub const MAGIC: [u8; 4] = *b"GGUF";
/// The GGUF version this module writes and reads.
pub const VERSION: u32 = 3;
/// The alignment of the data section and of each tensor when the metadata
/// has no `general.alignment` (`GGUF_DEFAULT_ALIGNMENT`).
pub const DEFAULT_ALIGNMENT: u32 = 32;
/// The metadata key that sets the alignment.
pub const ALIGNMENT_KEY: &str = "general.alignment";
/// At most this many dimensions (`GGML_MAX_DIMS`).
pub const MAX_DIMS: usize = 4;
/// Tensor names are shorter than this many bytes (`GGML_MAX_NAME`, which
/// counts the C string's terminating zero).
pub const MAX_NAME: usize = 64;

/// ggml's doubled E2M1 values (`kvalues_mxfp4`): code 8 is +0.
pub(super) const KVALUES: [f32; 16] = [
    0., 1., 2., 3., 4., 6., 8., 12., 0., -1., -2., -3., -4., -6., -8., -12.,
];

/// A ggml tensor type (`enum ggml_type` in `ggml/include/ggml.h`,
/// `GGMLQuantizationType` in `gguf-py/gguf/constants.py`). Only the types
/// this module can size and decode are listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GgmlType {
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
    /// 8-bit signed integer.
    I8,
    /// 16-bit signed integer.
    I16,
    /// 32-bit signed integer.
    I32,
    /// 64-bit signed integer.
    I64,
    /// IEEE binary64.
    F64,
    /// bfloat16.
    BF16,
    /// MXFP4: `block_mxfp4`, 32 elements in 17 bytes.
    MXFP4,
    /// NVFP4: `block_nvfp4`, 64 elements in 36 bytes.
    NVFP4,
}

impl GgmlType {
    /// Every type, in id order.
    pub const ALL: &'static [GgmlType] = &[
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::I8,
        GgmlType::I16,
        GgmlType::I32,
        GgmlType::I64,
        GgmlType::F64,
        GgmlType::BF16,
        GgmlType::MXFP4,
        GgmlType::NVFP4,
    ];

    /// The type's number in a GGUF file.
    ///
    /// ```
    /// use blockscale::io::gguf::GgmlType;
    /// assert_eq!((GgmlType::MXFP4.id(), GgmlType::NVFP4.id()), (39, 40));
    /// ```
    pub const fn id(self) -> u32 {
        match self {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::I8 => 24,
            GgmlType::I16 => 25,
            GgmlType::I32 => 26,
            GgmlType::I64 => 27,
            GgmlType::F64 => 28,
            GgmlType::BF16 => 30,
            GgmlType::MXFP4 => 39,
            GgmlType::NVFP4 => 40,
        }
    }

    /// The type with number `id`, if this module knows it.
    ///
    /// ```
    /// use blockscale::io::gguf::GgmlType;
    /// assert_eq!(GgmlType::from_id(30), Some(GgmlType::BF16));
    /// assert_eq!(GgmlType::from_id(2), None); // Q4_0: not handled here
    /// ```
    pub fn from_id(id: u32) -> Option<GgmlType> {
        GgmlType::ALL.iter().copied().find(|t| t.id() == id)
    }

    /// Elements per block (`GGML_QUANT_SIZES[t][0]`): 1 for plain types.
    ///
    /// ```
    /// use blockscale::io::gguf::GgmlType;
    /// assert_eq!(GgmlType::NVFP4.block_size(), 64);
    /// ```
    pub const fn block_size(self) -> usize {
        match self {
            GgmlType::MXFP4 => 32,
            GgmlType::NVFP4 => 64,
            _ => 1,
        }
    }

    /// Bytes per block (`GGML_QUANT_SIZES[t][1]`).
    ///
    /// ```
    /// use blockscale::io::gguf::GgmlType;
    /// assert_eq!((GgmlType::MXFP4.type_size(), GgmlType::NVFP4.type_size()), (17, 36));
    /// ```
    pub const fn type_size(self) -> usize {
        match self {
            GgmlType::I8 => 1,
            GgmlType::F16 | GgmlType::BF16 | GgmlType::I16 => 2,
            GgmlType::F32 | GgmlType::I32 => 4,
            GgmlType::F64 | GgmlType::I64 => 8,
            GgmlType::MXFP4 => 17,
            GgmlType::NVFP4 => 36,
        }
    }

    /// The bytes of a tensor of this type and `shape` (row-major): the
    /// innermost dimension must be whole blocks. Errors on a partial block
    /// or a size that overflows.
    ///
    /// ```
    /// use blockscale::io::gguf::GgmlType;
    /// assert_eq!(GgmlType::MXFP4.nbytes(&[3, 64])?, 3 * 2 * 17);
    /// assert!(GgmlType::NVFP4.nbytes(&[3, 32]).is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn nbytes(self, shape: &[usize]) -> Result<usize, Error> {
        let inner = shape.last().copied().unwrap_or(1);
        if !inner.is_multiple_of(self.block_size()) {
            return Err(Error::NotWholeBlocks {
                what: format!("{self:?}"),
                // The outer dimensions flattened, for the message.
                shape: (
                    shape[..shape.len().saturating_sub(1)]
                        .iter()
                        .fold(1usize, |a, &d| a.saturating_mul(d)),
                    inner,
                ),
                block: (1, self.block_size()),
            });
        }
        let overflow = || Error::ShapeOverflow {
            what: "GGUF tensor",
            shape: shape.to_vec(),
        };
        let rows = shape[..shape.len().saturating_sub(1)]
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(overflow)?;
        (inner / self.block_size())
            .checked_mul(self.type_size())
            .and_then(|b| b.checked_mul(rows))
            .ok_or_else(overflow)
    }
}

/// A tensor of a GGUF file.
///
/// `shape` is row-major (NumPy's order, outermost first), as
/// `gguf-py`'s `GGUFReader` reports it and as this crate's matrices are
/// `[rows, cols]`; the file stores ggml's `ne`, the same dimensions
/// reversed (innermost first), so `ne[0]` is the row length, the axis the
/// blocks run along.
#[derive(Clone, Debug, PartialEq)]
pub struct GgufTensor {
    /// The name (shorter than [`MAX_NAME`] bytes).
    pub name: String,
    /// The shape, outermost first (1 to 4 dimensions).
    pub shape: Vec<usize>,
    /// The element type.
    pub ggml_type: GgmlType,
    /// The bytes: [`GgmlType::nbytes`] of the shape.
    pub data: Vec<u8>,
}

impl GgufTensor {
    /// An F32 tensor of `values`.
    ///
    /// ```
    /// use blockscale::io::gguf::GgufTensor;
    /// let t = GgufTensor::f32("w.scale", vec![1], &[0.5])?;
    /// assert_eq!(t.data, 0.5f32.to_le_bytes());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn f32(name: &str, shape: Vec<usize>, values: &[f32]) -> Result<GgufTensor, Error> {
        let t = GgufTensor {
            name: name.to_string(),
            shape,
            ggml_type: GgmlType::F32,
            data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        };
        t.validate()?;
        Ok(t)
    }

    /// Checks the name's length, the number of dimensions, whole blocks
    /// along the innermost one and the data's length.
    ///
    /// ```
    /// use blockscale::io::gguf::{GgmlType, GgufTensor};
    /// let t = GgufTensor { name: "w".into(), shape: vec![2, 32], ggml_type: GgmlType::MXFP4, data: vec![0; 33] };
    /// assert!(t.validate().is_err()); // two blocks are 34 bytes
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        if self.name.len() >= MAX_NAME {
            return Err(Error::InvalidArgument(format!(
                "tensor name {:?} is {} bytes; ggml allows at most {}",
                self.name,
                self.name.len(),
                MAX_NAME - 1
            )));
        }
        if self.shape.is_empty() || self.shape.len() > MAX_DIMS {
            return Err(Error::InvalidArgument(format!(
                "tensor {}: {} dimensions; GGUF tensors have 1 to {MAX_DIMS}",
                self.name,
                self.shape.len()
            )));
        }
        let want = self.ggml_type.nbytes(&self.shape)?;
        crate::error::check_len("tensor data (bytes)", want, self.data.len())
    }

    /// ggml's `ne`: the shape reversed, innermost first.
    ///
    /// ```
    /// use blockscale::io::gguf::{GgmlType, GgufTensor};
    /// let t = GgufTensor { name: "w".into(), shape: vec![3, 64], ggml_type: GgmlType::NVFP4, data: vec![0; 108] };
    /// assert_eq!(t.ne(), vec![64, 3]);
    /// ```
    pub fn ne(&self) -> Vec<u64> {
        self.shape.iter().rev().map(|&d| d as u64).collect()
    }
}

/// A GGUF file: metadata in file order, then tensors in file order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct GgufFile {
    /// Key/value pairs (keys unique).
    pub metadata: Vec<(String, Value)>,
    /// Tensors (names unique).
    pub tensors: Vec<GgufTensor>,
}

impl GgufFile {
    /// The value of metadata key `key`.
    ///
    /// ```
    /// use blockscale::io::gguf::{GgufFile, Value};
    /// let f = GgufFile { metadata: vec![("general.name".into(), Value::String("t".into()))], tensors: vec![] };
    /// assert_eq!(f.get("general.name"), Some(&Value::String("t".into())));
    /// assert_eq!(f.get("general.alignment"), None);
    /// ```
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The tensor named `name`.
    ///
    /// ```
    /// use blockscale::io::gguf::{GgufFile, GgufTensor};
    /// let f = GgufFile { metadata: vec![], tensors: vec![GgufTensor::f32("s", vec![1], &[2.0])?] };
    /// assert!(f.tensor("s").is_some() && f.tensor("t").is_none());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn tensor(&self, name: &str) -> Option<&GgufTensor> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The alignment: `general.alignment` if present (it must be a `u32`
    /// power of two, as `gguf.cpp` requires), else [`DEFAULT_ALIGNMENT`].
    ///
    /// ```
    /// use blockscale::io::gguf::{GgufFile, Value};
    /// let mut f = GgufFile::default();
    /// assert_eq!(f.alignment()?, 32);
    /// f.metadata.push(("general.alignment".into(), Value::U32(64)));
    /// assert_eq!(f.alignment()?, 64);
    /// f.metadata[0].1 = Value::U32(48);
    /// assert!(f.alignment().is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn alignment(&self) -> Result<usize, Error> {
        match self.get(ALIGNMENT_KEY) {
            None => Ok(DEFAULT_ALIGNMENT as usize),
            Some(Value::U32(a)) if a.is_power_of_two() => Ok(*a as usize),
            Some(v) => Err(Error::InvalidArgument(format!(
                "{ALIGNMENT_KEY} is {v:?}; it must be a u32 power of two"
            ))),
        }
    }

    /// The file's bytes. Errors on duplicate keys or tensor names, an
    /// invalid tensor ([`GgufTensor::validate`]) or alignment, or a mixed
    /// or nested array.
    ///
    /// ```
    /// use blockscale::io::gguf::GgufFile;
    /// let b = GgufFile::default().to_bytes()?;
    /// assert_eq!(&b[..8], b"GGUF\x03\0\0\0");
    /// assert_eq!(b.len(), 24); // header only: no padding without tensors
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let align = self.alignment()?;
        let mut out = Vec::new();
        out.extend(MAGIC);
        out.extend(VERSION.to_le_bytes());
        out.extend((self.tensors.len() as u64).to_le_bytes());
        out.extend((self.metadata.len() as u64).to_le_bytes());
        let mut keys = std::collections::HashSet::new();
        for (k, v) in &self.metadata {
            if !keys.insert(k.as_str()) {
                return Err(Error::InvalidArgument(format!(
                    "duplicate metadata key {k:?}"
                )));
            }
            put_string(&mut out, k);
            out.extend(v.value_type().id().to_le_bytes());
            v.encode(&mut out)
                .map_err(|m| Error::InvalidArgument(format!("metadata {k:?}: {m}")))?;
        }
        let mut names = std::collections::HashSet::new();
        let mut offset = 0usize;
        for t in &self.tensors {
            t.validate()?;
            if !names.insert(t.name.as_str()) {
                return Err(Error::InvalidArgument(format!(
                    "duplicate tensor name {:?}",
                    t.name
                )));
            }
            put_string(&mut out, &t.name);
            out.extend((t.shape.len() as u32).to_le_bytes());
            for d in t.ne() {
                out.extend(d.to_le_bytes());
            }
            out.extend(t.ggml_type.id().to_le_bytes());
            out.extend((offset as u64).to_le_bytes());
            offset = pad(offset + t.data.len(), align);
        }
        if !self.tensors.is_empty() {
            out.resize(pad(out.len(), align), 0);
        }
        for t in &self.tensors {
            out.extend_from_slice(&t.data);
            out.resize(pad(out.len(), align), 0);
        }
        Ok(out)
    }

    /// Parses a GGUF file already in memory; `name` stands for the path in
    /// error messages. The checks of [`read`].
    ///
    /// ```
    /// use blockscale::io::gguf::{GgufFile, GgufTensor};
    /// let f = GgufFile { metadata: vec![], tensors: vec![GgufTensor::f32("s", vec![2], &[1.0, 2.0])?] };
    /// let b = f.to_bytes()?;
    /// assert_eq!(GgufFile::from_bytes("mem", &b)?, f);
    /// assert!(GgufFile::from_bytes("mem", &b[..b.len() - 40]).is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn from_bytes(name: impl AsRef<Path>, bytes: &[u8]) -> Result<GgufFile, Error> {
        parse(name.as_ref(), bytes)
    }
}
