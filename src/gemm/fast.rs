//! The fast GEMM: operands unpacked once into integer panels and scale
//! arrays, rows of C spread over threads, and integer block dot products the
//! compiler vectorizes. Bit-identical to [`super::gemm_reference`]: the
//! inner sums are the same exact integers and every rounding after them is
//! the same function, in the same order, whatever the thread count.

use super::{
    Dims, block_term, check, element_int, finish, folded_alpha, nonfinite_term, unit_exponent,
};
use crate::format::{BlockFormat, ScaleCodec};
use crate::tensor::QuantizedTensor;
use crate::{Element, Error};
use rayon::prelude::*;

/// One operand unpacked: element integers (row-major, rows × K), each
/// (row, K-block)'s scale value, and whether that block holds a non-finite
/// element.
struct Panel<I> {
    ints: Vec<I>,
    scales: Vec<f32>,
    nonfinite: Vec<bool>,
}

fn unpack<F: BlockFormat, I: Copy + Default + TryFrom<i64>>(
    t: &QuantizedTensor<F>,
    d: &Dims,
    rows: usize,
) -> Panel<I> {
    let e0 = unit_exponent::<F::Elem>();
    let blocks = d.k.div_ceil(d.kb);
    let mut p = Panel {
        ints: vec![I::default(); rows * d.k],
        scales: vec![0.0; rows * blocks],
        nonfinite: vec![false; rows * blocks],
    };
    for r in 0..rows {
        for k in 0..d.k {
            let q = t.element(r, k).expect("in range");
            match element_int(q, e0) {
                // Callers pick I wide enough for the format (see `gemm_with_threads`).
                Some(i) => p.ints[r * d.k + k] = I::try_from(i).unwrap_or_default(),
                None => p.nonfinite[r * blocks + k / d.kb] = true,
            }
        }
        for kb in 0..blocks {
            p.scales[r * blocks + kb] = t.scale_at(r, kb * d.kb).expect("in range").value();
        }
    }
    p
}

/// Σ f64(q_a)·f64(q_b) over one block, in increasing k, for blocks holding
/// a non-finite element (the rare path; same arithmetic as the reference).
fn float_sum<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    m: usize,
    n: usize,
    k0: usize,
    k1: usize,
) -> f64 {
    (k0..k1)
        .map(|k| {
            a.element(m, k).expect("in range").to_f32() as f64
                * b.element(n, k).expect("in range").to_f32() as f64
        })
        .sum::<f64>()
}

/// Largest |integer| an element of `T` maps to.
fn max_int<T: Element>() -> u128 {
    let e0 = unit_exponent::<T>();
    (0..1u32 << T::BITS)
        .filter_map(|c| element_int(T::from_bits(c as u8), e0))
        .map(|i| i.unsigned_abs() as u128)
        .max()
        .unwrap_or(0)
}

/// [`gemm_with_threads`] on rayon's global pool (all cores).
pub fn gemm<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
) -> Result<(), Error> {
    run(a, b, alpha, beta, c)
}

/// The fast path on a pool of `threads` threads (0 = rayon's default): the
/// same result as [`super::gemm_reference`], bit for bit, for every thread
/// count.
///
/// ```
/// use blockscale::format::MxFp8E4M3;
/// use blockscale::gemm::{gemm_reference, gemm_with_threads};
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x: Vec<f32> = (0..4 * 64).map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.37).collect();
/// let q = QuantizedTensor::quantize(MxFp8E4M3::default(), &x, 4, 64, &QuantizeOptions::default())?;
/// let (mut c1, mut c2) = (vec![0f32; 16], vec![0f32; 16]);
/// gemm_reference(&q, &q, 1.0, 0.0, &mut c1)?;
/// gemm_with_threads(&q, &q, 1.0, 0.0, &mut c2, 2)?;
/// assert_eq!(c1, c2);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn gemm_with_threads<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
    threads: usize,
) -> Result<(), Error> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::InvalidArgument(format!("thread pool: {e}")))?;
    pool.install(|| run(a, b, alpha, beta, c))
}

fn run<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
) -> Result<(), Error> {
    let d = check(a, b, c.len())?;
    // i32 panels with i64 block sums when they cannot overflow (all pairs
    // but those with E5M2, whose integers need 33 bits); else i64 and i128.
    let fits = max_int::<FA::Elem>() < 1 << 31
        && max_int::<FB::Elem>() < 1 << 31
        && max_int::<FA::Elem>() * max_int::<FB::Elem>() * d.kb as u128 <= i64::MAX as u128;
    if fits {
        kernel::<FA, FB, i32, i64>(a, b, &d, alpha, beta, c);
    } else {
        kernel::<FA, FB, i64, i128>(a, b, &d, alpha, beta, c);
    }
    Ok(())
}

fn kernel<FA, FB, I, S>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    d: &Dims,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
) where
    FA: BlockFormat,
    FB: BlockFormat,
    I: Copy + Default + Send + Sync + TryFrom<i64> + Into<S>,
    S: Copy + Default + core::ops::Add<Output = S> + core::ops::Mul<Output = S> + Into<i128>,
{
    if d.m == 0 || d.n == 0 {
        return;
    }
    let pa: Panel<I> = unpack(a, d, d.m);
    let pb: Panel<I> = unpack(b, d, d.n);
    let alpha = folded_alpha(a, b, alpha);
    let e0 = unit_exponent::<FA::Elem>() + unit_exponent::<FB::Elem>();
    let blocks = d.k.div_ceil(d.kb);
    c.par_chunks_mut(d.n).enumerate().for_each(|(m, row)| {
        let ra = &pa.ints[m * d.k..(m + 1) * d.k];
        for (n, out) in row.iter_mut().enumerate() {
            let rb = &pb.ints[n * d.k..(n + 1) * d.k];
            let mut acc = 0f32;
            for kb in 0..blocks {
                let (k0, k1) = (kb * d.kb, ((kb + 1) * d.kb).min(d.k));
                let (sa, sb) = (pa.scales[m * blocks + kb], pb.scales[n * blocks + kb]);
                acc += if pa.nonfinite[m * blocks + kb] || pb.nonfinite[n * blocks + kb] {
                    nonfinite_term(float_sum(a, b, m, n, k0, k1), sa, sb)
                } else {
                    let s = ra[k0..k1]
                        .iter()
                        .zip(&rb[k0..k1])
                        .fold(S::default(), |s, (&x, &y)| s + x.into() * y.into());
                    block_term(s.into(), e0, sa, sb)
                };
            }
            finish(acc, alpha, beta, out);
        }
    });
}
