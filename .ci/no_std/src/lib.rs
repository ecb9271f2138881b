//! Compiles only if the element codecs, block formats and tensors need
//! nothing from std.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use blockscale::element::{ConvertOptions, slice};
use blockscale::format::{MxFp8E4M3, Nvfp4};
use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
use blockscale::{E2M1, E4M3, Error};

/// A constant conversion, evaluated by the compiler.
pub const TENTH: E4M3 = E4M3::from_f32_const(0.1);

/// Element round trip.
pub fn e4m3(x: f32) -> f32 {
    E4M3::from_f32(x).to_f32()
}

/// Bulk encoding.
pub fn encode_fp4(x: &[f32], out: &mut [E2M1]) -> Result<(), Error> {
    slice::encode(x, out, ConvertOptions::SATFINITE)
}

/// NVFP4 quantize and dequantize.
pub fn nvfp4(x: &[f32], rows: usize, cols: usize) -> Result<Vec<f32>, Error> {
    let q =
        QuantizedTensor::quantize(Nvfp4::default(), x, rows, cols, &QuantizeOptions::default())?;
    Ok(q.dequantize())
}

/// MXFP8 into a caller's buffer.
pub fn mxfp8_into(x: &[f32], cols: usize, out: &mut [half::f16]) -> Result<(), Error> {
    let q = QuantizedTensor::quantize(
        MxFp8E4M3::default(),
        x,
        x.len() / cols.max(1),
        cols,
        &QuantizeOptions::default(),
    )?;
    q.dequantize_into(out)
}

use blockscale::half;
