//! The dequantizer: `x̂ = q · factor`, one f32 multiplication per element,
//! in SIMD kernels and on rayon's pool where they apply.

use super::{CHUNK_ELEMENTS, Direction, PARALLEL_MIN_ELEMENTS, QuantizedTensor};
use crate::element::slice::Real;
use crate::error::check_len;
use crate::format::BlockFormat;
use crate::par::*;
use crate::prelude::*;
use crate::simd::Packing;
use crate::{Element, Error};

impl<F: BlockFormat> QuantizedTensor<F> {
    /// Dequantizes into `out`, in the logical (not stored) orientation:
    /// `x̂ = q · F::dequant_factor(scale, global)`, one f32 multiplication,
    /// then rounded once to `S` ([`Real::from_f32`]: exact for f32 and f64;
    /// nearest-even for f16 and bf16, where a value beyond f16's range
    /// becomes ±Inf).
    ///
    /// Runs in SIMD kernels where the CPU has them and on rayon's pool
    /// from [`PARALLEL_MIN_ELEMENTS`] elements on; the values are the same
    /// either way. Into f32 it allocates nothing but one row of factors per
    /// thread; into another type it stages the f32 values in a temporary
    /// buffer.
    ///
    /// Errors: [`Error::LengthMismatch`] unless `out.len() == rows·cols`.
    ///
    /// ```
    /// use blockscale::format::MxFp8E4M3;
    /// use blockscale::tensor::{QuantizedTensor, QuantizeOptions};
    /// let x: Vec<f32> = (0..64).map(|i| (i % 8) as f32 - 4.0).collect();
    /// let q = QuantizedTensor::quantize(MxFp8E4M3::default(), &x, 2, 32, &QuantizeOptions::default())?;
    /// let mut y = vec![0f32; 64];
    /// q.dequantize_into(&mut y)?;
    /// assert_eq!(y, x); // small integers are exact in MXFP8
    /// let mut h = vec![half::bf16::ZERO; 64];
    /// q.dequantize_into(&mut h)?;
    /// assert_eq!(h[1].to_f32(), -3.0);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn dequantize_into<S: Real>(&self, out: &mut [S]) -> Result<(), Error> {
        check_len("output", self.rows * self.cols, out.len())?;
        if let Some(o) = S::as_f32s_mut(out) {
            return self.dequantize_f32(o);
        }
        let x = self.dequantize();
        out.par_iter_mut()
            .zip(x.par_iter())
            .with_min_len(CHUNK_ELEMENTS)
            .for_each(|(o, &v)| *o = S::from_f32(v));
        Ok(())
    }

    /// [`Self::dequantize_into`] for f32.
    fn dequantize_f32(&self, out: &mut [f32]) -> Result<(), Error> {
        check_len("output", self.rows * self.cols, out.len())?;
        let kernels = crate::simd::kernels(crate::simd::active());
        let (sr, sc) = self.stored_shape();
        let (tr, tc) = self.format.block().tile(sr, sc);
        let tiles_c = sc.div_ceil(tc);
        let n = out.len();
        if n == 0 {
            return Ok(());
        }
        let parallel = n >= PARALLEL_MIN_ELEMENTS && current_num_threads() > 1;
        let factor = |r: usize, tj: usize| {
            self.format
                .dequant_factor(self.scales[(r / tr) * tiles_c + tj], &self.global)
        };
        match self.direction {
            Direction::Rowwise => {
                let fp4 = F::Elem::PACKED;
                let packing = if fp4 {
                    Packing::Nibbles
                } else {
                    Packing::Bytes
                };
                let rows_per = (CHUNK_ELEMENTS / sc).max(1);
                let decoder = crate::element::decoder::<F::Elem>();
                let work = |r0: usize, chunk: &mut [f32]| {
                    let mut factors = vec![0f32; tiles_c];
                    let mut band = usize::MAX;
                    for (k, o) in chunk.chunks_mut(sc).enumerate() {
                        let r = r0 + k;
                        if r / tr != band {
                            band = r / tr;
                            // One band's scales as a slice: no division per block.
                            let band_scales = &self.scales[band * tiles_c..][..tiles_c];
                            for (f, &s) in factors.iter_mut().zip(band_scales) {
                                *f = self.format.dequant_factor(s, &self.global);
                            }
                        }
                        let e = r * sc;
                        if let Some(decode_row) = kernels.decode_row
                            && (!fp4
                                || (e.is_multiple_of(2) && (tc.is_multiple_of(2) || tiles_c == 1)))
                        {
                            let src = if fp4 {
                                &self.data[e / 2..(e + sc).div_ceil(2)]
                            } else {
                                &self.data[e..e + sc]
                            };
                            decode_row(&decoder, src, o, Some((&factors, tc)), packing);
                            continue;
                        }
                        for (c, v) in o.iter_mut().enumerate() {
                            *v = crate::element::dequant_mul(
                                self.code(e + c).to_f32(),
                                factors[c / tc],
                            );
                        }
                    }
                };
                if parallel {
                    out.par_chunks_mut(rows_per * sc)
                        .enumerate()
                        .for_each(|(k, chunk)| work(k * rows_per, chunk));
                } else {
                    work(0, out);
                }
            }
            Direction::Columnwise => {
                // Logical row i is stored column i.
                let work = |i: usize, o: &mut [f32]| {
                    for (c, v) in o.iter_mut().enumerate() {
                        *v = crate::element::dequant_mul(
                            self.code(c * sc + i).to_f32(),
                            factor(c, i / tc),
                        );
                    }
                };
                if parallel {
                    out.par_chunks_mut(self.cols)
                        .enumerate()
                        .for_each(|(i, o)| work(i, o));
                } else {
                    for (i, o) in out.chunks_mut(self.cols).enumerate() {
                        work(i, o);
                    }
                }
            }
        }
        Ok(())
    }

    /// Dequantizes to a new row-major `rows × cols` f32 matrix.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows * self.cols];
        self.dequantize_f32(&mut out)
            .expect("output has the tensor's length");
        out
    }
}
