//! The AVX-512 i16 GEMM tiles, with VNNI and without: the arithmetic of
//! `gemm::kernels::i16_tile_portable` (the planner, `gemm::plan`, says why
//! it is exact) on 512-bit registers. One zmm holds a row's 16 i32 sums,
//! so a register block is the whole MR×NR tile: 8 rows of i32 sums and 16
//! zmm of f64 sums fit the 32 registers, where the 256-bit tile spills
//! its f64 sums; the tile's 8 rows of f32 sums stay in registers across
//! its K blocks too (the compiler spills some registers around a block
//! that takes f64 sums). `vpdpwssd` multiplies a row's broadcast pair by
//! B's 16 pairs and adds into the sums in one instruction; without VNNI
//! (Skylake-SP) `vpmaddwd` and `vpaddd` do it in two, as on AVX2.

use super::gemm::term;
use crate::simd::x86_64::planes;
use crate::simd::{GEMM_MR as MR, GEMM_NR as NR, PlaneTile, Terms};
use core::arch::x86_64::*;

/// One i16 tile kernel per instruction set: the safe entry `$entry`
/// (which checks the geometry and dispatches on `Terms`), its body
/// `$body` and its pair step `$madd`, in which `$dot(sums, a, b)` adds
/// row pairs `a` times B's pairs `b` into the i32 sums. The sets differ
/// only in `$dot` (`vpdpwssd`, or `vpmaddwd` and `vpaddd`). A macro, not
/// a generic: a function with fewer target features than the intrinsics
/// it calls would not inline them.
macro_rules! i16_kernel {
    (
        $(#[$doc:meta])*
        $entry:ident, $body:ident, $sums:ident, $sums_body:ident, $halves:ident,
        $madd:ident, $features:literal, $dot:expr
    ) => {
        $(#[$doc])*
        ///
        /// Panics if a slice is shorter than the geometry, `kb` is odd,
        /// `cpb` does not divide `blocks` or `chunks` does not start and
        /// end on a block term within them.
        #[allow(clippy::too_many_arguments)] // the table's `I16Tile`
        pub(super) fn $entry(
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
            // SAFETY: an entry of one of this module's tables, the one
            // `simd::kernels` hands out only on a CPU with `$features`
            // (`KERNELS_VNNI` for VNNI); the reads stay within the lengths
            // `planes::check` asserts.
            unsafe {
                match terms {
                    Terms::Odd => $body::<false, false>(a, b, blocks, kb, cpb, chunks, acc),
                    Terms::Pow2 => $body::<true, false>(a, b, blocks, kb, cpb, chunks, acc),
                    Terms::Pow2F32 => $body::<true, true>(a, b, blocks, kb, cpb, chunks, acc),
                }
            }
        }

        /// # Safety
        /// As the entry above asserts, on a CPU with these features.
        #[target_feature(enable = $features)]
        unsafe fn $body<const POW2: bool, const F32: bool>(
            a: &PlaneTile,
            b: &PlaneTile,
            blocks: usize,
            kb: usize,
            cpb: usize,
            chunks: core::ops::Range<usize>,
            acc: &mut [f32; MR * NR],
        ) {
            let kp = blocks * kb;
            let load2 = |v: &[f64]| -> [__m512d; 2] {
                let v = &v[..NR];
                // SAFETY: v holds 16 f64.
                unsafe {
                    [
                        _mm512_loadu_pd(v.as_ptr()),
                        _mm512_loadu_pd(v.as_ptr().add(8)),
                    ]
                }
            };
            let wide =
                |lo: __m256, hi: __m256| _mm512_insertf32x8::<1>(_mm512_castps256_ps512(lo), hi);
            // The planes' data from chunk blk's first pair on.
            let data = |p: usize, q: usize, blk: usize| {
                let at = |plane: usize, w: usize| (plane * kp + blk * kb) * w;
                (&a.data[at(p, MR)..], &b.data[at(q, NR)..])
            };
            // The tile's sums stay in registers from its first chunk to its
            // last: a load and a store per row and block otherwise.
            let out = acc.as_mut_ptr();
            let mut c: [__m512; MR] = core::array::from_fn(|r| {
                // SAFETY: acc holds MR·NR f32; row r's NR start at r·NR.
                unsafe { _mm512_loadu_ps(out.add(r * NR)) }
            });
            for first in chunks.step_by(cpb) {
                let sbv = load2(&b.scales[first * NR..]);
                let one = if F32 && cpb == 1 {
                    planes::single_pass(a, b, blocks, first)
                } else {
                    None
                };
                if let Some((p, q, pairs)) = one {
                    // B's factors s·2^(e0 + shift) in f32 (exact: `Terms::Pow2F32`).
                    let fb = load2(&b.shifts[(q * blocks + first) * NR..]);
                    let fb = wide(
                        _mm512_cvtpd_ps(_mm512_mul_pd(sbv[0], fb[0])),
                        _mm512_cvtpd_ps(_mm512_mul_pd(sbv[1], fb[1])),
                    );
                    let (ap, bp) = data(p, q, first);
                    // SAFETY: the chunk's pairs of both planes are in bounds
                    // (asserted by `i16_tile`).
                    let s = unsafe { $madd(ap, bp, pairs) };
                    // A's factors s·2^(e0 + shift) in f32, the 8 rows at once
                    // (exact, as B's).
                    let fa = &a.shifts[(p * blocks + first) * MR..][..MR];
                    let sa = &a.scales[first * MR..][..MR];
                    // SAFETY: fa and sa hold MR = 8 f64 each.
                    let rows: [f32; MR] = unsafe {
                        core::mem::transmute(_mm512_cvtpd_ps(_mm512_mul_pd(
                            _mm512_loadu_pd(sa.as_ptr()),
                            _mm512_loadu_pd(fa.as_ptr()),
                        )))
                    };
                    for ((cr, sr), &row) in c.iter_mut().zip(&s).zip(&rows) {
                        let pv = _mm512_mul_ps(_mm512_set1_ps(row), fb);
                        *cr = _mm512_fmadd_ps(_mm512_cvtepi32_ps(*sr), pv, *cr);
                    }
                    continue;
                }
                let mut sd = [[_mm512_setzero_pd(); 2]; MR];
                for blk in first..first + cpb {
                    // SAFETY: as `$halves` requires (asserted by the entry).
                    unsafe {
                        $halves(a, b, blocks, kb, blk, |r, h, half, f| {
                            // Exact: S_pq·2^(s_p + s_q), and the sum (a sum of
                            // the block's products, which the planner bounds).
                            sd[r][h] = _mm512_fmadd_pd(_mm512_cvtepi32_pd(half), f, sd[r][h]);
                        })
                    };
                }
                let sa = &a.scales[first * MR..][..MR];
                for ((cr, sr), &sar) in c.iter_mut().zip(&sd).zip(sa) {
                    let sar = _mm512_set1_pd(sar);
                    let t: [__m256; 2] = core::array::from_fn(|h| {
                        let p = _mm512_mul_pd(sar, sbv[h]);
                        if POW2 {
                            _mm512_cvtpd_ps(_mm512_mul_pd(sr[h], p))
                        } else {
                            term(sr[h], p)
                        }
                    });
                    *cr = _mm512_add_ps(*cr, wide(t[0], t[1]));
                }
            }
            for (r, cr) in c.iter().enumerate() {
                // SAFETY: as the loads above.
                unsafe { _mm512_storeu_ps(out.add(r * NR), *cr) };
            }
        }

        /// The exact i64 sums `Σ_{p,q} S_pq · 2^(s_p + s_q)` of the tile
        /// over the chunks `chunks` (`gemm::kernels::i16_sums_portable`),
        /// each `S_pq` in i32 as the tile kernel above takes it.
        ///
        /// Panics if a slice is shorter than the geometry, `kb` is odd or
        /// `chunks` is not within them.
        pub(super) fn $sums(
            a: &PlaneTile,
            b: &PlaneTile,
            blocks: usize,
            kb: usize,
            chunks: core::ops::Range<usize>,
            out: &mut [i64; MR * NR],
        ) {
            planes::check(a, b, blocks, kb, 1, &chunks);
            // SAFETY: as the tile kernel's entry above.
            unsafe { $sums_body(a, b, blocks, kb, chunks, out) }
        }

        /// # Safety
        /// As the entry above asserts, on a CPU with these features.
        #[target_feature(enable = $features)]
        unsafe fn $sums_body(
            a: &PlaneTile,
            b: &PlaneTile,
            blocks: usize,
            kb: usize,
            chunks: core::ops::Range<usize>,
            out: &mut [i64; MR * NR],
        ) {
            let mut si = [[_mm512_setzero_si512(); 2]; MR];
            let bias = _mm512_set1_epi64(1023);
            for blk in chunks {
                // SAFETY: as `$halves` requires (asserted by the entry).
                unsafe {
                    $halves(a, b, blocks, kb, blk, |r, h, half, f| {
                        // The factor is 2^(s_p + s_q), s ≥ 0: its exponent
                        // field less the bias is the shift. Shifted,
                        // S_pq is exact in i64 (an integer below 2^63, a
                        // sum of the block's products, which the planner
                        // bounds).
                        let n = _mm512_sub_epi64(_mm512_srli_epi64::<52>(_mm512_castpd_si512(f)), bias);
                        let x = _mm512_sllv_epi64(_mm512_cvtepi32_epi64(half), n);
                        si[r][h] = _mm512_add_epi64(si[r][h], x);
                    })
                };
            }
            for (r, ir) in si.iter().enumerate() {
                for (h, iv) in ir.iter().enumerate() {
                    // SAFETY: out holds MR·NR i64; row r's half h starts at
                    // r·NR + 8h.
                    unsafe { _mm512_storeu_si512(out.as_mut_ptr().add(r * NR + 8 * h).cast(), *iv) };
                }
            }
        }

        /// Each pass of planes over chunk `blk` (`planes::each_pass`):
        /// its i32 pair sums by `$madd`, then `add(r, h, sums, factor)`
        /// for row r and each half h of the columns (8 each), the half's
        /// sums and their factors `2^(s_p + s_q)`. The tile kernel and the
        /// i64 sums differ only in `add`.
        ///
        /// # Safety
        /// The geometry must be as the entries assert (`planes::check`).
        #[inline]
        #[target_feature(enable = $features)]
        unsafe fn $halves(
            a: &PlaneTile,
            b: &PlaneTile,
            blocks: usize,
            kb: usize,
            blk: usize,
            mut add: impl FnMut(usize, usize, __m256i, __m512d),
        ) {
            let kp = blocks * kb;
            planes::each_pass(a, b, blocks, blk, |p, q, pairs| {
                let at = |plane: usize, w: usize| (plane * kp + blk * kb) * w;
                let (ap, bp) = (&a.data[at(p, MR)..], &b.data[at(q, NR)..]);
                // SAFETY: the chunk's pairs of both planes are in bounds
                // (the caller's).
                let s = unsafe { $madd(ap, bp, pairs) };
                let fb = &b.shifts[(q * blocks + blk) * NR..][..NR];
                // SAFETY: fb holds 16 f64.
                let fb = unsafe {
                    [
                        _mm512_loadu_pd(fb.as_ptr()),
                        _mm512_loadu_pd(fb.as_ptr().add(8)),
                    ]
                };
                let fa = &a.shifts[(p * blocks + blk) * MR..][..MR];
                for (r, (sr, &far)) in s.iter().zip(fa).enumerate() {
                    let far = _mm512_set1_pd(far);
                    let halves = [
                        _mm512_castsi512_si256(*sr),
                        _mm512_extracti64x4_epi64::<1>(*sr),
                    ];
                    for (h, (half, &fbv)) in halves.into_iter().zip(&fb).enumerate() {
                        add(r, h, half, _mm512_mul_pd(far, fbv));
                    }
                }
            });
        }

        /// The i32 sums `Σ a[k][r]·b[k][j]` over pairs i of the packed i16
        /// tiles (`[pair][MR][2]`, `[pair][NR][2]`) for each bit i of
        /// `pairs`: row r's 16 columns in `[r]`.
        ///
        /// # Safety
        /// Pair i of both tiles must be in bounds for each bit i.
        #[inline]
        #[target_feature(enable = $features)]
        unsafe fn $madd(a: &[i16], b: &[i16], pairs: u64) -> [__m512i; MR] {
            let mut s = [_mm512_setzero_si512(); MR];
            let step = |p: usize| {
                // SAFETY: pair p of both tiles is in bounds (the caller's).
                unsafe {
                    let bv = _mm512_loadu_si512(b.as_ptr().add(p * NR * 2).cast());
                    let ap = a.as_ptr().add(p * MR * 2).cast::<i32>();
                    for (r, sr) in s.iter_mut().enumerate() {
                        // Row r's pair (a[2p], a[2p + 1]) in every 32-bit lane.
                        let av = _mm512_set1_epi32(ap.add(r).read_unaligned());
                        *sr = $dot(*sr, av, bv);
                    }
                }
            };
            planes::each_pair(pairs, step);
            s
        }
    };
}

i16_kernel!(
    /// The i16 tile kernel: per block term, the exact f64 sum `Σ_{p,q} S_pq
    /// · 2^(s_p + s_q)` over its `cpb` chunks and the pairs of planes with
    /// a nonzero product, each `S_pq` in i32 by `vpdpwssd` (exact:
    /// `pack::planes::plane_shift`), then the f64 kernel's terms. With
    /// `Terms::Pow2F32`, a block of one chunk summed in one pass of planes
    /// takes its term in f32 instead: `acc + f32(S_pq)·P`, by FMA. Both as
    /// the AVX2 tile computes them, operation for operation.
    i16_tile,
    i16_tile_vnni,
    i16_sums,
    i16_sums_vnni,
    halves_vnni,
    madd_tile_vnni,
    "avx512f,avx512bw,avx512dq,avx512vnni",
    |s, a, b| _mm512_dpwssd_epi32(s, a, b)
);

i16_kernel!(
    /// [`i16_tile`] without VNNI (Skylake-SP): `vpmaddwd` sums a pair's two
    /// products into each i32 lane and `vpaddd` adds that to the row's
    /// sums, in place of each `vpdpwssd`: the same sums (the planes' bound keeps
    /// every pair's products and their sums in i32).
    i16_tile_no_vnni,
    i16_tile_bw,
    i16_sums_no_vnni,
    i16_sums_bw,
    halves_bw,
    madd_tile_bw,
    "avx512f,avx512bw,avx512dq",
    |s, a, b| _mm512_add_epi32(s, _mm512_madd_epi16(a, b))
);
