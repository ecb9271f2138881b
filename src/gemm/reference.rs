//! The naive GEMM: the specification, written to be audited, not fast.

use super::{block_term, check, element_int, finish, folded_alpha, nonfinite_term, unit_exponent};
use crate::format::{BlockFormat, ScaleCodec};
use crate::tensor::QuantizedTensor;
use crate::{Element, Error};

/// `C = alpha · A · Bᵀ (+ beta · C)` by the definition in the
/// [module docs](super): a triple loop over m, n and K-blocks, each block's
/// inner sum in exact integers (i128), one rounding per block term, FP32
/// accumulation in increasing block order.
///
/// `c` is row-major M×N. Errors: K differs, the block sizes along K differ,
/// or `c.len() != M·N`.
pub fn gemm_reference<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
) -> Result<(), Error> {
    let d = check(a, b, c.len())?;
    let alpha = folded_alpha(a, b, alpha);
    let (ea, eb) = (unit_exponent::<FA::Elem>(), unit_exponent::<FB::Elem>());
    for m in 0..d.m {
        for n in 0..d.n {
            let mut acc = 0f32;
            for k0 in (0..d.k).step_by(d.kb) {
                let k1 = (k0 + d.kb).min(d.k);
                let sa = a.scale_at(m, k0).expect("in range").value();
                let sb = b.scale_at(n, k0).expect("in range").value();
                let mut exact: Option<i128> = Some(0);
                let mut float = 0f64;
                for k in k0..k1 {
                    let qa = a.element(m, k).expect("in range");
                    let qb = b.element(n, k).expect("in range");
                    float += qa.to_f32() as f64 * qb.to_f32() as f64;
                    exact = match (exact, element_int(qa, ea), element_int(qb, eb)) {
                        (Some(s), Some(ia), Some(ib)) => Some(s + ia as i128 * ib as i128),
                        _ => None,
                    };
                }
                acc += match exact {
                    Some(s) => block_term(s, ea + eb, sa, sb),
                    None => nonfinite_term(float, sa, sb),
                };
            }
            finish(acc, alpha, beta, &mut c[m * d.n + n]);
        }
    }
    Ok(())
}
