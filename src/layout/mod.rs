//! Scale layouts: how the 2-D matrix of block scales is laid out in memory
//! for the kernel that reads it.
//!
//! A block-scaled matrix carries a 2-D matrix of block scales, one per block:
//! a 256×64 NVFP4 tensor with 1×16 blocks has a 256×4 scale matrix, where
//! scale row `r` belongs to data row `r` (the M or N dimension of a GEMM)
//! and scale column `c` to data columns `16c..16c+16` (the K blocks). This
//! module moves such a matrix, given row-major, into each layout a GPU
//! kernel or checkpoint reads ([`ScaleLayout`], with `pack` and `unpack`),
//! one expert after another for a stack of experts
//! ([`ScaleLayout::pack_batch`]). With `R` the rows, `C` the columns,
//! `rup(a, b)` a rounded up to a multiple of b:
//!
//! | layout | read by | size | offset of `(r, c)` |
//! |---|---|---|---|
//! | [`RowMajor`](ScaleLayout::RowMajor) | checkpoints, quantizer outputs, FlashInfer `layout_linear`, TE's 1-D "compact" | `R·C` | `r·C + c` |
//! | [`Swizzled`](ScaleLayout::Swizzled) (128×4) | cuBLAS, `tcgen05.mma`, TE, torchao, CUTLASS, FlashInfer `layout_128x4` | `rup(R,128)·rup(C,4)` | `((r/128)·rup(C,4)/4 + c/4)·512 + (r%32)·16 + ((r%128)/32)·4 + c%4` |
//! | [`Swizzled8x4`](ScaleLayout::Swizzled8x4) | FlashInfer `layout_8x4` (trtllm-gen, small M) | `rup(R,8)·rup(C,4)` | `((r/8)·rup(C,4)/4 + c/4)·32 + (r%8)·4 + c%4` |
//! | [`MnMajor`](ScaleLayout::MnMajor) | TE FP8 blockwise 1×128 "GEMM-ready", DeepGEMM FP32 (TMA-aligned) | `C·rup(R,4)` | `c·rup(R,4) + r` |
//! | [`PackedUe8m0`](ScaleLayout::PackedUe8m0) | DeepGEMM on SM100 (four UE8M0 per int32) | `4·rup(C,4)/4·rup(R,4)` bytes | `4·((c/4)·rup(R,4) + r) + c%4` |
//! | [`RowMajorPad4`](ScaleLayout::RowMajorPad4) | TE FP8 blockwise 128×128 "GEMM-ready" | `R·rup(C,4)` | `r·rup(C,4) + c` |
//! | [`Gfx950`](ScaleLayout::Gfx950) (32×8) | AMD MI355 (CDNA4) MX GEMMs, aiter `e8m0_shuffle` | `rup(R,256)·rup(C,8)` | `(r/32)·32·rup(C,8) + (c/8)·256 + (c%4)·64 + (r%16)·4 + ((c/4)%2)·2 + (r/16)%2` |
//!
//! Element data has its layouts too ([`DataLayout`]): K-major or MN-major,
//! padded rows, FP6 one code per byte or four in three bytes.
//!
//! Padding cells get the value the caller passes (`pad`); the zero byte is
//! what cuBLAS, Transformer Engine, torchao and FlashInfer write. The
//! kernels read none of it, and aiter leaves it undefined.
//!
//! ```
//! use blockscale::layout::{swizzle, swizzled_offset, swizzled_shape, unswizzle};
//! // The scales of a 256×64 NVFP4 tensor (1×16 blocks): 256 rows × 4 columns.
//! let scales: Vec<u8> = (0..256 * 4).map(|i| i as u8).collect();
//! assert_eq!(swizzled_shape(256, 4)?, (256, 4));
//! let swz = swizzle(&scales, 256, 4, 0)?;
//! assert_eq!(swz[swizzled_offset(33, 2, 4)], scales[33 * 4 + 2]);
//! assert_eq!(unswizzle(&swz, 256, 4)?, scales);
//! # Ok::<(), blockscale::Error>(())
//! ```

use crate::Error;
use crate::error::check_len;
use crate::prelude::*;

mod data;
mod swizzle;
pub use data::{DataLayout, Fp6Packing, Major};
pub use swizzle::{
    swizzle, swizzle_into, swizzled_offset, swizzled_shape, unswizzle, unswizzle_into,
};

/// Rows of one swizzled tile.
const TILE_ROWS: usize = 128;
/// Columns of one swizzled tile.
const TILE_COLS: usize = 4;
/// Elements of one swizzled tile (512 bytes for one-byte scales).
const TILE_LEN: usize = TILE_ROWS * TILE_COLS;

/// How a 2-D matrix of block scales (`rows` × `cols`, one scale per block)
/// is laid out in memory; the module documentation tabulates them.
///
/// Each is a one-to-one map of the cells into a buffer of
/// [`storage_len`](ScaleLayout::storage_len) elements
/// ([`offset`](ScaleLayout::offset)); [`pack`](ScaleLayout::pack) and
/// [`unpack`](ScaleLayout::unpack) move a row-major matrix in and out.
///
/// ```
/// use blockscale::layout::ScaleLayout;
/// assert_eq!(ScaleLayout::default(), ScaleLayout::RowMajor);
/// // A 200×5 scale matrix: 1000 cells row-major, 256×8 = 2048 swizzled.
/// assert_eq!(ScaleLayout::RowMajor.storage_len(200, 5)?, 1000);
/// assert_eq!(ScaleLayout::Swizzled.storage_len(200, 5)?, 2048);
/// let l: ScaleLayout = "packed_ue8m0".parse()?;
/// assert_eq!(l, ScaleLayout::PackedUe8m0);
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ScaleLayout {
    /// Plain row-major `[rows, cols]`: scale `(r, c)` at `r·cols + c`, no
    /// padding. The layout of quantizer outputs and checkpoints, of
    /// FlashInfer's `layout_linear`, and of Transformer Engine's deprecated
    /// 1-D "compact" FP8 blockwise scales (TE 2.5 to 2.11).
    #[default]
    RowMajor,
    /// The cuBLAS / `tcgen05` "128×4" block-scaling-factor layout: padded to
    /// [`swizzled_shape`], scale `(r, c)` at [`swizzled_offset`]`(r, c, cols)`
    /// (Transformer Engine `tests/cpp/operator/test_swizzle.cu`,
    /// `compute_ref_swizzle`; torchao `mx_formats/utils.py::to_blocked`;
    /// CUTLASS `sm100_blockscaled_layout.hpp`; FlashInfer
    /// `get_sf_out_offset_128x4`).
    Swizzled,
    /// FlashInfer's `layout_8x4` (trtllm-gen GEMMs' activation scales for
    /// small M): 8×4 tiles of 32 elements, row-major inside a tile, tiles
    /// row-tile-major; rows padded to 8 and columns to 4
    /// (`quantization_utils.cuh`, `get_sf_out_offset_8x4`).
    Swizzled8x4,
    /// MN-major (column-major) with the rows padded to a multiple of 4 (16
    /// bytes of FP32, the TMA alignment): `(r, c)` at `c·rup(rows, 4) + r`.
    /// Transformer Engine's "GEMM-ready" 1×128 FP8 blockwise scales
    /// (`Float8BlockQuantizer::get_scale_shape`) and DeepGEMM's FP32 scales
    /// on SM90 (`get_mn_major_tma_aligned_tensor`).
    MnMajor,
    /// DeepGEMM's SM100 layout (`get_mn_major_tma_aligned_packed_ue8m0_tensor`):
    /// four consecutive K-block UE8M0 bytes in one little-endian 32-bit word
    /// (the lowest K block in the lowest byte), words MN-major with the rows
    /// padded to 4, the columns padded to 4 with zero bytes. Offsets count
    /// bytes, so the scales must be one byte each (E8M0).
    PackedUe8m0,
    /// Row-major with the columns padded to a multiple of 4: Transformer
    /// Engine's "GEMM-ready" 128×128 FP8 blockwise scales (rowwise; the
    /// columnwise copy is the transpose).
    RowMajorPad4,
    /// AMD MI355 (CDNA4, gfx950) MX GEMMs' pre-shuffled E8M0 scales, "32×8"
    /// (aiter `aiter/ops/shuffle.py::shuffle_scale`, reached through
    /// `aiter/utility/fp4_utils.py::e8m0_shuffle`; the same map as the HIP
    /// `mx_scale_shuffle_idx` and the Triton `_shuffle_scale_tile_gfx950`):
    /// rows padded to 256 and columns to 8, 32×8 tiles of 256 bytes, K tiles
    /// fastest within a 32-row stripe, and inside a tile the order
    /// `[c%4][r%16][(c/4)%2][(r/16)%2]`.
    Gfx950,
}

impl ScaleLayout {
    /// Every layout, in declaration order.
    pub const ALL: [ScaleLayout; 7] = [
        ScaleLayout::RowMajor,
        ScaleLayout::Swizzled,
        ScaleLayout::Swizzled8x4,
        ScaleLayout::MnMajor,
        ScaleLayout::PackedUe8m0,
        ScaleLayout::RowMajorPad4,
        ScaleLayout::Gfx950,
    ];

    /// The layout's name (`row_major`, `swizzled_128x4`, `swizzled_8x4`,
    /// `mn_major`, `packed_ue8m0`, `row_major_pad4`, `gfx950_32x8`), which
    /// [`str::parse`] reads back.
    ///
    /// ```
    /// use blockscale::layout::ScaleLayout;
    /// for l in ScaleLayout::ALL {
    ///     assert_eq!(l.name().parse::<ScaleLayout>()?, l);
    /// }
    /// assert!("swizzled".parse::<ScaleLayout>().is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            ScaleLayout::RowMajor => "row_major",
            ScaleLayout::Swizzled => "swizzled_128x4",
            ScaleLayout::Swizzled8x4 => "swizzled_8x4",
            ScaleLayout::MnMajor => "mn_major",
            ScaleLayout::PackedUe8m0 => "packed_ue8m0",
            ScaleLayout::RowMajorPad4 => "row_major_pad4",
            ScaleLayout::Gfx950 => "gfx950_32x8",
        }
    }

    /// The padded shape `(R, C)`: the layout holds the cells of an `R × C`
    /// matrix, of which the first `rows` rows and `cols` columns are the
    /// scales.
    ///
    /// Errors with [`Error::ShapeOverflow`] if `R·C` overflows `usize`.
    ///
    /// ```
    /// use blockscale::layout::ScaleLayout;
    /// assert_eq!(ScaleLayout::Swizzled8x4.padded_shape(5, 6)?, (8, 8));
    /// assert_eq!(ScaleLayout::Gfx950.padded_shape(5, 6)?, (256, 8));
    /// assert_eq!(ScaleLayout::MnMajor.padded_shape(5, 6)?, (8, 6));
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn padded_shape(self, rows: usize, cols: usize) -> Result<(usize, usize), Error> {
        let (mr, mc) = match self {
            ScaleLayout::RowMajor => (1, 1),
            ScaleLayout::Swizzled => (TILE_ROWS, TILE_COLS),
            ScaleLayout::Swizzled8x4 => (8, 4),
            ScaleLayout::MnMajor => (4, 1),
            ScaleLayout::PackedUe8m0 => (4, 4),
            ScaleLayout::RowMajorPad4 => (1, 4),
            ScaleLayout::Gfx950 => (256, 8),
        };
        let r = rows
            .checked_next_multiple_of(mr)
            .ok_or_else(|| overflow(rows, cols))?;
        let c = cols
            .checked_next_multiple_of(mc)
            .ok_or_else(|| overflow(rows, cols))?;
        r.checked_mul(c).ok_or_else(|| overflow(rows, cols))?;
        Ok((r, c))
    }

    /// Number of elements a `rows` × `cols` scale matrix occupies in this
    /// layout, `R·C` of [`padded_shape`](ScaleLayout::padded_shape) (bytes,
    /// for [`PackedUe8m0`](ScaleLayout::PackedUe8m0)).
    ///
    /// Errors with [`Error::ShapeOverflow`] if that count overflows `usize`.
    ///
    /// ```
    /// use blockscale::layout::ScaleLayout;
    /// assert_eq!(ScaleLayout::Swizzled.storage_len(1, 1)?, 512);
    /// assert_eq!(ScaleLayout::PackedUe8m0.storage_len(5, 6)?, 64); // 16 words
    /// assert!(ScaleLayout::RowMajor.storage_len(usize::MAX, 2).is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn storage_len(self, rows: usize, cols: usize) -> Result<usize, Error> {
        self.padded_shape(rows, cols).map(|(r, c)| r * c)
    }

    /// The offset of scale `(r, c)` of a `rows` × `cols` matrix in this
    /// layout (the module documentation has each formula).
    ///
    /// Precondition: `r < rows`, `c < cols`, and
    /// [`padded_shape`](ScaleLayout::padded_shape)`(rows, cols)` is `Ok`;
    /// then the offset is below [`storage_len`](ScaleLayout::storage_len)
    /// and distinct cells get distinct offsets. Outside it the result is
    /// unspecified (the arithmetic wraps), but the function never panics.
    ///
    /// ```
    /// use blockscale::layout::ScaleLayout as L;
    /// // A 5 × 6 scale matrix, cells (1, 2) and (4, 5).
    /// assert_eq!((L::Swizzled.offset(1, 2, 5, 6), L::Swizzled.offset(4, 5, 5, 6)), (18, 577));
    /// assert_eq!((L::MnMajor.offset(1, 2, 5, 6), L::MnMajor.offset(4, 5, 5, 6)), (17, 44));
    /// assert_eq!((L::Gfx950.offset(1, 2, 5, 6), L::Gfx950.offset(4, 5, 5, 6)), (132, 82));
    /// ```
    pub fn offset(self, r: usize, c: usize, rows: usize, cols: usize) -> usize {
        let rup = |a: usize, b: usize| a.div_ceil(b).wrapping_mul(b);
        match self {
            ScaleLayout::RowMajor => r.wrapping_mul(cols).wrapping_add(c),
            ScaleLayout::Swizzled => swizzled_offset(r, c, cols),
            ScaleLayout::Swizzled8x4 => (r / 8)
                .wrapping_mul(rup(cols, 4) / 4)
                .wrapping_add(c / 4)
                .wrapping_mul(32)
                .wrapping_add((r % 8) * 4 + c % 4),
            ScaleLayout::MnMajor => c.wrapping_mul(rup(rows, 4)).wrapping_add(r),
            ScaleLayout::PackedUe8m0 => (c / 4)
                .wrapping_mul(rup(rows, 4))
                .wrapping_add(r)
                .wrapping_mul(4)
                .wrapping_add(c % 4),
            ScaleLayout::RowMajorPad4 => r.wrapping_mul(rup(cols, 4)).wrapping_add(c),
            ScaleLayout::Gfx950 => (r / 32)
                .wrapping_mul(32)
                .wrapping_mul(rup(cols, 8))
                .wrapping_add((c / 8).wrapping_mul(256))
                .wrapping_add((c % 4) * 64 + (r % 16) * 4 + (c / 4 % 2) * 2 + r / 16 % 2),
        }
    }

    /// Lays the row-major `rows` × `cols` matrix `src` out in this layout,
    /// in a new buffer whose padding cells hold `pad` (see
    /// [`pack_into`](ScaleLayout::pack_into)).
    ///
    /// ```
    /// use blockscale::layout::ScaleLayout;
    /// // DeepGEMM's packing of a 2 × 6 UE8M0 matrix: rows pad to 4 and
    /// // columns to 8, so two groups of four 4-byte words.
    /// let src: Vec<u8> = (1..=12).collect();
    /// let p = ScaleLayout::PackedUe8m0.pack(&src, 2, 6, 0)?;
    /// assert_eq!(&p[..8], &[1, 2, 3, 4, 7, 8, 9, 10]); // rows 0 and 1, blocks 0..4
    /// assert_eq!(&p[16..24], &[5, 6, 0, 0, 11, 12, 0, 0]); // blocks 4..8
    /// assert_eq!(ScaleLayout::PackedUe8m0.unpack(&p, 2, 6)?, src);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn pack<T: Copy>(
        self,
        src: &[T],
        rows: usize,
        cols: usize,
        pad: T,
    ) -> Result<Vec<T>, Error> {
        if self == ScaleLayout::Swizzled {
            return swizzle(src, rows, cols, pad);
        }
        let len = self.storage_len(rows, cols)?;
        check_len("row-major scales", rows * cols, src.len())?;
        let mut dst = vec![pad; len];
        self.scatter(src, rows, cols, &mut dst);
        Ok(dst)
    }

    /// Lays the row-major `rows` × `cols` matrix `src` out in `dst`:
    /// `dst[offset(r, c, rows, cols)] = src[r·cols + c]`, and every other
    /// cell of `dst` (the padding) is set to `pad`.
    ///
    /// Errors: [`Error::ShapeOverflow`] if the padded size overflows
    /// `usize`; [`Error::LengthMismatch`] if `src.len() != rows·cols` or
    /// `dst.len()` is not [`storage_len`](ScaleLayout::storage_len). On
    /// error `dst` is untouched.
    ///
    /// ```
    /// use blockscale::layout::ScaleLayout;
    /// let mut dst = [9u8; 16];
    /// ScaleLayout::MnMajor.pack_into(&[1, 2, 3, 4, 5, 6], 3, 2, 0, &mut dst[..8])?;
    /// assert_eq!(&dst[..8], &[1, 3, 5, 0, 2, 4, 6, 0]);
    /// assert!(ScaleLayout::MnMajor.pack_into(&[1, 2], 1, 2, 0, &mut dst).is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn pack_into<T: Copy>(
        self,
        src: &[T],
        rows: usize,
        cols: usize,
        pad: T,
        dst: &mut [T],
    ) -> Result<(), Error> {
        if self == ScaleLayout::Swizzled {
            return swizzle_into(src, rows, cols, pad, dst);
        }
        let len = self.storage_len(rows, cols)?;
        check_len("row-major scales", rows * cols, src.len())?;
        check_len("laid-out scales", len, dst.len())?;
        dst.fill(pad);
        self.scatter(src, rows, cols, dst);
        Ok(())
    }

    /// The row-major `rows` × `cols` matrix back from a buffer in this
    /// layout, ignoring the padding: the inverse of
    /// [`pack`](ScaleLayout::pack).
    ///
    /// Errors: [`Error::ShapeOverflow`] if the padded size overflows
    /// `usize`; [`Error::LengthMismatch`] if `src.len()` is not
    /// [`storage_len`](ScaleLayout::storage_len).
    ///
    /// ```
    /// use blockscale::layout::ScaleLayout;
    /// let src: Vec<u16> = (0..300 * 7).collect();
    /// for l in ScaleLayout::ALL {
    ///     let packed = l.pack(&src, 300, 7, u16::MAX)?;
    ///     assert_eq!(l.unpack(&packed, 300, 7)?, src);
    /// }
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn unpack<T: Copy>(self, src: &[T], rows: usize, cols: usize) -> Result<Vec<T>, Error> {
        if self == ScaleLayout::Swizzled {
            return unswizzle(src, rows, cols);
        }
        let len = self.storage_len(rows, cols)?;
        check_len("laid-out scales", len, src.len())?;
        let mut out = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            out.extend((0..cols).map(|c| src[self.offset(r, c, rows, cols)]));
        }
        Ok(out)
    }

    /// [`pack`](ScaleLayout::pack) for a stack of `batch` matrices (one per
    /// expert or group, stored one after another in `src`): each laid out
    /// and padded on its own, expert `e` at `e ·`
    /// [`storage_len`](ScaleLayout::storage_len). That is FlashInfer's and
    /// CUTLASS's batched 128×4 layout (batch the outermost mode) and
    /// DeepGEMM's per-group one.
    ///
    /// Errors: as [`pack`](ScaleLayout::pack), with `batch·rows·cols`
    /// source elements.
    ///
    /// ```
    /// use blockscale::layout::ScaleLayout;
    /// let src = vec![1u8; 2 * 5 * 6];
    /// let p = ScaleLayout::Swizzled.pack_batch(&src, 2, 5, 6, 0)?;
    /// assert_eq!(p.len(), 2 * 1024);
    /// assert_eq!(p[1024 + 577], 1); // expert 1, cell (4, 5)
    /// assert_eq!(ScaleLayout::Swizzled.unpack_batch(&p, 2, 5, 6)?, src);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn pack_batch<T: Copy>(
        self,
        src: &[T],
        batch: usize,
        rows: usize,
        cols: usize,
        pad: T,
    ) -> Result<Vec<T>, Error> {
        let (one, total) = self.batch_lens(batch, rows, cols)?;
        let per = rows * cols;
        check_len("row-major scales", batch * per, src.len())?;
        let mut dst = vec![pad; total];
        if per > 0 {
            for (s, d) in src.chunks_exact(per).zip(dst.chunks_exact_mut(one)) {
                self.pack_into(s, rows, cols, pad, d)?;
            }
        }
        Ok(dst)
    }

    /// The inverse of [`pack_batch`](ScaleLayout::pack_batch): the `batch`
    /// row-major matrices, one after another.
    ///
    /// Errors: [`Error::ShapeOverflow`] if the sizes overflow `usize`;
    /// [`Error::LengthMismatch`] if `src.len() != batch ·`
    /// [`storage_len`](ScaleLayout::storage_len).
    ///
    /// ```
    /// use blockscale::layout::ScaleLayout;
    /// let src: Vec<u8> = (0..3 * 4 * 2).collect();
    /// let p = ScaleLayout::Gfx950.pack_batch(&src, 3, 4, 2, 0x7F)?;
    /// assert_eq!(p.len(), 3 * 256 * 8);
    /// assert_eq!(ScaleLayout::Gfx950.unpack_batch(&p, 3, 4, 2)?, src);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn unpack_batch<T: Copy>(
        self,
        src: &[T],
        batch: usize,
        rows: usize,
        cols: usize,
    ) -> Result<Vec<T>, Error> {
        let (one, total) = self.batch_lens(batch, rows, cols)?;
        check_len("laid-out scales", total, src.len())?;
        let mut out = Vec::with_capacity(batch * rows * cols);
        if one > 0 {
            for s in src.chunks_exact(one) {
                out.extend(self.unpack(s, rows, cols)?);
            }
        }
        Ok(out)
    }

    /// One matrix's storage and the stack's, checked.
    fn batch_lens(self, batch: usize, rows: usize, cols: usize) -> Result<(usize, usize), Error> {
        let one = self.storage_len(rows, cols)?;
        let total = one.checked_mul(batch).ok_or(Error::ShapeOverflow {
            what: "scale stack",
            shape: alloc::vec![batch, rows, cols],
        })?;
        checked_len(batch, rows.saturating_mul(cols))?;
        Ok((one, total))
    }

    /// Writes each cell of row-major `src` to its offset; lengths checked.
    fn scatter<T: Copy>(self, src: &[T], rows: usize, cols: usize, dst: &mut [T]) {
        if cols == 0 {
            return;
        }
        for (r, values) in src.chunks_exact(cols).enumerate() {
            for (c, &v) in values.iter().enumerate() {
                dst[self.offset(r, c, rows, cols)] = v;
            }
        }
    }
}

impl core::fmt::Display for ScaleLayout {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for ScaleLayout {
    type Err = Error;

    fn from_str(s: &str) -> Result<ScaleLayout, Error> {
        ScaleLayout::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ScaleLayout::ALL.iter().map(|l| l.name()).collect();
                Error::InvalidArgument(format!(
                    "scale layout {s:?}: expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

fn overflow(rows: usize, cols: usize) -> Error {
    Error::ShapeOverflow {
        what: "scale matrix",
        shape: alloc::vec![rows, cols],
    }
}

fn checked_len(rows: usize, cols: usize) -> Result<usize, Error> {
    crate::error::checked_area("scale matrix", rows, cols)
}
