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
//! - `float-quantized` (FP8 E4M3): `m.weight` F8_E4M3 `[out, in]` and
//!   `m.weight_scale` of one factor per tensor (`[1]`, strategy `tensor`),
//!   per output channel (`[out, 1]`, `channel`) or per 128×128 block
//!   (`[⌈out/128⌉, ⌈in/128⌉]`, `block`); `e4m3 · scale`. llm-compressor
//!   stores these factors in the model's dtype (BF16) and compressed-tensors
//!   dequantizes in it (`forward_helpers.py`: `weight.to(scale.dtype) ·
//!   scale`); this crate writes F32 and reads both.
//! - `mxfp8-quantized`: `m.weight` F8_E4M3 `[out, in]`, `m.weight_scale` U8
//!   `[out, in/32]` (E8M0 bits, `scale_dtype` `torch.uint8` in the config);
//!   `e4m3 · 2^(scale − 127)`.

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
    /// `float-quantized` with one factor per tensor (strategy `tensor`).
    Fp8Tensor,
    /// `float-quantized` with one factor per output channel (`channel`).
    Fp8Channel,
    /// `mxfp8-quantized`: 1×32 MXFP8 E4M3.
    Mxfp8,
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
            Compressed::Fp8Block | Compressed::Fp8Tensor | Compressed::Fp8Channel => {
                "float-quantized"
            }
            Compressed::Mxfp8 => "mxfp8-quantized",
        }
    }

    /// The `strategy` of the weights in compressed-tensors' configuration.
    ///
    /// ```
    /// use blockscale::io::layouts::Compressed;
    /// assert_eq!(Compressed::Fp8Channel.strategy(), "channel");
    /// ```
    pub fn strategy(self) -> &'static str {
        match self {
            Compressed::Nvfp4Packed => "tensor_group",
            Compressed::Mxfp4Packed | Compressed::Mxfp8 => "group",
            Compressed::Fp8Block => "block",
            Compressed::Fp8Tensor => "tensor",
            Compressed::Fp8Channel => "channel",
        }
    }

    /// The compressed-tensors format a `cols`-wide tensor of format `id` is
    /// stored in, if any: 1×16 NVFP4, 1×32 MXFP4 and MXFP8 E4M3, and E4M3
    /// per tensor (`fp8`, current scaling), per output channel (`fp8-block`
    /// with `block=1x{cols}`) or in 128×128 tiles.
    ///
    /// ```
    /// use blockscale::io::layouts::Compressed;
    /// assert_eq!(Compressed::of(&"fp8-block,2d".parse()?, 256), Some(Compressed::Fp8Block));
    /// assert_eq!(Compressed::of(&"mxfp8".parse()?, 256), Some(Compressed::Mxfp8));
    /// assert_eq!(Compressed::of(&"fp8-block,block=1x256".parse()?, 256), Some(Compressed::Fp8Channel));
    /// assert_eq!(Compressed::of(&"fp8-block".parse()?, 128), Some(Compressed::Fp8Channel));
    /// assert_eq!(Compressed::of(&"fp8-block".parse()?, 256), None); // 1x128 of 256
    /// assert_eq!(Compressed::of(&"mxfp6".parse()?, 256), None);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn of(id: &crate::format::FormatId, cols: usize) -> Option<Compressed> {
        let two_d = id.option("2d") == Some("true");
        // fp8-block's tile: 2d is 128x128, no option 1x128.
        let block = match (two_d, id.option("block")) {
            (true, _) => "128x128",
            (false, b) => b.unwrap_or("1x128"),
        };
        match id.family() {
            "nvfp4" if !two_d => Some(Compressed::Nvfp4Packed),
            "mxfp4" if !two_d => Some(Compressed::Mxfp4Packed),
            "mxfp8" if !two_d => Some(Compressed::Mxfp8),
            "fp8" if id.option("scale").is_none() => Some(Compressed::Fp8Tensor),
            "fp8-block" if block == "128x128" => Some(Compressed::Fp8Block),
            "fp8-block" if block == format!("1x{cols}") => Some(Compressed::Fp8Channel),
            _ => None,
        }
    }
}

/// The tensors of weight `name` (`m.weight`) in compressed-tensors'
/// layout for its format ([`Compressed::of`]), named after the module `m`.
///
/// Errors: a format compressed-tensors has no layout for, a columnwise
/// tensor, a NaN or +Inf tensor amax ([`Error::InvalidValue`]), or rows
/// that are not whole blocks for the packed formats.
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
    let kind = Compressed::of(&id, q.shape().1).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{name}: compressed-tensors holds 1x16 NVFP4, 1x32 MXFP4 and MXFP8, and E4M3 per \
             tensor, per channel or in 128x128 blocks, not {id}"
        ))
    })?;
    if q.direction() != Direction::Rowwise {
        return Err(Error::InvalidArgument(format!(
            "{name}: compressed-tensors holds rowwise tensors"
        )));
    }
    let m = name.strip_suffix(".weight").unwrap_or(name);
    crate::io::finite_amax(name, q.global_amax())?;
    let (rows, cols) = q.shape();
    let (sr, sc) = q.scale_shape();
    let bits = q.scale_bits();
    let block = match kind {
        Compressed::Nvfp4Packed => 16,
        Compressed::Mxfp4Packed | Compressed::Mxfp8 => 32,
        _ => 1,
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
        Compressed::Mxfp8 => vec![
            (
                format!("{m}.weight"),
                Tensor::new(DType::F8E4M3, vec![rows, cols], q.data().to_vec())?,
            ),
            (
                format!("{m}.weight_scale"),
                Tensor::new(DType::U8, vec![sr, sc], bytes)?,
            ),
        ],
        Compressed::Fp8Block | Compressed::Fp8Tensor | Compressed::Fp8Channel => {
            // compressed-tensors' shapes: [1] per tensor, [out, 1] per channel.
            let (sr, sc) = match kind {
                Compressed::Fp8Tensor => (1, 0),
                _ => (sr, sc),
            };
            let shape = if sc == 0 { vec![sr] } else { vec![sr, sc] };
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
                    Tensor::from_f32(DType::F32, shape, &factors)?,
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
/// // FP8 per output channel with BF16 factors, as llm-compressor saves them.
/// let w = Tensor::new(DType::F8E4M3, vec![2, 2], vec![0x38, 0x40, 0x38, 0xC0])?; // 1, 2, 1, -2
/// let s = Tensor::from_f32(DType::BF16, vec![2, 1], &[0.5, 4.0])?;
/// let x = layouts::dequantize_compressed(Compressed::Fp8Channel, &w, &s, None)?;
/// assert_eq!(x, [0.5, 1.0, 4.0, -8.0]);
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
        Compressed::Mxfp8 => {
            check_shape("weight", packed, DType::F8E4M3, &[rows, width])?;
            check_shape(
                "weight_scale",
                scale,
                DType::U8,
                &[rows, width.div_ceil(32)],
            )?;
            let bpr = width.div_ceil(32);
            Ok(packed
                .data
                .iter()
                .enumerate()
                .map(|(i, &c)| {
                    let s = E8M0::from_bits(scale.data[(i / width) * bpr + (i % width) / 32]);
                    E4M3::from_bits(c).to_f32() * s.to_f32()
                })
                .collect())
        }
        Compressed::Fp8Block | Compressed::Fp8Tensor | Compressed::Fp8Channel => {
            check_shape("weight", packed, DType::F8E4M3, &[rows, width])?;
            let sc = width.div_ceil(128);
            let shapes: Vec<Vec<usize>> = match kind {
                Compressed::Fp8Block => vec![vec![rows.div_ceil(128), sc]],
                Compressed::Fp8Channel => vec![vec![rows, 1]],
                _ => vec![vec![1], vec![]],
            };
            // The factor of element (r, c): its block's, row's or the tensor's.
            let at = |r: usize, c: usize| match kind {
                Compressed::Fp8Block => (r / 128) * sc + c / 128,
                Compressed::Fp8Channel => r,
                _ => 0,
            };
            let float = matches!(scale.dtype, DType::F32 | DType::BF16);
            if !float || !shapes.contains(&scale.shape) {
                return Err(Error::InvalidArgument(format!(
                    "weight_scale is {} {:?}, expected F32 or BF16 {}",
                    scale.dtype.name(),
                    scale.shape,
                    shapes
                        .iter()
                        .map(|s| format!("{s:?}"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                )));
            }
            let s = scale.to_f32()?;
            Ok(packed
                .data
                .iter()
                .enumerate()
                .map(|(i, &c)| E4M3::from_bits(c).to_f32() * s[at(i / width, i % width)])
                .collect())
        }
    }
}
