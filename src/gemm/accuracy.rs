//! How far a block-scaled GEMM lands from exact arithmetic.

use super::{check, gemm};
use crate::Error;
use crate::format::BlockFormat;
use crate::tensor::{Direction, QuantizedTensor};

/// The errors of `C = A·Bᵀ` computed by [`gemm`] from quantized operands.
///
/// Both are relative Frobenius norms, `‖C − R‖_F / ‖R‖_F`, computed in f64:
/// - `vs_dequantized`: R is the exact (f64) product of the *dequantized*
///   operands. This is the GEMM's own error: FP32 accumulation across
///   blocks and the one rounding per block term, about K/block · 2^-24
///   at worst and far less on average.
/// - `vs_unquantized`: R is the f64 product of the unquantized operands.
///   This is what the format costs the matrix product.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GemmAccuracy {
    /// Relative error against the exact product of the dequantized operands.
    pub vs_dequantized: f64,
    /// Relative error against the product of the unquantized operands.
    pub vs_unquantized: f64,
    /// Largest `|C − R|` against the unquantized product, over `R`'s RMS.
    pub max_vs_unquantized: f64,
}

/// Measures [`GemmAccuracy`] for quantized `a` (M×K stored) and `b` (N×K
/// stored) made from `x` and `y`, the unquantized operands in the same
/// stored orientation (row-major M×K and N×K).
///
/// ```
/// use blockscale::format::MxFp8E4M3;
/// use blockscale::gemm::accuracy;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x: Vec<f32> = (0..8 * 64).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0).collect();
/// let q = QuantizedTensor::quantize(MxFp8E4M3::default(), &x, 8, 64, &QuantizeOptions::default())?;
/// let acc = accuracy(&q, &q, &x, &x)?;
/// assert!(acc.vs_dequantized < 1e-6 && acc.vs_unquantized < 0.05);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn accuracy<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    x: &[f32],
    y: &[f32],
) -> Result<GemmAccuracy, Error> {
    // (Saturating: `check` reports an overflowing M·N itself.)
    let d = check(a, b, a.stored_shape().0.saturating_mul(b.stored_shape().0))?;
    crate::error::check_len("x", d.m * d.k, x.len())?;
    crate::error::check_len("y", d.n * d.k, y.len())?;
    let mut c = vec![0f32; d.m * d.n];
    gemm(a, b, 1.0, 0.0, &mut c)?;
    let (da, db) = (stored_dequantized(a), stored_dequantized(b));
    let exact_deq = product(&da, &db, d.m, d.n, d.k);
    let exact = product(x, y, d.m, d.n, d.k);
    let rel = |r: &[f64]| {
        let num: f64 = c.iter().zip(r).map(|(&c, &r)| (c as f64 - r).powi(2)).sum();
        let den: f64 = r.iter().map(|r| r * r).sum();
        if den == 0.0 {
            num.sqrt()
        } else {
            (num / den).sqrt()
        }
    };
    let rms = (exact.iter().map(|r| r * r).sum::<f64>() / exact.len().max(1) as f64).sqrt();
    let max = c
        .iter()
        .zip(&exact)
        .map(|(&c, &r)| (c as f64 - r).abs())
        .fold(0.0, f64::max);
    Ok(GemmAccuracy {
        vs_dequantized: rel(&exact_deq),
        vs_unquantized: rel(&exact),
        max_vs_unquantized: if rms == 0.0 { max } else { max / rms },
    })
}

/// The dequantized values in the stored orientation.
fn stored_dequantized<F: BlockFormat>(t: &QuantizedTensor<F>) -> Vec<f32> {
    let v = t.dequantize();
    let (rows, cols) = t.shape();
    match t.direction() {
        Direction::Rowwise => v,
        Direction::Columnwise => (0..cols * rows)
            .map(|i| v[(i % rows) * cols + i / rows])
            .collect(),
    }
}

/// `Σ_k x[m,k]·y[n,k]` in f64 (exact products, f64 sums).
fn product<T: Copy + Into<f64>>(x: &[T], y: &[T], m: usize, n: usize, k: usize) -> Vec<f64> {
    let mut out = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            out[i * n + j] = (0..k)
                .map(|l| x[i * k + l].into() * y[j * k + l].into())
                .sum();
        }
    }
    out
}
