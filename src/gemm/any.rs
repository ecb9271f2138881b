//! [`gemm_any`]: the fast GEMM on two tensors of any format, dispatched
//! from the one list of formats to the generic [`super::gemm`].

use crate::Error;
use crate::format::formats;
use crate::tensor::AnyQuantized;

/// `C = alpha · A · Bᵀ + beta · C` ([`super::gemm`], bit-identical to
/// [`super::gemm_reference`]) for two tensors of any format whose scales are
/// of one kind and whose blocks agree along K: NVFP4 × NVFP4, any MX × any
/// MX (MXFP8 × MXFP4 included), FP8 per-tensor × FP8 per-tensor, FP8
/// blockwise × FP8 blockwise (E4M3 and E5M2 mixed freely).
///
/// Errors: a pair of formats with different scale kinds
/// ([`Error::FormatMismatch`] naming both), and every error of
/// [`super::gemm`].
///
/// ```
/// use blockscale::gemm::gemm_any;
/// use blockscale::tensor::{AnyQuantized, QuantizeOptions};
/// let o = QuantizeOptions::default();
/// let a = AnyQuantized::quantize(&"mxfp8".parse()?, &[1.5f32; 2 * 32], 2, 32, &o)?;
/// let b = AnyQuantized::quantize(&"mxfp4".parse()?, &[2.0f32; 3 * 32], 3, 32, &o)?;
/// let mut c = [0f32; 6];
/// gemm_any(&a, &b, 1.0, 0.0, &mut c)?;
/// assert_eq!(c, [96.0; 6]); // 32 · 1.5 · 2
/// let n = AnyQuantized::quantize(&"nvfp4".parse()?, &[2.0f32; 3 * 32], 3, 32, &o)?;
/// assert!(gemm_any(&a, &n, 1.0, 0.0, &mut c).is_err());
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gemm_any(
    a: &AnyQuantized,
    b: &AnyQuantized,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
) -> Result<(), Error> {
    gemm_groups(a, b, alpha, beta, c).unwrap_or_else(|| {
        Err(Error::FormatMismatch {
            expected: a.format().name(),
            found: b.format().name(),
        })
    })
}

/// Pairs `a` with `b` inside each group of the format list; `None` if the
/// two are in different groups. Each group's pairs are monomorphized, and
/// no others.
macro_rules! gemm_groups {
    ($( $group:ident [ $( $(#[$doc:meta])* $v:ident($t:ty), )* ] )*) => {
        fn gemm_groups(
            a: &AnyQuantized,
            b: &AnyQuantized,
            alpha: f32,
            beta: f32,
            c: &mut [f32],
        ) -> Option<Result<(), Error>> {
            $(
                if let Some(r) = pair!(a, b, alpha, beta, c, [$($v),*], [$($v),*]) {
                    return Some(r);
                }
            )*
            None
        }
    };
}

/// The arms of one group: `a` is matched against the group's variants,
/// then `b` against the same list (passed whole as `$list`).
macro_rules! pair {
    ($a:ident, $b:ident, $alpha:ident, $beta:ident, $c:ident, $list:tt, [$($v:ident),*]) => {
        match $a {
            $( AnyQuantized::$v(x) => pair!(@b x, $b, $alpha, $beta, $c, $list), )*
            #[allow(unreachable_patterns)]
            _ => None,
        }
    };
    (@b $x:ident, $b:ident, $alpha:ident, $beta:ident, $c:ident, [$($w:ident),*]) => {
        match $b {
            $( AnyQuantized::$w(y) => Some(super::gemm($x, y, $alpha, $beta, $c)), )*
            #[allow(unreachable_patterns)]
            _ => None,
        }
    };
}

formats!(gemm_groups);
