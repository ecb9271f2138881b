//! compressed-tensors, as llm-compressor writes it and vLLM loads it.
//!
//! A linear layer `m` (weight `m.weight`, `[out, in]`) is stored as
//! (`compressed_tensors/compressors/{nvfp4,mxfp4,…}`):
//! - `nvfp4-pack-quantized`: `m.weight_packed` U8 `[out, in/2]` (element
//!   2j in the low nibble), `m.weight_scale` F8_E4M3 `[out, in/16]`,
//!   `m.weight_global_scale` F32 `[1]` = `448·6 / amax`, the inverse of
//!   Model-Optimizer's `weight_scale_2`; dequantized as
//!   `e2m1 · f32(scale / global_scale)`.
//! - `mxfp4-pack-quantized`: `m.weight_packed` U8 `[out, in/2]`,
//!   `m.weight_scale` U8 `[out, in/32]` (E8M0 bits); `e2m1 · 2^(scale − 127)`.
//! - `float-quantized`, 128×128 blocks: `m.weight` F8_E4M3 `[out, in]`,
//!   `m.weight_scale` F32 `[⌈out/128⌉, ⌈in/128⌉]`; `e4m3 · scale`.

use super::check_shape;
use crate::element::nibble;
use crate::format::ScaleKind;
use crate::io::{DType, Tensor};
use crate::tensor::{Direction, QuantizedView};
use crate::{E2M1, E4M3, E8M0, Error};

/// The compressed-tensors format of a quantized weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compressed {
    /// `nvfp4-pack-quantized`: 1×16 NVFP4 with a global scale.
    Nvfp4Packed,
    /// `mxfp4-pack-quantized`: 1×32 MXFP4.
    Mxfp4Packed,
    /// `float-quantized` with 128×128 blocks: E4M3 and an F32 factor each.
    Fp8Block,
}

impl Compressed {
    /// The `format` string of compressed-tensors' configuration.
    ///
    /// ```
    /// use blockscale::io::layouts::Compressed;
    /// assert_eq!(Compressed::Nvfp4Packed.name(), "nvfp4-pack-quantized");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Compressed::Nvfp4Packed => "nvfp4-pack-quantized",
            Compressed::Mxfp4Packed => "mxfp4-pack-quantized",
            Compressed::Fp8Block => "float-quantized",
        }
    }

    /// The compressed-tensors format a tensor of format `id` is stored in,
    /// if any: 1×16 NVFP4, 1×32 MXFP4, and E4M3 in 128×128 tiles.
    ///
    /// ```
    /// use blockscale::io::layouts::Compressed;
    /// assert_eq!(Compressed::of(&"fp8-block,2d".parse()?), Some(Compressed::Fp8Block));
    /// assert_eq!(Compressed::of(&"mxfp8".parse()?), None);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn of(id: &crate::format::FormatId) -> Option<Compressed> {
        let two_d = id.option("2d") == Some("true");
        match id.family() {
            "nvfp4" if !two_d => Some(Compressed::Nvfp4Packed),
            "mxfp4" if !two_d => Some(Compressed::Mxfp4Packed),
            "fp8-block" if two_d && id.option("block").is_none() => Some(Compressed::Fp8Block),
            _ => None,
        }
    }
}

/// The tensors of weight `name` (`m.weight`) in compressed-tensors'
/// layout for its format ([`Compressed::of`]), named after the module `m`.
///
/// Errors: a format compressed-tensors has no layout for, a columnwise
/// tensor, or rows that are not whole blocks for the packed formats.
///
/// ```
/// use blockscale::format::AnyFormat;
/// use blockscale::io::layouts;
/// use blockscale::tensor::{AnyQuantized, QuantizeOptions};
/// let x: Vec<f32> = (0..4 * 32).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
/// let f: AnyFormat = "nvfp4,profile=modelopt".parse()?;
/// let q = AnyQuantized::quantize(&f, &x, 4, 32, &QuantizeOptions::default())?;
/// let t = layouts::compressed("proj.weight", &q)?;
/// let names: Vec<&str> = t.iter().map(|(n, _)| n.as_str()).collect();
/// assert_eq!(names, ["proj.weight_packed", "proj.weight_scale", "proj.weight_global_scale"]);
/// let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
/// assert_eq!(t[2].1.to_f32()?, [2688.0 / amax]);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn compressed(name: &str, q: &dyn QuantizedView) -> Result<Vec<(String, Tensor)>, Error> {
    let id = q.format_id();
    let kind = Compressed::of(&id).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{name}: compressed-tensors holds 1x16 NVFP4, 1x32 MXFP4 and E4M3 in 128x128 \
             blocks, not {id}"
        ))
    })?;
    if q.direction() != Direction::Rowwise {
        return Err(Error::InvalidArgument(format!(
            "{name}: compressed-tensors holds rowwise tensors"
        )));
    }
    let m = name.strip_suffix(".weight").unwrap_or(name);
    let (rows, cols) = q.shape();
    let (sr, sc) = q.scale_shape();
    let bits = q.scale_bits();
    let block = match kind {
        Compressed::Nvfp4Packed => 16,
        Compressed::Mxfp4Packed => 32,
        Compressed::Fp8Block => 1,
    };
    if !cols.is_multiple_of(block) {
        return Err(Error::InvalidArgument(format!(
            "{name}: the input dimension {cols} is not a multiple of {block}"
        )));
    }
    let bytes: Vec<u8> = bits.iter().map(|&b| b as u8).collect();
    Ok(match kind {
        Compressed::Nvfp4Packed => {
            let amax = q.global_amax().unwrap_or(0.0);
            vec![
                (
                    format!("{m}.weight_packed"),
                    Tensor::new(DType::U8, vec![rows, cols / 2], q.data().to_vec())?,
                ),
                (
                    format!("{m}.weight_scale"),
                    Tensor::new(DType::F8E4M3, vec![sr, sc], bytes)?,
                ),
                (
                    format!("{m}.weight_global_scale"),
                    // compressed-tensors' generate_gparam: 448·6 / amax.
                    Tensor::from_f32(DType::F32, vec![1], &[2688.0 / amax])?,
                ),
            ]
        }
        Compressed::Mxfp4Packed => vec![
            (
                format!("{m}.weight_packed"),
                Tensor::new(DType::U8, vec![rows, cols / 2], q.data().to_vec())?,
            ),
            (
                format!("{m}.weight_scale"),
                Tensor::new(DType::U8, vec![sr, sc], bytes)?,
            ),
        ],
        Compressed::Fp8Block => {
            let factors: Vec<f32> = match q.scale_kind() {
                ScaleKind::E8M0 => bytes.iter().map(|&b| E8M0::from_bits(b).to_f32()).collect(),
                _ => bits.iter().map(|&b| f32::from_bits(b)).collect(),
            };
            vec![
                (
                    format!("{m}.weight"),
                    Tensor::new(DType::F8E4M3, vec![rows, cols], q.data().to_vec())?,
                ),
                (
                    format!("{m}.weight_scale"),
                    Tensor::from_f32(DType::F32, vec![sr, sc], &factors)?,
                ),
            ]
        }
    })
}

/// Dequantizes a compressed-tensors weight of format `kind` from its
/// tensors (`packed` is `weight_packed`, or `weight` for FP8; `global` is
/// `weight_global_scale`, NVFP4 only), as compressed-tensors computes it
/// (see the module docs); row-major `[out, in]`.
///
/// Errors: tensors of other dtypes or shapes than the format stores, or a
/// missing global scale for NVFP4.
///
/// ```
/// use blockscale::io::layouts::{self, Compressed};
/// use blockscale::io::{DType, Tensor};
/// // Two MXFP4 codes per byte: 1.0 (0x2) and -0.5 (0x9); scale 2^(128 - 127).
/// let packed = Tensor::new(DType::U8, vec![1, 16], vec![0x92; 16])?;
/// let scale = Tensor::new(DType::U8, vec![1, 1], vec![128])?;
/// let x = layouts::dequantize_compressed(Compressed::Mxfp4Packed, &packed, &scale, None)?;
/// assert_eq!(&x[..2], &[2.0, -1.0]);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn dequantize_compressed(
    kind: Compressed,
    packed: &Tensor,
    scale: &Tensor,
    global: Option<&Tensor>,
) -> Result<Vec<f32>, Error> {
    packed.validate()?;
    scale.validate()?;
    let &[rows, width] = packed.shape.as_slice() else {
        return Err(Error::InvalidArgument(format!(
            "weight is {:?}, expected [out, in]",
            packed.shape
        )));
    };
    let fp4 = |block: usize, dtype: DType| -> Result<(usize, usize), Error> {
        let cols = width.checked_mul(2).ok_or_else(|| {
            Error::InvalidArgument(format!("weight_packed {:?} overflows", packed.shape))
        })?;
        check_shape("weight_packed", packed, DType::U8, &[rows, width])?;
        check_shape("weight_scale", scale, dtype, &[rows, cols.div_ceil(block)])?;
        Ok((cols, cols.div_ceil(block)))
    };
    let e2m1 = |i: usize| E2M1::from_bits(nibble::get(&packed.data, i, true)).to_f32();
    match kind {
        Compressed::Nvfp4Packed => {
            let (cols, bpr) = fp4(16, DType::F8E4M3)?;
            let g = match global {
                Some(g) if g.dtype == DType::F32 && g.numel() == 1 => g.to_f32()?[0],
                _ => {
                    return Err(Error::InvalidArgument(
                        "weight_global_scale must be one f32".into(),
                    ));
                }
            };
            Ok((0..rows * cols)
                .map(|i| {
                    let s = E4M3::from_bits(scale.data[(i / cols) * bpr + (i % cols) / 16]);
                    e2m1(i) * (s.to_f32() / g)
                })
                .collect())
        }
        Compressed::Mxfp4Packed => {
            let (cols, bpr) = fp4(32, DType::U8)?;
            Ok((0..rows * cols)
                .map(|i| {
                    let s = E8M0::from_bits(scale.data[(i / cols) * bpr + (i % cols) / 32]);
                    e2m1(i) * s.to_f32()
                })
                .collect())
        }
        Compressed::Fp8Block => {
            check_shape("weight", packed, DType::F8E4M3, &[rows, width])?;
            let (sr, sc) = (rows.div_ceil(128), width.div_ceil(128));
            check_shape("weight_scale", scale, DType::F32, &[sr, sc])?;
            let s = scale.to_f32()?;
            Ok(packed
                .data
                .iter()
                .enumerate()
                .map(|(i, &c)| {
                    E4M3::from_bits(c).to_f32() * s[(i / width / 128) * sc + (i % width) / 128]
                })
                .collect())
        }
    }
}
