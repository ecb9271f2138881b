//! Error metrics users compare formats with.

use crate::Error;
use crate::element::slice::Real;

/// How far an approximation is from a reference, element by element.
///
/// Computed in f64 over the elements where both values are finite; the
/// others are counted in [`ErrorMetrics::nonfinite`].
///
/// - `mse` = Σ(x − x̂)² / n
/// - `sqnr_db` = 10·log₁₀(Σx² / Σ(x − x̂)²) (+∞ when exact, −∞ … when x is all zero and x̂ is not)
/// - `max_abs` = max |x − x̂|; `max_rel` = max |x − x̂| / |x| over x ≠ 0
/// - `flushed_to_zero` = fraction of x ≠ 0 with x̂ = 0
/// - `saturated` = fraction of elements clipped at the format's largest
///   element (set by [`crate::tensor::QuantizedTensor::error_metrics`]; 0
///   from [`compare`], which cannot know)
///
/// ```
/// use blockscale::metrics::compare;
/// let m = compare(&[1.0, 2.0, 0.5, 0.0], &[1.0, 2.5, 0.0, 0.0])?;
/// assert_eq!(m.mse, (0.25 + 0.25) / 4.0);
/// assert_eq!(m.max_abs, 0.5);
/// assert_eq!(m.max_rel, 1.0);
/// assert_eq!(m.flushed_to_zero, 0.25);
/// assert!((m.sqnr_db - 10.0 * (5.25f64 / 0.5).log10()).abs() < 1e-12);
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct ErrorMetrics {
    /// Elements compared (both finite).
    pub count: usize,
    /// Elements skipped because either value is NaN or infinite.
    pub nonfinite: usize,
    /// Mean squared error.
    pub mse: f64,
    /// Signal-to-quantization-noise ratio in dB.
    pub sqnr_db: f64,
    /// Largest absolute error.
    pub max_abs: f64,
    /// Largest relative error over non-zero reference values.
    pub max_rel: f64,
    /// Fraction of elements clipped at the element format's maximum.
    pub saturated: f64,
    /// Fraction of elements whose non-zero value became zero.
    pub flushed_to_zero: f64,
}

/// Compares `approx` with `reference`, each of any [`Real`] type (the
/// values are widened to f64 exactly); the lengths must match
/// ([`Error::LengthMismatch`] names `approx`).
///
/// ```
/// use blockscale::{half::bf16, metrics::compare};
/// let m = compare(&[1.0f64, 3.0], &[bf16::from_f32(1.0), bf16::from_f32(2.0)])?;
/// assert_eq!((m.count, m.max_abs), (2, 1.0));
/// assert!(compare(&[1.0f32; 3], &[1.0f32; 2]).is_err());
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn compare<R: Real, A: Real>(reference: &[R], approx: &[A]) -> Result<ErrorMetrics, Error> {
    if reference.len() != approx.len() {
        return Err(Error::LengthMismatch {
            what: "approximation",
            expected: reference.len(),
            found: approx.len(),
        });
    }
    let mut m = ErrorMetrics::default();
    let (mut signal, mut noise, mut flushed) = (0f64, 0f64, 0usize);
    for (&x, &y) in reference.iter().zip(approx) {
        if !x.to_f64().is_finite() || !y.to_f64().is_finite() {
            m.nonfinite += 1;
            continue;
        }
        let (x, y) = (x.to_f64(), y.to_f64());
        let e = (x - y).abs();
        m.count += 1;
        signal += x * x;
        noise += e * e;
        m.max_abs = m.max_abs.max(e);
        if x != 0.0 {
            m.max_rel = m.max_rel.max(e / x.abs());
            if y == 0.0 {
                flushed += 1;
            }
        }
    }
    if m.count > 0 {
        m.mse = noise / m.count as f64;
        m.flushed_to_zero = flushed as f64 / m.count as f64;
    }
    m.sqnr_db = 10.0 * (signal / noise).log10();
    if noise == 0.0 {
        m.sqnr_db = f64::INFINITY;
    }
    Ok(m)
}
