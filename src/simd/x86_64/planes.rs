//! What the x86 i16 GEMM tiles (`avx2::i16_tile` and `avx512`'s two)
//! share: the checks their raw reads rely on, the walk over a chunk's
//! pairs of planes, and the walk over a pass's pairs of K; and the shift
//! that their packers' `split_whole` kernels choose.

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

/// The shift `s` at which plane 0 takes a chunk whole, or `None` if some
/// element is not a multiple of `2^s`
/// (`gemm::pack::planes::split_whole_portable`), from the OR of the
/// chunk's magnitudes (`most`), the OR of its integers (`ors`), the
/// window's bits `w` and `sum(p)`, the chunk's `Σ (v >> p)²`. `sum` is
/// asked at one `p` at most, and must be exact when every element is a
/// multiple of `2^p`.
///
/// The shift comes from the bit length of that one sum. When the chunk is
/// all multiples of `2^s`, `plane_shift`'s bound `Σ (v >> s)² ≤ 2^31 − 1`
/// reads `q >> 2s < 2^31` exactly, q = `Σ v²`: a test of q's bit length.
/// When some element is not a multiple of the shift found here, neither
/// this nor `plane_shift` takes the chunk whole (every smaller shift
/// failed on the same sums).
#[inline]
pub(super) fn whole_shift(
    most: u64,
    ors: i64,
    w: u32,
    sum: impl FnOnce(u32) -> u64,
) -> Option<u32> {
    let top = 64 - most.leading_zeros();
    let (lo, hi) = (top.saturating_sub(15), top.saturating_sub(w));
    // A shift p of 0 below 2^29 (E4M3's 7·2^15), 3 below 2^32 (E5M2's
    // 7·2^29), where 32 squares stay below 2^63 and p ≤ lo (so the
    // branch is the same for every chunk of a format's usual data); past
    // any element integer, lo (v >> lo < 2^15: exact for any i64). With
    // no shift below the window's to try (every value within `w` bits, as
    // E3M2's always are), no sum.
    let p = match top {
        _ if hi == lo => None,
        ..=29 => Some(0),
        30..=32 => Some(3),
        _ => Some(lo),
    };
    let bits = p.map_or(0, |p| match sum(p) {
        0 => 0,
        q => 64 - q.leading_zeros() + 2 * p,
    });
    // The smallest s with q >> 2s < 2^31, from q's bit length:
    // ⌈(bits − 31)/2⌉, within [lo, hi]. No branch per shift.
    let s = (bits.saturating_sub(30) / 2).max(lo).min(hi);
    (ors & ((1i64 << s) - 1) == 0).then_some(s)
}
