//! NVFP4 "4over6" (Four Over Six, arXiv 2512.02010) as NVIDIA Transformer
//! Engine computes it: each block quantizes twice, mapping its amax to 6
//! (ordinary NVFP4) and to 4 (a scale 1.5 times larger), and keeps the
//! candidate whose dequantized values are closer to the input.
//!
//! Source: TE `common/cast/nvfp4/quantize_4over6_nvfp4.cuh`
//! (`compute_scale_pair`, `cvt_fp32_to_fp4_8x_with_error`,
//! `accumulate_dequant_error`, `make_candidates`, `reduce_group_sum_16`),
//! merged in TE #2972 (2026-05) with the error path of #3068, and the
//! PyTorch reference `custom_recipes/reference_nvfp4.py`
//! (`_quantize_blockwise_4over6_reference`, `_sum_4over6_2d_error`), read at
//! TE d0067d0 (2026-08). `tests/producers/NVFP4_4OVER6.md` has the
//! derivation and the hand-worked vectors the tests check.

use super::nvfp4::Nvfp4Global;
use crate::element::ConvertOptions;
use crate::{E2M1, E4M3};

/// How a candidate's error is measured: the sum over the block of `|x̂ − x|`
/// (TE's default, `MAE`) or of `(x̂ − x)²` (`MSE`), TE
/// `nvfp4_4over6_err_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum FourOverSixMetric {
    /// Sum of absolute errors.
    #[default]
    Mae,
    /// Sum of squared errors.
    Mse,
}

impl FourOverSixMetric {
    /// `mae` or `mse`, as format identifiers spell it.
    pub const fn name(self) -> &'static str {
        match self {
            FourOverSixMetric::Mae => "mae",
            FourOverSixMetric::Mse => "mse",
        }
    }
}

/// One candidate encoding of a block: its E4M3 scale and the multiplier
/// its elements are rounded with, `q = E2M1(f32(x · multiplier))`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// The stored block scale.
    pub scale: E4M3,
    /// `min(f32(1 / f32(scale · S_dec)), FLT_MAX)`, as ordinary NVFP4.
    pub multiplier: f32,
}

/// The two candidates of a block of amax `a_b`, map-4 first:
/// `base = f32(f32(a_b / 6) · S_enc)` (divided by 6 first, unlike ordinary
/// NVFP4's `a_b · f32(S_enc · f32(1/6))`, so an E4M3 tie can fall the other
/// way), `s4 = E4M3(min(f32(base · 1.5), 448))`, `s6 = E4M3(min(base,
/// 448))`; the clamp is 448 whatever the tensor's scale bound.
///
/// ```
/// use blockscale::scale::four_over_six::candidates;
/// use blockscale::scale::nvfp4::Nvfp4Global;
/// // A = 6 with the bound 256: S_enc = 256, and a block of amax 6 has
/// // base 256: map-4 scale 384 (multiplier 2/3), map-6 scale 256 (1).
/// let [m4, m6] = candidates(6.0, &Nvfp4Global::with_range(6.0, 1536.0));
/// assert_eq!((m4.scale.to_bits(), m4.multiplier), (0x7C, 2.0 / 3.0));
/// assert_eq!((m6.scale.to_bits(), m6.multiplier), (0x78, 1.0));
/// ```
pub fn candidates(a_b: f32, g: &Nvfp4Global) -> [Candidate; 2] {
    let base = (a_b / 6.0) * g.s_enc;
    // f32::min, like CUDA's fminf, returns the number when one side is NaN.
    [(base * 1.5).min(448.0), base.min(448.0)].map(|t| {
        let scale = E4M3::from_f32_with(t, ConvertOptions::SATFINITE);
        let multiplier = (1.0 / (scale.to_f32() * g.s_dec)).min(f32::MAX);
        Candidate { scale, multiplier }
    })
}

/// The error of candidate `c` on a tile given as rows of `cols` elements
/// (row-major, in stored order), for a tensor whose block scales are
/// bounded by `range / 6`.
///
/// Each row's terms are summed in f32 in element order; a tile of several
/// rows (16×16) adds its row sums as TE's warp reduction does, at offsets
/// 8, 4, 2, 1 (row i += row i + offset). With `fast` (TE's
/// `NVTE_NVFP4_4OVER6_ERR_USE_FAST_MATH`) the difference is taken in the
/// scaled domain, `q · s − f32(x · S_enc)`; otherwise, TE's default, it is
/// `f32(f32(f32(q · s) · A) / range) − x`.
///
/// ```
/// use blockscale::scale::four_over_six::{candidates, tile_error, FourOverSixMetric};
/// use blockscale::scale::nvfp4::Nvfp4Global;
/// let g = Nvfp4Global::with_range(6.0, 1536.0);
/// let x = [6.0, 5.0, 4.0, 0.0];
/// let [m4, m6] = candidates(6.0, &g);
/// // map-4 gives 6, 4.5, 4.5; map-6 gives 6, 4, 4.
/// assert_eq!(tile_error(&x, 4, m4, &g, 1536.0, FourOverSixMetric::Mae, false), 1.0);
/// assert_eq!(tile_error(&x, 4, m6, &g, 1536.0, FourOverSixMetric::Mae, false), 1.0);
/// assert_eq!(tile_error(&x, 4, m4, &g, 1536.0, FourOverSixMetric::Mse, false), 0.5);
/// ```
pub fn tile_error(
    tile: &[f32],
    cols: usize,
    c: Candidate,
    g: &Nvfp4Global,
    range: f32,
    metric: FourOverSixMetric,
    fast: bool,
) -> f32 {
    let s = c.scale.to_f32();
    let row_error = |row: &[f32]| {
        row.iter().fold(0.0f32, |err, &x| {
            let q = E2M1::from_f32_with(x * c.multiplier, ConvertOptions::SATFINITE).to_f32();
            // q · s is exact (at most 6 significant bits).
            let diff = if fast {
                q * s - x * g.s_enc
            } else {
                ((q * s) * g.amax) / range - x
            };
            err + match metric {
                FourOverSixMetric::Mae => diff.abs(),
                FourOverSixMetric::Mse => diff * diff,
            }
        })
    };
    let mut rows = tile.chunks(cols.max(1));
    if tile.len() <= cols {
        return rows.next().map_or(0.0, row_error);
    }
    // TE's tiles have 16 rows; a partial tile's missing rows add 0.
    let mut e = [0.0f32; 16];
    for (slot, row) in e.iter_mut().zip(rows) {
        *slot = row_error(row);
    }
    for off in [8, 4, 2, 1] {
        for i in 0..off {
            e[i] += e[i + off];
        }
    }
    e[0]
}

/// The candidate a tile keeps: map-4 only if its error is strictly smaller,
/// so ties and NaN errors keep map-6.
///
/// ```
/// use blockscale::scale::four_over_six::{choose, FourOverSixMetric};
/// use blockscale::scale::nvfp4::Nvfp4Global;
/// let g = Nvfp4Global::with_range(6.0, 1536.0);
/// let mut x = [0.0f32; 16];
/// x[..4].copy_from_slice(&[6.0, 5.0, 4.0, 4.0]);
/// // MAE 1.5 (map-4) against 1.0 (map-6); MSE 0.75 against 1.0.
/// assert_eq!(choose(&x, 16, 6.0, &g, 1536.0, FourOverSixMetric::Mae, false).scale.to_bits(), 0x78);
/// assert_eq!(choose(&x, 16, 6.0, &g, 1536.0, FourOverSixMetric::Mse, false).scale.to_bits(), 0x7C);
/// ```
pub fn choose(
    tile: &[f32],
    cols: usize,
    a_b: f32,
    g: &Nvfp4Global,
    range: f32,
    metric: FourOverSixMetric,
    fast: bool,
) -> Candidate {
    let [m4, m6] = candidates(a_b, g);
    let err = |c| tile_error(tile, cols, c, g, range, metric, fast);
    if err(m4) < err(m6) { m4 } else { m6 }
}
