//! proptest strategies for property tests against this crate (feature
//! `proptest`): element codes, finite values, the inputs where rounding is
//! decided, and block-shaped tensors.
//!
//! ```
//! use blockscale::testing::{nearest_even_saturating, strategy};
//! use blockscale::element::{ConvertOptions, Overflow};
//! use blockscale::{E4M3, Element};
//! use proptest::prelude::*;
//!
//! let sat = ConvertOptions { overflow: Overflow::Saturate, ..ConvertOptions::ML_DTYPES };
//! proptest!(|(x in strategy::inputs::<E4M3>())| {
//!     prop_assume!(!x.is_nan());
//!     prop_assert_eq!(Some(E4M3::from_f32_with(x, sat)), nearest_even_saturating::<E4M3>(x));
//! });
//! ```

use super::{grid_points, specials};
use crate::element::Element;
use crate::format::{BlockFormat, BlockShape};
/// The `proptest` these strategies are for.
pub use proptest;
use proptest::prelude::*;
use proptest::sample::select;

/// Any code of `T` ([`Element::codes`]).
///
/// ```
/// use blockscale::{E2M1, Element};
/// use proptest::prelude::*;
/// proptest!(|(c in blockscale::testing::strategy::codes::<E2M1>())| {
///     prop_assert!(c.to_bits() < 16);
/// });
/// ```
pub fn codes<T: Element + Clone + core::fmt::Debug + 'static>() -> impl Strategy<Value = T> {
    select(T::codes().collect::<Vec<_>>())
}

/// Any finite value of `T`, as f32.
///
/// ```
/// use blockscale::{E5M2, Element};
/// use proptest::prelude::*;
/// proptest!(|(v in blockscale::testing::strategy::finite_values::<E5M2>())| {
///     prop_assert_eq!(E5M2::from_f32(v).to_f32().to_bits(), v.to_bits());
/// });
/// ```
pub fn finite_values<T: Element>() -> impl Strategy<Value = f32> {
    select(T::values().filter(|v| v.is_finite()).collect::<Vec<_>>())
}

/// f32 inputs for `T`'s encoder: half of them where its rounding is
/// decided ([`grid_points`]: values, neighbours, exact ties, overflow),
/// half any bit pattern (NaN and infinities included).
///
/// ```
/// use blockscale::{E2M3, Element};
/// use proptest::prelude::*;
/// // E2M3 has no NaN or infinity: every input lands on a finite code.
/// proptest!(|(x in blockscale::testing::strategy::inputs::<E2M3>())| {
///     prop_assert!(E2M3::from_f32(x).to_f32().is_finite());
/// });
/// ```
pub fn inputs<T: Element>() -> impl Strategy<Value = f32> {
    prop_oneof![
        select(grid_points::<T>()),
        any::<u32>().prop_map(f32::from_bits),
    ]
}

/// A tensor of whole blocks of `format`: `(rows, cols, data)` with 1 to
/// `max_blocks` blocks along each axis (a per-tensor format takes 1 to
/// 64 rows and columns), and data mixing [`specials`] (NaN and
/// infinities included: quantizing must refuse them), wide-range finite
/// values and zeros.
///
/// ```
/// use blockscale::format::{BlockFormat, Nvfp4};
/// use blockscale::tensor::QuantizeOptions;
/// use blockscale::testing::{check_quantize, strategy};
/// use proptest::prelude::*;
/// proptest!(ProptestConfig::with_cases(32), |((r, c, x) in strategy::tensors(&Nvfp4::default(), 3))| {
///     check_quantize(Nvfp4::default(), &x, r, c, &QuantizeOptions::default()).unwrap();
/// });
/// ```
pub fn tensors<F: BlockFormat>(
    format: &F,
    max_blocks: usize,
) -> impl Strategy<Value = (usize, usize, Vec<f32>)> {
    let (br, bc) = match format.block() {
        BlockShape::Tile { rows, cols } => (rows, cols),
        BlockShape::Tensor => (1, 1),
    };
    let max = match format.block() {
        BlockShape::Tile { .. } => max_blocks.max(1),
        BlockShape::Tensor => 64,
    };
    let element = prop_oneof![
        1 => select(specials()),
        6 => (-40i32..40, -1.0f32..1.0).prop_map(|(e, m)| m * f32::powi(2.0, e)),
        1 => Just(0.0f32),
    ];
    (1..=max, 1..=max).prop_flat_map(move |(r, c)| {
        let (rows, cols) = (r * br, c * bc);
        proptest::collection::vec(element.clone(), rows * cols).prop_map(move |x| (rows, cols, x))
    })
}
