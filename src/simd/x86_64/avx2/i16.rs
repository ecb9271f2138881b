//! The AVX2 i16 GEMM tile: the arithmetic of
//! `gemm::kernels::i16_tile_portable`, which is its specification (the
//! planner, `gemm::plan`, says why it is exact), in register blocks of 4
//! rows × 16 columns.

use super::gemm::add_row_terms;
use crate::simd::x86_64::planes;
use crate::simd::{GEMM_MR as MR, GEMM_NR as NR, PlaneTile, Terms};
use core::arch::x86_64::*;

/// Rows per register block of the i16 kernel: 4 rows × 16 columns of i32
/// sums are 8 ymm, with 2 for B's pair row and 1 for A's broadcast.
const IR16: usize = 4;
const _: () = assert!(MR.is_multiple_of(IR16) && NR == 16);

/// The i16 tile kernel: per block term, the exact f64 sum `Σ_{p,q} S_pq ·
/// 2^(s_p + s_q)` over its `cpb` chunks and the pairs of planes with a
/// nonzero product, each `S_pq` in i32 by `vpmaddwd` (exact:
/// `pack::planes::plane_shift`), then the f64 kernel's terms, as
/// `gemm::kernels::i16_tile_portable` does. With `Terms::Pow2F32`, a block
/// of one chunk summed in one pass of planes takes its term in f32
/// instead: `acc + f32(S_pq)·P`, by FMA.
///
/// Panics if a slice is shorter than the geometry, `kb` is odd, `cpb`
/// does not divide `blocks` or `chunks` does not start and end on a block
/// term within them.
#[allow(clippy::too_many_arguments)] // the table's `I16Tile`
pub(super) fn i16_tile(
    a: &PlaneTile,
    b: &PlaneTile,
    blocks: usize,
    kb: usize,
    cpb: usize,
    chunks: core::ops::Range<usize>,
    terms: Terms,
    acc: &mut [f32; MR * NR],
) {
    planes::check(a, b, blocks, kb, cpb, &chunks);
    // SAFETY: an entry of the AVX2 table, handed out only on a CPU with
    // AVX2 and FMA; the reads stay within the lengths `planes::check`
    // asserts.
    unsafe {
        match terms {
            Terms::Odd => i16_tile_impl::<false, false>(a, b, blocks, kb, cpb, chunks, acc),
            Terms::Pow2 => i16_tile_impl::<true, false>(a, b, blocks, kb, cpb, chunks, acc),
            Terms::Pow2F32 => i16_tile_impl::<true, true>(a, b, blocks, kb, cpb, chunks, acc),
        }
    }
}

/// # Safety
/// As [`i16_tile`] asserts.
#[target_feature(enable = "avx2,fma")]
unsafe fn i16_tile_impl<const POW2: bool, const F32: bool>(
    a: &PlaneTile,
    b: &PlaneTile,
    blocks: usize,
    kb: usize,
    cpb: usize,
    chunks: core::ops::Range<usize>,
    acc: &mut [f32; MR * NR],
) {
    let kp = blocks * kb;
    let load4 = |v: &[f64]| -> [__m256d; 4] {
        // SAFETY: v holds 16 f64 (NR).
        core::array::from_fn(|h| unsafe { _mm256_loadu_pd(v.as_ptr().add(4 * h)) })
    };
    // The planes' data from chunk blk's first pair on.
    let data = |p: usize, q: usize, blk: usize| {
        let at = |plane: usize, w: usize| (plane * kp + blk * kb) * w;
        (&a.data[at(p, MR)..], &b.data[at(q, NR)..])
    };
    for first in chunks.step_by(cpb) {
        let sbv = load4(&b.scales[first * NR..][..NR]);
        let one = if F32 && cpb == 1 {
            planes::single_pass(a, b, blocks, first)
        } else {
            None
        };
        if let Some((p, q, pairs)) = one {
            // B's factors s·2^(e0 + shift) in f32 (exact: `Terms::Pow2F32`).
            let fb = load4(&b.shifts[(q * blocks + first) * NR..][..NR]);
            let fb: [__m256; 2] = core::array::from_fn(|c| {
                let lo = _mm256_cvtpd_ps(_mm256_mul_pd(sbv[2 * c], fb[2 * c]));
                let hi = _mm256_cvtpd_ps(_mm256_mul_pd(sbv[2 * c + 1], fb[2 * c + 1]));
                _mm256_set_m128(hi, lo)
            });
            let (ap, bp) = data(p, q, first);
            for r0 in (0..MR).step_by(IR16) {
                // SAFETY: the chunk's pairs of both planes are in bounds
                // (asserted by `i16_tile`).
                let s = unsafe { madd_block(ap, bp, r0, pairs) };
                for (r, sr) in s.iter().enumerate() {
                    let row = first * MR + r0 + r;
                    let fa = a.scales[row] * a.shifts[(p * blocks + first) * MR + r0 + r];
                    let fa = _mm256_set1_ps(fa as f32);
                    let out = &mut acc[(r0 + r) * NR..][..NR];
                    for (c, o) in out.chunks_exact_mut(8).enumerate() {
                        let pv = _mm256_mul_ps(fa, fb[c]);
                        // SAFETY: o holds 8 f32.
                        unsafe {
                            let o = o.as_mut_ptr();
                            let t = _mm256_cvtepi32_ps(sr[c]);
                            _mm256_storeu_ps(o, _mm256_fmadd_ps(t, pv, _mm256_loadu_ps(o)));
                        }
                    }
                }
            }
            continue;
        }
        let mut sd = [[_mm256_setzero_pd(); 4]; MR];
        for blk in first..first + cpb {
            // SAFETY: as `quarters` requires (asserted by `i16_tile`).
            unsafe {
                quarters(
                    a,
                    b,
                    blocks,
                    kb,
                    blk,
                    |fb| fb,
                    |r, c, quarter, fa, fb| {
                        // Exact: S_pq·2^(s_p + s_q), and the sum (a sum of
                        // the block's products, which the planner bounds).
                        let f = _mm256_mul_pd(_mm256_set1_pd(fa), fb);
                        sd[r][c] = _mm256_fmadd_pd(_mm256_cvtepi32_pd(quarter), f, sd[r][c]);
                    },
                )
            };
        }
        for (r, sr) in sd.iter().enumerate() {
            let sar = _mm256_set1_pd(a.scales[first * MR + r]);
            add_row_terms::<4, POW2>(sr, sar, &sbv, &mut acc[r * NR..][..NR]);
        }
    }
}

/// The exact i64 sums `Σ_{p,q} S_pq · 2^(s_p + s_q)` of the tile over the
/// chunks `chunks` (`gemm::kernels::i16_sums_portable`), each `S_pq` in
/// i32 as [`i16_tile`] takes it.
///
/// Panics if a slice is shorter than the geometry, `kb` is odd or `chunks`
/// is not within them.
pub(super) fn i16_sums(
    a: &PlaneTile,
    b: &PlaneTile,
    blocks: usize,
    kb: usize,
    chunks: core::ops::Range<usize>,
    out: &mut [i64; MR * NR],
) {
    planes::check(a, b, blocks, kb, 1, &chunks);
    // SAFETY: as in `i16_tile`.
    unsafe { i16_sums_impl(a, b, blocks, kb, chunks, out) }
}

/// # Safety
/// As [`i16_sums`] asserts.
#[target_feature(enable = "avx2,fma")]
unsafe fn i16_sums_impl(
    a: &PlaneTile,
    b: &PlaneTile,
    blocks: usize,
    kb: usize,
    chunks: core::ops::Range<usize>,
    out: &mut [i64; MR * NR],
) {
    // The factors are 2^s, s ≥ 0: the exponent field less the bias is
    // the shift s. B's are taken once per pass; per row, one add of A's
    // gives the shift s_p + s_q.
    let bias = _mm256_set1_epi64x(1023);
    let column =
        |fb: __m256d| _mm256_sub_epi64(_mm256_srli_epi64::<52>(_mm256_castpd_si256(fb)), bias);
    let mut si = [[_mm256_setzero_si256(); 4]; MR];
    for blk in chunks {
        // SAFETY: as `quarters` requires (asserted by `i16_sums`).
        unsafe {
            quarters(a, b, blocks, kb, blk, column, |r, c, quarter, fa, sq| {
                // Shifted by s_p + s_q, S_pq is exact in i64 (an
                // integer below 2^63, a sum of the block's products,
                // which the planner bounds).
                let sp = _mm256_set1_epi64x((fa.to_bits() >> 52) as i64 - 1023);
                let shift = _mm256_add_epi64(sp, sq);
                let x = _mm256_sllv_epi64(_mm256_cvtepi32_epi64(quarter), shift);
                si[r][c] = _mm256_add_epi64(si[r][c], x);
            })
        };
    }
    for (r, ir) in si.iter().enumerate() {
        for (h, iv) in ir.iter().enumerate() {
            // SAFETY: out holds MR·NR i64; row r's quarter h starts at
            // r·NR + 4h.
            unsafe {
                let o = out.as_mut_ptr().add(r * NR + 4 * h);
                _mm256_storeu_si256(o.cast(), *iv);
            }
        }
    }
}

/// Each pass of planes over chunk `blk` (`planes::each_pass`), for the
/// whole tile: per 4 rows, its i32 pair sums by [`madd_block`], then
/// `add(r, c, sums, fa, col)` for row r and each quarter c of the columns
/// (4 each): the quarter's sums, A's factor `2^(s_p)` for the row and
/// `column` of B's factors `2^(s_q)` for the quarter, taken once per
/// pass. The tile kernel and the i64 sums differ only in `column` and
/// `add`. The passes are the outer loop: which passes a chunk has is data
/// (an E4M3 chunk with an element below plane 0's window has more), so
/// each is decided once per chunk rather than once per 4 rows
/// (bench/README.md, "The AVX2 i16 tile's passes once per chunk").
///
/// # Safety
/// The geometry must be as the entries assert (`planes::check`).
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn quarters<T: Copy>(
    a: &PlaneTile,
    b: &PlaneTile,
    blocks: usize,
    kb: usize,
    blk: usize,
    column: impl Fn(__m256d) -> T,
    mut add: impl FnMut(usize, usize, __m128i, f64, T),
) {
    let kp = blocks * kb;
    planes::each_pass(a, b, blocks, blk, |p, q, pairs| {
        let at = |plane: usize, w: usize| (plane * kp + blk * kb) * w;
        let (ap, bp) = (&a.data[at(p, MR)..], &b.data[at(q, NR)..]);
        let fb = &b.shifts[(q * blocks + blk) * NR..][..NR];
        // SAFETY: fb holds 16 f64.
        let fb: [T; 4] =
            core::array::from_fn(|h| column(unsafe { _mm256_loadu_pd(fb.as_ptr().add(4 * h)) }));
        for r0 in (0..MR).step_by(IR16) {
            // SAFETY: the chunk's pairs of both planes are in bounds (the
            // caller's).
            let s = unsafe { madd_block(ap, bp, r0, pairs) };
            let fa = &a.shifts[(p * blocks + blk) * MR + r0..][..IR16];
            for (r, (sr, &far)) in s.iter().zip(fa).enumerate() {
                let quarters = [
                    _mm256_castsi256_si128(sr[0]),
                    _mm256_extracti128_si256::<1>(sr[0]),
                    _mm256_castsi256_si128(sr[1]),
                    _mm256_extracti128_si256::<1>(sr[1]),
                ];
                for (c, (quarter, &fbv)) in quarters.into_iter().zip(&fb).enumerate() {
                    add(r0 + r, c, quarter, far, fbv);
                }
            }
        }
    });
}

/// The i32 sums `Σ a[k][r0 + r]·b[k][j]` over pairs i of the packed i16
/// tiles (`[pair][MR][2]`, `[pair][NR][2]`) for each bit i of `pairs`,
/// rows `r0..r0 + 4`, all 16 columns (columns 0–7 in `[r][0]`).
///
/// # Safety
/// Pair i of both tiles must be in bounds for each bit i; `r0 + 4 ≤ MR`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn madd_block(a: &[i16], b: &[i16], r0: usize, pairs: u64) -> [[__m256i; 2]; IR16] {
    let mut s = [[_mm256_setzero_si256(); 2]; IR16];
    let step = |p: usize| {
        // SAFETY: pair p of both tiles is in bounds (the caller's).
        unsafe {
            let bp = b.as_ptr().add(p * NR * 2);
            let bv = [
                _mm256_loadu_si256(bp.cast()),
                _mm256_loadu_si256(bp.add(16).cast()),
            ];
            let ap = a.as_ptr().add((p * MR + r0) * 2).cast::<i32>();
            for (r, sr) in s.iter_mut().enumerate() {
                // Row r's pair (a[2p], a[2p + 1]) in every 32-bit lane.
                let av = _mm256_set1_epi32(ap.add(r).read_unaligned());
                for (sv, &bh) in sr.iter_mut().zip(&bv) {
                    *sv = _mm256_add_epi32(*sv, _mm256_madd_epi16(av, bh));
                }
            }
        }
    };
    planes::each_pair(pairs, step);
    s
}
