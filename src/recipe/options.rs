//! A recipe's switches: the NVFP4 techniques and the layers kept in BF16.

use super::LayerTensor;
use crate::rht::SignVector;
use crate::scale::four_over_six::FourOverSixMetric;

/// The NVFP4 recipe's switches: every technique of the paper, each of which
/// its ablations turn off.
///
/// `Default` is the paper's and TE `NVFP4BlockScaling`'s recipe: 2-D
/// weights, stochastic gradients, a 16-point RHT with TE's signs and BF16
/// output on the wgrad operands, no 4over6 and no row scaling.
///
/// The last five fields are `NVFP4BlockScaling`'s `nvfp4_4over6*` and
/// `row_scaled_activation` (TE, `common/recipe/__init__.py`; the
/// environment variables `NVTE_NVFP4_4OVER6*` and
/// `NVTE_NVFP4_ROW_SCALED_ACTIVATION` set their defaults there). TE refuses
/// both on a role with the RHT, so they need `rht: false` when they cover
/// the input ([`super::Recipe::validate`]), as TE's test recipes
/// `nvfp4_4over6()` and `nvfp4_row_scaled()` set `disable_rht=True`.
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
    /// Which tensors get NVFP4 4over6 block scales
    /// ([`crate::format::Nvfp4FourOverSix`]; TE `nvfp4_4over6`, default
    /// none). Gradients never do.
    pub four_over_six: FourOverSixRoles,
    /// Which 4over6 tensors bound their block scales by 256 (the others by
    /// 448; TE `nvfp4_4over6_e4m3_use_256`, default all).
    pub four_over_six_e4m3_256: FourOverSixRoles,
    /// The 4over6 error metric (TE `nvfp4_4over6_err_mode`, default MAE).
    pub four_over_six_metric: FourOverSixMetric,
    /// The 4over6 error measured in the scaled domain (TE
    /// `NVTE_NVFP4_4OVER6_ERR_USE_FAST_MATH`, default off).
    pub four_over_six_fast_error: bool,
    /// One amax per row of X instead of one per tensor (TE
    /// `row_scaled_activation`, [`crate::tensor::RowScaled`]): X's rows in
    /// fprop and, for wgrad, its columns (TE #3206's per-column amax of
    /// the transposed copy). Weights and gradients keep one amax.
    pub row_scaled_activation: bool,
}

/// Which of a layer's tensors a 4over6 switch covers, as TE spells the
/// values of `nvfp4_4over6`: `none`, `weights` (W), `activations` (X;
/// TE's forward roles other than the weight), `all` (both). Gradients are
/// never covered.
///
/// ```
/// use blockscale::recipe::{FourOverSixRoles, LayerTensor};
/// assert!(FourOverSixRoles::All.covers(LayerTensor::Input));
/// assert!(!FourOverSixRoles::Weights.covers(LayerTensor::Input));
/// assert!(!FourOverSixRoles::All.covers(LayerTensor::GradOutput));
/// assert_eq!(FourOverSixRoles::from_name("activations")?, FourOverSixRoles::Activations);
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum FourOverSixRoles {
    /// No tensor.
    #[default]
    None,
    /// W only.
    Weights,
    /// X only.
    Activations,
    /// W and X.
    All,
}

impl FourOverSixRoles {
    /// Whether `tensor` is covered.
    ///
    /// ```
    /// use blockscale::recipe::{FourOverSixRoles, LayerTensor};
    /// assert!(FourOverSixRoles::Weights.covers(LayerTensor::Weight));
    /// assert!(!FourOverSixRoles::None.covers(LayerTensor::Weight));
    /// ```
    pub const fn covers(self, tensor: LayerTensor) -> bool {
        matches!(
            (self, tensor),
            (
                FourOverSixRoles::All,
                LayerTensor::Input | LayerTensor::Weight
            ) | (FourOverSixRoles::Weights, LayerTensor::Weight)
                | (FourOverSixRoles::Activations, LayerTensor::Input)
        )
    }

    /// TE's name: `none`, `weights`, `activations` or `all`.
    ///
    /// ```
    /// assert_eq!(blockscale::recipe::FourOverSixRoles::All.name(), "all");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            FourOverSixRoles::None => "none",
            FourOverSixRoles::Weights => "weights",
            FourOverSixRoles::Activations => "activations",
            FourOverSixRoles::All => "all",
        }
    }

    /// The value TE names `name` (lower case, as TE's recipe lower-cases
    /// its environment variable); otherwise [`crate::Error::InvalidArgument`].
    ///
    /// ```
    /// use blockscale::recipe::FourOverSixRoles;
    /// assert!(FourOverSixRoles::from_name("weights").is_ok());
    /// assert!(FourOverSixRoles::from_name("gradients").is_err());
    /// ```
    pub fn from_name(name: &str) -> Result<Self, crate::Error> {
        [Self::None, Self::Weights, Self::Activations, Self::All]
            .into_iter()
            .find(|r| r.name() == name)
            .ok_or_else(|| {
                crate::Error::InvalidArgument(format!(
                    "unknown 4over6 roles {name:?}; expected none, weights, activations or all"
                ))
            })
    }
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
            four_over_six: FourOverSixRoles::None,
            four_over_six_e4m3_256: FourOverSixRoles::All,
            four_over_six_metric: FourOverSixMetric::Mae,
            four_over_six_fast_error: false,
            row_scaled_activation: false,
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
