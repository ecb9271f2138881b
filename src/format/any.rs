//! [`AnyFormat`]: every supported format as one runtime value, and the one
//! list of formats ([`formats!`]) that it and
//! [`AnyQuantized`](crate::tensor::AnyQuantized) are generated from.
//!
//! How to add a format: the module docs of [`crate::format`].

use super::{BlockFormat, BlockShape, FormatId, ScaleCodec, ScaleKind};
use crate::Error;
use crate::prelude::*;
use core::fmt;
use core::str::FromStr;

/// Calls `$callback! { GROUP [ Variant(Type), … ] … }` with every format
/// the crate supports, in groups of formats that share a scale type and
/// so may be GEMM operands together. This is the one list of formats.
macro_rules! formats {
    ($callback:ident) => {
        $callback! {
            e4m3_scales [
                /// NVFP4 ([`crate::format::Nvfp4`]).
                Nvfp4(crate::format::Nvfp4),
                /// NVFP4 with 4over6 block scaling ([`crate::format::Nvfp4FourOverSix`]).
                Nvfp4FourOverSix(crate::format::Nvfp4FourOverSix),
            ]
            e8m0_scales [
                /// MXFP8 with E4M3 elements.
                MxFp8E4M3(crate::format::MxFp8E4M3),
                /// MXFP8 with E5M2 elements.
                MxFp8E5M2(crate::format::MxFp8E5M2),
                /// MXFP6 with E2M3 elements.
                MxFp6E2M3(crate::format::MxFp6E2M3),
                /// MXFP6 with E3M2 elements.
                MxFp6E3M2(crate::format::MxFp6E3M2),
                /// MXFP4.
                MxFp4(crate::format::MxFp4),
                /// MXINT8.
                MxInt8(crate::format::MxInt8),
            ]
            f32_tensor_scales [
                /// FP8 E4M3 with one FP32 scale per tensor.
                Fp8TensorwiseE4M3(crate::format::Fp8Tensorwise<crate::E4M3>),
                /// FP8 E5M2 with one FP32 scale per tensor.
                Fp8TensorwiseE5M2(crate::format::Fp8Tensorwise<crate::E5M2>),
                /// AMD FP8 E4M3FNUZ with one FP32 scale per tensor.
                Fp8TensorwiseE4M3Fnuz(crate::format::Fp8Tensorwise<crate::E4M3Fnuz>),
                /// AMD FP8 E5M2FNUZ with one FP32 scale per tensor.
                Fp8TensorwiseE5M2Fnuz(crate::format::Fp8Tensorwise<crate::E5M2Fnuz>),
            ]
            f32_block_scales [
                /// FP8 E4M3 with FP32 block scales.
                Fp8BlockwiseE4M3(crate::format::Fp8Blockwise<crate::E4M3>),
                /// FP8 E5M2 with FP32 block scales.
                Fp8BlockwiseE5M2(crate::format::Fp8Blockwise<crate::E5M2>),
                /// AMD FP8 E4M3FNUZ with FP32 block scales.
                Fp8BlockwiseE4M3Fnuz(crate::format::Fp8Blockwise<crate::E4M3Fnuz>),
                /// AMD FP8 E5M2FNUZ with FP32 block scales.
                Fp8BlockwiseE5M2Fnuz(crate::format::Fp8Blockwise<crate::E5M2Fnuz>),
            ]
            e8m0_block128_scales [
                /// FP8 E4M3 with E8M0 block scales (DeepSeek, DeepGEMM UE8M0).
                Fp8BlockUe8m0(crate::format::Fp8BlockUe8m0),
            ]
        }
    };
}
pub(crate) use formats;

/// Code generic over the format, run on the concrete format an
/// [`AnyFormat`] holds ([`AnyFormat::visit`]): Rust closures cannot be
/// generic, so this trait stands in for one.
///
/// ```
/// use blockscale::format::{AnyFormat, BlockFormat, FormatVisitor};
/// struct BlockCols;
/// impl FormatVisitor for BlockCols {
///     type Output = Option<usize>;
///     fn visit<F: BlockFormat>(self, f: F) -> Option<usize> {
///         match f.block() {
///             blockscale::format::BlockShape::Tile { cols, .. } => Some(cols),
///             blockscale::format::BlockShape::Tensor => None,
///         }
///     }
/// }
/// let f: AnyFormat = "nvfp4".parse()?;
/// assert_eq!(f.visit(BlockCols), Some(16));
/// # Ok::<(), blockscale::Error>(())
/// ```
pub trait FormatVisitor {
    /// What the visit returns.
    type Output;
    /// Runs on the concrete format.
    fn visit<F: BlockFormat>(self, format: F) -> Self::Output;
}

macro_rules! any_format {
    ($( $group:ident [ $( $(#[$doc:meta])* $v:ident($t:ty), )* ] )*) => {
        /// Any supported block format with its options, as one value: what
        /// the command line, file metadata, the recipes and the fuzz targets
        /// name formats by. It prints and parses as its [`FormatId`]
        /// (`nvfp4,profile=modelopt`, `mxfp4,rule=floor,2d`, …).
        ///
        /// ```
        /// use blockscale::format::{AnyFormat, BlockFormat, MxFp4};
        /// use blockscale::scale::mx::MxScaleRule;
        /// let f: AnyFormat = "mxfp4,rule=floor".parse()?;
        /// assert_eq!(f, AnyFormat::MxFp4(MxFp4::new(MxScaleRule::Floor)));
        /// assert_eq!(f.to_string(), "mxfp4,rule=floor");
        /// assert!("mxfp5".parse::<AnyFormat>().is_err());
        /// # Ok::<(), blockscale::Error>(())
        /// ```
        #[derive(Clone, Copy, Debug, PartialEq)]
        #[non_exhaustive]
        pub enum AnyFormat {
            $( $( $(#[$doc])* $v($t), )* )*
        }

        impl AnyFormat {
            /// The default format of every variant, in declaration order.
            ///
            /// ```
            /// let names: Vec<String> = blockscale::format::AnyFormat::defaults().iter().map(|f| f.to_string()).collect();
            /// assert_eq!(&names[..3], ["nvfp4", "nvfp4-4over6", "mxfp8"]);
            /// ```
            pub fn defaults() -> Vec<AnyFormat> {
                vec![$( $( AnyFormat::$v(<$t>::default()), )* )*]
            }

            /// Runs `visitor` on the concrete format.
            pub fn visit<V: FormatVisitor>(&self, visitor: V) -> V::Output {
                match self {
                    $( $( AnyFormat::$v(f) => visitor.visit(f.clone()), )* )*
                }
            }

            /// The identifier ([`BlockFormat::id`] of the concrete format).
            ///
            /// ```
            /// use blockscale::format::{AnyFormat, Nvfp4};
            /// assert_eq!(AnyFormat::from(Nvfp4::WEIGHTS_2D).id().to_string(), "nvfp4,2d");
            /// ```
            pub fn id(&self) -> FormatId {
                match self {
                    $( $( AnyFormat::$v(f) => f.id(), )* )*
                }
            }

            /// The scale type.
            ///
            /// ```
            /// use blockscale::format::{AnyFormat, ScaleKind};
            /// assert_eq!("nvfp4".parse::<AnyFormat>()?.scale_kind(), ScaleKind::E4M3);
            /// # Ok::<(), blockscale::Error>(())
            /// ```
            pub fn scale_kind(&self) -> ScaleKind {
                match self {
                    $( $( AnyFormat::$v(_) => <<$t as BlockFormat>::Scale as ScaleCodec>::KIND, )* )*
                }
            }

            /// The format's block ([`BlockFormat::block`]).
            ///
            /// ```
            /// use blockscale::format::{AnyFormat, BlockShape};
            /// let f: AnyFormat = "fp8-block,2d".parse()?;
            /// assert_eq!(f.block(), BlockShape::Tile { rows: 128, cols: 128 });
            /// # Ok::<(), blockscale::Error>(())
            /// ```
            pub fn block(&self) -> BlockShape {
                match self {
                    $( $( AnyFormat::$v(f) => f.block(), )* )*
                }
            }

            /// Whether the format has a per-tensor global scale
            /// ([`BlockFormat::has_global_scale`]).
            ///
            /// ```
            /// use blockscale::format::AnyFormat;
            /// assert!("nvfp4".parse::<AnyFormat>()?.has_global_scale());
            /// assert!(!"mxfp8".parse::<AnyFormat>()?.has_global_scale());
            /// # Ok::<(), blockscale::Error>(())
            /// ```
            pub fn has_global_scale(&self) -> bool {
                match self {
                    $( $( AnyFormat::$v(f) => f.has_global_scale(), )* )*
                }
            }

            /// The name for messages ([`BlockFormat::name`]).
            ///
            /// ```
            /// let f: blockscale::format::AnyFormat = "mxfp6-e3m2".parse()?;
            /// assert_eq!(f.name(), "MXFP6-E3M2");
            /// # Ok::<(), blockscale::Error>(())
            /// ```
            pub fn name(&self) -> String {
                match self {
                    $( $( AnyFormat::$v(f) => f.name(), )* )*
                }
            }

            /// The format `id` names.
            ///
            /// Errors: [`Error::InvalidArgument`] for an unknown family
            /// (naming the known ones) or an option the family rejects.
            ///
            /// ```
            /// use blockscale::format::{AnyFormat, FormatId};
            /// let f = AnyFormat::from_id(&FormatId::new("fp8-block").with("2d", "true"))?;
            /// assert_eq!(f.to_string(), "fp8-block,2d");
            /// # Ok::<(), blockscale::Error>(())
            /// ```
            pub fn from_id(id: &FormatId) -> Result<AnyFormat, Error> {
                $( $(
                    if <$t>::default().id().family() == id.family() {
                        return Ok(AnyFormat::$v(<$t>::from_id(id)?));
                    }
                )* )*
                Err(Error::InvalidArgument(format!(
                    "unknown format '{}' (expected one of: {})",
                    id.family(),
                    AnyFormat::families().join(", ")
                )))
            }
        }

        $( $(
            impl From<$t> for AnyFormat {
                fn from(f: $t) -> AnyFormat {
                    AnyFormat::$v(f)
                }
            }
        )* )*
    };
}
formats!(any_format);

impl AnyFormat {
    /// The family keyword of every variant, in declaration order: the
    /// format names the command line accepts.
    ///
    /// ```
    /// assert!(blockscale::format::AnyFormat::families().contains(&"mxint8".to_string()));
    /// ```
    pub fn families() -> Vec<String> {
        AnyFormat::defaults()
            .iter()
            .map(|f| f.id().family().to_string())
            .collect()
    }
}

impl fmt::Display for AnyFormat {
    /// The [`FormatId`] text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.id(), f)
    }
}

impl FromStr for AnyFormat {
    type Err = Error;
    /// Parses a [`FormatId`] and finds its family.
    fn from_str(s: &str) -> Result<AnyFormat, Error> {
        AnyFormat::from_id(&s.parse()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_distinct_and_round_trip() {
        let fams = AnyFormat::families();
        for (i, f) in fams.iter().enumerate() {
            assert!(!fams[..i].contains(f), "{f} twice");
        }
        for f in AnyFormat::defaults() {
            assert_eq!(f.to_string().parse::<AnyFormat>().unwrap(), f);
        }
    }
}
