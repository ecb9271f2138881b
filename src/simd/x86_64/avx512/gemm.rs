//! AVX-512 GEMM micro-kernels: the same arithmetic as the portable tile
//! kernels in `gemm::kernels`, exact up to the one rounding per block term.
//! Each computes an MR×NR tile of f32 accumulators over all K blocks.
//!
//! These are table entries (see `super`): reached only on a CPU with the
//! features they enable, so each checks only the slice lengths its raw
//! reads rely on.

use crate::simd::{GEMM_MR as MR, GEMM_NR as NR, QuadTile};
use core::arch::x86_64::*;

/// The i8 tile kernel (AVX-512 VNNI) on quads (4 bytes of 4 consecutive
/// K elements, as u32): for each K block, 16 exact i32 sums per row from
/// `vpdpbusd` (u8 `a + 128` times i8 `b`, started at
/// `-128·Σb`), then `acc = fma(f32(S), s_a·s_b, acc)`; `S·P` is exact in f32
/// (checked by the planner), so the fma rounds once, like the reference's
/// `acc + t`. With `b_uniform` (each block's 16 scales of B one value),
/// the block's 8 products `s_a·s_b` take one 8-lane multiplication and
/// reach the FMAs as broadcast memory operands, where otherwise each row
/// takes a 16-lane one: the epilogue shares ports 0 and 5 with
/// `vpdpbusd`, and NVFP4's 4 quads a block leave it little room.
pub(super) fn i8_tile(t: &QuadTile, _i16_runs: usize, b_uniform: bool, acc: &mut [f32; MR * NR]) {
    // SAFETY: the CPU supports the enabled features (this is an entry of
    // `KERNELS_VNNI`, handed out only on such a CPU), and every read is
    // within the lengths `QuadTile::new` checked. The quad counts of
    // NVFP4 (16 = 4 quads) and MX (32 = 8) get unrolled copies.
    unsafe {
        match (t.quads, b_uniform) {
            (4, true) => i8_tile_impl::<4, true>(t, acc),
            (4, false) => i8_tile_impl::<4, false>(t, acc),
            (8, true) => i8_tile_impl::<8, true>(t, acc),
            (8, false) => i8_tile_impl::<8, false>(t, acc),
            (_, true) => i8_tile_impl::<0, true>(t, acc),
            (_, false) => i8_tile_impl::<0, false>(t, acc),
        }
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn i8_tile_impl<const Q: usize, const UNIFORM: bool>(
    t: &QuadTile,
    acc: &mut [f32; MR * NR],
) {
    let (a, sa, b, sb, nc) = (t.a, t.sa, t.b, t.sb, t.nc);
    let (blocks, quads) = (t.blocks, t.quads);
    let quads = if Q == 0 { quads } else { Q };
    // The kernels add to the accumulators they are given.
    // SAFETY: acc holds MR·NR floats; row r's NR start at r·NR.
    let mut c: [__m512; MR] =
        core::array::from_fn(|r| unsafe { _mm512_loadu_ps(acc.as_ptr().add(r * NR)) });
    for blk in 0..blocks {
        // SAFETY: (all reads in this loop) blk < blocks and q < quads, so
        // every offset is below the lengths `QuadTile::new` checked.
        unsafe {
            let start = _mm512_loadu_si512(nc.as_ptr().add(blk * NR).cast());
            let mut s = [start; MR];
            let ab = a.as_ptr().add(blk * quads * MR);
            let bb = b.as_ptr().add(blk * quads * NR);
            for q in 0..quads {
                let bv = _mm512_loadu_si512(bb.add(q * NR).cast());
                let aq = ab.add(q * MR);
                for (r, sr) in s.iter_mut().enumerate() {
                    let av = _mm512_set1_epi32(*aq.add(r) as i32);
                    *sr = _mm512_dpbusd_epi32(*sr, av, bv);
                }
            }
            if UNIFORM {
                const { assert!(MR == 8) };
                let sbs = _mm256_set1_ps(*sb.get_unchecked(blk * NR));
                let p = _mm256_mul_ps(_mm256_loadu_ps(sa.as_ptr().add(blk * MR)), sbs);
                // Through memory, so that each row's broadcast is a load
                // (`{1to16}`), not a shuffle on port 5.
                let mut ps = [0f32; MR];
                _mm256_storeu_ps(ps.as_mut_ptr(), p);
                let ps = core::hint::black_box(&ps);
                for (r, cr) in c.iter_mut().enumerate() {
                    let p = _mm512_set1_ps(ps[r]);
                    *cr = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[r]), p, *cr);
                }
            } else {
                let sbv = _mm512_loadu_ps(sb.as_ptr().add(blk * NR));
                for (r, cr) in c.iter_mut().enumerate() {
                    let p = _mm512_mul_ps(_mm512_set1_ps(*sa.get_unchecked(blk * MR + r)), sbv);
                    *cr = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[r]), p, *cr);
                }
            }
        }
    }
    for (r, cr) in c.iter().enumerate() {
        // SAFETY: acc holds MR·NR floats; row r's NR start at r·NR.
        unsafe { _mm512_storeu_ps(acc.as_mut_ptr().add(r * NR), *cr) };
    }
}

/// The f64 tile kernel (AVX-512F): exact f64 block sums by FMA, the block
/// term `S·P` rounded to odd with an exact two-product and then to f32 with
/// `vcvtpd2ps` (nearest-even under the default MXCSR, which Rust never
/// changes), added to the f32 accumulators.
///
/// With `pow2` (every scale a power of two) `S·P` is exact in f64 and
/// goes straight to `vcvtpd2ps`.
///
/// Panics if a slice is shorter than the geometry.
#[allow(clippy::too_many_arguments)]
pub(super) fn f64_tile(
    a: &[f64],
    sa: &[f64],
    b: &[f64],
    sb: &[f64],
    blocks: usize,
    kb: usize,
    pow2: bool,
    acc: &mut [f32; MR * NR],
) {
    assert!(a.len() >= blocks * kb * MR && b.len() >= blocks * kb * NR);
    assert!(sa.len() >= blocks * MR && sb.len() >= blocks * NR);
    // SAFETY: the CPU supports AVX-512F/DQ (an entry of `KERNELS`, handed
    // out only on such a CPU) and the reads stay within the asserted lengths.
    unsafe {
        if pow2 {
            f64_tile_impl::<true>(a, sa, b, sb, blocks, kb, acc)
        } else {
            f64_tile_impl::<false>(a, sa, b, sb, blocks, kb, acc)
        }
    }
}

/// `S·P` rounded to odd (53 bits), then to f32: see `gemm::kernels::term_f64`.
#[target_feature(enable = "avx512f,avx512dq")]
pub(super) fn term(s: __m512d, p: __m512d) -> __m256 {
    let hi = _mm512_mul_pd(s, p);
    let lo = _mm512_fmsub_pd(s, p, hi);
    let hb = _mm512_castpd_si512(hi);
    let inexact = _mm512_cmp_pd_mask::<_CMP_NEQ_OQ>(lo, _mm512_setzero_pd());
    let even = _mm512_testn_epi64_mask(hb, _mm512_set1_epi64(1));
    // +1 ulp (in magnitude) if lo has hi's sign, else -1.
    let x = _mm512_xor_si512(hb, _mm512_castpd_si512(lo));
    let delta = _mm512_or_si512(_mm512_srai_epi64::<63>(x), _mm512_set1_epi64(1));
    let odd = _mm512_mask_add_epi64(hb, inexact & even, hb, delta);
    _mm512_cvtpd_ps(_mm512_castsi512_pd(odd))
}

#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn f64_tile_impl<const POW2: bool>(
    a: &[f64],
    sa: &[f64],
    b: &[f64],
    sb: &[f64],
    blocks: usize,
    kb: usize,
    acc: &mut [f32; MR * NR],
) {
    // The kernels add to the accumulators they are given.
    // SAFETY: acc holds MR·NR floats; row r's NR start at r·NR.
    let mut c: [__m512; MR] =
        core::array::from_fn(|r| unsafe { _mm512_loadu_ps(acc.as_ptr().add(r * NR)) });
    for blk in 0..blocks {
        // SAFETY: (all reads in this loop) k < blocks·kb and every offset
        // is below the lengths `f64_tile` asserted.
        unsafe {
            let mut s = [[_mm512_setzero_pd(); 2]; MR];
            for k in blk * kb..(blk + 1) * kb {
                let bp = b.as_ptr().add(k * NR);
                let (b0, b1) = (_mm512_loadu_pd(bp), _mm512_loadu_pd(bp.add(8)));
                let ap = a.as_ptr().add(k * MR);
                for (r, sr) in s.iter_mut().enumerate() {
                    let av = _mm512_set1_pd(*ap.add(r));
                    sr[0] = _mm512_fmadd_pd(av, b0, sr[0]);
                    sr[1] = _mm512_fmadd_pd(av, b1, sr[1]);
                }
            }
            let sbp = sb.as_ptr().add(blk * NR);
            let (sb0, sb1) = (_mm512_loadu_pd(sbp), _mm512_loadu_pd(sbp.add(8)));
            for (r, cr) in c.iter_mut().enumerate() {
                let sar = _mm512_set1_pd(sa[blk * MR + r]);
                let (p0, p1) = (_mm512_mul_pd(sar, sb0), _mm512_mul_pd(sar, sb1));
                let (t0, t1) = if POW2 {
                    (
                        _mm512_cvtpd_ps(_mm512_mul_pd(s[r][0], p0)),
                        _mm512_cvtpd_ps(_mm512_mul_pd(s[r][1], p1)),
                    )
                } else {
                    (term(s[r][0], p0), term(s[r][1], p1))
                };
                let t = _mm512_insertf32x8::<1>(_mm512_castps256_ps512(t0), t1);
                *cr = _mm512_add_ps(*cr, t);
            }
        }
    }
    for (r, cr) in c.iter().enumerate() {
        // SAFETY: acc holds MR·NR floats; row r's NR start at r·NR.
        unsafe { _mm512_storeu_ps(acc.as_mut_ptr().add(r * NR), *cr) };
    }
}

/// The i64 kernel's whole tile when every scale product is a power of two
/// in f32's normal range: per K block the exact sums `S` (as
/// [`i64_block`] finds them), then `acc += f32(S) · f32(s_a·s_b)`, an f32
/// multiply and an f32 add, as the portable loop does.
///
/// Panics if a slice is shorter than the `blocks` × `kbp` geometry needs or
/// `group` is 0.
#[allow(clippy::too_many_arguments)]
pub(super) fn i64_tile(
    a: &[f64],
    sa: &[f64],
    b: &[f64],
    sb: &[f64],
    blocks: usize,
    kbp: usize,
    group: usize,
    acc: &mut [f32; MR * NR],
) {
    assert!(a.len() >= blocks * kbp * MR && b.len() >= blocks * kbp * NR);
    assert!(sa.len() >= blocks * MR && sb.len() >= blocks * NR && group > 0);
    // SAFETY: the CPU supports AVX-512F/DQ (an entry of `KERNELS`, handed
    // out only on such a CPU) and every read is within the lengths
    // asserted above.
    unsafe { i64_tile_impl(a, sa, b, sb, blocks, kbp, group, acc) }
}

#[target_feature(enable = "avx512f,avx512dq")]
#[allow(clippy::too_many_arguments)]
unsafe fn i64_tile_impl(
    a: &[f64],
    sa: &[f64],
    b: &[f64],
    sb: &[f64],
    blocks: usize,
    kbp: usize,
    group: usize,
    acc: &mut [f32; MR * NR],
) {
    let mut sums = [0i64; MR * NR];
    let wide = |lo: __m256, hi: __m256| _mm512_insertf32x8::<1>(_mm512_castps256_ps512(lo), hi);
    for blk in 0..blocks {
        // SAFETY: the caller's lengths cover rows (blk + 1)·kbp of both tiles.
        unsafe { i64_block_impl(a, b, blk * kbp, (blk + 1) * kbp, group, &mut sums) };
        // SAFETY: sb holds blocks·NR scales, sa blocks·MR (asserted by the
        // caller); sums and acc hold MR·NR, row r's NR at r·NR.
        unsafe {
            let sbp = sb.as_ptr().add(blk * NR);
            let (sb0, sb1) = (_mm512_loadu_pd(sbp), _mm512_loadu_pd(sbp.add(8)));
            for r in 0..MR {
                let s_a = _mm512_set1_pd(sa[blk * MR + r]);
                let p = wide(
                    _mm512_cvtpd_ps(_mm512_mul_pd(s_a, sb0)),
                    _mm512_cvtpd_ps(_mm512_mul_pd(s_a, sb1)),
                );
                let sp = sums.as_ptr().add(r * NR);
                let t = wide(
                    _mm512_cvtepi64_ps(_mm512_loadu_si512(sp.cast())),
                    _mm512_cvtepi64_ps(_mm512_loadu_si512(sp.add(8).cast())),
                );
                let ap = acc.as_mut_ptr().add(r * NR);
                _mm512_storeu_ps(ap, _mm512_add_ps(_mm512_loadu_ps(ap), _mm512_mul_ps(t, p)));
            }
        }
    }
}

/// Exact i64 block sums: `out[r][j] = Σ_{k0..k1} a[k][r]·b[k][j]`, with
/// packed tiles `a` `[k][MR]` and `b` `[k][NR]` of integers held in f64.
///
/// Runs of `group` k are summed with f64 FMAs, then converted to i64
/// (AVX-512DQ `vcvtpd2qq`) and added. The caller bounds `group · max|a·b|`
/// by `2^(53 + tz)`, where every product is a multiple of `2^tz`, so every
/// product and partial sum is an integer f64 holds exactly. This replaces i64 multiplies (`vpmullq`, three µops on Intel
/// cores) with the FMA pipes' throughput.
///
/// Panics if a slice is shorter than `k1` rows or `group` is 0.
pub(super) fn i64_block(
    a: &[f64],
    b: &[f64],
    k0: usize,
    k1: usize,
    group: usize,
    out: &mut [i64; MR * NR],
) {
    assert!(a.len() >= k1 * MR && b.len() >= k1 * NR && group > 0);
    // SAFETY: the CPU supports AVX-512F/DQ (an entry of `KERNELS`, handed
    // out only on such a CPU) and every read is below row k1 of the packed
    // tiles (asserted).
    unsafe { i64_block_impl(a, b, k0, k1, group, out) }
}

#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn i64_block_impl(
    a: &[f64],
    b: &[f64],
    k0: usize,
    k1: usize,
    group: usize,
    out: &mut [i64; MR * NR],
) {
    out.fill(0);
    let mut k = k0;
    while k < k1 {
        let end = k + group.min(k1 - k);
        let mut f = [[_mm512_setzero_pd(); 2]; MR];
        for kk in k..end {
            // SAFETY: kk < k1, so row kk of both tiles is in bounds.
            unsafe {
                let bp = b.as_ptr().add(kk * NR);
                let (b0, b1) = (_mm512_loadu_pd(bp), _mm512_loadu_pd(bp.add(8)));
                let ap = a.as_ptr().add(kk * MR);
                for (r, fr) in f.iter_mut().enumerate() {
                    let av = _mm512_set1_pd(*ap.add(r));
                    fr[0] = _mm512_fmadd_pd(av, b0, fr[0]);
                    fr[1] = _mm512_fmadd_pd(av, b1, fr[1]);
                }
            }
        }
        for (r, fr) in f.iter().enumerate() {
            for (h, &v) in fr.iter().enumerate() {
                // SAFETY: out holds MR·NR i64; row r's half h starts at r·NR + 8h.
                unsafe {
                    let p = out.as_mut_ptr().add(r * NR + 8 * h);
                    let sum = _mm512_add_epi64(_mm512_loadu_si512(p.cast()), _mm512_cvtpd_epi64(v));
                    _mm512_storeu_si512(p.cast(), sum);
                }
            }
        }
        k = end;
    }
}
