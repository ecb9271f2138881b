//! A quantized tensor in another shape or layout, with the same codes:
//! scales and data in the layouts kernels read, a range of stored rows, and
//! finer K blocks for mixed-granularity GEMMs.

use super::{Direction, PartialBlocks, QuantizedTensor};
use crate::element::nibble;
use crate::format::{BlockFormat, BlockShape, ScaleCodec};
use crate::prelude::*;
use crate::{Element, Error};

impl<F: BlockFormat> QuantizedTensor<F> {
    /// The scales in `layout` ([`crate::layout`] tabulates them), padding
    /// cells zero: row-major (as [`Self::scales`]), the cuBLAS/tcgen05
    /// 128×4 swizzled layout that block-scaled GPU GEMMs read, DeepGEMM's,
    /// Transformer Engine's, FlashInfer's or AMD's.
    ///
    /// Errors: [`Error::InvalidArgument`] for
    /// [`ScaleLayout::PackedUe8m0`](crate::layout::ScaleLayout::PackedUe8m0)
    /// unless the scales are E8M0; [`Error::ShapeOverflow`] if the padded
    /// size overflows.
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
    /// assert!(q.scales_in(ScaleLayout::PackedUe8m0).is_err()); // E4M3 scales
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn scales_in(&self, layout: crate::layout::ScaleLayout) -> Result<Vec<F::Scale>, Error> {
        if layout == crate::layout::ScaleLayout::PackedUe8m0
            && <F::Scale as ScaleCodec>::KIND != crate::format::ScaleKind::E8M0
        {
            return Err(Error::InvalidArgument(format!(
                "scale layout {layout} packs E8M0 scales; {} has {:?} scales",
                self.format.id(),
                <F::Scale as ScaleCodec>::KIND
            )));
        }
        let (r, c) = self.scale_shape();
        layout.pack(&self.scales, r, c, <F::Scale as ScaleCodec>::PAD)
    }

    /// The element codes laid out as a kernel reads them
    /// ([`DataLayout`](crate::layout::DataLayout): K-major or MN-major,
    /// padded, FP6 packed or not), from the stored matrix.
    ///
    /// Errors: those of [`DataLayout::shape`](crate::layout::DataLayout::shape).
    ///
    /// ```
    /// use blockscale::format::MxFp6E2M3;
    /// use blockscale::layout::{DataLayout, Fp6Packing};
    /// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
    /// let q = QuantizedTensor::quantize(MxFp6E2M3::default(), &[1.0f32; 2 * 32], 2, 32, &QuantizeOptions::default())?;
    /// let packed = q.data_in(DataLayout::k_major().fp6(Fp6Packing::Packed))?;
    /// assert_eq!(packed.len(), 2 * 24); // 32 six-bit codes in 24 bytes per row
    /// assert_eq!(q.data_in(DataLayout::k_major())?, q.data()); // the crate's own layout
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn data_in(&self, layout: crate::layout::DataLayout) -> Result<Vec<u8>, Error> {
        let (sr, sc) = self.stored_shape();
        let packed = <F::Elem as Element>::PACKED;
        let codes: Vec<u8> = (0..sr * sc)
            .map(|i| nibble::get(&self.data, i, packed))
            .collect();
        layout.lay_out(&codes, sr, sc, <F::Elem as Element>::BITS)
    }

    /// Stored rows `start..end` as a tensor of their own, with this
    /// tensor's format, direction and tensor amax (a NaN or +Inf one
    /// included): one group's rows of a grouped GEMM's A, or one expert of
    /// a stack. The bytes and scales are this tensor's, so each row
    /// dequantizes (and multiplies) exactly as it does here. For a rowwise
    /// tensor the stored rows are the logical rows; for a columnwise one,
    /// the logical columns.
    ///
    /// Errors: [`Error::InvalidArgument`] if `start > end`, `end` is past
    /// the stored rows, or either cuts through a 2-D block (they must be
    /// multiples of the block's rows, or the end of the matrix).
    ///
    /// ```
    /// use blockscale::format::MxFp4;
    /// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
    /// let x: Vec<f32> = (0..5 * 32).map(|i| (i as f32 * 0.37).sin()).collect();
    /// let q = QuantizedTensor::quantize(MxFp4::default(), &x, 5, 32, &QuantizeOptions::default())?;
    /// let rows = q.stored_rows(2, 4)?;
    /// assert_eq!(rows.shape(), (2, 32));
    /// assert_eq!(rows.dequantize(), q.dequantize()[2 * 32..4 * 32]);
    /// assert!(q.stored_rows(4, 6).is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn stored_rows(&self, start: usize, end: usize) -> Result<Self, Error> {
        let (sr, sc) = self.stored_shape();
        if start > end || end > sr {
            return Err(Error::InvalidArgument(format!(
                "stored rows {start}..{end} of a tensor with {sr}"
            )));
        }
        let (tr, _) = self.format.block().tile(sr, sc);
        let tiles_c = self.scale_shape().1;
        let scales = match self.format.block() {
            _ if start == end => Vec::new(),
            BlockShape::Tensor => self.scales.clone(),
            BlockShape::Tile { .. } => {
                if [start, end].iter().any(|&r| r % tr != 0 && r != sr) {
                    return Err(Error::InvalidArgument(format!(
                        "stored rows {start}..{end} cut through the {tr}-row blocks of {}",
                        self.format.name()
                    )));
                }
                self.scales[start / tr * tiles_c..end.div_ceil(tr) * tiles_c].to_vec()
            }
        };
        let packed = <F::Elem as Element>::PACKED;
        let (first, n) = (start * sc, (end - start) * sc);
        let data = if !packed {
            self.data[first..first + n].to_vec()
        } else {
            // FP4 rows may start mid-byte; move code by code.
            let mut d = vec![0u8; nibble::packed_len(n, true)];
            for i in 0..n {
                nibble::put(&mut d, i, nibble::get(&self.data, first + i, true), true);
            }
            d
        };
        let (rows, cols) = match self.direction {
            Direction::Rowwise => (end - start, sc),
            Direction::Columnwise => (sc, end - start),
        };
        // This tensor's own tensor scale, not one rebuilt from its amax by
        // `from_parts`, which refuses the NaN or +Inf amax of a tensor
        // quantized from NaN or ±Inf values (the GEMM takes such tensors).
        Ok(QuantizedTensor {
            format: self.format.clone(),
            rows,
            cols,
            direction: self.direction,
            data,
            scales,
            global: self.global,
        })
    }
}

impl<T: Element> QuantizedTensor<crate::format::Fp8Blockwise<T>> {
    /// The same tensor with its K blocks (the stored columns' blocks) cut
    /// into blocks of `cols`, each fine block carrying the scale of the
    /// coarse block it lies in: the same bytes, the same values. A GEMM of
    /// operands whose K blocks differ (DeepGEMM's `gran_k_a ≠ gran_k_b`;
    /// Model-Optimizer's W4A8, FP4 weights × 1×128 FP8 activations) is the
    /// ordinary GEMM ([`crate::gemm`]) with the coarser FP8 operand refined
    /// to the finer block: the finer blocking defines the inner sums, and
    /// each fine block's term is rounded once (SEMANTICS.md §7).
    ///
    /// Errors: [`Error::InvalidArgument`] if `cols` is zero or does not
    /// divide the block's columns, or the stored columns (when they are
    /// fewer than a block).
    ///
    /// ```
    /// use blockscale::E4M3;
    /// use blockscale::format::{Fp8Blockwise, Nvfp4};
    /// use blockscale::gemm::{gemm, gemm_reference};
    /// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
    /// let o = QuantizeOptions::default();
    /// let x: Vec<f32> = (0..3 * 256).map(|i| (i as f32 * 0.3).sin()).collect();
    /// // W4A8: 1×128 FP8 activations, 1×16 NVFP4 weights.
    /// let act = QuantizedTensor::quantize(Fp8Blockwise::<E4M3>::ACTIVATIONS, &x[..2 * 256], 2, 256, &o)?;
    /// let w = QuantizedTensor::quantize(Nvfp4::default(), &x, 3, 256, &o)?;
    /// assert!(gemm(&act, &w, 1.0, 0.0, &mut [0.0; 6]).is_err()); // K blocks of 128 and 16
    /// let fine = act.refine_k(16)?;
    /// assert_eq!(fine.dequantize(), act.dequantize());
    /// let (mut c1, mut c2) = ([0f32; 6], [0f32; 6]);
    /// gemm(&fine, &w, 1.0, 0.0, &mut c1)?;
    /// gemm_reference(&fine, &w, 1.0, 0.0, &mut c2)?;
    /// assert_eq!(c1, c2);
    /// assert!(act.refine_k(48).is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn refine_k(&self, cols: usize) -> Result<Self, Error> {
        let f = self.format;
        let (sr, sc) = self.stored_shape();
        let (_, tc) = f.block().tile(sr, sc);
        if cols == 0 || tc % cols != 0 || sc % cols != 0 {
            return Err(Error::InvalidArgument(format!(
                "K blocks of {cols} do not divide {}'s blocks of {tc} columns ({sc} stored columns)",
                f.name()
            )));
        }
        let (tiles_r, tiles_c) = self.scale_shape();
        let fine_c = sc / cols;
        let mut scales = Vec::with_capacity(tiles_r * fine_c);
        for r in 0..tiles_r {
            scales.extend((0..fine_c).map(|j| self.scales[r * tiles_c + j * cols / tc]));
        }
        let mut fine = f;
        fine.cols = cols;
        let shape = match self.direction {
            Direction::Rowwise => (sr, sc),
            Direction::Columnwise => (sc, sr),
        };
        QuantizedTensor::from_parts(
            fine,
            shape,
            self.direction,
            PartialBlocks::ZeroPad,
            self.data.clone(),
            scales,
            None,
        )
    }
}
