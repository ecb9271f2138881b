//! The AVX2 i8 tile kernel (`i8_tile`) on quads of bytes. AVX2 has no
//! `vpdpbusd`: where the plan bounds the operands the products are
//! `vpmaddubsw` pair sums run in i16, and otherwise `vpmaddwd` pair sums
//! of operands widened to i16. The arithmetic is
//! `gemm::kernels::i8_tile_portable`'s, its specification (the planner,
//! `plan`, says why it is exact).

use crate::simd::{GEMM_MR as MR, GEMM_NR as NR, QuadBlock, QuadTile};
use core::arch::x86_64::*;

/// Rows of a register block of the i8 kernel: 2 rows × 16 columns of i32
/// pair sums are 8 ymm, with 4 for B's quads widened to i16.
const IR: usize = 2;

/// The i8 tile kernel on quads (4 bytes of 4 consecutive K elements, as
/// u32: u8 `a + 128` and i8 `b`). AVX2 has no `vpdpbusd`. Where the plan
/// bounds the operands (`i16_runs` > 0) this is [`i8_tile_blocks`] or
/// [`i8_tile_i16`]. Otherwise
/// `vpmaddubsw` could saturate at i16 (`255 · 127 · 2` does not fit), so
/// both operands are widened to i16 and multiplied by `vpmaddwd`, whose
/// i32 pair sums are exact. Lane `2j + h` of a register holds column
/// `c0 + j`'s sum over its quads' half `h`; per block the halves are added
/// (`vphaddd`), started at `-128·Σb`, and `acc += f32(S) · (s_a·s_b)` as
/// the portable kernel does.
pub(super) fn i8_tile(t: &QuadTile, i16_runs: usize, b_uniform: bool, acc: &mut [f32; MR * NR]) {
    // SAFETY: an entry of the AVX2 table, handed out only on a CPU with
    // AVX2 and FMA; every read is within the lengths `QuadTile::new`
    // checked.
    unsafe {
        // A whole K block in one i16 run: NVFP4's (4 quads) and MX's (8).
        if i16_runs >= t.quads && b_uniform {
            i8_tile_blocks::<true>(t, acc)
        } else if i16_runs >= t.quads {
            i8_tile_blocks::<false>(t, acc)
        } else if i16_runs > 0 {
            i8_tile_i16(t, i16_runs, acc)
        } else {
            i8_tile_impl(t, acc)
        }
    }
}

/// Rows of a register block of [`i8_tile_i16`]: 2 rows × 16 columns of
/// i16 sums, i32 sums and f32 accumulators are 12 ymm, B's quads 2.
const R16: usize = 2;

/// [`i8_tile`] for operands the plan bounds (`i16_runs` > 0, FP4's
/// integers): `vpmaddubsw` multiplies u8 `a + 128` by i8 `b` and adds
/// pairs into i16 lanes, 32 products an instruction, which sum in i16 over
/// `i16_runs` quads without overflow (the plan's bound); `vpmaddwd` by
/// ones then adds a column's two lanes into i32, in column order. The f32
/// accumulators stay in registers across the K blocks.
#[target_feature(enable = "avx2,fma")]
unsafe fn i8_tile_i16(t: &QuadTile, runs: usize, acc: &mut [f32; MR * NR]) {
    let quads = t.quads;
    let ones = _mm256_set1_epi16(1);
    for r0 in (0..MR).step_by(R16) {
        let mut c: [[__m256; 2]; R16] = core::array::from_fn(|r| {
            // SAFETY: acc holds MR·NR f32; row r0 + r's 16 start at (r0 + r)·NR.
            core::array::from_fn(|h| unsafe {
                _mm256_loadu_ps(acc.as_ptr().add((r0 + r) * NR + 8 * h))
            })
        });
        for blk in 0..t.blocks {
            let QuadBlock {
                a: ab,
                sa,
                b: bb,
                sb: sbs,
                nc: ncs,
            } = t.block(blk);
            // Each sum starts at the block's `-128·Σb`.
            // SAFETY: ncs holds 16 i32.
            let start: [__m256i; 2] = core::array::from_fn(|h| unsafe {
                _mm256_loadu_si256(ncs.as_ptr().add(8 * h).cast())
            });
            let mut s32 = [start; R16];
            let mut c0 = 0;
            while c0 < quads {
                let c1 = quads.min(c0 + runs);
                let mut s16 = [[_mm256_setzero_si256(); 2]; R16];
                for q in c0..c1 {
                    let bq = &bb[q * NR..][..NR];
                    // SAFETY: bq holds 16 u32, 8 a load.
                    let (b0, b1) = unsafe {
                        (
                            _mm256_loadu_si256(bq.as_ptr().cast()),
                            _mm256_loadu_si256(bq.as_ptr().add(8).cast()),
                        )
                    };
                    for (r, sr) in s16.iter_mut().enumerate() {
                        let av = _mm256_set1_epi32(ab[q * MR + r0 + r] as i32);
                        sr[0] = _mm256_add_epi16(sr[0], _mm256_maddubs_epi16(av, b0));
                        sr[1] = _mm256_add_epi16(sr[1], _mm256_maddubs_epi16(av, b1));
                    }
                }
                for (s, t) in s32.iter_mut().zip(&s16) {
                    for h in 0..2 {
                        s[h] = _mm256_add_epi32(s[h], _mm256_madd_epi16(t[h], ones));
                    }
                }
                c0 = c1;
            }
            // SAFETY: sbs holds 16 f32.
            let sbv: [__m256; 2] =
                core::array::from_fn(|h| unsafe { _mm256_loadu_ps(sbs.as_ptr().add(8 * h)) });
            for (r, (cr, sr)) in c.iter_mut().zip(&s32).enumerate() {
                let sar = _mm256_set1_ps(sa[r0 + r]);
                for h in 0..2 {
                    cr[h] = add_term(cr[h], sr[h], sar, sbv[h]);
                }
            }
        }
        for (r, cr) in c.iter().enumerate() {
            for (h, &v) in cr.iter().enumerate() {
                // SAFETY: as for the loads above.
                unsafe { _mm256_storeu_ps(acc.as_mut_ptr().add((r0 + r) * NR + 8 * h), v) };
            }
        }
    }
}

/// Rows of a register block of [`i8_tile_blocks`]: 4 rows × 16 columns of
/// i16 sums are 8 ymm, B's quads 2 and A's broadcast 1; the 8 f32
/// accumulators do not all fit beside them, and the compiler keeps some on
/// the stack. Two rows (as [`i8_tile_i16`]) ran slower: each broadcast of
/// A and load of B fed half the products.
const RB: usize = 4;

/// [`i8_tile_i16`] where one i16 run covers a whole K block (NVFP4's 4
/// quads, MX's 8, within the plan's `i16_runs`): no i32 sums within a
/// block, so a register block spans 4 rows. Per block `vpmaddwd` by ones
/// adds a column's two i16 lanes into i32, then `acc += f32(S)·P` as the
/// portable kernel does. The quad loop is a plain runtime loop on
/// pointers: unrolled by a const block length, the compiler reordered it
/// and spilled the sums (bench/README.md has the
/// figures).
///
/// The block's start `nc = -128·Σb` (as `pack_b8` writes it) enters the
/// i16 sums, which saves an i32 add per 8 sums. A column's even lane
/// starts at `nc` mod 2^16, its odd lane at 0. `vpaddw` wraps, so each
/// lane ends congruent to its true value mod 2^16, and exact if that
/// value fits i16. Lane 0 sums `(a+128)·b` over the quads' first two
/// bytes, lane 1 over the last two, `kb/2` products each. So lane 0 ends
/// at `Σ₀ a·b − 128·Σ₁ b` and lane 1 at `Σ₁ (a+128)·b`. Both are bounded
/// by `(kb/2)·(128 + max|a|)·max|b|`, which `i16_runs >= quads` keeps
/// within 32767.
///
/// With `UNIFORM` (each block's 16 scales of B one value) the block's 4
/// rows' products `s_a·s_b` take one 4-lane multiplication and reach the
/// FMAs as broadcast loads, in place of two 8-lane multiplications a row.
#[target_feature(enable = "avx2,fma")]
unsafe fn i8_tile_blocks<const UNIFORM: bool>(t: &QuadTile, acc: &mut [f32; MR * NR]) {
    let (a, sa, b, sb, nc) = (t.a, t.sa, t.b, t.sb, t.nc);
    let (blocks, quads) = (t.blocks, t.quads);
    let (ones, zero) = (_mm256_set1_epi16(1), _mm256_setzero_si256());
    for r0 in (0..MR).step_by(RB) {
        // SAFETY: the lengths `QuadTile::new` checked: `blocks ·
        // quads` quads of A (MR u32 each) and B (NR), `blocks` of scales
        // and corrections; row r0 + r < MR of the tile.
        unsafe {
            let (mut ap, mut bp) = (a.as_ptr().add(r0), b.as_ptr());
            let (mut sap, mut sbp, mut ncp) = (sa.as_ptr().add(r0), sb.as_ptr(), nc.as_ptr());
            let out = acc.as_mut_ptr().add(r0 * NR);
            let mut c: [[__m256; 2]; RB] = core::array::from_fn(|r| {
                core::array::from_fn(|h| _mm256_loadu_ps(out.add(r * NR + 8 * h)))
            });
            for _ in 0..blocks {
                // nc's low halves in the even lanes: `vpblendw` clears the odd.
                let start = [
                    _mm256_blend_epi16::<0xAA>(_mm256_loadu_si256(ncp.cast()), zero),
                    _mm256_blend_epi16::<0xAA>(_mm256_loadu_si256(ncp.add(8).cast()), zero),
                ];
                let mut s16 = [start; RB];
                for _ in 0..quads {
                    let b0 = _mm256_loadu_si256(bp.cast());
                    let b1 = _mm256_loadu_si256(bp.add(8).cast());
                    for (r, sr) in s16.iter_mut().enumerate() {
                        let av = _mm256_set1_epi32(*ap.add(r) as i32);
                        sr[0] = _mm256_add_epi16(sr[0], _mm256_maddubs_epi16(av, b0));
                        sr[1] = _mm256_add_epi16(sr[1], _mm256_maddubs_epi16(av, b1));
                    }
                    ap = ap.add(MR);
                    bp = bp.add(NR);
                }
                if UNIFORM {
                    const { assert!(RB == 4) };
                    let p = _mm_mul_ps(_mm_loadu_ps(sap), _mm_set1_ps(*sbp));
                    // Through memory, so that each row's broadcast is a
                    // load, not a shuffle.
                    let mut ps = [0f32; RB];
                    _mm_storeu_ps(ps.as_mut_ptr(), p);
                    let ps = core::hint::black_box(&ps);
                    for ((sr, cr), &pr) in s16.iter().zip(c.iter_mut()).zip(ps) {
                        let pr = _mm256_set1_ps(pr);
                        for h in 0..2 {
                            let sv = _mm256_madd_epi16(sr[h], ones);
                            cr[h] = add_product(cr[h], sv, pr);
                        }
                    }
                } else {
                    let sbv = [_mm256_loadu_ps(sbp), _mm256_loadu_ps(sbp.add(8))];
                    for (r, (sr, cr)) in s16.iter().zip(c.iter_mut()).enumerate() {
                        let sar = _mm256_set1_ps(*sap.add(r));
                        for h in 0..2 {
                            let sv = _mm256_madd_epi16(sr[h], ones);
                            cr[h] = add_term(cr[h], sv, sar, sbv[h]);
                        }
                    }
                }
                sap = sap.add(MR);
                sbp = sbp.add(NR);
                ncp = ncp.add(NR);
            }
            for (r, cr) in c.iter().enumerate() {
                for (h, &v) in cr.iter().enumerate() {
                    _mm256_storeu_ps(out.add(r * NR + 8 * h), v);
                }
            }
        }
    }
}

/// `acc + f32(S)·(s_a·s_b)` on 8 lanes, as `gemm::kernels::i8_tile_portable`
/// adds each block's term (not `gemm::block_term`, the reference's exact
/// rounding of a wider S): `S·P` is exact (the planner's condition), so
/// the FMA rounds once, as the portable `acc + t` does.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn add_term(acc: __m256, s: __m256i, sa: __m256, sb: __m256) -> __m256 {
    add_product(acc, s, _mm256_mul_ps(sa, sb))
}

/// [`add_term`] with the product `s_a·s_b` already formed.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn add_product(acc: __m256, s: __m256i, p: __m256) -> __m256 {
    _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), p, acc)
}

/// `out[j] = add_term(out[j], start[j] + sums[j], s_a, sb[j])` for 8
/// columns in memory.
///
/// # Safety
/// `start` and `sb` must be valid for reads of 8 values.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn add_terms(
    start: *const i32,
    sb: *const f32,
    sar: __m256,
    sums: __m256i,
    out: &mut [f32],
) {
    let out: &mut [f32; 8] = out.try_into().unwrap();
    // SAFETY: the caller's reads; out holds 8 f32.
    unsafe {
        let s = _mm256_add_epi32(_mm256_loadu_si256(start.cast()), sums);
        let o = out.as_mut_ptr();
        let t = add_term(_mm256_loadu_ps(o), s, sar, _mm256_loadu_ps(sb));
        _mm256_storeu_ps(o, t);
    }
}

/// Quads `c0..c1` of one K block of [`i8_tile_impl`], widened to i16:
/// B's into `bw[q − c0]`, A's rows as 4 u16 each in `aw[q − c0]`. Kept
/// out of line: inlined, the compiler scheduled the caller's products
/// worse (MXINT8's `gemm_bench` row; figures in bench/README.md).
#[inline(never)]
#[target_feature(enable = "avx2,fma")]
fn widen(
    bb: &[u32],
    ab: &[u32],
    bw: &mut [[__m256i; 4]; QC],
    aw: &mut [[u64; MR]; QC],
    c0: usize,
    c1: usize,
) {
    for q in c0..c1 {
        let (bq, aq) = (&bb[q * NR..][..NR], &ab[q * MR..][..MR]);
        // SAFETY: bq holds 16 u32 and aq 8, each load reads 4 of them;
        // aw[q − c0] holds 8 u64, each store writes 4.
        unsafe {
            bw[q - c0] = core::array::from_fn(|g| {
                _mm256_cvtepi8_epi16(_mm_loadu_si128(bq.as_ptr().add(4 * g).cast()))
            });
            for h in 0..2 {
                // Row r's 4 bytes as 4 u16 in one u64.
                let v = _mm256_cvtepu8_epi16(_mm_loadu_si128(aq.as_ptr().add(4 * h).cast()));
                _mm256_storeu_si256(aw[q - c0].as_mut_ptr().add(4 * h).cast(), v);
            }
        }
    }
}

/// Quads widened at a time by [`i8_tile_impl`] (once per block, not once
/// per register block of rows).
const QC: usize = 8;

#[target_feature(enable = "avx2,fma")]
unsafe fn i8_tile_impl(t: &QuadTile, acc: &mut [f32; MR * NR]) {
    let (a, sa, b, sb, nc) = (t.a, t.sa, t.b, t.sb, t.nc);
    let (blocks, quads) = (t.blocks, t.quads);
    // `vphaddd` of registers holding columns 0–3 and 4–7 gives them in
    // the order 0, 1, 4, 5, 2, 3, 6, 7; `vpermq` restores it.
    const ORDER: i32 = 0b11_01_10_00;
    let whole = quads <= QC;
    let mut bw = [[_mm256_setzero_si256(); 4]; QC];
    let mut aw = [[0u64; MR]; QC];
    // Sliced here by `blk`, not by `QuadTile::block`: with that, the
    // compiler kept the block's pointers on the stack and MXINT8's
    // `gemm_one` at `BLOCKSCALE_SIMD=avx2` ran 5% slower.
    for blk in 0..blocks {
        let ab = &a[blk * quads * MR..][..quads * MR];
        let bb = &b[blk * quads * NR..][..quads * NR];
        let ncs = &nc[blk * NR..][..NR];
        let sbs = &sb[blk * NR..][..NR];
        if whole {
            widen(bb, ab, &mut bw, &mut aw, 0, quads);
        }
        for r0 in (0..MR).step_by(IR) {
            let mut s = [[_mm256_setzero_si256(); 4]; IR];
            for c0 in (0..quads).step_by(QC) {
                let c1 = (c0 + QC).min(quads);
                if !whole {
                    widen(bb, ab, &mut bw, &mut aw, c0, c1);
                }
                for (bq, aq) in bw.iter().zip(&aw).take(c1 - c0) {
                    for (r, sr) in s.iter_mut().enumerate() {
                        // The row's 4 values repeated across the register.
                        let av = _mm256_set1_epi64x(aq[r0 + r] as i64);
                        for (sv, &bv) in sr.iter_mut().zip(bq) {
                            *sv = _mm256_add_epi32(*sv, _mm256_madd_epi16(av, bv));
                        }
                    }
                }
            }
            for (r, sr) in s.iter().enumerate() {
                let row = r0 + r;
                let sar = _mm256_set1_ps(sa[blk * MR + row]);
                for h in 0..2 {
                    let pairs = _mm256_hadd_epi32(sr[2 * h], sr[2 * h + 1]);
                    let sums = _mm256_permute4x64_epi64::<ORDER>(pairs);
                    let out = &mut acc[row * NR + 8 * h..][..8];
                    // SAFETY: ncs and sbs hold 16 values from 8·h + 8 ≤ 16.
                    unsafe {
                        add_terms(
                            ncs.as_ptr().add(8 * h),
                            sbs.as_ptr().add(8 * h),
                            sar,
                            sums,
                            out,
                        )
                    };
                }
            }
        }
    }
}
