//! [`gemm_any`]: the fast GEMM on two tensors of any format, dispatched
//! from the one list of formats to the generic [`super::gemm`].

use crate::Error;
use crate::format::formats;
use crate::tensor::AnyQuantized;

/// `C = alpha · A · Bᵀ + beta · C` ([`super::gemm`], bit-identical to
/// [`super::gemm_reference`]) for two tensors of any format whose scales are
/// of one kind and whose blocks agree along K: NVFP4 × NVFP4, any MX × any
/// MX (MXFP8 × MXFP4 included), FP8 per-tensor × FP8 per-tensor, FP8
/// blockwise × FP8 blockwise (E4M3 and E5M2 mixed freely), and W4A8: FP8
/// blockwise (E4M3 or E5M2) × NVFP4 or MXFP4, either way round, once the
/// FP8 operand's K blocks are cut to the FP4 ones
/// ([`AnyQuantized::refine_k`]).
///
/// Errors: any other pair of formats with different scale kinds
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
/// // W4A8: 1×128 FP8 activations, refined to NVFP4's 1×16 K blocks.
/// let x = AnyQuantized::quantize(&"fp8-block".parse()?, &[1.5f32; 2 * 128], 2, 128, &o)?;
/// let w = AnyQuantized::quantize(&"nvfp4".parse()?, &[2.0f32; 3 * 128], 3, 128, &o)?;
/// assert!(gemm_any(&x, &w, 1.0, 0.0, &mut c).is_err()); // 128 against 16
/// gemm_any(&x.refine_k(16)?, &w, 1.0, 0.0, &mut c)?;
/// assert_eq!(c, [384.0; 6]); // 128 · 1.5 · 2
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gemm_any(
    a: &AnyQuantized,
    b: &AnyQuantized,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
) -> Result<(), Error> {
    gemm_groups(a, b, alpha, beta, c)
        .or_else(|| w4a8(a, b, alpha, beta, c))
        .unwrap_or_else(|| {
            Err(Error::FormatMismatch {
                expected: a.format().name(),
                found: b.format().name(),
            })
        })
}

/// FP8 blockwise × FP4 (W4A8, [SEMANTICS.md](crate::contract) §7), either
/// way round: the one pairing across scale kinds that kernels run. The FP8
/// operand's K blocks must already match the FP4 ones
/// ([`AnyQuantized::refine_k`]).
fn w4a8(
    a: &AnyQuantized,
    b: &AnyQuantized,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
) -> Option<Result<(), Error>> {
    use AnyQuantized as Q;
    macro_rules! fp4 {
        ($fp8:expr, $other:expr, $fp8_first:expr) => {
            match $other {
                Q::Nvfp4(y) if $fp8_first => Some(super::gemm($fp8, y, alpha, beta, c)),
                Q::Nvfp4(y) => Some(super::gemm(y, $fp8, alpha, beta, c)),
                Q::MxFp4(y) if $fp8_first => Some(super::gemm($fp8, y, alpha, beta, c)),
                Q::MxFp4(y) => Some(super::gemm(y, $fp8, alpha, beta, c)),
                _ => None,
            }
        };
    }
    match (a, b) {
        (Q::Fp8BlockwiseE4M3(x), other) => fp4!(x, other, true),
        (Q::Fp8BlockwiseE5M2(x), other) => fp4!(x, other, true),
        (other, Q::Fp8BlockwiseE4M3(y)) => fp4!(y, other, false),
        (other, Q::Fp8BlockwiseE5M2(y)) => fp4!(y, other, false),
        _ => None,
    }
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
