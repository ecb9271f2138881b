//! Block scaling: the rules that turn an amax (of a block or a tensor) into
//! a scale, for each producer the crate follows. Pure functions of numbers;
//! the formats layer applies them to tensors.

pub mod four_over_six;
pub mod fp8;
pub mod mx;
pub mod nvfp4;

/// What is done to a high-precision value, in f32, before it is rounded to
/// the element format. Producers differ here (multiply by a reciprocal or
/// divide), and the bytes differ with them.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum ElementMap {
    /// `f32(x · m)` (Transformer Engine, torchao).
    Mul(f32),
    /// `f32(x / d)` (Model-Optimizer).
    Div(f32),
    /// `f32(f32(x / a) / b)` (JAX: divide by the global scale, then the block's).
    DivDiv(f32, f32),
    /// Every element of the block gets this code (zero blocks, where the
    /// producer's arithmetic would divide 0 by 0).
    Zero(u8),
}

impl ElementMap {
    /// The value to round, or `None` for [`ElementMap::Zero`].
    ///
    /// ```
    /// use blockscale::scale::ElementMap;
    /// assert_eq!(ElementMap::Mul(0.5).apply(3.0), Some(1.5));
    /// assert_eq!(ElementMap::DivDiv(2.0, 4.0).apply(3.0), Some(0.375));
    /// assert_eq!(ElementMap::Zero(0).apply(3.0), None);
    /// ```
    #[inline]
    pub fn apply(self, x: f32) -> Option<f32> {
        match self {
            ElementMap::Mul(m) => Some(x * m),
            ElementMap::Div(d) => Some(x / d),
            ElementMap::DivDiv(a, b) => Some((x / a) / b),
            ElementMap::Zero(_) => None,
        }
    }
}

/// The amax of `values`: the largest magnitude, NaN if any value is NaN
/// (a NaN anywhere must reach the scale rules, which define what a NaN
/// block gets), and 0 for no values.
///
/// ```
/// use blockscale::scale::amax;
/// assert_eq!(amax(&[1.0, -3.0, 2.0]), 3.0);
/// assert!(amax(&[1.0, f32::NAN, 2.0]).is_nan());
/// assert_eq!(amax(&[]), 0.0);
/// ```
pub fn amax(values: &[f32]) -> f32 {
    values.iter().fold(0.0, |m, &x| fold_amax(m, x.abs()))
}

/// The amax of two parts (two amaxes, or an amax and a magnitude): the
/// larger, NaN if either is.
#[inline]
pub(crate) fn fold_amax(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else {
        a.max(b)
    }
}
