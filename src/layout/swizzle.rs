//! The cuBLAS / `tcgen05` 128×4 swizzle as free functions: the fast path
//! the quantizers and GEMM packing use, and the crate's oldest API.

use super::{ScaleLayout, TILE_COLS, TILE_LEN, TILE_ROWS};
use crate::Error;
use crate::error::check_len;
use crate::prelude::*;

/// The padded shape `(R, C) = (roundup(rows, 128), roundup(cols, 4))` of a
/// `rows` × `cols` scale matrix in the swizzled layout; the swizzled buffer
/// holds `R·C` elements. An empty matrix (`rows` or `cols` zero) stays empty
/// in that dimension, as in torchao's `to_blocked`.
///
/// Errors with [`Error::ShapeOverflow`] if `R`, `C` or `R·C` overflows
/// `usize`; when it returns `Ok`, every offset [`swizzled_offset`] gives for
/// an in-range cell is below `R·C`.
///
/// ```
/// use blockscale::layout::swizzled_shape;
/// assert_eq!(swizzled_shape(256, 4)?, (256, 4));
/// assert_eq!(swizzled_shape(200, 5)?, (256, 8));
/// assert_eq!(swizzled_shape(1, 1)?, (128, 4));
/// assert!(swizzled_shape(usize::MAX, 1).is_err());
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn swizzled_shape(rows: usize, cols: usize) -> Result<(usize, usize), Error> {
    ScaleLayout::Swizzled.padded_shape(rows, cols)
}

/// Offset of scale `(r, c)` of a matrix with `cols` (unpadded) columns in the
/// swizzled layout:
///
/// ```text
/// ((r/128)·(C/4) + c/4)·512 + (r%32)·16 + ((r%128)/32)·4 + c%4,   C = roundup(cols, 4)
/// ```
///
/// (Transformer Engine `transformer_engine/common/cast/nvfp4/swizzle.cuh`,
/// `gemm_swizzled_scale_idx`; torchao
/// `torchao/prototype/mx_formats/utils.py::to_blocked`; cuBLAS "1D block
/// scaling factors layout".) The row count does not enter the formula.
///
/// Precondition: `r < rows`, `c < cols`, and [`swizzled_shape`]`(rows, cols)`
/// is `Ok`; then the offset is below `R·C` and distinct cells get distinct
/// offsets. Outside it the result is unspecified (the arithmetic wraps), but
/// the function never panics.
///
/// ```
/// use blockscale::layout::swizzled_offset;
/// assert_eq!(swizzled_offset(0, 3, 4), 3);
/// assert_eq!(swizzled_offset(1, 0, 4), 16); // next row of the 32×16 view
/// assert_eq!(swizzled_offset(32, 0, 4), 4); // rows 32..64 sit beside rows 0..32
/// assert_eq!(swizzled_offset(0, 4, 8), 512); // second 128×4 tile
/// ```
pub fn swizzled_offset(r: usize, c: usize, cols: usize) -> usize {
    let col_tiles = cols.div_ceil(TILE_COLS);
    tile_row_base(r, col_tiles)
        .wrapping_add((c / TILE_COLS).wrapping_mul(TILE_LEN))
        .wrapping_add(c % TILE_COLS)
}

/// The offset of `(r, 0)`; column `c` adds `(c/4)·512 + c%4`. Wrapping so
/// that [`swizzled_offset`] cannot panic outside its precondition; inside it
/// nothing wraps.
fn tile_row_base(r: usize, col_tiles: usize) -> usize {
    (r / TILE_ROWS)
        .wrapping_mul(col_tiles)
        .wrapping_mul(TILE_LEN)
        .wrapping_add((r % 32) * 16 + (r % TILE_ROWS) / 32 * TILE_COLS)
}

/// Rearranges a row-major `rows` × `cols` scale matrix into a new buffer in
/// the swizzled layout (see [`swizzle_into`], which this allocates for).
///
/// `pad` fills the `R·C − rows·cols` padding cells. Transformer Engine,
/// torchao's `to_blocked` and cuBLAS expect zero padding (scale byte `0x00`,
/// which is E4M3 +0 and E8M0 2⁻¹²⁷), so pass the zero encoding unless you
/// need something else.
///
/// Errors: [`Error::ShapeOverflow`] if the padded size overflows `usize`
/// (see [`swizzled_shape`]); [`Error::LengthMismatch`] if
/// `src.len() != rows·cols`.
///
/// ```
/// use blockscale::layout::swizzle;
/// // A 2×5 matrix pads to 128×8: two 128×4 tiles.
/// let src: Vec<u8> = (1..=10).collect();
/// let swz = swizzle(&src, 2, 5, 0)?;
/// assert_eq!(swz.len(), 1024);
/// assert_eq!(&swz[0..4], &[1, 2, 3, 4]); // row 0, cols 0..4
/// assert_eq!(&swz[16..20], &[6, 7, 8, 9]); // row 1, cols 0..4
/// assert_eq!(&swz[512..516], &[5, 0, 0, 0]); // row 0, cols 4..8
/// assert_eq!(swz[528], 10); // row 1, col 4
/// assert_eq!(swz.iter().filter(|&&x| x != 0).count(), 10);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn swizzle<T: Copy>(src: &[T], rows: usize, cols: usize, pad: T) -> Result<Vec<T>, Error> {
    let (r, c) = swizzled_shape(rows, cols)?;
    check_len("row-major scales", rows * cols, src.len())?;
    let mut dst = vec![pad; r * c];
    scatter(src, cols, &mut dst);
    Ok(dst)
}

/// Rearranges a row-major `rows` × `cols` scale matrix `src` into `dst` in
/// the swizzled layout: `dst[`[`swizzled_offset`]`(r, c, cols)] =
/// src[r·cols + c]`, and every other cell of `dst` (the padding) is set to
/// `pad`. Every cell of `dst` is written. Zero padding is what Transformer
/// Engine, torchao and cuBLAS expect (see [`swizzle`]).
///
/// Errors: [`Error::ShapeOverflow`] if the padded size overflows `usize`;
/// [`Error::LengthMismatch`] if `src.len() != rows·cols` or
/// `dst.len() != R·C` with `(R, C) =` [`swizzled_shape`]`(rows, cols)`. On
/// error `dst` is untouched.
///
/// ```
/// use blockscale::layout::{swizzle_into, swizzled_offset};
/// let src = [7u8; 130 * 3];
/// let mut dst = vec![1u8; 256 * 4];
/// swizzle_into(&src, 130, 3, 0, &mut dst)?;
/// assert_eq!(dst[swizzled_offset(129, 2, 3)], 7);
/// assert_eq!(dst[3], 0); // (0, 3) is padding
/// assert_eq!(dst.iter().filter(|&&x| x == 7).count(), 130 * 3);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn swizzle_into<T: Copy>(
    src: &[T],
    rows: usize,
    cols: usize,
    pad: T,
    dst: &mut [T],
) -> Result<(), Error> {
    let (r, c) = swizzled_shape(rows, cols)?;
    check_len("row-major scales", rows * cols, src.len())?;
    check_len("swizzled scales", r * c, dst.len())?;
    dst.fill(pad);
    scatter(src, cols, dst);
    Ok(())
}

/// Rearranges a swizzled scale buffer (`R·C` elements, `(R, C) =`
/// [`swizzled_shape`]`(rows, cols)`) back into a new row-major `rows` ×
/// `cols` matrix, dropping the padding; the inverse of [`swizzle`] (see
/// [`unswizzle_into`], which this allocates for).
///
/// Errors: [`Error::ShapeOverflow`] if the padded size overflows `usize`;
/// [`Error::LengthMismatch`] if `src.len() != R·C`.
///
/// ```
/// use blockscale::layout::{swizzle, unswizzle};
/// let src: Vec<u16> = (0..300 * 7).collect();
/// let swz = swizzle(&src, 300, 7, 0)?;
/// assert_eq!(swz.len(), 384 * 8);
/// assert_eq!(unswizzle(&swz, 300, 7)?, src);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn unswizzle<T: Copy>(src: &[T], rows: usize, cols: usize) -> Result<Vec<T>, Error> {
    let (r, c) = swizzled_shape(rows, cols)?;
    check_len("swizzled scales", r * c, src.len())?;
    // A non-empty matrix has a non-empty swizzled buffer, so `src[0]` exists;
    // it only seeds the buffer, and every cell is then overwritten.
    let Some(&seed) = src.first().filter(|_| rows * cols > 0) else {
        return Ok(Vec::new());
    };
    let mut dst = vec![seed; rows * cols];
    unswizzle_into(src, rows, cols, &mut dst)?;
    Ok(dst)
}

/// Rearranges a swizzled scale buffer `src` (`R·C` elements) into the
/// row-major `rows` × `cols` matrix `dst`: `dst[r·cols + c] =
/// src[`[`swizzled_offset`]`(r, c, cols)]`. The padding cells of `src` are
/// ignored, whatever they hold.
///
/// Errors: [`Error::ShapeOverflow`] if the padded size overflows `usize`;
/// [`Error::LengthMismatch`] if `src.len() != R·C` or
/// `dst.len() != rows·cols`. On error `dst` is untouched.
///
/// ```
/// use blockscale::layout::unswizzle_into;
/// let mut swz = vec![0u8; 128 * 4];
/// swz[16] = 5; // (1, 0)
/// swz[4] = 6; // (32, 0)
/// let mut dst = vec![0u8; 40];
/// unswizzle_into(&swz, 40, 1, &mut dst)?;
/// assert_eq!((dst[1], dst[32]), (5, 6));
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn unswizzle_into<T: Copy>(
    src: &[T],
    rows: usize,
    cols: usize,
    dst: &mut [T],
) -> Result<(), Error> {
    let (r, c) = swizzled_shape(rows, cols)?;
    check_len("swizzled scales", r * c, src.len())?;
    check_len("row-major scales", rows * cols, dst.len())?;
    if cols == 0 {
        return Ok(());
    }
    let col_tiles = c / TILE_COLS;
    for (row, out) in dst.chunks_exact_mut(cols).enumerate() {
        let base = tile_row_base(row, col_tiles);
        for (j, group) in out.chunks_mut(TILE_COLS).enumerate() {
            let start = base + j * TILE_LEN;
            group.copy_from_slice(&src[start..start + group.len()]);
        }
    }
    Ok(())
}

/// Writes the cells of row-major `src` (`cols` columns) to their swizzled
/// offsets in `dst`, whose length the caller has checked. Four consecutive
/// columns of one row (`c/4` fixed) are four consecutive elements of the
/// swizzled buffer, so each row moves in runs of up to four.
fn scatter<T: Copy>(src: &[T], cols: usize, dst: &mut [T]) {
    if cols == 0 {
        return;
    }
    let col_tiles = cols.div_ceil(TILE_COLS);
    for (row, values) in src.chunks_exact(cols).enumerate() {
        let base = tile_row_base(row, col_tiles);
        for (j, group) in values.chunks(TILE_COLS).enumerate() {
            let start = base + j * TILE_LEN;
            dst[start..start + group.len()].copy_from_slice(group);
        }
    }
}
