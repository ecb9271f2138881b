//! What the x86 i16 GEMM tiles (`avx2::i16_tile`, `avx512::i16_tile`)
//! share: the checks their raw reads rely on, and the list of plane pairs
//! a chunk needs.

use crate::simd::{GEMM_MR as MR, GEMM_NR as NR, PlaneTile};

/// Asserts the geometry an i16 tile kernel reads: `blocks` chunks of `kb`
/// (even) elements in at most 8 planes of each operand, `cpb` chunks per
/// block term, and no pair bit past a chunk's end.
pub(super) fn check(a: &PlaneTile, b: &PlaneTile, blocks: usize, kb: usize, cpb: usize) {
    let kp = blocks * kb;
    assert!(kb.is_multiple_of(2) && a.planes <= 8 && b.planes <= 8);
    assert!(cpb > 0 && blocks.is_multiple_of(cpb));
    assert!(a.data.len() >= a.planes * kp * MR && b.data.len() >= b.planes * kp * NR);
    assert!(a.shifts.len() >= a.planes * blocks * MR && b.shifts.len() >= b.planes * blocks * NR);
    assert!(a.scales.len() >= blocks * MR && b.scales.len() >= blocks * NR);
    assert!(a.pairs.len() >= a.planes * blocks && b.pairs.len() >= b.planes * blocks);
    let past = |m: &u64| m.checked_shr(kb as u32 / 2).unwrap_or(0) != 0;
    assert!(!a.pairs.iter().chain(b.pairs).any(past));
}

/// The pairs of planes `(p, q, pair mask)` of chunk `blk` with a nonzero
/// product, into `passes`, in the portable kernel's order (p, then q);
/// returns their count (at most 64).
#[inline]
pub(super) fn passes(
    a: &PlaneTile,
    b: &PlaneTile,
    blocks: usize,
    blk: usize,
    passes: &mut [(usize, usize, u64); 64],
) -> usize {
    let mut n = 0;
    for p in 0..a.planes {
        for q in 0..b.planes {
            let pairs = a.pairs[p * blocks + blk] & b.pairs[q * blocks + blk];
            if pairs != 0 {
                passes[n] = (p, q, pairs);
                n += 1;
            }
        }
    }
    n
}
