//! Row-scaled tensors: one tensor amax per row instead of one per matrix,
//! as Transformer Engine's `row_scaled_activation` NVFP4 recipe quantizes
//! activations (TE #2931, `common/cast/nvfp4/quantize_transpose_nvfp4.cuh`
//! `compute_rowwise_amax_kernel` and the `ROW_SCALED_NVFP4` kernels).

use super::{Direction, QuantizeOptions, QuantizedTensor};
use crate::element::slice::Real;
use crate::error::check_len;
use crate::format::{BlockFormat, BlockShape};
#[cfg(feature = "std")]
use crate::metrics::ErrorMetrics;
use crate::prelude::*;
use crate::{Element, Error};

/// A `rows × cols` matrix quantized row by row, each row with its own
/// tensor amax: row r is exactly what [`QuantizedTensor::quantize`] makes
/// of that row alone ([SEMANTICS.md](crate::contract) §3). The stored data
/// and block scales are those of an ordinary tensor of the format; the
/// row amaxes (FP32, one per row) replace its one tensor amax.
///
/// The format needs a tensor scale ([`BlockFormat::has_global_scale`]:
/// NVFP4, NVFP4 4over6) and blocks one row high (TE allows 1×16 only).
/// TE refuses stochastic rounding, the RHT and 2-D tiles with row scaling;
/// so does the crate (the RHT is the caller's step).
///
/// ```
/// use blockscale::format::Nvfp4;
/// use blockscale::tensor::{QuantizeOptions, RowScaled};
/// let x: Vec<f32> = (0..32).map(|i| if i < 16 { 3.0 } else { 100.0 }).collect();
/// let q = RowScaled::quantize(Nvfp4::default(), &x, 2, 16, &QuantizeOptions::default())?;
/// assert_eq!(q.row_amax(), &[3.0, 100.0]);
/// assert_eq!(q.dequantize(), x); // each row maps its amax onto 6 · 448
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RowScaled<F: BlockFormat> {
    /// The data and block scales, with the tensor amax 1 (what TE's GEMM
    /// wrapper hands cuBLAS).
    unit: QuantizedTensor<F>,
    row_amax: Vec<f32>,
}

impl<F: BlockFormat> QuantizedTensor<F> {
    /// This tensor with its amax replaced by 1 (the other operand of a
    /// row-scaled GEMM).
    #[cfg(feature = "std")] // the GEMM's
    pub(crate) fn with_unit_amax(&self) -> QuantizedTensor<F> {
        QuantizedTensor {
            global: self.format.global(1.0),
            ..self.clone()
        }
    }
}

impl<F: BlockFormat> RowScaled<F> {
    /// Quantizes the row-major `rows × cols` matrix `src`, each row with
    /// the amax of its own values (a NaN row has a NaN amax).
    ///
    /// Errors: those of [`QuantizedTensor::quantize`]; and
    /// [`Error::InvalidArgument`] for a format without a tensor scale or
    /// with blocks more than one row high, columnwise direction, stochastic
    /// rounding, a caller's `global_amax` (the amaxes are the rows'), or
    /// an odd `cols` with 4-bit elements (rows would share a byte).
    pub fn quantize<S: Real>(
        format: F,
        src: &[S],
        rows: usize,
        cols: usize,
        opts: &QuantizeOptions,
    ) -> Result<Self, Error> {
        let name = format.name();
        let refuse = |why: &str| Err(Error::InvalidArgument(format!("row-scaled {name}: {why}")));
        if !format.has_global_scale() {
            return refuse("the format has no tensor scale to give each row");
        }
        if matches!(format.block(), BlockShape::Tile { rows: r, .. } if r != 1) {
            return refuse("blocks must be one row high (TE: 1x16 only)");
        }
        if opts.direction != Direction::Rowwise {
            return refuse(
                "rows are scaled rowwise only; quantize the transpose for a columnwise copy",
            );
        }
        if opts.rounding.is_stochastic() {
            return refuse("nearest rounding only, as TE's row_scaled_activation");
        }
        if opts.global_amax.is_some() {
            return refuse("the amaxes are each row's own; global_amax does not apply");
        }
        if F::Elem::PACKED && cols % 2 == 1 {
            return refuse("4-bit rows need an even number of columns");
        }
        crate::error::checked_area("input", rows, cols)?;
        check_len("input", rows * cols, src.len())?;
        // One row's tensor, requantized row by row into the whole.
        let mut q = QuantizedTensor::quantize(format.clone(), &src[..0], 0, cols, opts)?;
        let (mut data, mut scales) = (Vec::new(), Vec::new());
        let mut row_amax = Vec::with_capacity(rows);
        for r in 0..rows {
            q.requantize(&src[r * cols..(r + 1) * cols], 1, cols, opts)?;
            data.extend_from_slice(&q.data);
            scales.extend_from_slice(&q.scales);
            row_amax.push(q.global_amax().unwrap_or(f32::NAN));
        }
        let unit = QuantizedTensor {
            global: format.global(1.0),
            format,
            rows,
            cols,
            direction: Direction::Rowwise,
            data,
            scales,
        };
        Ok(RowScaled { unit, row_amax })
    }

    /// Error metrics against the `reference` it was quantized from, as
    /// [`QuantizedTensor::error_metrics`] (the clipped fraction included).
    ///
    /// Errors: [`Error::LengthMismatch`] naming `reference` unless it has
    /// `rows·cols` elements.
    ///
    /// ```
    /// use blockscale::format::Nvfp4;
    /// use blockscale::tensor::{QuantizeOptions, RowScaled};
    /// let x: Vec<f32> = (0..32).map(|i| if i < 16 { 1e-3 * (i as f32 + 1.0) } else { 50.0 }).collect();
    /// let q = RowScaled::quantize(Nvfp4::default(), &x, 2, 16, &QuantizeOptions::default())?;
    /// let m = q.error_metrics(&x)?;
    /// assert_eq!((m.count, m.saturated), (32, 0.0));
    /// assert!(m.sqnr_db > 20.0);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    #[cfg(feature = "std")]
    pub fn error_metrics<S: Real>(&self, reference: &[S]) -> Result<ErrorMetrics, Error> {
        let (rows, cols) = self.shape();
        check_len("reference", rows * cols, reference.len())?;
        let approx = self.dequantize();
        let mut m = crate::metrics::compare(reference, &approx)?;
        if !reference.is_empty() {
            m.saturated = self.unit.clipped(reference, &approx) as f64 / reference.len() as f64;
        }
        Ok(m)
    }

    /// The amax of each row.
    pub fn row_amax(&self) -> &[f32] {
        &self.row_amax
    }
    /// The format.
    pub fn format(&self) -> &F {
        self.unit.format()
    }
    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        self.unit.shape()
    }
    /// The element bytes, as an ordinary tensor of the format stores them.
    pub fn data(&self) -> &[u8] {
        self.unit.data()
    }
    /// The block scales, row-major.
    pub fn scales(&self) -> &[F::Scale] {
        self.unit.scales()
    }
    /// The data and scales as one tensor whose amax is 1: each block
    /// dequantizes to its values divided by its row's amax (for NVFP4,
    /// `q · s · (1/2688)`). Transformer Engine's GEMM runs on this and
    /// multiplies the row amaxes in afterwards
    /// ([`crate::gemm::gemm_row_scaled`]).
    pub fn unit(&self) -> &QuantizedTensor<F> {
        &self.unit
    }

    /// The matrix, row-major `rows × cols`: row r dequantized with its
    /// amax, exactly as that row quantized alone dequantizes (TE
    /// `dequantize_fp4_kernel` with `ROW_SCALED_NVFP4`).
    pub fn dequantize(&self) -> Vec<f32> {
        let (rows, cols) = self.shape();
        let mut out = Vec::with_capacity(rows * cols);
        for (r, &amax) in self.row_amax.iter().enumerate() {
            let g = self.format().global(amax);
            for c in 0..cols {
                let (q, s) = (self.unit.element(r, c), self.unit.scale_at(r, c));
                let v = match (q, s) {
                    (Some(q), Some(s)) => {
                        crate::element::dequant_mul(q.to_f32(), self.format().dequant_factor(s, &g))
                    }
                    _ => f32::NAN, // unreachable: (r, c) is in range
                };
                out.push(v);
            }
        }
        out
    }
}
