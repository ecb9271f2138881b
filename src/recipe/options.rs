//! A recipe's switches: the NVFP4 techniques and the layers kept in BF16.

use crate::rht::SignVector;

/// The NVFP4 recipe's switches: every technique of the paper, each of which
/// its ablations turn off.
///
/// `Default` is the paper's and TE `NVFP4BlockScaling`'s recipe: 2-D
/// weights, stochastic gradients, a 16-point RHT with TE's signs and BF16
/// output on the wgrad operands.
///
/// ```
/// use blockscale::recipe::{Nvfp4Options, OperandRole, Recipe};
/// let no_rht = Recipe::nvfp4_with(Nvfp4Options { rht: false, ..Default::default() });
/// assert!(no_rht.spec(OperandRole::WgradInput).rht.is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Nvfp4Options {
    /// 16×16 weight tiles (off: 1×16, re-quantized per direction).
    pub two_d_weights: bool,
    /// Stochastic rounding of dY in dgrad and wgrad (off: nearest even).
    pub stochastic_gradients: bool,
    /// RHT on the wgrad operands (dY and X columnwise).
    pub rht: bool,
    /// The RHT size (16 in TE and the paper; a power of two 16..=256).
    pub rht_size: usize,
    /// The RHT signs: one vector shared by every layer and step, as in TE
    /// and the paper.
    pub rht_signs: SignVector,
    /// Round the RHT output to BF16 before quantizing (TE does).
    pub rht_bf16: bool,
}

impl Default for Nvfp4Options {
    fn default() -> Self {
        Nvfp4Options {
            two_d_weights: true,
            stochastic_gradients: true,
            rht: true,
            rht_size: 16,
            rht_signs: SignVector::TransformerEngine,
            rht_bf16: true,
        }
    }
}

/// Which layers and steps run in BF16 instead of the recipe's format.
///
/// A layer `layer` (0-based, of `num_layers`) at step `step` is BF16 when
/// `layer < first`, or `layer ≥ num_layers − last`, or `layers` contains it,
/// or `from_step` is `Some(s)` with `step ≥ s`. The NVFP4 paper keeps the
/// first two and last eight blocks of its 12B model in BF16 (about 16% of
/// linear layers) and studies switching to BF16 late in training.
///
/// ```
/// use blockscale::recipe::Bf16Selection;
/// let sel = Bf16Selection { last: 2, from_step: Some(100), ..Default::default() };
/// assert!(!sel.is_bf16(0, 10, 0));
/// assert!(sel.is_bf16(8, 10, 0) && sel.is_bf16(9, 10, 0));
/// assert!(sel.is_bf16(0, 10, 100));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Bf16Selection {
    /// The first this many layers.
    pub first: usize,
    /// The last this many layers.
    pub last: usize,
    /// These layers.
    pub layers: Vec<usize>,
    /// Every layer from this step on.
    pub from_step: Option<u64>,
}

impl Bf16Selection {
    /// Whether layer `layer` of `num_layers` runs in BF16 at `step` (see the type's docs).
    ///
    /// ```
    /// use blockscale::recipe::Bf16Selection;
    /// let sel = Bf16Selection { first: 1, layers: vec![4], ..Default::default() };
    /// let bf16: Vec<usize> = (0..6).filter(|&l| sel.is_bf16(l, 6, 0)).collect();
    /// assert_eq!(bf16, [0, 4]);
    /// assert!(!Bf16Selection::default().is_bf16(0, 1, u64::MAX));
    /// ```
    pub fn is_bf16(&self, layer: usize, num_layers: usize, step: u64) -> bool {
        layer < self.first
            || layer >= num_layers.saturating_sub(self.last)
            || self.layers.contains(&layer)
            || self.from_step.is_some_and(|s| step >= s)
    }
}
