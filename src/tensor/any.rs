//! [`AnyQuantized`]: a tensor quantized with any supported format, and
//! [`QuantizedView`], what every quantized tensor answers whatever its
//! format. Both are generated from the one list of formats
//! ([`crate::format::AnyFormat`]'s module docs say how to add one).

use super::{Direction, PartialBlocks, QuantizeOptions, QuantizedTensor};
use crate::Error;
use crate::element::slice::Real;
use crate::format::{AnyFormat, BlockFormat, FormatId, ScaleCodec, ScaleKind, formats};
#[cfg(feature = "std")]
use crate::metrics::ErrorMetrics;
use crate::prelude::*;

/// What a quantized tensor of any format answers, as an object-safe trait:
/// implemented by every [`QuantizedTensor`] and by [`AnyQuantized`], and
/// sealed (no other type implements it), so that it can gain methods
/// without breaking anyone.
///
/// ```
/// use blockscale::format::Nvfp4;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor, QuantizedView};
/// let q = QuantizedTensor::quantize(Nvfp4::default(), &[1.0f32; 32], 2, 16, &QuantizeOptions::default())?;
/// let v: &dyn QuantizedView = &q;
/// assert_eq!(v.format_id().to_string(), "nvfp4");
/// assert_eq!(v.scale_bits().len(), 2);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub trait QuantizedView: sealed::Sealed {
    /// The format's identifier ([`BlockFormat::id`]).
    fn format_id(&self) -> FormatId;
    /// The format's name for messages ([`BlockFormat::name`]).
    fn format_name(&self) -> String;
    /// The logical shape `(rows, cols)`.
    fn shape(&self) -> (usize, usize);
    /// The block direction.
    fn direction(&self) -> Direction;
    /// The shape of the stored matrix.
    fn stored_shape(&self) -> (usize, usize);
    /// The shape of the scale matrix.
    fn scale_shape(&self) -> (usize, usize);
    /// The element bytes ([`QuantizedTensor::data`]).
    fn data(&self) -> &[u8];
    /// The scale type.
    fn scale_kind(&self) -> ScaleKind;
    /// Bits per element code (4, 6 or 8).
    fn element_bits(&self) -> u32;
    /// The scales' stored bits, row-major ([`ScaleCodec::to_bits`]).
    fn scale_bits(&self) -> Vec<u32>;
    /// The scales' stored bits in `layout`
    /// ([`QuantizedTensor::scales_in`]).
    fn scale_bits_in(&self, layout: crate::layout::ScaleLayout) -> Result<Vec<u32>, Error>;
    /// The element codes laid out for a kernel ([`QuantizedTensor::data_in`]).
    fn data_in(&self, layout: crate::layout::DataLayout) -> Result<Vec<u8>, Error>;
    /// The tensor amax, for formats with a global scale.
    fn global_amax(&self) -> Option<f32>;
    /// Dequantizes into `out` ([`QuantizedTensor::dequantize_into`]).
    fn dequantize_into(&self, out: &mut [f32]) -> Result<(), Error>;
    /// Dequantizes to a new matrix ([`QuantizedTensor::dequantize`]).
    fn dequantize(&self) -> Vec<f32>;
    /// Error metrics against the values it was quantized from
    /// ([`QuantizedTensor::error_metrics`]).
    #[cfg(feature = "std")]
    fn error_metrics(&self, reference: &[f32]) -> Result<ErrorMetrics, Error>;
}

mod sealed {
    /// Implemented only here: [`super::QuantizedView`] is sealed.
    pub trait Sealed {}
    impl<F: crate::format::BlockFormat> Sealed for crate::tensor::QuantizedTensor<F> {}
    impl Sealed for super::AnyQuantized {}
}

impl<F: BlockFormat> QuantizedView for QuantizedTensor<F> {
    fn format_id(&self) -> FormatId {
        self.format().id()
    }
    fn format_name(&self) -> String {
        self.format().name()
    }
    fn shape(&self) -> (usize, usize) {
        QuantizedTensor::shape(self)
    }
    fn direction(&self) -> Direction {
        QuantizedTensor::direction(self)
    }
    fn stored_shape(&self) -> (usize, usize) {
        QuantizedTensor::stored_shape(self)
    }
    fn scale_shape(&self) -> (usize, usize) {
        QuantizedTensor::scale_shape(self)
    }
    fn data(&self) -> &[u8] {
        QuantizedTensor::data(self)
    }
    fn scale_kind(&self) -> ScaleKind {
        F::Scale::KIND
    }
    fn element_bits(&self) -> u32 {
        <F::Elem as crate::Element>::BITS
    }
    fn scale_bits(&self) -> Vec<u32> {
        self.scales().iter().map(|s| s.to_bits()).collect()
    }
    fn scale_bits_in(&self, layout: crate::layout::ScaleLayout) -> Result<Vec<u32>, Error> {
        let s = self.scales_in(layout)?;
        Ok(s.iter().map(|s| s.to_bits()).collect())
    }
    fn data_in(&self, layout: crate::layout::DataLayout) -> Result<Vec<u8>, Error> {
        QuantizedTensor::data_in(self, layout)
    }
    fn global_amax(&self) -> Option<f32> {
        QuantizedTensor::global_amax(self)
    }
    fn dequantize_into(&self, out: &mut [f32]) -> Result<(), Error> {
        QuantizedTensor::dequantize_into(self, out)
    }
    fn dequantize(&self) -> Vec<f32> {
        QuantizedTensor::dequantize(self)
    }
    #[cfg(feature = "std")]
    fn error_metrics(&self, reference: &[f32]) -> Result<ErrorMetrics, Error> {
        QuantizedTensor::error_metrics(self, reference)
    }
}

/// Code generic over the format, run on the concrete tensor an
/// [`AnyQuantized`] holds ([`AnyQuantized::visit`]).
///
/// ```
/// use blockscale::format::BlockFormat;
/// use blockscale::tensor::{AnyQuantized, QuantizedTensor, QuantizeOptions, TensorVisitor};
/// struct FirstScale;
/// impl TensorVisitor for FirstScale {
///     type Output = Option<f32>;
///     fn visit<F: BlockFormat>(self, t: &QuantizedTensor<F>) -> Option<f32> {
///         use blockscale::format::ScaleCodec;
///         t.scales().first().map(|s| s.value())
///     }
/// }
/// let q = AnyQuantized::quantize(&"mxfp8".parse()?, &[2.0f32; 32], 1, 32, &QuantizeOptions::default())?;
/// assert_eq!(q.visit(FirstScale), Some(2f32.powi(-7))); // RCEIL: 2 / 448 → 2^-7
/// # Ok::<(), blockscale::Error>(())
/// ```
pub trait TensorVisitor {
    /// What the visit returns.
    type Output;
    /// Runs on the concrete tensor.
    fn visit<F: BlockFormat>(self, tensor: &QuantizedTensor<F>) -> Self::Output;
}

macro_rules! any_quantized {
    ($( $group:ident [ $( $(#[$doc:meta])* $v:ident($t:ty), )* ] )*) => {
        /// A tensor quantized with any supported format: one variant per
        /// [`AnyFormat`] variant, holding the [`QuantizedTensor`].
        ///
        /// ```
        /// use blockscale::tensor::{AnyQuantized, QuantizeOptions, QuantizedView};
        /// let x: Vec<f32> = (0..64).map(|i| (i % 16) as f32 - 8.0).collect();
        /// let q = AnyQuantized::quantize(&"mxfp8".parse()?, &x, 2, 32, &QuantizeOptions::default())?;
        /// assert_eq!(q.format().to_string(), "mxfp8");
        /// assert_eq!(q.dequantize(), x); // integers of three significant bits are exact in E4M3
        /// # Ok::<(), blockscale::Error>(())
        /// ```
        #[derive(Clone, Debug)]
        #[non_exhaustive]
        pub enum AnyQuantized {
            $( $( $(#[$doc])* $v(QuantizedTensor<$t>), )* )*
        }

        impl AnyQuantized {
            /// Quantizes with `format` ([`QuantizedTensor::quantize`]).
            ///
            /// Errors: those of [`QuantizedTensor::quantize`], all checked
            /// before anything is allocated.
            ///
            /// ```
            /// use blockscale::tensor::{AnyQuantized, QuantizeOptions};
            /// let f = "mxfp8".parse()?;
            /// let huge = AnyQuantized::quantize(&f, &[1.0f32; 32], 1 << 20, 1 << 20, &QuantizeOptions::default());
            /// assert!(matches!(huge, Err(blockscale::Error::LengthMismatch { .. })));
            /// # Ok::<(), blockscale::Error>(())
            /// ```
            pub fn quantize<S: Real>(
                format: &AnyFormat,
                src: &[S],
                rows: usize,
                cols: usize,
                opts: &QuantizeOptions,
            ) -> Result<AnyQuantized, Error> {
                Ok(match format {
                    $( $( AnyFormat::$v(f) => {
                        AnyQuantized::$v(QuantizedTensor::quantize(f.clone(), src, rows, cols, opts)?)
                    } )* )*
                })
            }

            /// [`QuantizedTensor::from_parts`] for any format, with the
            /// scales given as their stored bits ([`ScaleCodec::from_bits`]).
            ///
            /// Errors: those of [`QuantizedTensor::from_parts`] (a global
            /// amax that is NaN, ±Inf or negative among them).
            ///
            /// ```
            /// use blockscale::tensor::{AnyQuantized, Direction, PartialBlocks, QuantizedView};
            /// let q = AnyQuantized::from_parts(&"mxfp8".parse()?, (1, 32), Direction::Rowwise,
            ///     PartialBlocks::Reject, vec![0x38; 32], &[0x7F], None)?;
            /// assert_eq!(q.dequantize(), vec![1.0; 32]); // E4M3 0x38 = 1, E8M0 0x7F = 1
            /// assert!(AnyQuantized::from_parts(&"nvfp4".parse()?, (1, 16), Direction::Rowwise,
            ///     PartialBlocks::Reject, vec![0x22; 8], &[0x38], Some(-4.0)).is_err());
            /// # Ok::<(), blockscale::Error>(())
            /// ```
            #[allow(clippy::too_many_arguments)]
            pub fn from_parts(
                format: &AnyFormat,
                shape: (usize, usize),
                direction: Direction,
                partial: PartialBlocks,
                data: Vec<u8>,
                scale_bits: &[u32],
                global_amax: Option<f32>,
            ) -> Result<AnyQuantized, Error> {
                Ok(match format {
                    $( $( AnyFormat::$v(f) => AnyQuantized::$v(QuantizedTensor::from_parts(
                        f.clone(),
                        shape,
                        direction,
                        partial,
                        data,
                        scale_bits.iter().map(|&b| ScaleCodec::from_bits(b)).collect(),
                        global_amax,
                    )?), )* )*
                })
            }

            /// The format.
            pub fn format(&self) -> AnyFormat {
                match self {
                    $( $( AnyQuantized::$v(t) => AnyFormat::$v(t.format().clone()), )* )*
                }
            }

            /// Runs `visitor` on the concrete tensor.
            pub fn visit<V: TensorVisitor>(&self, visitor: V) -> V::Output {
                match self {
                    $( $( AnyQuantized::$v(t) => visitor.visit(t), )* )*
                }
            }

            /// The tensor as a [`QuantizedView`].
            pub fn view(&self) -> &dyn QuantizedView {
                match self {
                    $( $( AnyQuantized::$v(t) => t, )* )*
                }
            }
        }

        $( $(
            impl From<QuantizedTensor<$t>> for AnyQuantized {
                fn from(t: QuantizedTensor<$t>) -> AnyQuantized {
                    AnyQuantized::$v(t)
                }
            }

            impl TryFrom<AnyQuantized> for QuantizedTensor<$t> {
                type Error = Error;
                /// The tensor, if it has this format type.
                fn try_from(q: AnyQuantized) -> Result<Self, Error> {
                    match q {
                        AnyQuantized::$v(t) => Ok(t),
                        #[allow(unreachable_patterns)]
                        other => Err(Error::FormatMismatch {
                            expected: <$t>::default().name(),
                            found: other.format().name(),
                        }),
                    }
                }
            }
        )* )*
    };
}
formats!(any_quantized);

impl AnyQuantized {
    /// [`QuantizedTensor::refine_k`] for an FP8-blockwise tensor (E4M3,
    /// E5M2 and their fnuz twins): its K blocks cut into blocks of `cols`.
    ///
    /// Errors: [`Error::InvalidArgument`] for other formats, and those of
    /// `refine_k`.
    ///
    /// ```
    /// use blockscale::tensor::{AnyQuantized, QuantizeOptions, QuantizedView};
    /// let q = AnyQuantized::quantize(&"fp8-block".parse()?, &[1.0f32; 256], 1, 256, &QuantizeOptions::default())?;
    /// assert_eq!(q.refine_k(32)?.scale_shape(), (1, 8));
    /// let mx = AnyQuantized::quantize(&"mxfp8".parse()?, &[1.0f32; 256], 1, 256, &QuantizeOptions::default())?;
    /// assert!(mx.refine_k(16).is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn refine_k(&self, cols: usize) -> Result<AnyQuantized, Error> {
        Ok(match self {
            AnyQuantized::Fp8BlockwiseE4M3(q) => AnyQuantized::Fp8BlockwiseE4M3(q.refine_k(cols)?),
            AnyQuantized::Fp8BlockwiseE5M2(q) => AnyQuantized::Fp8BlockwiseE5M2(q.refine_k(cols)?),
            AnyQuantized::Fp8BlockwiseE4M3Fnuz(q) => {
                AnyQuantized::Fp8BlockwiseE4M3Fnuz(q.refine_k(cols)?)
            }
            AnyQuantized::Fp8BlockwiseE5M2Fnuz(q) => {
                AnyQuantized::Fp8BlockwiseE5M2Fnuz(q.refine_k(cols)?)
            }
            other => {
                return Err(Error::InvalidArgument(format!(
                    "refine_k takes FP8-blockwise tensors, not {}",
                    other.view().format_name()
                )));
            }
        })
    }
}

impl QuantizedView for AnyQuantized {
    fn format_id(&self) -> FormatId {
        self.view().format_id()
    }
    fn format_name(&self) -> String {
        self.view().format_name()
    }
    fn shape(&self) -> (usize, usize) {
        self.view().shape()
    }
    fn direction(&self) -> Direction {
        self.view().direction()
    }
    fn stored_shape(&self) -> (usize, usize) {
        self.view().stored_shape()
    }
    fn scale_shape(&self) -> (usize, usize) {
        self.view().scale_shape()
    }
    fn data(&self) -> &[u8] {
        self.view().data()
    }
    fn scale_kind(&self) -> ScaleKind {
        self.view().scale_kind()
    }
    fn element_bits(&self) -> u32 {
        self.view().element_bits()
    }
    fn scale_bits(&self) -> Vec<u32> {
        self.view().scale_bits()
    }
    fn scale_bits_in(&self, layout: crate::layout::ScaleLayout) -> Result<Vec<u32>, Error> {
        self.view().scale_bits_in(layout)
    }
    fn data_in(&self, layout: crate::layout::DataLayout) -> Result<Vec<u8>, Error> {
        self.view().data_in(layout)
    }
    fn global_amax(&self) -> Option<f32> {
        self.view().global_amax()
    }
    fn dequantize_into(&self, out: &mut [f32]) -> Result<(), Error> {
        self.view().dequantize_into(out)
    }
    fn dequantize(&self) -> Vec<f32> {
        self.view().dequantize()
    }
    #[cfg(feature = "std")]
    fn error_metrics(&self, reference: &[f32]) -> Result<ErrorMetrics, Error> {
        self.view().error_metrics(reference)
    }
}
