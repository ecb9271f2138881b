//! The block-scaled GEMM with FP32 accumulation, over any pair of
//! [`BlockFormat`]s whose blocks agree along K ([SEMANTICS.md](crate::contract) §7).
//!
//! `C = alpha · A · Bᵀ (+ beta · C)` with A (M×K) and B (N×K) both quantized
//! along K (the "TN" layout of block-scaled tensor cores): the *stored*
//! matrices of the two [`QuantizedTensor`]s are M×K and N×K. Other layouts
//! come from columnwise quantization or 2-D tiles, never from transposing
//! 1-D-scaled data.
//!
//! **Semantics**, exactly:
//!
//! 1. Each element is an integer times a power of two (`q = i · 2^e0`, with
//!    e0 the exponent of the format's smallest subnormal), so each block
//!    term's inner sum `S = Σ_{k∈kb} i_a·i_b` is computed **exactly** in
//!    integers.
//! 2. The block term is `t = round_f32(S · 2^(e0a+e0b) · s_a · s_b)`, one
//!    round-to-nearest-even of the exact product of S and the two block scale
//!    values (`ScaleCodec::value`). It is exact for NVFP4 and MXFP4 (and
//!    whenever the product fits 24 bits); a t in f32's subnormal range is
//!    rounded once, like any other; past f32's range it is ±Inf. A block holding
//!    a NaN or ±Inf element, or with a non-finite scale, gives
//!    `t = f32(Σ f64(q_a)·f64(q_b)) · s_a · s_b` (NaN or ±Inf).
//! 3. `acc` starts at +0 and adds the terms in increasing kb order, in f32.
//! 4. `y = f32(alpha' · acc)` with `alpha' = f32(f32(alpha · α_A) · α_B)`,
//!    α the formats' [`BlockFormat::tensor_alpha`] (for NVFP4, A/2688: the
//!    global scales fold into alpha as Transformer Engine does). With
//!    `beta ≠ 0`, `C = f32(y + f32(beta · C))`; with `beta = 0`, C's old
//!    values are never read (a NaN there does not propagate).
//!
//! The result is deterministic and independent of thread count, blocking and
//! SIMD width: [`gemm_reference`] is the specification, [`gemm`] the fast
//! path, tested bit-identical. The fast path picks, from the operands'
//! formats and data, a kernel whose arithmetic is exact: 8-bit integer dot
//! products for E2M1, E2M3 and INT8 (AVX-512 VNNI), i16 products summed
//! exactly in i32 and combined in f64 for E4M3 and E3M2 (and E5M2 where
//! the sums fit f64), i64 lanes for E4M3 × E5M2 (AVX-512), and a generic integer kernel
//! for the rest; the SIMD level is detected at run time (see
//! [`crate::simd`]), and every kernel has a portable twin. A GPU's accumulation order is undocumented;
//! this is exact about its own order only.
//!
//! ```
//! use blockscale::format::Nvfp4;
//! use blockscale::gemm::{gemm, gemm_reference};
//! use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
//! let a: Vec<f32> = (0..2 * 32).map(|i| (i as f32 * 0.3).sin()).collect();
//! let b: Vec<f32> = (0..3 * 32).map(|i| (i as f32 * 0.7).cos()).collect();
//! let qa = QuantizedTensor::quantize(Nvfp4::default(), &a, 2, 32, &QuantizeOptions::default())?;
//! let qb = QuantizedTensor::quantize(Nvfp4::default(), &b, 3, 32, &QuantizeOptions::default())?;
//! let (mut c1, mut c2) = (vec![0f32; 6], vec![0f32; 6]);
//! gemm_reference(&qa, &qb, 1.0, 0.0, &mut c1)?;
//! gemm(&qa, &qb, 1.0, 0.0, &mut c2)?;
//! assert_eq!(c1, c2);
//! # Ok::<(), blockscale::Error>(())
//! ```

mod accuracy;
mod any;
mod epilogue;
mod fast;
mod grouped;
mod kernels;
mod pack;
mod plan;
mod reference;
mod row_scaled;

pub use accuracy::{GemmAccuracy, accuracy};
pub use any::gemm_any;
pub use epilogue::{Bias, Epilogue, gemm_epilogue, gemm_quantized};
pub use fast::{gemm, gemm_in, gemm_with_threads};
pub use grouped::{gemm_contiguous, gemm_contiguous_reference, gemm_masked, gemm_masked_reference};
pub use reference::gemm_reference;
pub use row_scaled::{gemm_row_scaled, gemm_row_scaled_b};

use crate::format::{BlockFormat, BlockShape};
use crate::tensor::QuantizedTensor;
use crate::{Element, Error};

/// The checked shape of a GEMM: M, N, K and the K-block size.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub kb: usize,
}

/// Checks that A (M×K stored) and B (N×K stored) can be multiplied and C
/// has M·N elements.
pub(crate) fn check<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    c_len: usize,
) -> Result<Dims, Error> {
    let (m, k) = a.stored_shape();
    let (n, kb_) = b.stored_shape();
    if k != kb_ {
        return Err(Error::KMismatch {
            a: (m, k),
            b: (n, kb_),
        });
    }
    // The tile along K, clamped to K as the quantizer's tiles are (a block
    // longer than K is one block of K), which keeps `k0 + kb` within usize.
    let along_k = |shape: BlockShape, rows: usize| shape.tile(rows, k).1;
    let (ka, kbb) = (
        along_k(a.format().block(), m),
        along_k(b.format().block(), n),
    );
    if ka != kbb {
        return Err(Error::BlockMismatch {
            a: a.format().name(),
            a_block: ka,
            b: b.format().name(),
            b_block: kbb,
        });
    }
    let mn = crate::error::checked_area("C", m, n)?;
    crate::error::check_len("C", mn, c_len)?;
    Ok(Dims { m, n, k, kb: ka })
}

/// `alpha' = f32(f32(alpha · α_A) · α_B)`.
pub(crate) fn folded_alpha<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    alpha: f32,
) -> f32 {
    (alpha * a.format().tensor_alpha(a.global())) * b.format().tensor_alpha(b.global())
}

/// The exponent of `T`'s smallest positive value (a power of two for every
/// element format), so that every finite element is an integer times 2^e0.
pub(crate) fn unit_exponent<T: Element>() -> i32 {
    let min = T::DECODE[..1usize << T::BITS]
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold(f32::INFINITY, f32::min);
    (min.to_bits() >> 23) as i32 - 127
}

/// The element as an exact integer multiple of 2^e0, or `None` if not finite.
#[inline]
pub(crate) fn element_int<T: Element>(q: T, e0: i32) -> Option<i64> {
    let v = q.to_f32();
    v.is_finite().then(|| ldexp(v, -e0) as i64)
}

/// x · 2^e, in steps so that no intermediate overflows or underflows early.
#[inline]
pub(crate) fn ldexp(mut x: f32, mut e: i32) -> f32 {
    while e > 127 {
        x *= f32::from_bits(254 << 23); // 2^127
        e -= 127;
    }
    while e < -126 {
        x *= f32::from_bits(1 << 23); // 2^-126
        e += 126;
    }
    x * f32::from_bits(((e + 127) as u32) << 23)
}

/// A finite f32 as `m · 2^e` with integer m (sign included).
#[inline]
pub(crate) fn split(x: f32) -> (i64, i32) {
    let b = x.to_bits();
    let exp = ((b >> 23) & 0xFF) as i32;
    let frac = (b & 0x7F_FFFF) as i64;
    let (m, e) = if exp == 0 {
        (frac, -149)
    } else {
        (frac | 0x80_0000, exp - 150)
    };
    (if b >> 31 == 1 { -m } else { m }, e)
}

/// The block term `round_f32(S · 2^e0 · s_a · s_b)` for exact integer S and
/// finite scales (module docs, rule 2): the exact product, then one
/// round-to-nearest-even to f32, subnormals and overflow to ±Inf included.
#[inline]
pub(crate) fn block_term(s: i128, e0: i32, sa: f32, sb: f32) -> f32 {
    if !sa.is_finite() || !sb.is_finite() {
        return (s as f32) * sa * sb;
    }
    let (ma, ea) = split(sa);
    let (mb, eb) = split(sb);
    // |S| < 2^72 and |ma|, |mb| < 2^24: the product fits i128.
    round_scaled(s * ma as i128 * mb as i128, e0 + ea + eb)
}

/// `round_f32(p · 2^e)`, exactly one round-to-nearest-even of the exact value.
pub(crate) fn round_scaled(p: i128, e: i32) -> f32 {
    if p == 0 {
        return 0.0;
    }
    let mag = p.unsigned_abs();
    let msb = 127 - mag.leading_zeros() as i32 + e; // exponent of the leading bit
    // The lowest bit f32 keeps: 23 below the leading bit, never below 2^-149.
    let lo = (msb - 23).max(-149);
    let shift = lo - e;
    let q = if shift <= 0 {
        mag << -shift // exact: at most 24 significant bits
    } else if shift >= 128 {
        0 // far below half of 2^-149
    } else {
        let (q, rem) = (mag >> shift, mag & ((1u128 << shift) - 1));
        let half = 1u128 << (shift - 1);
        q + u128::from(rem > half || (rem == half && q & 1 == 1))
    };
    // q ≤ 2^24 is exact in f32 and q · 2^lo is representable or overflows
    // to Inf exactly as rounding would.
    let r = ldexp(q as f32, lo);
    if p < 0 { -r } else { r }
}

/// The block term when a block holds a non-finite element (rule 2).
pub(crate) fn nonfinite_term(sum: f64, sa: f32, sb: f32) -> f32 {
    (sum as f32) * sa * sb
}

/// `y = f32(alpha' · acc)`, then beta (rule 4).
#[inline]
pub(crate) fn finish(acc: f32, alpha: f32, beta: f32, c: &mut f32) {
    let y = alpha * acc;
    *c = if beta == 0.0 { y } else { y + beta * *c };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_term_rounds_once() {
        // S = 2^24 + 1 is not representable in f32: rounds to even, 2^24.
        assert_eq!(block_term((1 << 24) + 1, 0, 1.0, 1.0), 16777216.0);
        // (2^24 + 1) · 3 = 50331651 → nearest f32 (spacing 4) is 50331652.
        assert_eq!(block_term((1 << 24) + 1, 0, 3.0, 1.0), 50331652.0);
        // Scales and e0 only shift: 12 · 2^-2 · 0.5 · 448 = 672.
        assert_eq!(block_term(12, -2, 0.5, 448.0), 672.0);
        assert_eq!(
            block_term(-5, -20, ldexp(1.0, 100), ldexp(1.0, -90)),
            -5.0 * ldexp(1.0, -10)
        );
        assert!(block_term(1, 0, f32::NAN, 1.0).is_nan());
        assert_eq!(ldexp(1.0, -149), f32::from_bits(1));
        assert_eq!(ldexp(1.0, 127), f32::from_bits(254 << 23));
        assert_eq!(ldexp(3.0, -300), 0.0);
        // One rounding in the subnormal range: 3·2^-151 = 0.75 ulp of the
        // smallest subnormal rounds up to it; 2^-150 + 2^-200 is just above
        // the tie and rounds up too (rounding first to 24 bits would not).
        assert_eq!(round_scaled(3, -151), f32::from_bits(1));
        assert_eq!(round_scaled((1 << 50) + 1, -200), f32::from_bits(1));
        assert_eq!(round_scaled(1, -150), 0.0); // tie to even (zero)
        assert_eq!(round_scaled(3, -150), f32::from_bits(2)); // tie to even
        assert_eq!(round_scaled(-((1 << 24) + 1), 0), -16777216.0);
        assert_eq!(round_scaled(1, 128), f32::INFINITY);
        assert_eq!(round_scaled((1 << 25) - 1, 103), f32::INFINITY); // rounds past MAX
        assert_eq!(round_scaled((1 << 24) - 1, 104), f32::MAX);
    }
}
