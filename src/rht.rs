//! The Random Hadamard Transform (RHT) that NVFP4 training applies to the
//! two operands of the weight-gradient GEMM ([SEMANTICS.md](crate::contract) §5).
//!
//! For a size n (a power of two, 16 ≤ n ≤ 256) and a sign vector s ∈ {±1}ⁿ,
//!
//! ```text
//! M = (1/√n) · diag(s) · H_n,     H_n[i][j] = (−1)^popcount(i & j)   (Sylvester)
//! ```
//!
//! and every n-element chunk v of a matrix axis becomes `v·M` (forward) or
//! `v·Mᵀ` (inverse). M is orthogonal (`M·Mᵀ = I`), so transforming both
//! operands of a GEMM along its reduction axis K leaves the exact product
//! unchanged: `(A·M)(B·M)ᵀ = A·M·Mᵀ·Bᵀ = A·Bᵀ`. What it changes is the
//! distribution the quantizer sees: each output is a ±-weighted mean of n
//! inputs, so a block's outlier is spread over all n entries and blocks
//! become close to Gaussian (the NVFP4 paper's motivation, arXiv
//! 2509.25149 §4.2). Whether that lowers the quantization error depends on
//! the data: measured with NVFP4 (`tests/rht.rs`), Gaussian data is
//! unchanged, light-tailed blocks (values near ±c) improve by about 3 dB,
//! and i.i.d. heavy-tailed data with outliers *loses* about 3.5 dB, because
//! NVFP4's 16-element blocks already isolate an outlier and the spread
//! values land near the block amax, where E2M1 is coarsest. The paper
//! justifies the RHT by training loss at 12B scale, not by tensor error.
//!
//! Transformer Engine (TE) uses n = 16 and one fixed sign vector
//! ([`TE_SIGN_MASK`]); the NVFP4 paper (arXiv 2509.25149, §4.2) draws one
//! random sign vector. [`SignVector`] offers both, plus all ones (TE's
//! "no random sign mask").
//!
//! ```
//! use blockscale::rht::Rht;
//! use blockscale::tensor::Direction;
//! let rht = Rht::transformer_engine().with_bf16_rounding(false);
//! let mut v = [0f32; 16];
//! v[0] = 4.0; // a lone outlier
//! rht.forward(&mut v, 1, 16, Direction::Rowwise)?;
//! // Spread over the whole chunk: |v_j| = 4/4 = 1, the sign of entry j is s_0 · H[0][j] = +1.
//! assert!(v.iter().all(|&x| x == 1.0));
//! rht.inverse(&mut v, 1, 16, Direction::Rowwise)?;
//! assert_eq!(v[0], 4.0);
//! # Ok::<(), blockscale::Error>(())
//! ```

use crate::Error;
use crate::error::{check_len, checked_area};
use crate::tensor::Direction;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

/// Transformer Engine's fixed 16-entry sign vector as a bit mask: bit i set
/// ⇔ s_i = −1.
///
/// Source: TE `transformer_engine/pytorch/tensor/nvfp4_tensor.py`
/// (`get_wgrad_sign_vector` returns
/// `[1, 1, 1, −1, 1, −1, −1, −1, −1, −1, −1, 1, −1, 1, −1, −1]`, and
/// `get_sign_from_vector` packs it with bit i ⇔ −1), repeated in
/// `transformer_engine/pytorch/custom_recipes/reference_nvfp4.py`; read at
/// TE commit d0067d0 (2026-08). TE builds `diag(s)·H16·(1/4)` from it
/// (`get_rht_matrix`) and uses it for every layer.
///
/// ```
/// use blockscale::rht::TE_SIGN_MASK;
/// assert_eq!(TE_SIGN_MASK, 0b1101_0111_1110_1000);
/// assert_eq!(TE_SIGN_MASK >> 3 & 1, 1); // s_3 = −1
/// assert_eq!(TE_SIGN_MASK & 0b111, 0);  // s_0 = s_1 = s_2 = +1
/// ```
pub const TE_SIGN_MASK: u16 = 0xD7E8;

/// Smallest transform size (Transformer Engine's).
///
/// ```
/// use blockscale::rht::{Rht, SignVector, MIN_SIZE};
/// assert!(Rht::new(MIN_SIZE / 2, SignVector::Ones).is_err());
/// ```
pub const MIN_SIZE: usize = 16;
/// Largest transform size.
///
/// ```
/// use blockscale::rht::{Rht, SignVector, MAX_SIZE};
/// assert_eq!(Rht::new(MAX_SIZE, SignVector::Seeded(0))?.size(), 256);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub const MAX_SIZE: usize = 256;

/// Where the sign vector s comes from.
///
/// ```
/// use blockscale::rht::{Rht, SignVector};
/// let te = Rht::new(16, SignVector::TransformerEngine)?;
/// assert_eq!(te.signs()[3], -1.0);
/// let a = Rht::new(64, SignVector::Seeded(7))?;
/// let b = Rht::new(64, SignVector::Seeded(7))?;
/// assert_eq!(a.signs(), b.signs()); // reproducible for a seed
/// assert!(Rht::new(32, SignVector::TransformerEngine).is_err()); // TE's vector has 16 entries
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SignVector {
    /// Transformer Engine's fixed vector ([`TE_SIGN_MASK`]); size 16 only.
    #[default]
    TransformerEngine,
    /// A random vector from a seed: a Xoshiro256++ generator seeded with
    /// `Xoshiro256PlusPlus::seed_from_u64(seed)` (rand_xoshiro 0.8) yields
    /// ⌈n/64⌉ words with `next_u64`; s_i = −1 ⇔ bit `i % 64` of word
    /// `i / 64` is set (so each sign is an independent fair coin).
    Seeded(u64),
    /// All ones: the plain normalized Hadamard transform (TE's
    /// `with_random_sign_mask = False`).
    Ones,
}

/// A Random Hadamard Transform of one size and sign vector, with or without
/// rounding its output to BF16.
///
/// Computation, for each n-element chunk v (exactly):
/// 1. forward: `u_i = s_i · v_i`; inverse: `u = v`;
/// 2. `w = u · H_n` by the fast Walsh–Hadamard transform (log₂ n butterfly
///    stages, no dense matrix), in f64;
/// 3. forward: `y = w · (1/√n)`; inverse: `y_i = s_i · w_i · (1/√n)`, in
///    f64 (1/√n is a power of two, exact, for n = 16, 64, 256);
/// 4. the result is `f32(y)` (nearest even), and with BF16 rounding
///    `bf16(f32(y))` (nearest even, via `half::bf16::from_f32`), as TE's
///    BF16 GEMM with an f32 accumulator and a BF16 output produces it; TE
///    quantizes these BF16 values (amax included).
///
/// A NaN or ±Inf anywhere in a chunk makes its whole chunk non-finite.
///
/// ```
/// use blockscale::rht::{Rht, SignVector};
/// use blockscale::tensor::Direction;
/// // TE's vector has s_3 = −1: e_3 becomes −(row 3 of H16)/4.
/// let rht = Rht::new(16, SignVector::TransformerEngine)?;
/// let mut v = [0f32; 16];
/// v[3] = 1.0;
/// rht.forward(&mut v, 1, 16, Direction::Rowwise)?;
/// assert_eq!(&v[..4], &[-0.25, 0.25, 0.25, -0.25]);
/// let mut bad = [f32::NAN; 16];
/// rht.forward(&mut bad, 1, 16, Direction::Rowwise)?;
/// assert!(bad.iter().all(|x| x.is_nan()));
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Rht {
    size: usize,
    source: SignVector,
    signs: Vec<f32>,
    round_to_bf16: bool,
}

impl Rht {
    /// A transform of `size` with signs from `source`, without BF16 rounding.
    ///
    /// Errors ([`Error::InvalidArgument`]): `size` not a power of two in
    /// 16..=256, or [`SignVector::TransformerEngine`] with a size other
    /// than 16.
    ///
    /// ```
    /// use blockscale::rht::{Rht, SignVector};
    /// let r = Rht::new(256, SignVector::Seeded(1))?;
    /// assert_eq!((r.size(), r.signs().len(), r.rounds_to_bf16()), (256, 256, false));
    /// assert!(Rht::new(24, SignVector::Ones).is_err());
    /// assert!(Rht::new(512, SignVector::Ones).is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn new(size: usize, source: SignVector) -> Result<Rht, Error> {
        if !size.is_power_of_two() || !(MIN_SIZE..=MAX_SIZE).contains(&size) {
            return Err(Error::InvalidArgument(format!(
                "RHT size must be a power of two from {MIN_SIZE} to {MAX_SIZE}, got {size}"
            )));
        }
        let signs = match source {
            SignVector::TransformerEngine => {
                if size != 16 {
                    return Err(Error::InvalidArgument(format!(
                        "Transformer Engine's RHT sign vector has 16 entries; size {size} needs SignVector::Seeded or Ones"
                    )));
                }
                (0..16)
                    .map(|i| {
                        if TE_SIGN_MASK >> i & 1 == 1 {
                            -1.0
                        } else {
                            1.0
                        }
                    })
                    .collect()
            }
            SignVector::Seeded(seed) => {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
                let words: Vec<u64> = (0..size.div_ceil(64)).map(|_| rng.next_u64()).collect();
                (0..size)
                    .map(|i| {
                        if words[i / 64] >> (i % 64) & 1 == 1 {
                            -1.0
                        } else {
                            1.0
                        }
                    })
                    .collect()
            }
            SignVector::Ones => vec![1.0; size],
        };
        Ok(Rht {
            size,
            source,
            signs,
            round_to_bf16: false,
        })
    }

    /// Transformer Engine's transform: size 16, [`SignVector::TransformerEngine`],
    /// output rounded to BF16.
    ///
    /// ```
    /// use blockscale::rht::{Rht, SignVector};
    /// let r = Rht::transformer_engine();
    /// assert_eq!((r.size(), r.sign_vector(), r.rounds_to_bf16()), (16, SignVector::TransformerEngine, true));
    /// ```
    pub fn transformer_engine() -> Rht {
        Rht::new(16, SignVector::TransformerEngine)
            .expect("16 is a valid size for TE's vector")
            .with_bf16_rounding(true)
    }

    /// The same transform with BF16 rounding of the output on or off.
    ///
    /// ```
    /// use blockscale::rht::Rht;
    /// use blockscale::tensor::Direction;
    /// let mut v: Vec<f32> = (0..16).map(|i| 1.0 + i as f32 / 1000.0).collect();
    /// Rht::transformer_engine().forward(&mut v, 1, 16, Direction::Rowwise)?;
    /// assert!(v.iter().all(|x| x.to_bits() & 0xFFFF == 0)); // BF16 values
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn with_bf16_rounding(mut self, on: bool) -> Rht {
        self.round_to_bf16 = on;
        self
    }

    /// The chunk size n.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Where the signs came from.
    pub fn sign_vector(&self) -> SignVector {
        self.source
    }

    /// The signs s_0 … s_{n−1}, each +1.0 or −1.0.
    ///
    /// ```
    /// use blockscale::rht::Rht;
    /// let s = Rht::transformer_engine().signs().to_vec();
    /// assert_eq!(&s[..5], &[1.0, 1.0, 1.0, -1.0, 1.0]);
    /// ```
    pub fn signs(&self) -> &[f32] {
        &self.signs
    }

    /// Whether outputs are rounded to BF16.
    pub fn rounds_to_bf16(&self) -> bool {
        self.round_to_bf16
    }

    /// Applies `v ↦ v·M` in place to every n-element chunk of the row-major
    /// `rows × cols` matrix `data`: chunks run along each row
    /// ([`Direction::Rowwise`], columns `c..c+n`) or down each column
    /// ([`Direction::Columnwise`], rows `r..r+n`), the same way quantization
    /// blocks run. The exact arithmetic is in [`Rht`]'s documentation.
    ///
    /// Errors: `data.len() != rows·cols` ([`Error::LengthMismatch`]); the
    /// transformed axis (cols rowwise, rows columnwise) not a multiple of n
    /// ([`Error::NotWholeBlocks`]: there is no padding rule, as in TE,
    /// which rejects such shapes). On error `data` is unchanged.
    ///
    /// ```
    /// use blockscale::rht::{Rht, SignVector};
    /// use blockscale::tensor::Direction;
    /// let rht = Rht::new(16, SignVector::Ones)?;
    /// // A 16×2 matrix whose first column is all ones: down the column, ones
    /// // become (4, 0, …, 0) (the first Hadamard row is all ones; 16/4 = 4).
    /// let mut m: Vec<f32> = (0..32).map(|i| if i % 2 == 0 { 1.0 } else { 0.0 }).collect();
    /// rht.forward(&mut m, 16, 2, Direction::Columnwise)?;
    /// assert_eq!((m[0], m[2], m[1]), (4.0, 0.0, 0.0));
    /// assert!(rht.forward(&mut m, 2, 16, Direction::Columnwise).is_err()); // 2 rows
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn forward(
        &self,
        data: &mut [f32],
        rows: usize,
        cols: usize,
        axis: Direction,
    ) -> Result<(), Error> {
        self.apply(data, rows, cols, axis, false)
    }

    /// Applies `v ↦ v·Mᵀ` (the inverse, M being orthogonal) in place, chunk
    /// by chunk as [`Rht::forward`], with the same errors and the same
    /// optional BF16 rounding of the output.
    ///
    /// `inverse(forward(x)) = x` up to the f32 rounding of each step
    /// (and BF16's, if on).
    ///
    /// ```
    /// use blockscale::rht::{Rht, SignVector};
    /// use blockscale::tensor::Direction;
    /// let rht = Rht::new(32, SignVector::Seeded(3))?;
    /// let x: Vec<f32> = (0..64).map(|i| (i as f32).sin()).collect();
    /// let mut y = x.clone();
    /// rht.forward(&mut y, 2, 32, Direction::Rowwise)?;
    /// rht.inverse(&mut y, 2, 32, Direction::Rowwise)?;
    /// assert!(x.iter().zip(&y).all(|(a, b)| (a - b).abs() < 1e-6));
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn inverse(
        &self,
        data: &mut [f32],
        rows: usize,
        cols: usize,
        axis: Direction,
    ) -> Result<(), Error> {
        self.apply(data, rows, cols, axis, true)
    }

    fn apply(
        &self,
        data: &mut [f32],
        rows: usize,
        cols: usize,
        axis: Direction,
        inverse: bool,
    ) -> Result<(), Error> {
        let len = checked_area("input", rows, cols)?;
        check_len("input", len, data.len())?;
        let n = self.size;
        let (along, across, name) = match axis {
            Direction::Rowwise => (cols, rows, "columns"),
            Direction::Columnwise => (rows, cols, "rows"),
        };
        if along % n != 0 {
            return Err(Error::NotWholeBlocks {
                what: format!("RHT of size {n} along {name} ({axis:?})"),
                shape: (rows, cols),
                block: match axis {
                    Direction::Rowwise => (1, n),
                    Direction::Columnwise => (n, 1),
                },
            });
        }
        let scale = 1.0 / (n as f64).sqrt();
        let mut buf = vec![0f64; n];
        for line in 0..across {
            for chunk in 0..along / n {
                let at = |j: usize| match axis {
                    Direction::Rowwise => line * cols + chunk * n + j,
                    Direction::Columnwise => (chunk * n + j) * cols + line,
                };
                for (j, b) in buf.iter_mut().enumerate() {
                    let v = f64::from(data[at(j)]);
                    *b = if inverse {
                        v
                    } else {
                        v * f64::from(self.signs[j])
                    };
                }
                fwht(&mut buf);
                for (j, &b) in buf.iter().enumerate() {
                    let mut y = b * scale;
                    if inverse {
                        y *= f64::from(self.signs[j]);
                    }
                    let mut y = y as f32;
                    if self.round_to_bf16 {
                        y = half::bf16::from_f32(y).to_f32();
                    }
                    data[at(j)] = y;
                }
            }
        }
        Ok(())
    }
}

/// `v ← v·H` for the Sylvester Hadamard matrix of size `v.len()` (a power
/// of two), unnormalized, in log₂ n butterfly stages.
fn fwht(v: &mut [f64]) {
    let n = v.len();
    let mut h = 1;
    while h < n {
        for start in (0..n).step_by(2 * h) {
            for j in start..start + h {
                let (a, b) = (v[j], v[j + h]);
                v[j] = a + b;
                v[j + h] = a - b;
            }
        }
        h *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::fwht;

    #[test]
    fn fwht_matches_definition() {
        for n in [2usize, 4, 16, 64] {
            for i in 0..n {
                let mut v = vec![0f64; n];
                v[i] = 1.0;
                fwht(&mut v);
                for (j, &x) in v.iter().enumerate() {
                    let want = if (i & j).count_ones().is_multiple_of(2) {
                        1.0
                    } else {
                        -1.0
                    };
                    assert_eq!(x, want, "n={n} i={i} j={j}");
                }
            }
        }
    }
}
