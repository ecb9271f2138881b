//! The GEMM of a row-scaled operand ([`RowScaled`]) with an ordinary one,
//! as Transformer Engine runs it (`pytorch/cpp_extensions/gemm.py`,
//! `general_gemm` with `_nvfp4_row_scaled_gemm_inputs`): cuBLAS cannot
//! take a vector of amaxes, so both amaxes are set to 1, the ordinary
//! GEMM runs in FP32, and each output row is multiplied by its row amax
//! times the other operand's amax.

use crate::Error;
use crate::format::BlockFormat;
use crate::tensor::{QuantizedTensor, RowScaled};

/// `C = alpha · A · Bᵀ (+ beta · C)` for a row-scaled `a` (M×K) and an
/// ordinary `b` (N×K), row-major M×N `c`, in TE's order:
///
/// ```text
/// D[i][j] = gemm(a with amax 1, b with amax 1, alpha, beta = 0)     // crate::gemm::gemm
/// k_i     = f32(row_amax_a[i] · amax_b)
/// C[i][j] = f32(D[i][j] · k_i)                     if beta == 0
///         = f32(f32(D[i][j] · k_i) + f32(beta · C[i][j]))   otherwise
/// ```
///
/// Errors: those of [`crate::gemm::gemm`], and [`Error::InvalidArgument`]
/// if `b`'s format has no tensor amax.
///
/// ```
/// use blockscale::format::Nvfp4;
/// use blockscale::gemm::gemm_row_scaled;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor, RowScaled};
/// let o = QuantizeOptions::default();
/// let x: Vec<f32> = (0..32).map(|i| if i < 16 { 3.0 } else { 100.0 }).collect();
/// let a = RowScaled::quantize(Nvfp4::default(), &x, 2, 16, &o)?;
/// let w = QuantizedTensor::quantize(Nvfp4::default(), &[0.5f32; 16], 1, 16, &o)?;
/// let mut c = [0.0f32; 2];
/// gemm_row_scaled(&a, &w, 1.0, 0.0, &mut c)?;
/// assert!((c[0] - 24.0).abs() < 1e-4 && (c[1] - 800.0).abs() < 1e-3); // 16 · 3 · 0.5, 16 · 100 · 0.5
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gemm_row_scaled<FA: BlockFormat, FB: BlockFormat>(
    a: &RowScaled<FA>,
    b: &QuantizedTensor<FB>,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
) -> Result<(), Error> {
    let amax_b = tensor_amax(b)?;
    let mut d = vec![0.0f32; c.len()];
    super::gemm(a.unit(), &b.with_unit_amax(), alpha, 0.0, &mut d)?;
    let n = b.shape().0;
    epilogue(c, &d, n, beta, |i, _| a.row_amax()[i] * amax_b);
    Ok(())
}

/// `C = alpha · A · Bᵀ (+ beta · C)` for an ordinary `a` (M×K) and a
/// row-scaled `b` (N×K): the wgrad GEMM `dW = dYᵀ·X` of Transformer
/// Engine's row-scaled recipe, whose X copy along the tokens has one amax
/// per input feature (TE #3206). B's rows are C's columns, so each output
/// column is scaled, in TE's order:
///
/// ```text
/// D[i][j] = gemm(a with amax 1, b with amax 1, alpha, beta = 0)
/// k_j     = f32(row_amax_b[j] · amax_a)
/// C[i][j] = f32(D[i][j] · k_j)  (then + f32(beta · C[i][j]) as above)
/// ```
///
/// Errors: those of [`crate::gemm::gemm`], and [`Error::InvalidArgument`]
/// if `a`'s format has no tensor amax.
///
/// ```
/// use blockscale::format::Nvfp4;
/// use blockscale::gemm::gemm_row_scaled_b;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor, RowScaled};
/// let o = QuantizeOptions::default();
/// let dy = QuantizedTensor::quantize(Nvfp4::default(), &[0.5f32; 16], 1, 16, &o)?;
/// let x: Vec<f32> = (0..32).map(|i| if i < 16 { 3.0 } else { 100.0 }).collect();
/// let xt = RowScaled::quantize(Nvfp4::default(), &x, 2, 16, &o)?;
/// let mut c = [0.0f32; 2];
/// gemm_row_scaled_b(&dy, &xt, 1.0, 0.0, &mut c)?;
/// assert!((c[0] - 24.0).abs() < 1e-4 && (c[1] - 800.0).abs() < 1e-3);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gemm_row_scaled_b<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &RowScaled<FB>,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
) -> Result<(), Error> {
    let amax_a = tensor_amax(a)?;
    let mut d = vec![0.0f32; c.len()];
    super::gemm(&a.with_unit_amax(), b.unit(), alpha, 0.0, &mut d)?;
    let n = b.shape().0;
    epilogue(c, &d, n, beta, |_, j| b.row_amax()[j] * amax_a);
    Ok(())
}

/// The ordinary operand's tensor amax, which multiplies the row amaxes.
fn tensor_amax<F: BlockFormat>(t: &QuantizedTensor<F>) -> Result<f32, Error> {
    t.global_amax().ok_or_else(|| {
        Error::InvalidArgument(format!(
            "row-scaled GEMM: {} has no tensor amax to multiply the rows' by",
            t.format().name()
        ))
    })
}

/// `C[i][j] = f32(D[i][j] · k(i, j))`, plus `f32(beta · C[i][j])` unless
/// `beta` is 0 (TE: the outer scale, then the f32 output's accumulate).
/// `d` has the GEMM's shape, checked by it; `n` is C's row length.
fn epilogue(c: &mut [f32], d: &[f32], n: usize, beta: f32, k: impl Fn(usize, usize) -> f32) {
    for (i, (crow, drow)) in c.chunks_mut(n.max(1)).zip(d.chunks(n.max(1))).enumerate() {
        for (j, (cv, &dv)) in crow.iter_mut().zip(drow).enumerate() {
            let y = dv * k(i, j);
            *cv = if beta == 0.0 { y } else { y + beta * *cv };
        }
    }
}
