//! The quantizer's entry: checks, the tensor amax pass (in [`super::amax`]),
//! then its bands ([`super::bands`]) on this thread or rayon's pool; the
//! bytes are the same either way.

use super::amax::{KEEP_TILE_AMAXES_MAX, amax_par, tile_amaxes_par};
use super::bands::Job;
use super::{
    Direction, Grid, PARALLEL_MIN_ELEMENTS, QuantizeOptions, QuantizedTensor, check_global_amax,
    packed_len,
};
use crate::element::slice::Real;
use crate::error::check_len;
use crate::format::{BlockFormat, BlockShape, ScaleCodec};
use crate::par::*;
use crate::prelude::*;
use crate::{Element, Error};

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
    /// Every argument is checked before anything is allocated, so a shape
    /// far larger than `src` is an error, not an allocation failure.
    ///
    /// Errors: `src.len() != rows·cols` ([`Error::LengthMismatch`]); a shape
    /// that is not a whole number of blocks under [`PartialBlocks::Reject`](super::PartialBlocks::Reject)
    /// ([`Error::NotWholeBlocks`]); a `rows·cols` that overflows `usize`
    /// ([`Error::ShapeOverflow`]); format parameters [`BlockFormat::validate`]
    /// rejects ([`Error::InvalidArgument`]); an `opts.global_amax` that is
    /// NaN, ±Inf or negative (−0 counts as +0) ([`Error::InvalidValue`]).
    /// Empty tensors are fine and have no scales.
    ///
    /// ```
    /// use blockscale::format::{MxFp8E4M3, Nvfp4};
    /// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
    /// use blockscale::Error;
    /// let o = QuantizeOptions::default();
    /// // 2⁴⁰ elements asked of a source of 32: refused before the 1 TiB output is allocated.
    /// let huge = QuantizedTensor::quantize(MxFp8E4M3::default(), &[1.0f32; 32], 1 << 20, 1 << 20, &o);
    /// assert!(matches!(huge, Err(Error::LengthMismatch { what: "input", expected: 1_099_511_627_776, found: 32 })));
    /// assert!(QuantizedTensor::quantize(MxFp8E4M3::default(), &[1.0f32; 32], usize::MAX, 32, &o).is_err());
    /// let inf = QuantizeOptions { global_amax: Some(f32::INFINITY), ..o };
    /// assert!(matches!(
    ///     QuantizedTensor::quantize(Nvfp4::default(), &[1.0f32; 16], 1, 16, &inf),
    ///     Err(Error::InvalidValue { .. })
    /// ));
    /// ```
    pub fn quantize<S: Real>(
        format: F,
        src: &[S],
        rows: usize,
        cols: usize,
        opts: &QuantizeOptions,
    ) -> Result<Self, Error> {
        // Allocated by `quantize_parts`, once every argument is checked.
        let (mut data, mut scales) = (Vec::new(), Vec::new());
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
    /// Errors: those of [`Self::quantize`], checked before the buffers are
    /// touched or grown.
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
    /// assert!(q.requantize(&step2, 1 << 20, 1 << 20, &o).is_err()); // 2⁴⁰ needed, nothing allocated
    /// assert_eq!(q.shape(), (2, 16)); // unchanged by the errors
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

    /// The quantizer: checks every argument, then (and only then) sizes
    /// `data` and `scales`, fills them (every byte is written) and returns
    /// the global.
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
        let kernels = crate::simd::kernels(level);
        let grid = Grid::new(format, rows, cols, opts.direction, opts.partial_blocks)?;
        check_len("input", rows * cols, src.len())?;
        let n = rows * cols;
        let parallel = n >= PARALLEL_MIN_ELEMENTS && current_num_threads() > 1;
        let whole = matches!(format.block(), BlockShape::Tensor);
        let tensor_amax = || amax_par(kernels, src, parallel);
        // A tensor amax pass over f32 rows of whole tiles one row tall
        // keeps each tile's amax for the bands below (up to a size, see
        // `KEEP_TILE_AMAXES_MAX`); elsewhere, and where the buffer cannot
        // be had, each band computes its tiles' amaxes itself.
        let mut kept = Vec::new();
        let keep = match S::as_f32s(src) {
            Some(x)
                if format.has_global_scale()
                    && opts.global_amax.is_none()
                    && !whole
                    && opts.direction == Direction::Rowwise
                    && grid.tr == 1
                    && (1..=KEEP_TILE_AMAXES_MAX).contains(&n)
                    && cols.is_multiple_of(grid.tc)
                    && kept.try_reserve_exact(n / grid.tc).is_ok() =>
            {
                kept.resize(n / grid.tc, 0.0);
                Some(x)
            }
            _ => None,
        };
        let amax = match (opts.global_amax, keep) {
            (Some(a), _) => check_global_amax(a)?,
            (None, Some(x)) => tile_amaxes_par(kernels, x, grid.tc, &mut kept, parallel),
            (None, None) if format.has_global_scale() || whole => tensor_amax(),
            (None, None) => 0.0,
        };
        // One tile covering the whole matrix has the tensor's amax.
        let whole_amax = match (whole, opts.global_amax) {
            (false, _) => None,
            (true, None) => Some(amax),
            (true, Some(_)) => Some(tensor_amax()),
        };
        let global = format.global(amax);
        let elem_opts = format.element_options();
        let cast = format.element_cast();
        let job = Job {
            format,
            global,
            grid,
            kernels,
            codec: kernels
                .encode_row
                .filter(|_| cast == crate::element::CastRule::IEEE)
                .and_then(|_| crate::element::kernel_codec::<F::Elem>(elem_opts)),
            elem_opts,
            cast,
            rounding: opts.rounding,
            src,
            rows,
            cols,
            direction: opts.direction,
            whole_amax,
            tile_amaxes: keep.map(|_| &kept[..]),
        };
        let len = packed_len::<F::Elem>(n);
        if data.capacity() < len {
            // A fresh buffer is zeroed by the allocator (fresh pages), then
            // written once; resizing would copy and zero it first.
            *data = vec![0u8; len];
        } else {
            data.resize(len, 0);
        }
        scales.resize(grid.tiles_r * grid.tiles_c, <F::Scale as ScaleCodec>::PAD);
        if n == 0 {
            // No elements, no scales; an empty tensor may still be 0 × 2⁴⁰,
            // and the per-band buffers below are sized by its tiles across.
            return Ok(global);
        }
        if F::Elem::PACKED && n % 2 == 1 {
            // The unused high nibble of an odd count is zero.
            data[n / 2] = 0;
        }
        job.run(level, parallel, &mut data[..], &mut scales[..]);
        Ok(global)
    }
}
