//! What the x86 i16 GEMM tiles (`avx2::i16_tile` and `avx512`'s two)
//! share: the checks their raw reads rely on, the walk over a chunk's
//! pairs of planes, and the walk over a pass's pairs of K.

use crate::simd::{GEMM_MR as MR, GEMM_NR as NR, PlaneTile};

/// Asserts the geometry an i16 tile kernel reads: `blocks` chunks of `kb`
/// (even) elements in at most 8 planes of each operand, `cpb` chunks per
/// block term, a range of `chunks` that starts and ends on a block term,
/// and no pair bit past a chunk's end.
pub(super) fn check(
    a: &PlaneTile,
    b: &PlaneTile,
    blocks: usize,
    kb: usize,
    cpb: usize,
    chunks: &core::ops::Range<usize>,
) {
    let kp = blocks * kb;
    assert!(kb.is_multiple_of(2) && a.planes <= 8 && b.planes <= 8);
    assert!(cpb > 0 && blocks.is_multiple_of(cpb));
    assert!(chunks.start <= chunks.end && chunks.end <= blocks);
    assert!(chunks.start.is_multiple_of(cpb) && chunks.end.is_multiple_of(cpb));
    assert!(a.data.len() >= a.planes * kp * MR && b.data.len() >= b.planes * kp * NR);
    assert!(a.shifts.len() >= a.planes * blocks * MR && b.shifts.len() >= b.planes * blocks * NR);
    assert!(a.scales.len() >= blocks * MR && b.scales.len() >= blocks * NR);
    assert!(a.pairs.len() >= a.planes * blocks && b.pairs.len() >= b.planes * blocks);
    // One OR over the range's masks (the only ones the kernel reads), with
    // no branch per mask: this runs once per tile call.
    let masks = |t: &PlaneTile| -> u64 {
        (0..t.planes)
            .flat_map(|p| &t.pairs[p * blocks..][chunks.clone()])
            .fold(0, |m, &x| m | x)
    };
    assert!(
        (masks(a) | masks(b))
            .checked_shr(kb as u32 / 2)
            .unwrap_or(0)
            == 0
    );
}

/// Calls `pass(p, q, pair mask)` for each pair of planes of chunk `blk`
/// with a nonzero product, in the portable kernel's order (p, then q).
/// Always inlined: a call inside a kernel's loop clobbers every vector
/// register (an iterator form of this was left outlined by the compiler).
#[inline(always)]
pub(super) fn each_pass(
    a: &PlaneTile,
    b: &PlaneTile,
    blocks: usize,
    blk: usize,
    mut pass: impl FnMut(usize, usize, u64),
) {
    for p in 0..a.planes {
        let pa = a.pairs[p * blocks + blk];
        for q in 0..b.planes {
            let pairs = pa & b.pairs[q * blocks + blk];
            if pairs != 0 {
                pass(p, q, pairs);
            }
        }
    }
}

/// The one pass of chunk `blk`, if it has exactly one: the case where a
/// block of one chunk can take its term in f32 (`Terms::Pow2F32`).
#[inline(always)]
pub(super) fn single_pass(
    a: &PlaneTile,
    b: &PlaneTile,
    blocks: usize,
    blk: usize,
) -> Option<(usize, usize, u64)> {
    let (mut n, mut one) = (0, (0, 0, 0));
    each_pass(a, b, blocks, blk, |p, q, pairs| {
        n += 1;
        one = (p, q, pairs);
    });
    (n == 1).then_some(one)
}

/// The pair indices `i` of `pairs` (bit i set), in increasing order, each
/// passed to `step`: a counted loop when the set bits run from bit 0.
#[inline(always)]
pub(super) fn each_pair(mut pairs: u64, mut step: impl FnMut(usize)) {
    if pairs & pairs.wrapping_add(1) == 0 {
        // Dense (every pair from the first on). `trailing_ones`, not
        // `count_ones`: without the popcnt feature the latter is a dozen
        // instructions per call.
        (0..pairs.trailing_ones() as usize).for_each(step);
    } else {
        while pairs != 0 {
            step(pairs.trailing_zeros() as usize);
            pairs &= pairs - 1;
        }
    }
}
