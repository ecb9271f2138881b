//! Checkpoint layouts ([SEMANTICS.md](crate::contract) §6): how a quantized weight is stored as
//! named tensors, and how to read it back.
//!
//! - **Model-Optimizer NVFP4** (read by vLLM and TensorRT-LLM): `{w}` U8
//!   `[rows, cols/2]` (element 2j in the low nibble), `{w}_scale` F8_E4M3
//!   `[rows, cols/16]` row-major, `{w}_scale_2` F32 scalar `A/2688`, where
//!   `{w}` is the weight's name (`…weight`). Dequantize:
//!   `x = e2m1 · f32(f32(scale) · scale_2)`.
//! - **gpt-oss MXFP4** (Hugging Face transformers): `{w}_blocks` U8
//!   `[rows, cols/32, 16]` (32 E2M1 elements per block, low nibble = even
//!   element), `{w}_scales` U8 `[rows, cols/32]` (E8M0 bits). Dequantize:
//!   `x = e2m1 · 2^(scale − 127)`.
//! - **blockscale** (any format): `{w}.qdata` U8 (this crate's element
//!   bytes, [`QuantizedTensor::data`]), `{w}.qscales` (F8_E4M3, F8_E8M0 or
//!   F32, `[tile rows, tile cols]`), and a `__metadata__` entry
//!   `blockscale:{w}` holding the format, shape, direction and tensor amax.

use super::{DType, Tensor};
use crate::element::nibble;
use crate::format::{AnyFormat, BlockFormat, MxFp4, Nvfp4, ScaleKind};
use crate::tensor::{AnyQuantized, Direction, PartialBlocks, QuantizedTensor, QuantizedView};
use crate::{E2M1, E4M3, E8M0, Error};

/// The tensors of a Model-Optimizer NVFP4 weight named `name` (which should
/// end in `weight`). The tensor must be rowwise 1×16 NVFP4; Model-Optimizer's
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
    if q.format().two_d || q.direction() != Direction::Rowwise {
        return Err(Error::InvalidArgument(format!(
            "{name}: the Model-Optimizer layout holds rowwise 1x16 NVFP4 only"
        )));
    }
    let (rows, cols) = q.shape();
    if !cols.is_multiple_of(16) {
        return Err(Error::InvalidArgument(format!(
            "{name}: {cols} columns are not a multiple of 16"
        )));
    }
    let w = q.global().w;
    Ok(vec![
        (
            name.to_string(),
            Tensor::new(DType::U8, vec![rows, cols / 2], q.data().to_vec())?,
        ),
        (
            format!("{name}_scale"),
            Tensor::new(
                DType::F8E4M3,
                vec![rows, cols / 16],
                q.scales().iter().map(|s| s.to_bits()).collect(),
            )?,
        ),
        (
            format!("{name}_scale_2"),
            Tensor::new(DType::F32, vec![], w.to_le_bytes().to_vec())?,
        ),
    ])
}

fn check_shape(what: &str, t: &Tensor, dtype: DType, shape: &[usize]) -> Result<(), Error> {
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

/// Dequantizes a Model-Optimizer NVFP4 weight: `x = e2m1 · f32(f32(scale) ·
/// scale_2)` (one product per block, then one per element), row-major
/// `[rows, cols]`. Equals [`QuantizedTensor::dequantize`] bit for bit for
/// tensors quantized with [`ModelOptimizer`](crate::scale::nvfp4::Nvfp4Profile::ModelOptimizer).
pub fn dequantize_modelopt_nvfp4(
    weight: &Tensor,
    scale: &Tensor,
    scale_2: &Tensor,
) -> Result<Vec<f32>, Error> {
    for t in [weight, scale, scale_2] {
        t.validate()?;
    }
    let (rows, half) = weight.matrix_shape();
    let cols = half.checked_mul(2).ok_or_else(|| {
        Error::InvalidArgument(format!("weight shape {:?} overflows", weight.shape))
    })?;
    check_shape("weight", weight, DType::U8, &[rows, half])?;
    check_shape(
        "weight_scale",
        scale,
        DType::F8E4M3,
        &[rows, cols.div_ceil(16)],
    )?;
    if scale_2.dtype != DType::F32 || scale_2.numel() != 1 {
        return Err(Error::InvalidArgument(format!(
            "weight_scale_2 is {} {:?}, expected an f32 scalar",
            scale_2.dtype.name(),
            scale_2.shape
        )));
    }
    let w = scale_2.to_f32()?[0];
    let bpr = cols.div_ceil(16);
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        for c in 0..cols {
            let q = E2M1::from_bits(nibble::get(&weight.data, r * cols + c, true)).to_f32();
            let s = E4M3::from_bits(scale.data[r * bpr + c / 16]).to_f32();
            out.push(q * (s * w));
        }
    }
    Ok(out)
}

/// The tensors of a gpt-oss MXFP4 weight named `name`: `{name}_blocks` and
/// `{name}_scales`. The tensor must be rowwise 1×32 MXFP4 with whole blocks.
///
/// ```
/// use blockscale::format::MxFp4;
/// use blockscale::io::layouts;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x: Vec<f32> = (0..3 * 64).map(|i| (i as f32 * 0.37).sin() * 5.0).collect();
/// let q = QuantizedTensor::quantize(MxFp4::default(), &x, 3, 64, &QuantizeOptions::default())?;
/// let t = layouts::gptoss_mxfp4("experts.down_proj", &q)?;
/// assert_eq!(t[0].1.shape, vec![3, 2, 16]);
/// assert_eq!(layouts::dequantize_gptoss_mxfp4(&t[0].1, &t[1].1)?, q.dequantize());
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gptoss_mxfp4(
    name: &str,
    q: &QuantizedTensor<MxFp4>,
) -> Result<Vec<(String, Tensor)>, Error> {
    if q.format().block() != (crate::format::BlockShape::Tile { rows: 1, cols: 32 })
        || q.direction() != Direction::Rowwise
    {
        return Err(Error::InvalidArgument(format!(
            "{name}: the gpt-oss layout holds rowwise 1x32 MXFP4 only"
        )));
    }
    let (rows, cols) = q.shape();
    if !cols.is_multiple_of(32) {
        return Err(Error::InvalidArgument(format!(
            "{name}: {cols} columns are not a multiple of 32"
        )));
    }
    Ok(vec![
        (
            format!("{name}_blocks"),
            Tensor::new(DType::U8, vec![rows, cols / 32, 16], q.data().to_vec())?,
        ),
        (
            format!("{name}_scales"),
            Tensor::new(
                DType::U8,
                vec![rows, cols / 32],
                q.scales().iter().map(|s| s.to_bits()).collect(),
            )?,
        ),
    ])
}

/// Dequantizes a gpt-oss MXFP4 weight: `x = e2m1 · 2^(scale − 127)` (a NaN
/// for scale byte 255), row-major `[…, cols]` with `cols = 32 · blocks`.
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

/// The tensors of this crate's own layout for a tensor of any format, and
/// the metadata entry (`blockscale:{name}` → JSON) that [`read_own`] needs:
/// `{"format": <FormatId>, "shape": [rows, cols], "direction": "rowwise" |
/// "columnwise", "global_amax": <f32 or null>}`, the format as
/// [`crate::format::BlockFormat::id`] prints it.
///
/// ```
/// use blockscale::format::MxFp8E4M3;
/// use blockscale::io::layouts;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor, QuantizedView};
/// let x: Vec<f32> = (0..64).map(|i| i as f32 - 20.0).collect();
/// let q = QuantizedTensor::quantize(MxFp8E4M3::default(), &x, 2, 32, &QuantizeOptions::default())?;
/// let (tensors, (key, json)) = layouts::own("x", &q)?;
/// assert_eq!(key, "blockscale:x");
/// let back = layouts::read_own(&tensors[0].1, &tensors[1].1, &json)?;
/// assert_eq!(back.format().to_string(), "mxfp8");
/// assert_eq!(back.dequantize(), q.dequantize());
/// # Ok::<(), blockscale::Error>(())
/// ```
#[allow(clippy::type_complexity)]
pub fn own(
    name: &str,
    q: &dyn QuantizedView,
) -> Result<(Vec<(String, Tensor)>, (String, String)), Error> {
    let (rows, cols) = q.shape();
    let (sr, sc) = q.scale_shape();
    let scales = scale_tensor(q.scale_kind(), &q.scale_bits(), sr, sc)?;
    let meta = serde_json::json!({
        "format": q.format_id().to_string(),
        "shape": [rows, cols],
        "direction": match q.direction() { Direction::Rowwise => "rowwise", Direction::Columnwise => "columnwise" },
        "global_amax": q.global_amax(),
    });
    Ok((
        vec![
            (
                format!("{name}.qdata"),
                Tensor::new(DType::U8, vec![q.data().len()], q.data().to_vec())?,
            ),
            (format!("{name}.qscales"), scales),
        ],
        (format!("blockscale:{name}"), meta.to_string()),
    ))
}

/// The dtype a scale type is stored as.
fn scale_dtype(kind: ScaleKind) -> DType {
    match kind {
        ScaleKind::E4M3 => DType::F8E4M3,
        ScaleKind::E8M0 => DType::F8E8M0,
        ScaleKind::F32 => DType::F32,
    }
}

fn scale_tensor(kind: ScaleKind, bits: &[u32], r: usize, c: usize) -> Result<Tensor, Error> {
    // A scale's bits are its encoding in the tensor's dtype (f32 little-endian).
    let bytes = match kind {
        ScaleKind::E4M3 | ScaleKind::E8M0 => bits.iter().map(|&b| b as u8).collect(),
        ScaleKind::F32 => bits.iter().flat_map(|b| b.to_le_bytes()).collect(),
    };
    Tensor::new(scale_dtype(kind), vec![r, c], bytes)
}

/// The stored bits of the scales in `t`, which must have the dtype of
/// scale type `kind`.
fn read_scale_bits(kind: ScaleKind, t: &Tensor) -> Result<Vec<u32>, Error> {
    let want = scale_dtype(kind);
    if t.dtype != want {
        return Err(Error::InvalidArgument(format!(
            "scales are {}, the format stores {} scales",
            t.dtype.name(),
            want.name()
        )));
    }
    Ok(match kind {
        ScaleKind::E4M3 | ScaleKind::E8M0 => t.data.iter().map(|&b| b.into()).collect(),
        ScaleKind::F32 => t
            .data
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    })
}

/// The format a [`own`] metadata entry records.
///
/// Errors: malformed JSON, no `format` entry, or a format this crate does
/// not know ([`Error::InvalidArgument`]).
///
/// ```
/// use blockscale::io::layouts::own_format;
/// assert_eq!(own_format(r#"{"format": "mxfp4,rule=floor"}"#)?.name(), "MXFP4-FLOOR");
/// assert!(own_format(r#"{"format": "mxfp5"}"#).is_err());
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn own_format(json: &str) -> Result<AnyFormat, Error> {
    let v: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Error::InvalidArgument(format!("malformed blockscale metadata: {e}")))?;
    v["format"]
        .as_str()
        .ok_or_else(|| Error::InvalidArgument("blockscale metadata has no format".into()))?
        .parse()
}

/// Rebuilds a tensor stored with [`own`], in the format its metadata names.
///
/// Errors: malformed metadata, an unknown format, scales of another dtype
/// than the format stores, or parts that do not fit the shape
/// ([`crate::tensor::QuantizedTensor::from_parts`]).
pub fn read_own(data: &Tensor, scales: &Tensor, json: &str) -> Result<AnyQuantized, Error> {
    data.validate()?;
    scales.validate()?;
    let format = own_format(json)?;
    let v: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Error::InvalidArgument(format!("malformed blockscale metadata: {e}")))?;
    let dim = |i: usize| {
        v["shape"][i]
            .as_u64()
            .and_then(|d| usize::try_from(d).ok())
            .ok_or_else(|| Error::InvalidArgument("blockscale metadata has no shape".into()))
    };
    let direction = match v["direction"].as_str() {
        Some("columnwise") => Direction::Columnwise,
        Some("rowwise") => Direction::Rowwise,
        _ => {
            return Err(Error::InvalidArgument(
                "blockscale metadata has no direction".into(),
            ));
        }
    };
    let amax = v["global_amax"].as_f64().map(|a| a as f32);
    let bits = read_scale_bits(format.scale_kind(), scales)?;
    AnyQuantized::from_parts(
        &format,
        (dim(0)?, dim(1)?),
        direction,
        PartialBlocks::ZeroPad,
        data.data.clone(),
        &bits,
        amax,
    )
}
