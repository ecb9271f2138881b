//! Quantizing one GEMM operand by its [`OperandSpec`], and multiplying two.

use super::OperandSpec;
use crate::error::{check_len, checked_area};
use crate::format::{AnyFormat, Fp8Tensorwise};
use crate::gemm::gemm_any;
use crate::tensor::{AnyQuantized, Direction, QuantizeOptions, QuantizedView};
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
        let r = |v: f32| half::bf16::from_f32(v).to_f32();
        let values = match direction {
            Direction::Rowwise => x.iter().map(|&v| r(v)).collect(),
            Direction::Columnwise => {
                let mut t = vec![0f32; len];
                for i in 0..rows {
                    for j in 0..cols {
                        t[j * rows + i] = r(x[i * cols + j]);
                    }
                }
                t
            }
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
            Direction::Columnwise => {
                let mut out = vec![0f32; self.values.len()];
                for i in 0..self.rows {
                    for j in 0..self.cols {
                        out[i * self.cols + j] = self.values[j * self.rows + i];
                    }
                }
                out
            }
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
}

impl QuantizedOperand {
    /// `"BF16"`, or the block format's name, for messages.
    fn format_name(&self) -> String {
        match self {
            QuantizedOperand::Bf16(_) => "BF16".into(),
            QuantizedOperand::Block(q) => q.format().name(),
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
