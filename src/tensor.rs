//! Quantized tensors: a 2-D matrix (batch dimensions flattened into rows)
//! quantized with any [`BlockFormat`], and back.

use crate::element::slice::Real;
use crate::element::{RandomBits, Rounding};
use crate::error::check_len;
use crate::format::{BlockFormat, ScaleCodec, check_tile};
use crate::metrics::{ErrorMetrics, compare};
use crate::scale::ElementMap;
use crate::{Element, Error};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

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
        rows.checked_mul(cols).ok_or_else(|| {
            Error::InvalidArgument(format!("shape {rows}x{cols} overflows usize"))
        })?;
        let (srows, scols) = match dir {
            Direction::Rowwise => (rows, cols),
            Direction::Columnwise => (cols, rows),
        };
        let (tr, tc) = f.block().tile(srows, scols);
        check_tile(tr, tc)?;
        if partial == PartialBlocks::Reject && (srows % tr != 0 || scols % tc != 0) {
            return Err(Error::InvalidArgument(format!(
                "{}: a {srows}x{scols} matrix ({dir:?}) is not a whole number of {tr}x{tc} blocks; pad it or use PartialBlocks::ZeroPad",
                f.name()
            )));
        }
        Ok(Grid {
            srows,
            scols,
            tr,
            tc,
            tiles_r: srows.div_ceil(tr),
            tiles_c: scols.div_ceil(tc),
        })
    }

    fn tile_of(&self, r: usize, c: usize) -> usize {
        (r / self.tr) * self.tiles_c + c / self.tc
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

impl<F: BlockFormat> QuantizedTensor<F> {
    /// Quantizes the row-major `rows × cols` matrix `src` (f32, f16, bf16, or
    /// f64 rounded to f32 first) with `format`.
    ///
    /// For the tensor amax A (NaN if any element is NaN) or
    /// `opts.global_amax`, and each tile of amax a_b, the format gives the
    /// stored scale and the element map ([`BlockFormat`]); each element is
    /// `F::Elem::from_f32_with(map(x), format.element_options())` with the
    /// tensor's rounding.
    ///
    /// Errors: `src.len() != rows·cols` ([`Error::LengthMismatch`]); a shape
    /// that is not a whole number of blocks under [`PartialBlocks::Reject`],
    /// or a zero-sized block ([`Error::InvalidArgument`]). Empty tensors are
    /// fine and have no scales.
    pub fn quantize<S: Real>(
        format: F,
        src: &[S],
        rows: usize,
        cols: usize,
        opts: &QuantizeOptions,
    ) -> Result<Self, Error> {
        let grid = Grid::new(&format, rows, cols, opts.direction, opts.partial_blocks)?;
        check_len("input", rows * cols, src.len())?;
        // The matrix in stored orientation.
        let x: Vec<f32> = match opts.direction {
            Direction::Rowwise => src.iter().map(|v| v.to_f32()).collect(),
            Direction::Columnwise => {
                let mut t = vec![0f32; src.len()];
                for r in 0..rows {
                    for c in 0..cols {
                        t[c * rows + r] = src[r * cols + c].to_f32();
                    }
                }
                t
            }
        };
        let amax = opts
            .global_amax
            .unwrap_or_else(|| amax_of(x.iter().copied()));
        let global = format.global(amax);
        let elem_opts = format.element_options();
        let mut codes = vec![0u8; x.len()];
        let mut scales = Vec::with_capacity(grid.tiles_r * grid.tiles_c);
        for ti in 0..grid.tiles_r {
            let r0 = ti * grid.tr;
            let r1 = (r0 + grid.tr).min(grid.srows);
            for tj in 0..grid.tiles_c {
                let c0 = tj * grid.tc;
                let c1 = (c0 + grid.tc).min(grid.scols);
                let rows_of = || {
                    (r0..r1)
                        .flat_map(|r| x[r * grid.scols + c0..r * grid.scols + c1].iter().copied())
                };
                let (s, map, _) = format.block_scale(amax_of(rows_of()), &global);
                scales.push(s);
                let mut rng = match opts.rounding {
                    TensorRounding::NearestEven => None,
                    TensorRounding::Stochastic { seed } => {
                        let t = (ti * grid.tiles_c + tj) as u64;
                        Some(Xoshiro256PlusPlus::seed_from_u64(
                            splitmix64(seed) ^ splitmix64(t),
                        ))
                    }
                };
                for r in r0..r1 {
                    for c in c0..c1 {
                        let i = r * grid.scols + c;
                        codes[i] = match map.apply(x[i]) {
                            None => match map {
                                ElementMap::Zero(code) => code,
                                _ => 0,
                            },
                            Some(v) => {
                                let o = match rng.as_mut() {
                                    None => elem_opts.with_rounding(Rounding::NearestEven),
                                    Some(g) => elem_opts.with_rounding(Rounding::Stochastic(
                                        RandomBits::from_rng(g),
                                    )),
                                };
                                F::Elem::from_f32_with(v, o).to_bits()
                            }
                        };
                    }
                }
            }
        }
        let data = if F::Elem::BITS == 4 {
            codes
                .chunks(2)
                .map(|p| (p[0] & 0xF) | (p.get(1).map_or(0, |h| h & 0xF) << 4))
                .collect()
        } else {
            codes
        };
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
    pub fn dequantize_into(&self, out: &mut [f32]) -> Result<(), Error> {
        check_len("output", self.rows * self.cols, out.len())?;
        let (sr, sc) = self.stored_shape();
        let (tr, tc) = self.format.block().tile(sr, sc);
        let grid = Grid {
            srows: sr,
            scols: sc,
            tr,
            tc,
            tiles_r: sr.div_ceil(tr),
            tiles_c: sc.div_ceil(tc),
        };
        let factors: Vec<f32> = self
            .scales
            .iter()
            .map(|&s| self.format.dequant_factor(s, &self.global))
            .collect();
        for r in 0..sr {
            for c in 0..sc {
                let v = self.code(r * sc + c).to_f32() * factors[grid.tile_of(r, c)];
                match self.direction {
                    Direction::Rowwise => out[r * sc + c] = v,
                    Direction::Columnwise => out[c * sr + r] = v,
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

/// Bits per element of a format on a `rows × cols` tensor, scales included
/// (the global scale counted as 32 bits).
pub fn bits_per_element<F: BlockFormat>(format: &F, rows: usize, cols: usize) -> f64 {
    let (tr, tc) = format.block().tile(rows, cols);
    let n = (rows * cols) as f64;
    let tiles = (rows.div_ceil(tr) * cols.div_ceil(tc)) as f64;
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
    F::Elem::BITS as f64 + (tiles * scale_bits + global) / n
}
