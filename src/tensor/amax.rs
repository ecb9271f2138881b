//! The amax passes of the quantizer: the tensor amax over a whole input
//! and the amax of each tile, in SIMD kernels where the level has them
//! and on rayon's pool where allowed. Max is exact and order-free, so
//! neither the kernel nor the split changes a result.

use super::CHUNK_ELEMENTS;
use crate::element::slice::Real;
#[cfg(feature = "std")]
use crate::par::*;
use crate::scale::fold_amax;
use crate::simd::Kernels;

/// [`crate::scale::amax`] of `src` as the quantizer's tensor amax pass
/// takes it: by the active level's kernel, on rayon's pool from
/// [`super::PARALLEL_MIN_ELEMENTS`] elements on. For callers above the tensors
/// (the delayed-scaling recipe's amax histories), which would otherwise
/// fold the values one by one.
#[cfg(feature = "std")] // the recipes need std
pub(crate) fn tensor_amax(src: &[f32]) -> f32 {
    let parallel = src.len() >= super::PARALLEL_MIN_ELEMENTS && current_num_threads() > 1;
    amax_par(crate::simd::kernels(crate::simd::active()), src, parallel)
}

/// [`crate::scale::amax`] over a whole input, in SIMD and in parallel where allowed;
/// max is exact and order-free, so the result is the same.
pub(super) fn amax_par<S: Real>(kernels: &Kernels, src: &[S], parallel: bool) -> f32 {
    let one = |c: &[S]| match (S::as_f32s(c), kernels.amax) {
        (Some(x), Some(amax)) => amax(x),
        _ => c.iter().fold(0.0, |m, v| fold_amax(m, v.to_f32().abs())),
    };
    #[cfg(feature = "std")]
    if parallel {
        return src
            .par_chunks(CHUNK_ELEMENTS)
            .map(one)
            .reduce(|| 0.0, fold_amax);
    }
    #[cfg(not(feature = "std"))]
    let _ = parallel;
    one(src)
}

/// The largest input whose tiles' amaxes the tensor amax pass keeps
/// ([`tile_amaxes_par`]): 4 Mi elements, 16 MiB of f32, whose kept amaxes
/// take 1 MiB at NVFP4's 16. In cache, keeping them spares the encode pass
/// a block amax pass over each row; from DRAM, writing and reading them
/// back cost more than that (bench/README.md, "Block amaxes kept by the tensor
/// amax pass").
pub(super) const KEEP_TILE_AMAXES_MAX: usize = 1 << 22;

/// Each tile's amax of a matrix of f32 rows whose tiles are one row tall
/// and divide the rows (`tc` divides `cols`), written to `out` in tile
/// order (tile k covers elements `k·tc..(k+1)·tc`), and the tensor amax:
/// their amax, which is the elements' (max is exact and order-free, and a
/// NaN block's amax is NaN).
pub(super) fn tile_amaxes_par(
    kernels: &Kernels,
    src: &[f32],
    tc: usize,
    out: &mut [f32],
    parallel: bool,
) -> f32 {
    let tiles = (CHUNK_ELEMENTS / tc).max(1);
    let one = |(c, o): (&[f32], &mut [f32])| {
        block_amaxes(kernels, c, tc, o);
        match kernels.amax {
            Some(amax) => amax(o),
            None => crate::scale::amax(o),
        }
    };
    #[cfg(feature = "std")]
    if parallel {
        return src
            .par_chunks(tiles * tc)
            .zip(out.par_chunks_mut(tiles))
            .map(one)
            .reduce(|| 0.0, fold_amax);
    }
    #[cfg(not(feature = "std"))]
    let _ = parallel;
    src.chunks(tiles * tc)
        .zip(out.chunks_mut(tiles))
        .map(one)
        .fold(0.0, fold_amax)
}

/// The amax of each `tc`-element segment of `row`, into `out`.
pub(super) fn block_amaxes(kernels: &Kernels, row: &[f32], tc: usize, out: &mut [f32]) {
    if let Some(block_amaxes) = kernels.block_amaxes {
        block_amaxes(row, tc, out);
        return;
    }
    for (o, seg) in out.iter_mut().zip(row.chunks(tc)) {
        *o = match kernels.amax {
            Some(amax) => amax(seg),
            None => crate::scale::amax(seg),
        };
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    /// The recipes' tensor amax is `scale::amax`'s fold, bit for bit: on
    /// no values, a few (below every kernel's vector), and past the
    /// parallel threshold; with a NaN, an infinity, signed zeros and
    /// subnormals, each placed in the tail, the middle and the start.
    #[test]
    fn tensor_amax_is_the_fold() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let big = super::super::PARALLEL_MIN_ELEMENTS + 37;
        // Under Miri (the portable fold's memory accesses) the short ones.
        let sizes: &[usize] = if cfg!(miri) {
            &[0, 1, 7]
        } else {
            &[0, 1, 7, 1000, big]
        };
        for &n in sizes {
            // Magnitudes from subnormal to 2^40, either sign.
            let base: Vec<f32> = (0..n)
                .map(|_| {
                    let v = next();
                    let e = (v % 168) as u32;
                    f32::from_bits(((v >> 32) as u32 & 0x8000_0000) | (e << 23) | (v as u32 >> 9))
                })
                .collect();
            let specials = [f32::NAN, -f32::INFINITY, -0.0, f32::from_bits(1), -f32::MAX];
            for special in [None].into_iter().chain(specials.map(Some)) {
                for at in [0, n / 2, n.saturating_sub(1)] {
                    let mut v = base.clone();
                    if let (Some(s), true) = (special, n > 0) {
                        v[at] = s;
                    }
                    let want = crate::scale::amax(&v);
                    assert_eq!(
                        tensor_amax(&v).to_bits(),
                        want.to_bits(),
                        "n {n} {special:?} at {at}"
                    );
                }
            }
        }
    }
}
