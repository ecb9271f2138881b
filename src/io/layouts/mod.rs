//! Checkpoint layouts ([SEMANTICS.md](crate::contract) §6): how a quantized weight is stored as
//! named tensors, and how to read it back.
//!
//! - **Model-Optimizer NVFP4** (read by vLLM and TensorRT-LLM): `{w}` U8
//!   `[rows, cols/2]` (element 2j in the low nibble), `{w}_scale` F8_E4M3
//!   `[rows, cols/16]` row-major, `{w}_scale_2` F32 scalar `A/2688`, where
//!   `{w}` is the weight's name (`…weight`); expert stacks keep their
//!   leading axis and have one `scale_2` per expert. Dequantize:
//!   `x = e2m1 · f32(f32(scale) · scale_2)`.
//! - **gpt-oss MXFP4** (Hugging Face transformers): `{w}_blocks` U8
//!   `[rows, cols/32, 16]` (32 E2M1 elements per block, low nibble = even
//!   element), `{w}_scales` U8 `[rows, cols/32]` (E8M0 bits); expert stacks
//!   `[E, out, in/32, 16]` for parameters `[E, in, out]`. Dequantize:
//!   `x = e2m1 · 2^(scale − 127)`, then transpose each expert.
//! - **DeepSeek FP8** (DeepSeek-V3's inference code, transformers' fine-grained
//!   FP8, vLLM): `{w}` F8_E4M3 `[rows, cols]` and `{w}_scale_inv` F32
//!   `[⌈rows/128⌉, ⌈cols/128⌉]`, powers of two under `scale_fmt: "ue8m0"`.
//!   Dequantize: `x = f32(e4m3) · scale_inv` per 128×128 block.
//! - **compressed-tensors** (llm-compressor, vLLM): `{m}.weight_packed`,
//!   `{m}.weight_scale` and `{m}.weight_global_scale` for NVFP4 (the global
//!   scale is `448·6/amax`), `weight_packed`/`weight_scale` (E8M0 bytes) for
//!   MXFP4, `weight` F8_E4M3 and `weight_scale` F32 per 128×128 block for
//!   FP8; [`compressed`](fn@compressed).
//! - **blockscale** (any format): `{w}.qdata` U8 (this crate's element
//!   bytes, [`QuantizedTensor::data`](crate::tensor::QuantizedTensor::data)), `{w}.qscales` (F8_E4M3, F8_E8M0 or
//!   F32, `[tile rows, tile cols]`), and a `__metadata__` entry
//!   `blockscale:{w}` holding the format, shape, direction and tensor amax.

mod compressed;
mod deepseek;
mod gptoss;
mod modelopt;
mod own;

pub use compressed::{Compressed, compressed, dequantize_compressed};
pub use deepseek::{deepseek_fp8, dequantize_deepseek_fp8};
pub use gptoss::{
    dequantize_gptoss_experts, dequantize_gptoss_mxfp4, gptoss_mxfp4, gptoss_mxfp4_experts,
};
pub use modelopt::{dequantize_modelopt_nvfp4, modelopt_nvfp4, modelopt_nvfp4_experts};
pub use own::{own, own_format, read_own};

use super::{DType, Tensor};
use crate::Error;

/// Checks that `t` has dtype `dtype` and shape `shape`; the error names `what`.
pub(super) fn check_shape(
    what: &str,
    t: &Tensor,
    dtype: DType,
    shape: &[usize],
) -> Result<(), Error> {
    if t.dtype != dtype || t.shape != shape {
        return Err(Error::InvalidArgument(format!(
            "{what} is {} {:?}, expected {} {shape:?}",
            t.dtype.name(),
            t.shape,
            dtype.name()
        )));
    }
    Ok(())
}

/// Swaps the last two axes of a stack of `rows × cols` matrices, row-major:
/// how gpt-oss's `[E, in, out]` experts become the `[E, out, in]` matrices
/// its layout stores, and back.
///
/// ```
/// use blockscale::io::layouts::transpose_stack;
/// // Two 2×3 matrices.
/// let x = [1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.];
/// assert_eq!(transpose_stack(&x, 2, 3), [1., 4., 2., 5., 3., 6., 7., 10., 8., 11., 9., 12.]);
/// ```
pub fn transpose_stack(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    if rows * cols == 0 {
        return out;
    }
    for (s, t) in x
        .chunks_exact(rows * cols)
        .zip(out.chunks_exact_mut(rows * cols))
    {
        for r in 0..rows {
            for c in 0..cols {
                t[c * rows + r] = s[r * cols + c];
            }
        }
    }
    out
}
