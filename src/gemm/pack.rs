//! Packing for the fast GEMM: operands copied once into the tile layouts
//! the micro-kernels stream (`kernels`), for the kernel `plan` picked; the
//! i16 kernel's planes in `planes`.

use super::{Dims, element_int, unit_exponent};
use crate::format::{BlockFormat, ScaleCodec};
use crate::simd::{GEMM_MR as MR, GEMM_NR as NR, Kernels};
use crate::tensor::QuantizedTensor;
use crate::{Element, Error};
use rayon::prelude::*;

mod planes;
pub(crate) use planes::{int_widths, pack_planes, plane_count, window_bits};

/// One operand's codes as integers (`None`: not finite), by code.
pub(super) struct Codes {
    pub(super) ints: [Option<i64>; 256],
}

impl Codes {
    pub(super) fn new<T: Element>() -> Codes {
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
pub(super) fn code<F: BlockFormat>(t: &QuantizedTensor<F>, i: usize) -> usize {
    crate::element::nibble::get(t.data(), i, F::Elem::PACKED) as usize
}

/// K-block geometry of a packed operand.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KGeom {
    /// Number of K blocks.
    pub blocks: usize,
    /// Elements per K block as packed (the block size, for i8 rounded up to
    /// a multiple of 4).
    pub kbp: usize,
    /// K blocks per block term: 1, except for the i16 planes of blocks
    /// longer than [`CHUNK`], whose packed "blocks" are chunks of at most
    /// `CHUNK` slots, `cpb` of them to a scale block.
    pub cpb: usize,
}

/// The longest run of K the i16 planes are cut for: a longer block is
/// packed as chunks of this many slots (its last one padded with zeros),
/// each with its own planes, and the kernel sums the chunks exactly in f64
/// before the block's one term. Longer chunks would need narrower windows
/// (`window_bits`), so more planes.
pub(crate) const CHUNK: usize = 32;

impl KGeom {
    pub fn i8(d: &Dims) -> KGeom {
        KGeom {
            blocks: d.k.div_ceil(d.kb.max(1)),
            kbp: d.kb.next_multiple_of(4),
            cpb: 1,
        }
    }
    pub fn f64(d: &Dims) -> KGeom {
        KGeom {
            blocks: d.k.div_ceil(d.kb.max(1)),
            kbp: d.kb,
            cpb: 1,
        }
    }
    /// The i16 planes' chunks: blocks of at most [`CHUNK`] stay whole (an
    /// odd length padded to even); longer ones are cut into `CHUNK`s.
    pub fn planes(d: &Dims) -> KGeom {
        let blocks = d.k.div_ceil(d.kb.max(1));
        if d.kb <= CHUNK {
            KGeom {
                blocks,
                kbp: d.kb.next_multiple_of(2),
                cpb: 1,
            }
        } else {
            let cpb = d.kb.div_ceil(CHUNK);
            KGeom {
                blocks: blocks * cpb,
                kbp: CHUNK,
                cpb,
            }
        }
    }
}

/// An operand's block scale values times 2^e0: the scale matrix, one row
/// per tile row, which the rows of a 2D tile share.
pub(crate) struct Scales {
    vals: Vec<f64>,
    tile_rows: usize,
    blocks: usize,
}

impl Scales {
    pub(crate) fn new<F: BlockFormat>(t: &QuantizedTensor<F>, d: &Dims) -> Scales {
        let (tile_rows, blocks) = Self::layout(t, d);
        let f = crate::element::pow2_f64(unit_exponent::<F::Elem>());
        Scales {
            vals: t.scales().iter().map(|s| s.value() as f64 * f).collect(),
            tile_rows,
            blocks,
        }
    }

    /// Stored rows per scale row (a 2D tile's rows share one) and scales
    /// per row (K blocks).
    fn layout<F: BlockFormat>(t: &QuantizedTensor<F>, d: &Dims) -> (usize, usize) {
        let blocks = d.k.div_ceil(d.kb.max(1));
        let (sr, sc) = t.stored_shape();
        let (tr, tc) = t.format().block().tile(sr, sc);
        // `check` took the K block from the same tile shape.
        debug_assert!(blocks == 0 || sc.div_ceil(tc) == blocks);
        (tr.max(1), blocks)
    }

    /// Where the scale codec is a byte (E4M3, E8M0): every code's value
    /// times 2^e0 as `new` computes it, rounded to f32, for the i8
    /// kernel's f32 scales straight from the codes, with no f64 copy of
    /// them all.
    fn byte_table_f32<F: BlockFormat>() -> Option<[f32; 256]> {
        let f = crate::element::pow2_f64(unit_exponent::<F::Elem>());
        (<F::Scale as ScaleCodec>::BITS == 8).then(|| {
            core::array::from_fn(|c| {
                (<F::Scale as ScaleCodec>::from_bits(c as u32).value() as f64 * f) as f32
            })
        })
    }

    /// Stored row `row`'s scales, one per K block.
    #[inline]
    pub(crate) fn row(&self, row: usize) -> &[f64] {
        &self.vals[(row / self.tile_rows) * self.blocks..][..self.blocks]
    }
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

/// A code → byte table for the i8 operands, with the bytes of both
/// nibbles of a packed byte (low nibble first) for 4-bit elements.
struct ByteTable {
    one: [u8; 256],
    two: [u16; 256],
}

impl ByteTable {
    fn new<T: Element>(conv: impl Fn(i64) -> u8) -> ByteTable {
        let one = lut::<T, u8>(conv);
        let two = core::array::from_fn(|b| u16::from_le_bytes([one[b & 0xF], one[b >> 4]]));
        ByteTable { one, two }
    }
}

/// The quads of `count` stored rows from `first` on, interleaved:
/// `out[q·width + j]` holds the 4 bytes `table[code]` of elements
/// `4q..4q+4` of row `first + j`, padded to whole K blocks of `kbp` slots,
/// little-endian; padding slots hold `pad`. Where the K blocks need no
/// padding (`kbp` = the block, K a multiple of 4), whole bytes of 4-bit or
/// 8-bit codes become quads by table straight from storage, and the
/// padding slots (past K, and rows past `count`) keep what `out` holds:
/// the callers fill it with the pad word first.
#[allow(clippy::too_many_arguments)]
fn interleaved_quads<F: BlockFormat>(
    kernels: &Kernels,
    t: &QuantizedTensor<F>,
    d: &Dims,
    g: KGeom,
    first: usize,
    count: usize,
    width: usize,
    table: &ByteTable,
    pad: u8,
    out: &mut [u32],
    sums: Option<&mut [i32]>,
) {
    let whole = g.kbp == d.kb && d.k.is_multiple_of(4) && matches!(F::Elem::BITS, 4 | 8);
    if count == 0 {
        return;
    }
    if !whole {
        // Each row decoded into whole blocks of `kbp` byte slots, then
        // scattered as quads.
        let mut buf = vec![0u8; out.len() / width * 4];
        for j in 0..count {
            buf.fill(pad);
            decode_row(t, d, g.kbp, first + j, &table.one, &mut buf);
            let quads = buf.as_chunks::<4>().0;
            for (slot, &q) in out[j..].iter_mut().step_by(width).zip(quads) {
                *slot = u32::from_le_bytes(q);
            }
        }
        if let Some(sums) = sums {
            block_sums(out, g.kbp / 4, width, sums);
        }
        return;
    }
    let (data, nq) = (t.data(), d.k / 4);
    let bytes_per_quad = F::Elem::BITS as usize / 2;
    if let Some(quads) = kernels.nibble_quads
        && bytes_per_quad == 2
        && (width == 8 || width == 16)
    {
        let lut: [u8; 16] = core::array::from_fn(|c| table.one[c]);
        let row0 = first * d.k / 2;
        let sums = sums.map(|s| (g.kbp / 4, s));
        quads(&lut, &data[row0..], d.k / 2, count, nq, out, width, sums);
        return;
    }
    // Strips of quads, each filled row by row: a strip of the tile (at
    // most 4 KiB) stays in L1 while its rows' strided writes land, where
    // a whole tile of a long K would not.
    const STRIP: usize = 64;
    for s0 in (0..nq).step_by(STRIP) {
        let len = STRIP.min(nq - s0);
        for j in 0..count {
            let row = (first + j) * d.k * bytes_per_quad / 4;
            let bytes = &data[row + s0 * bytes_per_quad..][..len * bytes_per_quad];
            let slots = out[s0 * width + j..].iter_mut().step_by(width);
            if bytes_per_quad == 2 {
                // Two bytes of nibbles make a quad: one table lookup per byte.
                for (slot, two) in slots.zip(bytes.chunks_exact(2)) {
                    *slot = table.two[two[0] as usize] as u32
                        | (table.two[two[1] as usize] as u32) << 16;
                }
            } else {
                for (slot, q) in slots.zip(bytes.chunks_exact(4)) {
                    let b = |i: usize| table.one[q[i] as usize];
                    *slot = u32::from_le_bytes([b(0), b(1), b(2), b(3)]);
                }
            }
        }
    }
    if let Some(sums) = sums {
        block_sums(out, g.kbp / 4, width, sums);
    }
}

/// Each column's sum of its i8 bytes per K block of `qpb` quads:
/// `sums[block·width + j]`, from interleaved quads as
/// [`interleaved_quads`] writes them. An i8 b with its sign bit flipped
/// reads b + 128 as a u8, so a quad's four flipped bytes sum to its i8 sum
/// plus 512 (padding quads, all zero, to 512: they add nothing). Bytes 0
/// and 2 and bytes 1 and 3 add in 16-bit halves of each lane first.
fn block_sums(out: &[u32], qpb: usize, width: usize, sums: &mut [i32]) {
    debug_assert!(width <= NR);
    let blocks = out.chunks_exact((qpb * width).max(1));
    for (blk, sum) in blocks.zip(sums.chunks_exact_mut(width)) {
        let mut acc = [0u32; NR];
        for quad in blk.chunks_exact(width) {
            for (s, &w) in acc.iter_mut().zip(quad) {
                let u = w ^ 0x8080_8080;
                let halves = (u & 0x00FF_00FF) + (u >> 8 & 0x00FF_00FF);
                *s += (halves & 0xFFFF) + (halves >> 16);
            }
        }
        for (c, s) in sum.iter_mut().zip(acc) {
            *c = s as i32 - 512 * qpb as i32;
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

#[allow(clippy::too_many_arguments)]
pub(crate) fn pack_a8<F: BlockFormat>(
    kernels: &Kernels,
    t: &QuantizedTensor<F>,
    d: &Dims,
    g: KGeom,
    r0: usize,
    rows: usize,
    all_scales: &Scales,
) -> PackedA8 {
    // a + 128 as a byte is the i8's bits with the sign bit flipped.
    let table = ByteTable::new::<F::Elem>(|i| (i as i8 as u8) ^ 0x80);
    let quads = g.blocks * g.kbp / 4;
    let tiles = rows.div_ceil(MR);
    let mut p = PackedA8 {
        data: vec![0x8080_8080; tiles * quads * MR],
        scales: vec![0.0; tiles * g.blocks * MR],
    };
    let live = rows.min(d.m.saturating_sub(r0));
    for (tile, dst) in p.data.chunks_exact_mut((quads * MR).max(1)).enumerate() {
        let first = tile * MR;
        let count = MR.min(live.saturating_sub(first));
        interleaved_quads(
            kernels,
            t,
            d,
            g,
            r0 + first,
            count,
            MR,
            &table,
            0x80,
            dst,
            None,
        );
    }
    for i in 0..live {
        let (tile, ri) = (i / MR, i % MR);
        for (kb, &v) in all_scales.row(r0 + i).iter().enumerate() {
            p.scales[(tile * g.blocks + kb) * MR + ri] = v as f32;
        }
    }
    p
}

/// B operand for the i8 kernel: quads `[ntile][quad][NR]` of i8 bytes,
/// scales `[ntile][block][NR]`, `-128 · Σ_block b` per column, and per
/// tile whether each block's NR scales are one value (bit for bit), as
/// when B's scale blocks span the tile's columns (NVFP4's 16 × 16 weight
/// blocks): the AVX-512 VNNI and AVX2 whole-block kernels then form
/// `s_a·s_b` once per row, not per column.
pub(crate) struct PackedB8 {
    pub data: Vec<u32>,
    pub scales: Vec<f32>,
    pub negcorr: Vec<i32>,
    pub uniform: Vec<bool>,
}

/// Packs B, one column tile per rayon task.
pub(crate) fn pack_b8<F: BlockFormat>(
    kernels: &Kernels,
    t: &QuantizedTensor<F>,
    d: &Dims,
    g: KGeom,
) -> PackedB8 {
    let table = ByteTable::new::<F::Elem>(|i| i as i8 as u8);
    // B's f32 scales by a table of the codes where the codec is a byte.
    enum Source {
        Codes(Box<[f32; 256]>),
        Values(Scales),
    }
    let source = match Scales::byte_table_f32::<F>() {
        Some(lut) => Source::Codes(Box::new(lut)),
        None => Source::Values(Scales::new(t, d)),
    };
    let (tile_rows, blocks) = Scales::layout(t, d);
    let quads = g.blocks * g.kbp / 4;
    let tiles = d.n.div_ceil(NR);
    let mut p = PackedB8 {
        data: vec![0; tiles * quads * NR],
        scales: vec![0.0; tiles * g.blocks * NR],
        negcorr: vec![0; tiles * g.blocks * NR],
        uniform: vec![false; tiles],
    };
    p.data
        .par_chunks_mut(quads * NR)
        .zip(p.scales.par_chunks_mut(g.blocks * NR))
        .zip(p.negcorr.par_chunks_mut(g.blocks * NR))
        .zip(p.uniform.par_iter_mut())
        .enumerate()
        .for_each(|(tile, (((dst, scales), negcorr), uniform))| {
            let cols = NR.min(d.n - tile * NR);
            interleaved_quads(
                kernels,
                t,
                d,
                g,
                tile * NR,
                cols,
                NR,
                &table,
                0,
                dst,
                Some(&mut *negcorr),
            );
            for c in negcorr.iter_mut() {
                *c *= -128;
            }
            match &source {
                Source::Codes(lut) => {
                    // Block by block, so that the writes run in order.
                    let codes: [&[F::Scale]; NR] = core::array::from_fn(|j| {
                        let row = (tile * NR + j).min(d.n - 1);
                        &t.scales()[row / tile_rows * blocks..][..blocks]
                    });
                    for (kb, out) in scales.chunks_exact_mut(NR).enumerate() {
                        for (o, row) in out.iter_mut().zip(&codes).take(cols) {
                            *o = lut[row[kb].to_bits() as usize & 0xFF];
                        }
                    }
                }
                Source::Values(all) => {
                    for j in 0..cols {
                        for (kb, &v) in all.row(tile * NR + j).iter().enumerate() {
                            scales[kb * NR + j] = v as f32;
                        }
                    }
                }
            }
            *uniform = scales
                .chunks_exact(NR)
                .all(|s| s.iter().all(|v| v.to_bits() == s[0].to_bits()));
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
    all_scales: &Scales,
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
                for (kb, &v) in all_scales.row(row).iter().enumerate() {
                    scales[kb * width + j] = v;
                }
            }
        });
    p
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

#[cfg(test)]
mod tests;
