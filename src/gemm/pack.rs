//! Packing for the fast GEMM: operands copied once into the tile layouts the
//! micro-kernels stream, and the plan that picks a kernel whose arithmetic
//! is exact for the data at hand.
//!
//! Two packed kernels exist, both exact up to one rounding per block term
//! (so both equal [`super::gemm_reference`] bit for bit):
//!
//! - **i8**: every element integer fits in i8 (E2M1, E2M3, INT8 and their
//!   mixes) and the block term `S · s_a' · s_b'` is exact in f32. The inner
//!   sums are exact i32 (u8 × i8 dot products of `a + 128` with `b`, minus
//!   `128 · Σ b`), and `acc + S·P` is one f32 rounding, as in the reference.
//! - **f64**: the block sums fit 53 bits (E4M3, E3M2, and any pair whose
//!   integers are small enough). Element products and their sums are exact
//!   in f64; the block term `S · P` (`P = s_a'·s_b'` has at most 48 bits) is
//!   rounded to odd in f64 with an exact two-product, then once to f32:
//!   round-to-odd at 53 bits followed by nearest-even at 24 is one correct
//!   rounding (Boldo and Melquiond, "Emulation of FMA and correctly rounded
//!   sums: proved algorithms using rounding to odd", IEEE TC 2008).
//!
//! - **i64**: the block sums fit 63 bits (E4M3 x E5M2, whose 32-term sums
//!   need 55). With power-of-two scale products in f32's normal range the
//!   term is `f32(S)·P` (one rounding, then an exact scaling); otherwise it
//!   is the reference's own exact scalar rounding.
//!
//! Everything else (E5M2 pairs, a non-finite element or scale) runs the
//! generic kernel; the i8 kernel's f32 terms fall back to the f64 kernel
//! when scale products leave f32's normal range.

use super::{Dims, element_int, unit_exponent};
use crate::format::{BlockFormat, ScaleCodec};
use crate::simd::{GEMM_MR as MR, GEMM_NR as NR};
use crate::tensor::QuantizedTensor;
use crate::{Element, Error};
use rayon::prelude::*;

/// One operand's codes as integers (`None`: not finite), by code.
struct Codes {
    ints: [Option<i64>; 256],
}

impl Codes {
    fn new<T: Element>() -> Codes {
        let e0 = unit_exponent::<T>();
        let mut ints = [None; 256];
        for (c, slot) in ints.iter_mut().enumerate().take(1 << T::BITS) {
            *slot = element_int(T::from_bits(c as u8), e0);
        }
        Codes { ints }
    }
}

/// The element code at stored flat index `i`.
#[inline]
fn code<F: BlockFormat>(t: &QuantizedTensor<F>, i: usize) -> usize {
    let data = t.data();
    if F::Elem::BITS == 4 {
        ((data[i / 2] >> (4 * (i % 2))) & 0xF) as usize
    } else {
        data[i] as usize
    }
}

/// What the data of one operand needs: the largest |integer| present,
/// whether every element and scale is finite, and the range and significand
/// width of its nonzero scale values.
#[derive(Debug)]
struct Stats {
    max_int: u64,
    finite: bool,
    /// Smallest and largest nonzero |scale · 2^e0|, in f64 (exact).
    scale_min: f64,
    scale_max: f64,
    /// The widest significand (in bits) of any scale value.
    scale_bits: u32,
}

fn stats<F: BlockFormat>(t: &QuantizedTensor<F>) -> Stats {
    let codes = Codes::new::<F::Elem>();
    let (r, c) = t.stored_shape();
    let all_codes = &codes.ints[..1 << F::Elem::BITS];
    let format_max = all_codes.iter().flatten().map(|i| i.unsigned_abs()).max();
    let mut seen = [false; 256];
    if all_codes.iter().all(Option::is_some) && format_max.unwrap_or(0) <= 127 {
        // Every code is finite and small (E2M1, E2M3): the data cannot
        // change the plan, so skip the scan.
        seen[..all_codes.len()].fill(true);
    } else {
        let mut bytes = [false; 256];
        for &byte in t.data() {
            bytes[byte as usize] = true;
        }
        if F::Elem::BITS != 4 {
            seen = bytes;
        } else if (r * c) % 2 == 0 {
            for (byte, _) in bytes.iter().enumerate().filter(|(_, s)| **s) {
                seen[byte & 0xF] = true;
                seen[byte >> 4] = true;
            }
        } else {
            // A packed odd count leaves one unused high nibble: skip it.
            for i in 0..r * c {
                seen[code(t, i)] = true;
            }
        }
    }
    let mut s = Stats {
        max_int: 0,
        finite: true,
        scale_min: f64::INFINITY,
        scale_max: 0.0,
        scale_bits: 0,
    };
    for (code, _) in seen.iter().enumerate().filter(|(_, s)| **s) {
        match codes.ints[code] {
            Some(i) => s.max_int = s.max_int.max(i.unsigned_abs()),
            None => s.finite = false,
        }
    }
    let e0 = unit_exponent::<F::Elem>();
    for sc in t.scales() {
        let v = sc.value();
        if !v.is_finite() {
            s.finite = false;
            continue;
        }
        if v != 0.0 {
            let a = (v.abs() as f64) * crate::element::pow2_f64(e0);
            s.scale_min = s.scale_min.min(a);
            s.scale_max = s.scale_max.max(a);
            let bits = v.abs().to_bits();
            let man = if bits >> 23 == 0 {
                bits
            } else {
                bits & 0x7F_FFFF | 0x80_0000
            };
            s.scale_bits = s
                .scale_bits
                .max(32 - man.leading_zeros() - man.trailing_zeros());
        }
    }
    s
}

/// The kernel a GEMM runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    I8,
    /// `pow2`: every nonzero scale is a power of two (E8M0), so `S·P` is
    /// exact in f64 and needs no round-to-odd step.
    F64 {
        pow2: bool,
    },
    /// Exact i64 block sums (E4M3 x E5M2, up to 55 bits). `pow2`: the
    /// scale products are powers of two in f32's normal range, so the term
    /// is `f32(S)·P`; otherwise the reference's exact scalar rounding.
    I64 {
        pow2: bool,
    },
    Generic,
}

/// Picks the fastest kernel whose arithmetic is exact for these operands.
pub(crate) fn plan<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    d: &Dims,
) -> Plan {
    let (sa, sb) = (stats(a), stats(b));
    if !sa.finite || !sb.finite {
        return Plan::Generic;
    }
    // The largest possible |S| of one block.
    let smax = (sa.max_int as u128) * (sb.max_int as u128) * d.kb as u128;
    let smax_bits = 128 - smax.leading_zeros();
    let no_scales = sa.scale_max == 0.0 || sb.scale_max == 0.0;
    let f32_exact = no_scales
        || (smax_bits + sa.scale_bits + sb.scale_bits <= 24
            && sa.scale_min >= f32::MIN_POSITIVE as f64
            && sb.scale_min >= f32::MIN_POSITIVE as f64
            && sa.scale_min * sb.scale_min >= f32::MIN_POSITIVE as f64
            && sa.scale_max * sb.scale_max * (smax.max(1) as f64) < f32::MAX as f64);
    if sa.max_int <= 127 && sb.max_int <= 127 && f32_exact {
        Plan::I8
    } else if smax < 1 << 53 {
        Plan::F64 {
            pow2: sa.scale_bits <= 1 && sb.scale_bits <= 1,
        }
    } else if smax < 1 << 63 {
        Plan::I64 {
            pow2: sa.scale_bits <= 1
                && sb.scale_bits <= 1
                && (no_scales
                    || (sa.scale_min * sb.scale_min >= f32::MIN_POSITIVE as f64
                        && sa.scale_max * sb.scale_max * (smax as f64) < f32::MAX as f64)),
        }
    } else {
        Plan::Generic
    }
}

/// K-block geometry of a packed operand.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KGeom {
    /// Number of K blocks.
    pub blocks: usize,
    /// Elements per K block as packed (the block size, for i8 rounded up to
    /// a multiple of 4).
    pub kbp: usize,
}

impl KGeom {
    pub fn i8(d: &Dims) -> KGeom {
        KGeom {
            blocks: d.k.div_ceil(d.kb.max(1)),
            kbp: d.kb.next_multiple_of(4),
        }
    }
    pub fn f64(d: &Dims) -> KGeom {
        KGeom {
            blocks: d.k.div_ceil(d.kb.max(1)),
            kbp: d.kb,
        }
    }
}

/// The value of each (stored row, K block) scale times 2^e0, row-major:
/// the scale matrix's values, each tile row repeated for its rows.
fn scale_values<F: BlockFormat>(t: &QuantizedTensor<F>, d: &Dims, rows: usize) -> Vec<f64> {
    let blocks = d.k.div_ceil(d.kb.max(1));
    let f = crate::element::pow2_f64(unit_exponent::<F::Elem>());
    let (sr, sc) = t.stored_shape();
    let (tr, tc) = t.format().block().tile(sr, sc);
    let tiles_c = sc.div_ceil(tc);
    let vals: Vec<f64> = t.scales().iter().map(|s| s.value() as f64 * f).collect();
    let mut v = vec![0.0; rows * blocks];
    if blocks == 0 {
        return v;
    }
    // `check` took the K block from the same tile shape, so tiles_c == blocks.
    debug_assert_eq!(tiles_c, blocks);
    for (r, out) in v.chunks_exact_mut(blocks).enumerate() {
        out.copy_from_slice(&vals[(r / tr) * tiles_c..][..blocks]);
    }
    v
}

/// Decodes stored row `row` (K elements) through `lut` (code → value) into
/// `out`, laid out as whole K blocks of `kbp` slots: block `kb`'s elements
/// go to `out[kb·kbp..]`, and slots past the block's end or past K keep
/// whatever `out` held (the callers' zero).
fn decode_row<F: BlockFormat, V: Copy>(
    t: &QuantizedTensor<F>,
    d: &Dims,
    kbp: usize,
    row: usize,
    lut: &[V; 256],
    out: &mut [V],
) {
    let start = row * d.k;
    let data = t.data();
    if kbp == d.kb && F::Elem::BITS == 4 && start.is_multiple_of(2) {
        // Whole bytes: two elements each, low nibble first.
        for (pair, &byte) in out[..d.k].chunks_mut(2).zip(&data[start / 2..]) {
            pair[0] = lut[(byte & 0xF) as usize];
            if let Some(hi) = pair.get_mut(1) {
                *hi = lut[(byte >> 4) as usize];
            }
        }
    } else if kbp == d.kb && F::Elem::BITS != 4 {
        for (o, &byte) in out[..d.k].iter_mut().zip(&data[start..start + d.k]) {
            *o = lut[byte as usize];
        }
    } else {
        for k in 0..d.k {
            out[(k / d.kb) * kbp + k % d.kb] = lut[code(t, start + k)];
        }
    }
}

/// A table from code to the element's integer as `V` (non-finite codes,
/// which the planner keeps away from the packed kernels, map to zero).
fn lut<T: Element, V: Copy + Default>(conv: impl Fn(i64) -> V) -> [V; 256] {
    let codes = Codes::new::<T>();
    let mut l = [V::default(); 256];
    for (slot, i) in l.iter_mut().zip(codes.ints) {
        *slot = conv(i.unwrap_or(0));
    }
    l
}

/// Stored row `row` as quads: `out[q]` holds the 4 bytes `table[code]` of
/// elements `4q..4q+4` of the padded row (whole K blocks of `kbp` slots),
/// little-endian; padding slots hold `pad`. `buf` is scratch of 4 bytes
/// per quad.
#[allow(clippy::too_many_arguments)]
fn row_quads<F: BlockFormat>(
    t: &QuantizedTensor<F>,
    d: &Dims,
    g: KGeom,
    row: usize,
    table: &[u8; 256],
    pad: u8,
    buf: &mut [u8],
    out: &mut [u32],
) {
    let start = row * d.k;
    if g.kbp == d.kb && F::Elem::BITS == 4 && start.is_multiple_of(2) && d.k.is_multiple_of(4) {
        // Two bytes make a quad: one table lookup per nibble pair.
        let data = &t.data()[start / 2..][..d.k / 2];
        let pair =
            |b: u8| table[(b & 0xF) as usize] as u32 | (table[(b >> 4) as usize] as u32) << 8;
        for (o, two) in out.iter_mut().zip(data.chunks_exact(2)) {
            *o = pair(two[0]) | pair(two[1]) << 16;
        }
        out[d.k / 4..].fill(u32::from_le_bytes([pad; 4]));
    } else {
        buf.fill(pad);
        decode_row(t, d, g.kbp, row, table, buf);
        for (o, q) in out.iter_mut().zip(buf.chunks_exact(4)) {
            *o = u32::from_le_bytes([q[0], q[1], q[2], q[3]]);
        }
    }
}

/// A operand for the i8 kernel, rows `r0..r0+rows` (rows past M padded):
/// quads `[mtile][quad][MR]` of `a + 128` bytes (quads run over whole K
/// blocks), and scales `[mtile][block][MR]`.
pub(crate) struct PackedA8 {
    pub data: Vec<u32>,
    pub scales: Vec<f32>,
}

pub(crate) fn pack_a8<F: BlockFormat>(
    t: &QuantizedTensor<F>,
    d: &Dims,
    g: KGeom,
    r0: usize,
    rows: usize,
    all_scales: &[f64],
) -> PackedA8 {
    // a + 128 as a byte is the i8's bits with the sign bit flipped.
    let table = lut::<F::Elem, u8>(|i| (i as i8 as u8) ^ 0x80);
    let quads = g.blocks * g.kbp / 4;
    let tiles = rows.div_ceil(MR);
    let mut p = PackedA8 {
        data: vec![0x8080_8080; tiles * quads * MR],
        scales: vec![0.0; tiles * g.blocks * MR],
    };
    let (mut buf, mut words) = (vec![0u8; quads * 4], vec![0u32; quads]);
    for i in 0..rows.min(d.m.saturating_sub(r0)) {
        let (tile, ri) = (i / MR, i % MR);
        row_quads(t, d, g, r0 + i, &table, 0x80, &mut buf, &mut words);
        let dst = &mut p.data[tile * quads * MR..][..quads * MR];
        for (slot, &w) in dst.iter_mut().skip(ri).step_by(MR).zip(&words) {
            *slot = w;
        }
        for kb in 0..g.blocks {
            p.scales[(tile * g.blocks + kb) * MR + ri] =
                all_scales[(r0 + i) * g.blocks + kb] as f32;
        }
    }
    p
}

/// B operand for the i8 kernel: quads `[ntile][quad][NR]` of i8 bytes,
/// scales `[ntile][block][NR]`, and `-128 · Σ_block b` per column.
pub(crate) struct PackedB8 {
    pub data: Vec<u32>,
    pub scales: Vec<f32>,
    pub negcorr: Vec<i32>,
}

/// Packs B, one column tile per rayon task.
pub(crate) fn pack_b8<F: BlockFormat>(t: &QuantizedTensor<F>, d: &Dims, g: KGeom) -> PackedB8 {
    let table = lut::<F::Elem, u8>(|i| i as i8 as u8);
    let all_scales = scale_values(t, d, d.n);
    let quads = g.blocks * g.kbp / 4;
    let qpb = g.kbp / 4;
    let tiles = d.n.div_ceil(NR);
    let mut p = PackedB8 {
        data: vec![0; tiles * quads * NR],
        scales: vec![0.0; tiles * g.blocks * NR],
        negcorr: vec![0; tiles * g.blocks * NR],
    };
    p.data
        .par_chunks_mut(quads * NR)
        .zip(p.scales.par_chunks_mut(g.blocks * NR))
        .zip(p.negcorr.par_chunks_mut(g.blocks * NR))
        .enumerate()
        .for_each(|(tile, ((dst, scales), negcorr))| {
            let (mut buf, mut words) = (vec![0u8; quads * 4], vec![0u32; quads]);
            for j in 0..NR.min(d.n - tile * NR) {
                let n = tile * NR + j;
                row_quads(t, d, g, n, &table, 0, &mut buf, &mut words);
                for (slot, &w) in dst.iter_mut().skip(j).step_by(NR).zip(&words) {
                    *slot = w;
                }
                for (kb, blk) in words.chunks_exact(qpb.max(1)).enumerate() {
                    let sum: i32 = blk
                        .iter()
                        .flat_map(|w| w.to_le_bytes())
                        .map(|b| b as i8 as i32)
                        .sum();
                    scales[kb * NR + j] = all_scales[n * g.blocks + kb] as f32;
                    negcorr[kb * NR + j] = -128 * sum;
                }
            }
        });
    p
}

/// An operand for the f64 and i64 kernels: elements `[tile][k][W]` (W = MR
/// for A, NR for B; K padded to whole blocks with zeros) and scales times
/// 2^e0 `[tile][block][W]`. One tile per rayon task.
pub(crate) struct PackedWide<V> {
    pub data: Vec<V>,
    pub scales: Vec<f64>,
}

/// Element values as f64 or i64 (both exact: the integers fit 53 bits).
pub(crate) trait Wide: Copy + Default + Send + Sync {
    fn from_int(i: i64) -> Self;
}
impl Wide for f64 {
    fn from_int(i: i64) -> f64 {
        i as f64
    }
}
impl Wide for i64 {
    fn from_int(i: i64) -> i64 {
        i
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn pack_wide<F: BlockFormat, V: Wide>(
    t: &QuantizedTensor<F>,
    d: &Dims,
    g: KGeom,
    total_rows: usize,
    r0: usize,
    rows: usize,
    width: usize,
    all_scales: &[f64],
) -> PackedWide<V> {
    let table = lut::<F::Elem, V>(V::from_int);
    let tiles = rows.div_ceil(width);
    let kp = g.blocks * g.kbp;
    let mut p = PackedWide {
        data: vec![V::default(); tiles * kp * width],
        scales: vec![0.0; tiles * g.blocks * width],
    };
    let live = rows.min(total_rows.saturating_sub(r0));
    p.data
        .par_chunks_mut(kp * width)
        .zip(p.scales.par_chunks_mut(g.blocks * width))
        .enumerate()
        .for_each(|(tile, (dst, scales))| {
            let mut buf = vec![V::default(); kp];
            for j in 0..width.min(live.saturating_sub(tile * width)) {
                let row = r0 + tile * width + j;
                buf.fill(V::default());
                decode_row(t, d, g.kbp, row, &table, &mut buf);
                for (k, &v) in buf.iter().enumerate() {
                    dst[k * width + j] = v;
                }
                for kb in 0..g.blocks {
                    scales[kb * width + j] = all_scales[row * g.blocks + kb];
                }
            }
        });
    p
}

/// Every (row, K block) scale of `t` times 2^e0 (for packing A in chunks).
pub(crate) fn operand_scales<F: BlockFormat>(
    t: &QuantizedTensor<F>,
    d: &Dims,
    rows: usize,
) -> Vec<f64> {
    scale_values(t, d, rows)
}

/// The f64 kernel's block term: `S · P` rounded to odd in f64 from an exact
/// two-product, then to nearest-even f32 (one correct rounding, module docs).
#[inline]
pub(crate) fn term_f64(s: f64, p: f64) -> f32 {
    let hi = s * p;
    let lo = s.mul_add(p, -hi);
    let bits = hi.to_bits();
    let odd = if lo != 0.0 && bits & 1 == 0 {
        // Step one ulp toward the exact value (toward lo).
        if (lo > 0.0) == (hi > 0.0) {
            bits + 1
        } else {
            bits - 1
        }
    } else {
        bits
    };
    f64::from_bits(odd) as f32
}

/// Portable i8 tile kernel: `acc[r][j] += S·P` per block, S exact in i32
/// (`Σ (a+128)·b` started at `-128·Σb`, as the SIMD kernel computes it).
#[allow(clippy::too_many_arguments)]
pub(crate) fn i8_tile_portable(
    a: &[u32],
    sa: &[f32],
    b: &[u32],
    sb: &[f32],
    nc: &[i32],
    g: KGeom,
    acc: &mut [f32; MR * NR],
) {
    let q = g.kbp / 4;
    for blk in 0..g.blocks {
        let mut s = [[0i32; NR]; MR];
        for row in s.iter_mut() {
            row.copy_from_slice(&nc[blk * NR..][..NR]);
        }
        let ab = &a[blk * q * MR..][..q * MR];
        let bb = &b[blk * q * NR..][..q * NR];
        for qi in 0..q {
            for (r, srow) in s.iter_mut().enumerate() {
                let av = ab[qi * MR + r].to_le_bytes(); // u8: a + 128
                for (j, sv) in srow.iter_mut().enumerate() {
                    let bv = bb[qi * NR + j].to_le_bytes(); // i8
                    *sv += (0..4)
                        .map(|t| av[t] as i32 * bv[t] as i8 as i32)
                        .sum::<i32>();
                }
            }
        }
        for (r, srow) in s.iter().enumerate() {
            for (j, &sv) in srow.iter().enumerate() {
                let p = sa[blk * MR + r] * sb[blk * NR + j];
                acc[r * NR + j] += sv as f32 * p; // S·P is exact
            }
        }
    }
}

/// Portable f64 tile kernel: `acc[r][j] += term_f64(S, P)` per block
/// (`f32(S·P)` directly when `pow2` says the product is exact).
pub(crate) fn f64_tile_portable(
    a: &[f64],
    sa: &[f64],
    b: &[f64],
    sb: &[f64],
    g: KGeom,
    pow2: bool,
    acc: &mut [f32; MR * NR],
) {
    for blk in 0..g.blocks {
        let mut s = [[0f64; NR]; MR];
        for k in blk * g.kbp..(blk + 1) * g.kbp {
            let (ak, bk) = (&a[k * MR..][..MR], &b[k * NR..][..NR]);
            for (r, srow) in s.iter_mut().enumerate() {
                for (j, sv) in srow.iter_mut().enumerate() {
                    *sv += ak[r] * bk[j]; // exact: products and sums fit 53 bits
                }
            }
        }
        for (r, srow) in s.iter().enumerate() {
            for (j, &sv) in srow.iter().enumerate() {
                let p = sa[blk * MR + r] * sb[blk * NR + j];
                acc[r * NR + j] += if pow2 {
                    (sv * p) as f32
                } else {
                    term_f64(sv, p)
                };
            }
        }
    }
}

/// Portable exact block sums for the i64 kernel: `out[r][j] = Σ_{k0..k1}
/// a[k][r]·b[k][j]` (the planner bounds them below 2^63).
pub(crate) fn i64_block_portable(
    a: &[i64],
    b: &[i64],
    k0: usize,
    k1: usize,
    out: &mut [i64; MR * NR],
) {
    out.fill(0);
    for k in k0..k1 {
        let (ak, bk) = (&a[k * MR..][..MR], &b[k * NR..][..NR]);
        for (r, orow) in out.chunks_exact_mut(NR).enumerate() {
            for (o, &bv) in orow.iter_mut().zip(bk) {
                *o += ak[r] * bv;
            }
        }
    }
}

/// Checks that a packed tile has the lengths the kernels read, so that the
/// SIMD kernels' raw reads stay in bounds.
pub(crate) fn check_tile_lens(lens: &[(usize, usize)]) -> Result<(), Error> {
    for &(have, need) in lens {
        if have < need {
            return Err(Error::InvalidArgument(format!(
                "internal: packed tile has {have} entries, kernel reads {need}"
            )));
        }
    }
    Ok(())
}
