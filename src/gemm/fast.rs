//! The fast GEMM: a planner picks, from the data, the fastest kernel whose
//! arithmetic is exact (see `pack`), operands are packed once into
//! micro-tile layouts, and 64-row tasks of C run on rayon.
//!
//! | kernel  | formats                               | inner sums        | SIMD (runtime)        |
//! |---------|---------------------------------------|-------------------|-----------------------|
//! | i8      | E2M1, E2M3, INT8 (NVFP4, MXFP4, MXFP6-E2M3, MXINT8) | exact i32 | AVX-512 VNNI `vpdpbusd` |
//! | f64     | E4M3, E3M2 (MXFP8, FP8, MXFP6-E3M2)   | exact f64         | AVX-512F FMA          |
//! | i64     | E4M3 x E5M2 (FP8 HYBRID)              | exact i64         | AVX-512DQ `vpmullq`   |
//! | generic | E5M2 pairs, non-finite data           | exact i64/i128    | none                  |
//!
//! Each path is bit-identical to [`super::gemm_reference`]: the inner sums
//! are the same exact integers and every rounding after them is the same
//! single rounding, in the same order, whatever the thread count and
//! whichever kernel runs. Without the SIMD level (or with
//! `BLOCKSCALE_SIMD=portable`) the packed kernels run portable Rust.

use super::pack::{self, KGeom, Plan};
use super::{
    Dims, block_term, check, element_int, finish, folded_alpha, nonfinite_term, unit_exponent,
};
use crate::format::{BlockFormat, ScaleCodec};
use crate::simd::{self, GEMM_MR as MR, GEMM_NR as NR, Kernels};
use crate::tensor::QuantizedTensor;
use crate::{Element, Error};
use rayon::prelude::*;

/// One operand unpacked: element integers (row-major, rows × K), each
/// (row, K-block)'s scale value, and whether that block holds a non-finite
/// element.
struct Panel<I> {
    ints: Vec<I>,
    scales: Vec<f32>,
    nonfinite: Vec<bool>,
}

fn unpack<F: BlockFormat, I: Copy + Default + TryFrom<i64>>(
    t: &QuantizedTensor<F>,
    d: &Dims,
    rows: usize,
) -> Panel<I> {
    let e0 = unit_exponent::<F::Elem>();
    let blocks = d.k.div_ceil(d.kb);
    let mut p = Panel {
        ints: vec![I::default(); rows * d.k],
        scales: vec![0.0; rows * blocks],
        nonfinite: vec![false; rows * blocks],
    };
    // Callers pick I wide enough for the format (see `generic`).
    let table: Vec<Option<I>> = (0..1u32 << F::Elem::BITS)
        .map(|c| {
            element_int(F::Elem::from_bits(c as u8), e0).map(|i| I::try_from(i).unwrap_or_default())
        })
        .collect();
    for r in 0..rows {
        for k in 0..d.k {
            let q = t.element(r, k).expect("in range");
            match table[q.to_bits() as usize] {
                Some(i) => p.ints[r * d.k + k] = i,
                None => p.nonfinite[r * blocks + k / d.kb] = true,
            }
        }
        for kb in 0..blocks {
            p.scales[r * blocks + kb] = t.scale_at(r, kb * d.kb).expect("in range").value();
        }
    }
    p
}

/// Σ f64(q_a)·f64(q_b) over one block, in increasing k, for blocks holding
/// a non-finite element (the rare path; same arithmetic as the reference).
fn float_sum<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    m: usize,
    n: usize,
    k0: usize,
    k1: usize,
) -> f64 {
    (k0..k1)
        .map(|k| {
            a.element(m, k).expect("in range").to_f32() as f64
                * b.element(n, k).expect("in range").to_f32() as f64
        })
        .sum::<f64>()
}

/// Largest |integer| an element of `T` maps to.
fn max_int<T: Element>() -> u128 {
    let e0 = unit_exponent::<T>();
    (0..1u32 << T::BITS)
        .filter_map(|c| element_int(T::from_bits(c as u8), e0))
        .map(|i| i.unsigned_abs() as u128)
        .max()
        .unwrap_or(0)
}

/// [`gemm_with_threads`] on rayon's global pool (all cores).
pub fn gemm<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
) -> Result<(), Error> {
    run(a, b, alpha, beta, c, simd::kernels(simd::active()))
}

/// The fast path on a pool of `threads` threads (0 = rayon's default): the
/// same result as [`super::gemm_reference`], bit for bit, for every thread
/// count.
///
/// ```
/// use blockscale::format::MxFp8E4M3;
/// use blockscale::gemm::{gemm_reference, gemm_with_threads};
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x: Vec<f32> = (0..4 * 64).map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.37).collect();
/// let q = QuantizedTensor::quantize(MxFp8E4M3::default(), &x, 4, 64, &QuantizeOptions::default())?;
/// let (mut c1, mut c2) = (vec![0f32; 16], vec![0f32; 16]);
/// gemm_reference(&q, &q, 1.0, 0.0, &mut c1)?;
/// gemm_with_threads(&q, &q, 1.0, 0.0, &mut c2, 2)?;
/// assert_eq!(c1, c2);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gemm_with_threads<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
    threads: usize,
) -> Result<(), Error> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::InvalidArgument(format!("thread pool: {e}")))?;
    // The kernels are picked here, on the caller's thread, so that a
    // `simd::with_level` cap reaches the pool's threads.
    let kernels = simd::kernels(simd::active());
    pool.install(|| run(a, b, alpha, beta, c, kernels))
}

fn run<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
    kernels: &Kernels,
) -> Result<(), Error> {
    let d = check(a, b, c.len())?;
    if d.m == 0 || d.n == 0 {
        return Ok(());
    }
    match pack::plan(a, b, &d) {
        Plan::I8 => packed_i8(a, b, &d, alpha, beta, c, kernels),
        Plan::F64 { pow2 } => packed_f64(a, b, &d, alpha, beta, c, kernels, pow2),
        Plan::I64 { pow2 } => packed_i64(a, b, &d, alpha, beta, c, kernels, pow2),
        Plan::Generic => generic(a, b, &d, alpha, beta, c),
    }
}

/// Rows of C per parallel task: the task packs its rows of A once and
/// reuses them against every packed column tile of B.
const MC: usize = 64;

/// Writes a finished MR×NR tile of accumulators into C's rows
/// `row0..` of `chunk` (which starts at C's row `r0`), clipped to M and N.
fn store_tile(
    acc: &[f32; MR * NR],
    chunk: &mut [f32],
    n_total: usize,
    row0: usize,
    col0: usize,
    alpha: f32,
    beta: f32,
) {
    let rows = chunk.len() / n_total;
    for r in 0..MR.min(rows.saturating_sub(row0)) {
        let out = &mut chunk[(row0 + r) * n_total..][..n_total];
        for j in 0..NR.min(n_total - col0) {
            finish(acc[r * NR + j], alpha, beta, &mut out[col0 + j]);
        }
    }
}

fn packed_i8<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    d: &Dims,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
    kernels: &Kernels,
) -> Result<(), Error> {
    let alpha = folded_alpha(a, b, alpha);
    let g = KGeom::i8(d);
    let pb = pack::pack_b8(b, d, g);
    let a_scales = pack::operand_scales(a, d, d.m);
    let (a_len, b_len) = (g.blocks * g.kbp / 4 * MR, g.blocks * g.kbp / 4 * NR);
    let (sa_len, sb_len) = (g.blocks * MR, g.blocks * NR);
    let ntiles = d.n.div_ceil(NR);
    pack::check_tile_lens(&[
        (pb.data.len(), ntiles * b_len),
        (pb.scales.len(), ntiles * sb_len),
        (pb.negcorr.len(), ntiles * sb_len),
    ])?;
    drive(
        c,
        d,
        (alpha, beta),
        |r0, rows| pack::pack_a8(a, d, g, r0, rows, &a_scales),
        |pa, mt, nt, acc| {
            let (at, sat) = (
                &pa.data[mt * a_len..][..a_len],
                &pa.scales[mt * sa_len..][..sa_len],
            );
            let bt = &pb.data[nt * b_len..][..b_len];
            let (sbt, nct) = (
                &pb.scales[nt * sb_len..][..sb_len],
                &pb.negcorr[nt * sb_len..][..sb_len],
            );
            i8_tile(kernels, at, sat, bt, sbt, nct, g, acc);
        },
    );
    Ok(())
}

/// The loop nest every packed kernel shares: 64-row tasks of C run in
/// parallel; each packs its rows of A once (`pack_a(first row, rows)`), then
/// runs `tile(packed A, row tile, column tile, accumulators)` for every
/// column tile of B and row tile of A, and stores the finished tile.
fn drive<PA>(
    c: &mut [f32],
    d: &Dims,
    (alpha, beta): (f32, f32),
    pack_a: impl Fn(usize, usize) -> PA + Sync,
    tile: impl Fn(&PA, usize, usize, &mut [f32; MR * NR]) + Sync,
) {
    let ntiles = d.n.div_ceil(NR);
    c.par_chunks_mut(MC * d.n)
        .enumerate()
        .for_each(|(ci, chunk)| {
            let rows = chunk.len() / d.n;
            let pa = pack_a(ci * MC, rows);
            let mut acc = [0f32; MR * NR];
            for nt in 0..ntiles {
                for mt in 0..rows.div_ceil(MR) {
                    acc.fill(0.0);
                    tile(&pa, mt, nt, &mut acc);
                    store_tile(&acc, chunk, d.n, mt * MR, nt * NR, alpha, beta);
                }
            }
        });
}

#[allow(clippy::too_many_arguments)]
fn i8_tile(
    kernels: &Kernels,
    a: &[u32],
    sa: &[f32],
    b: &[u32],
    sb: &[f32],
    nc: &[i32],
    g: KGeom,
    acc: &mut [f32; MR * NR],
) {
    match kernels.i8_tile {
        Some(tile) => tile(a, sa, b, sb, nc, g.blocks, g.kbp / 4, acc),
        None => pack::i8_tile_portable(a, sa, b, sb, nc, g, acc),
    }
}

#[allow(clippy::too_many_arguments)]
fn packed_f64<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    d: &Dims,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
    kernels: &Kernels,
    pow2: bool,
) -> Result<(), Error> {
    let g = KGeom::f64(d);
    drive_wide::<FA, FB, f64>(a, b, d, (alpha, beta), c, |at, sat, bt, sbt, acc| {
        f64_tile(kernels, at, sat, bt, sbt, g, pow2, acc)
    })
}

/// The setup the f64 and i64 kernels share: both operands packed as `V`
/// (A per task), scales times 2^e0 as f64, and `tile(a, s_a, b, s_b, acc)`
/// called on each pair of packed tiles through [`drive`].
fn drive_wide<FA: BlockFormat, FB: BlockFormat, V: pack::Wide>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    d: &Dims,
    (alpha, beta): (f32, f32),
    c: &mut [f32],
    tile: impl Fn(&[V], &[f64], &[V], &[f64], &mut [f32; MR * NR]) + Sync,
) -> Result<(), Error> {
    let alpha = folded_alpha(a, b, alpha);
    let g = KGeom::f64(d);
    let b_scales = pack::operand_scales(b, d, d.n);
    let pb = pack::pack_wide::<FB, V>(b, d, g, d.n, 0, d.n, NR, &b_scales);
    let a_scales = pack::operand_scales(a, d, d.m);
    let kp = g.blocks * g.kbp;
    let (a_len, b_len) = (kp * MR, kp * NR);
    let (sa_len, sb_len) = (g.blocks * MR, g.blocks * NR);
    let ntiles = d.n.div_ceil(NR);
    pack::check_tile_lens(&[
        (pb.data.len(), ntiles * b_len),
        (pb.scales.len(), ntiles * sb_len),
    ])?;
    drive(
        c,
        d,
        (alpha, beta),
        |r0, rows| pack::pack_wide::<FA, V>(a, d, g, d.m, r0, rows, MR, &a_scales),
        |pa, mt, nt, acc| {
            let (at, sat) = (
                &pa.data[mt * a_len..][..a_len],
                &pa.scales[mt * sa_len..][..sa_len],
            );
            let (bt, sbt) = (
                &pb.data[nt * b_len..][..b_len],
                &pb.scales[nt * sb_len..][..sb_len],
            );
            tile(at, sat, bt, sbt, acc);
        },
    );
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn f64_tile(
    kernels: &Kernels,
    a: &[f64],
    sa: &[f64],
    b: &[f64],
    sb: &[f64],
    g: KGeom,
    pow2: bool,
    acc: &mut [f32; MR * NR],
) {
    match kernels.f64_tile {
        Some(tile) => tile(a, sa, b, sb, g.blocks, g.kbp, pow2, acc),
        None => pack::f64_tile_portable(a, sa, b, sb, g, pow2, acc),
    }
}

#[allow(clippy::too_many_arguments)]
fn packed_i64<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    d: &Dims,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
    kernels: &Kernels,
    pow2: bool,
) -> Result<(), Error> {
    let g = KGeom::f64(d);
    let (e0a, e0b) = (unit_exponent::<FA::Elem>(), unit_exponent::<FB::Elem>());
    // The packed scales carry 2^e0; the exact scalar term wants them raw.
    let (ua, ub) = (
        crate::element::pow2_f64(-e0a),
        crate::element::pow2_f64(-e0b),
    );
    drive_wide::<FA, FB, i64>(a, b, d, (alpha, beta), c, |at, sat, bt, sbt, acc| {
        let mut sums = [0i64; MR * NR];
        for blk in 0..g.blocks {
            let (k0, k1) = (blk * g.kbp, (blk + 1) * g.kbp);
            i64_block(kernels, at, bt, k0, k1, &mut sums);
            for (i, (&s, out)) in sums.iter().zip(acc.iter_mut()).enumerate() {
                let (sa, sb) = (sat[blk * MR + i / NR], sbt[blk * NR + i % NR]);
                *out += if pow2 {
                    // f32(S) rounds once; the power-of-two P is exact.
                    s as f32 * (sa * sb) as f32
                } else {
                    block_term(s as i128, e0a + e0b, (sa * ua) as f32, (sb * ub) as f32)
                };
            }
        }
    })
}

fn i64_block(
    kernels: &Kernels,
    a: &[i64],
    b: &[i64],
    k0: usize,
    k1: usize,
    out: &mut [i64; MR * NR],
) {
    match kernels.i64_block {
        Some(block) => block(a, b, k0, k1, out),
        None => pack::i64_block_portable(a, b, k0, k1, out),
    }
}

/// The generic kernel: any operands, including non-finite elements and
/// E5M2 products too wide for 53 bits.
fn generic<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    d: &Dims,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
) -> Result<(), Error> {
    // i32 panels with i64 block sums when they cannot overflow (all pairs
    // but those with E5M2, whose integers need 33 bits); else i64 and i128.
    // E4M3 x E5M2 block sums fit i64 (2^54.6 for 32 terms); only E5M2
    // pairs need i128.
    let (ma, mb) = (max_int::<FA::Elem>(), max_int::<FB::Elem>());
    let sums_fit_i64 = ma * mb * d.kb as u128 <= i64::MAX as u128;
    if ma < 1 << 31 && mb < 1 << 31 && sums_fit_i64 {
        kernel::<FA, FB, i32, i64>(a, b, d, alpha, beta, c);
    } else if sums_fit_i64 {
        kernel::<FA, FB, i64, i64>(a, b, d, alpha, beta, c);
    } else {
        kernel::<FA, FB, i64, i128>(a, b, d, alpha, beta, c);
    }
    Ok(())
}

fn kernel<FA, FB, I, S>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    d: &Dims,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
) where
    FA: BlockFormat,
    FB: BlockFormat,
    I: Copy + Default + Send + Sync + TryFrom<i64> + Into<S>,
    S: Copy + Default + core::ops::Add<Output = S> + core::ops::Mul<Output = S> + Into<i128>,
{
    let pa: Panel<I> = unpack(a, d, d.m);
    let pb: Panel<I> = unpack(b, d, d.n);
    let alpha = folded_alpha(a, b, alpha);
    let e0 = unit_exponent::<FA::Elem>() + unit_exponent::<FB::Elem>();
    let blocks = d.k.div_ceil(d.kb);
    c.par_chunks_mut(d.n).enumerate().for_each(|(m, row)| {
        let ra = &pa.ints[m * d.k..(m + 1) * d.k];
        for (n, out) in row.iter_mut().enumerate() {
            let rb = &pb.ints[n * d.k..(n + 1) * d.k];
            let mut acc = 0f32;
            for kb in 0..blocks {
                let (k0, k1) = (kb * d.kb, ((kb + 1) * d.kb).min(d.k));
                let (sa, sb) = (pa.scales[m * blocks + kb], pb.scales[n * blocks + kb]);
                acc += if pa.nonfinite[m * blocks + kb] || pb.nonfinite[n * blocks + kb] {
                    nonfinite_term(float_sum(a, b, m, n, k0, k1), sa, sb)
                } else {
                    let s = ra[k0..k1]
                        .iter()
                        .zip(&rb[k0..k1])
                        .fold(S::default(), |s, (&x, &y)| s + x.into() * y.into());
                    block_term(s.into(), e0, sa, sb)
                };
            }
            finish(acc, alpha, beta, out);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Fp8Tensorwise, MxFp4, MxFp6E3M2, MxFp8E4M3, MxFp8E5M2, MxInt8, Nvfp4};
    use crate::tensor::QuantizeOptions;
    use crate::{E4M3, E5M2};

    fn q<F: BlockFormat>(f: F, x: &[f32]) -> QuantizedTensor<F> {
        QuantizedTensor::quantize(f, x, 2, 64, &QuantizeOptions::default()).unwrap()
    }

    fn plan_of<F: BlockFormat>(f: F, x: &[f32]) -> Plan {
        let t = q(f, x);
        let d = check(&t, &t, 4).unwrap();
        pack::plan(&t, &t, &d)
    }

    /// Each format pair reaches the kernel the module docs promise, so the
    /// bit-identity tests in tests/gemm.rs cover every kernel.
    #[test]
    fn the_planner_picks_the_exact_kernel() {
        let x: Vec<f32> = (0..128)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.31)
            .collect();
        assert_eq!(plan_of(Nvfp4::default(), &x), Plan::I8);
        assert_eq!(plan_of(MxFp4::default(), &x), Plan::I8);
        assert_eq!(plan_of(MxInt8::default(), &x), Plan::I8);
        assert_eq!(plan_of(MxFp6E3M2::default(), &x), Plan::F64 { pow2: true });
        assert_eq!(plan_of(MxFp8E4M3::default(), &x), Plan::F64 { pow2: true });
        assert_eq!(
            plan_of(Fp8Tensorwise::<E4M3>::current(), &x),
            Plan::F64 { pow2: false }
        );
        // E4M3 x E5M2: 32 products need 55 bits.
        let (a, b) = (q(MxFp8E4M3::default(), &x), q(MxFp8E5M2::default(), &x));
        let d = check(&a, &b, 4).unwrap();
        assert_eq!(pack::plan(&a, &b, &d), Plan::I64 { pow2: true });
        // E5M2 spans 2^-16..2^15.8: 32 products need 69 bits.
        assert_eq!(plan_of(MxFp8E5M2::default(), &x), Plan::Generic);
        assert_eq!(plan_of(Fp8Tensorwise::<E5M2>::current(), &x), Plan::Generic);
        // A NaN anywhere takes the generic kernel.
        let mut y = x.clone();
        y[5] = f32::NAN;
        assert_eq!(plan_of(MxFp4::default(), &y), Plan::Generic);
    }

    /// The f64 kernel's term is one correct rounding (checked against the
    /// exact integer rounding of the reference) where the f64 product
    /// itself rounds, including results in f32's subnormal range.
    #[test]
    fn term_f64_rounds_once() {
        use super::super::round_scaled;
        // S · P with a 48-bit P: the product has up to 90 bits.
        let p_int: i64 = (1 << 47) + 0x1234_5678_9ABC;
        for (s, e) in [
            (3i64, -40),
            ((1 << 40) + 12345, -80),
            (-((1 << 35) + 7), -300),
        ] {
            let p = p_int as f64 * crate::element::pow2_f64(e);
            let want = round_scaled(s as i128 * p_int as i128, e);
            assert_eq!(
                pack::term_f64(s as f64, p).to_bits(),
                want.to_bits(),
                "{s} {e}"
            );
        }
        // The exact product lies just above (below) an f32 midpoint and its
        // f64 rounding lands on the midpoint itself: ties-to-even from the
        // f64 value would go the wrong way, round-to-odd does not.
        // (1 + 2^-24 - 2^-47)(1 + 2^-47) = 1 + 2^-24 + 2^-71 - 2^-94: up.
        // (1 + 3·2^-24 + 2^-47)(1 - 2^-47) = 1 + 3·2^-24 - tiny: down.
        for (s, p_int, up) in [
            ((1i64 << 52) + (1 << 28) - 32, (1i64 << 47) + 1, true),
            ((1i64 << 52) + (3 << 28) + 32, (1i64 << 47) - 1, false),
        ] {
            let p = p_int as f64 * crate::element::pow2_f64(-47);
            let want = round_scaled(s as i128 * p_int as i128, -47);
            let naive = (s as f64 * p) as f32;
            assert_ne!(naive, want, "the case must defeat double rounding");
            assert_eq!(pack::term_f64(s as f64, p), want);
            assert_eq!(want > naive, up);
        }
    }

    /// The dispatched f64 tile kernel (SIMD where the CPU has it) equals the
    /// portable one on the double-rounding cases above, in every lane.
    #[test]
    fn f64_tile_kernels_agree() {
        let g = KGeom { blocks: 2, kbp: 1 };
        let cases = [
            ((1i64 << 52) + (1 << 28) - 32, (1i64 << 47) + 1),
            ((1i64 << 52) + (3 << 28) + 32, (1i64 << 47) - 1),
            (-((1i64 << 40) + 12345), (1i64 << 47) + 0x1234_5678_9ABC),
            (3, 1),
        ];
        let mut a = vec![0f64; 2 * MR];
        let mut sa = vec![0f64; 2 * MR];
        for r in 0..MR {
            let (s, p) = cases[r % cases.len()];
            a[r] = s as f64;
            a[MR + r] = -(s as f64);
            sa[r] = p as f64 * crate::element::pow2_f64(-47 - r as i32 * 40); // down to subnormal f32
            sa[MR + r] = sa[r] * 0.5;
        }
        let b: Vec<f64> = (0..2 * NR).map(|j| 1.0 + (j % 3) as f64).collect();
        let sb: Vec<f64> = (0..2 * NR)
            .map(|j| crate::element::pow2_f64(j as i32 % 5))
            .collect();
        let (mut want, mut got) = ([0f32; MR * NR], [0f32; MR * NR]);
        pack::f64_tile_portable(&a, &sa, &b, &sb, g, false, &mut want);
        f64_tile(
            simd::kernels(simd::detected()),
            &a,
            &sa,
            &b,
            &sb,
            g,
            false,
            &mut got,
        );
        assert_eq!(want.map(f32::to_bits), got.map(f32::to_bits));
        assert!(want.iter().any(|v| v.is_subnormal()));
    }
}
