//! ggml's MXFP4 and NVFP4 blocks.

use super::*;
use crate::element::nibble;
use crate::format::{BlockFormat, BlockShape, MxFp4, Nvfp4};
use crate::tensor::{Direction, PartialBlocks, QuantizedTensor};
use crate::{E4M3, E8M0, Error};

// ---------------------------------------------------------------------------
// Blocks

/// ggml's `ggml_e8m0_to_fp32_half`: `2^(e − 128)`, built from its bits.
pub(super) fn e8m0_half(e: u8) -> f32 {
    f32::from_bits(if e < 2 {
        0x0020_0000 << e
    } else {
        (e as u32 - 1) << 23
    })
}

/// ggml's `ggml_ue4m3_to_fp32`: half the unsigned E4M3 value, bit 7
/// ignored, 0x7F (E4M3's NaN) read as 0.
pub(super) fn ue4m3_half(x: u8) -> f32 {
    if x == 0 || x == 0x7F {
        return 0.0;
    }
    let (e, m) = ((x >> 3) & 0xF, (x & 7) as f32);
    let raw = if e == 0 {
        m * (1.0 / 512.0)
    } else {
        (1.0 + m / 8.0) * f32::from_bits((e as u32 + 120) << 23) // 2^(e − 7)
    };
    raw * 0.5
}

/// The stored matrix of a rowwise-blocked tensor whose rows are whole ggml
/// blocks, or why it is not one.
pub(super) fn check_blocks(
    name: &str,
    (br, bc): (usize, usize),
    block: BlockShape,
    stored: (usize, usize),
    ggml: usize,
) -> Result<(usize, usize), Error> {
    if block != (BlockShape::Tile { rows: br, cols: bc }) {
        return Err(Error::InvalidArgument(format!(
            "{name}: ggml holds {br}x{bc} blocks only, not {block:?}"
        )));
    }
    let (rows, cols) = stored;
    if !cols.is_multiple_of(ggml) {
        return Err(Error::NotWholeBlocks {
            what: format!("{name} (ggml blocks; pad the rows)"),
            shape: (rows, cols),
            block: (1, ggml),
        });
    }
    Ok((rows, cols))
}

/// ggml MXFP4 bytes (`block_mxfp4`, rows of `cols/32` blocks) of a 1×32
/// MXFP4 tensor's stored matrix (a columnwise tensor is stored transposed):
/// codes and scale bytes copied, reordered into ggml's nibble order.
///
/// Errors: 32×32 tiles, rows that are not whole 32-element blocks, or a NaN
/// scale (E8M0 byte 255, which ggml reads as 2^127).
///
/// ```
/// use blockscale::format::MxFp4;
/// use blockscale::io::gguf;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x: Vec<f32> = (0..32).map(|i| i as f32 / 4.0).collect();
/// let q = QuantizedTensor::quantize(MxFp4::default(), &x, 1, 32, &QuantizeOptions::default())?;
/// let b = gguf::mxfp4_to_ggml(&q)?;
/// assert_eq!(b.len(), 17);
/// assert_eq!(b[0], q.scales()[0].to_bits());
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn mxfp4_to_ggml(q: &QuantizedTensor<MxFp4>) -> Result<Vec<u8>, Error> {
    let (rows, cols) = check_blocks("MXFP4", (1, 32), q.format().block(), q.stored_shape(), 32)?;
    let (data, scales) = (q.data(), q.scales());
    let mut out = Vec::with_capacity(rows * cols / 32 * 17);
    for (b, s) in scales.iter().enumerate() {
        if s.to_bits() == 0xFF {
            return Err(Error::InvalidArgument(format!(
                "MXFP4 block {b} has a NaN scale, which ggml cannot hold"
            )));
        }
        out.push(s.to_bits());
        let e0 = b * 32;
        for j in 0..16 {
            let lo = nibble::get(data, e0 + j, true);
            let hi = nibble::get(data, e0 + j + 16, true);
            out.push(lo | (hi << 4));
        }
    }
    Ok(out)
}

/// A rowwise `rows × cols` MXFP4 tensor of `format` (1×32 blocks) from ggml
/// MXFP4 bytes: the inverse of [`mxfp4_to_ggml`], bit for bit.
///
/// Errors: `format` not 1×32, `cols` not a multiple of 32, a byte count
/// that does not match, or an E8M0 byte 255 (2^127 to ggml, NaN here).
///
/// ```
/// use blockscale::format::MxFp4;
/// use blockscale::io::gguf;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x: Vec<f32> = (0..64).map(|i| (i as f32 - 30.0) / 3.0).collect();
/// let q = QuantizedTensor::quantize(MxFp4::default(), &x, 1, 64, &QuantizeOptions::default())?;
/// let back = gguf::mxfp4_from_ggml(&gguf::mxfp4_to_ggml(&q)?, (1, 64), MxFp4::default())?;
/// assert_eq!((back.data(), back.scales()), (q.data(), q.scales()));
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn mxfp4_from_ggml(
    bytes: &[u8],
    (rows, cols): (usize, usize),
    format: MxFp4,
) -> Result<QuantizedTensor<MxFp4>, Error> {
    check_blocks("MXFP4", (1, 32), format.block(), (rows, cols), 32)?;
    crate::error::check_len(
        "ggml MXFP4 bytes",
        GgmlType::MXFP4.nbytes(&[rows, cols])?,
        bytes.len(),
    )?;
    let mut data = vec![0u8; rows * cols / 2];
    let mut scales = Vec::with_capacity(rows * cols / 32);
    for (b, blk) in bytes.chunks_exact(17).enumerate() {
        if blk[0] == 0xFF {
            return Err(Error::InvalidArgument(format!(
                "ggml MXFP4 block {b} has scale byte 255 (2^127 to ggml, NaN as E8M0)"
            )));
        }
        scales.push(E8M0::from_bits(blk[0]));
        for (j, &q) in blk[1..].iter().enumerate() {
            nibble::put(&mut data, b * 32 + j, q & 0xF, true);
            nibble::put(&mut data, b * 32 + j + 16, q >> 4, true);
        }
    }
    QuantizedTensor::from_parts(
        format,
        (rows, cols),
        Direction::Rowwise,
        PartialBlocks::Reject,
        data,
        scales,
        None,
    )
}

/// Dequantizes ggml MXFP4 bytes as `dequantize_row_mxfp4` does:
/// `kvalues[q] · 2^(e − 128)`. Equals [`QuantizedTensor::dequantize`] of
/// the tensor [`mxfp4_to_ggml`] converted, bit for bit, except that its
/// −0 is +0 here.
///
/// Errors: a byte count that is not whole 17-byte blocks.
///
/// ```
/// use blockscale::io::gguf;
/// // e = 128 (scale 2), qs[0] = 0x71: element 0 is code 1 (0.5), element 16 code 7 (6).
/// let mut b = vec![128u8, 0x71];
/// b.extend([0u8; 15]);
/// let y = gguf::dequantize_mxfp4(&b)?;
/// assert_eq!((y[0], y[16], y[1]), (1.0, 12.0, 0.0));
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn dequantize_mxfp4(bytes: &[u8]) -> Result<Vec<f32>, Error> {
    if !bytes.len().is_multiple_of(17) {
        return Err(Error::InvalidArgument(format!(
            "{} bytes are not whole 17-byte MXFP4 blocks",
            bytes.len()
        )));
    }
    let mut out = vec![0f32; bytes.len() / 17 * 32];
    for (blk, y) in bytes.chunks_exact(17).zip(out.chunks_exact_mut(32)) {
        let d = e8m0_half(blk[0]);
        for (j, &q) in blk[1..].iter().enumerate() {
            y[j] = KVALUES[(q & 0xF) as usize] * d;
            y[j + 16] = KVALUES[(q >> 4) as usize] * d;
        }
    }
    Ok(out)
}

/// ggml NVFP4 bytes (`block_nvfp4`, rows of `cols/64` blocks) of a 1×16
/// NVFP4 tensor's stored matrix: the E4M3 block-scale bits copied as UE4M3,
/// codes reordered into ggml's nibble order. The per-tensor scale is not in
/// them: see [`gguf_tensors_nvfp4`].
///
/// Errors: 16×16 tiles, rows that are not whole 64-element blocks, or a
/// block scale ggml cannot hold: NaN, or negative (a −0 scale is written
/// as +0, as llama.cpp clears the sign bit).
///
/// ```
/// use blockscale::format::Nvfp4;
/// use blockscale::io::gguf;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x: Vec<f32> = (0..64).map(|i| i as f32 - 20.0).collect();
/// let q = QuantizedTensor::quantize(Nvfp4::default(), &x, 1, 64, &QuantizeOptions::default())?;
/// let b = gguf::nvfp4_to_ggml(&q)?;
/// assert_eq!(b.len(), 36);
/// assert_eq!(b[..4], q.scales().iter().map(|s| s.to_bits()).collect::<Vec<_>>()[..]);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn nvfp4_to_ggml(q: &QuantizedTensor<Nvfp4>) -> Result<Vec<u8>, Error> {
    let (rows, cols) = check_blocks("NVFP4", (1, 16), q.format().block(), q.stored_shape(), 64)?;
    let (data, scales) = (q.data(), q.scales());
    let mut out = Vec::with_capacity(rows * cols / 64 * 36);
    for (b, sub) in scales.chunks_exact(4).enumerate() {
        for (s, scale) in sub.iter().enumerate() {
            let bits = scale.to_bits();
            if bits & 0x7F == 0x7F || (bits & 0x80 != 0 && bits != 0x80) {
                return Err(Error::InvalidArgument(format!(
                    "NVFP4 block {} has scale {} (E4M3 {bits:#04x}), which ggml's unsigned E4M3 cannot hold",
                    b * 4 + s,
                    scale.to_f32()
                )));
            }
            out.push(bits & 0x7F);
        }
        for s in 0..4 {
            let e0 = b * 64 + s * 16;
            for j in 0..8 {
                let lo = nibble::get(data, e0 + j, true);
                let hi = nibble::get(data, e0 + j + 8, true);
                out.push(lo | (hi << 4));
            }
        }
    }
    Ok(out)
}

/// A rowwise `rows × cols` NVFP4 tensor of `format` (1×16 blocks) from ggml
/// NVFP4 bytes and the tensor amax `global_amax` (which GGUF does not hold:
/// llama.cpp stores `w = A/2688` only, and `w · 2688` recovers `A` only up
/// to rounding): the inverse of [`nvfp4_to_ggml`], bit for bit.
///
/// Errors: `format` with 16×16 tiles, `cols` not a multiple of 64, or a
/// byte count that does not match. UE4M3 bytes with bit 7 set, or 0x7F
/// (which ggml reads as 0), are refused rather than given another meaning.
///
/// ```
/// use blockscale::format::Nvfp4;
/// use blockscale::io::gguf;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x: Vec<f32> = (0..128).map(|i| (i as f32 * 0.3).cos()).collect();
/// let q = QuantizedTensor::quantize(Nvfp4::default(), &x, 2, 64, &QuantizeOptions::default())?;
/// let b = gguf::nvfp4_to_ggml(&q)?;
/// let back = gguf::nvfp4_from_ggml(&b, (2, 64), Nvfp4::default(), q.global_amax().unwrap())?;
/// assert_eq!(back.dequantize(), q.dequantize());
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn nvfp4_from_ggml(
    bytes: &[u8],
    (rows, cols): (usize, usize),
    format: Nvfp4,
    global_amax: f32,
) -> Result<QuantizedTensor<Nvfp4>, Error> {
    check_blocks("NVFP4", (1, 16), format.block(), (rows, cols), 64)?;
    crate::error::check_len(
        "ggml NVFP4 bytes",
        GgmlType::NVFP4.nbytes(&[rows, cols])?,
        bytes.len(),
    )?;
    let mut data = vec![0u8; rows * cols / 2];
    let mut scales = Vec::with_capacity(rows * cols / 16);
    for (b, blk) in bytes.chunks_exact(36).enumerate() {
        for (s, &d) in blk[..4].iter().enumerate() {
            if d >= 0x7F {
                return Err(Error::InvalidArgument(format!(
                    "ggml NVFP4 block {b} sub-block {s} has scale byte {d:#04x}, which is no positive E4M3"
                )));
            }
            scales.push(E4M3::from_bits(d));
        }
        for (k, &q) in blk[4..].iter().enumerate() {
            let e = b * 64 + (k / 8) * 16 + k % 8;
            nibble::put(&mut data, e, q & 0xF, true);
            nibble::put(&mut data, e + 8, q >> 4, true);
        }
    }
    QuantizedTensor::from_parts(
        format,
        (rows, cols),
        Direction::Rowwise,
        PartialBlocks::Reject,
        data,
        scales,
        Some(global_amax),
    )
}

/// Dequantizes ggml NVFP4 bytes as `dequantize_row_nvfp4` does,
/// `f32(kvalues[q] · ggml_ue4m3_to_fp32(d))` (exactly `e2m1 · E4M3(d)`), then,
/// given the per-tensor scale `w`, times `w` in f32, one rounding: the
/// weight llama.cpp's `ggml_mul` of the product by `w` amounts to. This is
/// what `gguf-py`'s `dequantize` returns, times `w` in NumPy f32.
///
/// Errors: a byte count that is not whole 36-byte blocks.
///
/// ```
/// use blockscale::io::gguf;
/// // Scale 0x38 (E4M3 1.0) for sub-block 0; qs[0] = 0xF2: element 0 is
/// // code 2 (1.0), element 8 code 15 (−6).
/// let mut b = vec![0x38, 0, 0, 0, 0xF2];
/// b.extend([0u8; 31]);
/// let y = gguf::dequantize_nvfp4(&b, None)?;
/// assert_eq!((y[0], y[8], y[16]), (1.0, -6.0, 0.0));
/// assert_eq!(gguf::dequantize_nvfp4(&b, Some(0.25))?[8], -1.5);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn dequantize_nvfp4(bytes: &[u8], w: Option<f32>) -> Result<Vec<f32>, Error> {
    if !bytes.len().is_multiple_of(36) {
        return Err(Error::InvalidArgument(format!(
            "{} bytes are not whole 36-byte NVFP4 blocks",
            bytes.len()
        )));
    }
    let mut out = vec![0f32; bytes.len() / 36 * 64];
    for (blk, y) in bytes.chunks_exact(36).zip(out.chunks_exact_mut(64)) {
        for s in 0..4 {
            let d = ue4m3_half(blk[s]);
            for j in 0..8 {
                let q = blk[4 + s * 8 + j];
                y[s * 16 + j] = KVALUES[(q & 0xF) as usize] * d;
                y[s * 16 + j + 8] = KVALUES[(q >> 4) as usize] * d;
            }
        }
    }
    if let Some(w) = w {
        out.iter_mut().for_each(|v| *v *= w);
    }
    Ok(out)
}
