//! A band of tile rows, as the quantizer's threads take them: the tiles'
//! amaxes, then their scales and element maps from the format (or the
//! format's one-pass row encoder), then each stored row's elements, in the
//! encode kernels where they apply and the portable loop otherwise; the
//! bytes are the same either way.

use super::amax::block_amaxes;
use super::{CHUNK_ELEMENTS, Direction, Grid, TensorRounding, packed_len};
use crate::Element;
use crate::element::slice::Real;
use crate::element::{RandomBits, Rounding, nibble};
use crate::format::BlockFormat;
use crate::par::*;
use crate::prelude::*;
use crate::rng::{counter_row, splitmix64, tile_stream};
use crate::scale::{ElementMap, fold_amax};
use crate::simd::{Codec, Kernels, Level, Packing};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::Rng;

/// Everything one quantization needs, shared by its threads.
pub(super) struct Job<'a, F: BlockFormat, S: Real> {
    pub(super) format: &'a F,
    pub(super) global: F::Global,
    pub(super) grid: Grid,
    pub(super) kernels: &'static Kernels,
    /// The element's kernel description, when there is an encode kernel.
    pub(super) codec: Option<Codec>,
    pub(super) elem_opts: crate::element::ConvertOptions,
    pub(super) cast: crate::element::CastRule,
    pub(super) rounding: TensorRounding,
    pub(super) src: &'a [S],
    pub(super) rows: usize,
    pub(super) cols: usize,
    pub(super) direction: Direction,
    /// The amax of the one tile that covers the matrix, when known.
    pub(super) whole_amax: Option<f32>,
    /// Every tile's amax in tile order, when the tensor amax pass kept
    /// them ([`super::amax::tile_amaxes_par`]).
    pub(super) tile_amaxes: Option<&'a [f32]>,
}

/// Stored rows staged as f32: one row of rowwise input that is not f32,
/// or a strip of consecutive columnwise stored rows (source columns).
#[derive(Default)]
struct Staged {
    /// `count` stored rows from `first` on, each of the stored row length.
    data: Vec<f32>,
    first: usize,
    count: usize,
}

/// Source columns a columnwise strip stages at most: 16 read a 64-byte
/// line of each f32 source row once, where gathering one column a time
/// read each line once per column, for the amax pass and again for the
/// encoding (bench/README.md, "A recipe step").
const STRIP_COLS: usize = 16;

/// The most elements a strip stages (1 MiB of f32): a tall matrix's strip
/// takes fewer source columns, down to the one the column gather staged
/// before.
const STRIP_ELEMENTS: usize = 1 << 18;

/// f32 slots between a strip's stored rows (one 64-byte line).
const STRIP_PAD: usize = 16;

/// Per-thread buffers, sized by a band (never by the tensor).
struct State {
    row: Staged,
    amax: Vec<f32>,
    block_amax: Vec<f32>,
    maps: Vec<ElementMap>,
    rngs: Vec<Xoshiro256PlusPlus>,
    /// Whether `xs` (kernel-held Xoshiro256++ states) replaces `rngs`.
    simd_rng: bool,
    /// Xoshiro256++ states of the band's tiles, word-major (4 × tiles).
    xs: Vec<u64>,
    /// Draws per tile in the current row.
    counts: Vec<u32>,
    rand: Vec<u32>,
    /// The words of `TensorRounding::Stochastic8`'s counter for one row.
    words: Vec<u64>,
    /// A band's stored rows and one tile of it, for formats that choose
    /// scales by values (empty otherwise).
    band: Vec<f32>,
    tile: Vec<f32>,
}

impl<F: BlockFormat, S: Real> Job<'_, F, S> {
    fn state(&self) -> State {
        let g = &self.grid;
        State {
            row: Staged::default(),
            amax: vec![0.0; g.tiles_c],
            block_amax: vec![0.0; g.tiles_c],
            maps: vec![ElementMap::Zero(0); g.tiles_c],
            rngs: Vec::new(),
            simd_rng: false,
            xs: vec![0; 4 * g.tiles_c],
            counts: vec![0; g.tiles_c],
            rand: Vec::new(),
            words: Vec::new(),
            band: Vec::new(),
            tile: Vec::new(),
        }
    }

    /// Stored row `r` as f32: in place for rowwise f32 input, else staged
    /// in `buf`. Columnwise, `buf` keeps a strip of stored rows from `r`
    /// on, which the calls for the rows after it (and for `r` again, by
    /// the encoding after the amax pass) read without touching the source.
    fn row<'b>(&'b self, r: usize, buf: &'b mut Staged) -> &'b [f32] {
        let (rows, cols) = (self.rows, self.cols);
        match self.direction {
            Direction::Rowwise => match S::as_f32s(self.src) {
                Some(x) => &x[r * cols..(r + 1) * cols],
                None => {
                    buf.data.clear();
                    buf.data.extend(
                        self.src[r * cols..(r + 1) * cols]
                            .iter()
                            .map(|v| v.to_f32()),
                    );
                    (buf.first, buf.count) = (r, 1);
                    &buf.data
                }
            },
            Direction::Columnwise => {
                // Stored rows `STRIP_PAD` apart beyond their length: a
                // length of 1024 f32 would put the n rows' write streams
                // 4 KiB apart, in one set of L1.
                let stride = rows + STRIP_PAD;
                if !(buf.first..buf.first + buf.count).contains(&r) {
                    let n = (STRIP_ELEMENTS / rows.max(1)).clamp(1, STRIP_COLS);
                    let n = n.min(cols - r);
                    buf.data.resize(n * stride, 0.0);
                    // Source row c's n values, one read, to element c of
                    // each of the n stored rows.
                    for (c, line) in self.src.chunks_exact(cols).take(rows).enumerate() {
                        for (j, v) in line[r..r + n].iter().enumerate() {
                            buf.data[j * stride + c] = v.to_f32();
                        }
                    }
                    (buf.first, buf.count) = (r, n);
                }
                &buf.data[(r - buf.first) * stride..][..rows]
            }
        }
    }

    /// Tile rows `t0..t1`, into `data` (which starts at element
    /// `t0·tr·scols`, even for FP4) and `scales` (tile `t0·tiles_c` on).
    fn bands(&self, t0: usize, t1: usize, data: &mut [u8], scales: &mut [F::Scale]) {
        let g = self.grid;
        let mut st = self.state();
        let e0 = t0 * g.tr * g.scols;
        for ti in t0..t1 {
            let tc = g.tiles_c;
            let sc = &mut scales[(ti - t0) * tc..(ti - t0 + 1) * tc];
            if self.band_maps(ti, &mut st, sc, e0, data) {
                continue;
            }
            let r0 = ti * g.tr;
            let r1 = (r0 + g.tr).min(g.srows);
            self.rows(r0, r1, e0, &mut st, data);
        }
    }

    /// All the bands, into `data` and `scales`: on this thread, or on
    /// rayon's pool (`parallel`) in chunks of about `CHUNK_ELEMENTS`, each
    /// run at `level`, the caller's.
    pub(super) fn run(
        &self,
        level: Level,
        parallel: bool,
        data: &mut [u8],
        scales: &mut [F::Scale],
    ) {
        let grid = self.grid;
        let fp4 = F::Elem::PACKED;
        let band = grid.tr * grid.scols;
        if !parallel || band == 0 {
            self.bands(0, grid.tiles_r, data, scales);
        } else if grid.tiles_r == 1 {
            // One band (a whole-tensor scale): its maps first, then its rows in parallel.
            let mut st = self.state();
            // A format that scales and encodes the row itself has done so.
            if !self.band_maps(0, &mut st, scales, 0, data) {
                let rows_per = (CHUNK_ELEMENTS / grid.scols.max(1)).max(1);
                let rows_per = if fp4 && !grid.scols.is_multiple_of(2) {
                    rows_per.next_multiple_of(2)
                } else {
                    rows_per
                };
                let bytes_per = packed_len::<F::Elem>(rows_per * grid.scols);
                if let TensorRounding::Stochastic { .. } = self.rounding {
                    // One random stream per tile, drawn in row-major order.
                    self.rows(0, grid.srows, 0, &mut st, data);
                } else {
                    let st = &st;
                    data.par_chunks_mut(bytes_per)
                        .enumerate()
                        .for_each(|(k, chunk)| {
                            let r0 = k * rows_per;
                            let r1 = (r0 + rows_per).min(grid.srows);
                            let mut own = self.state();
                            own.maps.clone_from(&st.maps);
                            self.rows(r0, r1, r0 * grid.scols, &mut own, chunk);
                        });
                }
            }
        } else {
            let per = (CHUNK_ELEMENTS / band).max(1);
            let per = if fp4 && !band.is_multiple_of(2) {
                per.next_multiple_of(2)
            } else {
                per
            };
            let bytes_per = packed_len::<F::Elem>(per * band);
            data.par_chunks_mut(bytes_per)
                .zip(scales.par_chunks_mut(per * grid.tiles_c))
                .enumerate()
                .for_each(|(k, (d, s))| {
                    let t0 = k * per;
                    crate::simd::in_level(level, || {
                        self.bands(t0, (t0 + per).min(grid.tiles_r), d, s)
                    });
                });
        }
    }

    /// The amaxes, scales and maps of tile row `ti` (and its random
    /// streams); or, where the format scales and encodes such a row in one
    /// pass ([`Self::fused`]), the row's scales and codes, and then `true`.
    fn band_maps(
        &self,
        ti: usize,
        st: &mut State,
        scales: &mut [F::Scale],
        e0: usize,
        data: &mut [u8],
    ) -> bool {
        let g = self.grid;
        let r0 = ti * g.tr;
        let r1 = (r0 + g.tr).min(g.srows);
        match (self.whole_amax, self.tile_amaxes) {
            (Some(a), _) => st.amax.fill(a),
            (None, Some(t)) => st
                .amax
                .copy_from_slice(&t[ti * g.tiles_c..(ti + 1) * g.tiles_c]),
            (None, None) if r1 - r0 == 1 => {
                let mut buf = core::mem::take(&mut st.row);
                let row = self.row(r0, &mut buf);
                block_amaxes(self.kernels, row, g.tc, &mut st.amax);
                st.row = buf;
            }
            (None, None) => {
                st.amax.fill(0.0);
                let mut buf = core::mem::take(&mut st.row);
                for r in r0..r1 {
                    let row = self.row(r, &mut buf);
                    block_amaxes(self.kernels, row, g.tc, &mut st.block_amax);
                    for (a, &b) in st.amax.iter_mut().zip(&st.block_amax) {
                        *a = fold_amax(*a, b);
                    }
                }
                st.row = buf;
            }
        }
        // The format reads the level on this thread: `with_level` in the
        // parallel loops below makes a pool thread use the caller's.
        if self.fused(ti, st, scales, e0, data) {
            return true;
        }
        self.format
            .block_scales(&st.amax, &self.global, scales, &mut st.maps);
        if self.format.chooses_by_values() {
            self.choose_by_values(r0, r1, st, scales);
        }
        st.rngs.clear();
        if let TensorRounding::Stochastic { seed } = self.rounding {
            let t0 = (ti * g.tiles_c) as u64;
            st.simd_rng = match self.kernels.sr_seed {
                Some(sr_seed) => {
                    sr_seed(splitmix64(seed), t0, &mut st.xs);
                    true
                }
                None => false,
            };
            if !st.simd_rng {
                st.rngs
                    .extend((0..g.tiles_c).map(|tj| tile_stream(seed, t0 + tj as u64)));
            }
        }
        false
    }

    /// Tile row `ti`, one stored f32 row, scaled and encoded in one pass
    /// by the format where it can ([`BlockFormat::encode_row_fused`]):
    /// rounded to nearest, scales chosen by amax, and for FP4 a row that
    /// starts a byte. `data` starts at element `e0`.
    fn fused(
        &self,
        ti: usize,
        st: &State,
        scales: &mut [F::Scale],
        e0: usize,
        data: &mut [u8],
    ) -> bool {
        let g = self.grid;
        let e = ti * g.scols - e0;
        let (Some(x), true, Direction::Rowwise, TensorRounding::NearestEven, false) = (
            S::as_f32s(self.src),
            g.tr == 1 && (!F::Elem::PACKED || e.is_multiple_of(2)),
            self.direction,
            self.rounding,
            self.format.chooses_by_values(),
        ) else {
            return false;
        };
        let row = &x[ti * self.cols..(ti + 1) * self.cols];
        let out = if F::Elem::PACKED {
            e / 2..(e + row.len()).div_ceil(2)
        } else {
            e..e + row.len()
        };
        let ahead = self.ahead(ti);
        self.format
            .encode_row_fused(&st.amax, &self.global, row, scales, &mut data[out], ahead)
    }

    /// The scales and maps of a band (stored rows `r0..r1`) chosen by
    /// each tile's values ([`BlockFormat::choose_by_values`]).
    fn choose_by_values(&self, r0: usize, r1: usize, st: &mut State, scales: &mut [F::Scale]) {
        let g = self.grid;
        let mut buf = core::mem::take(&mut st.row);
        let (mut band, mut tile) = (core::mem::take(&mut st.band), core::mem::take(&mut st.tile));
        band.clear();
        for r in r0..r1 {
            band.extend_from_slice(self.row(r, &mut buf));
        }
        st.row = buf;
        let tiles = scales.iter_mut().zip(&mut st.maps).zip(&st.amax);
        for (tj, ((scale, map), &amax)) in tiles.take(g.tiles_c).enumerate() {
            let (c0, c1) = (tj * g.tc, ((tj + 1) * g.tc).min(g.scols));
            tile.clear();
            for row in band.chunks(g.scols.max(1)) {
                tile.extend_from_slice(&row[c0..c1]);
            }
            (*scale, *map) = self
                .format
                .choose_by_values(amax, &tile, c1 - c0, &self.global);
        }
        (st.band, st.tile) = (band, tile);
    }

    /// The stored row after `r` where it lies in the source as f32 (else
    /// empty): the encode kernels pull it toward the cache while they
    /// encode row `r`, so that the next amax pass finds it there.
    fn ahead(&self, r: usize) -> &[f32] {
        match (self.direction, S::as_f32s(self.src)) {
            (Direction::Rowwise, Some(x)) if r + 1 < self.rows => {
                &x[(r + 1) * self.cols..(r + 2) * self.cols]
            }
            _ => &[],
        }
    }

    /// Encodes stored rows `r0..r1` with the current band's maps into
    /// `data`, which starts at element `e0`.
    fn rows(&self, r0: usize, r1: usize, e0: usize, st: &mut State, data: &mut [u8]) {
        let g = self.grid;
        let fp4 = F::Elem::PACKED;
        let packing = if fp4 {
            Packing::Nibbles
        } else {
            Packing::Bytes
        };
        let mut buf = core::mem::take(&mut st.row);
        let mut rand = core::mem::take(&mut st.rand);
        let sr = self.rounding.is_stochastic();
        let counter = match self.rounding {
            TensorRounding::Stochastic8 { seed } => Some(seed),
            _ => None,
        };
        // With an encode kernel, each row's random bits are drawn up front
        // (by a kernel when it can), in the order the portable path draws
        // them: per tile, row-major, none for constant (zero) tiles. The
        // counter's bits are made inside the encode kernel where it can
        // (`encode_row_counter`), else staged always: each is a function
        // of its place.
        let staged = sr && (self.kernels.encode_row.is_some() || counter.is_some());
        let words = (g.tr * g.tc).div_ceil(8) as u64;
        for r in r0..r1 {
            let row = self.row(r, &mut buf);
            let e = r * g.scols - e0;
            let ti = r / g.tr;
            let at = ((ti * g.tiles_c) as u64, words, g.tc, (r - ti * g.tr) * g.tc);
            // The encode kernel, where it takes the row (FP4 rows must
            // start a byte and pair their blocks' elements), and the row's
            // share of `data`.
            let kernel = match (&self.codec, self.kernels.encode_row) {
                (Some(codec), Some(encode_row))
                    if !fp4
                        || (e.is_multiple_of(2) && (g.tc.is_multiple_of(2) || g.tiles_c == 1)) =>
                {
                    Some((codec, encode_row))
                }
                _ => None,
            };
            let out = if fp4 {
                e / 2..(e + row.len()).div_ceil(2)
            } else {
                e..e + row.len()
            };
            // The counter's bits made inside the encode kernel, where it can.
            if let (Some(seed), Some((codec, _)), Some(fused)) =
                (counter, kernel, self.kernels.encode_row_counter)
                && fused(
                    codec,
                    &st.maps,
                    g.tc,
                    row,
                    seed,
                    at,
                    &mut data[out.clone()],
                    packing,
                    self.ahead(r),
                )
            {
                continue;
            }
            if let Some(seed) = counter {
                rand.resize(row.len(), 0);
                if !self
                    .kernels
                    .sr_counter
                    .is_some_and(|k| k(seed, at, &mut rand))
                {
                    counter_row(seed, at, &mut st.words, &mut rand);
                }
            } else if staged {
                rand.resize(row.len(), 0);
                for (tj, c) in st.counts.iter_mut().enumerate() {
                    *c = match st.maps[tj] {
                        ElementMap::Zero(_) => 0,
                        _ => (row.len() - tj * g.tc).min(g.tc) as u32,
                    };
                }
                let drawn = match self.kernels.sr_draws {
                    Some(sr_draws) if st.simd_rng => {
                        sr_draws(&mut st.xs, &st.counts, g.tc, &mut rand);
                        true
                    }
                    _ => false,
                };
                if !drawn {
                    for (tj, seg) in rand.chunks_mut(g.tc).enumerate() {
                        if st.counts[tj] > 0 {
                            let rng = &mut st.rngs[tj];
                            for v in seg {
                                *v = rng.next_u32();
                            }
                        }
                    }
                }
            }
            if let Some((codec, encode_row)) = kernel {
                let rnd = staged.then_some(&rand[..]);
                encode_row(
                    codec,
                    &st.maps,
                    g.tc,
                    row,
                    rnd,
                    &mut data[out],
                    packing,
                    self.ahead(r),
                );
                continue;
            }
            for (tj, seg) in row.chunks(g.tc).enumerate() {
                let map = st.maps[tj];
                for (k, &x) in seg.iter().enumerate() {
                    let x = if self.cast.flush_subnormals {
                        crate::element::flush_subnormal(x)
                    } else {
                        x
                    };
                    let code = match map.apply(x) {
                        None => match map {
                            ElementMap::Zero(code) => code,
                            _ => 0,
                        },
                        Some(v) => {
                            let bits = if !sr {
                                None
                            } else if staged {
                                Some(RandomBits::full(rand[tj * g.tc + k]))
                            } else {
                                Some(RandomBits::from_rng(&mut st.rngs[tj]))
                            };
                            let o = match bits {
                                None => self.elem_opts.with_rounding(Rounding::NearestEven),
                                Some(b) => self.elem_opts.with_rounding(Rounding::Stochastic(b)),
                            };
                            self.cast.encode::<F::Elem>(v, o).to_bits()
                        }
                    };
                    nibble::put(data, e + tj * g.tc + k, code, fp4);
                }
            }
        }
        st.row = buf;
        st.rand = rand;
    }
}

#[cfg(test)]
mod tests;
