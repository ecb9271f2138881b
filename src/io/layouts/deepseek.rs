//! DeepSeek FP8, as DeepSeek-V3's inference code, transformers'
//! fine-grained FP8 and vLLM read it.
//!
//! A weight `W` (`…weight`, `[out, in]`) is stored as `W` F8_E4M3 and
//! `W_scale_inv` F32 `[⌈out/128⌉, ⌈in/128⌉]`, one dequantization factor per
//! 128×128 block, partial blocks at the edges (DeepSeek-V3
//! `inference/kernel.py` `weight_dequant`: `y = x · s` per block, in f32).
//! DeepSeek-V3.1 and later (`scale_fmt: "ue8m0"` in `quantization_config`)
//! keep the same tensors with every factor a power of two.

use super::check_shape;
use crate::format::ScaleKind;
use crate::io::{DType, Tensor};
use crate::tensor::{Direction, QuantizedView};
use crate::{E4M3, E8M0, Error};

/// DeepSeek's block edge.
const DEEPSEEK_BLOCK: usize = 128;

/// The tensors of a DeepSeek FP8 weight named `name`: `name` F8_E4M3
/// `[rows, cols]` and `{name}_scale_inv` F32 `[⌈rows/128⌉, ⌈cols/128⌉]`.
/// The tensor must be rowwise E4M3 in 128×128 tiles: `fp8-block` (F32
/// factors) or `fp8-block-ue8m0` (power-of-two factors, written as F32).
///
/// Errors: any other format, tile or direction.
///
/// ```
/// use blockscale::format::AnyFormat;
/// use blockscale::io::layouts;
/// use blockscale::tensor::{AnyQuantized, PartialBlocks, QuantizeOptions, QuantizedView};
/// let x: Vec<f32> = (0..130 * 200).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
/// let o = QuantizeOptions { partial_blocks: PartialBlocks::ZeroPad, ..Default::default() };
/// let f: AnyFormat = "fp8-block-ue8m0,2d".parse()?;
/// let q = AnyQuantized::quantize(&f, &x, 130, 200, &o)?;
/// let t = layouts::deepseek_fp8("proj.weight", &q)?;
/// assert_eq!((t[0].1.shape.clone(), t[1].1.shape.clone()), (vec![130, 200], vec![2, 2]));
/// assert_eq!(layouts::dequantize_deepseek_fp8(&t[0].1, &t[1].1)?, q.dequantize());
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn deepseek_fp8(name: &str, q: &dyn QuantizedView) -> Result<Vec<(String, Tensor)>, Error> {
    let id = q.format_id();
    // 128×128 tiles print as `2d` (`BlockFormat::id`).
    let fits = matches!(id.family(), "fp8-block" | "fp8-block-ue8m0")
        && id.option("2d") == Some("true")
        && q.direction() == Direction::Rowwise;
    if !fits {
        return Err(Error::InvalidArgument(format!(
            "{name}: the DeepSeek layout holds rowwise E4M3 in 128x128 tiles \
             (fp8-block,2d or fp8-block-ue8m0,2d), not {id}"
        )));
    }
    let (rows, cols) = q.shape();
    let (sr, sc) = q.scale_shape();
    let factors: Vec<f32> = match q.scale_kind() {
        ScaleKind::E8M0 => q
            .scale_bits()
            .iter()
            .map(|&b| E8M0::from_bits(b as u8).to_f32())
            .collect(),
        _ => q.scale_bits().iter().map(|&b| f32::from_bits(b)).collect(),
    };
    Ok(vec![
        (
            name.to_string(),
            Tensor::new(DType::F8E4M3, vec![rows, cols], q.data().to_vec())?,
        ),
        (
            format!("{name}_scale_inv"),
            Tensor::from_f32(DType::F32, vec![sr, sc], &factors)?,
        ),
    ])
}

/// Dequantizes a DeepSeek FP8 weight: `x = f32(e4m3) · s` with `s` the
/// factor of the element's 128×128 block, row-major `[rows, cols]`.
///
/// Errors: a weight that is not F8_E4M3 `[rows, cols]`, or factors that
/// are not F32 `[⌈rows/128⌉, ⌈cols/128⌉]`.
pub fn dequantize_deepseek_fp8(weight: &Tensor, scale_inv: &Tensor) -> Result<Vec<f32>, Error> {
    weight.validate()?;
    scale_inv.validate()?;
    let &[rows, cols] = weight.shape.as_slice() else {
        return Err(Error::InvalidArgument(format!(
            "weight is {:?}, expected [rows, cols]",
            weight.shape
        )));
    };
    check_shape("weight", weight, DType::F8E4M3, &[rows, cols])?;
    let b = DEEPSEEK_BLOCK;
    let (sr, sc) = (rows.div_ceil(b), cols.div_ceil(b));
    check_shape("weight_scale_inv", scale_inv, DType::F32, &[sr, sc])?;
    let s = scale_inv.to_f32()?;
    Ok(weight
        .data
        .iter()
        .enumerate()
        .map(|(i, &code)| E4M3::from_bits(code).to_f32() * s[(i / cols / b) * sc + (i % cols) / b])
        .collect())
}
