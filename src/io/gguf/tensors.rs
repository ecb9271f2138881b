//! Whole weights as GGUF tensors.

use super::*;
use crate::Error;
use crate::format::{MxFp4, Nvfp4};
use crate::io::{DType, Tensor, st};
use crate::tensor::QuantizedTensor;
use half::{bf16, f16};
use safetensors::Dtype;

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
/// Errors: as [`nvfp4_to_ggml`], a NaN or +Inf tensor amax
/// ([`Error::InvalidValue`]), or a name too long for ggml.
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
    crate::io::finite_amax(name, q.global_amax())?;
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

pub(super) fn in_tensor(e: Error, name: &str) -> Error {
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

/// The metadata key (an array of strings) naming the tensors this crate
/// stored with their last two dimensions swapped: expert stacks a
/// checkpoint keeps `[experts, in, out]` (gpt-oss), which ggml needs as
/// `[experts, out, in]` so that blocks run along the input dimension.
/// [`to_entries`] swaps them back.
pub const TRANSPOSED_KEY: &str = "blockscale.transposed";

/// One tensor of a stack of equally shaped quantized matrices: shape
/// `[experts, rows, cols]`, the experts' bytes one after another.
fn stack<F: crate::format::BlockFormat>(
    name: &str,
    ggml_type: GgmlType,
    experts: &[QuantizedTensor<F>],
    bytes: impl Fn(&QuantizedTensor<F>) -> Result<Vec<u8>, Error>,
) -> Result<GgufTensor, Error> {
    let first = experts.first().ok_or_else(|| {
        Error::InvalidArgument(format!("tensor {name}: an expert stack of 0 experts"))
    })?;
    let (rows, cols) = first.stored_shape();
    let mut data = Vec::new();
    for (e, q) in experts.iter().enumerate() {
        if q.stored_shape() != (rows, cols) {
            return Err(Error::InvalidArgument(format!(
                "tensor {name}: expert {e} is {:?}, expert 0 is {:?}",
                q.stored_shape(),
                (rows, cols)
            )));
        }
        data.extend(bytes(q).map_err(|err| in_tensor(err, name))?);
    }
    let t = GgufTensor {
        name: name.to_string(),
        shape: vec![experts.len(), rows, cols],
        ggml_type,
        data,
    };
    t.validate()?;
    Ok(t)
}

/// The GGUF tensor of a stack of MXFP4 expert matrices, as llama.cpp holds
/// gpt-oss's experts (`ffn_gate_up_exps`, `ffn_down_exps`): one ggml MXFP4
/// tensor of shape `[experts, rows, cols]` (ggml `ne` = `[cols, rows,
/// experts]`) of each expert's stored matrix.
///
/// Errors: no experts, experts of different shapes, or as
/// [`gguf_tensors_mxfp4`].
///
/// ```
/// use blockscale::format::MxFp4;
/// use blockscale::io::gguf;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let o = QuantizeOptions::default();
/// let q0 = QuantizedTensor::quantize(MxFp4::default(), &[1.0; 2 * 32], 2, 32, &o)?;
/// let q1 = QuantizedTensor::quantize(MxFp4::default(), &[-3.0; 2 * 32], 2, 32, &o)?;
/// let t = gguf::gguf_tensors_mxfp4_experts("blk.0.ffn_up_exps.weight", &[q0, q1])?;
/// assert_eq!((t.len(), t[0].shape.clone()), (1, vec![2, 2, 32]));
/// assert_eq!(gguf::dequantize_tensor(&t[0], None)?[64..], [-3.0; 64]);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gguf_tensors_mxfp4_experts(
    name: &str,
    experts: &[QuantizedTensor<MxFp4>],
) -> Result<Vec<GgufTensor>, Error> {
    Ok(vec![stack(name, GgmlType::MXFP4, experts, mxfp4_to_ggml)?])
}

/// The GGUF tensors of a stack of NVFP4 expert matrices, each with its own
/// global scale: the ggml NVFP4 tensor `[experts, rows, cols]` and the F32
/// tensor [`nvfp4_scale_name`] of shape `[experts]` holding each expert's
/// `w = A/2688` (llama.cpp's `_repack_nvfp4` stacks Model-Optimizer's
/// per-expert `weight_scale_2` the same way).
///
/// Errors: no experts, experts of different shapes, or as
/// [`gguf_tensors_nvfp4`].
///
/// ```
/// use blockscale::format::Nvfp4;
/// use blockscale::io::gguf;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let o = QuantizeOptions::default();
/// let q0 = QuantizedTensor::quantize(Nvfp4::default(), &[1.0; 64], 1, 64, &o)?;
/// let q1 = QuantizedTensor::quantize(Nvfp4::default(), &[100.0; 64], 1, 64, &o)?;
/// let t = gguf::gguf_tensors_nvfp4_experts("blk.0.ffn_up_exps.weight", &[q0, q1])?;
/// assert_eq!((t[0].shape.clone(), t[1].shape.clone()), (vec![2, 1, 64], vec![2]));
/// let y = gguf::dequantize_tensor(&t[0], Some(&t[1]))?;
/// assert_eq!((y[0], y[64]), (1.0, 100.0));
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gguf_tensors_nvfp4_experts(
    name: &str,
    experts: &[QuantizedTensor<Nvfp4>],
) -> Result<Vec<GgufTensor>, Error> {
    for q in experts {
        crate::io::finite_amax(name, q.global_amax())?;
    }
    let t = stack(name, GgmlType::NVFP4, experts, nvfp4_to_ggml)?;
    let w: Vec<f32> = experts.iter().map(|q| q.global().w).collect();
    let s = GgufTensor::f32(&nvfp4_scale_name(name), vec![w.len()], &w)?;
    Ok(vec![t, s])
}

/// The ggml type of a plain safetensors dtype, and back: the types both
/// formats have.
const PLAIN: [(Dtype, GgmlType); 8] = [
    (Dtype::F32, GgmlType::F32),
    (Dtype::F16, GgmlType::F16),
    (Dtype::BF16, GgmlType::BF16),
    (Dtype::F64, GgmlType::F64),
    (Dtype::I8, GgmlType::I8),
    (Dtype::I16, GgmlType::I16),
    (Dtype::I32, GgmlType::I32),
    (Dtype::I64, GgmlType::I64),
];

/// The ggml type a safetensors tensor of dtype `name` (as safetensors
/// spells it: `"BF16"`, `"I64"`, …) is copied to by [`gguf_tensor_raw`], if
/// GGUF has one.
///
/// ```
/// use blockscale::io::gguf::{self, GgmlType};
/// assert_eq!(gguf::plain_type("BF16"), Some(GgmlType::BF16));
/// assert_eq!(gguf::plain_type("U8"), None);
/// ```
pub fn plain_type(name: &str) -> Option<GgmlType> {
    PLAIN
        .iter()
        .find(|(d, _)| format!("{d:?}") == name)
        .map(|&(_, g)| g)
}

/// A safetensors tensor copied unchanged into a GGUF tensor named `name`
/// (same bytes: both are little-endian and row-major).
///
/// Errors: a dtype GGUF has no type for (U8, BOOL, the FP8 types, …), a
/// scalar or a tensor of more than [`MAX_DIMS`] dimensions, or a name too
/// long for ggml.
///
/// ```
/// use blockscale::io::gguf::{self, GgmlType};
/// use blockscale::io::{DType, Tensor, st};
/// let path = std::env::temp_dir().join(format!("bs-gguf-raw-{}.safetensors", std::process::id()));
/// st::write(&path, &[("norm.weight".into(), Tensor::from_f32(DType::BF16, vec![2], &[1.0, 0.5])?)], None)?;
/// let raw = st::SafeFile::open(&path)?.raw("norm.weight")?;
/// let t = gguf::gguf_tensor_raw("norm.weight", &raw)?;
/// assert_eq!((t.ggml_type, t.data.clone()), (GgmlType::BF16, raw.data.clone()));
/// assert_eq!(gguf::raw_tensor(&t)?, raw);
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gguf_tensor_raw(name: &str, raw: &st::RawTensor) -> Result<GgufTensor, Error> {
    let ggml_type = PLAIN
        .iter()
        .find(|(d, _)| *d == raw.dtype)
        .map(|&(_, g)| g)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "tensor {name}: GGUF has no type for {:?}",
                raw.dtype
            ))
        })?;
    let t = GgufTensor {
        name: name.to_string(),
        shape: raw.shape.clone(),
        ggml_type,
        data: raw.data.clone(),
    };
    t.validate()?;
    Ok(t)
}

/// A plain GGUF tensor as a safetensors tensor, byte for byte: the inverse
/// of [`gguf_tensor_raw`]. Errors for MXFP4 and NVFP4 (use
/// [`dequantize_tensor`] or [`to_entries`]).
pub fn raw_tensor(t: &GgufTensor) -> Result<st::RawTensor, Error> {
    t.validate()?;
    let dtype = PLAIN
        .iter()
        .find(|(_, g)| *g == t.ggml_type)
        .map(|&(d, _)| d)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "tensor {}: {:?} is quantized, not a plain type",
                t.name, t.ggml_type
            ))
        })?;
    Ok(st::RawTensor {
        dtype,
        shape: t.shape.clone(),
        data: t.data.clone(),
    })
}

/// Every tensor of a GGUF file as a checkpoint holds it: MXFP4 and NVFP4
/// weights dequantized ([`dequantize_tensor`], NVFP4 with its
/// [`nvfp4_scale_name`] tensor, which is not listed itself) to `dtype`, those
/// named under [`TRANSPOSED_KEY`] with their last two dimensions swapped
/// back; every other tensor unchanged ([`raw_tensor`]). Sorted by name.
///
/// Errors: a tensor of [`TRANSPOSED_KEY`] that is not in the file or has
/// fewer than 2 dimensions, a malformed key, or as [`dequantize_tensor`].
///
/// ```
/// use blockscale::format::MxFp4;
/// use blockscale::io::gguf::{self, GgufFile, Value, ValueType};
/// use blockscale::io::{DType, st};
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let q = QuantizedTensor::quantize(MxFp4::default(), &[2.0; 3 * 32], 3, 32, &QuantizeOptions::default())?;
/// let file = GgufFile {
///     metadata: vec![(gguf::TRANSPOSED_KEY.into(), Value::Array(ValueType::String, vec![Value::String("w".into())]))],
///     tensors: gguf::gguf_tensors_mxfp4("w", &q)?,
/// };
/// let e = gguf::to_entries(&file, DType::F32)?;
/// let st::Entry::Tensor(t) = &e[0].1 else { unreachable!() };
/// assert_eq!((e[0].0.as_str(), t.shape.clone()), ("w", vec![32, 3]));
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn to_entries(file: &GgufFile, dtype: DType) -> Result<Vec<(String, st::Entry)>, Error> {
    let transposed: Vec<&str> = match file.get(TRANSPOSED_KEY) {
        None => Vec::new(),
        Some(Value::Array(_, v)) => v
            .iter()
            .map(|s| match s {
                Value::String(s) => Ok(s.as_str()),
                _ => Err(()),
            })
            .collect::<Result<_, _>>()
            .map_err(|()| {
                Error::InvalidArgument(format!("{TRANSPOSED_KEY} is not an array of strings"))
            })?,
        Some(_) => {
            return Err(Error::InvalidArgument(format!(
                "{TRANSPOSED_KEY} is not an array of strings"
            )));
        }
    };
    for n in &transposed {
        match file.tensor(n) {
            Some(t) if t.shape.len() >= 2 => {}
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "{TRANSPOSED_KEY} names {n:?}, which is not a matrix or stack of this file"
                )));
            }
        }
    }
    let scales: std::collections::HashSet<String> = file
        .tensors
        .iter()
        .filter(|t| t.ggml_type == GgmlType::NVFP4)
        .map(|t| nvfp4_scale_name(&t.name))
        .collect();
    let mut out = Vec::new();
    for t in &file.tensors {
        if scales.contains(&t.name) {
            continue;
        }
        if !matches!(t.ggml_type, GgmlType::MXFP4 | GgmlType::NVFP4) {
            out.push((t.name.clone(), st::Entry::Raw(raw_tensor(t)?)));
            continue;
        }
        let mut x = dequantize_tensor(t, file.tensor(&nvfp4_scale_name(&t.name)))?;
        let mut shape = t.shape.clone();
        let n = shape.len();
        if transposed.contains(&t.name.as_str()) {
            let (rows, cols) = (shape[n - 2], shape[n - 1]);
            x = crate::io::layouts::transpose_stack(&x, rows, cols);
            shape.swap(n - 2, n - 1);
        }
        let d = Tensor::from_f32(dtype, shape, &x).map_err(|e| in_tensor(e, &t.name))?;
        out.push((t.name.clone(), st::Entry::Tensor(d)));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
