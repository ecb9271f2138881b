//! Quantized tensors: a 2-D matrix (batch dimensions flattened into rows)
//! quantized with any [`BlockFormat`], and back.
//!
//! This file holds the container, its options and accessors; the quantizer
//! is in `quantize.rs` (its amax passes in `amax.rs`), the dequantizer in
//! `dequantize.rs`, and the layout and reshaping views in `relayout.rs`.

mod amax;
mod any;
mod bands;
mod dequantize;
mod fnuz;
mod quantize;
mod relayout;
mod row_scaled;

#[cfg(feature = "std")]
pub(crate) use amax::tensor_amax;
pub use any::{AnyQuantized, QuantizedView, TensorVisitor};
pub use row_scaled::RowScaled;

use crate::element::nibble;
use crate::element::slice::Real;
use crate::error::check_len;
use crate::format::{BlockFormat, BlockShape, ScaleCodec, check_tile};
#[cfg(feature = "std")]
use crate::metrics::{ErrorMetrics, compare};
use crate::prelude::*;
use crate::{Element, Error};

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
#[non_exhaustive]
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
    /// Stochastic rounding with 8 random bits per element, the resolution
    /// of the GPUs' `cvt.rs` and of Transformer Engine's software fallback
    /// (docs/SEMANTICS.md): an element a fraction f of the way up its gap
    /// rounds up with probability ⌊256·f⌋/256. The bits come from a
    /// counter, not a stream: the words of SplitMix64 seeded with `seed`
    /// (`rand_xoshiro::SplitMix64::seed_from_u64(seed)`), in order, give
    /// their bytes, least significant first, to the tensor's elements in
    /// tile order: tiles numbered row-major in the stored orientation,
    /// each taking ⌈tr·tc/8⌉ words for its tr × tc positions (the block,
    /// or the matrix where that is smaller), row-major inside it, a
    /// ragged edge tile leaving its missing positions' bytes unused. Each
    /// element's bits depend only on seed, shape and its place, so the
    /// bytes never depend on threads or chunking, and the bits cost a
    /// fraction of [`TensorRounding::Stochastic`]'s.
    ///
    /// ```
    /// use blockscale::format::Nvfp4;
    /// use blockscale::tensor::{QuantizeOptions, QuantizedTensor, TensorRounding};
    /// # fn main() -> Result<(), blockscale::Error> {
    /// // Blocks of 16 whose largest is 6.0 keep a scale of 1, so 0.75
    /// // lies halfway between E2M1's 0.5 and 1.0.
    /// let x: Vec<f32> = (0..4096).map(|i| if i % 16 == 0 { 6.0 } else { 0.75 }).collect();
    /// let rounding = TensorRounding::Stochastic8 { seed: 1 };
    /// let opts = QuantizeOptions { rounding, ..Default::default() };
    /// let q = QuantizedTensor::quantize(Nvfp4::default(), &x, 1, 4096, &opts)?;
    /// let y = q.dequantize();
    /// let mid: Vec<f32> = y.into_iter().filter(|&v| v != 6.0).collect();
    /// assert!(mid.iter().all(|&v| v == 0.5 || v == 1.0));
    /// let up = mid.iter().filter(|&&v| v == 1.0).count() as f64 / mid.len() as f64;
    /// assert!((up - 0.5).abs() < 0.05, "{up}");
    /// # Ok(())
    /// # }
    /// ```
    Stochastic8 {
        /// The seed.
        seed: u64,
    },
}

impl TensorRounding {
    /// Whether elements are rounded stochastically (either kind).
    ///
    /// ```
    /// use blockscale::tensor::TensorRounding;
    /// assert!(TensorRounding::Stochastic8 { seed: 3 }.is_stochastic());
    /// assert!(!TensorRounding::NearestEven.is_stochastic());
    /// ```
    pub const fn is_stochastic(&self) -> bool {
        !matches!(self, TensorRounding::NearestEven)
    }
}

/// What to do when a blocked axis is not a multiple of the block size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PartialBlocks {
    /// Return [`Error::NotWholeBlocks`] (Transformer Engine's behaviour).
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
///
/// ```
/// use blockscale::format::{MxFp4, ScaleCodec};
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
///
/// let x: Vec<f32> = (0..64).map(|i| (i as f32 - 32.0) / 4.0).collect();
/// let q = QuantizedTensor::quantize(MxFp4::default(), &x, 2, 32, &QuantizeOptions::default())?;
/// assert_eq!((q.shape(), q.scale_shape()), ((2, 32), (2, 1)));
/// assert_eq!(q.data().len(), 32); // two E2M1 codes per byte
/// assert_eq!(q.scales()[0].value(), 2.0); // row 0's amax 8 = 4·2: scale 2²
/// assert_eq!(q.element(0, 0).unwrap().to_f32() * 2.0, -8.0);
/// assert_eq!(q.dequantize()[..3], [-8.0, -8.0, -8.0]);
/// # Ok::<(), blockscale::Error>(())
/// ```
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
pub(crate) const CHUNK_ELEMENTS: usize = 1 << 16;

/// The geometry of a stored matrix and its tiles.
#[derive(Clone, Copy)]
pub(crate) struct Grid {
    pub(crate) srows: usize,
    pub(crate) scols: usize,
    pub(crate) tr: usize,
    pub(crate) tc: usize,
    pub(crate) tiles_r: usize,
    pub(crate) tiles_c: usize,
}

impl Grid {
    pub(crate) fn new<F: BlockFormat>(
        f: &F,
        rows: usize,
        cols: usize,
        dir: Direction,
        partial: PartialBlocks,
    ) -> Result<Grid, Error> {
        f.validate()?;
        crate::error::checked_area("input", rows, cols)?;
        let (srows, scols) = match dir {
            Direction::Rowwise => (rows, cols),
            Direction::Columnwise => (cols, rows),
        };
        // Whole blocks are judged on the format's own block; the tile
        // geometry below is clamped to the matrix (`BlockShape::tile`).
        if let BlockShape::Tile { rows: br, cols: bc } = f.block() {
            check_tile(br, bc)?;
            if partial == PartialBlocks::Reject && (srows % br != 0 || scols % bc != 0) {
                return Err(Error::NotWholeBlocks {
                    what: format!(
                        "{} ({dir:?}; pad it or use PartialBlocks::ZeroPad)",
                        f.name()
                    ),
                    shape: (srows, scols),
                    block: (br, bc),
                });
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

/// The caller's tensor amax ([`QuantizeOptions::global_amax`] or
/// [`QuantizedTensor::from_parts`]'s), checked one way for quantize,
/// requantize and `from_parts`: finite and non-negative. A NaN would make
/// every scale NaN and +Inf every value ±Inf or NaN, silently; an amax
/// computed from the data may still be NaN or +Inf, as the data says.
/// Returns the amax to use: −0 counts as +0, so that it gives +0's bytes.
fn check_global_amax(amax: f32) -> Result<f32, Error> {
    if amax.is_finite() && amax >= 0.0 {
        Ok(amax.abs())
    } else {
        Err(Error::InvalidValue {
            what: "global amax".into(),
            value: amax.into(),
            expected: "a finite non-negative number",
        })
    }
}

/// Bytes that hold `n` elements of `T`.
pub(crate) fn packed_len<T: Element>(n: usize) -> usize {
    nibble::packed_len(n, T::PACKED)
}

impl<F: BlockFormat> QuantizedTensor<F> {
    /// Builds a tensor from raw parts produced elsewhere: `data` in this
    /// crate's layout (see the type's docs), `scales` row-major per tile,
    /// and the tensor amax for formats with a global scale.
    ///
    /// Takes no copy: the tensor owns `data` and `scales` as given. Scales
    /// are taken as stored, NaN encodings included (E8M0 0xFF and E4M3
    /// S.1111.111 are NaN, and the quantizers write them for blocks holding
    /// a NaN; FP32 scales may be NaN or ±Inf, as torchao's and
    /// compressed-tensors' FP8 factors are for blocks holding a NaN or ±Inf,
    /// [`crate::scale::fp8::Fp8Profile`]).
    ///
    /// Errors:
    /// - [`Error::LengthMismatch`] if `data` or `scales` does not have the
    ///   length the shape needs;
    /// - [`Error::ShapeOverflow`] if `rows·cols` overflows `usize`;
    /// - [`Error::NotWholeBlocks`] if the shape is not whole blocks (partial
    ///   blocks are accepted with [`PartialBlocks::ZeroPad`] semantics when
    ///   `partial` says so);
    /// - [`Error::InvalidValue`] if a global amax is NaN, ±Inf or negative
    ///   (−0 counts as +0);
    /// - [`Error::InvalidArgument`] if the format's parameters fail
    ///   [`BlockFormat::validate`], or a global amax is missing or given
    ///   needlessly.
    ///
    /// ```
    /// use blockscale::format::Nvfp4;
    /// use blockscale::tensor::{Direction, PartialBlocks, QuantizedTensor};
    /// use blockscale::E4M3;
    ///
    /// // 16 E2M1 codes of 1.0 (0x2) from a kernel, block scale 2, amax 12.
    /// let q = QuantizedTensor::from_parts(
    ///     Nvfp4::default(), (1, 16), Direction::Rowwise, PartialBlocks::Reject,
    ///     vec![0x22; 8], vec![E4M3::from_f32(2.0)], Some(12.0),
    /// )?;
    /// // x̂ = q · s_b · (A / 2688): 1 · 2 · 12/2688.
    /// assert_eq!(q.dequantize()[0], 2.0 * (12.0f32 / 2688.0));
    /// assert!(QuantizedTensor::from_parts(
    ///     Nvfp4::default(), (1, 16), Direction::Rowwise, PartialBlocks::Reject,
    ///     vec![0x22; 7], vec![E4M3::from_f32(2.0)], Some(12.0),
    /// ).is_err()); // one byte short
    /// // A shape of 2⁴⁰ elements with 8 bytes of data: refused, nothing allocated.
    /// assert!(matches!(
    ///     QuantizedTensor::from_parts(
    ///         Nvfp4::default(), (1 << 20, 1 << 20), Direction::Rowwise, PartialBlocks::Reject,
    ///         vec![0x22; 8], vec![E4M3::from_f32(2.0)], Some(12.0),
    ///     ),
    ///     Err(blockscale::Error::LengthMismatch { what: "data", .. })
    /// ));
    /// assert!(QuantizedTensor::from_parts(
    ///     Nvfp4::default(), (1, 16), Direction::Rowwise, PartialBlocks::Reject,
    ///     vec![0x22; 8], vec![E4M3::from_f32(2.0)], Some(f32::INFINITY),
    /// ).is_err()); // an amax that is not finite
    /// # Ok::<(), blockscale::Error>(())
    /// ```
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
            (true, Some(a)) => check_global_amax(a)?,
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

    pub(crate) fn code(&self, i: usize) -> F::Elem {
        F::Elem::from_bits(nibble::get(&self.data, i, F::Elem::PACKED))
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
    /// quantized from (row-major, logical orientation; any [`Real`] type,
    /// compared in f64), including the fraction of elements clipped at the
    /// element format's maximum (|q| = max and |x| > |x̂|).
    ///
    /// Errors: [`Error::LengthMismatch`] naming `reference` unless it has
    /// `rows·cols` elements.
    ///
    /// ```
    /// use blockscale::format::MxFp8E4M3;
    /// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
    /// let x: Vec<f32> = (0..32).map(|i| 1.0 + i as f32 / 64.0).collect();
    /// let q = QuantizedTensor::quantize(MxFp8E4M3::default(), &x, 1, 32, &QuantizeOptions::default())?;
    /// let m = q.error_metrics(&x)?;
    /// assert_eq!(m.count, 32);
    /// assert!(m.sqnr_db > 30.0 && m.max_rel <= 1.0 / 16.0);
    /// assert_eq!(q.error_metrics(&x[..31]).unwrap_err().to_string(), "reference has 31 elements, but 32 are needed");
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    #[cfg(feature = "std")]
    pub fn error_metrics<S: Real>(&self, reference: &[S]) -> Result<ErrorMetrics, Error> {
        check_len("reference", self.rows * self.cols, reference.len())?;
        let approx = self.dequantize();
        let mut m = compare(reference, &approx)?;
        if !reference.is_empty() {
            m.saturated = self.clipped(reference, &approx) as f64 / reference.len() as f64;
        }
        Ok(m)
    }

    /// How many elements are clipped at the element format's maximum:
    /// |q| = max and |x| > |x̂|, for the `reference` and its approximation
    /// `approx` (both logical row-major, of this tensor's length).
    #[cfg(feature = "std")]
    pub(crate) fn clipped<S: Real>(&self, reference: &[S], approx: &[f32]) -> usize {
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
                if q.abs() == max && reference[li].to_f64().abs() > f64::from(approx[li].abs()) {
                    saturated += 1;
                }
            }
        }
        saturated
    }
}

/// Bits per element of a format on a `rows × cols` tensor (rowwise,
/// partial blocks counted as whole ones), scales included: the element
/// width plus `(tiles · scale bits + global bits) / (rows · cols)`, with
/// 8-bit E4M3/E8M0 scales, 32-bit FP32 scales, and a 32-bit global scale
/// for formats that have one besides 8-bit block scales (NVFP4).
///
/// Errors: an empty tensor or format parameters [`BlockFormat::validate`]
/// rejects ([`Error::InvalidArgument`]), a `rows · cols` that overflows
/// `usize` ([`Error::ShapeOverflow`]).
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
    let scale_bits = <F::Scale as ScaleCodec>::BITS as f64;
    // A per-tensor FP32 scale besides 8-bit block scales (NVFP4); FP8
    // per-tensor's one FP32 scale is its block scale.
    let global = if format.has_global_scale() && scale_bits < 32.0 {
        32.0
    } else {
        0.0
    };
    Ok(F::Elem::BITS as f64 + (tiles * scale_bits + global) / n)
}
