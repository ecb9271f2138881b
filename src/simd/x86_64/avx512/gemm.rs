//! AVX-512 GEMM micro-kernels: the same arithmetic as the portable tile
//! kernels in `gemm::kernels`, exact up to the one rounding per block term.
//! Each computes an MR×NR tile of f32 accumulators over all K blocks.
//!
//! These are table entries (see `super`): reached only on a CPU with the
//! features they enable, so each checks only the slice lengths its raw
//! reads rely on.

use crate::simd::{GEMM_MR as MR, GEMM_NR as NR};
use core::arch::x86_64::*;

/// The i8 tile kernel (AVX-512 VNNI) on quads (4 bytes of 4 consecutive
/// K elements, as u32): for each K block, 16 exact i32 sums per row from
/// `vpdpbusd` (u8 `a + 128` times i8 `b`, started at
/// `-128·Σb`), then `acc = fma(f32(S), s_a·s_b, acc)`; `S·P` is exact in f32
/// (checked by the planner), so the fma rounds once, like the reference's
/// `acc + t`.
///
/// Panics if a slice is shorter than the `blocks` × `quads` geometry needs
/// (the callers size them exactly).
#[allow(clippy::too_many_arguments)]
pub(super) fn i8_tile(
    a: &[u32],
    sa: &[f32],
    b: &[u32],
    sb: &[f32],
    nc: &[i32],
    blocks: usize,
    quads: usize,
    acc: &mut [f32; MR * NR],
) {
    assert!(a.len() >= blocks * quads * MR && b.len() >= blocks * quads * NR);
    assert!(sa.len() >= blocks * MR && sb.len() >= blocks * NR && nc.len() >= blocks * NR);
    // SAFETY: the CPU supports the enabled features (this is an entry of
    // `KERNELS_VNNI`, handed out only on such a CPU), and every read below
    // is within the lengths asserted above. The quad
    // counts of NVFP4 (16 = 4 quads) and MX (32 = 8) get unrolled copies.
    unsafe {
        match quads {
            4 => i8_tile_impl::<4>(a, sa, b, sb, nc, blocks, quads, acc),
            8 => i8_tile_impl::<8>(a, sa, b, sb, nc, blocks, quads, acc),
            _ => i8_tile_impl::<0>(a, sa, b, sb, nc, blocks, quads, acc),
        }
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[allow(clippy::too_many_arguments)]
unsafe fn i8_tile_impl<const Q: usize>(
    a: &[u32],
    sa: &[f32],
    b: &[u32],
    sb: &[f32],
    nc: &[i32],
    blocks: usize,
    quads: usize,
    acc: &mut [f32; MR * NR],
) {
    let quads = if Q == 0 { quads } else { Q };
    let mut c = [_mm512_setzero_ps(); MR];
    for blk in 0..blocks {
        // SAFETY: (all reads in this loop) blk < blocks and q < quads, so
        // every offset is below the lengths `i8_tile` asserted.
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
            let sbv = _mm512_loadu_ps(sb.as_ptr().add(blk * NR));
            for (r, cr) in c.iter_mut().enumerate() {
                let p = _mm512_mul_ps(_mm512_set1_ps(*sa.get_unchecked(blk * MR + r)), sbv);
                *cr = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[r]), p, *cr);
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
fn term(s: __m512d, p: __m512d) -> __m256 {
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
    let mut c = [_mm512_setzero_ps(); MR];
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
                let sar = _mm512_set1_pd(*sa.get_unchecked(blk * MR + r));
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

/// Exact i64 block sums (AVX-512DQ `vpmullq`): `out[r][j] = Σ_{k0..k1}
/// a[k][r]·b[k][j]`, with packed tiles `a` `[k][MR]` and `b` `[k][NR]`.
///
/// Panics if a slice is shorter than `k1` rows.
pub(super) fn i64_block(a: &[i64], b: &[i64], k0: usize, k1: usize, out: &mut [i64; MR * NR]) {
    assert!(a.len() >= k1 * MR && b.len() >= k1 * NR);
    // SAFETY: the CPU supports AVX-512F/DQ (an entry of `KERNELS`, handed
    // out only on such a CPU) and every read is below row k1 of the packed
    // tiles (asserted).
    unsafe { i64_block_impl(a, b, k0, k1, out) }
}

#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn i64_block_impl(a: &[i64], b: &[i64], k0: usize, k1: usize, out: &mut [i64; MR * NR]) {
    let mut s = [[_mm512_setzero_si512(); 2]; MR];
    for k in k0..k1 {
        // SAFETY: k < k1, so row k of both tiles is in bounds.
        unsafe {
            let bp = b.as_ptr().add(k * NR);
            let (b0, b1) = (
                _mm512_loadu_si512(bp.cast()),
                _mm512_loadu_si512(bp.add(8).cast()),
            );
            let ap = a.as_ptr().add(k * MR);
            for (r, sr) in s.iter_mut().enumerate() {
                let av = _mm512_set1_epi64(*ap.add(r));
                sr[0] = _mm512_add_epi64(sr[0], _mm512_mullo_epi64(av, b0));
                sr[1] = _mm512_add_epi64(sr[1], _mm512_mullo_epi64(av, b1));
            }
        }
    }
    for (r, sr) in s.iter().enumerate() {
        // SAFETY: out holds MR·NR i64; row r's NR start at r·NR.
        unsafe {
            _mm512_storeu_si512(out.as_mut_ptr().add(r * NR).cast(), sr[0]);
            _mm512_storeu_si512(out.as_mut_ptr().add(r * NR + 8).cast(), sr[1]);
        }
    }
}
