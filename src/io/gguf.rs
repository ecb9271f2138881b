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
//! ggml and [`QuantizedTensor::dequantize`] this crate.
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
use crate::element::nibble;
use crate::format::{BlockFormat, BlockShape, MxFp4, Nvfp4};
use crate::tensor::{Direction, PartialBlocks, QuantizedTensor};
use crate::{E4M3, E8M0, Error};
use half::{bf16, f16};
use std::path::Path;

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
const KVALUES: [f32; 16] = [
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
    pub const ALL: [GgmlType; 10] = [
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
        GgmlType::ALL.into_iter().find(|t| t.id() == id)
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
            return Err(Error::InvalidArgument(format!(
                "{self:?}: rows of {inner} elements are not whole blocks of {}",
                self.block_size()
            )));
        }
        let overflow = || Error::InvalidArgument(format!("shape {shape:?} overflows usize"));
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

/// The type of a metadata value (`enum gguf_type`, `GGUFValueType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// `u8` (0).
    U8,
    /// `i8` (1).
    I8,
    /// `u16` (2).
    U16,
    /// `i16` (3).
    I16,
    /// `u32` (4).
    U32,
    /// `i32` (5).
    I32,
    /// `f32` (6).
    F32,
    /// `bool`, one byte 0 or 1 (7).
    Bool,
    /// A UTF-8 string, `u64` length first (8).
    String,
    /// An array (9).
    Array,
    /// `u64` (10).
    U64,
    /// `i64` (11).
    I64,
    /// `f64` (12).
    F64,
}

impl ValueType {
    const ALL: [ValueType; 13] = [
        ValueType::U8,
        ValueType::I8,
        ValueType::U16,
        ValueType::I16,
        ValueType::U32,
        ValueType::I32,
        ValueType::F32,
        ValueType::Bool,
        ValueType::String,
        ValueType::Array,
        ValueType::U64,
        ValueType::I64,
        ValueType::F64,
    ];

    /// The type's number in a GGUF file.
    ///
    /// ```
    /// use blockscale::io::gguf::ValueType;
    /// assert_eq!((ValueType::String.id(), ValueType::F64.id()), (8, 12));
    /// ```
    pub fn id(self) -> u32 {
        ValueType::ALL
            .iter()
            .position(|&t| t == self)
            .expect("every type is listed") as u32
    }

    /// The fewest bytes a value of this type takes (a string's or an
    /// array's length fields): what bounds a count read from a file.
    fn min_size(self) -> usize {
        match self {
            ValueType::U8 | ValueType::I8 | ValueType::Bool => 1,
            ValueType::U16 | ValueType::I16 => 2,
            ValueType::U32 | ValueType::I32 | ValueType::F32 => 4,
            ValueType::U64 | ValueType::I64 | ValueType::F64 | ValueType::String => 8,
            ValueType::Array => 12,
        }
    }
}

/// A metadata value.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// `u8`.
    U8(u8),
    /// `i8`.
    I8(i8),
    /// `u16`.
    U16(u16),
    /// `i16`.
    I16(i16),
    /// `u32` (`general.alignment` is one).
    U32(u32),
    /// `i32`.
    I32(i32),
    /// `f32`.
    F32(f32),
    /// `bool`.
    Bool(bool),
    /// A string (`general.architecture`, `general.name`).
    String(String),
    /// An array of one element type (not itself an array: llama.cpp reads no
    /// nested arrays), for example a tokenizer's strings.
    Array(ValueType, Vec<Value>),
    /// `u64`.
    U64(u64),
    /// `i64`.
    I64(i64),
    /// `f64`.
    F64(f64),
}

impl Value {
    /// The value's type.
    ///
    /// ```
    /// use blockscale::io::gguf::{Value, ValueType};
    /// assert_eq!(Value::String("llama".into()).value_type(), ValueType::String);
    /// ```
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::U8(_) => ValueType::U8,
            Value::I8(_) => ValueType::I8,
            Value::U16(_) => ValueType::U16,
            Value::I16(_) => ValueType::I16,
            Value::U32(_) => ValueType::U32,
            Value::I32(_) => ValueType::I32,
            Value::F32(_) => ValueType::F32,
            Value::Bool(_) => ValueType::Bool,
            Value::String(_) => ValueType::String,
            Value::Array(..) => ValueType::Array,
            Value::U64(_) => ValueType::U64,
            Value::I64(_) => ValueType::I64,
            Value::F64(_) => ValueType::F64,
        }
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), String> {
        match self {
            Value::U8(v) => out.push(*v),
            Value::I8(v) => out.extend(v.to_le_bytes()),
            Value::U16(v) => out.extend(v.to_le_bytes()),
            Value::I16(v) => out.extend(v.to_le_bytes()),
            Value::U32(v) => out.extend(v.to_le_bytes()),
            Value::I32(v) => out.extend(v.to_le_bytes()),
            Value::F32(v) => out.extend(v.to_le_bytes()),
            Value::Bool(v) => out.push(*v as u8),
            Value::String(s) => put_string(out, s),
            Value::U64(v) => out.extend(v.to_le_bytes()),
            Value::I64(v) => out.extend(v.to_le_bytes()),
            Value::F64(v) => out.extend(v.to_le_bytes()),
            Value::Array(t, items) => {
                if *t == ValueType::Array {
                    return Err("nested arrays are not supported (llama.cpp reads none)".into());
                }
                out.extend(t.id().to_le_bytes());
                out.extend((items.len() as u64).to_le_bytes());
                for (i, v) in items.iter().enumerate() {
                    if v.value_type() != *t {
                        return Err(format!(
                            "array of {t:?} holds a {:?} at index {i}",
                            v.value_type()
                        ));
                    }
                    v.encode(out)?;
                }
            }
        }
        Ok(())
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

fn pad(n: usize, align: usize) -> usize {
    n.div_ceil(align) * align
}

fn put_string(out: &mut Vec<u8>, s: &str) {
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
    let bytes =
        std::fs::read(path).map_err(|e| Error::file(path, None, format!("cannot read: {e}")))?;
    parse(path, &bytes)
}

/// A reader over a file's bytes whose every read is bounds-checked.
struct Cursor<'a> {
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
struct Info {
    name: String,
    shape: Vec<usize>,
    ggml_type: GgmlType,
    offset: u64,
}

fn parse(path: &Path, bytes: &[u8]) -> Result<GgufFile, Error> {
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

// ---------------------------------------------------------------------------
// Blocks

/// ggml's `ggml_e8m0_to_fp32_half`: `2^(e − 128)`, built from its bits.
fn e8m0_half(e: u8) -> f32 {
    f32::from_bits(if e < 2 {
        0x0020_0000 << e
    } else {
        (e as u32 - 1) << 23
    })
}

/// ggml's `ggml_ue4m3_to_fp32`: half the unsigned E4M3 value, bit 7
/// ignored, 0x7F (E4M3's NaN) read as 0.
fn ue4m3_half(x: u8) -> f32 {
    if x == 0 || x == 0x7F {
        return 0.0;
    }
    let (e, m) = ((x >> 3) & 0xF, (x & 7) as f32);
    let raw = if e == 0 {
        m * (1.0 / 512.0)
    } else {
        (1.0 + m / 8.0) * f32::from_bits((e as u32 + 120) << 23) // 2^(e − 7)
    };
    raw * 0.5
}

/// The stored matrix of a rowwise-blocked tensor whose rows are whole ggml
/// blocks, or why it is not one.
fn check_blocks(
    name: &str,
    (br, bc): (usize, usize),
    block: BlockShape,
    stored: (usize, usize),
    ggml: usize,
) -> Result<(usize, usize), Error> {
    if block != (BlockShape::Tile { rows: br, cols: bc }) {
        return Err(Error::InvalidArgument(format!(
            "{name}: ggml holds {br}x{bc} blocks only, not {block:?}"
        )));
    }
    let (rows, cols) = stored;
    if !cols.is_multiple_of(ggml) {
        return Err(Error::InvalidArgument(format!(
            "{name}: rows of {cols} elements are not whole ggml blocks of {ggml}; pad them"
        )));
    }
    Ok((rows, cols))
}

/// ggml MXFP4 bytes (`block_mxfp4`, rows of `cols/32` blocks) of a 1×32
/// MXFP4 tensor's stored matrix (a columnwise tensor is stored transposed):
/// codes and scale bytes copied, reordered into ggml's nibble order.
///
/// Errors: 32×32 tiles, rows that are not whole 32-element blocks, or a NaN
/// scale (E8M0 byte 255, which ggml reads as 2^127).
///
/// ```
/// use blockscale::format::MxFp4;
/// use blockscale::io::gguf;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x: Vec<f32> = (0..32).map(|i| i as f32 / 4.0).collect();
/// let q = QuantizedTensor::quantize(MxFp4::default(), &x, 1, 32, &QuantizeOptions::default())?;
/// let b = gguf::mxfp4_to_ggml(&q)?;
/// assert_eq!(b.len(), 17);
/// assert_eq!(b[0], q.scales()[0].to_bits());
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn mxfp4_to_ggml(q: &QuantizedTensor<MxFp4>) -> Result<Vec<u8>, Error> {
    let (rows, cols) = check_blocks("MXFP4", (1, 32), q.format().block(), q.stored_shape(), 32)?;
    let (data, scales) = (q.data(), q.scales());
    let mut out = Vec::with_capacity(rows * cols / 32 * 17);
    for (b, s) in scales.iter().enumerate() {
        if s.to_bits() == 0xFF {
            return Err(Error::InvalidArgument(format!(
                "MXFP4 block {b} has a NaN scale, which ggml cannot hold"
            )));
        }
        out.push(s.to_bits());
        let e0 = b * 32;
        for j in 0..16 {
            let lo = nibble::get(data, e0 + j, true);
            let hi = nibble::get(data, e0 + j + 16, true);
            out.push(lo | (hi << 4));
        }
    }
    Ok(out)
}

/// A rowwise `rows × cols` MXFP4 tensor of `format` (1×32 blocks) from ggml
/// MXFP4 bytes: the inverse of [`mxfp4_to_ggml`], bit for bit.
///
/// Errors: `format` not 1×32, `cols` not a multiple of 32, a byte count
/// that does not match, or an E8M0 byte 255 (2^127 to ggml, NaN here).
///
/// ```
/// use blockscale::format::MxFp4;
/// use blockscale::io::gguf;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x: Vec<f32> = (0..64).map(|i| (i as f32 - 30.0) / 3.0).collect();
/// let q = QuantizedTensor::quantize(MxFp4::default(), &x, 1, 64, &QuantizeOptions::default())?;
/// let back = gguf::mxfp4_from_ggml(&gguf::mxfp4_to_ggml(&q)?, (1, 64), MxFp4::default())?;
/// assert_eq!((back.data(), back.scales()), (q.data(), q.scales()));
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn mxfp4_from_ggml(
    bytes: &[u8],
    (rows, cols): (usize, usize),
    format: MxFp4,
) -> Result<QuantizedTensor<MxFp4>, Error> {
    check_blocks("MXFP4", (1, 32), format.block(), (rows, cols), 32)?;
    crate::error::check_len(
        "ggml MXFP4 bytes",
        GgmlType::MXFP4.nbytes(&[rows, cols])?,
        bytes.len(),
    )?;
    let mut data = vec![0u8; rows * cols / 2];
    let mut scales = Vec::with_capacity(rows * cols / 32);
    for (b, blk) in bytes.chunks_exact(17).enumerate() {
        if blk[0] == 0xFF {
            return Err(Error::InvalidArgument(format!(
                "ggml MXFP4 block {b} has scale byte 255 (2^127 to ggml, NaN as E8M0)"
            )));
        }
        scales.push(E8M0::from_bits(blk[0]));
        for (j, &q) in blk[1..].iter().enumerate() {
            nibble::put(&mut data, b * 32 + j, q & 0xF, true);
            nibble::put(&mut data, b * 32 + j + 16, q >> 4, true);
        }
    }
    QuantizedTensor::from_parts(
        format,
        (rows, cols),
        Direction::Rowwise,
        PartialBlocks::Reject,
        data,
        scales,
        None,
    )
}

/// Dequantizes ggml MXFP4 bytes as `dequantize_row_mxfp4` does:
/// `kvalues[q] · 2^(e − 128)`. Equals [`QuantizedTensor::dequantize`] of
/// the tensor [`mxfp4_to_ggml`] converted, bit for bit, except that its
/// −0 is +0 here.
///
/// Errors: a byte count that is not whole 17-byte blocks.
///
/// ```
/// use blockscale::io::gguf;
/// // e = 128 (scale 2), qs[0] = 0x71: element 0 is code 1 (0.5), element 16 code 7 (6).
/// let mut b = vec![128u8, 0x71];
/// b.extend([0u8; 15]);
/// let y = gguf::dequantize_mxfp4(&b)?;
/// assert_eq!((y[0], y[16], y[1]), (1.0, 12.0, 0.0));
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn dequantize_mxfp4(bytes: &[u8]) -> Result<Vec<f32>, Error> {
    if !bytes.len().is_multiple_of(17) {
        return Err(Error::InvalidArgument(format!(
            "{} bytes are not whole 17-byte MXFP4 blocks",
            bytes.len()
        )));
    }
    let mut out = vec![0f32; bytes.len() / 17 * 32];
    for (blk, y) in bytes.chunks_exact(17).zip(out.chunks_exact_mut(32)) {
        let d = e8m0_half(blk[0]);
        for (j, &q) in blk[1..].iter().enumerate() {
            y[j] = KVALUES[(q & 0xF) as usize] * d;
            y[j + 16] = KVALUES[(q >> 4) as usize] * d;
        }
    }
    Ok(out)
}

/// ggml NVFP4 bytes (`block_nvfp4`, rows of `cols/64` blocks) of a 1×16
/// NVFP4 tensor's stored matrix: the E4M3 block-scale bits copied as UE4M3,
/// codes reordered into ggml's nibble order. The per-tensor scale is not in
/// them: see [`gguf_tensors_nvfp4`].
///
/// Errors: 16×16 tiles, rows that are not whole 64-element blocks, or a
/// block scale ggml cannot hold: NaN, or negative (a −0 scale is written
/// as +0, as llama.cpp clears the sign bit).
///
/// ```
/// use blockscale::format::Nvfp4;
/// use blockscale::io::gguf;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x: Vec<f32> = (0..64).map(|i| i as f32 - 20.0).collect();
/// let q = QuantizedTensor::quantize(Nvfp4::default(), &x, 1, 64, &QuantizeOptions::default())?;
/// let b = gguf::nvfp4_to_ggml(&q)?;
/// assert_eq!(b.len(), 36);
/// assert_eq!(b[..4], q.scales().iter().map(|s| s.to_bits()).collect::<Vec<_>>()[..]);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn nvfp4_to_ggml(q: &QuantizedTensor<Nvfp4>) -> Result<Vec<u8>, Error> {
    let (rows, cols) = check_blocks("NVFP4", (1, 16), q.format().block(), q.stored_shape(), 64)?;
    let (data, scales) = (q.data(), q.scales());
    let mut out = Vec::with_capacity(rows * cols / 64 * 36);
    for (b, sub) in scales.chunks_exact(4).enumerate() {
        for (s, scale) in sub.iter().enumerate() {
            let bits = scale.to_bits();
            if bits & 0x7F == 0x7F || (bits & 0x80 != 0 && bits != 0x80) {
                return Err(Error::InvalidArgument(format!(
                    "NVFP4 block {} has scale {} (E4M3 {bits:#04x}), which ggml's unsigned E4M3 cannot hold",
                    b * 4 + s,
                    scale.to_f32()
                )));
            }
            out.push(bits & 0x7F);
        }
        for s in 0..4 {
            let e0 = b * 64 + s * 16;
            for j in 0..8 {
                let lo = nibble::get(data, e0 + j, true);
                let hi = nibble::get(data, e0 + j + 8, true);
                out.push(lo | (hi << 4));
            }
        }
    }
    Ok(out)
}

/// A rowwise `rows × cols` NVFP4 tensor of `format` (1×16 blocks) from ggml
/// NVFP4 bytes and the tensor amax `global_amax` (which GGUF does not hold:
/// llama.cpp stores `w = A/2688` only, and `w · 2688` recovers `A` only up
/// to rounding): the inverse of [`nvfp4_to_ggml`], bit for bit.
///
/// Errors: `format` with 16×16 tiles, `cols` not a multiple of 64, or a
/// byte count that does not match. UE4M3 bytes with bit 7 set, or 0x7F
/// (which ggml reads as 0), are refused rather than given another meaning.
///
/// ```
/// use blockscale::format::Nvfp4;
/// use blockscale::io::gguf;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x: Vec<f32> = (0..128).map(|i| (i as f32 * 0.3).cos()).collect();
/// let q = QuantizedTensor::quantize(Nvfp4::default(), &x, 2, 64, &QuantizeOptions::default())?;
/// let b = gguf::nvfp4_to_ggml(&q)?;
/// let back = gguf::nvfp4_from_ggml(&b, (2, 64), Nvfp4::default(), q.global_amax().unwrap())?;
/// assert_eq!(back.dequantize(), q.dequantize());
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn nvfp4_from_ggml(
    bytes: &[u8],
    (rows, cols): (usize, usize),
    format: Nvfp4,
    global_amax: f32,
) -> Result<QuantizedTensor<Nvfp4>, Error> {
    check_blocks("NVFP4", (1, 16), format.block(), (rows, cols), 64)?;
    crate::error::check_len(
        "ggml NVFP4 bytes",
        GgmlType::NVFP4.nbytes(&[rows, cols])?,
        bytes.len(),
    )?;
    let mut data = vec![0u8; rows * cols / 2];
    let mut scales = Vec::with_capacity(rows * cols / 16);
    for (b, blk) in bytes.chunks_exact(36).enumerate() {
        for (s, &d) in blk[..4].iter().enumerate() {
            if d >= 0x7F {
                return Err(Error::InvalidArgument(format!(
                    "ggml NVFP4 block {b} sub-block {s} has scale byte {d:#04x}, which is no positive E4M3"
                )));
            }
            scales.push(E4M3::from_bits(d));
        }
        for (k, &q) in blk[4..].iter().enumerate() {
            let e = b * 64 + (k / 8) * 16 + k % 8;
            nibble::put(&mut data, e, q & 0xF, true);
            nibble::put(&mut data, e + 8, q >> 4, true);
        }
    }
    QuantizedTensor::from_parts(
        format,
        (rows, cols),
        Direction::Rowwise,
        PartialBlocks::Reject,
        data,
        scales,
        Some(global_amax),
    )
}

/// Dequantizes ggml NVFP4 bytes as `dequantize_row_nvfp4` does,
/// `f32(kvalues[q] · ggml_ue4m3_to_fp32(d))` (exactly `e2m1 · E4M3(d)`), then,
/// given the per-tensor scale `w`, times `w` in f32, one rounding: the
/// weight llama.cpp's `ggml_mul` of the product by `w` amounts to. This is
/// what `gguf-py`'s `dequantize` returns, times `w` in NumPy f32.
///
/// Errors: a byte count that is not whole 36-byte blocks.
///
/// ```
/// use blockscale::io::gguf;
/// // Scale 0x38 (E4M3 1.0) for sub-block 0; qs[0] = 0xF2: element 0 is
/// // code 2 (1.0), element 8 code 15 (−6).
/// let mut b = vec![0x38, 0, 0, 0, 0xF2];
/// b.extend([0u8; 31]);
/// let y = gguf::dequantize_nvfp4(&b, None)?;
/// assert_eq!((y[0], y[8], y[16]), (1.0, -6.0, 0.0));
/// assert_eq!(gguf::dequantize_nvfp4(&b, Some(0.25))?[8], -1.5);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn dequantize_nvfp4(bytes: &[u8], w: Option<f32>) -> Result<Vec<f32>, Error> {
    if !bytes.len().is_multiple_of(36) {
        return Err(Error::InvalidArgument(format!(
            "{} bytes are not whole 36-byte NVFP4 blocks",
            bytes.len()
        )));
    }
    let mut out = vec![0f32; bytes.len() / 36 * 64];
    for (blk, y) in bytes.chunks_exact(36).zip(out.chunks_exact_mut(64)) {
        for s in 0..4 {
            let d = ue4m3_half(blk[s]);
            for j in 0..8 {
                let q = blk[4 + s * 8 + j];
                y[s * 16 + j] = KVALUES[(q & 0xF) as usize] * d;
                y[s * 16 + j + 8] = KVALUES[(q >> 4) as usize] * d;
            }
        }
    }
    if let Some(w) = w {
        out.iter_mut().for_each(|v| *v *= w);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Tensors

/// The GGUF tensor of an MXFP4 weight named `name` (llama.cpp's names end
/// in `.weight`): ggml MXFP4, shape `[rows, cols]` of the stored matrix.
///
/// Errors: as [`mxfp4_to_ggml`], or a name of 64 bytes or more.
///
/// ```
/// use blockscale::format::MxFp4;
/// use blockscale::io::gguf::{self, GgmlType};
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x = vec![1.5f32; 3 * 32];
/// let q = QuantizedTensor::quantize(MxFp4::default(), &x, 3, 32, &QuantizeOptions::default())?;
/// let t = gguf::gguf_tensors_mxfp4("blk.0.ffn_down.weight", &q)?;
/// assert_eq!((t[0].ggml_type, t[0].shape.clone(), t[0].ne()), (GgmlType::MXFP4, vec![3, 32], vec![32, 3]));
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gguf_tensors_mxfp4(
    name: &str,
    q: &QuantizedTensor<MxFp4>,
) -> Result<Vec<GgufTensor>, Error> {
    let (rows, cols) = q.stored_shape();
    let t = GgufTensor {
        name: name.to_string(),
        shape: vec![rows, cols],
        ggml_type: GgmlType::MXFP4,
        data: mxfp4_to_ggml(q).map_err(|e| in_tensor(e, name))?,
    };
    t.validate()?;
    Ok(vec![t])
}

/// The name of the per-tensor scale beside NVFP4 weight `name`: `.weight`
/// replaced by `.scale` (llama.cpp's `_repack_nvfp4`), or `.scale` appended
/// to a name without `.weight`.
///
/// ```
/// use blockscale::io::gguf::nvfp4_scale_name;
/// assert_eq!(nvfp4_scale_name("blk.0.attn_q.weight"), "blk.0.attn_q.scale");
/// assert_eq!(nvfp4_scale_name("w"), "w.scale");
/// ```
pub fn nvfp4_scale_name(name: &str) -> String {
    match name.strip_suffix(".weight") {
        Some(base) => format!("{base}.scale"),
        None => format!("{name}.scale"),
    }
}

/// The GGUF tensors of an NVFP4 weight named `name`, as llama.cpp's
/// converter writes a Model-Optimizer weight: the ggml NVFP4 tensor
/// (`[rows, cols]` of the stored matrix) and the F32 `[1]` tensor
/// [`nvfp4_scale_name`] holding `w = A/2688` (`q.global().w`, Model-Optimizer's
/// `weight_scale_2`), which llama.cpp multiplies the matrix product by. It
/// is written even when it is 1 (llama.cpp then leaves it out; reading it
/// back is the same).
///
/// Errors: as [`nvfp4_to_ggml`], or a name too long for ggml.
///
/// ```
/// use blockscale::format::Nvfp4;
/// use blockscale::io::gguf::{self, GgmlType};
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x: Vec<f32> = (0..128).map(|i| i as f32 / 16.0).collect();
/// let q = QuantizedTensor::quantize(Nvfp4::default(), &x, 2, 64, &QuantizeOptions::default())?;
/// let t = gguf::gguf_tensors_nvfp4("blk.0.attn_q.weight", &q)?;
/// assert_eq!((t[0].ggml_type, t[1].name.as_str()), (GgmlType::NVFP4, "blk.0.attn_q.scale"));
/// let y = gguf::dequantize_tensor(&t[0], Some(&t[1]))?;
/// assert_eq!(y.len(), 128);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gguf_tensors_nvfp4(
    name: &str,
    q: &QuantizedTensor<Nvfp4>,
) -> Result<Vec<GgufTensor>, Error> {
    let (rows, cols) = q.stored_shape();
    let t = GgufTensor {
        name: name.to_string(),
        shape: vec![rows, cols],
        ggml_type: GgmlType::NVFP4,
        data: nvfp4_to_ggml(q).map_err(|e| in_tensor(e, name))?,
    };
    t.validate()?;
    let s = GgufTensor::f32(&nvfp4_scale_name(name), vec![1], &[q.global().w])?;
    Ok(vec![t, s])
}

fn in_tensor(e: Error, name: &str) -> Error {
    match e {
        Error::InvalidArgument(m) => Error::InvalidArgument(format!("tensor {name}: {m}")),
        other => other,
    }
}

/// A GGUF tensor's values as f32, row-major, as ggml computes them: F32,
/// F16, BF16, F64 (rounded) and integers as numbers; MXFP4 by
/// [`dequantize_mxfp4`]; NVFP4 by [`dequantize_nvfp4`] with the per-tensor
/// scale `scale` (the F32 tensor [`nvfp4_scale_name`], one value, or one
/// per matrix of a stack such as `[experts, rows, cols]`) if given.
///
/// Errors: data whose length does not match ([`GgufTensor::validate`]), or
/// a scale given for another type or not F32 with 1 or one-per-matrix
/// values.
///
/// ```
/// use blockscale::io::gguf::{self, GgufTensor};
/// let t = GgufTensor::f32("x", vec![2], &[1.0, -2.0])?;
/// assert_eq!(gguf::dequantize_tensor(&t, None)?, vec![1.0, -2.0]);
/// assert!(gguf::dequantize_tensor(&t, Some(&t)).is_err()); // a scale for F32
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn dequantize_tensor(t: &GgufTensor, scale: Option<&GgufTensor>) -> Result<Vec<f32>, Error> {
    t.validate()?;
    if scale.is_some() && t.ggml_type != GgmlType::NVFP4 {
        return Err(Error::InvalidArgument(format!(
            "tensor {}: a per-tensor scale is for NVFP4, not {:?}",
            t.name, t.ggml_type
        )));
    }
    let d = &t.data;
    fn le<const N: usize>(d: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
        d.chunks_exact(N).map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            a
        })
    }
    Ok(match t.ggml_type {
        GgmlType::F32 => le::<4>(d).map(f32::from_le_bytes).collect(),
        GgmlType::F16 => le::<2>(d).map(|b| f16::from_le_bytes(b).to_f32()).collect(),
        GgmlType::BF16 => le::<2>(d)
            .map(|b| bf16::from_le_bytes(b).to_f32())
            .collect(),
        GgmlType::F64 => le::<8>(d).map(|b| f64::from_le_bytes(b) as f32).collect(),
        GgmlType::I8 => d.iter().map(|&b| b as i8 as f32).collect(),
        GgmlType::I16 => le::<2>(d).map(|b| i16::from_le_bytes(b) as f32).collect(),
        GgmlType::I32 => le::<4>(d).map(|b| i32::from_le_bytes(b) as f32).collect(),
        GgmlType::I64 => le::<8>(d).map(|b| i64::from_le_bytes(b) as f32).collect(),
        GgmlType::MXFP4 => dequantize_mxfp4(d)?,
        GgmlType::NVFP4 => {
            let Some(s) = scale else {
                return dequantize_nvfp4(d, None);
            };
            s.validate()?;
            let n = t.shape.len();
            let matrices: usize = t.shape[..n.saturating_sub(2)].iter().product();
            let ws = dequantize_tensor(s, None)?;
            if s.ggml_type != GgmlType::F32 || !(ws.len() == 1 || ws.len() == matrices) {
                return Err(Error::InvalidArgument(format!(
                    "tensor {}: scale {} is {:?} {:?}, expected F32 with 1 or {matrices} values",
                    t.name, s.name, s.ggml_type, s.shape
                )));
            }
            let mut out = dequantize_nvfp4(d, None)?;
            let per = out.len() / matrices.max(1);
            if per > 0 {
                for (m, chunk) in out.chunks_mut(per).enumerate() {
                    let w = ws[m.min(ws.len() - 1)];
                    chunk.iter_mut().for_each(|v| *v *= w);
                }
            }
            out
        }
    })
}
