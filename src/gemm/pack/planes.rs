//! The i16 kernel's operands: each (row, K chunk) split into planes of
//! i16 values whose pairwise sums are exact in i32 (bench/README.md,
//! "The i16 kernel").

use super::{CHUNK, Codes, KGeom, Scales, decode_row, lut};
use crate::Element;
use crate::format::BlockFormat;
use crate::gemm::Dims;
use crate::simd::{Kernels, PlaneTile};
use crate::tensor::QuantizedTensor;
use rayon::prelude::*;

/// An operand for the i16 kernel, split into planes whose sums of products
/// are exact in i32: in each (row, K chunk; see [`KGeom::planes`]), plane 0
/// holds the elements that are multiples of `2^s0`, `s0` the chunk's
/// [`plane_shift`] (each value divided by `2^s0` fits i16 and their squares
/// sum to at most `2^31 − 1`; at the latest where the chunk's largest
/// integer fits a window of [`window_bits`] bits); plane 1 takes the rest by
/// the same rule, and so on ([`plane_count`] planes cover a format). Each
/// plane's sums with another's then fit i32, and the chunk's exact sum is
/// `Σ_{p,q} S_pq · 2^(s_p + s_q)`. Below, "block" is the geometry's packed
/// block, a chunk.
///
/// - `data`: the divided integers, `[tile][plane][pair][W][2]` (pairs run
///   over whole chunks of `kbp` slots; W = MR for A, NR for B);
/// - `shifts`: `2^s`, `[tile][plane][block][W]`;
/// - `scales`: scale times `2^e0`, `[tile][block][W]` (the same for the
///   `cpb` chunks of a scale block);
/// - `pairs`: `[tile][plane][block]`, bit i set if pair i of the block
///   (elements 2i, 2i + 1) holds a nonzero value in the plane, for any row.
pub(crate) struct PackedPlanes {
    pub planes: usize,
    /// Each pair as one word, the first element in the low half.
    pub data: Vec<u32>,
    pub shifts: Vec<f64>,
    pub scales: Vec<f64>,
    pub pairs: Vec<u64>,
}

impl PackedPlanes {
    /// Tile `t` (of `w` rows) as the kernels take it.
    pub(crate) fn tile(&self, t: usize, w: usize, g: KGeom) -> PlaneTile<'_> {
        let (n, kp) = (self.planes, g.blocks * g.kbp);
        PlaneTile {
            planes: n,
            data: bytemuck::cast_slice(&self.data[t * n * kp / 2 * w..][..n * kp / 2 * w]),
            shifts: &self.shifts[t * n * g.blocks * w..][..n * g.blocks * w],
            scales: &self.scales[t * g.blocks * w..][..g.blocks * w],
            pairs: &self.pairs[t * n * g.blocks..][..n * g.blocks],
        }
    }
}

/// The widest window `w` whose sums of `kbp` products of two values below
/// `2^w` stay within i32: `(2^w − 1)² · kbp ≤ 2^31 − 1` (13 bits for 32-long
/// blocks), at most 15 (i16). [`plane_shift`] starts its search below it,
/// and [`plane_count`] counts planes by it (a bound that the search's lower
/// shifts only improve on).
pub(crate) fn window_bits(kbp: usize) -> u32 {
    (1..=15)
        .rev()
        .find(|&w| ((1u64 << w) - 1).pow(2) * kbp.max(1) as u64 <= i32::MAX as u64)
        .unwrap_or(0)
}

/// How many planes of `w` bits cover element integers below `2^top` with
/// at most `sig` significant bits each: past plane p's shift `s`, the rest
/// have fewer than `s` trailing zeros, so fewer than `s + sig` bits. None if
/// a window is too narrow to make progress (`w < sig`). [`plane_shift`]
/// takes a shift no larger than the window's, so the rest it leaves are no
/// wider, and this count bounds the planes [`pack_planes`] fills.
pub(crate) fn plane_count(top: u32, sig: u32, w: u32) -> Option<usize> {
    let (mut top, mut n) = (top, 1);
    while top > w {
        if w < sig || n == 8 {
            return None;
        }
        top = top - w + sig - 1;
        n += 1;
    }
    Some(n)
}

/// Element integers of `T`: the largest bit length and the most
/// significant bits (bit length less trailing zeros) of any.
pub(crate) fn int_widths<T: Element>() -> (u32, u32) {
    let ints = Codes::new::<T>().ints.into_iter().flatten();
    ints.filter(|&i| i != 0).fold((0, 0), |(top, sig), i| {
        let (len, tz) = (64 - i.unsigned_abs().leading_zeros(), i.trailing_zeros());
        (top.max(len), sig.max(len - tz))
    })
}

/// The shift `s` of the plane that takes the multiples of `2^s` among
/// `vals` (a chunk's values not yet taken by an earlier plane, zeros in
/// place of those; `most` the OR of their magnitudes): the smallest `s`
/// at which every value taken, divided by `2^s`, fits i16 (below `2^15`)
/// and their squares sum to at most `2^31 − 1`.
///
/// Two such planes' sums of products stay within i32, and so does every
/// partial sum (of any subset of pairs, in any order): by Cauchy–Schwarz
/// `|Σ a·b| ≤ ‖a‖·‖b‖ ≤ 2^31 − 1`. The window's shift, the bit length of
/// `most` less `w`, always qualifies (its values are below `2^w`, and
/// `(2^w − 1)²·kbp ≤ 2^31 − 1` for `vals.len() ≤ kbp`), so at most
/// `15 − w` smaller shifts are tried. A chunk whose values are not all
/// near its largest passes at a lower shift, and fewer of its small values
/// are left to a later plane, which the kernels run as a pass of its own.
pub(crate) fn plane_shift(vals: &[i64], most: u64, w: u32) -> u32 {
    let top = 64 - most.leading_zeros();
    let (lo, hi) = (top.saturating_sub(15), top.saturating_sub(w));
    (lo..hi)
        .find(|&s| {
            let low = (1i64 << s) - 1;
            let taken = vals.iter().filter(|&&v| v & low == 0);
            // Each square is below 2^30 (the value's bits past `lo`), and a
            // chunk holds at most 32.
            taken.map(|&v| (v >> s) * (v >> s)).sum::<i64>() <= i32::MAX as i64
        })
        .unwrap_or(hi)
}

/// Splits a chunk (an even count, at most [`CHUNK`], of element integers)
/// when plane 0 takes it whole: when every element is a multiple of `2^s`,
/// `s` the chunk's [`plane_shift`], writes
/// pair i's word `v_2i >> s | (v_2i+1 >> s) << 16` (as i16 halves) to
/// `words[i]` (zero past the chunk's pairs) and returns `(s, bits)`, bit i
/// set if that word is nonzero. Else `None`, and `words` is untouched.
/// The table's kernel (AVX-512) if it has one, else
/// [`split_whole_portable`].
pub(crate) fn split_whole(
    kernels: &Kernels,
    blk: &[i64],
    w: u32,
    words: &mut [u32; CHUNK / 2],
) -> Option<(u32, u64)> {
    match kernels.split_whole {
        Some(split) => split(blk, w, words),
        None => split_whole_portable(blk, w, words),
    }
}

/// [`split_whole`]'s specification.
pub(crate) fn split_whole_portable(
    blk: &[i64],
    w: u32,
    words: &mut [u32; CHUNK / 2],
) -> Option<(u32, u64)> {
    let (most, ors) = blk
        .iter()
        .fold((0, 0), |(m, o), &v| (m | v.unsigned_abs(), o | v));
    let s = plane_shift(blk, most, w);
    if ors & ((1i64 << s) - 1) != 0 {
        return None;
    }
    let mut bits = 0;
    words.fill(0);
    for (i, (word, two)) in words.iter_mut().zip(blk.chunks_exact(2)).enumerate() {
        *word = (two[0] >> s) as i16 as u16 as u32 | ((two[1] >> s) as i16 as u16 as u32) << 16;
        bits |= ((*word != 0) as u64) << i;
    }
    Some((s, bits))
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn pack_planes<F: BlockFormat>(
    kernels: &Kernels,
    t: &QuantizedTensor<F>,
    d: &Dims,
    g: KGeom,
    planes: usize,
    total_rows: usize,
    r0: usize,
    rows: usize,
    width: usize,
    all_scales: &Scales,
) -> PackedPlanes {
    let table = lut::<F::Elem, i64>(|i| i);
    let w = window_bits(g.kbp);
    let tiles = rows.div_ceil(width);
    let kp = g.blocks * g.kbp;
    let mut p = PackedPlanes {
        planes,
        data: vec![0; tiles * planes * kp / 2 * width],
        shifts: vec![1.0; tiles * planes * g.blocks * width],
        scales: vec![0.0; tiles * g.blocks * width],
        pairs: vec![0; tiles * planes * g.blocks],
    };
    let live = rows.min(total_rows.saturating_sub(r0));
    p.data
        .par_chunks_mut(planes * kp / 2 * width)
        .zip(p.shifts.par_chunks_mut(planes * g.blocks * width))
        .zip(p.scales.par_chunks_mut(g.blocks * width))
        .zip(p.pairs.par_chunks_mut(planes * g.blocks))
        .enumerate()
        .for_each(|(tile, (((dst, shifts), scales), pairs))| {
            let mut buf = vec![0i64; kp];
            for j in 0..width.min(live.saturating_sub(tile * width)) {
                let row = r0 + tile * width + j;
                // No `buf.fill(0)` per row: the split below takes every
                // element of the last row, leaving zeros, and decoding
                // leaves block padding and the tail untouched.
                // Whole scale blocks of cpb chunks; each chunk carries its
                // block's scale.
                decode_row(t, d, g.cpb * g.kbp, row, &table, &mut buf);
                let row_scales = all_scales.row(row);
                for (kb, &v) in row_scales.iter().enumerate() {
                    for c in kb * g.cpb..(kb + 1) * g.cpb {
                        scales[c * width + j] = v;
                    }
                }
                // `split_whole` writes all of it whenever it returns Some.
                let mut words = [0u32; CHUNK / 2];
                for (kb, blk) in buf.chunks_exact_mut(g.kbp).enumerate() {
                    if let Some((s, bits)) = split_whole(kernels, blk, w, &mut words) {
                        // Plane 0 takes the whole chunk (the common case),
                        // as the first round of the loop below would.
                        shifts[kb * width + j] = crate::element::pow2_f64(s as i32);
                        let base = (kb * g.kbp / 2) * width + j;
                        let slots = dst[base..].iter_mut().step_by(width);
                        for (slot, &word) in slots.zip(&words[..g.kbp / 2]) {
                            *slot = word;
                        }
                        pairs[kb] |= bits;
                        blk.fill(0);
                        continue;
                    }
                    // Bit lengths only: those of the OR of the |v|.
                    let mut most = blk.iter().fold(0, |m, v| m | v.unsigned_abs());
                    for plane in 0..planes {
                        if most == 0 {
                            break;
                        }
                        // The values left are `blk`'s nonzero ones; those
                        // the plane takes, divided by 2^s, fit i16 and
                        // their squares i32.
                        let s = plane_shift(blk, most, w);
                        shifts[(plane * g.blocks + kb) * width + j] =
                            crate::element::pow2_f64(s as i32);
                        let (mut rest, mut bits) = (0, 0u64);
                        let low = (1i64 << s) - 1;
                        // Branch-free: zeros and later planes' elements
                        // write 0 here (the slots are zero already).
                        let mut take = |v: &mut i64| {
                            let here = *v & low == 0;
                            let x = if here { *v >> s } else { 0 };
                            rest |= if here { 0 } else { v.unsigned_abs() };
                            *v = if here { 0 } else { *v };
                            x as i16 as u16 as u32
                        };
                        let base = ((plane * kp + kb * g.kbp) / 2) * width + j;
                        let slots = dst[base..].iter_mut().step_by(width);
                        for (i, (slot, two)) in slots.zip(blk.chunks_exact_mut(2)).enumerate() {
                            let word = take(&mut two[0]) | take(&mut two[1]) << 16;
                            *slot = word;
                            bits |= ((word != 0) as u64) << i;
                        }
                        pairs[plane * g.blocks + kb] |= bits;
                        most = rest;
                    }
                    // `plane_count` planes always take every element.
                    debug_assert!(blk.iter().all(|&v| v == 0));
                }
            }
        });
    p
}

#[cfg(test)]
mod tests;
