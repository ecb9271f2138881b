//! This crate's own layout, for a tensor of any format.

use crate::Error;
use crate::format::{AnyFormat, ScaleKind};
use crate::io::{DType, Tensor};
use crate::tensor::{AnyQuantized, Direction, PartialBlocks, QuantizedView};

/// The tensors of this crate's own layout for a tensor of any format, and
/// the metadata entry (`blockscale:{name}` → JSON) that [`read_own`] needs:
/// `{"format": <FormatId>, "shape": [rows, cols], "direction": "rowwise" |
/// "columnwise", "global_amax": <f32 or null>}`, the format as
/// [`crate::format::BlockFormat::id`] prints it.
///
/// Errors: a NaN or +Inf tensor amax ([`Error::InvalidValue`] naming the
/// tensor; a tensor quantized from such values has one), which JSON cannot
/// hold.
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
    crate::io::finite_amax(name, q.global_amax())?;
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
