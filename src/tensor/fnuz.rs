//! FP8 tensors in OCP's E4M3/E5M2 re-expressed in AMD's fnuz types without
//! loss: each code becomes the fnuz code of half its value
//! ([`ToFnuz`]) and each FP32 scale doubles, so every dequantized value is
//! unchanged. This is the weight normalization vLLM applies on MI300
//! (`normalize_e4m3fn_to_e4m3fnuz`).

use super::QuantizedTensor;
use crate::element::ToFnuz;
use crate::format::{BlockFormat, Fp8Blockwise, Fp8Global, Fp8Tensorwise};
use crate::prelude::*;
use crate::{Element, Error};

/// The codes, each re-expressed ([`ToFnuz::to_fnuz_halved`]).
fn halve_codes<T: ToFnuz>(data: &[u8]) -> Vec<u8> {
    data.iter()
        .map(|&b| T::from_bits(b).to_fnuz_halved().to_bits())
        .collect()
}

/// 2s, or an error naming the scale if that is not finite.
fn double(s: f32, what: impl FnOnce() -> String) -> Result<f32, Error> {
    let d = s * 2.0;
    if d.is_finite() {
        Ok(d)
    } else {
        Err(Error::InvalidValue {
            what: what(),
            value: s.into(),
            expected: "a scale whose double is finite (fnuz codes are worth half)",
        })
    }
}

fn doubled_scales(scales: &[f32], name: &str) -> Result<Vec<f32>, Error> {
    scales
        .iter()
        .enumerate()
        .map(|(i, &s)| double(s, || format!("{name}: scale {i}")))
        .collect()
}

impl<T: ToFnuz> QuantizedTensor<Fp8Tensorwise<T>> {
    /// The same tensor in `T`'s fnuz twin ([`crate::E4M3Fnuz`] or
    /// [`crate::E5M2Fnuz`]): every code worth half (−0 → 0; NaN and ±Inf
    /// → the fnuz NaN) and the stored scale `1/s` doubled, so
    /// [`Self::dequantize`] gives the same values bit for bit. The tensor
    /// amax is kept; the scale `s` halves (a fixed scale too).
    ///
    /// Errors: [`Error::InvalidValue`] if the doubled scale overflows f32.
    ///
    /// ```
    /// use blockscale::format::Fp8Tensorwise;
    /// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
    /// use blockscale::E4M3;
    /// let x = [1.0f32, -2.0, 0.0, -0.0, 300.0, 1e-3];
    /// let q = QuantizedTensor::quantize(Fp8Tensorwise::<E4M3>::current(), &x, 1, 6, &QuantizeOptions::default())?;
    /// let z = q.to_fnuz()?;
    /// assert_eq!(z.scales()[0], 2.0 * q.scales()[0]);
    /// assert_eq!(z.dequantize(), q.dequantize().iter().map(|v| v + 0.0).collect::<Vec<_>>()); // −0 → 0
    /// assert!(z.data().iter().all(|&b| b != 0x80));
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn to_fnuz(&self) -> Result<QuantizedTensor<Fp8Tensorwise<T::Fnuz>>, Error> {
        let name = self.format.name();
        let scales = doubled_scales(&self.scales, &name)?;
        let mut format = Fp8Tensorwise::<T::Fnuz>::current();
        format.power_of_two = self.format.power_of_two;
        format.scale = self.format.scale.map(|s| s * 0.5);
        let g = self.global;
        Ok(QuantizedTensor {
            format,
            rows: self.rows,
            cols: self.cols,
            direction: self.direction,
            data: halve_codes::<T>(&self.data),
            scales,
            global: Fp8Global {
                amax: g.amax,
                scale: g.scale * 0.5,
                scale_inv: double(g.scale_inv, || format!("{name}: scale_inv"))?,
            },
        })
    }
}

impl<T: ToFnuz> QuantizedTensor<Fp8Blockwise<T>> {
    /// The same tensor in `T`'s fnuz twin: every code worth half (−0 → 0;
    /// NaN and ±Inf → the fnuz NaN) and every block's stored scale
    /// doubled, so [`Self::dequantize`] gives the same values bit for bit.
    ///
    /// Errors: [`Error::InvalidValue`] naming the block whose doubled scale
    /// overflows f32.
    ///
    /// ```
    /// use blockscale::format::{BlockFormat, Fp8Blockwise};
    /// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
    /// use blockscale::E4M3;
    /// let x: Vec<f32> = (0..256).map(|i| (i as f32 - 100.0) * 0.37).collect();
    /// let q = QuantizedTensor::quantize(Fp8Blockwise::<E4M3>::ACTIVATIONS, &x, 2, 128, &QuantizeOptions::default())?;
    /// let z = q.to_fnuz()?;
    /// assert_eq!(z.format().name(), "FP8-E4M3FNUZ-block1x128");
    /// assert_eq!(z.dequantize(), q.dequantize());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn to_fnuz(&self) -> Result<QuantizedTensor<Fp8Blockwise<T::Fnuz>>, Error> {
        let mut format = Fp8Blockwise::<T::Fnuz>::new(self.format.rows, self.format.cols);
        format.power_of_two = self.format.power_of_two;
        Ok(QuantizedTensor {
            format,
            rows: self.rows,
            cols: self.cols,
            direction: self.direction,
            data: halve_codes::<T>(&self.data),
            scales: doubled_scales(&self.scales, &self.format.name())?,
            global: (),
        })
    }
}
