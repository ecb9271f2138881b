//! Quantized tensors: a 2-D matrix (batch dimensions flattened into rows)
//! quantized with any [`BlockFormat`], and back.

use crate::element::slice::Real;
use crate::element::{RandomBits, Rounding};
use crate::error::check_len;
use crate::format::{BlockFormat, BlockShape, ScaleCodec, check_tile};
use crate::metrics::{ErrorMetrics, compare};
use crate::scale::ElementMap;
use crate::simd::{Codec, Level, Packing, Pre};
use crate::{Element, Error};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rayon::prelude::*;

/// Which way the blocks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Direction {
    /// Blocks run along each row (the contiguous axis); data is stored as given.
    #[default]
    Rowwise,
    /// Blocks run down each column: the tensor is quantized as its
    /// transpose, and the data and scales are stored transposed
    /// (`cols × rows`), as Transformer Engine stores columnwise NVFP4 and FP8
    /// blockwise data. The scaling direction changes the numbers: a 1×k
    /// tensor's columnwise copy is quantized afresh from the high-precision
    /// input with its own block amaxes. With 2-D tiles it equals the rowwise
    /// copy transposed, bit for bit.
    Columnwise,
}

/// How elements are rounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TensorRounding {
    /// Round to nearest, ties to even.
    #[default]
    NearestEven,
    /// Stochastic rounding. Block `t` (tiles numbered row-major in the stored
    /// orientation) draws 32 random bits per element, in row-major order
    /// inside the tile, from a Xoshiro256++ stream seeded with
    /// `splitmix64(seed) ^ splitmix64(t)`: so the bytes depend only on seed,
    /// input and shape, never on threads or chunking.
    Stochastic {
        /// The seed.
        seed: u64,
    },
}

/// What to do when a blocked axis is not a multiple of the block size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PartialBlocks {
    /// Return [`Error::InvalidArgument`] (Transformer Engine's behaviour).
    #[default]
    Reject,
    /// Treat the tensor as padded with zeros to whole blocks: the last
    /// blocks' amaxes cover the elements present (zeros change no amax),
    /// the scale matrix has ⌈rows/r⌉ × ⌈cols/c⌉ entries and the data holds
    /// only the real elements (Model-Optimizer pads the same way).
    ZeroPad,
}

/// Options of [`QuantizedTensor::quantize`].
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct QuantizeOptions {
    /// Block direction.
    pub direction: Direction,
    /// Element rounding.
    pub rounding: TensorRounding,
    /// Partial blocks.
    pub partial_blocks: PartialBlocks,
    /// A tensor amax to use instead of this tensor's own (amax reduced
    /// across shards, or a calibrated static scale). NVFP4 and FP8
    /// per-tensor scaling use it; MX and FP8 blockwise have no tensor scale.
    pub global_amax: Option<f32>,
}

/// A tensor quantized with format `F`.
///
/// Holds the element codes (FP4 packed two per byte, low nibble first; other
/// formats one per byte, FP6 in the low 6 bits), the scales (row-major,
/// one per tile), the per-tensor quantities, the logical shape and the
/// direction.
#[derive(Clone, Debug)]
pub struct QuantizedTensor<F: BlockFormat> {
    format: F,
    rows: usize,
    cols: usize,
    direction: Direction,
    data: Vec<u8>,
    scales: Vec<F::Scale>,
    global: F::Global,
}

pub(crate) fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The geometry of a stored matrix and its tiles.
#[derive(Clone, Copy)]
struct Grid {
    srows: usize,
    scols: usize,
    tr: usize,
    tc: usize,
    tiles_r: usize,
    tiles_c: usize,
}

impl Grid {
    fn new<F: BlockFormat>(
        f: &F,
        rows: usize,
        cols: usize,
        dir: Direction,
        partial: PartialBlocks,
    ) -> Result<Grid, Error> {
        f.validate()?;
        rows.checked_mul(cols).ok_or_else(|| {
            Error::InvalidArgument(format!("shape {rows}x{cols} overflows usize"))
        })?;
        let (srows, scols) = match dir {
            Direction::Rowwise => (rows, cols),
            Direction::Columnwise => (cols, rows),
        };
        // Whole blocks are judged on the format's own block; the tile
        // geometry below is clamped to the matrix (`BlockShape::tile`).
        if let BlockShape::Tile { rows: br, cols: bc } = f.block() {
            check_tile(br, bc)?;
            if partial == PartialBlocks::Reject && (srows % br != 0 || scols % bc != 0) {
                return Err(Error::InvalidArgument(format!(
                    "{}: a {srows}x{scols} matrix ({dir:?}) is not a whole number of {br}x{bc} blocks; pad it or use PartialBlocks::ZeroPad",
                    f.name()
                )));
            }
        }
        let (tr, tc) = f.block().tile(srows, scols);
        Ok(Grid {
            srows,
            scols,
            tr,
            tc,
            tiles_r: srows.div_ceil(tr),
            tiles_c: scols.div_ceil(tc),
        })
    }
}

fn packed_len<T: Element>(n: usize) -> usize {
    if T::BITS == 4 { n.div_ceil(2) } else { n }
}

/// Max |x| with NaN propagating (a NaN anywhere makes the amax NaN).
fn amax_of(it: impl Iterator<Item = f32>) -> f32 {
    it.fold(0.0f32, |m, x| {
        if m.is_nan() || x.is_nan() {
            f32::NAN
        } else {
            m.max(x.abs())
        }
    })
}

/// Tensors with at least this many elements (2¹⁸ = 262 144) are quantized
/// and dequantized on rayon's thread pool, in chunks of about 2¹⁶ elements
/// (whole tile rows); smaller ones on the calling thread. The bytes do not
/// depend on it.
///
/// ```
/// assert_eq!(blockscale::tensor::PARALLEL_MIN_ELEMENTS, 1 << 18);
/// ```
pub const PARALLEL_MIN_ELEMENTS: usize = 1 << 18;

/// Elements per parallel work item (rounded to whole tile rows).
const CHUNK_ELEMENTS: usize = 1 << 16;

/// [`amax_of`] over a whole input, in SIMD and in parallel where allowed;
/// max is exact and order-free, so the result is the same.
fn amax_par<S: Real>(level: Level, src: &[S], parallel: bool) -> f32 {
    let one = |c: &[S]| match S::as_f32s(c).and_then(|x| crate::simd::amax(level, x)) {
        Some(a) => a,
        None => amax_of(c.iter().map(|v| v.to_f32())),
    };
    if parallel {
        src.par_chunks(CHUNK_ELEMENTS)
            .map(one)
            .reduce(|| 0.0, fold_amax)
    } else {
        one(src)
    }
}

/// The amax of two parts: NaN if either is.
fn fold_amax(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else {
        a.max(b)
    }
}

/// The element map as the kernels take it.
fn pre_of(map: ElementMap) -> Pre {
    match map {
        ElementMap::Mul(m) => Pre::Mul(m),
        ElementMap::Div(d) => Pre::Div(d),
        ElementMap::DivDiv(a, b) => Pre::DivDiv(a, b),
        ElementMap::Zero(code) => Pre::Fill(code),
    }
}

/// Writes element `i`'s code into `data` (a nibble for FP4).
#[inline]
fn put<T: Element>(data: &mut [u8], i: usize, code: u8) {
    if T::BITS == 4 {
        let sh = 4 * (i % 2);
        data[i / 2] = (data[i / 2] & !(0xF << sh)) | ((code & 0xF) << sh);
    } else {
        data[i] = code;
    }
}

/// Everything one quantization needs, shared by its threads.
struct Job<'a, F: BlockFormat, S: Real> {
    format: &'a F,
    global: F::Global,
    grid: Grid,
    level: Level,
    codec: Option<Codec>,
    elem_opts: crate::element::ConvertOptions,
    rounding: TensorRounding,
    src: &'a [S],
    rows: usize,
    cols: usize,
    direction: Direction,
    /// The amax of the one tile that covers the matrix, when known.
    whole_amax: Option<f32>,
}

/// Per-thread buffers, sized by a band (never by the tensor).
struct State {
    row: Vec<f32>,
    amax: Vec<f32>,
    block_amax: Vec<f32>,
    maps: Vec<ElementMap>,
    pres: Vec<Pre>,
    rngs: Vec<Xoshiro256PlusPlus>,
    /// Whether `xs` (kernel-held Xoshiro256++ states) replaces `rngs`.
    simd_rng: bool,
    /// Xoshiro256++ states of the band's tiles, word-major (4 × tiles).
    xs: Vec<u64>,
    /// Draws per tile in the current row.
    counts: Vec<u32>,
    rand: Vec<u32>,
}

impl<F: BlockFormat, S: Real> Job<'_, F, S> {
    fn state(&self) -> State {
        let g = &self.grid;
        State {
            row: Vec::new(),
            amax: vec![0.0; g.tiles_c],
            block_amax: vec![0.0; g.tiles_c],
            maps: vec![ElementMap::Zero(0); g.tiles_c],
            pres: vec![Pre::Fill(0); g.tiles_c],
            rngs: Vec::new(),
            simd_rng: false,
            xs: vec![0; 4 * g.tiles_c],
            counts: vec![0; g.tiles_c],
            rand: Vec::new(),
        }
    }

    /// Stored row `r` as f32: in place for rowwise f32 input, else staged.
    fn row<'b>(&'b self, r: usize, buf: &'b mut Vec<f32>) -> &'b [f32] {
        let (rows, cols) = (self.rows, self.cols);
        match self.direction {
            Direction::Rowwise => match S::as_f32s(self.src) {
                Some(x) => &x[r * cols..(r + 1) * cols],
                None => {
                    buf.clear();
                    buf.extend(
                        self.src[r * cols..(r + 1) * cols]
                            .iter()
                            .map(|v| v.to_f32()),
                    );
                    buf
                }
            },
            Direction::Columnwise => {
                buf.clear();
                buf.extend((0..rows).map(|c| self.src[c * cols + r].to_f32()));
                buf
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
            self.band_maps(ti, &mut st, &mut scales[(ti - t0) * tc..(ti - t0 + 1) * tc]);
            let r0 = ti * g.tr;
            let r1 = (r0 + g.tr).min(g.srows);
            self.rows(r0, r1, e0, &mut st, data);
        }
    }

    /// The amaxes, scales and maps of tile row `ti` (and its random streams).
    fn band_maps(&self, ti: usize, st: &mut State, scales: &mut [F::Scale]) {
        let g = self.grid;
        let r0 = ti * g.tr;
        let r1 = (r0 + g.tr).min(g.srows);
        match self.whole_amax {
            Some(a) => st.amax.fill(a),
            None if r1 - r0 == 1 => {
                let mut buf = core::mem::take(&mut st.row);
                let row = self.row(r0, &mut buf);
                self.block_amaxes(row, &mut st.amax);
                st.row = buf;
            }
            None => {
                st.amax.fill(0.0);
                let mut buf = core::mem::take(&mut st.row);
                for r in r0..r1 {
                    let row = self.row(r, &mut buf);
                    self.block_amaxes(row, &mut st.block_amax);
                    for (a, &b) in st.amax.iter_mut().zip(&st.block_amax) {
                        *a = fold_amax(*a, b);
                    }
                }
                st.row = buf;
            }
        }
        self.format
            .block_scales(self.level, &st.amax, &self.global, scales, &mut st.maps);
        for (p, &m) in st.pres.iter_mut().zip(&st.maps) {
            *p = pre_of(m);
        }
        st.rngs.clear();
        if let TensorRounding::Stochastic { seed } = self.rounding {
            let t0 = (ti * g.tiles_c) as u64;
            st.simd_rng = crate::simd::sr_seed(self.level, splitmix64(seed), t0, &mut st.xs);
            if !st.simd_rng {
                st.rngs.extend((0..g.tiles_c).map(|tj| {
                    let t = t0 + tj as u64;
                    Xoshiro256PlusPlus::seed_from_u64(splitmix64(seed) ^ splitmix64(t))
                }));
            }
        }
    }

    /// The amax of each tile's segment of one stored row.
    fn block_amaxes(&self, row: &[f32], out: &mut [f32]) {
        let tc = self.grid.tc;
        if crate::simd::block_amaxes(self.level, row, tc, out) {
            return;
        }
        for (o, seg) in out.iter_mut().zip(row.chunks(tc)) {
            *o = match crate::simd::amax(self.level, seg) {
                Some(a) => a,
                None => amax_of(seg.iter().copied()),
            };
        }
    }

    /// Encodes stored rows `r0..r1` with the current band's maps into
    /// `data`, which starts at element `e0`.
    fn rows(&self, r0: usize, r1: usize, e0: usize, st: &mut State, data: &mut [u8]) {
        let g = self.grid;
        let fp4 = F::Elem::BITS == 4;
        let packing = if fp4 {
            Packing::Nibbles
        } else {
            Packing::Bytes
        };
        let mut buf = core::mem::take(&mut st.row);
        let mut rand = core::mem::take(&mut st.rand);
        let sr = matches!(self.rounding, TensorRounding::Stochastic { .. });
        // Off the portable path, each row's random bits are drawn up front
        // (by a kernel when it can), in the order the portable path draws
        // them: per tile, row-major, none for constant (zero) tiles.
        let staged = sr && self.level != Level::Portable;
        for r in r0..r1 {
            let row = self.row(r, &mut buf);
            let e = r * g.scols - e0;
            if staged {
                rand.resize(row.len(), 0);
                for (tj, c) in st.counts.iter_mut().enumerate() {
                    *c = match st.maps[tj] {
                        ElementMap::Zero(_) => 0,
                        _ => (row.len() - tj * g.tc).min(g.tc) as u32,
                    };
                }
                if !(st.simd_rng
                    && crate::simd::sr_draws(self.level, &mut st.xs, &st.counts, g.tc, &mut rand))
                {
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
            if let Some(codec) = &self.codec
                && (!fp4 || (e.is_multiple_of(2) && (g.tc.is_multiple_of(2) || g.tiles_c == 1)))
            {
                let out = if fp4 {
                    &mut data[e / 2..(e + row.len()).div_ceil(2)]
                } else {
                    &mut data[e..e + row.len()]
                };
                let rnd = staged.then_some(&rand[..]);
                if crate::simd::encode_row(
                    self.level, codec, &st.pres, g.tc, row, rnd, out, packing,
                ) {
                    continue;
                }
            }
            for (tj, seg) in row.chunks(g.tc).enumerate() {
                let map = st.maps[tj];
                for (k, &x) in seg.iter().enumerate() {
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
                            F::Elem::from_f32_with(v, o).to_bits()
                        }
                    };
                    put::<F::Elem>(data, e + tj * g.tc + k, code);
                }
            }
        }
        st.row = buf;
        st.rand = rand;
    }
}

impl<F: BlockFormat> QuantizedTensor<F> {
    /// Quantizes the row-major `rows × cols` matrix `src` (f32, f16, bf16, or
    /// f64 rounded to f32 first) with `format`.
    ///
    /// For the tensor amax A (NaN if any element is NaN) or
    /// `opts.global_amax`, and each tile of amax a_b, the format gives the
    /// stored scale and the element map ([`BlockFormat`]); each element is
    /// `F::Elem::from_f32_with(map(x), format.element_options())` with the
    /// tensor's rounding. A is computed only for formats with a global
    /// scale ([`BlockFormat::has_global_scale`]); the others get
    /// `format.global(0.0)`.
    ///
    /// The work runs in SIMD kernels where the CPU has them
    /// ([`crate::simd`]) and on rayon's thread pool for tensors of at least
    /// [`PARALLEL_MIN_ELEMENTS`] elements; the bytes are identical either
    /// way (stochastic rounding draws from one stream per tile). Memory: the
    /// output plus one stored row per thread (f16/bf16/f64 and columnwise
    /// input are staged a row at a time).
    ///
    /// Errors: `src.len() != rows·cols` ([`Error::LengthMismatch`]); a shape
    /// that is not a whole number of blocks under [`PartialBlocks::Reject`],
    /// a `rows·cols` that overflows `usize`, format parameters
    /// [`BlockFormat::validate`] rejects, or an `opts.global_amax` that is
    /// NaN or negative ([`Error::InvalidArgument`]). Empty tensors are
    /// fine and have no scales.
    pub fn quantize<S: Real>(
        format: F,
        src: &[S],
        rows: usize,
        cols: usize,
        opts: &QuantizeOptions,
    ) -> Result<Self, Error> {
        let grid = Grid::new(&format, rows, cols, opts.direction, opts.partial_blocks)?;
        // Zeroed by the allocator (fresh pages), then written once.
        let mut data = vec![0u8; packed_len::<F::Elem>(rows * cols)];
        let mut scales = vec![<F::Scale as ScaleCodec>::PAD; grid.tiles_r * grid.tiles_c];
        let global = Self::quantize_parts(&format, src, rows, cols, opts, &mut data, &mut scales)?;
        Ok(QuantizedTensor {
            format,
            rows,
            cols,
            direction: opts.direction,
            data,
            scales,
            global,
        })
    }

    /// Quantizes `src` again with this tensor's format, into this tensor's
    /// buffers: the result equals [`Self::quantize`] with the same
    /// arguments, byte for byte, without allocating when the shape is
    /// unchanged (as when the activations of every training step are
    /// quantized). On error the tensor is left as it was.
    ///
    /// ```
    /// use blockscale::format::Nvfp4;
    /// use blockscale::tensor::{QuantizedTensor, QuantizeOptions};
    /// let o = QuantizeOptions::default();
    /// let mut q = QuantizedTensor::quantize(Nvfp4::default(), &[1.0f32; 32], 2, 16, &o)?;
    /// let step2: Vec<f32> = (0..32).map(|i| i as f32).collect();
    /// q.requantize(&step2, 2, 16, &o)?;
    /// let fresh = QuantizedTensor::quantize(Nvfp4::default(), &step2, 2, 16, &o)?;
    /// assert_eq!((q.data(), q.scales()), (fresh.data(), fresh.scales()));
    /// assert!(q.requantize(&step2, 3, 16, &o).is_err()); // 48 elements needed
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn requantize<S: Real>(
        &mut self,
        src: &[S],
        rows: usize,
        cols: usize,
        opts: &QuantizeOptions,
    ) -> Result<(), Error> {
        self.global = Self::quantize_parts(
            &self.format,
            src,
            rows,
            cols,
            opts,
            &mut self.data,
            &mut self.scales,
        )?;
        self.rows = rows;
        self.cols = cols;
        self.direction = opts.direction;
        Ok(())
    }

    /// The quantizer: validates, then fills `data` and `scales` (resized
    /// as needed; every byte is written) and returns the global.
    fn quantize_parts<S: Real>(
        format: &F,
        src: &[S],
        rows: usize,
        cols: usize,
        opts: &QuantizeOptions,
        data: &mut Vec<u8>,
        scales: &mut Vec<F::Scale>,
    ) -> Result<F::Global, Error> {
        let level = crate::simd::active();
        let grid = Grid::new(format, rows, cols, opts.direction, opts.partial_blocks)?;
        check_len("input", rows * cols, src.len())?;
        let n = rows * cols;
        let parallel = n >= PARALLEL_MIN_ELEMENTS && rayon::current_num_threads() > 1;
        let whole = matches!(format.block(), BlockShape::Tensor);
        let tensor_amax = || amax_par(level, src, parallel);
        let amax = match opts.global_amax {
            Some(a) if a.is_nan() || a < 0.0 => {
                return Err(Error::InvalidArgument(format!(
                    "global_amax {a} is not a non-negative number"
                )));
            }
            Some(a) => a,
            None if format.has_global_scale() || whole => tensor_amax(),
            None => 0.0,
        };
        // One tile covering the whole matrix has the tensor's amax.
        let whole_amax = match (whole, opts.global_amax) {
            (false, _) => None,
            (true, None) => Some(amax),
            (true, Some(_)) => Some(tensor_amax()),
        };
        let global = format.global(amax);
        let elem_opts = format.element_options();
        let job = Job {
            format,
            global,
            grid,
            level,
            codec: match level {
                Level::Portable => None,
                _ => crate::simd::codec::<F::Elem>(elem_opts),
            },
            elem_opts,
            rounding: opts.rounding,
            src,
            rows,
            cols,
            direction: opts.direction,
            whole_amax,
        };
        data.resize(packed_len::<F::Elem>(n), 0);
        scales.resize(grid.tiles_r * grid.tiles_c, <F::Scale as ScaleCodec>::PAD);
        if F::Elem::BITS == 4 && n % 2 == 1 {
            // The unused high nibble of an odd count is zero.
            data[n / 2] = 0;
        }
        let (data, scales) = (&mut data[..], &mut scales[..]);
        let fp4 = F::Elem::BITS == 4;
        let band = grid.tr * grid.scols;
        if !parallel || band == 0 {
            job.bands(0, grid.tiles_r, data, scales);
        } else if grid.tiles_r == 1 {
            // One band (a whole-tensor scale): its maps first, then its rows in parallel.
            let mut st = job.state();
            job.band_maps(0, &mut st, scales);
            let rows_per = (CHUNK_ELEMENTS / grid.scols.max(1)).max(1);
            let rows_per = if fp4 && !grid.scols.is_multiple_of(2) {
                rows_per.next_multiple_of(2)
            } else {
                rows_per
            };
            let bytes_per = packed_len::<F::Elem>(rows_per * grid.scols);
            let sr = matches!(opts.rounding, TensorRounding::Stochastic { .. });
            if sr {
                // One random stream per tile, drawn in row-major order.
                job.rows(0, grid.srows, 0, &mut st, data);
            } else {
                let st = &st;
                data.par_chunks_mut(bytes_per)
                    .enumerate()
                    .for_each(|(k, chunk)| {
                        let r0 = k * rows_per;
                        let r1 = (r0 + rows_per).min(grid.srows);
                        let mut own = job.state();
                        own.maps.clone_from(&st.maps);
                        own.pres.clone_from(&st.pres);
                        job.rows(r0, r1, r0 * grid.scols, &mut own, chunk);
                    });
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
                    job.bands(t0, (t0 + per).min(grid.tiles_r), d, s);
                });
        }
        Ok(global)
    }

    /// Builds a tensor from raw parts produced elsewhere: `data` in this
    /// crate's layout (see the type's docs), `scales` row-major per tile,
    /// and the tensor amax for formats with a global scale.
    ///
    /// Errors if a length does not match the shape, the shape is not whole
    /// blocks (partial blocks are accepted with [`PartialBlocks::ZeroPad`]
    /// semantics when `partial` says so), or a global amax is missing or given
    /// needlessly.
    pub fn from_parts(
        format: F,
        (rows, cols): (usize, usize),
        direction: Direction,
        partial: PartialBlocks,
        data: Vec<u8>,
        scales: Vec<F::Scale>,
        global_amax: Option<f32>,
    ) -> Result<Self, Error> {
        let grid = Grid::new(&format, rows, cols, direction, partial)?;
        let want = packed_len::<F::Elem>(rows * cols);
        check_len("data", want, data.len())?;
        check_len("scales", grid.tiles_r * grid.tiles_c, scales.len())?;
        let amax = match (format.has_global_scale(), global_amax) {
            (true, Some(a)) => a,
            (false, None) => 0.0,
            (true, None) => {
                return Err(Error::InvalidArgument(format!(
                    "{} needs the tensor amax",
                    format.name()
                )));
            }
            (false, Some(_)) => {
                return Err(Error::InvalidArgument(format!(
                    "{} has no global scale",
                    format.name()
                )));
            }
        };
        let global = format.global(amax);
        Ok(QuantizedTensor {
            format,
            rows,
            cols,
            direction,
            data,
            scales,
            global,
        })
    }

    /// The format.
    pub fn format(&self) -> &F {
        &self.format
    }
    /// The logical shape `(rows, cols)` of the quantized matrix.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
    /// The block direction.
    pub fn direction(&self) -> Direction {
        self.direction
    }
    /// The shape of the stored matrix: `(rows, cols)` rowwise, `(cols, rows)` columnwise.
    pub fn stored_shape(&self) -> (usize, usize) {
        match self.direction {
            Direction::Rowwise => (self.rows, self.cols),
            Direction::Columnwise => (self.cols, self.rows),
        }
    }
    /// The shape of the scale matrix (tiles down, tiles across the stored matrix).
    pub fn scale_shape(&self) -> (usize, usize) {
        let (sr, sc) = self.stored_shape();
        let (tr, tc) = self.format.block().tile(sr, sc);
        (sr.div_ceil(tr), sc.div_ceil(tc))
    }
    /// The element bytes (FP4 packed, low nibble = even element).
    pub fn data(&self) -> &[u8] {
        &self.data
    }
    /// The scales, row-major over the scale matrix.
    pub fn scales(&self) -> &[F::Scale] {
        &self.scales
    }
    /// The scales in `layout`: row-major (as [`Self::scales`]), or the
    /// cuBLAS/tcgen05 128×4 swizzled layout that block-scaled GPU GEMMs read,
    /// padded to ⌈rows/128⌉·128 × ⌈cols/4⌉·4 with zero bytes.
    ///
    /// ```
    /// use blockscale::format::Nvfp4;
    /// use blockscale::layout::ScaleLayout;
    /// use blockscale::tensor::{QuantizedTensor, QuantizeOptions};
    /// let q = QuantizedTensor::quantize(Nvfp4::default(), &[1.0f32; 2 * 32], 2, 32, &QuantizeOptions::default())?;
    /// let sw = q.scales_in(ScaleLayout::Swizzled)?;
    /// assert_eq!(sw.len(), 128 * 4);
    /// // (r, c) lives at (r % 32)·16 + ((r % 128) / 32)·4 + c % 4 in the first tile.
    /// assert_eq!((sw[0], sw[1], sw[16], sw[17]), (q.scales()[0], q.scales()[1], q.scales()[2], q.scales()[3]));
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn scales_in(&self, layout: crate::layout::ScaleLayout) -> Result<Vec<F::Scale>, Error> {
        match layout {
            crate::layout::ScaleLayout::RowMajor => Ok(self.scales.clone()),
            crate::layout::ScaleLayout::Swizzled => {
                let (r, c) = self.scale_shape();
                crate::layout::swizzle(&self.scales, r, c, <F::Scale as ScaleCodec>::PAD)
            }
        }
    }

    /// The per-tensor quantities.
    pub fn global(&self) -> &F::Global {
        &self.global
    }
    /// The tensor amax, for formats with a global scale.
    pub fn global_amax(&self) -> Option<f32> {
        self.format.global_amax(&self.global)
    }

    /// The element at stored position `(r, c)`, or `None` outside the stored matrix.
    pub fn element(&self, r: usize, c: usize) -> Option<F::Elem> {
        let (sr, sc) = self.stored_shape();
        (r < sr && c < sc).then(|| self.code(r * sc + c))
    }

    fn code(&self, i: usize) -> F::Elem {
        if F::Elem::BITS == 4 {
            F::Elem::from_bits(self.data[i / 2] >> (4 * (i % 2)))
        } else {
            F::Elem::from_bits(self.data[i])
        }
    }

    /// The scale of the tile holding stored position `(r, c)`.
    pub fn scale_at(&self, r: usize, c: usize) -> Option<F::Scale> {
        let (sr, sc) = self.stored_shape();
        if r >= sr || c >= sc {
            return None;
        }
        let (tr, tc) = self.format.block().tile(sr, sc);
        let tiles_c = sc.div_ceil(tc);
        Some(self.scales[(r / tr) * tiles_c + c / tc])
    }

    /// Dequantizes into `out`, in the logical (not stored) orientation:
    /// `x̂ = q · F::dequant_factor(scale, global)`, one f32 multiplication.
    ///
    /// Runs in SIMD kernels where the CPU has them and on rayon's pool
    /// from [`PARALLEL_MIN_ELEMENTS`] elements on; the values are the same
    /// either way. Allocates nothing but one row of factors per thread.
    ///
    /// Errors: [`Error::LengthMismatch`] unless `out.len() == rows·cols`.
    ///
    /// ```
    /// use blockscale::format::MxFp8E4M3;
    /// use blockscale::tensor::{QuantizedTensor, QuantizeOptions};
    /// let x: Vec<f32> = (0..64).map(|i| (i % 8) as f32 - 4.0).collect();
    /// let q = QuantizedTensor::quantize(MxFp8E4M3::default(), &x, 2, 32, &QuantizeOptions::default())?;
    /// let mut y = vec![0f32; 64];
    /// q.dequantize_into(&mut y)?;
    /// assert_eq!(y, x); // small integers are exact in MXFP8
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn dequantize_into(&self, out: &mut [f32]) -> Result<(), Error> {
        check_len("output", self.rows * self.cols, out.len())?;
        let level = crate::simd::active();
        let (sr, sc) = self.stored_shape();
        let (tr, tc) = self.format.block().tile(sr, sc);
        let tiles_c = sc.div_ceil(tc);
        let n = out.len();
        if n == 0 {
            return Ok(());
        }
        let parallel = n >= PARALLEL_MIN_ELEMENTS && rayon::current_num_threads() > 1;
        let factor = |r: usize, tj: usize| {
            self.format
                .dequant_factor(self.scales[(r / tr) * tiles_c + tj], &self.global)
        };
        match self.direction {
            Direction::Rowwise => {
                let fp4 = F::Elem::BITS == 4;
                let packing = if fp4 {
                    Packing::Nibbles
                } else {
                    Packing::Bytes
                };
                let rows_per = (CHUNK_ELEMENTS / sc).max(1);
                let work = |r0: usize, chunk: &mut [f32]| {
                    let mut factors = vec![0f32; tiles_c];
                    let mut band = usize::MAX;
                    for (k, o) in chunk.chunks_mut(sc).enumerate() {
                        let r = r0 + k;
                        if r / tr != band {
                            band = r / tr;
                            for (tj, f) in factors.iter_mut().enumerate() {
                                *f = factor(r, tj);
                            }
                        }
                        let e = r * sc;
                        if !fp4 || (e.is_multiple_of(2) && (tc.is_multiple_of(2) || tiles_c == 1)) {
                            let src = if fp4 {
                                &self.data[e / 2..(e + sc).div_ceil(2)]
                            } else {
                                &self.data[e..e + sc]
                            };
                            if crate::simd::decode_row(
                                level,
                                F::Elem::DECODE,
                                F::Elem::BITS,
                                src,
                                o,
                                Some((&factors, tc)),
                                packing,
                            ) {
                                continue;
                            }
                        }
                        for (c, v) in o.iter_mut().enumerate() {
                            *v = self.code(e + c).to_f32() * factors[c / tc];
                        }
                    }
                };
                if parallel {
                    out.par_chunks_mut(rows_per * sc)
                        .enumerate()
                        .for_each(|(k, chunk)| work(k * rows_per, chunk));
                } else {
                    work(0, out);
                }
            }
            Direction::Columnwise => {
                // Logical row i is stored column i.
                let work = |i: usize, o: &mut [f32]| {
                    for (c, v) in o.iter_mut().enumerate() {
                        *v = self.code(c * sc + i).to_f32() * factor(c, i / tc);
                    }
                };
                if parallel {
                    out.par_chunks_mut(self.cols)
                        .enumerate()
                        .for_each(|(i, o)| work(i, o));
                } else {
                    for (i, o) in out.chunks_mut(self.cols).enumerate() {
                        work(i, o);
                    }
                }
            }
        }
        Ok(())
    }

    /// Dequantizes to a new row-major `rows × cols` f32 matrix.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows * self.cols];
        self.dequantize_into(&mut out)
            .expect("output has the tensor's length");
        out
    }

    /// Quantize then dequantize in one call: the forward pass of
    /// quantization-aware training. With a straight-through estimator the
    /// backward pass treats this as the identity, so callers pass gradients
    /// through unchanged.
    ///
    /// ```
    /// use blockscale::format::MxFp4;
    /// use blockscale::tensor::{QuantizedTensor, QuantizeOptions};
    /// let y = QuantizedTensor::fake_quantize(MxFp4::default(), &[0.3f32; 32], 1, 32, &QuantizeOptions::default())?;
    /// assert_eq!(y[0], 0.25); // RCEIL: X = 2^⌈log2(0.3/6)⌉ = 2^-4; 0.3/X = 4.8 → 4
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn fake_quantize<S: Real>(
        format: F,
        src: &[S],
        rows: usize,
        cols: usize,
        opts: &QuantizeOptions,
    ) -> Result<Vec<f32>, Error> {
        Ok(Self::quantize(format, src, rows, cols, opts)?.dequantize())
    }

    /// Error metrics of this tensor against the `reference` it was
    /// quantized from (row-major, logical orientation), including the
    /// fraction of elements clipped at the element format's maximum
    /// (|q| = max and |x| > |x̂|).
    pub fn error_metrics(&self, reference: &[f32]) -> Result<ErrorMetrics, Error> {
        let approx = if reference.len() == self.rows * self.cols {
            self.dequantize()
        } else {
            Vec::new()
        };
        let mut m = compare(reference, &approx)?;
        let (sr, sc) = self.stored_shape();
        let max = F::Elem::MAX_F32;
        let mut saturated = 0usize;
        for r in 0..sr {
            for c in 0..sc {
                let li = match self.direction {
                    Direction::Rowwise => r * sc + c,
                    Direction::Columnwise => c * sr + r,
                };
                let q = self.code(r * sc + c).to_f32();
                if q.abs() == max && reference[li].abs() > approx[li].abs() {
                    saturated += 1;
                }
            }
        }
        if !reference.is_empty() {
            m.saturated = saturated as f64 / reference.len() as f64;
        }
        Ok(m)
    }
}

/// Bits per element of a format on a `rows × cols` tensor (rowwise,
/// partial blocks counted as whole ones), scales included: the element
/// width plus `(tiles · scale bits + global bits) / (rows · cols)`, with
/// 8-bit E4M3/E8M0 scales, 32-bit FP32 scales, and a 32-bit global scale
/// for formats that have one besides 8-bit block scales (NVFP4).
///
/// Errors ([`Error::InvalidArgument`]): an empty tensor, a `rows · cols`
/// that overflows `usize`, or format parameters [`BlockFormat::validate`]
/// rejects.
///
/// ```
/// use blockscale::format::{MxFp8E4M3, Nvfp4};
/// use blockscale::tensor::bits_per_element;
/// assert_eq!(bits_per_element(&MxFp8E4M3::default(), 4, 64)?, 8.25); // 8 + 8/32
/// assert_eq!(bits_per_element(&Nvfp4::default(), 1, 16)?, 4.0 + (8.0 + 32.0) / 16.0);
/// assert!(bits_per_element(&Nvfp4::default(), 0, 16).is_err());
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn bits_per_element<F: BlockFormat>(
    format: &F,
    rows: usize,
    cols: usize,
) -> Result<f64, Error> {
    let grid = Grid::new(
        format,
        rows,
        cols,
        Direction::Rowwise,
        PartialBlocks::ZeroPad,
    )?;
    if rows == 0 || cols == 0 {
        return Err(Error::InvalidArgument(format!(
            "bits per element of an empty {rows}x{cols} tensor"
        )));
    }
    let n = rows as f64 * cols as f64;
    let tiles = grid.tiles_r as f64 * grid.tiles_c as f64;
    let scale_bits = if <F::Scale as ScaleCodec>::NAME == "F32" {
        32.0
    } else {
        8.0
    };
    let global = if format.has_global_scale() && <F::Scale as ScaleCodec>::NAME != "F32" {
        32.0
    } else {
        0.0
    };
    Ok(F::Elem::BITS as f64 + (tiles * scale_bits + global) / n)
}
