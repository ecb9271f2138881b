//! Block formats: one trait, [`BlockFormat`], one impl per format, and
//! [`AnyFormat`], every supported format as one runtime value.
//!
//! A format names its element codec, its scale codec, its block geometry,
//! whether it has a per-tensor global scale, its scale rule, and its
//! identifier ([`FormatId`]: `nvfp4`, `mxfp4,rule=floor,2d`, …), which the
//! command line parses and file metadata records. The quantizer
//! ([`crate::tensor`]) and the GEMM consume the trait and nothing
//! format-specific.
//!
//! # Adding a format
//!
//! Two edits, both in this module:
//!
//! 1. **One impl.** A file here with the format's type and its
//!    `impl BlockFormat` (`id`/`from_id` with a new family keyword, the
//!    scale rule, the block), re-exported below. Its element and scale
//!    types are existing [`crate::Element`] and [`ScaleCodec`] types.
//! 2. **One variant.** One line, `Variant(path::Type),`, in the format
//!    list (`formats!` in `format/any.rs`), in the group of formats it may
//!    meet in a GEMM (the group's formats share a scale type).
//!
//! Nothing else changes: [`AnyFormat`] and
//! [`AnyQuantized`](crate::tensor::AnyQuantized) gain the variant,
//! [`AnyFormat::from_id`] finds the family (so the command line accepts
//! the name and file metadata reads it back),
//! [`gemm_any`](crate::gemm::gemm_any) pairs it within its group, and the
//! fuzz targets and the format property tests, which draw formats from
//! [`AnyFormat::families`], cover it.

mod any;
mod fp8;
mod id;
mod mx;
mod nvfp4;
mod nvfp4_4over6;
mod ue8m0;

pub(crate) use any::formats;
pub use any::{AnyFormat, FormatVisitor};
pub use fp8::{Fp8Blockwise, Fp8Global, Fp8Tensorwise};
pub use id::FormatId;
pub use mx::{Mx, MxFp4, MxFp6E2M3, MxFp6E3M2, MxFp8E4M3, MxFp8E5M2, MxInt8};
pub use nvfp4::Nvfp4;
pub use nvfp4_4over6::Nvfp4FourOverSix;
pub use ue8m0::Fp8BlockUe8m0;

use crate::element::{CastRule, ConvertOptions};
use crate::prelude::*;
use crate::scale::ElementMap;
use crate::{E4M3, E8M0, Element, Error};

/// The shape of the block that shares one scale, in the orientation the
/// data is stored in: `rows × cols` elements, or the whole tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockShape {
    /// `rows × cols` tiles: 1×16 and 16×16 (NVFP4), 1×32 and 32×32 (MX),
    /// 1×128 and 128×128 (FP8 blockwise), or any other.
    Tile {
        /// Rows per tile.
        rows: usize,
        /// Columns per tile.
        cols: usize,
    },
    /// One scale for the whole tensor (FP8 per-tensor scaling).
    Tensor,
}

impl BlockShape {
    /// The tile's `(rows, cols)` for a `rows × cols` tensor, clamped to the
    /// tensor (at least 1×1): a tile larger than the tensor covers the same
    /// elements as one of the tensor's size, and clamping keeps tile
    /// arithmetic such as `tile_rows · cols` within `usize` for any block
    /// shape. A zero-sized tile stays zero (quantizing rejects it).
    ///
    /// ```
    /// use blockscale::format::BlockShape;
    /// let b = BlockShape::Tile { rows: 1, cols: 128 };
    /// assert_eq!(b.tile(256, 512), (1, 128));
    /// assert_eq!(b.tile(4, 40), (1, 40)); // one partial block per row
    /// assert_eq!(BlockShape::Tensor.tile(0, 7), (1, 7));
    /// ```
    pub fn tile(self, rows: usize, cols: usize) -> (usize, usize) {
        match self {
            BlockShape::Tile { rows: r, cols: c } => (r.min(rows.max(1)), c.min(cols.max(1))),
            BlockShape::Tensor => (rows.max(1), cols.max(1)),
        }
    }
}

/// Which type a block scale is stored in: what [`ScaleCodec::KIND`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScaleKind {
    /// FP8 E4M3 (NVFP4's block scales).
    E4M3,
    /// E8M0, a power of two (MX).
    E8M0,
    /// IEEE binary32 (FP8 per-tensor and blockwise).
    F32,
}

/// How a block scale is stored: E4M3 (NVFP4), E8M0 (MX) or FP32 (FP8).
///
/// ```
/// use blockscale::E8M0;
/// use blockscale::format::{ScaleCodec, ScaleKind};
/// assert_eq!((E8M0::KIND, E8M0::BITS), (ScaleKind::E8M0, 8));
/// assert_eq!(<E8M0 as ScaleCodec>::from_bits(0x7F).value(), 1.0);
/// assert_eq!(ScaleCodec::to_bits(0.5f32), 0x3F00_0000);
/// ```
pub trait ScaleCodec: Copy + Send + Sync + core::fmt::Debug + 'static {
    /// Which scale type this is.
    const KIND: ScaleKind;
    /// Width of the stored scale in bits (8 or 32).
    const BITS: u32;
    /// The all-zero-bits scale that fills padding in swizzled layouts
    /// (cuBLAS and Transformer Engine pad with byte 0x00).
    const PAD: Self;
    /// The scale's value.
    fn value(self) -> f32;
    /// The stored bits (in the low [`Self::BITS`] bits).
    fn to_bits(self) -> u32;
    /// The scale with these stored bits (bits above [`Self::BITS`] are ignored).
    fn from_bits(bits: u32) -> Self;
}

impl ScaleCodec for E4M3 {
    const KIND: ScaleKind = ScaleKind::E4M3;
    const BITS: u32 = 8;
    const PAD: Self = E4M3::ZERO;
    fn value(self) -> f32 {
        self.to_f32()
    }
    fn to_bits(self) -> u32 {
        E4M3::to_bits(self).into()
    }
    fn from_bits(bits: u32) -> Self {
        E4M3::from_bits(bits as u8)
    }
}

impl ScaleCodec for E8M0 {
    const KIND: ScaleKind = ScaleKind::E8M0;
    const BITS: u32 = 8;
    const PAD: Self = E8M0::MIN;
    fn value(self) -> f32 {
        self.to_f32()
    }
    fn to_bits(self) -> u32 {
        E8M0::to_bits(self).into()
    }
    fn from_bits(bits: u32) -> Self {
        E8M0::from_bits(bits as u8)
    }
}

impl ScaleCodec for f32 {
    const KIND: ScaleKind = ScaleKind::F32;
    const BITS: u32 = 32;
    const PAD: Self = 0.0;
    fn value(self) -> f32 {
        self
    }
    fn to_bits(self) -> u32 {
        f32::to_bits(self)
    }
    fn from_bits(bits: u32) -> Self {
        f32::from_bits(bits)
    }
}

/// A block-scaled format: everything the quantizer and the GEMM need.
///
/// Quantizing a tensor with a format `F` is, for the tensor amax `A` (or the
/// caller's) and each block of amax `a_b`:
///
/// ```text
/// g            = F::global(A)
/// (s, map, f)  = F::block_scale(a_b, g)          // stored scale, element map, dequant factor
/// q_i          = F::Elem::from_f32_with(map(x_i), F::element_options())
/// x̂_i          = q_i · f                          // F::dequant_factor(s, g) == f
/// ```
///
/// ```
/// use blockscale::format::{BlockFormat, BlockShape, Nvfp4, MxFp8E4M3};
/// assert_eq!(Nvfp4::default().block(), BlockShape::Tile { rows: 1, cols: 16 });
/// assert!(Nvfp4::default().has_global_scale());
/// assert_eq!(MxFp8E4M3::default().block(), BlockShape::Tile { rows: 1, cols: 32 });
/// ```
pub trait BlockFormat: Clone + core::fmt::Debug + Send + Sync {
    /// The element codec.
    type Elem: Element;
    /// The scale codec.
    type Scale: ScaleCodec;
    /// Per-tensor quantities derived from the tensor amax.
    type Global: Copy + core::fmt::Debug + Send + Sync;

    /// A short name for messages, such as `"NVFP4"` or `"MXFP8-E4M3"`;
    /// [`Self::id`] is the identifier to store or parse.
    fn name(&self) -> String;
    /// The identifier this format prints as and parses from: its family
    /// keyword and the options that differ from the family's default.
    ///
    /// ```
    /// use blockscale::format::{BlockFormat, Nvfp4};
    /// assert_eq!(Nvfp4::default().id().to_string(), "nvfp4");
    /// assert_eq!(Nvfp4::WEIGHTS_2D.id().to_string(), "nvfp4,2d");
    /// ```
    fn id(&self) -> FormatId;
    /// The format `id` names, when it is of this type's family:
    /// `F::from_id(&f.id())` is `f`.
    ///
    /// Errors: [`Error::InvalidArgument`] for another family, an option
    /// the family does not take, or a malformed value.
    ///
    /// ```
    /// use blockscale::format::{BlockFormat, Nvfp4};
    /// let f = Nvfp4::from_id(&"nvfp4,profile=jax".parse()?)?;
    /// assert_eq!(f.profile, blockscale::scale::nvfp4::Nvfp4Profile::Jax);
    /// assert!(Nvfp4::from_id(&"mxfp4".parse()?).is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    fn from_id(id: &FormatId) -> Result<Self, Error>
    where
        Self: Sized;
    /// The block that shares one scale.
    fn block(&self) -> BlockShape;
    /// Whether a per-tensor FP32 scale exists besides the block scales.
    fn has_global_scale(&self) -> bool;
    /// The scale rule, in words, with its source.
    fn scale_rule(&self) -> String;
    /// Per-tensor quantities for tensor amax `amax`.
    fn global(&self, amax: f32) -> Self::Global;
    /// The stored scale, element map and dequantization factor of a block
    /// whose amax is `block_amax`.
    fn block_scale(&self, block_amax: f32, g: &Self::Global) -> (Self::Scale, ElementMap, f32);
    /// [`Self::block_scale`] for many blocks at once: `scales[i]` and
    /// `maps[i]` are the first two values `block_scale(amaxes[i], g)`
    /// returns, bit for bit. This is the quantizer's hot path: formats
    /// override it with SIMD kernels (at the level [`crate::simd::active`]
    /// gives on the calling thread), and on the portable level it is this
    /// loop. Only the first `amaxes.len()` entries of `scales` and `maps`
    /// are written.
    ///
    /// ```
    /// use blockscale::format::{BlockFormat, MxFp4};
    /// use blockscale::scale::ElementMap;
    /// let f = MxFp4::default();
    /// let mut scales = [blockscale::E8M0::ONE; 2];
    /// let mut maps = [ElementMap::Zero(0); 2];
    /// f.block_scales(&[6.0, 12.0], &(), &mut scales, &mut maps);
    /// assert_eq!((scales[1].to_f32(), maps[1]), (2.0, ElementMap::Mul(0.5)));
    /// ```
    fn block_scales(
        &self,
        amaxes: &[f32],
        g: &Self::Global,
        scales: &mut [Self::Scale],
        maps: &mut [ElementMap],
    ) {
        for ((&a, s), m) in amaxes.iter().zip(scales.iter_mut()).zip(maps.iter_mut()) {
            let (scale, map, _) = self.block_scale(a, g);
            *s = scale;
            *m = map;
        }
    }
    /// Scales and encodes one row of blocks one element tall in one pass,
    /// where the format has a kernel for it (at the level
    /// [`crate::simd::active`] gives on the calling thread) and returns
    /// `true`; else returns `false` having written nothing, and the
    /// quantizer takes its two steps ([`Self::block_scales`], then the
    /// element encode). `amaxes` are the row's block amaxes, `scales` gets
    /// their scales and `codes` the row's elements rounded to nearest even
    /// as the quantizer stores them (two FP4 codes a byte, low nibble
    /// first): the same bytes the two steps give. `ahead` (often empty)
    /// is the row the caller reads next, a prefetch hint. The default has
    /// no kernel; NVFP4 with Transformer Engine's formulas has one on AVX2.
    ///
    /// ```
    /// use blockscale::format::{BlockFormat, MxFp4, Nvfp4};
    /// use blockscale::E4M3;
    /// let x = [1.5f32; 16];
    /// let (mut scales, mut codes) = ([E4M3::from_bits(0); 1], [0u8; 8]);
    /// assert!(!MxFp4::default().encode_row_fused(&[1.5], &(), &x, &mut [blockscale::E8M0::ONE], &mut codes, &[]));
    /// let f = Nvfp4::default();
    /// let g = f.global(6.0);
    /// if f.encode_row_fused(&[1.5], &g, &x, &mut scales, &mut codes, &[]) {
    ///     // Scale 1.5/6 · 448 = 112; 1.5 maps to 6, E2M1 code 7.
    ///     assert_eq!((scales[0].to_f32(), codes[0]), (112.0, 0x77));
    /// }
    /// ```
    fn encode_row_fused(
        &self,
        amaxes: &[f32],
        g: &Self::Global,
        src: &[f32],
        scales: &mut [Self::Scale],
        codes: &mut [u8],
        ahead: &[f32],
    ) -> bool {
        let _ = (amaxes, g, src, scales, codes, ahead);
        false
    }
    /// Whether the format chooses a block's scale by the block's values,
    /// not its amax alone ([`Self::choose_by_values`]); the quantizer
    /// gathers each tile's elements only for such formats.
    fn chooses_by_values(&self) -> bool {
        false
    }
    /// The scale and element map of a tile chosen by its values: `tile`
    /// holds its elements in stored order, rows of `cols`, and `block_amax`
    /// its amax. Only called when [`Self::chooses_by_values`]; the default
    /// is [`Self::block_scale`]'s choice. NVFP4 4over6 keeps the better of
    /// two candidate scales.
    ///
    /// ```
    /// use blockscale::format::{BlockFormat, Nvfp4FourOverSix};
    /// use blockscale::scale::ElementMap;
    /// let f = Nvfp4FourOverSix::default();
    /// let g = f.global(6.0);
    /// let mut x = [0.0f32; 16];
    /// x[..2].copy_from_slice(&[6.0, 4.5]);
    /// // Mapped to 4, 4.5 is exact (3 · 1.5): the scale 1.5 times larger wins.
    /// let (s, map) = f.choose_by_values(6.0, &x, 16, &g);
    /// assert_eq!((s.to_f32(), map), (384.0, ElementMap::Mul(2.0 / 3.0)));
    /// ```
    fn choose_by_values(
        &self,
        block_amax: f32,
        tile: &[f32],
        cols: usize,
        g: &Self::Global,
    ) -> (Self::Scale, ElementMap) {
        let _ = (tile, cols);
        let (s, map, _) = self.block_scale(block_amax, g);
        (s, map)
    }
    /// The dequantization factor of a block with stored scale `s`; equals
    /// the third value [`Self::block_scale`] returns.
    fn dequant_factor(&self, s: Self::Scale, g: &Self::Global) -> f32;
    /// How elements are rounded (saturating, NaN rule); the tensor's
    /// rounding mode replaces `rounding`.
    fn element_options(&self) -> ConvertOptions {
        ConvertOptions::SATFINITE
    }
    /// How the producer this format follows departs from IEEE conversion
    /// in exact ties, zero signs and subnormal inputs; formats other than
    /// IEEE's are encoded off the SIMD kernels.
    fn element_cast(&self) -> CastRule {
        CastRule::IEEE
    }
    /// Checks the format's own parameters before a tensor is quantized or
    /// rebuilt with it: the default accepts every value; FP8 blockwise
    /// rejects a zero-sized block and FP8 per-tensor a fixed scale that is
    /// not a positive finite number with a finite inverse.
    ///
    /// Errors: [`Error::InvalidArgument`] naming the parameter.
    ///
    /// ```
    /// use blockscale::E4M3;
    /// use blockscale::format::{BlockFormat, Fp8Blockwise, Fp8Tensorwise, Nvfp4};
    /// assert!(Nvfp4::default().validate().is_ok());
    /// assert!(Fp8Blockwise::<E4M3>::new(0, 128).validate().is_err());
    /// assert!(Fp8Tensorwise::<E4M3>::with_scale(f32::NAN).validate().is_err());
    /// assert!(Fp8Tensorwise::<E4M3>::with_scale(0.5).validate().is_ok());
    /// ```
    fn validate(&self) -> Result<(), Error> {
        Ok(())
    }
    /// The tensor amax this global was built from, if the format keeps one.
    fn global_amax(&self, g: &Self::Global) -> Option<f32>;
    /// The factor the GEMM applies once to the result, so that
    /// `y = alpha · Σ_blocks s_a·s_b·Σ q_a·q_b` with `s = Scale::value()`
    /// (for NVFP4, A/2688; 1 for MX).
    fn tensor_alpha(&self, g: &Self::Global) -> f32;
}

/// Checks that a tile shape is usable.
pub(crate) fn check_tile(rows: usize, cols: usize) -> Result<(), Error> {
    if rows == 0 || cols == 0 {
        return Err(Error::InvalidArgument(format!(
            "block shape {rows}x{cols} has a zero side"
        )));
    }
    Ok(())
}

/// Option `2d` of a format identifier: `Ok(true)` for the 2-D tile.
fn two_d(id: &FormatId) -> Result<bool, Error> {
    id.flag("2d", false)
}
