//! What a GEMM does to its FP32 result before storing it: per-row and
//! per-column scales, a bias, `beta · C`, and an output that is itself
//! block-scaled ([SEMANTICS.md](crate::contract) §7).
//!
//! The order is the one CUTLASS's and vLLM's scaled-GEMM epilogues use
//! (vLLM `csrc/cutlass_extensions/epilogue/scaled_mm_epilogues_c3x.hpp`,
//! `D = s_a · (s_b · acc) + bias`; CUTLASS `LinCombPerRowBias…` then
//! `BlockScaleFactor`), each step rounded to f32 on its own as CUTLASS's
//! host reference (`reference/host/gett.hpp`) computes it. A GPU may fuse
//! a multiply and an add into one FMA and differ by that rounding.

use crate::Error;
use crate::error::{check_len, checked_area};
use crate::format::BlockFormat;
use crate::tensor::{QuantizeOptions, QuantizedTensor};

/// A bias added to every row (one value per column of C, the common
/// per-output-channel bias) or to every column (one value per row).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Bias<'a> {
    /// `bias[j]` added to column j (length N).
    PerColumn(&'a [f32]),
    /// `bias[i]` added to row i (length M).
    PerRow(&'a [f32]),
}

/// The epilogue of a GEMM: with `y = f32(alpha' · acc)` the GEMM's result
/// before `beta` (module [`crate::gemm`], rule 4), each present step in
/// this order, each rounded to f32:
///
/// ```text
/// y = y · col_scale[j]          (per output channel: B's row scale, vLLM's s_b)
/// y = y · row_scale[i]          (per token: A's row scale, vLLM's s_a)
/// y = y + bias[j] (or bias[i])
/// C[i][j] = y                   if beta == 0 (C's old value never read)
///         = y + f32(beta · C[i][j])   otherwise
/// ```
///
/// ```
/// use blockscale::gemm::{Bias, Epilogue};
/// let (rows, cols, bias) = ([2.0f32, 3.0], [0.5f32, 1.0, 4.0], [1.0f32, 0.0, -1.0]);
/// let e = Epilogue::new().row_scale(&rows).col_scale(&cols).bias(Bias::PerColumn(&bias));
/// let y = [1.0f32; 6]; // a 2×3 GEMM result
/// let mut c = [0.0f32; 6];
/// e.apply(&y, 2, 3, 0.0, &mut c)?;
/// assert_eq!(c, [2.0, 2.0, 7.0, 2.5, 3.0, 11.0]);
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Epilogue<'a> {
    /// One scale per row of C (length M).
    pub row_scale: Option<&'a [f32]>,
    /// One scale per column of C (length N).
    pub col_scale: Option<&'a [f32]>,
    /// The bias.
    pub bias: Option<Bias<'a>>,
}

impl<'a> Epilogue<'a> {
    /// No scales and no bias: C is the GEMM's result.
    ///
    /// ```
    /// use blockscale::gemm::Epilogue;
    /// assert_eq!(Epilogue::new(), Epilogue::default());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// With `s[i]` multiplying row i of C.
    ///
    /// ```
    /// use blockscale::gemm::Epilogue;
    /// let s = [2.0f32];
    /// assert_eq!(Epilogue::new().row_scale(&s).row_scale, Some(&s[..]));
    /// ```
    pub fn row_scale(self, s: &'a [f32]) -> Self {
        Epilogue {
            row_scale: Some(s),
            ..self
        }
    }

    /// With `s[j]` multiplying column j of C.
    ///
    /// ```
    /// use blockscale::gemm::Epilogue;
    /// let s = [2.0f32];
    /// assert_eq!(Epilogue::new().col_scale(&s).col_scale, Some(&s[..]));
    /// ```
    pub fn col_scale(self, s: &'a [f32]) -> Self {
        Epilogue {
            col_scale: Some(s),
            ..self
        }
    }

    /// With a bias (replacing any other).
    ///
    /// ```
    /// use blockscale::gemm::{Bias, Epilogue};
    /// let b = [1.0f32];
    /// assert_eq!(Epilogue::new().bias(Bias::PerRow(&b)).bias, Some(Bias::PerRow(&b)));
    /// ```
    pub fn bias(self, bias: Bias<'a>) -> Self {
        Epilogue {
            bias: Some(bias),
            ..self
        }
    }

    /// Writes `c` (M×N, row-major) from the GEMM result `y` (same shape,
    /// `y = f32(alpha' · acc)`) through this epilogue and `beta` (see
    /// [`Epilogue`]).
    ///
    /// Errors: [`Error::LengthMismatch`] naming `y`, `C`, the scales or the
    /// bias when a length is not M·N, M or N; [`Error::ShapeOverflow`] if
    /// M·N overflows. Nothing is written on error.
    ///
    /// ```
    /// use blockscale::gemm::Epilogue;
    /// let mut c = [10.0f32, 20.0];
    /// Epilogue::new().apply(&[1.0, 2.0], 1, 2, 0.5, &mut c)?;
    /// assert_eq!(c, [6.0, 12.0]);
    /// assert!(Epilogue::new().row_scale(&[1.0]).apply(&[1.0, 2.0], 2, 1, 0.0, &mut c).is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn apply(
        &self,
        y: &[f32],
        m: usize,
        n: usize,
        beta: f32,
        c: &mut [f32],
    ) -> Result<(), Error> {
        self.check(m, n)?;
        let mn = checked_area("C", m, n)?;
        check_len("GEMM result y", mn, y.len())?;
        check_len("C", mn, c.len())?;
        if n == 0 {
            return Ok(());
        }
        for (i, (crow, yrow)) in c.chunks_mut(n).zip(y.chunks(n)).enumerate() {
            for (j, (cv, &yv)) in crow.iter_mut().zip(yrow).enumerate() {
                let mut v = yv;
                if let Some(s) = self.col_scale {
                    v *= s[j];
                }
                if let Some(s) = self.row_scale {
                    v *= s[i];
                }
                match self.bias {
                    Some(Bias::PerColumn(b)) => v += b[j],
                    Some(Bias::PerRow(b)) => v += b[i],
                    None => {}
                }
                *cv = if beta == 0.0 { v } else { v + beta * *cv };
            }
        }
        Ok(())
    }

    /// The vectors' lengths against an M×N output.
    fn check(&self, m: usize, n: usize) -> Result<(), Error> {
        if let Some(s) = self.row_scale {
            check_len("row_scale (one per row of C)", m, s.len())?;
        }
        if let Some(s) = self.col_scale {
            check_len("col_scale (one per column of C)", n, s.len())?;
        }
        match self.bias {
            Some(Bias::PerColumn(b)) => check_len("bias (one per column of C)", n, b.len()),
            Some(Bias::PerRow(b)) => check_len("bias (one per row of C)", m, b.len()),
            None => Ok(()),
        }
    }

    /// Whether this epilogue leaves the GEMM's result unchanged.
    fn is_identity(&self) -> bool {
        self.row_scale.is_none() && self.col_scale.is_none() && self.bias.is_none()
    }
}

/// `C = epilogue(alpha · A · Bᵀ) (+ beta · C)`: [`super::gemm`] followed by
/// [`Epilogue::apply`], the same bits as [`super::gemm_reference`] followed
/// by it.
///
/// Errors: those of [`super::gemm`] and of [`Epilogue::apply`], checked
/// before anything is written.
///
/// ```
/// use blockscale::format::MxFp8E4M3;
/// use blockscale::gemm::{Bias, Epilogue, gemm_epilogue};
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let o = QuantizeOptions::default();
/// let a = QuantizedTensor::quantize(MxFp8E4M3::default(), &[1.0f32; 2 * 32], 2, 32, &o)?;
/// let b = QuantizedTensor::quantize(MxFp8E4M3::default(), &[0.5f32; 32], 1, 32, &o)?;
/// let (per_token, bias) = ([1.0f32, 2.0], [0.25f32]);
/// let e = Epilogue::new().row_scale(&per_token).bias(Bias::PerColumn(&bias));
/// let mut c = [0.0f32; 2];
/// gemm_epilogue(&a, &b, 1.0, 0.0, &e, &mut c)?;
/// assert_eq!(c, [16.25, 32.25]); // 32 · 0.5 = 16, times 1 and 2, plus 0.25
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gemm_epilogue<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    alpha: f32,
    beta: f32,
    epilogue: &Epilogue<'_>,
    c: &mut [f32],
) -> Result<(), Error> {
    let d = super::check(a, b, c.len())?;
    epilogue.check(d.m, d.n)?;
    if epilogue.is_identity() {
        return super::gemm(a, b, alpha, beta, c);
    }
    let mut y = alloc::vec![0.0f32; c.len()];
    super::gemm(a, b, alpha, 0.0, &mut y)?;
    epilogue.apply(&y, d.m, d.n, beta, c)
}

/// A GEMM whose output is block-scaled, as cuBLASLt and CUTLASS write an
/// NVFP4 or MXFP8 D on Blackwell: `epilogue(alpha · A · Bᵀ)`, M×N in f32
/// ([`gemm_epilogue`] with `beta = 0`), quantized along N (D's contiguous
/// dimension) with `format` and `opts`.
///
/// The block scales the hardware epilogue computes are those of the
/// `cutlass` profiles ([SEMANTICS.md](crate::contract) §7):
/// [`Nvfp4Profile::Cutlass`](crate::scale::nvfp4::Nvfp4Profile::Cutlass)
/// (norm constant S_enc = 2688/A, A the tensor amax: `opts.global_amax`,
/// or D's own amax when absent) and
/// [`MxProfile::Cutlass`](crate::scale::mx::MxProfile::Cutlass) (RCEIL,
/// norm constant 1). Any other format and profile quantizes the same FP32
/// result its own way.
///
/// Errors: those of [`gemm_epilogue`] and of [`QuantizedTensor::quantize`].
///
/// ```
/// use blockscale::format::{MxFp8E4M3, Nvfp4};
/// use blockscale::gemm::{Epilogue, gemm_quantized};
/// use blockscale::scale::{mx::MxProfile, nvfp4::Nvfp4Profile};
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let o = QuantizeOptions::default();
/// let x: Vec<f32> = (0..32 * 64).map(|i| (i as f32 * 0.37).sin()).collect();
/// let a = QuantizedTensor::quantize(MxFp8E4M3::default(), &x[..4 * 64], 4, 64, &o)?;
/// let b = QuantizedTensor::quantize(MxFp8E4M3::default(), &x, 32, 64, &o)?;
/// // D is 4×32: NVFP4 has two 1×16 blocks per row, MXFP8 one 1×32 block.
/// let out = Nvfp4 { profile: Nvfp4Profile::Cutlass, two_d: false };
/// let d = gemm_quantized(&a, &b, 1.0, &Epilogue::new(), out, &o)?;
/// assert_eq!((d.shape(), d.scales().len()), ((4, 32), 8));
/// let mx = MxFp8E4M3::default().with_profile(MxProfile::Cutlass);
/// let d8 = gemm_quantized(&a, &b, 1.0, &Epilogue::new(), mx, &o)?;
/// assert_eq!(d8.scales().len(), 4);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gemm_quantized<FA: BlockFormat, FB: BlockFormat, F: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    alpha: f32,
    epilogue: &Epilogue<'_>,
    format: F,
    opts: &QuantizeOptions,
) -> Result<QuantizedTensor<F>, Error> {
    let (m, n) = (a.stored_shape().0, b.stored_shape().0);
    let mut c = alloc::vec![0.0f32; checked_area("C", m, n)?];
    gemm_epilogue(a, b, alpha, 0.0, epilogue, &mut c)?;
    QuantizedTensor::quantize(format, &c, m, n, opts)
}
