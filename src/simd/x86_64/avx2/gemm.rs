//! AVX2 GEMM micro-kernels on f64 (the f64 tile and the i64 block sums;
//! the i8 tile is in `i8.rs`, the i16 in `i16.rs`): the arithmetic of the
//! portable tile kernels in `gemm::kernels`, which are their
//! specification (the planner, `plan`, says why each is exact). Sixteen
//! ymm registers do not hold an MR×NR tile of sums, so each kernel works
//! through it in register blocks of rows and columns and adds each K
//! block's term to the accumulators (in memory, or in registers where a
//! register block runs through all of K) in the portable order.

use crate::simd::{GEMM_MR as MR, GEMM_NR as NR};
use core::arch::x86_64::*;

/// The register blocks `(first row, first column)` of the f64 kernels'
/// MR×NR tile: two of 6 rows × 8 columns (12 ymm of f64 sums, with 2 for
/// B's row and 1 for A's broadcast) and one of 2 rows × 16 columns (8
/// sums, 4 for B). Twelve independent FMA chains keep both FMA pipes busy
/// through the FMA latency where eight chains (4 × 8 blocks) left no slack.
/// `f64_blocks!(f[G..](args..))` calls `f::<R, H, G..>(r0, c0, args..)`
/// for each block, whose H is its number of 4-column vectors.
macro_rules! f64_blocks {
    ($f:ident [$($g:tt)*] ($($arg:expr),*)) => {{
        $f::<6, 2 $(, $g)*>(0, 0, $($arg),*);
        $f::<6, 2 $(, $g)*>(0, 8, $($arg),*);
        $f::<2, 4 $(, $g)*>(6, 0, $($arg),*);
    }};
}

/// The f64 tile kernel: exact f64 block sums by FMA, then per block
/// `acc += term_f64(S, P)` (`f32(S·P)` when `pow2`), as
/// `gemm::kernels::f64_tile_portable` does.
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
    // SAFETY: an entry of the AVX2 table, handed out only on a CPU with
    // AVX2 and FMA; the reads stay within the lengths asserted above.
    unsafe {
        if pow2 {
            f64_tile_impl::<true>(a, sa, b, sb, blocks, kb, acc)
        } else {
            f64_tile_impl::<false>(a, sa, b, sb, blocks, kb, acc)
        }
    }
}

/// `S·P` rounded to odd (53 bits), then to f32: `gemm::kernels::term_f64`
/// on 4 lanes.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn term(s: __m256d, p: __m256d) -> __m128 {
    let hi = _mm256_mul_pd(s, p);
    let lo = _mm256_fmsub_pd(s, p, hi);
    let hb = _mm256_castpd_si256(hi);
    let one = _mm256_set1_epi64x(1);
    let inexact = _mm256_castpd_si256(_mm256_cmp_pd::<_CMP_NEQ_OQ>(lo, _mm256_setzero_pd()));
    let even = _mm256_cmpeq_epi64(_mm256_and_si256(hb, one), _mm256_setzero_si256());
    // One ulp in magnitude toward lo: +1 if lo has hi's sign, else −1
    // (AVX2 has no 64-bit arithmetic shift; a compare gives the sign).
    let x = _mm256_xor_si256(hb, _mm256_castpd_si256(lo));
    let delta = _mm256_or_si256(_mm256_cmpgt_epi64(_mm256_setzero_si256(), x), one);
    let step = _mm256_and_si256(delta, _mm256_and_si256(inexact, even));
    _mm256_cvtpd_ps(_mm256_castsi256_pd(_mm256_add_epi64(hb, step)))
}

/// The f64 sums `Σ_{k0..k1} a[k][r0 + r]·b[k][c0 + j]` of one register
/// block (R rows, 4·H columns), by FMA.
///
/// # Safety
/// Rows `..k1` of the packed tiles `a` (`[k][MR]`) and `b` (`[k][NR]`)
/// must be in bounds; `r0 + R ≤ MR` and `c0 + 4·H ≤ NR`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_block<const R: usize, const H: usize>(
    a: &[f64],
    b: &[f64],
    r0: usize,
    c0: usize,
    k0: usize,
    k1: usize,
) -> [[__m256d; H]; R] {
    let mut s = [[_mm256_setzero_pd(); H]; R];
    for k in k0..k1 {
        // SAFETY: row k < k1 of both tiles is in bounds (the caller's).
        unsafe {
            let bp = b.as_ptr().add(k * NR + c0);
            let bv: [__m256d; H] = core::array::from_fn(|h| _mm256_loadu_pd(bp.add(4 * h)));
            let ap = a.as_ptr().add(k * MR + r0);
            for (r, sr) in s.iter_mut().enumerate() {
                let av = _mm256_broadcast_sd(&*ap.add(r));
                for (sh, &bh) in sr.iter_mut().zip(&bv) {
                    *sh = _mm256_fmadd_pd(av, bh, *sh);
                }
            }
        }
    }
    s
}

#[target_feature(enable = "avx2,fma")]
unsafe fn f64_tile_impl<const POW2: bool>(
    a: &[f64],
    sa: &[f64],
    b: &[f64],
    sb: &[f64],
    blocks: usize,
    kb: usize,
    acc: &mut [f32; MR * NR],
) {
    for blk in 0..blocks {
        // SAFETY: rows up to blocks·kb of both tiles are in bounds
        // (asserted by `f64_tile`), and the blocks lie within the tile.
        unsafe { f64_blocks!(f64_block_terms[POW2](a, sa, b, sb, blk, kb, acc)) }
    }
}

/// One register block of [`f64_tile_impl`] for K block `blk`: its sums,
/// then `acc += term` for each of its R rows × 4·H columns.
///
/// # Safety
/// As [`fma_block`], for rows `..(blk + 1)·kb`; H is even.
#[inline]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
unsafe fn f64_block_terms<const R: usize, const H: usize, const POW2: bool>(
    r0: usize,
    c0: usize,
    a: &[f64],
    sa: &[f64],
    b: &[f64],
    sb: &[f64],
    blk: usize,
    kb: usize,
    acc: &mut [f32; MR * NR],
) {
    // SAFETY: the caller's bounds.
    let s = unsafe { fma_block::<R, H>(a, b, r0, c0, blk * kb, (blk + 1) * kb) };
    let sbs = &sb[blk * NR + c0..][..4 * H];
    // SAFETY: sbs holds 4·H f64.
    let sbv: [__m256d; H] =
        core::array::from_fn(|h| unsafe { _mm256_loadu_pd(sbs.as_ptr().add(4 * h)) });
    for (r, sr) in s.iter().enumerate() {
        let sar = _mm256_set1_pd(sa[blk * MR + r0 + r]);
        add_row_terms::<H, POW2>(sr, sar, &sbv, &mut acc[(r0 + r) * NR + c0..][..4 * H]);
    }
}

/// `out[j] += term_f64(S_j, s_a·s_b[j])` (`f32(S·P)` when `POW2`) for
/// one row of a register block: 4·H exact f64 sums `s`, `s_a` broadcast
/// in `sar`, `s_b` in `sbv`. H is even; `out` holds 4·H values.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) fn add_row_terms<const H: usize, const POW2: bool>(
    s: &[__m256d; H],
    sar: __m256d,
    sbv: &[__m256d; H],
    out: &mut [f32],
) {
    let t: [__m128; H] = core::array::from_fn(|h| {
        let p = _mm256_mul_pd(sar, sbv[h]);
        if POW2 {
            _mm256_cvtpd_ps(_mm256_mul_pd(s[h], p))
        } else {
            term(s[h], p)
        }
    });
    for (o, t) in out[..4 * H].chunks_exact_mut(8).zip(t.chunks_exact(2)) {
        // SAFETY: o holds 8 f32.
        unsafe {
            let o = o.as_mut_ptr();
            let t = _mm256_set_m128(t[1], t[0]);
            _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), t));
        }
    }
}

/// Exact i64 block sums of integers held in f64: `out[r][j] = Σ_{k0..k1}
/// a[k][r]·b[k][j]`, as `gemm::kernels::i64_block_portable` finds them.
///
/// Runs of `group` products are summed with f64 FMAs, exactly: the
/// planner's `group` bounds `group · max|a·b|` by `2^(53 + tz)`, where
/// every product is a multiple of `2^tz`. Each run sum is then converted
/// to i64 ([`to_i64`]) and added.
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
    out.fill(0);
    // SAFETY: an entry of the AVX2 table, handed out only on a CPU with
    // AVX2 and FMA; every read is below row k1 of the packed tiles, and the
    // register blocks lie within the tile.
    unsafe { f64_blocks!(i64_runs[](a, b, k0, k1, group, out)) }
}

/// An integer-valued f64 with |v| < 2^63 as i64 (AVX2 has no f64 → i64
/// conversion). Adding 1.5·2^78, whose ulp is 2^26, and subtracting it
/// again rounds v to a multiple `h` of 2^26, exactly; `l = v − h` is then
/// exact with |l| ≤ 2^25. Both `h / 2^26` and `l` are below 2^51 in
/// magnitude, where adding 1.5·2^52 leaves the integer in the low bits of
/// the f64: its bits less the constant's.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn to_i64(v: __m256d) -> __m256i {
    let split = _mm256_set1_pd(1.5 * (1u128 << 78) as f64);
    let magic = _mm256_set1_pd(1.5 * (1u64 << 52) as f64);
    let int = |x: __m256d| {
        _mm256_sub_epi64(
            _mm256_castpd_si256(_mm256_add_pd(x, magic)),
            _mm256_castpd_si256(magic),
        )
    };
    let h = _mm256_sub_pd(_mm256_add_pd(v, split), split);
    let l = _mm256_sub_pd(v, h);
    let q = _mm256_mul_pd(h, _mm256_set1_pd(1.0 / (1u64 << 26) as f64));
    _mm256_add_epi64(_mm256_slli_epi64::<26>(int(q)), int(l))
}

/// One register block of [`i64_block`]: its sums over runs of `run` rows
/// of K, each converted to i64 and added to `out`.
///
/// # Safety
/// As [`fma_block`], for rows `..k1`.
#[inline]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
unsafe fn i64_runs<const R: usize, const H: usize>(
    r0: usize,
    c0: usize,
    a: &[f64],
    b: &[f64],
    k0: usize,
    k1: usize,
    run: usize,
    out: &mut [i64; MR * NR],
) {
    let mut k = k0;
    while k < k1 {
        let end = k + run.min(k1 - k);
        // SAFETY: end ≤ k1 (the caller's bounds).
        let f = unsafe { fma_block::<R, H>(a, b, r0, c0, k, end) };
        for (r, fr) in f.iter().enumerate() {
            for (h, &v) in fr.iter().enumerate() {
                let o = &mut out[(r0 + r) * NR + c0 + 4 * h..][..4];
                // SAFETY: o holds 4 i64.
                unsafe {
                    let p = o.as_mut_ptr().cast();
                    let sum = _mm256_add_epi64(_mm256_loadu_si256(p), to_i64(v));
                    _mm256_storeu_si256(p, sum);
                }
            }
        }
        k = end;
    }
}
