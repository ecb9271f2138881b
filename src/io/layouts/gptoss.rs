//! gpt-oss MXFP4, as Hugging Face transformers reads it.
//!
//! A weight `W` is stored as `{W}_blocks` U8 `[…, rows, cols/32, 16]` (32
//! E2M1 codes per block, element 2j in the low nibble) and `{W}_scales` U8
//! `[…, rows, cols/32]` (E8M0 bytes), blocks along the last axis of the
//! *stored* matrix. gpt-oss's experts are 3-D stacks whose parameters are
//! `[E, in, out]` (`gate_up_proj [E, H, 2I]`, `down_proj [E, I, H]`, used
//! as `x @ W`), while the stored blocks are `[E, out, in/32, 16]`, blocks
//! along `in`: transformers' `convert_moe_packed_tensors` dequantizes to
//! `[E, out, in]` and transposes the last two axes.

use super::check_shape;
use crate::format::{BlockFormat, BlockShape, MxFp4};
use crate::io::{DType, Tensor};
use crate::tensor::QuantizedTensor;
use crate::{E2M1, E8M0, Error};

/// The stored matrix of `q` (rows, cols, element bytes, scale bytes),
/// checked to be 1×32 MXFP4 with whole blocks.
fn stored(name: &str, q: &QuantizedTensor<MxFp4>) -> Result<(usize, usize), Error> {
    if q.format().block() != (BlockShape::Tile { rows: 1, cols: 32 }) {
        return Err(Error::InvalidArgument(format!(
            "{name}: the gpt-oss layout holds 1x32 MXFP4 only, not {}",
            q.format().name()
        )));
    }
    let (rows, cols) = q.stored_shape();
    if !cols.is_multiple_of(32) {
        return Err(Error::NotWholeBlocks {
            what: format!("{name} (gpt-oss layout)"),
            shape: (rows, cols),
            block: (1, 32),
        });
    }
    Ok((rows, cols))
}

/// The tensors of a gpt-oss MXFP4 weight named `name`: `{name}_blocks`
/// `[rows, cols/32, 16]` and `{name}_scales` `[rows, cols/32]` of the
/// tensor's stored matrix (a columnwise tensor is stored transposed).
///
/// ```
/// use blockscale::format::MxFp4;
/// use blockscale::io::layouts;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x: Vec<f32> = (0..3 * 64).map(|i| (i as f32 * 0.37).sin() * 5.0).collect();
/// let q = QuantizedTensor::quantize(MxFp4::default(), &x, 3, 64, &QuantizeOptions::default())?;
/// let t = layouts::gptoss_mxfp4("proj.weight", &q)?;
/// assert_eq!(t[0].1.shape, vec![3, 2, 16]);
/// assert_eq!(layouts::dequantize_gptoss_mxfp4(&t[0].1, &t[1].1)?, q.dequantize());
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gptoss_mxfp4(
    name: &str,
    q: &QuantizedTensor<MxFp4>,
) -> Result<Vec<(String, Tensor)>, Error> {
    gptoss_mxfp4_experts(name, std::slice::from_ref(q)).map(|mut v| {
        for (_, t) in &mut v {
            t.shape.remove(0);
        }
        v
    })
}

/// The tensors of a gpt-oss expert stack named `name` (such as
/// `model.layers.0.mlp.experts.gate_up_proj`), one tensor per expert, each
/// quantized along its input dimension: `{name}_blocks` `[E, out, in/32,
/// 16]` and `{name}_scales` `[E, out, in/32]`. gpt-oss's `[in, out]`
/// expert matrices are quantized [`Columnwise`](crate::tensor::Direction::Columnwise),
/// whose stored matrix is `[out, in]`.
///
/// Errors: no experts, experts of different stored shapes, or one that
/// is not 1×32 MXFP4 with whole blocks along its input dimension.
///
/// ```
/// use blockscale::format::MxFp4;
/// use blockscale::io::layouts;
/// use blockscale::tensor::{Direction, QuantizeOptions, QuantizedTensor};
/// // Two experts of a down_proj [E = 2, I = 64, H = 8], used as x @ W.
/// let w: Vec<f32> = (0..2 * 64 * 8).map(|i| (i as f32 * 0.37).sin() * 5.0).collect();
/// let col = QuantizeOptions { direction: Direction::Columnwise, ..Default::default() };
/// let experts = w
///     .chunks(64 * 8)
///     .map(|e| QuantizedTensor::quantize(MxFp4::default(), e, 64, 8, &col))
///     .collect::<Result<Vec<_>, _>>()?;
/// let t = layouts::gptoss_mxfp4_experts("experts.down_proj", &experts)?;
/// assert_eq!((t[0].1.shape.clone(), t[1].1.shape.clone()), (vec![2, 8, 2, 16], vec![2, 8, 2]));
/// // Back in the parameter's orientation [E, I, H], as transformers loads it.
/// let (back, shape) = layouts::dequantize_gptoss_experts(&t[0].1, &t[1].1)?;
/// assert_eq!(shape, [2, 64, 8]);
/// let fake: Vec<f32> = experts.iter().flat_map(|q| q.dequantize()).collect();
/// assert_eq!(back, fake);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gptoss_mxfp4_experts(
    name: &str,
    experts: &[QuantizedTensor<MxFp4>],
) -> Result<Vec<(String, Tensor)>, Error> {
    let first = experts
        .first()
        .ok_or_else(|| Error::InvalidArgument(format!("{name}: no experts")))?;
    let (rows, cols) = stored(name, first)?;
    let mut data = Vec::with_capacity(experts.len() * first.data().len());
    let mut scales = Vec::with_capacity(experts.len() * first.scales().len());
    for (e, q) in experts.iter().enumerate() {
        if stored(name, q)? != (rows, cols) {
            return Err(Error::InvalidArgument(format!(
                "{name}: expert {e} is stored {:?}, expert 0 {:?}",
                q.stored_shape(),
                (rows, cols)
            )));
        }
        data.extend_from_slice(q.data());
        scales.extend(q.scales().iter().map(|s| s.to_bits()));
    }
    let n = experts.len();
    Ok(vec![
        (
            format!("{name}_blocks"),
            Tensor::new(DType::U8, vec![n, rows, cols / 32, 16], data)?,
        ),
        (
            format!("{name}_scales"),
            Tensor::new(DType::U8, vec![n, rows, cols / 32], scales)?,
        ),
    ])
}

/// Dequantizes a gpt-oss MXFP4 weight: `x = e2m1 · 2^(scale − 127)` (a NaN
/// for scale byte 255), in the stored orientation, row-major `[…, rows,
/// cols]` with `cols = 32 · blocks`.
///
/// Errors: blocks that are not U8 `[…, blocks, 16]`, or scales that are
/// not U8 of the blocks' leading shape.
pub fn dequantize_gptoss_mxfp4(blocks: &Tensor, scales: &Tensor) -> Result<Vec<f32>, Error> {
    blocks.validate()?;
    scales.validate()?;
    let n = blocks.shape.len();
    if blocks.dtype != DType::U8 || n < 2 || blocks.shape[n - 1] != 16 {
        return Err(Error::InvalidArgument(format!(
            "blocks is {} {:?}, expected u8 [..., blocks, 16]",
            blocks.dtype.name(),
            blocks.shape
        )));
    }
    check_shape("scales", scales, DType::U8, &blocks.shape[..n - 1])?;
    let mut out = Vec::with_capacity(blocks.data.len() * 2);
    for (b, chunk) in blocks.data.chunks_exact(16).enumerate() {
        let s = E8M0::from_bits(scales.data[b]).to_f32();
        for &byte in chunk {
            out.push(E2M1::from_bits(byte).to_f32() * s);
            out.push(E2M1::from_bits(byte >> 4).to_f32() * s);
        }
    }
    Ok(out)
}

/// Dequantizes a gpt-oss expert stack (`_blocks` `[E, out, in/32, 16]`)
/// to its parameter's orientation `[E, in, out]`, as transformers'
/// `convert_moe_packed_tensors` does: the values of
/// [`dequantize_gptoss_mxfp4`] with each expert transposed.
///
/// Errors: as [`dequantize_gptoss_mxfp4`], and blocks that are not 4-D.
pub fn dequantize_gptoss_experts(
    blocks: &Tensor,
    scales: &Tensor,
) -> Result<(Vec<f32>, [usize; 3]), Error> {
    let &[e, out_dim, nb, _] = blocks.shape.as_slice() else {
        return Err(Error::InvalidArgument(format!(
            "expert blocks are {:?}, expected [experts, out, in/32, 16]",
            blocks.shape
        )));
    };
    let stored = dequantize_gptoss_mxfp4(blocks, scales)?;
    // Not larger than the data once the blocks are valid, unless a dimension is 0.
    let in_dim = nb.checked_mul(32).ok_or_else(|| {
        Error::InvalidArgument(format!("expert blocks {:?} overflow", blocks.shape))
    })?;
    let x = super::transpose_stack(&stored, out_dim, in_dim);
    Ok((x, [e, in_dim, out_dim]))
}
