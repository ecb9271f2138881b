//! Element data as kernels read it: K-major or MN-major, rows and row
//! bytes padded to the kernel's alignment, FP4 two codes per byte and FP6
//! either one code per byte or four codes in three bytes.
//!
//! The codes go in as the crate keeps them conceptually, one per element
//! of the stored `rows × cols` matrix (M×K or N×K), row-major. Sources:
//!
//! - FP4, two per byte, element `2j` in the low nibble: OCP MX v1.0 §5.3,
//!   CUDA `__nv_fp4x2_storage_t`, CUTLASS `float_e2m1_t` arrays, AMD gfx950
//!   `v_cvt_scalef32_pk_fp4_f32` (the first value in bits 3:0).
//! - FP6 one per byte ([`Fp6Packing::Bytes`]), the code in bits 5:0 and
//!   bits 7:6 zero: CUDA `cuda_fp6.h` (`__nv_fp6_e2m3`; `__nv_fp6x4_e2m3`
//!   is four such bytes), `cvt.rn.satfinite.e2m3x2`, the unpacked form
//!   `tcgen05` reads from shared memory.
//! - FP6 packed ([`Fp6Packing::Packed`]), a little-endian bit stream with
//!   element `i` in bits `6i..6i+6` (four codes in three bytes): CUTLASS's
//!   sub-byte arrays (`cute/container/array_subbyte.hpp`) and the TMA type
//!   `CU_TENSOR_MAP_DATA_TYPE_16U6_ALIGN16B` (`.b6x16_p32`) in global
//!   memory on NVIDIA; `v_cvt_scalef32_pk32_fp6_f32` (32 codes in six
//!   dwords) on AMD CDNA4 (gfx950). The two vendors' bit orders agree.
//! - K-major is what Blackwell's dense FP4 MMA kinds (`.kind::mxf4`,
//!   `.kind::mxf4nvf4`) require; MN-major (the transpose) is what
//!   `.kind::mxf8f6f4` also accepts for the other layouts (CUTLASS TN, NT,
//!   NN, TT). TMA wants rows of a multiple of 16 bytes, and CUTLASS's FP4
//!   and FP6 operands K in multiples of 128 elements.

use crate::Error;
use crate::error::check_len;
use crate::prelude::*;

/// Which dimension of the stored matrix runs contiguously.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Major {
    /// Each stored row (a row of M×K or N×K) contiguous: K fastest.
    #[default]
    K,
    /// Each column contiguous: the transpose, M (or N) fastest.
    Mn,
}

/// How 6-bit codes are stored (see the module docs for who uses which).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Fp6Packing {
    /// One code per byte, in bits 5:0 (CUDA's FP6 types, `tcgen05`'s
    /// unpacked shared-memory form, this crate's own data).
    #[default]
    Bytes,
    /// Four codes in three bytes: element `i` in bits `6i..6i+6` of the
    /// little-endian byte stream (NVIDIA TMA and CUTLASS; AMD gfx950).
    Packed,
}

/// How a quantized matrix's element codes are laid out in memory: the
/// [`Major`] dimension, the padding, and the FP6 packing.
///
/// ```
/// use blockscale::layout::{DataLayout, Fp6Packing, Major};
/// let l = DataLayout::k_major().rows_to(128).row_bytes_to(16).fp6(Fp6Packing::Packed);
/// assert_eq!((l.major, l.row_multiple, l.row_bytes_multiple), (Major::K, 128, 16));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DataLayout {
    /// Which dimension runs contiguously.
    pub major: Major,
    /// The laid-out rows (stored rows for K-major, stored columns for
    /// MN-major) padded with zero rows to a multiple of this.
    pub row_multiple: usize,
    /// Each laid-out row padded with zero bytes to a multiple of this.
    pub row_bytes_multiple: usize,
    /// How 6-bit codes are stored; other widths ignore it.
    pub fp6: Fp6Packing,
}

impl Default for DataLayout {
    fn default() -> DataLayout {
        DataLayout::k_major()
    }
}

impl DataLayout {
    /// K-major, no padding, FP6 one code per byte: this crate's own layout
    /// ([`QuantizedTensor::data`](crate::tensor::QuantizedTensor::data)),
    /// except that an FP4 row of odd length ends here on a whole byte,
    /// where the crate's own data runs on into the next row.
    ///
    /// ```
    /// use blockscale::layout::{DataLayout, Major};
    /// assert_eq!(DataLayout::k_major().major, Major::K);
    /// ```
    pub const fn k_major() -> DataLayout {
        DataLayout {
            major: Major::K,
            row_multiple: 1,
            row_bytes_multiple: 1,
            fp6: Fp6Packing::Bytes,
        }
    }

    /// MN-major (the stored matrix transposed), no padding.
    ///
    /// ```
    /// use blockscale::layout::{DataLayout, Major};
    /// assert_eq!(DataLayout::mn_major().major, Major::Mn);
    /// ```
    pub const fn mn_major() -> DataLayout {
        DataLayout {
            major: Major::Mn,
            ..DataLayout::k_major()
        }
    }

    /// This layout with its rows padded to a multiple of `n` (16, 32 or 128
    /// for most kernels' tiles).
    ///
    /// ```
    /// use blockscale::layout::DataLayout;
    /// assert_eq!(DataLayout::k_major().rows_to(128).row_multiple, 128);
    /// ```
    pub const fn rows_to(mut self, n: usize) -> DataLayout {
        self.row_multiple = n;
        self
    }

    /// This layout with each row padded to a multiple of `n` bytes (16 for
    /// TMA).
    ///
    /// ```
    /// use blockscale::layout::DataLayout;
    /// assert_eq!(DataLayout::k_major().row_bytes_to(16).row_bytes_multiple, 16);
    /// ```
    pub const fn row_bytes_to(mut self, n: usize) -> DataLayout {
        self.row_bytes_multiple = n;
        self
    }

    /// This layout with 6-bit codes stored as `p`.
    ///
    /// ```
    /// use blockscale::layout::{DataLayout, Fp6Packing};
    /// assert_eq!(DataLayout::k_major().fp6(Fp6Packing::Packed).fp6, Fp6Packing::Packed);
    /// ```
    pub const fn fp6(mut self, p: Fp6Packing) -> DataLayout {
        self.fp6 = p;
        self
    }

    /// `(rows, bytes per row)` of the laid-out buffer for a stored
    /// `rows × cols` matrix of `bits`-bit codes; the buffer holds their
    /// product.
    ///
    /// Errors: [`Error::InvalidArgument`] for a width other than 4, 6 or 8
    /// bits, a zero multiple, or an FP6 row that does not fill whole bytes
    /// when packed (its length must be a multiple of 4);
    /// [`Error::ShapeOverflow`] if the size overflows.
    ///
    /// ```
    /// use blockscale::layout::{DataLayout, Fp6Packing};
    /// // 5 × 40 FP4, MN-major: 40 rows of 5 codes = 3 bytes, padded to 16.
    /// assert_eq!(DataLayout::mn_major().row_bytes_to(16).shape(5, 40, 4)?, (40, 16));
    /// // FP6 packed: 32 codes in 24 bytes.
    /// assert_eq!(DataLayout::k_major().fp6(Fp6Packing::Packed).shape(2, 32, 6)?, (2, 24));
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn shape(self, rows: usize, cols: usize, bits: u32) -> Result<(usize, usize), Error> {
        if self.row_multiple == 0 || self.row_bytes_multiple == 0 {
            return Err(Error::InvalidArgument(
                "row and row-byte multiples are at least 1".into(),
            ));
        }
        let (lr, lc) = match self.major {
            Major::K => (rows, cols),
            Major::Mn => (cols, rows),
        };
        let overflow = || Error::ShapeOverflow {
            what: "laid-out data",
            shape: vec![rows, cols],
        };
        let row_bytes = match (bits, self.fp6) {
            (4, _) => lc.div_ceil(2),
            (6, Fp6Packing::Packed) if lc % 4 != 0 => {
                return Err(Error::InvalidArgument(format!(
                    "packed FP6 rows hold whole groups of 4 codes; a row has {lc}"
                )));
            }
            (6, Fp6Packing::Packed) => lc / 4 * 3,
            (6 | 8, _) => lc,
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "element width {bits} bits; expected 4, 6 or 8"
                )));
            }
        };
        let r = lr
            .checked_next_multiple_of(self.row_multiple)
            .ok_or_else(overflow)?;
        let b = row_bytes
            .checked_next_multiple_of(self.row_bytes_multiple)
            .ok_or_else(overflow)?;
        r.checked_mul(b).ok_or_else(overflow)?;
        Ok((r, b))
    }

    /// Lays out the row-major `rows × cols` matrix of `bits`-bit `codes`
    /// (one per element, in the low bits of each byte), padding with zero.
    ///
    /// Errors: those of [`shape`](DataLayout::shape), and
    /// [`Error::LengthMismatch`] if `codes.len() != rows·cols`.
    ///
    /// ```
    /// use blockscale::layout::{DataLayout, Fp6Packing};
    /// // Four FP6 codes, packed: 0x01, 0x02, 0x03, 0x3F → 0xFC3081 little-endian.
    /// let l = DataLayout::k_major().fp6(Fp6Packing::Packed);
    /// assert_eq!(l.lay_out(&[0x01, 0x02, 0x03, 0x3F], 1, 4, 6)?, [0x81, 0x30, 0xFC]);
    /// // FP4 MN-major: column 0 (codes 1, 3) then column 1 (2, 4), low nibble first.
    /// assert_eq!(DataLayout::mn_major().lay_out(&[1, 2, 3, 4], 2, 2, 4)?, [0x31, 0x42]);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn lay_out(
        self,
        codes: &[u8],
        rows: usize,
        cols: usize,
        bits: u32,
    ) -> Result<Vec<u8>, Error> {
        let (r, b) = self.shape(rows, cols, bits)?;
        check_len("codes", rows * cols, codes.len())?;
        let mut out = vec![0u8; r * b];
        for (i, &code) in codes.iter().enumerate() {
            let (line, pos) = self.place(i / cols.max(1), i % cols.max(1));
            put(
                &mut out[line * b..(line + 1) * b],
                pos,
                code,
                bits,
                self.fp6,
            );
        }
        Ok(out)
    }

    /// The row-major codes back from a buffer in this layout, ignoring the
    /// padding: the inverse of [`lay_out`](DataLayout::lay_out).
    ///
    /// Errors: those of [`shape`](DataLayout::shape), and
    /// [`Error::LengthMismatch`] if `data` is not the laid-out size.
    ///
    /// ```
    /// use blockscale::layout::{DataLayout, Fp6Packing};
    /// let l = DataLayout::mn_major().rows_to(8).row_bytes_to(16).fp6(Fp6Packing::Packed);
    /// let codes: Vec<u8> = (0..4 * 6).map(|i| (i * 7 % 64) as u8).collect();
    /// let data = l.lay_out(&codes, 4, 6, 6)?;
    /// assert_eq!(data.len(), 8 * 16);
    /// assert_eq!(l.read_back(&data, 4, 6, 6)?, codes);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn read_back(
        self,
        data: &[u8],
        rows: usize,
        cols: usize,
        bits: u32,
    ) -> Result<Vec<u8>, Error> {
        let (r, b) = self.shape(rows, cols, bits)?;
        check_len("laid-out data", r * b, data.len())?;
        let mut out = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                let (line, pos) = self.place(i, j);
                out.push(get(&data[line * b..(line + 1) * b], pos, bits, self.fp6));
            }
        }
        Ok(out)
    }

    /// The laid-out row and position within it of stored element `(i, j)`.
    fn place(self, i: usize, j: usize) -> (usize, usize) {
        match self.major {
            Major::K => (i, j),
            Major::Mn => (j, i),
        }
    }
}

/// Writes code `pos` of one laid-out row.
fn put(row: &mut [u8], pos: usize, code: u8, bits: u32, fp6: Fp6Packing) {
    match (bits, fp6) {
        (4, _) => row[pos / 2] |= (code & 0xF) << (4 * (pos % 2)),
        (6, Fp6Packing::Packed) => {
            let bit = 6 * pos;
            let v = u16::from(code & 0x3F) << (bit % 8);
            row[bit / 8] |= v as u8;
            if bit % 8 > 2 {
                row[bit / 8 + 1] |= (v >> 8) as u8;
            }
        }
        (6, _) => row[pos] = code & 0x3F,
        _ => row[pos] = code,
    }
}

/// Reads code `pos` of one laid-out row.
fn get(row: &[u8], pos: usize, bits: u32, fp6: Fp6Packing) -> u8 {
    match (bits, fp6) {
        (4, _) => (row[pos / 2] >> (4 * (pos % 2))) & 0xF,
        (6, Fp6Packing::Packed) => {
            let bit = 6 * pos;
            let lo = u16::from(row[bit / 8]);
            let hi = if bit % 8 > 2 {
                u16::from(row[bit / 8 + 1])
            } else {
                0
            };
            (((hi << 8 | lo) >> (bit % 8)) & 0x3F) as u8
        }
        (6, _) => row[pos] & 0x3F,
        _ => row[pos],
    }
}
