//! Model-Optimizer NVFP4, as vLLM and TensorRT-LLM read it.
//!
//! A weight `W` (`…weight`, `[out, in]`) is stored as `W` U8 `[out, in/2]`
//! (element 2j in the low nibble), `W_scale` F8_E4M3 `[out, in/16]` and
//! `W_scale_2` F32 scalar `A/2688` (Model-Optimizer's
//! `nvfp4_tensor.py`: `weight_scale_2 = amax / (6·448)`). Loaders that
//! fuse projections into one GEMM (q/k/v, gate/up) use one `weight_scale_2`
//! for all of them (vLLM takes the first or the largest and warns), so the
//! converter gives fused weights one global amax ([`crate::io::model`]).
//! An expert stack `[E, out, in]` keeps its leading axis and has one
//! `W_scale_2` per expert, `[E]`.

use super::check_shape;
use crate::element::nibble;
use crate::format::Nvfp4;
use crate::io::{DType, Tensor};
use crate::tensor::QuantizedTensor;
use crate::{E2M1, E4M3, Error};

/// The tensors of a Model-Optimizer NVFP4 weight named `name` (which should
/// end in `weight`). The tensor must be 1×16 NVFP4 (its stored matrix is
/// written: a columnwise tensor is stored transposed); Model-Optimizer's
/// own numbers come from [`ModelOptimizer`](crate::scale::nvfp4::Nvfp4Profile::ModelOptimizer).
///
/// ```
/// use blockscale::format::Nvfp4;
/// use blockscale::io::layouts;
/// use blockscale::scale::nvfp4::Nvfp4Profile;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x: Vec<f32> = (0..2 * 32).map(|i| (i as f32 - 31.0) / 8.0).collect();
/// let f = Nvfp4 { profile: Nvfp4Profile::ModelOptimizer, two_d: false };
/// let q = QuantizedTensor::quantize(f, &x, 2, 32, &QuantizeOptions::default())?;
/// let t = layouts::modelopt_nvfp4("proj.weight", &q)?;
/// assert_eq!(t[0].0, "proj.weight");
/// assert_eq!(t[1].1.shape, vec![2, 2]); // proj.weight_scale
/// let back = layouts::dequantize_modelopt_nvfp4(&t[0].1, &t[1].1, &t[2].1)?;
/// assert_eq!(back, q.dequantize());
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn modelopt_nvfp4(
    name: &str,
    q: &QuantizedTensor<Nvfp4>,
) -> Result<Vec<(String, Tensor)>, Error> {
    let mut v = modelopt_nvfp4_experts(name, std::slice::from_ref(q))?;
    for (_, t) in &mut v[..2] {
        t.shape.remove(0);
    }
    v[2].1.shape.clear();
    Ok(v)
}

/// The tensors of an expert stack named `name`, one NVFP4 tensor per
/// expert, each with its own global scale: `name` U8 `[E, out, in/2]`,
/// `{name}_scale` F8_E4M3 `[E, out, in/16]`, `{name}_scale_2` F32 `[E]`.
///
/// Errors: no experts, a NaN or +Inf tensor amax ([`Error::InvalidValue`]),
/// experts of different stored shapes, 2-D tiles, or
/// an input dimension that is not a multiple of 16.
///
/// ```
/// use blockscale::format::Nvfp4;
/// use blockscale::io::layouts;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// use blockscale::scale::nvfp4::Nvfp4Profile;
/// let x: Vec<f32> = (0..2 * 32).map(|i| (i as f32 - 31.0) / 8.0).collect();
/// let (o, f) = (QuantizeOptions::default(), Nvfp4 { profile: Nvfp4Profile::ModelOptimizer, two_d: false });
/// let experts = [
///     QuantizedTensor::quantize(f, &x[..32], 1, 32, &o)?,
///     QuantizedTensor::quantize(f, &x[32..], 1, 32, &o)?,
/// ];
/// let t = layouts::modelopt_nvfp4_experts("experts.w", &experts)?;
/// assert_eq!(t[2].1.shape, vec![2]); // one global scale per expert
/// let back = layouts::dequantize_modelopt_nvfp4(&t[0].1, &t[1].1, &t[2].1)?;
/// assert_eq!(back, [experts[0].dequantize(), experts[1].dequantize()].concat());
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn modelopt_nvfp4_experts(
    name: &str,
    experts: &[QuantizedTensor<Nvfp4>],
) -> Result<Vec<(String, Tensor)>, Error> {
    let first = experts
        .first()
        .ok_or_else(|| Error::InvalidArgument(format!("{name}: no experts")))?;
    let (rows, cols) = first.stored_shape();
    let (mut data, mut scales, mut globals) = (Vec::new(), Vec::new(), Vec::new());
    for (e, q) in experts.iter().enumerate() {
        if q.format().two_d {
            return Err(Error::InvalidArgument(format!(
                "{name}: the Model-Optimizer layout holds 1x16 NVFP4 only, not 16x16 tiles"
            )));
        }
        if q.stored_shape() != (rows, cols) {
            return Err(Error::InvalidArgument(format!(
                "{name}: expert {e} is stored {:?}, expert 0 {:?}",
                q.stored_shape(),
                (rows, cols)
            )));
        }
        crate::io::finite_amax(name, q.global_amax())?;
        data.extend_from_slice(q.data());
        scales.extend(q.scales().iter().map(|s| s.to_bits()));
        globals.extend(q.global().w.to_le_bytes());
    }
    if !cols.is_multiple_of(16) {
        return Err(Error::InvalidArgument(format!(
            "{name}: the input dimension {cols} is not a multiple of 16"
        )));
    }
    let n = experts.len();
    Ok(vec![
        (
            name.to_string(),
            Tensor::new(DType::U8, vec![n, rows, cols / 2], data)?,
        ),
        (
            format!("{name}_scale"),
            Tensor::new(DType::F8E4M3, vec![n, rows, cols / 16], scales)?,
        ),
        (
            format!("{name}_scale_2"),
            Tensor::new(DType::F32, vec![n], globals)?,
        ),
    ])
}

/// Dequantizes a Model-Optimizer NVFP4 weight: `x = e2m1 · f32(f32(scale) ·
/// scale_2)` (one product per block, then one per element), row-major
/// `[…, rows, cols]`, with one `scale_2` for the tensor or one per matrix
/// of a stack. Equals [`QuantizedTensor::dequantize`] bit for bit for
/// tensors quantized with [`ModelOptimizer`](crate::scale::nvfp4::Nvfp4Profile::ModelOptimizer).
///
/// Errors: a weight that is not U8 with at least two axes, block scales
/// that are not F8_E4M3 `[…, rows, cols/16]`, or a `scale_2` that is not
/// F32 with one value or one per matrix.
pub fn dequantize_modelopt_nvfp4(
    weight: &Tensor,
    scale: &Tensor,
    scale_2: &Tensor,
) -> Result<Vec<f32>, Error> {
    for t in [weight, scale, scale_2] {
        t.validate()?;
    }
    let n = weight.shape.len();
    if weight.dtype != DType::U8 || n < 2 {
        return Err(Error::InvalidArgument(format!(
            "weight is {} {:?}, expected u8 [..., rows, cols/2]",
            weight.dtype.name(),
            weight.shape
        )));
    }
    let (rows, half) = (weight.shape[n - 2], weight.shape[n - 1]);
    let cols = half.checked_mul(2).ok_or_else(|| {
        Error::InvalidArgument(format!("weight shape {:?} overflows", weight.shape))
    })?;
    let mut scale_shape = weight.shape.clone();
    scale_shape[n - 1] = cols.div_ceil(16);
    check_shape("weight_scale", scale, DType::F8E4M3, &scale_shape)?;
    let matrices: usize = weight.shape[..n - 2].iter().product();
    if scale_2.dtype != DType::F32 || !(scale_2.numel() == 1 || scale_2.numel() == matrices) {
        return Err(Error::InvalidArgument(format!(
            "weight_scale_2 is {} {:?}, expected f32 with 1 or {matrices} values",
            scale_2.dtype.name(),
            scale_2.shape
        )));
    }
    let globals = scale_2.to_f32()?;
    let bpr = cols.div_ceil(16);
    let mut out = Vec::with_capacity(weight.data.len() * 2);
    for m in 0..matrices {
        let w = globals[m.min(globals.len() - 1)];
        for r in m * rows..(m + 1) * rows {
            for c in 0..cols {
                let q = E2M1::from_bits(nibble::get(&weight.data, r * cols + c, true)).to_f32();
                let s = E4M3::from_bits(scale.data[r * bpr + c / 16]).to_f32();
                out.push(q * (s * w));
            }
        }
    }
    Ok(out)
}
