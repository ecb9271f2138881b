//! Metadata values.

use super::*;

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
    pub(super) const ALL: [ValueType; 13] = [
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
    pub(super) fn min_size(self) -> usize {
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

    pub(super) fn encode(&self, out: &mut Vec<u8>) -> Result<(), String> {
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
