//! Grouped GEMMs for mixture-of-experts layers: many (M_g × K) · (N × K)ᵀ
//! problems, each group's rows against its own expert's B, in the two
//! layouts DeepGEMM's grouped kernels read (`m_grouped_*_contiguous`,
//! `m_grouped_*_masked`; `deep_gemm/__init__.py`):
//!
//! - **contiguous**: one A of M rows, the groups' rows one after another
//!   (each group padded to the kernel's M alignment), and a group index per
//!   row, −1 for padding rows (DeepGEMM's `m_indices`);
//! - **masked**: one A of M_max rows per group, of which the first
//!   `masked_m[g]` are valid.
//!
//! Every valid output row is bit-identical to the ordinary GEMM
//! ([`super::gemm_reference`]) of that row with its expert's B, `beta = 0`:
//! each output row depends only on its own A row, its blocks' scales and
//! the tensor amaxes. Rows the layout marks invalid (padding, or past
//! `masked_m`) are left as they are in `c`.

use crate::Error;
use crate::format::{BlockFormat, BlockShape};
use crate::tensor::QuantizedTensor;

/// One ungrouped GEMM: [`super::gemm`] or [`super::gemm_reference`].
type Run<FA, FB> =
    fn(&QuantizedTensor<FA>, &QuantizedTensor<FB>, f32, f32, &mut [f32]) -> Result<(), Error>;

/// `c[i] = alpha · A[i] · B[groups[i]]ᵀ` for each stored row `i` of `a`
/// (M×K) whose group is not −1, on the fast path: DeepGEMM's contiguous
/// grouped layout. `b` holds one N×K expert per group; `c` is row-major
/// M×N, and the rows of −1 are left as they are.
///
/// Errors: `groups.len() != M`, a group outside `-1..b.len()`, no experts,
/// experts of different shapes, `c.len() != M·N`, and those of
/// [`super::gemm`] (K or the K blocks differ); a group boundary that cuts
/// through one of A's 2-D blocks.
///
/// ```
/// use blockscale::format::MxFp8E4M3;
/// use blockscale::gemm::{gemm_contiguous, gemm_reference};
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let o = QuantizeOptions::default();
/// let q = |x: &[f32], rows| QuantizedTensor::quantize(MxFp8E4M3::default(), x, rows, 32, &o);
/// let a = q(&(0..4 * 32).map(|i| (i as f32 * 0.3).sin()).collect::<Vec<_>>(), 4)?;
/// let experts = [q(&[0.5; 2 * 32], 2)?, q(&[-2.0; 2 * 32], 2)?];
/// // Rows 0 and 1 to expert 1, row 2 padding, row 3 to expert 0.
/// let mut c = [f32::NAN; 4 * 2];
/// gemm_contiguous(&a, &experts, &[1, 1, -1, 0], 1.0, &mut c)?;
/// let mut row3 = [0.0; 2];
/// gemm_reference(&a.stored_rows(3, 4)?, &experts[0], 1.0, 0.0, &mut row3)?;
/// assert_eq!(c[6..], row3);
/// assert!(c[4].is_nan() && c[5].is_nan()); // padding row untouched
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gemm_contiguous<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &[QuantizedTensor<FB>],
    groups: &[i32],
    alpha: f32,
    c: &mut [f32],
) -> Result<(), Error> {
    contiguous(a, b, groups, alpha, c, super::gemm::<FA, FB>)
}

/// [`gemm_contiguous`] by the specification ([`super::gemm_reference`]
/// per group): the same bytes.
///
/// ```
/// use blockscale::format::Nvfp4;
/// use blockscale::gemm::{gemm_contiguous, gemm_contiguous_reference};
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let o = QuantizeOptions::default();
/// let x: Vec<f32> = (0..6 * 64).map(|i| (i as f32 * 0.7).cos()).collect();
/// let a = QuantizedTensor::quantize(Nvfp4::default(), &x, 6, 64, &o)?;
/// let b = [QuantizedTensor::quantize(Nvfp4::default(), &x[..3 * 64], 3, 64, &o)?];
/// let (mut c1, mut c2) = (vec![0.0; 18], vec![0.0; 18]);
/// gemm_contiguous(&a, &b, &[0, 0, 0, 0, -1, -1], 2.0, &mut c1)?;
/// gemm_contiguous_reference(&a, &b, &[0, 0, 0, 0, -1, -1], 2.0, &mut c2)?;
/// assert_eq!(c1, c2);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gemm_contiguous_reference<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &[QuantizedTensor<FB>],
    groups: &[i32],
    alpha: f32,
    c: &mut [f32],
) -> Result<(), Error> {
    contiguous(a, b, groups, alpha, c, super::gemm_reference::<FA, FB>)
}

/// `c[g][i] = alpha · A_g[i] · B_gᵀ` for each group `g` and each of its
/// first `masked_m[g]` stored rows, on the fast path: DeepGEMM's masked
/// grouped layout. `a` holds one M_max×K matrix per group (all the same
/// shape), `b` one N×K expert per group; `c` is row-major
/// `[groups, M_max, N]`, and the rows past `masked_m[g]` are left as they
/// are.
///
/// Errors: `a`, `b` and `masked_m` of different lengths, a `masked_m[g]`
/// above M_max, matrices of different shapes, `c.len() != G·M_max·N`, and
/// those of [`super::gemm`].
///
/// ```
/// use blockscale::format::MxFp4;
/// use blockscale::gemm::gemm_masked;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let o = QuantizeOptions::default();
/// let q = |v: f32, rows| QuantizedTensor::quantize(MxFp4::default(), &vec![v; rows * 32], rows, 32, &o);
/// let (a, b) = ([q(1.0, 2)?, q(2.0, 2)?], [q(0.5, 1)?, q(3.0, 1)?]);
/// let mut c = [-1.0f32; 2 * 2];
/// gemm_masked(&a, &b, &[2, 1], 1.0, &mut c)?;
/// assert_eq!(c, [16.0, 16.0, 192.0, -1.0]); // 32·1·0.5, 32·2·3; group 1's row 1 masked
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gemm_masked<FA: BlockFormat, FB: BlockFormat>(
    a: &[QuantizedTensor<FA>],
    b: &[QuantizedTensor<FB>],
    masked_m: &[usize],
    alpha: f32,
    c: &mut [f32],
) -> Result<(), Error> {
    masked(a, b, masked_m, alpha, c, super::gemm::<FA, FB>)
}

/// [`gemm_masked`] by the specification ([`super::gemm_reference`] per
/// group): the same bytes.
///
/// ```
/// use blockscale::format::MxFp8E4M3;
/// use blockscale::gemm::{gemm_masked, gemm_masked_reference};
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let o = QuantizeOptions::default();
/// let x: Vec<f32> = (0..4 * 64).map(|i| (i as f32 * 0.7).cos()).collect();
/// let q = |r: std::ops::Range<usize>| QuantizedTensor::quantize(MxFp8E4M3::default(), &x[r.start * 64..r.end * 64], r.len(), 64, &o);
/// let (a, b) = ([q(0..2)?, q(2..4)?], [q(1..3)?, q(0..2)?]);
/// let (mut c1, mut c2) = (vec![0.0; 8], vec![0.0; 8]);
/// gemm_masked(&a, &b, &[1, 2], 1.0, &mut c1)?;
/// gemm_masked_reference(&a, &b, &[1, 2], 1.0, &mut c2)?;
/// assert_eq!(c1, c2);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gemm_masked_reference<FA: BlockFormat, FB: BlockFormat>(
    a: &[QuantizedTensor<FA>],
    b: &[QuantizedTensor<FB>],
    masked_m: &[usize],
    alpha: f32,
    c: &mut [f32],
) -> Result<(), Error> {
    masked(a, b, masked_m, alpha, c, super::gemm_reference::<FA, FB>)
}

/// N of the experts, all N×K (stored).
fn experts_n<FB: BlockFormat>(b: &[QuantizedTensor<FB>]) -> Result<usize, Error> {
    let first = b
        .first()
        .ok_or_else(|| Error::InvalidArgument("a grouped GEMM needs at least one expert".into()))?;
    let shape = first.stored_shape();
    if let Some((g, e)) = b
        .iter()
        .enumerate()
        .find(|(_, e)| e.stored_shape() != shape)
    {
        return Err(Error::InvalidArgument(format!(
            "expert {g} is {:?}, expert 0 {shape:?}; the experts share one shape",
            e.stored_shape()
        )));
    }
    Ok(shape.0)
}

/// The rows a block of A spans: 1 for a per-tensor scale (any row can be
/// cut out), else the tile's rows.
fn block_rows<F: BlockFormat>(a: &QuantizedTensor<F>) -> usize {
    let (m, k) = a.stored_shape();
    match a.format().block() {
        BlockShape::Tensor => 1,
        b @ BlockShape::Tile { .. } => b.tile(m, k).0,
    }
}

/// Rows `i..j` of `a` against `b` into `out` (`(j - i)·N`): the GEMM of
/// those rows widened to whole blocks of A, the extra rows dropped.
fn rows_gemm<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    (i, j): (usize, usize),
    b: &QuantizedTensor<FB>,
    alpha: f32,
    out: &mut [f32],
    run: Run<FA, FB>,
) -> Result<(), Error> {
    let n = b.stored_shape().0;
    let tr = block_rows(a);
    let (s, e) = (i / tr * tr, (j.div_ceil(tr) * tr).min(a.stored_shape().0));
    let sub = a.stored_rows(s, e)?;
    let mut d = vec![0.0f32; (e - s) * n];
    run(&sub, b, alpha, 0.0, &mut d)?;
    out.copy_from_slice(&d[(i - s) * n..(j - s) * n]);
    Ok(())
}

fn contiguous<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &[QuantizedTensor<FB>],
    groups: &[i32],
    alpha: f32,
    c: &mut [f32],
    run: Run<FA, FB>,
) -> Result<(), Error> {
    let m = a.stored_shape().0;
    crate::error::check_len("group of each row", m, groups.len())?;
    let n = experts_n(b)?;
    crate::error::check_len("C", crate::error::checked_area("C", m, n)?, c.len())?;
    if let Some((i, g)) = groups
        .iter()
        .enumerate()
        .find(|&(_, &g)| g < -1 || g as i64 >= b.len() as i64)
    {
        return Err(Error::InvalidArgument(format!(
            "row {i} is in group {g}; expected -1 (padding) or 0..{}",
            b.len()
        )));
    }
    // K and the K blocks checked once, so that no run fails after others
    // have written `c` (runs are widened to whole blocks, so no cut fails).
    super::check(a, &b[0], m * n)?;
    let mut i = 0;
    while i < m {
        let g = groups[i];
        let j = i + groups[i..].iter().take_while(|&&h| h == g).count();
        if let Ok(e) = usize::try_from(g) {
            rows_gemm(a, (i, j), &b[e], alpha, &mut c[i * n..j * n], run)?;
        }
        i = j;
    }
    Ok(())
}

fn masked<FA: BlockFormat, FB: BlockFormat>(
    a: &[QuantizedTensor<FA>],
    b: &[QuantizedTensor<FB>],
    masked_m: &[usize],
    alpha: f32,
    c: &mut [f32],
    run: Run<FA, FB>,
) -> Result<(), Error> {
    crate::error::check_len("experts (B)", a.len(), b.len())?;
    crate::error::check_len("masked_m", a.len(), masked_m.len())?;
    let Some(first) = a.first() else {
        return crate::error::check_len("C", 0, c.len());
    };
    let (m_max, _) = first.stored_shape();
    if let Some((g, x)) = a
        .iter()
        .enumerate()
        .find(|(_, x)| x.stored_shape() != first.stored_shape())
    {
        return Err(Error::InvalidArgument(format!(
            "A of group {g} is {:?}, group 0's {:?}; the masked layout has one shape",
            x.stored_shape(),
            first.stored_shape()
        )));
    }
    if let Some((g, &m)) = masked_m.iter().enumerate().find(|&(_, &m)| m > m_max) {
        return Err(Error::InvalidArgument(format!(
            "masked_m[{g}] = {m}, above the {m_max} rows of each group"
        )));
    }
    let n = experts_n(b)?;
    let per = crate::error::checked_area("C", m_max, n)?;
    crate::error::check_len("C", crate::error::checked_area("C", a.len(), per)?, c.len())?;
    super::check(first, &b[0], per)?;
    for (g, ((x, e), &m)) in a.iter().zip(b).zip(masked_m).enumerate() {
        if m > 0 {
            rows_gemm(x, (0, m), e, alpha, &mut c[g * per..g * per + m * n], run)?;
        }
    }
    Ok(())
}
