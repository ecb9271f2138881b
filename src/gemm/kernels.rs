//! The GEMM's tile kernels: the portable code, which is the specification,
//! beside the dispatch to its SIMD twins in `simd` (chosen from the
//! caller's kernel table, `None` meaning this portable code). The planner
//! (`plan`) says why each kernel's arithmetic is exact.

use super::pack::KGeom;
use crate::simd::{
    GEMM_MR as MR, GEMM_NR as NR, Kernels, PlaneTile, QuadBlock, QuadTile, Terms, wide,
};
use core::ops::Range;

/// The i8 tile kernel: the table's (AVX2, AVX-512 VNNI) if it has one, else
/// [`i8_tile_portable`]. `i16_runs` is the plan's bound on i16 sums
/// (`Plan::I8`), which a kernel may use to sum in i16. The tile's `nc` must
/// be `-128·Σb` per block and column, as `pack::pack_b8` writes it: a
/// kernel that starts its i16 sums there relies on it for their bound.
/// `b_uniform` says that each block's NR scales of B are one value (bit
/// for bit), as `pack::PackedB8::uniform` finds them: a kernel may then
/// read the first and form a row's `s_a·s_b` once for all NR columns. The
/// portable kernel, reading them all, ignores it.
pub(crate) fn i8_tile(
    kernels: &Kernels,
    t: &QuadTile,
    i16_runs: usize,
    b_uniform: bool,
    acc: &mut [f32; MR * NR],
) {
    match kernels.i8_tile {
        Some(tile) => tile(t, i16_runs, b_uniform, acc),
        None => i8_tile_portable(t, acc),
    }
}

/// The f64 tile kernel: the table's (AVX2, AVX-512) if it has one, else
/// [`f64_tile_portable`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn f64_tile(
    kernels: &Kernels,
    a: &[f64],
    sa: &[f64],
    b: &[f64],
    sb: &[f64],
    g: KGeom,
    pow2: bool,
    acc: &mut [f32; MR * NR],
) {
    match kernels.f64_tile {
        Some(tile) => tile(a, sa, b, sb, g.blocks, g.kbp, pow2, acc),
        None => f64_tile_portable(a, sa, b, sb, g, pow2, acc),
    }
}

/// The i16 tile kernel: the table's (AVX2, AVX-512) if it has one, else
/// [`i16_tile_portable`] (which gives every `Terms` choice's bits by its
/// f64 rounding). It adds the terms of `chunks` (whole block terms, in
/// increasing order) to `acc`, so that a caller may cut K into ranges and
/// call it once per range: the same terms in the same order.
pub(crate) fn i16_tile(
    kernels: &Kernels,
    a: &PlaneTile,
    b: &PlaneTile,
    g: KGeom,
    chunks: Range<usize>,
    terms: Terms,
    acc: &mut [f32; MR * NR],
) {
    match kernels.i16_tile {
        Some(tile) => tile(a, b, g.blocks, g.kbp, g.cpb, chunks, terms, acc),
        None => i16_tile_portable(a, b, g, chunks, terms != Terms::Odd, acc),
    }
}

/// The i16 kernel for block terms whose sums f64 does not hold
/// (`Plan::I16Wide`): per block term of `chunks` (whole terms, in
/// increasing order), the exact i64 sum of its chunks' planes
/// ([`i16_sums`]), then `acc += round_f32(S · s_a · s_b)` ([`add_terms_i64`]).
pub(crate) fn i16_wide_tile(
    kernels: &Kernels,
    a: &PlaneTile,
    b: &PlaneTile,
    g: KGeom,
    chunks: Range<usize>,
    acc: &mut [f32; MR * NR],
) {
    let mut sums = [0i64; MR * NR];
    let cpb = g.cpb.max(1);
    for first in chunks.step_by(cpb) {
        i16_sums(kernels, a, b, g, first..first + cpb, &mut sums);
        let (sa, sb) = (&a.scales[first * MR..][..MR], &b.scales[first * NR..][..NR]);
        add_terms_i64(kernels, &sums, sa, sb, acc);
    }
}

/// `acc[r][j] += round_f32(S · s_a[r] · s_b[j])` for one block term's
/// exact i64 sums and packed scales (f32 values times `2^e0`): each scale
/// split once ([`split_scale`]), then the rows whose terms are normal f32
/// values or overflow by `simd::wide::add_rows` (the table's build of it
/// where there is one), and the rest by [`term_i64`].
pub(crate) fn add_terms_i64(
    kernels: &Kernels,
    sums: &[i64; MR * NR],
    sa: &[f64],
    sb: &[f64],
    acc: &mut [f32; MR * NR],
) {
    let rows: [(i64, i32); MR] = core::array::from_fn(|r| split_scale(sa[r]));
    let cols: [(i64, i32); NR] = core::array::from_fn(|j| split_scale(sb[j]));
    let left = match kernels.wide_terms {
        Some(terms) => terms(sums, &rows, &cols, acc),
        None => wide::add_rows(sums, &rows, &cols, acc),
    };
    let tiles = sums.chunks_exact(NR).zip(acc.chunks_exact_mut(NR));
    for (r, ((srow, arow), &(ma, ea))) in tiles.zip(&rows).enumerate() {
        if left >> r & 1 == 1 {
            for ((&s, out), &(mb, eb)) in srow.iter().zip(arow).zip(&cols) {
                *out += term_i64(s, ma * mb, ea + eb);
            }
        }
    }
}

/// The exact i64 sums of a tile's planes over `chunks`: the table's
/// (AVX2, AVX-512) if it has one, else [`i16_sums_portable`].
pub(crate) fn i16_sums(
    kernels: &Kernels,
    a: &PlaneTile,
    b: &PlaneTile,
    g: KGeom,
    chunks: Range<usize>,
    out: &mut [i64; MR * NR],
) {
    match kernels.i16_sums {
        Some(sums) => sums(a, b, g.blocks, g.kbp, chunks, out),
        None => i16_sums_portable(a, b, g, chunks, out),
    }
}

/// Portable [`i16_sums`]: `out[r][j] = Σ_chunks Σ_{p,q} S_pq · 2^(s_p +
/// s_q)` in i64, each `S_pq` the chunk's sum of plane p's row r times
/// plane q's row j. Exact: every partial sum is a sum of the block's
/// products, which the planner bounds below 2^63.
pub(crate) fn i16_sums_portable(
    a: &PlaneTile,
    b: &PlaneTile,
    g: KGeom,
    chunks: Range<usize>,
    out: &mut [i64; MR * NR],
) {
    out.fill(0);
    for blk in chunks {
        // The factor is 2^(s_p + s_q), an integer below 2^63.
        pass_sums(a, b, g, blk, |r, j, spq, f| {
            out[r * NR + j] += spq * f as i64
        });
    }
}

/// For chunk `blk` and each pair of planes with a nonzero product (p of
/// A, q of B), `add(r, j, S_pq, 2^(s_p + s_q))` per row r and column j,
/// `S_pq` the chunk's exact sum of plane p's row r times plane q's row j:
/// the portable i16 kernels' passes.
fn pass_sums(
    a: &PlaneTile,
    b: &PlaneTile,
    g: KGeom,
    blk: usize,
    mut add: impl FnMut(usize, usize, i64, f64),
) {
    let kp = g.blocks * g.kbp;
    for p in 0..a.planes {
        for q in 0..b.planes {
            if a.pairs[p * g.blocks + blk] & b.pairs[q * g.blocks + blk] == 0 {
                continue; // no product of this pair of planes is nonzero
            }
            let (ap, bp) = (&a.data[p * kp * MR..], &b.data[q * kp * NR..]);
            let (fa, fb) = (
                &a.shifts[(p * g.blocks + blk) * MR..][..MR],
                &b.shifts[(q * g.blocks + blk) * NR..][..NR],
            );
            for r in 0..MR {
                for j in 0..NR {
                    let spq: i64 = (blk * g.kbp..(blk + 1) * g.kbp)
                        .map(|k| {
                            let at = |w: usize, i: usize| ((k / 2) * w + i) * 2 + k % 2;
                            ap[at(MR, r)] as i64 * bp[at(NR, j)] as i64
                        })
                        .sum();
                    add(r, j, spq, fa[r] * fb[j]);
                }
            }
        }
    }
}

/// The i64 block sums of integers held in f64: the table's (AVX2, AVX-512) if
/// it has one and `group` (the plan's) is positive, else
/// [`i64_block_portable`].
pub(crate) fn i64_block(
    kernels: &Kernels,
    a: &[f64],
    b: &[f64],
    k0: usize,
    k1: usize,
    group: usize,
    out: &mut [i64; MR * NR],
) {
    match kernels.i64_block {
        Some(block) if group > 0 => block(a, b, k0, k1, group, out),
        _ => i64_block_portable(a, b, k0, k1, out),
    }
}

/// The i64 kernel's tile when every scale product is a power of two in
/// f32's normal range (the plan's `pow2`): the table's (AVX-512) if it has
/// one and `group` is positive, else [`pow2_terms`] around the table's
/// block sums ([`i64_block`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn i64_tile_pow2(
    kernels: &Kernels,
    a: &[f64],
    sa: &[f64],
    b: &[f64],
    sb: &[f64],
    g: KGeom,
    group: usize,
    acc: &mut [f32; MR * NR],
) {
    match kernels.i64_tile {
        Some(tile) if group > 0 => tile(a, sa, b, sb, g.blocks, g.kbp, group, acc),
        _ => pow2_terms(sa, sb, g, acc, |k0, k1, sums| {
            i64_block(kernels, a, b, k0, k1, group, sums)
        }),
    }
}

/// Portable [`i64_tile_pow2`]: per K block the exact i64 sums `S`, then
/// `acc += f32(S) · f32(s_a·s_b)`. `f32(S)` rounds once and the product by
/// a power of two in f32's normal range (the planner's condition) is exact,
/// so each term is the reference's one rounding. (The dispatch runs the
/// same loop with the table's block sums; the tests compare against this.)
#[cfg(test)]
pub(crate) fn i64_tile_pow2_portable(
    a: &[f64],
    sa: &[f64],
    b: &[f64],
    sb: &[f64],
    g: KGeom,
    acc: &mut [f32; MR * NR],
) {
    pow2_terms(sa, sb, g, acc, |k0, k1, sums| {
        i64_block_portable(a, b, k0, k1, sums)
    });
}

/// The loop of `i64_tile_pow2_portable` (a test oracle) around
/// `block_sums(k0, k1, out)`.
fn pow2_terms(
    sa: &[f64],
    sb: &[f64],
    g: KGeom,
    acc: &mut [f32; MR * NR],
    mut block_sums: impl FnMut(usize, usize, &mut [i64; MR * NR]),
) {
    let mut sums = [0i64; MR * NR];
    for blk in 0..g.blocks {
        block_sums(blk * g.kbp, (blk + 1) * g.kbp, &mut sums);
        let (sa, sb) = (&sa[blk * MR..][..MR], &sb[blk * NR..][..NR]);
        let rows = sums.chunks_exact(NR).zip(acc.chunks_exact_mut(NR));
        for ((srow, arow), &sa) in rows.zip(sa) {
            for ((&s, out), &sb) in srow.iter().zip(arow).zip(sb) {
                *out += s as f32 * (sa * sb) as f32;
            }
        }
    }
}

/// The f64 kernel's block term: `S · P` rounded to odd in f64 from an exact
/// two-product, then to nearest-even f32 (one correct rounding, module docs).
#[inline]
pub(crate) fn term_f64(s: f64, p: f64) -> f32 {
    let hi = s * p;
    let lo = s.mul_add(p, -hi);
    let bits = hi.to_bits();
    let odd = if lo != 0.0 && bits & 1 == 0 {
        // Step one ulp toward the exact value (toward lo).
        if (lo > 0.0) == (hi > 0.0) {
            bits + 1
        } else {
            bits - 1
        }
    } else {
        bits
    };
    f64::from_bits(odd) as f32
}

/// The i64 kernel's exact block term `round_f32(s · p · 2^e)` (`p` the
/// scales' integer significands' product, as [`split_scale`] gives them),
/// one round-to-nearest-even as [`super::round_scaled`] takes it: by
/// `simd::wide::term_normal`'s integer arithmetic where the result is a
/// normal f32 or overflows, else by `round_scaled`'s 128-bit shifts.
#[inline]
pub(crate) fn term_i64(s: i64, p: i64, e: i32) -> f32 {
    wide::term_normal(s, p, e).unwrap_or_else(|| super::round_scaled(s as i128 * p as i128, e))
}

/// A wide tile's packed scale as `m · 2^e` with integer m (sign
/// included). The packed scales are f32 values times a power of two
/// (`2^e0`), so zero or normal in f64, and m, its significand with the
/// trailing zeros taken off, has at most 24 bits.
#[inline]
fn split_scale(x: f64) -> (i64, i32) {
    if x == 0.0 {
        return (0, 0);
    }
    debug_assert!(x.is_normal(), "a packed scale: {x:e}");
    let bits = x.to_bits();
    let m = (bits & ((1 << 52) - 1)) | 1 << 52;
    let tz = m.trailing_zeros();
    let e = ((bits >> 52) & 0x7FF) as i32 - 1075 + tz as i32;
    let m = (m >> tz) as i64;
    (if x < 0.0 { -m } else { m }, e)
}

/// Portable i8 tile kernel: `acc[r][j] += S·P` per block, S exact in i32
/// (`Σ (a+128)·b` started at `-128·Σb`, as the SIMD kernel computes it).
pub(crate) fn i8_tile_portable(t: &QuadTile, acc: &mut [f32; MR * NR]) {
    for blk in 0..t.blocks() {
        let QuadBlock { a, sa, b, sb, nc } = t.block(blk);
        let mut s = [[0i32; NR]; MR];
        for row in s.iter_mut() {
            row.copy_from_slice(nc);
        }
        for qi in 0..t.quads() {
            for (r, srow) in s.iter_mut().enumerate() {
                let av = a[qi * MR + r].to_le_bytes(); // u8: a + 128
                for (j, sv) in srow.iter_mut().enumerate() {
                    let bv = b[qi * NR + j].to_le_bytes(); // i8
                    *sv += (0..4)
                        .map(|t| av[t] as i32 * bv[t] as i8 as i32)
                        .sum::<i32>();
                }
            }
        }
        for (r, srow) in s.iter().enumerate() {
            for (j, &sv) in srow.iter().enumerate() {
                let p = sa[r] * sb[j];
                acc[r * NR + j] += sv as f32 * p; // S·P is exact
            }
        }
    }
}

/// Portable f64 tile kernel: `acc[r][j] += term_f64(S, P)` per block
/// (`f32(S·P)` directly when `pow2` says the product is exact).
pub(crate) fn f64_tile_portable(
    a: &[f64],
    sa: &[f64],
    b: &[f64],
    sb: &[f64],
    g: KGeom,
    pow2: bool,
    acc: &mut [f32; MR * NR],
) {
    for blk in 0..g.blocks {
        let mut s = [[0f64; NR]; MR];
        for k in blk * g.kbp..(blk + 1) * g.kbp {
            let (ak, bk) = (&a[k * MR..][..MR], &b[k * NR..][..NR]);
            for (r, srow) in s.iter_mut().enumerate() {
                for (j, sv) in srow.iter_mut().enumerate() {
                    *sv += ak[r] * bk[j]; // exact: within 53 significant bits (the planner's bound)
                }
            }
        }
        add_terms_f64(&s, &sa[blk * MR..][..MR], &sb[blk * NR..][..NR], pow2, acc);
    }
}

/// `acc[r][j] += term_f64(S, P)` for one block's exact sums (`f32(S·P)`
/// directly when `pow2` says the product is exact), `P = s_a[r]·s_b[j]`.
fn add_terms_f64(
    s: &[[f64; NR]; MR],
    sa: &[f64],
    sb: &[f64],
    pow2: bool,
    acc: &mut [f32; MR * NR],
) {
    for (r, srow) in s.iter().enumerate() {
        for (j, &sv) in srow.iter().enumerate() {
            let p = sa[r] * sb[j];
            acc[r * NR + j] += if pow2 {
                (sv * p) as f32
            } else {
                term_f64(sv, p)
            };
        }
    }
}

/// Portable i16 tile kernel: per block term of `chunks` (which starts and
/// ends on one), the exact sum `S = Σ_{p,q} S_pq · 2^(s_p + s_q)` over
/// its `g.cpb` chunks and the planes present
/// (`pack::planes::PackedPlanes`), each `S_pq` of i16 pairs, here in i64 (the SIMD
/// kernels sum in i32, which `pack::planes::plane_shift` makes exact), then the
/// f64 kernel's terms.
pub(crate) fn i16_tile_portable(
    a: &PlaneTile,
    b: &PlaneTile,
    g: KGeom,
    chunks: Range<usize>,
    pow2: bool,
    acc: &mut [f32; MR * NR],
) {
    for first in chunks.step_by(g.cpb.max(1)) {
        let mut s = [[0f64; NR]; MR];
        for blk in first..(first + g.cpb).min(g.blocks) {
            // Exact: S_pq fits 31 bits, the factor is a power of two, and
            // every partial sum is a sum of the block's products, which
            // the planner bounds.
            pass_sums(a, b, g, blk, |r, j, spq, f| s[r][j] += spq as f64 * f);
        }
        let (sa, sb) = (&a.scales[first * MR..][..MR], &b.scales[first * NR..][..NR]);
        add_terms_f64(&s, sa, sb, pow2, acc);
    }
}

/// Portable exact block sums for the i64 kernel: `out[r][j] = Σ_{k0..k1}
/// a[k][r]·b[k][j]` in i64, of integers the packing holds in f64 (the
/// planner bounds the sums below 2^63).
pub(crate) fn i64_block_portable(
    a: &[f64],
    b: &[f64],
    k0: usize,
    k1: usize,
    out: &mut [i64; MR * NR],
) {
    out.fill(0);
    for k in k0..k1 {
        let (ak, bk) = (&a[k * MR..][..MR], &b[k * NR..][..NR]);
        for (r, orow) in out.chunks_exact_mut(NR).enumerate() {
            for (o, &bv) in orow.iter_mut().zip(bk) {
                *o += ak[r] as i64 * bv as i64;
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests;
