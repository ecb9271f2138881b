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
    let Some(amax_b) = b.global_amax() else {
        return Err(Error::InvalidArgument(format!(
            "row-scaled GEMM: {} has no tensor amax to multiply the rows' by",
            b.format().name()
        )));
    };
    let b1 = b.with_unit_amax();
    let mut d = vec![0.0f32; c.len()];
    super::gemm(a.unit(), &b1, alpha, 0.0, &mut d)?;
    let n = b.shape().0;
    for ((crow, drow), &ra) in c
        .chunks_mut(n.max(1))
        .zip(d.chunks(n.max(1)))
        .zip(a.row_amax())
    {
        let k = ra * amax_b;
        for (cv, &dv) in crow.iter_mut().zip(drow) {
            let y = dv * k;
            *cv = if beta == 0.0 { y } else { y + beta * *cv };
        }
    }
    Ok(())
}
