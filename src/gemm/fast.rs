//! The fast GEMM's driver: a planner picks, from the data, the fastest
//! kernel whose arithmetic is exact (see `plan`), operands are packed once
//! into micro-tile layouts (`pack`), and 64-row tasks of C run on rayon,
//! calling the tile kernels (`kernels`) of the caller's kernel table.
//!
//! | kernel  | formats                               | inner sums        | SIMD (runtime)        |
//! |---------|---------------------------------------|-------------------|-----------------------|
//! | i8      | E2M1, E2M3, INT8 (NVFP4, MXFP4, MXFP6-E2M3, MXINT8) | exact i32 | AVX2 `vpmaddubsw`/`vpmaddwd`, AVX-512 VNNI `vpdpbusd` |
//! | i16     | E4M3, E3M2 (MXFP8, FP8, MXFP6-E3M2); E4M3 x E5M2 and E5M2 pairs whose block sums fit f64; in K chunks of at most 32, split into i16 planes | exact i32 per pair of planes, then f64 | AVX2 `vpmaddwd` (on AVX-512 too) |
//! | f64     | the i16 kernel's operands where no plane split covers them (none of today's formats) | exact f64 | AVX2/AVX-512F FMA |
//! | i64     | E4M3 x E5M2 (FP8 HYBRID) otherwise    | exact i64         | AVX2/AVX-512 f64 FMA runs |
//! | generic | E5M2 pairs otherwise, non-finite data | exact i64/i128    | none                  |
//!
//! Each path is bit-identical to [`super::gemm_reference`]: the inner sums
//! are the same exact integers and every rounding after them is the same
//! single rounding, in the same order, whatever the thread count and
//! whichever kernel runs. Without the SIMD level (or with
//! `BLOCKSCALE_SIMD=portable`) the packed kernels run portable Rust.

use super::kernels::{
    add_terms_i64, f64_tile, i8_tile, i16_tile, i16_wide_tile, i64_block, i64_tile_pow2,
};
use super::pack::{self, KGeom};
use super::plan::{self, Plan};
use super::{
    Dims, block_term, check, element_int, finish, folded_alpha, nonfinite_term, unit_exponent,
};
use crate::format::{BlockFormat, ScaleCodec};
use crate::simd::{self, GEMM_MR as MR, GEMM_NR as NR, Kernels, QuadTile, Terms};
use crate::tensor::QuantizedTensor;
use crate::{Element, Error};
use core::ops::Range;
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

/// The fast path on a new pool of `threads` threads (0 = rayon's default),
/// built for this call ([`gemm_in`] takes one built once): the same result
/// as [`super::gemm_reference`], bit for bit, for every thread count.
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
    gemm_in(&pool, a, b, alpha, beta, c)
}

/// The fast path on the caller's rayon `pool`, which it can build once and
/// reuse (unlike [`gemm_with_threads`], which builds a pool per call): the
/// same result as [`super::gemm_reference`], bit for bit, for every pool.
/// The SIMD level is the calling thread's ([`simd::active`]), also on the
/// pool's threads.
///
/// ```
/// use blockscale::format::Nvfp4;
/// use blockscale::gemm::{gemm_in, gemm_reference};
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
/// let x: Vec<f32> = (0..3 * 32).map(|i| (i as f32 * 0.41).sin()).collect();
/// let q = QuantizedTensor::quantize(Nvfp4::default(), &x, 3, 32, &QuantizeOptions::default())?;
/// let (mut c1, mut c2) = (vec![0f32; 9], vec![0f32; 9]);
/// gemm_reference(&q, &q, 1.0, 0.0, &mut c1)?;
/// for _ in 0..2 {
///     gemm_in(&pool, &q, &q, 1.0, 0.0, &mut c2)?; // the pool is reused
///     assert_eq!(c1, c2);
/// }
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gemm_in<FA: BlockFormat, FB: BlockFormat>(
    pool: &rayon::ThreadPool,
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
) -> Result<(), Error> {
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
    match plan::plan(a, b, &d) {
        Plan::I8 { i16_runs } => packed_i8(a, b, &d, alpha, beta, c, kernels, i16_runs),
        Plan::I16 { terms, planes } => {
            packed_i16(a, b, &d, alpha, beta, c, kernels, Some(terms), planes)
        }
        Plan::I16Wide { planes } => packed_i16(a, b, &d, alpha, beta, c, kernels, None, planes),
        Plan::F64 { pow2 } => packed_f64(a, b, &d, alpha, beta, c, kernels, pow2),
        Plan::I64 { pow2, group } => packed_i64(a, b, &d, alpha, beta, c, kernels, pow2, group),
        Plan::Generic => generic(a, b, &d, alpha, beta, c),
    }
}

/// Rows of C per parallel task: the task packs its rows of A once and
/// reuses them against every packed column tile of B.
const MC: usize = 64;

/// A tile's accumulators, aligned to 64 bytes like the SIMD kernels' row
/// vectors. At the array's own 4-byte alignment the kernels' first loads
/// of a freshly zeroed tile stalled behind the zeroing `memset`'s stores
/// (a profile shows it; forwarding a store to a load needs the load to lie
/// within one store, which an unaligned row need not).
#[derive(Clone)]
#[repr(C, align(64))]
struct Acc([f32; MR * NR]);

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
    let (rows, cols) = (chunk.len() / n_total, NR.min(n_total - col0));
    for r in 0..MR.min(rows.saturating_sub(row0)) {
        let out = &mut chunk[(row0 + r) * n_total + col0..][..cols];
        for (o, &v) in out.iter_mut().zip(&acc[r * NR..][..cols]) {
            finish(v, alpha, beta, o);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn packed_i8<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    d: &Dims,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
    kernels: &Kernels,
    i16_runs: usize,
) -> Result<(), Error> {
    let alpha = folded_alpha(a, b, alpha);
    let g = KGeom::i8(d);
    let pb = pack::pack_b8(kernels, b, d, g);
    let a_scales = pack::Scales::new(a, d);
    let (a_len, b_len) = (g.blocks * g.kbp / 4 * MR, g.blocks * g.kbp / 4 * NR);
    let (sa_len, sb_len) = (g.blocks * MR, g.blocks * NR);
    let ntiles = d.n.div_ceil(NR);
    pack::check_tile_lens(&[
        (pb.data.len(), ntiles * b_len),
        (pb.scales.len(), ntiles * sb_len),
        (pb.negcorr.len(), ntiles * sb_len),
        (pb.uniform.len(), ntiles),
    ])?;
    // A tile's blocks lie one after another in each of its slices, so a
    // range of K blocks is a sub-slice of each and a shorter `KGeom`.
    let (qa, qb) = (g.kbp / 4 * MR, g.kbp / 4 * NR);
    drive(
        c,
        d,
        (alpha, beta),
        &k_ranges(g, KC_I8),
        |r0, rows| pack::pack_a8(kernels, a, d, g, r0, rows, &a_scales),
        |pa, mt, nt, kr, acc| {
            let (at, sat) = (
                &pa.data[mt * a_len..][..a_len][kr.start * qa..kr.end * qa],
                &pa.scales[mt * sa_len..][..sa_len][kr.start * MR..kr.end * MR],
            );
            let bt = &pb.data[nt * b_len..][..b_len][kr.start * qb..kr.end * qb];
            let (sbt, nct) = (
                &pb.scales[nt * sb_len..][..sb_len][kr.start * NR..kr.end * NR],
                &pb.negcorr[nt * sb_len..][..sb_len][kr.start * NR..kr.end * NR],
            );
            let t = QuadTile::new(at, sat, bt, sbt, nct, kr.len(), g.kbp / 4);
            i8_tile(kernels, &t, i16_runs, pb.uniform[nt], acc);
        },
    );
    Ok(())
}

/// The loop nest every packed kernel shares: 64-row tasks of C run in
/// parallel; each packs its rows of A once (`pack_a(first row, rows)`),
/// then, for every column tile of B, runs `tile(packed A, row tile, column
/// tile, K range, accumulators)` for each range of `kranges` (in order)
/// and, inside it, each row tile of A, and stores the finished tiles.
/// Cutting K into ranges keeps a column tile's range of B in L1 while the
/// task's row tiles pass over it; a kernel that adds its range's terms in
/// order to the accumulators gives the same sums as one call over all of
/// K.
fn drive<PA>(
    c: &mut [f32],
    d: &Dims,
    (alpha, beta): (f32, f32),
    kranges: &[Range<usize>],
    pack_a: impl Fn(usize, usize) -> PA + Sync,
    tile: impl Fn(&PA, usize, usize, Range<usize>, &mut [f32; MR * NR]) + Sync,
) {
    let ntiles = d.n.div_ceil(NR);
    c.par_chunks_mut(MC * d.n)
        .enumerate()
        .for_each(|(ci, chunk)| {
            let rows = chunk.len() / d.n;
            let pa = pack_a(ci * MC, rows);
            let mut accs = vec![Acc([0f32; MR * NR]); rows.div_ceil(MR)];
            let store = |mt: usize, nt: usize, acc: &Acc, chunk: &mut [f32]| {
                store_tile(&acc.0, chunk, d.n, mt * MR, nt * NR, alpha, beta)
            };
            for nt in 0..ntiles {
                if let [kr] = kranges {
                    // One range: each tile zeroed, summed and stored in turn.
                    for (mt, acc) in accs.iter_mut().enumerate() {
                        acc.0.fill(0.0);
                        tile(&pa, mt, nt, kr.clone(), &mut acc.0);
                        store(mt, nt, acc, chunk);
                    }
                    continue;
                }
                // Several: the stores wait for the last range, so that
                // the writes to C do not share L1 with a range of B.
                accs.iter_mut().for_each(|acc| acc.0.fill(0.0));
                for kr in kranges {
                    for (mt, acc) in accs.iter_mut().enumerate() {
                        tile(&pa, mt, nt, kr.clone(), &mut acc.0);
                    }
                }
                for (mt, acc) in accs.iter().enumerate() {
                    store(mt, nt, acc, chunk);
                }
            }
        });
}

/// The K ranges (of `g`'s packed blocks) that [`drive`] cuts a kernel's
/// work into: whole block terms of about `kc` elements (one range when a
/// block term is longer, as FP8 per tensor's is).
fn k_ranges(g: KGeom, kc: usize) -> Vec<Range<usize>> {
    let cpb = g.cpb.max(1);
    let step = cpb * (kc / (cpb * g.kbp.max(1))).max(1);
    (0..g.blocks)
        .step_by(step)
        .map(|c0| c0..(c0 + step).min(g.blocks))
        .collect()
}

/// Elements of K per range of the i16 kernel's work: a column tile's
/// planes of B over 256 elements (8 KiB a plane) stay in L1 beside the
/// row tiles' planes of A passing through.
const KC_I16: usize = 256;

/// Elements of K per range of the i8 kernel's work: a column tile of B
/// over 1024 elements is 16 KiB.
const KC_I8: usize = 1024;

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
    let b_scales = pack::Scales::new(b, d);
    let pb = pack::pack_wide::<FB, V>(b, d, g, d.n, 0, d.n, NR, &b_scales);
    let a_scales = pack::Scales::new(a, d);
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
        core::slice::from_ref(&(0..g.blocks)),
        |r0, rows| pack::pack_wide::<FA, V>(a, d, g, d.m, r0, rows, MR, &a_scales),
        |pa, mt, nt, _, acc| {
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

/// The i16 kernel: both operands packed as i16 planes (`pack::planes::PackedPlanes`,
/// `planes` of A and of B), A per task; its terms as `terms` says, or from
/// i64 sums where it is `None` (`Plan::I16Wide`).
#[allow(clippy::too_many_arguments)]
fn packed_i16<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    d: &Dims,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
    kernels: &Kernels,
    terms: Option<Terms>,
    (planes_a, planes_b): (usize, usize),
) -> Result<(), Error> {
    let alpha = folded_alpha(a, b, alpha);
    let g = KGeom::planes(d);
    let b_scales = pack::Scales::new(b, d);
    let pb = pack::pack_planes(kernels, b, d, g, planes_b, d.n, 0, d.n, NR, &b_scales);
    let a_scales = pack::Scales::new(a, d);
    let kp = g.blocks * g.kbp;
    let ntiles = d.n.div_ceil(NR);
    pack::check_tile_lens(&[
        (pb.data.len() * 2, ntiles * planes_b * kp * NR),
        (pb.shifts.len(), ntiles * planes_b * g.blocks * NR),
        (pb.scales.len(), ntiles * g.blocks * NR),
        (pb.pairs.len(), ntiles * planes_b * g.blocks),
    ])?;
    drive(
        c,
        d,
        (alpha, beta),
        &k_ranges(g, KC_I16),
        |r0, rows| pack::pack_planes(kernels, a, d, g, planes_a, d.m, r0, rows, MR, &a_scales),
        |pa, mt, nt, chunks, acc| {
            let (at, bt) = (pa.tile(mt, MR, g), pb.tile(nt, NR, g));
            match terms {
                Some(terms) => i16_tile(kernels, &at, &bt, g, chunks, terms, acc),
                None => i16_wide_tile(kernels, &at, &bt, g, chunks, acc),
            }
        },
    );
    Ok(())
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
    group: usize,
) -> Result<(), Error> {
    let g = KGeom::f64(d);
    drive_wide::<FA, FB, f64>(a, b, d, (alpha, beta), c, |at, sat, bt, sbt, acc| {
        if pow2 {
            return i64_tile_pow2(kernels, at, sat, bt, sbt, g, group, acc);
        }
        let mut sums = [0i64; MR * NR];
        for blk in 0..g.blocks {
            let (k0, k1) = (blk * g.kbp, (blk + 1) * g.kbp);
            i64_block(kernels, at, bt, k0, k1, group, &mut sums);
            let (sa, sb) = (&sat[blk * MR..][..MR], &sbt[blk * NR..][..NR]);
            add_terms_i64(kernels, &sums, sa, sb, acc);
        }
    })
}

/// The generic kernel: any operands, including non-finite elements and
/// E5M2 sums too wide for f64 and i64.
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
