//! Quantizing one GEMM operand by its [`OperandSpec`], and multiplying two.

use super::OperandSpec;
use crate::error::{check_len, checked_area};
use crate::format::{AnyFormat, BlockFormat, Fp8Tensorwise, Nvfp4, Nvfp4FourOverSix};
use crate::gemm::{gemm_any, gemm_row_scaled, gemm_row_scaled_b};
use crate::tensor::{
    AnyQuantized, Direction, QuantizeOptions, QuantizedTensor, QuantizedView, RowScaled,
    TensorRounding, TensorVisitor,
};
use crate::{E4M3, E5M2, Error};
use rayon::prelude::*;

/// A matrix rounded to BF16 (a layer kept in high precision), stored in
/// its direction's orientation as [`crate::tensor::QuantizedTensor`] stores data.
///
/// ```
/// use blockscale::recipe::{OperandRole, QuantizedOperand, Recipe};
/// let mut r = Recipe::nvfp4();
/// r.bf16.first = 1;
/// let spec = r.layer_spec(OperandRole::WgradInput, 0, 1, 0);
/// let q = spec.quantize(&[1.0f32, 1.00390625, 2.0, 3.0], 2, 2, None)?;
/// let QuantizedOperand::Bf16(m) = &q else { unreachable!() };
/// assert_eq!(m.stored_shape(), (2, 2));
/// assert_eq!(m.values(), &[1.0, 2.0, 1.0, 3.0]); // transposed; 1 + 2^-8 ties to 1
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Bf16Matrix {
    rows: usize,
    cols: usize,
    direction: Direction,
    values: Vec<f32>,
}

impl Bf16Matrix {
    /// Rounds the row-major `rows × cols` matrix `x` to BF16 (nearest even,
    /// `half::bf16::from_f32`), stored transposed if `direction` is
    /// columnwise.
    ///
    /// Errors: `x.len() != rows·cols` ([`Error::LengthMismatch`]).
    ///
    /// ```
    /// use blockscale::recipe::Bf16Matrix;
    /// use blockscale::tensor::Direction;
    /// let m = Bf16Matrix::new(&[0.1f32, 0.2], 1, 2, Direction::Rowwise)?;
    /// assert_eq!(m.values(), &[0.10009765625, 0.2001953125]);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn new(x: &[f32], rows: usize, cols: usize, direction: Direction) -> Result<Self, Error> {
        let len = checked_area("input", rows, cols)?;
        check_len("input", len, x.len())?;
        let rounded: Vec<f32> = x
            .iter()
            .map(|&v| half::bf16::from_f32(v).to_f32())
            .collect();
        let values = match direction {
            Direction::Rowwise => rounded,
            Direction::Columnwise => transpose(&rounded, rows, cols),
        };
        Ok(Bf16Matrix {
            rows,
            cols,
            direction,
            values,
        })
    }

    /// The stored shape: `(rows, cols)` rowwise, `(cols, rows)` columnwise.
    ///
    /// ```
    /// use blockscale::recipe::Bf16Matrix;
    /// use blockscale::tensor::Direction;
    /// assert_eq!(Bf16Matrix::new(&[0.0f32; 6], 2, 3, Direction::Columnwise)?.stored_shape(), (3, 2));
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn stored_shape(&self) -> (usize, usize) {
        match self.direction {
            Direction::Rowwise => (self.rows, self.cols),
            Direction::Columnwise => (self.cols, self.rows),
        }
    }

    /// The BF16 values (as f32), row-major in the stored orientation.
    ///
    /// ```
    /// use blockscale::recipe::Bf16Matrix;
    /// use blockscale::tensor::Direction;
    /// let m = Bf16Matrix::new(&[1.0f32, 2.0, 3.0, 4.0], 2, 2, Direction::Columnwise)?;
    /// assert_eq!(m.values(), &[1.0, 3.0, 2.0, 4.0]);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// The values in the logical `rows × cols` orientation.
    ///
    /// ```
    /// use blockscale::recipe::Bf16Matrix;
    /// use blockscale::tensor::Direction;
    /// let m = Bf16Matrix::new(&[1.0f32, 2.0, 3.0, 4.0], 2, 2, Direction::Columnwise)?;
    /// assert_eq!(m.dequantize(), vec![1.0, 2.0, 3.0, 4.0]);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn dequantize(&self) -> Vec<f32> {
        match self.direction {
            Direction::Rowwise => self.values.clone(),
            Direction::Columnwise => transpose(&self.values, self.cols, self.rows),
        }
    }
}

/// The `cols × rows` transpose of the row-major `rows × cols` matrix `x`
/// (whose length the caller has checked).
fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0f32; x.len()];
    for i in 0..rows {
        for j in 0..cols {
            t[j * rows + i] = x[i * cols + j];
        }
    }
    t
}

/// X quantized with one tensor amax per stored row
/// ([`Nvfp4Options::row_scaled_activation`](super::Nvfp4Options)): a
/// [`RowScaled`] NVFP4 or NVFP4 4over6 tensor of X's rows (rowwise, one
/// amax per token) or of Xᵀ's (columnwise, one amax per input feature, as
/// TE #3206's transposed copy).
///
/// ```
/// use blockscale::recipe::{Nvfp4Options, OperandRole, QuantizedOperand, Recipe};
/// let r = Recipe::nvfp4_with(Nvfp4Options { row_scaled_activation: true, rht: false, ..Default::default() });
/// let x: Vec<f32> = (0..2 * 16).map(|i| if i < 16 { 1.0 } else { 5.0 }).collect();
/// let QuantizedOperand::RowScaled(q) = r.spec(OperandRole::FpropInput).quantize(&x, 2, 16, None)? else { unreachable!() };
/// assert_eq!(q.row_amax(), &[1.0, 5.0]);
/// assert_eq!(q.stored_shape(), (2, 16));
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RowScaledOperand {
    tensor: RowScaledTensor,
    direction: Direction,
}

/// The formats row scaling applies to (those with a tensor amax).
#[derive(Clone, Debug)]
enum RowScaledTensor {
    Nvfp4(RowScaled<Nvfp4>),
    FourOverSix(RowScaled<Nvfp4FourOverSix>),
}

impl RowScaledOperand {
    /// Quantizes the row-major `rows × cols` matrix `x` (the logical
    /// orientation) in `direction`, each stored row with its own amax.
    fn quantize(
        format: &AnyFormat,
        x: &[f32],
        (rows, cols): (usize, usize),
        direction: Direction,
        rounding: TensorRounding,
    ) -> Result<Self, Error> {
        let len = checked_area("input", rows, cols)?;
        check_len("input", len, x.len())?;
        let transposed;
        let (x, r, c) = match direction {
            Direction::Rowwise => (x, rows, cols),
            Direction::Columnwise => {
                transposed = transpose(x, rows, cols);
                (&transposed[..], cols, rows)
            }
        };
        let opts = QuantizeOptions {
            rounding,
            ..Default::default()
        };
        let tensor = match format {
            AnyFormat::Nvfp4(f) => RowScaledTensor::Nvfp4(RowScaled::quantize(*f, x, r, c, &opts)?),
            AnyFormat::Nvfp4FourOverSix(f) => {
                RowScaledTensor::FourOverSix(RowScaled::quantize(*f, x, r, c, &opts)?)
            }
            f => {
                return Err(Error::InvalidArgument(format!(
                    "row scaling needs a format with a tensor amax (NVFP4, NVFP4 4over6), not {}",
                    f.name()
                )));
            }
        };
        Ok(RowScaledOperand { tensor, direction })
    }

    /// The amax of each stored row.
    pub fn row_amax(&self) -> &[f32] {
        match &self.tensor {
            RowScaledTensor::Nvfp4(t) => t.row_amax(),
            RowScaledTensor::FourOverSix(t) => t.row_amax(),
        }
    }

    /// The stored data and block scales with tensor amax 1
    /// ([`RowScaled::unit`]).
    pub fn unit(&self) -> &dyn QuantizedView {
        match &self.tensor {
            RowScaledTensor::Nvfp4(t) => t.unit(),
            RowScaledTensor::FourOverSix(t) => t.unit(),
        }
    }

    /// The direction X was quantized in.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The shape of the stored matrix (K along its rows).
    pub fn stored_shape(&self) -> (usize, usize) {
        self.unit().shape()
    }

    /// The dequantized values, row-major in the logical orientation.
    pub fn dequantize(&self) -> Vec<f32> {
        let stored = match &self.tensor {
            RowScaledTensor::Nvfp4(t) => t.dequantize(),
            RowScaledTensor::FourOverSix(t) => t.dequantize(),
        };
        match self.direction {
            Direction::Rowwise => stored,
            Direction::Columnwise => {
                let (r, c) = self.stored_shape();
                transpose(&stored, r, c)
            }
        }
    }

    /// `a · bᵀ` into `c` with `self` as A ([`gemm_row_scaled`]).
    fn gemm_as_a(&self, b: &AnyQuantized, c: &mut [f32]) -> Result<(), Error> {
        struct AsA<'a, F: BlockFormat>(&'a RowScaled<F>, &'a mut [f32]);
        impl<FA: BlockFormat> TensorVisitor for AsA<'_, FA> {
            type Output = Result<(), Error>;
            fn visit<F: BlockFormat>(self, b: &QuantizedTensor<F>) -> Self::Output {
                gemm_row_scaled(self.0, b, 1.0, 0.0, self.1)
            }
        }
        match &self.tensor {
            RowScaledTensor::Nvfp4(t) => b.visit(AsA(t, c)),
            RowScaledTensor::FourOverSix(t) => b.visit(AsA(t, c)),
        }
    }

    /// `a · bᵀ` into `c` with `self` as B ([`gemm_row_scaled_b`]).
    fn gemm_as_b(&self, a: &AnyQuantized, c: &mut [f32]) -> Result<(), Error> {
        struct AsB<'a, F: BlockFormat>(&'a RowScaled<F>, &'a mut [f32]);
        impl<FB: BlockFormat> TensorVisitor for AsB<'_, FB> {
            type Output = Result<(), Error>;
            fn visit<F: BlockFormat>(self, a: &QuantizedTensor<F>) -> Self::Output {
                gemm_row_scaled_b(a, self.0, 1.0, 0.0, self.1)
            }
        }
        match &self.tensor {
            RowScaledTensor::Nvfp4(t) => a.visit(AsB(t, c)),
            RowScaledTensor::FourOverSix(t) => a.visit(AsB(t, c)),
        }
    }
}

/// A quantized GEMM operand: BF16 (a layer kept in high precision) or a
/// block-scaled tensor of any format.
///
/// ```
/// use blockscale::recipe::{OperandRole, QuantizedOperand, Recipe};
/// use blockscale::tensor::QuantizedView;
/// let spec = Recipe::nvfp4().spec(OperandRole::FpropWeight);
/// let w: Vec<f32> = (0..16 * 16).map(|i| i as f32 / 256.0).collect();
/// let q = spec.quantize(&w, 16, 16, None)?;
/// let QuantizedOperand::Block(t) = &q else { unreachable!() };
/// assert_eq!(t.format_id().to_string(), "nvfp4,2d");
/// assert_eq!(t.scale_bits().len(), 1); // one 16×16 tile
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum QuantizedOperand {
    /// BF16 (high-precision layer).
    Bf16(Bf16Matrix),
    /// A block-scaled tensor.
    Block(AnyQuantized),
    /// A block-scaled tensor with one amax per stored row (X under
    /// [`Nvfp4Options::row_scaled_activation`](super::Nvfp4Options)).
    RowScaled(RowScaledOperand),
}

impl QuantizedOperand {
    /// `"BF16"`, or the block format's name, for messages.
    fn format_name(&self) -> String {
        match self {
            QuantizedOperand::Bf16(_) => "BF16".into(),
            QuantizedOperand::Block(q) => q.format().name(),
            QuantizedOperand::RowScaled(q) => format!("row-scaled {}", q.unit().format_name()),
        }
    }

    /// The dequantized values, row-major in the logical orientation (for
    /// an operand with RHT: the transformed values' approximation; apply
    /// [`crate::rht::Rht::inverse`] to get back to the original basis).
    ///
    /// ```
    /// use blockscale::recipe::{OperandRole, Recipe};
    /// let spec = Recipe::mxfp8().spec(OperandRole::FpropInput);
    /// let q = spec.quantize(&[1.5f32; 32], 1, 32, None)?;
    /// assert_eq!(q.dequantize(), vec![1.5; 32]);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn dequantize(&self) -> Vec<f32> {
        match self {
            QuantizedOperand::Bf16(m) => m.dequantize(),
            QuantizedOperand::Block(t) => t.dequantize(),
            QuantizedOperand::RowScaled(t) => t.dequantize(),
        }
    }

    /// The shape of the stored matrix (K along its rows).
    ///
    /// ```
    /// use blockscale::recipe::{OperandRole, Recipe};
    /// let spec = Recipe::tensorwise().spec(OperandRole::DgradWeight);
    /// assert_eq!(spec.quantize(&[1.0f32; 6], 2, 3, None)?.stored_shape(), (3, 2));
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn stored_shape(&self) -> (usize, usize) {
        match self {
            QuantizedOperand::Bf16(m) => m.stored_shape(),
            QuantizedOperand::Block(t) => t.stored_shape(),
            QuantizedOperand::RowScaled(t) => t.stored_shape(),
        }
    }
}

impl OperandSpec {
    /// Quantizes the row-major `rows × cols` tensor `x` (in its logical
    /// orientation: X is tokens × in, W out × in, dY tokens × out) as this
    /// spec says:
    ///
    /// 1. if `rht` is set, `x` is copied and transformed along `direction`
    ///    ([`crate::rht::Rht::forward`]; K of the GEMM), BF16-rounded if the
    ///    transform says so;
    /// 2. the result is quantized with [`AnyQuantized::quantize`] in
    ///    `direction`, with the format's own amax (after the RHT, as TE
    ///    takes it), whole blocks only, with the spec's rounding;
    /// 3. delayed FP8 scaling uses `fp8_scale` (the layer's
    ///    [`super::DelayedScaler::scale`]) as the scale s in `q = e4m3(x·s)`.
    ///
    /// BF16 rounds to bf16 (nearest even) instead ([`Bf16Matrix::new`]).
    ///
    /// Errors: a length mismatch ([`Error::LengthMismatch`]); a shape that
    /// is not whole blocks or RHT chunks; `fp8_scale` missing for delayed
    /// scaling or given for anything else ([`Error::InvalidArgument`]).
    ///
    /// ```
    /// use blockscale::recipe::{OperandRole, Recipe};
    /// let spec = Recipe::delayed().spec(OperandRole::FpropInput);
    /// let q = spec.quantize(&[1.0f32, 2.0], 1, 2, Some(64.0))?;
    /// assert_eq!(q.dequantize(), vec![1.0, 2.0]); // 64 and 128 are E4M3 values
    /// assert!(spec.quantize(&[1.0f32, 2.0], 1, 2, None).is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn quantize(
        &self,
        x: &[f32],
        rows: usize,
        cols: usize,
        fp8_scale: Option<f32>,
    ) -> Result<QuantizedOperand, Error> {
        let format = match (self.delayed, fp8_scale, self.format) {
            (true, None, _) => {
                return Err(Error::InvalidArgument(
                    "delayed FP8 scaling needs the scale from the layer's DelayedScaler".into(),
                ));
            }
            (false, Some(_), f) => {
                return Err(Error::InvalidArgument(format!(
                    "a caller-supplied FP8 scale is only for delayed scaling, not {}",
                    f.map_or("BF16".into(), |f| f.name())
                )));
            }
            (true, Some(s), Some(AnyFormat::Fp8TensorwiseE4M3(_))) => {
                Some(Fp8Tensorwise::<E4M3>::with_scale(s).into())
            }
            (true, Some(s), Some(AnyFormat::Fp8TensorwiseE5M2(_))) => {
                Some(Fp8Tensorwise::<E5M2>::with_scale(s).into())
            }
            (true, Some(_), f) => {
                return Err(Error::InvalidArgument(format!(
                    "delayed scaling applies to FP8 per-tensor formats, not {}",
                    f.map_or("BF16".into(), |f| f.name())
                )));
            }
            (false, None, f) => f,
        };
        let transformed;
        let x = match &self.rht {
            Some(rht) => {
                let len = checked_area("input", rows, cols)?;
                check_len("input", len, x.len())?;
                let mut t = x.to_vec();
                rht.forward(&mut t, rows, cols, self.direction)?;
                transformed = t;
                &transformed[..]
            }
            None => x,
        };
        let opts = QuantizeOptions {
            direction: self.direction,
            rounding: self.rounding,
            ..Default::default()
        };
        Ok(match format {
            Some(f) if self.row_scaled => QuantizedOperand::RowScaled(RowScaledOperand::quantize(
                &f,
                x,
                (rows, cols),
                self.direction,
                self.rounding,
            )?),
            None => QuantizedOperand::Bf16(Bf16Matrix::new(x, rows, cols, self.direction)?),
            Some(f) => QuantizedOperand::Block(AnyQuantized::quantize(&f, x, rows, cols, &opts)?),
        })
    }
}

/// `C = A·Bᵀ` for two operands stored along K (A: M×K, B: N×K stored), `C`
/// row-major M×N.
///
/// Quantized pairs whose scales are of one kind (FP8 per-tensor, MX, FP8
/// blockwise, NVFP4; elements mixed freely) go through [`gemm_any`]
/// with alpha 1 and beta 0: exact block sums, FP32 accumulation in
/// increasing K-block order, bit-identical to
/// [`crate::gemm::gemm_reference`]. A BF16 pair computes, for each output,
/// `acc = +0; for k in 0..K: acc = f32(acc + a_k·b_k)` (each BF16 product is
/// exact in f32), as a BF16 GEMM with an FP32 accumulator in K order.
///
/// Errors: operands of different families, or shapes and blocks that do
/// not match along K, or `C` of the wrong length.
///
/// ```
/// use blockscale::recipe::{OperandRole, Recipe, gemm_operands};
/// let r = Recipe::tensorwise();
/// let a = r.spec(OperandRole::FpropInput).quantize(&[1.0f32, 2.0], 1, 2, None)?;
/// let b = r.spec(OperandRole::FpropWeight).quantize(&[2.0f32, 4.0, 0.5, 0.5], 2, 2, None)?;
/// let mut c = [0f32; 2];
/// gemm_operands(&a, &b, &mut c)?;
/// // Every value is exact in E4M3 after scaling; only the f32 scales 1/224, 1/112 round.
/// assert!((c[0] - 10.0).abs() < 1e-5 && (c[1] - 1.5).abs() < 1e-5);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gemm_operands(
    a: &QuantizedOperand,
    b: &QuantizedOperand,
    c: &mut [f32],
) -> Result<(), Error> {
    use QuantizedOperand as Q;
    match (a, b) {
        (Q::Bf16(a), Q::Bf16(b)) => bf16_gemm(a, b, c),
        (Q::Block(a), Q::Block(b)) => gemm_any(a, b, 1.0, 0.0, c),
        (Q::RowScaled(a), Q::Block(b)) => a.gemm_as_a(b, c),
        (Q::Block(a), Q::RowScaled(b)) => b.gemm_as_b(a, c),
        (a, b) => Err(Error::FormatMismatch {
            expected: a.format_name(),
            found: b.format_name(),
        }),
    }
}

fn bf16_gemm(a: &Bf16Matrix, b: &Bf16Matrix, c: &mut [f32]) -> Result<(), Error> {
    let (m, k) = a.stored_shape();
    let (n, kb) = b.stored_shape();
    if k != kb {
        return Err(Error::KMismatch {
            a: (m, k),
            b: (n, kb),
        });
    }
    let mn = checked_area("C", m, n)?;
    check_len("C", mn, c.len())?;
    if n == 0 {
        return Ok(());
    }
    // B transposed to K-major so that each row of C accumulates its n
    // outputs side by side (vectorizable); every output still sums its own
    // products in increasing k, so the result is the documented order.
    let mut bt = vec![0f32; k * n];
    for j in 0..n {
        for (kk, &v) in b.values[j * k..(j + 1) * k].iter().enumerate() {
            bt[kk * n + j] = v;
        }
    }
    c.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        row.fill(0.0);
        let ra = &a.values[i * k..(i + 1) * k];
        for (kk, &x) in ra.iter().enumerate() {
            for (acc, &y) in row.iter_mut().zip(&bt[kk * n..(kk + 1) * n]) {
                *acc += x * y;
            }
        }
    });
    Ok(())
}
