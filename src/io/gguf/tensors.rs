//! Whole weights as GGUF tensors.

use super::*;
use crate::Error;
use crate::format::{MxFp4, Nvfp4};
use crate::tensor::QuantizedTensor;
use half::{bf16, f16};

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
