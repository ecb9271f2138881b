//! Ready-made recipes for the three GEMMs of a linear layer `Y = X·Wᵀ`.
//!
//! A linear layer with input X (tokens × in), weight W (out × in) and output
//! gradient dY (tokens × out) runs three GEMMs, each `C = A·Bᵀ` with both
//! operands stored along the reduction axis K ([`crate::gemm`]):
//!
//! | GEMM | product | A (stored) | B (stored) | K |
//! |---|---|---|---|---|
//! | fprop | Y = X·Wᵀ (tokens × out) | X rowwise (tokens × in) | W rowwise (out × in) | in |
//! | dgrad | dX = dY·W (tokens × in) | dY rowwise (tokens × out) | W columnwise (in × out) | out |
//! | wgrad | dW = dYᵀ·X (out × in) | dY columnwise (out × tokens) | X columnwise (in × tokens) | tokens |
//!
//! A [`Recipe`] says, for each of these six operands ([`OperandRole`]),
//! which format, block shape, direction, rounding and transform it gets
//! ([`OperandSpec`]). The first five recipes are named like NeMo's
//! `fp8_recipe` flags ([`RecipeKind`]); their defaults are Transformer
//! Engine's (TE, `transformer_engine/common/recipe/__init__.py`, read at
//! commit d0067d0). `mxfp4` has no TE recipe: it is the MXFP4 training the
//! NVFP4 paper compares against (arXiv 2509.25149, §5), every GEMM operand
//! in MXFP4 with OCP's 1×32 blocks and E8M0 scales (RCEIL), nearest rounding:
//!
//! | recipe | X | W | dY | TE recipe |
//! |---|---|---|---|---|
//! | `delayed` | FP8 E4M3, per tensor, delayed scale | same | FP8 E5M2, per tensor, delayed | `DelayedScaling` (HYBRID) |
//! | `tensorwise` | FP8 E4M3, per tensor, current scale | same | FP8 E5M2, current | `Float8CurrentScaling` (HYBRID) |
//! | `mxfp8` | MXFP8 E4M3, 1×32 | MXFP8 E4M3, 1×32 | MXFP8 E4M3, 1×32 | `MXFP8BlockScaling` (E4M3) |
//! | `blockwise` | FP8 E4M3, 1×128 | FP8 E4M3, 128×128 | FP8 E4M3, 1×128 | `Float8BlockScaling` (E4M3) |
//! | `nvfp4` | NVFP4 1×16, nearest; RHT in wgrad | NVFP4 16×16, nearest | NVFP4 1×16, stochastic; RHT in wgrad | `NVFP4BlockScaling` |
//! | `mxfp4` | MXFP4 E2M1, 1×32, nearest | MXFP4 E2M1, 1×32, nearest | MXFP4 E2M1, 1×32, nearest | none (the NVFP4 paper's MXFP4 baseline) |
//!
//! The NVFP4 recipe follows the NVFP4 paper (arXiv 2509.25149, §4): 2-D
//! (16×16) weight blocks so that fprop and dgrad see the same quantized
//! weight, stochastic rounding of gradients, a 16-point Random Hadamard
//! Transform ([`crate::rht`]) on the two wgrad operands along the token
//! axis, and some layers kept in BF16. Each technique can be switched off
//! ([`Nvfp4Options`]); layers and steps can be kept in BF16
//! ([`Bf16Selection`]).
//!
//! [`LinearLayer`] runs a layer's three GEMMs through a recipe and holds the
//! per-layer state (the delayed-scaling amax histories); a training loop
//! calls [`LinearLayer::forward`] and later [`LinearLayer::backward`], which
//! together are [`LinearLayer::run`].
//!
//! ```
//! use blockscale::recipe::{LinearLayer, LinearShape, Recipe};
//! let shape = LinearShape { tokens: 32, in_features: 32, out_features: 16 };
//! let x: Vec<f32> = (0..32 * 32).map(|i| (i as f32 * 0.37).sin()).collect();
//! let w: Vec<f32> = (0..16 * 32).map(|i| (i as f32 * 0.11).cos()).collect();
//! let dy: Vec<f32> = (0..32 * 16).map(|i| (i as f32 * 0.53).sin() * 1e-3).collect();
//! let mut layer = LinearLayer::new(Recipe::nvfp4(), 0, 1)?;
//! let out = layer.run(0, &x, &w, &dy, shape)?;
//! assert_eq!((out.y.len(), out.dx.len(), out.dw.len()), (32 * 16, 32 * 32, 16 * 32));
//! # Ok::<(), blockscale::Error>(())
//! ```

mod linear;
mod operand;

pub use linear::{DelayedState, LayerState, LinearLayer, LinearOutputs, LinearShape};
pub use operand::{Bf16Matrix, QuantizedOperand, gemm_operands};

use crate::Error;
use crate::rht::{Rht, SignVector};
use crate::rng::splitmix64;
use crate::scale::fp8::{DelayedScalingConfig, Fp8Element, Fp8Format};
use crate::tensor::Direction;

/// The six recipes, named as NeMo's `fp8_recipe` flags (plus `nvfp4` and `mxfp4`).
///
/// ```
/// use blockscale::recipe::RecipeKind;
/// assert_eq!(RecipeKind::from_name("mxfp8")?, RecipeKind::Mxfp8);
/// assert_eq!(RecipeKind::Blockwise.name(), "blockwise");
/// assert!(RecipeKind::from_name("fp4").is_err());
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecipeKind {
    /// FP8 per-tensor delayed scaling (TE `DelayedScaling`).
    Delayed,
    /// FP8 per-tensor current scaling (TE `Float8CurrentScaling`).
    Tensorwise,
    /// MXFP8: E8M0 scale per 32 elements (TE `MXFP8BlockScaling`).
    Mxfp8,
    /// FP8 with FP32 scales per 1×128 / 128×128 block (TE `Float8BlockScaling`).
    Blockwise,
    /// NVFP4 (TE `NVFP4BlockScaling`, the NVFP4 paper).
    Nvfp4,
    /// MXFP4 for every operand: E8M0 scale per 32 elements (the NVFP4
    /// paper's MXFP4 comparison).
    Mxfp4,
}

impl RecipeKind {
    /// All six, in the order of the table in the module docs.
    ///
    /// ```
    /// use blockscale::recipe::RecipeKind;
    /// let names: Vec<_> = RecipeKind::ALL.iter().map(|k| k.name()).collect();
    /// assert_eq!(names, ["delayed", "tensorwise", "mxfp8", "blockwise", "nvfp4", "mxfp4"]);
    /// ```
    pub const ALL: [RecipeKind; 6] = [
        RecipeKind::Delayed,
        RecipeKind::Tensorwise,
        RecipeKind::Mxfp8,
        RecipeKind::Blockwise,
        RecipeKind::Nvfp4,
        RecipeKind::Mxfp4,
    ];

    /// The flag name: `"delayed"`, `"tensorwise"`, `"mxfp8"`, `"blockwise"`,
    /// `"nvfp4"`, `"mxfp4"`.
    ///
    /// ```
    /// assert_eq!(blockscale::recipe::RecipeKind::Nvfp4.name(), "nvfp4");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            RecipeKind::Delayed => "delayed",
            RecipeKind::Tensorwise => "tensorwise",
            RecipeKind::Mxfp8 => "mxfp8",
            RecipeKind::Blockwise => "blockwise",
            RecipeKind::Nvfp4 => "nvfp4",
            RecipeKind::Mxfp4 => "mxfp4",
        }
    }

    /// The kind with flag name `name` (exact, lower case); otherwise
    /// [`Error::InvalidArgument`].
    ///
    /// ```
    /// use blockscale::recipe::RecipeKind;
    /// assert_eq!(RecipeKind::from_name("delayed")?, RecipeKind::Delayed);
    /// assert!(RecipeKind::from_name("Delayed").is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn from_name(name: &str) -> Result<RecipeKind, Error> {
        RecipeKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown recipe {name:?}; expected one of delayed, tensorwise, mxfp8, blockwise, nvfp4, mxfp4"
                ))
            })
    }
}

/// One of a linear layer's three GEMMs.
///
/// ```
/// use blockscale::recipe::{Gemm, OperandRole};
/// assert_eq!(OperandRole::DgradWeight.gemm(), Gemm::Dgrad);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gemm {
    /// Y = X·Wᵀ.
    Fprop,
    /// dX = dY·W.
    Dgrad,
    /// dW = dYᵀ·X.
    Wgrad,
}

/// One of a linear layer's three high-precision tensors.
///
/// ```
/// use blockscale::recipe::{LayerTensor, OperandRole};
/// assert_eq!(OperandRole::WgradInput.tensor(), LayerTensor::Input);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LayerTensor {
    /// X, tokens × in.
    Input,
    /// W, out × in.
    Weight,
    /// dY, tokens × out.
    GradOutput,
}

/// One of the six GEMM operands of a linear layer.
///
/// | role | GEMM | tensor | direction | operand |
/// |---|---|---|---|---|
/// | `FpropInput` | fprop | X | rowwise | A |
/// | `FpropWeight` | fprop | W | rowwise | B |
/// | `DgradGradOutput` | dgrad | dY | rowwise | A |
/// | `DgradWeight` | dgrad | W | columnwise | B |
/// | `WgradGradOutput` | wgrad | dY | columnwise | A |
/// | `WgradInput` | wgrad | X | columnwise | B |
///
/// ```
/// use blockscale::recipe::OperandRole;
/// use blockscale::tensor::Direction;
/// assert_eq!(OperandRole::WgradGradOutput.direction(), Direction::Columnwise);
/// assert_eq!(OperandRole::ALL.iter().filter(|r| r.is_gradient()).count(), 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OperandRole {
    /// X in fprop.
    FpropInput,
    /// W in fprop.
    FpropWeight,
    /// dY in dgrad.
    DgradGradOutput,
    /// W in dgrad.
    DgradWeight,
    /// dY in wgrad.
    WgradGradOutput,
    /// X in wgrad.
    WgradInput,
}

impl OperandRole {
    /// All six, in the table's order (the index used by [`operand_seed`]).
    ///
    /// ```
    /// use blockscale::recipe::OperandRole;
    /// assert_eq!(OperandRole::ALL[3], OperandRole::DgradWeight);
    /// ```
    pub const ALL: [OperandRole; 6] = [
        OperandRole::FpropInput,
        OperandRole::FpropWeight,
        OperandRole::DgradGradOutput,
        OperandRole::DgradWeight,
        OperandRole::WgradGradOutput,
        OperandRole::WgradInput,
    ];

    /// The position in [`OperandRole::ALL`], 0 to 5.
    ///
    /// ```
    /// use blockscale::recipe::OperandRole;
    /// assert!(OperandRole::ALL.iter().enumerate().all(|(i, r)| r.index() == i));
    /// ```
    pub const fn index(self) -> usize {
        match self {
            OperandRole::FpropInput => 0,
            OperandRole::FpropWeight => 1,
            OperandRole::DgradGradOutput => 2,
            OperandRole::DgradWeight => 3,
            OperandRole::WgradGradOutput => 4,
            OperandRole::WgradInput => 5,
        }
    }

    /// The GEMM this operand belongs to.
    ///
    /// ```
    /// use blockscale::recipe::{Gemm, OperandRole};
    /// assert_eq!(OperandRole::WgradInput.gemm(), Gemm::Wgrad);
    /// ```
    pub const fn gemm(self) -> Gemm {
        match self {
            OperandRole::FpropInput | OperandRole::FpropWeight => Gemm::Fprop,
            OperandRole::DgradGradOutput | OperandRole::DgradWeight => Gemm::Dgrad,
            OperandRole::WgradGradOutput | OperandRole::WgradInput => Gemm::Wgrad,
        }
    }

    /// The tensor it is quantized from.
    ///
    /// ```
    /// use blockscale::recipe::{LayerTensor, OperandRole};
    /// assert_eq!(OperandRole::DgradGradOutput.tensor(), LayerTensor::GradOutput);
    /// ```
    pub const fn tensor(self) -> LayerTensor {
        match self {
            OperandRole::FpropInput | OperandRole::WgradInput => LayerTensor::Input,
            OperandRole::FpropWeight | OperandRole::DgradWeight => LayerTensor::Weight,
            OperandRole::DgradGradOutput | OperandRole::WgradGradOutput => LayerTensor::GradOutput,
        }
    }

    /// The direction that puts K along the stored rows: rowwise in fprop and
    /// for dY in dgrad, columnwise for W in dgrad and both wgrad operands.
    ///
    /// ```
    /// use blockscale::recipe::OperandRole;
    /// use blockscale::tensor::Direction;
    /// assert_eq!(OperandRole::DgradWeight.direction(), Direction::Columnwise);
    /// assert_eq!(OperandRole::DgradGradOutput.direction(), Direction::Rowwise);
    /// ```
    pub const fn direction(self) -> Direction {
        match self {
            OperandRole::FpropInput | OperandRole::FpropWeight | OperandRole::DgradGradOutput => {
                Direction::Rowwise
            }
            _ => Direction::Columnwise,
        }
    }

    /// Whether the tensor is a gradient (dY), which FP8 HYBRID stores in
    /// E5M2 and NVFP4 rounds stochastically.
    ///
    /// ```
    /// use blockscale::recipe::OperandRole;
    /// assert!(OperandRole::WgradGradOutput.is_gradient() && !OperandRole::WgradInput.is_gradient());
    /// ```
    pub const fn is_gradient(self) -> bool {
        matches!(self.tensor(), LayerTensor::GradOutput)
    }
}

/// The number format of one operand.
///
/// ```
/// use blockscale::recipe::OperandFormat;
/// assert_eq!(OperandFormat::Nvfp4 { two_d: true }.block(), Some((16, 16)));
/// assert!(OperandFormat::Nvfp4 { two_d: true }.is_2d());
/// assert_eq!(OperandFormat::Bf16.block(), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OperandFormat {
    /// BF16 (high precision): values rounded to bf16, nearest even.
    Bf16,
    /// FP8 with one FP32 scale for the whole tensor
    /// ([`crate::format::Fp8Tensorwise`]): current scaling from this
    /// tensor's amax, or a delayed scale from the layer's
    /// [`crate::scale::fp8::DelayedScaler`].
    Fp8Tensorwise {
        /// E4M3 or E5M2.
        element: Fp8Element,
        /// Delayed (`true`) or current (`false`) scaling.
        delayed: bool,
    },
    /// MXFP8 ([`crate::format::Mx`]), 1×32 blocks, E8M0 scales, RCEIL.
    Mxfp8 {
        /// E4M3 or E5M2.
        element: Fp8Element,
    },
    /// FP8 with FP32 power-of-two scales per tile ([`crate::format::Fp8Blockwise`]).
    Fp8Blockwise {
        /// E4M3 or E5M2.
        element: Fp8Element,
        /// Tile `(rows, cols)` in the stored orientation: (1, 128) or (128, 128).
        tile: (usize, usize),
    },
    /// NVFP4 ([`crate::format::Nvfp4`], Transformer Engine's bytes).
    Nvfp4 {
        /// 16×16 tiles instead of 1×16 blocks.
        two_d: bool,
    },
    /// MXFP4 ([`crate::format::MxFp4`]): E2M1 elements, 1×32 blocks, E8M0
    /// scales chosen by RCEIL ([`crate::scale::mx::MxScaleRule::default`]).
    Mxfp4,
}

impl OperandFormat {
    /// The block that shares a scale, `(rows, cols)` in the stored
    /// orientation; `None` for BF16 (no scale) and per-tensor FP8 (one scale).
    ///
    /// ```
    /// use blockscale::recipe::OperandFormat;
    /// use blockscale::scale::fp8::Fp8Element;
    /// assert_eq!(OperandFormat::Mxfp8 { element: Fp8Element::E4M3 }.block(), Some((1, 32)));
    /// assert_eq!(OperandFormat::Fp8Tensorwise { element: Fp8Element::E5M2, delayed: false }.block(), None);
    /// ```
    pub const fn block(self) -> Option<(usize, usize)> {
        match self {
            OperandFormat::Bf16 | OperandFormat::Fp8Tensorwise { .. } => None,
            OperandFormat::Mxfp8 { .. } | OperandFormat::Mxfp4 => Some((1, 32)),
            OperandFormat::Fp8Blockwise { tile, .. } => Some(tile),
            OperandFormat::Nvfp4 { two_d: true } => Some((16, 16)),
            OperandFormat::Nvfp4 { two_d: false } => Some((1, 16)),
        }
    }

    /// Whether the blocks are 2-D tiles (more than one row).
    ///
    /// ```
    /// use blockscale::recipe::OperandFormat;
    /// use blockscale::scale::fp8::Fp8Element;
    /// assert!(OperandFormat::Fp8Blockwise { element: Fp8Element::E4M3, tile: (128, 128) }.is_2d());
    /// assert!(!OperandFormat::Nvfp4 { two_d: false }.is_2d());
    /// ```
    pub const fn is_2d(self) -> bool {
        matches!(self.block(), Some((r, _)) if r > 1)
    }
}

/// How an operand's elements are rounded.
///
/// ```
/// use blockscale::recipe::{OperandRole, OperandRounding, Recipe};
/// let spec = Recipe::nvfp4().spec(OperandRole::WgradGradOutput);
/// assert_eq!(spec.rounding, OperandRounding::Stochastic);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OperandRounding {
    /// Round to nearest, ties to even.
    NearestEven,
    /// Stochastic rounding ([`crate::tensor::TensorRounding::Stochastic`]),
    /// seeded by [`operand_seed`].
    Stochastic,
}

/// How one GEMM operand is quantized: everything a test or a kernel author
/// needs to reproduce it.
///
/// [`OperandSpec::quantize`] does, in order: the RHT along the blocked axis
/// (if any; K of the GEMM), then quantization in `direction` with `format`
/// and `rounding`.
///
/// ```
/// use blockscale::recipe::{OperandFormat, OperandRole, OperandRounding, Recipe};
/// use blockscale::tensor::Direction;
/// let s = Recipe::nvfp4().spec(OperandRole::DgradWeight);
/// assert_eq!(s.format, OperandFormat::Nvfp4 { two_d: true });
/// assert_eq!((s.direction, s.rounding), (Direction::Columnwise, OperandRounding::NearestEven));
/// assert!(s.rht.is_none());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct OperandSpec {
    /// Which operand.
    pub role: OperandRole,
    /// The number format.
    pub format: OperandFormat,
    /// Block direction (and storage orientation).
    pub direction: Direction,
    /// Element rounding.
    pub rounding: OperandRounding,
    /// The Random Hadamard Transform applied along `direction` before
    /// quantizing, if any.
    pub rht: Option<Rht>,
}

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

/// A recipe: a [`RecipeKind`] with its options.
///
/// Build one with [`Recipe::delayed`], [`Recipe::tensorwise`],
/// [`Recipe::mxfp8`], [`Recipe::blockwise`], [`Recipe::nvfp4`],
/// [`Recipe::mxfp4`] (or
/// [`Recipe::from_kind`]) and change public fields for ablations.
///
/// ```
/// use blockscale::recipe::{Recipe, RecipeKind};
/// use blockscale::scale::fp8::Fp8Format;
/// let mut r = Recipe::from_kind(RecipeKind::Tensorwise);
/// assert_eq!(r.fp8_format, Fp8Format::Hybrid);
/// r.bf16.last = 1; // keep the last layer in BF16
/// assert_eq!(r.name(), "tensorwise");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    /// Which recipe.
    pub kind: RecipeKind,
    /// FP8 elements of forward tensors and gradients (FP8 recipes only):
    /// HYBRID for `delayed` and `tensorwise`, E4M3 for `mxfp8` and
    /// `blockwise`, as TE's defaults.
    pub fp8_format: Fp8Format,
    /// The delayed-scaling settings (`delayed` only); TE's default
    /// (history 1024, max).
    pub delayed: DelayedScalingConfig,
    /// The NVFP4 switches (`nvfp4` only).
    pub nvfp4: Nvfp4Options,
    /// Layers and steps kept in BF16 (none by default).
    pub bf16: Bf16Selection,
    /// The base seed of stochastic rounding ([`operand_seed`]).
    pub seed: u64,
}

impl Recipe {
    /// The recipe `kind` with TE's defaults (see the module docs), no BF16
    /// layers and seed 0.
    ///
    /// ```
    /// use blockscale::recipe::{Recipe, RecipeKind};
    /// use blockscale::scale::fp8::Fp8Format;
    /// assert_eq!(Recipe::from_kind(RecipeKind::Mxfp8).fp8_format, Fp8Format::E4M3);
    /// assert_eq!(Recipe::from_kind(RecipeKind::Nvfp4), Recipe::nvfp4());
    /// ```
    pub fn from_kind(kind: RecipeKind) -> Recipe {
        let fp8_format = match kind {
            RecipeKind::Delayed | RecipeKind::Tensorwise => Fp8Format::Hybrid,
            _ => Fp8Format::E4M3,
        };
        Recipe {
            kind,
            fp8_format,
            delayed: DelayedScalingConfig::default(),
            nvfp4: Nvfp4Options::default(),
            bf16: Bf16Selection::default(),
            seed: 0,
        }
    }

    /// `delayed`: FP8 per-tensor scaling whose scale at step t comes from
    /// the amax history of steps before t; E4M3 forward, E5M2 gradients.
    ///
    /// ```
    /// use blockscale::recipe::{OperandFormat, OperandRole, Recipe};
    /// use blockscale::scale::fp8::Fp8Element;
    /// assert_eq!(Recipe::delayed().spec(OperandRole::DgradGradOutput).format,
    ///            OperandFormat::Fp8Tensorwise { element: Fp8Element::E5M2, delayed: true });
    /// ```
    pub fn delayed() -> Recipe {
        Recipe::from_kind(RecipeKind::Delayed)
    }

    /// `tensorwise`: FP8 per-tensor current scaling (from each tensor's own
    /// amax); E4M3 forward, E5M2 gradients.
    ///
    /// ```
    /// use blockscale::recipe::{OperandFormat, OperandRole, Recipe};
    /// use blockscale::scale::fp8::Fp8Element;
    /// assert_eq!(Recipe::tensorwise().spec(OperandRole::FpropInput).format,
    ///            OperandFormat::Fp8Tensorwise { element: Fp8Element::E4M3, delayed: false });
    /// ```
    pub fn tensorwise() -> Recipe {
        Recipe::from_kind(RecipeKind::Tensorwise)
    }

    /// `mxfp8`: MXFP8 E4M3 for every operand, 1×32 blocks along K (the
    /// columnwise copies re-quantized from high precision).
    ///
    /// ```
    /// use blockscale::recipe::{OperandFormat, OperandRole, Recipe};
    /// use blockscale::scale::fp8::Fp8Element;
    /// assert_eq!(Recipe::mxfp8().spec(OperandRole::WgradGradOutput).format,
    ///            OperandFormat::Mxfp8 { element: Fp8Element::E4M3 });
    /// ```
    pub fn mxfp8() -> Recipe {
        Recipe::from_kind(RecipeKind::Mxfp8)
    }

    /// `blockwise`: FP8 E4M3 with power-of-two FP32 scales, 1×128 blocks for
    /// X and dY, 128×128 tiles for W.
    ///
    /// ```
    /// use blockscale::recipe::{OperandRole, Recipe};
    /// let r = Recipe::blockwise();
    /// assert_eq!(r.spec(OperandRole::FpropWeight).format.block(), Some((128, 128)));
    /// assert_eq!(r.spec(OperandRole::WgradInput).format.block(), Some((1, 128)));
    /// ```
    pub fn blockwise() -> Recipe {
        Recipe::from_kind(RecipeKind::Blockwise)
    }

    /// `nvfp4`: the NVFP4 paper's recipe ([`Nvfp4Options::default`]).
    ///
    /// ```
    /// use blockscale::recipe::{OperandRole, Recipe};
    /// let r = Recipe::nvfp4();
    /// assert!(r.spec(OperandRole::WgradInput).rht.is_some());
    /// assert!(r.spec(OperandRole::FpropInput).rht.is_none());
    /// ```
    pub fn nvfp4() -> Recipe {
        Recipe::from_kind(RecipeKind::Nvfp4)
    }

    /// `nvfp4` with the given switches (for ablations).
    ///
    /// ```
    /// use blockscale::recipe::{Nvfp4Options, OperandFormat, OperandRole, Recipe};
    /// let r = Recipe::nvfp4_with(Nvfp4Options { two_d_weights: false, ..Default::default() });
    /// assert_eq!(r.spec(OperandRole::FpropWeight).format, OperandFormat::Nvfp4 { two_d: false });
    /// ```
    pub fn nvfp4_with(options: Nvfp4Options) -> Recipe {
        Recipe {
            nvfp4: options,
            ..Recipe::nvfp4()
        }
    }

    /// `mxfp4`: MXFP4 for all six operands, as in the NVFP4 paper's
    /// comparison of the two FP4 formats: E2M1 elements, 1×32 blocks along
    /// K (the columnwise copies re-quantized from high precision), E8M0
    /// scales by RCEIL, nearest-even rounding, no RHT, no 2-D blocks.
    /// [`Recipe::bf16`] applies as for every recipe; [`Recipe::nvfp4`]'s
    /// options are ignored.
    ///
    /// ```
    /// use blockscale::recipe::{OperandFormat, OperandRole, OperandRounding, Recipe};
    /// let r = Recipe::mxfp4();
    /// assert_eq!(r.name(), "mxfp4");
    /// let s = r.spec(OperandRole::WgradGradOutput);
    /// assert_eq!((s.format, s.rounding), (OperandFormat::Mxfp4, OperandRounding::NearestEven));
    /// assert_eq!(s.format.block(), Some((1, 32)));
    /// assert!(s.rht.is_none());
    /// ```
    pub fn mxfp4() -> Recipe {
        Recipe::from_kind(RecipeKind::Mxfp4)
    }

    /// The flag name of the recipe's kind.
    ///
    /// ```
    /// assert_eq!(blockscale::recipe::Recipe::blockwise().name(), "blockwise");
    /// ```
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// How `role` is quantized in a layer that is not kept in BF16.
    ///
    /// An invalid `nvfp4.rht_size` or sign vector is reported by
    /// [`Recipe::validate`] (which [`LinearLayer::new`] calls); `spec`
    /// itself then gives `rht: None`.
    ///
    /// ```
    /// use blockscale::recipe::{OperandRole, OperandRounding, Recipe};
    /// let r = Recipe::nvfp4();
    /// assert_eq!(r.spec(OperandRole::DgradGradOutput).rounding, OperandRounding::Stochastic);
    /// assert_eq!(r.spec(OperandRole::WgradInput).rounding, OperandRounding::NearestEven);
    /// ```
    pub fn spec(&self, role: OperandRole) -> OperandSpec {
        let fwd = self.fp8_format.forward();
        let bwd = self.fp8_format.backward();
        let element = if role.is_gradient() { bwd } else { fwd };
        let mut rounding = OperandRounding::NearestEven;
        let mut rht = None;
        let format = match self.kind {
            RecipeKind::Delayed => OperandFormat::Fp8Tensorwise {
                element,
                delayed: true,
            },
            RecipeKind::Tensorwise => OperandFormat::Fp8Tensorwise {
                element,
                delayed: false,
            },
            RecipeKind::Mxfp8 => OperandFormat::Mxfp8 { element },
            RecipeKind::Blockwise => OperandFormat::Fp8Blockwise {
                element,
                tile: if role.tensor() == LayerTensor::Weight {
                    (128, 128)
                } else {
                    (1, 128)
                },
            },
            RecipeKind::Mxfp4 => OperandFormat::Mxfp4,
            RecipeKind::Nvfp4 => {
                let o = &self.nvfp4;
                if role.is_gradient() && o.stochastic_gradients {
                    rounding = OperandRounding::Stochastic;
                }
                if role.gemm() == Gemm::Wgrad && o.rht {
                    rht = self.rht().ok();
                }
                OperandFormat::Nvfp4 {
                    two_d: role.tensor() == LayerTensor::Weight && o.two_d_weights,
                }
            }
        };
        OperandSpec {
            role,
            format,
            direction: role.direction(),
            rounding,
            rht,
        }
    }

    /// How `role` is quantized in layer `layer` of `num_layers` at `step`:
    /// [`Recipe::spec`], or BF16 with nearest rounding and no RHT when
    /// [`Recipe::bf16`] selects the layer.
    ///
    /// ```
    /// use blockscale::recipe::{OperandFormat, OperandRole, Recipe};
    /// let mut r = Recipe::nvfp4();
    /// r.bf16.last = 1;
    /// assert_eq!(r.layer_spec(OperandRole::FpropInput, 3, 4, 0).format, OperandFormat::Bf16);
    /// assert_eq!(r.layer_spec(OperandRole::FpropInput, 2, 4, 0).format, OperandFormat::Nvfp4 { two_d: false });
    /// ```
    pub fn layer_spec(
        &self,
        role: OperandRole,
        layer: usize,
        num_layers: usize,
        step: u64,
    ) -> OperandSpec {
        if self.bf16.is_bf16(layer, num_layers, step) {
            OperandSpec {
                role,
                format: OperandFormat::Bf16,
                direction: role.direction(),
                rounding: OperandRounding::NearestEven,
                rht: None,
            }
        } else {
            self.spec(role)
        }
    }

    /// Checks the options: the FP8 format must not be pure E5M2 (TE rejects
    /// it), the delayed-scaling history must be at least 1, and with RHT on
    /// the RHT size and signs must be valid ([`Rht::new`]).
    ///
    /// ```
    /// use blockscale::recipe::Recipe;
    /// let mut r = Recipe::nvfp4();
    /// r.nvfp4.rht_size = 32; // TE's sign vector has 16 entries
    /// assert!(r.validate().is_err());
    /// assert!(Recipe::nvfp4().validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        if self.kind != RecipeKind::Nvfp4 && self.fp8_format == Fp8Format::E5M2 {
            return Err(Error::InvalidArgument(
                "pure E5M2 training is not supported (as in Transformer Engine); use Hybrid or E4M3"
                    .into(),
            ));
        }
        if self.delayed.history_len == 0 {
            return Err(Error::InvalidArgument(
                "delayed scaling needs an amax history of at least 1 step".into(),
            ));
        }
        if self.kind == RecipeKind::Nvfp4 && self.nvfp4.rht {
            self.rht()?;
        }
        Ok(())
    }

    fn rht(&self) -> Result<Rht, Error> {
        Ok(Rht::new(self.nvfp4.rht_size, self.nvfp4.rht_signs)?
            .with_bf16_rounding(self.nvfp4.rht_bf16))
    }
}

/// The stochastic-rounding seed of operand `role` of layer `layer` at
/// `step`, from the recipe's base `seed`:
///
/// ```text
/// operand_seed = splitmix64(seed ^ splitmix64(step ^ splitmix64(layer ^ splitmix64(role.index()))))
/// ```
///
/// with SplitMix64's finalizer (`z += 0x9E3779B97F4A7C15`, then the two
/// xor-shift-multiply rounds and a final xor-shift). Every (seed, step,
/// layer, role) gets its own stream; the result is then used as
/// [`crate::tensor::TensorRounding::Stochastic`]'s seed.
///
/// ```
/// use blockscale::recipe::{OperandRole, operand_seed};
/// let a = operand_seed(0, 0, 0, OperandRole::DgradGradOutput);
/// let b = operand_seed(0, 0, 0, OperandRole::WgradGradOutput);
/// assert_ne!(a, b);
/// assert_eq!(a, operand_seed(0, 0, 0, OperandRole::DgradGradOutput));
/// ```
pub fn operand_seed(seed: u64, step: u64, layer: usize, role: OperandRole) -> u64 {
    let r = splitmix64(role.index() as u64);
    splitmix64(seed ^ splitmix64(step ^ splitmix64(layer as u64 ^ r)))
}
