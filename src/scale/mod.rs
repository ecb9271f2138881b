//! Block scaling: the rules that turn an amax (of a block or a tensor) into
//! a scale, for each producer the crate follows. Pure functions of numbers;
//! the formats layer applies them to tensors.

pub mod four_over_six;
pub mod fp8;
pub mod mx;
pub mod nvfp4;

pub use crate::simd::table::ElementMap;

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

#[cfg(test)]
mod tests {
    use super::amax;
    use crate::prelude::*;
    use crate::simd::{self, Level};

    /// Test rows: magnitudes over the whole f32 range, both signs, with a
    /// NaN, an infinity or a negative zero planted in some blocks.
    fn row(n: usize, seed: u32) -> Vec<f32> {
        let mut x = seed | 1;
        let mut v: Vec<f32> = (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                // Any finite pattern, both signs.
                f32::from_bits((x % 0x7F80_0000) | (x & 0x8000_0000))
            })
            .collect();
        for (i, special) in [f32::NAN, -f32::INFINITY, -0.0, f32::from_bits(0xFFC0_0001)]
            .into_iter()
            .enumerate()
        {
            if let Some(e) = v.get_mut(37 + 101 * i) {
                *e = special;
            }
        }
        v
    }

    /// Every level's amax kernels on this CPU against the portable amax:
    /// whole rows and each block of them, at the formats' block lengths
    /// and at odd ones, with short last blocks.
    #[test]
    fn amax_kernels_agree() {
        for level in [Level::Avx2, Level::Avx512] {
            if level > simd::detected() {
                continue;
            }
            let k = simd::kernels(level);
            for (n, seed) in [(0, 1), (5, 2), (64, 3), (1000, 4), (4096, 5), (777, 6)] {
                let v = row(n, seed);
                if let Some(f) = k.amax {
                    assert_eq!(f(&v).to_bits(), amax(&v).to_bits(), "{level:?} n {n}");
                }
                let Some(f) = k.block_amaxes else { continue };
                for bl in [1, 7, 8, 16, 24, 32, 48, 64, 128, 256, 512, 1000] {
                    let want: Vec<u32> = v.chunks(bl).map(|b| amax(b).to_bits()).collect();
                    let mut got = vec![1.5f32; want.len() + 1];
                    f(&v, bl, &mut got);
                    let got: Vec<u32> = got[..want.len()].iter().map(|x| x.to_bits()).collect();
                    assert_eq!(got, want, "{level:?} n {n} block {bl}");
                }
            }
        }
    }
}
