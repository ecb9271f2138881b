//! The wide GEMM kernels' block terms, `round_f32(S · m_a · m_b · 2^e)`
//! for exact i64 sums S and the scales' integer significands, in integer
//! arithmetic. Portable code, kept here rather than in `gemm` so that one
//! text serves both callers: `gemm::kernels` runs it as it is, and the
//! x86-64 tables run it compiled with LZCNT and BMI2
//! ([`Kernels::wide_terms`](super::Kernels::wide_terms)), where a
//! 128-bit leading-zero count and shift are a few one-cycle instructions
//! instead of `bsr` and flag-setting shifts.

use super::{GEMM_MR as MR, GEMM_NR as NR};

/// `round_f32(s · p · 2^e)`, one round-to-nearest-even of the exact
/// product, where that is a normal f32 or overflows (to ±Inf); `None`
/// where the product lies below `f32::MIN_POSITIVE`, where rounding keeps
/// fewer than 24 bits (the caller's exact path). A zero product is +0.
#[inline(always)]
pub(crate) fn term_normal(s: i64, p: i64, e: i32) -> Option<f32> {
    let mag = s.unsigned_abs() as u128 * p.unsigned_abs() as u128;
    if mag == 0 {
        return Some(0.0);
    }
    let lz = mag.leading_zeros();
    // The exponent of the leading bit: the result's, unless rounding
    // carries into the next binade.
    let lead = e + 127 - lz as i32;
    if lead < -126 {
        return None;
    }
    let sign = u32::from((s < 0) != (p < 0)) << 31;
    if lead > 127 {
        return Some(f32::from_bits(sign | 0x7F80_0000));
    }
    // The leading bit moved to bit 127: the 24 kept bits q, then the rest
    // with the rounding bit at its top and any bit of the low word as a
    // sticky bit 0. Integer arithmetic, not a conversion: `cvtsi2ss`
    // merges into its register's old value, and the compiled loop chained
    // each term's conversion to the previous term's.
    let top = mag << lz;
    let hi = (top >> 64) as u64;
    let q = (hi >> 40) as u32;
    let rest = (hi << 24) | u64::from(top as u64 != 0);
    // Nearest, ties to even: up past the half, or at it with q odd.
    let up = u32::from(rest > (1 << 63) - u64::from(q & 1));
    // Biased exponent lead + 127 above q's implicit 2^23; a carry out of q
    // steps the exponent, to Inf past f32::MAX.
    Some(f32::from_bits(
        sign | ((((lead + 126) as u32) << 23) + q + up),
    ))
}

/// `acc[r][j] += term_normal(S[r][j], m_a[r] · m_b[j], e_a[r] + e_b[j])`
/// for each row r of a tile whose terms [`term_normal`] takes all; the
/// rows it does not (some term below `f32::MIN_POSITIVE`) are left
/// untouched and returned, row r as bit r. `rows` and `cols` are the
/// scales as `(m, e)`, `|m| < 2^24`.
#[inline(always)]
pub(crate) fn add_rows(
    sums: &[i64; MR * NR],
    rows: &[(i64, i32); MR],
    cols: &[(i64, i32); NR],
    acc: &mut [f32; MR * NR],
) -> u32 {
    const { assert!(MR <= 32) };
    let mut left = 0;
    let tiles = sums.chunks_exact(NR).zip(acc.chunks_exact_mut(NR));
    for (r, ((srow, arow), &(ma, ea))) in tiles.zip(rows).enumerate() {
        let mut terms = [0f32; NR];
        let mut all = true;
        for ((&s, t), &(mb, eb)) in srow.iter().zip(&mut terms).zip(cols) {
            match term_normal(s, ma * mb, ea + eb) {
                Some(x) => *t = x,
                None => all = false,
            }
        }
        if !all {
            left |= 1 << r;
            continue;
        }
        for (a, t) in arow.iter_mut().zip(&terms) {
            *a += t;
        }
    }
    left
}
