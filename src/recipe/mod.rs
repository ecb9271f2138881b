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
//! ([`Bf16Selection`]). TE's later NVFP4 options are switches of the same
//! recipe: 4over6 block scales for weights and/or activations
//! ([`FourOverSixRoles`], [`crate::format::Nvfp4FourOverSix`]) and one
//! amax per row of X ([`Nvfp4Options::row_scaled_activation`],
//! [`RowScaledOperand`]).
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

mod delayed;
mod linear;
mod operand;
mod options;
mod role;

pub use delayed::{AmaxCompute, DelayedScaler, DelayedScalingConfig, Fp8Format};
pub use linear::{DelayedState, LayerState, LinearLayer, LinearOutputs, LinearShape};
pub use operand::{Bf16Matrix, QuantizedOperand, RowScaledOperand, gemm_operands};
pub use options::{Bf16Selection, FourOverSixRoles, Nvfp4Options};
pub use role::{Gemm, LayerTensor, OperandRole};

use crate::Error;
use crate::element::ElementKind;
use crate::format::{
    AnyFormat, BlockFormat, BlockShape, FormatVisitor, Fp8Blockwise, Fp8Tensorwise, Nvfp4,
    Nvfp4FourOverSix,
};
use crate::format::{MxFp4, MxFp8E4M3, MxFp8E5M2};
use crate::rht::Rht;
use crate::rng::splitmix64;
use crate::tensor::{Direction, TensorRounding};
use crate::{E4M3, E5M2};

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
#[non_exhaustive]
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
    pub const ALL: &'static [RecipeKind] = &[
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
            .iter()
            .copied()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown recipe {name:?}; expected one of delayed, tensorwise, mxfp8, blockwise, nvfp4, mxfp4"
                ))
            })
    }
}

/// How one GEMM operand is quantized: everything a test or a kernel author
/// needs to reproduce it, the stochastic-rounding seed included.
///
/// [`OperandSpec::quantize`] does, in order: the RHT along the blocked axis
/// (if any; K of the GEMM), then quantization in `direction` with `format`
/// and `rounding`.
///
/// ```
/// use blockscale::format::{AnyFormat, Nvfp4};
/// use blockscale::recipe::{OperandRole, Recipe};
/// use blockscale::tensor::{Direction, TensorRounding};
/// let s = Recipe::nvfp4().spec(OperandRole::DgradWeight);
/// assert_eq!(s.format, Some(AnyFormat::Nvfp4(Nvfp4::WEIGHTS_2D)));
/// assert_eq!((s.direction, s.rounding), (Direction::Columnwise, TensorRounding::NearestEven));
/// assert!(s.rht.is_none());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct OperandSpec {
    /// Which operand.
    pub role: OperandRole,
    /// The number format; `None` keeps the operand in BF16 (values
    /// rounded to bf16, nearest even; [`Bf16Matrix`]).
    pub format: Option<AnyFormat>,
    /// FP8 per-tensor delayed scaling: the scale is the layer's
    /// [`DelayedScaler::scale`], passed to [`OperandSpec::quantize`], in
    /// place of the format's own.
    pub delayed: bool,
    /// Block direction (and storage orientation).
    pub direction: Direction,
    /// Element rounding; a stochastic seed is [`operand_seed`]'s for the
    /// operand's layer and step.
    pub rounding: TensorRounding,
    /// The Random Hadamard Transform applied along `direction` before
    /// quantizing, if any.
    pub rht: Option<Rht>,
    /// One tensor amax per stored row ([`crate::tensor::RowScaled`]):
    /// per token of X rowwise, per input feature of X columnwise
    /// ([`Nvfp4Options::row_scaled_activation`]).
    pub row_scaled: bool,
}

impl OperandSpec {
    /// The block that shares a scale, `(rows, cols)` in the stored
    /// orientation; `None` for BF16 (no scale) and per-tensor FP8 (one scale).
    ///
    /// ```
    /// use blockscale::recipe::{OperandRole, Recipe};
    /// assert_eq!(Recipe::nvfp4().spec(OperandRole::FpropWeight).block(), Some((16, 16)));
    /// assert_eq!(Recipe::mxfp8().spec(OperandRole::FpropInput).block(), Some((1, 32)));
    /// assert_eq!(Recipe::tensorwise().spec(OperandRole::FpropInput).block(), None);
    /// ```
    pub fn block(&self) -> Option<(usize, usize)> {
        struct Block;
        impl FormatVisitor for Block {
            type Output = Option<(usize, usize)>;
            fn visit<F: BlockFormat>(self, f: F) -> Self::Output {
                match f.block() {
                    BlockShape::Tile { rows, cols } => Some((rows, cols)),
                    BlockShape::Tensor => None,
                }
            }
        }
        self.format.and_then(|f| f.visit(Block))
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
/// use blockscale::recipe::Fp8Format;
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
    /// use blockscale::recipe::Fp8Format;
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
    /// use blockscale::recipe::{OperandRole, Recipe};
    /// let s = Recipe::delayed().spec(OperandRole::DgradGradOutput);
    /// assert_eq!((s.format.unwrap().to_string().as_str(), s.delayed), ("fp8-e5m2", true));
    /// ```
    pub fn delayed() -> Recipe {
        Recipe::from_kind(RecipeKind::Delayed)
    }

    /// `tensorwise`: FP8 per-tensor current scaling (from each tensor's own
    /// amax); E4M3 forward, E5M2 gradients.
    ///
    /// ```
    /// use blockscale::recipe::{OperandRole, Recipe};
    /// let s = Recipe::tensorwise().spec(OperandRole::FpropInput);
    /// assert_eq!((s.format.unwrap().to_string().as_str(), s.delayed), ("fp8", false));
    /// ```
    pub fn tensorwise() -> Recipe {
        Recipe::from_kind(RecipeKind::Tensorwise)
    }

    /// `mxfp8`: MXFP8 E4M3 for every operand, 1×32 blocks along K (the
    /// columnwise copies re-quantized from high precision).
    ///
    /// ```
    /// use blockscale::recipe::{OperandRole, Recipe};
    /// assert_eq!(Recipe::mxfp8().spec(OperandRole::WgradGradOutput).format, Some("mxfp8".parse()?));
    /// # Ok::<(), blockscale::Error>(())
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
    /// assert_eq!(r.spec(OperandRole::FpropWeight).block(), Some((128, 128)));
    /// assert_eq!(r.spec(OperandRole::WgradInput).block(), Some((1, 128)));
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
    /// use blockscale::recipe::{Nvfp4Options, OperandRole, Recipe};
    /// let r = Recipe::nvfp4_with(Nvfp4Options { two_d_weights: false, ..Default::default() });
    /// assert_eq!(r.spec(OperandRole::FpropWeight).block(), Some((1, 16)));
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
    /// use blockscale::recipe::{OperandRole, Recipe};
    /// use blockscale::tensor::TensorRounding;
    /// let r = Recipe::mxfp4();
    /// assert_eq!(r.name(), "mxfp4");
    /// let s = r.spec(OperandRole::WgradGradOutput);
    /// assert_eq!((s.format, s.rounding), (Some("mxfp4".parse()?), TensorRounding::NearestEven));
    /// assert_eq!(s.block(), Some((1, 32)));
    /// assert!(s.rht.is_none());
    /// # Ok::<(), blockscale::Error>(())
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

    /// How `role` is quantized in a layer that is not kept in BF16, at
    /// layer 0 and step 0 (the stochastic seed is
    /// [`operand_seed`]`(self.seed, 0, 0, role)`; [`Recipe::layer_spec`]
    /// gives other layers and steps).
    ///
    /// An invalid `nvfp4.rht_size` or sign vector is reported by
    /// [`Recipe::validate`] (which [`LinearLayer::new`] calls); `spec`
    /// itself then gives `rht: None`.
    ///
    /// ```
    /// use blockscale::recipe::{OperandRole, Recipe, operand_seed};
    /// use blockscale::tensor::TensorRounding;
    /// let r = Recipe::nvfp4();
    /// let seed = operand_seed(0, 0, 0, OperandRole::DgradGradOutput);
    /// assert_eq!(r.spec(OperandRole::DgradGradOutput).rounding, TensorRounding::Stochastic { seed });
    /// assert_eq!(r.spec(OperandRole::WgradInput).rounding, TensorRounding::NearestEven);
    /// ```
    pub fn spec(&self, role: OperandRole) -> OperandSpec {
        self.quantized_spec(role, 0, 0)
    }

    fn quantized_spec(&self, role: OperandRole, layer: usize, step: u64) -> OperandSpec {
        let fwd = self.fp8_format.forward();
        let bwd = self.fp8_format.backward();
        let e5m2 = (if role.is_gradient() { bwd } else { fwd }) == ElementKind::E5M2;
        let stochastic = TensorRounding::Stochastic {
            seed: operand_seed(self.seed, step, layer, role),
        };
        let mut rounding = TensorRounding::NearestEven;
        let mut rht = None;
        let tensorwise = |e5m2: bool| -> AnyFormat {
            if e5m2 {
                Fp8Tensorwise::<E5M2>::current().into()
            } else {
                Fp8Tensorwise::<E4M3>::current().into()
            }
        };
        let format: AnyFormat = match self.kind {
            RecipeKind::Delayed | RecipeKind::Tensorwise => tensorwise(e5m2),
            RecipeKind::Mxfp8 if e5m2 => MxFp8E5M2::default().into(),
            RecipeKind::Mxfp8 => MxFp8E4M3::default().into(),
            RecipeKind::Blockwise => {
                let (r, c) = if role.tensor() == LayerTensor::Weight {
                    (128, 128)
                } else {
                    (1, 128)
                };
                if e5m2 {
                    Fp8Blockwise::<E5M2>::new(r, c).into()
                } else {
                    Fp8Blockwise::<E4M3>::new(r, c).into()
                }
            }
            RecipeKind::Mxfp4 => MxFp4::default().into(),
            RecipeKind::Nvfp4 => {
                let o = &self.nvfp4;
                if role.is_gradient() && o.stochastic_gradients {
                    rounding = stochastic;
                }
                if role.gemm() == Gemm::Wgrad && o.rht {
                    rht = self.rht().ok();
                }
                let tensor = role.tensor();
                let two_d = tensor == LayerTensor::Weight && o.two_d_weights;
                if o.four_over_six.covers(tensor) {
                    let mut f = Nvfp4FourOverSix::new(o.four_over_six_metric).with_two_d(two_d);
                    f.e4m3_max_448 = !o.four_over_six_e4m3_256.covers(tensor);
                    f.fast_error = o.four_over_six_fast_error;
                    f.into()
                } else {
                    Nvfp4 {
                        two_d,
                        ..Nvfp4::default()
                    }
                    .into()
                }
            }
        };
        OperandSpec {
            role,
            format: Some(format),
            delayed: self.kind == RecipeKind::Delayed,
            direction: role.direction(),
            rounding,
            rht,
            row_scaled: self.kind == RecipeKind::Nvfp4
                && self.nvfp4.row_scaled_activation
                && role.tensor() == LayerTensor::Input,
        }
    }

    /// How `role` is quantized in layer `layer` of `num_layers` at `step`:
    /// [`Recipe::spec`] with the seed of that layer and step, or BF16 with
    /// nearest rounding and no RHT when [`Recipe::bf16`] selects the layer.
    ///
    /// ```
    /// use blockscale::recipe::{OperandRole, Recipe};
    /// let mut r = Recipe::nvfp4();
    /// r.bf16.last = 1;
    /// assert_eq!(r.layer_spec(OperandRole::FpropInput, 3, 4, 0).format, None);
    /// assert_eq!(r.layer_spec(OperandRole::FpropInput, 2, 4, 0).format, Some("nvfp4".parse()?));
    /// # Ok::<(), blockscale::Error>(())
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
                format: None,
                delayed: false,
                direction: role.direction(),
                rounding: TensorRounding::NearestEven,
                rht: None,
                row_scaled: false,
            }
        } else {
            self.quantized_spec(role, layer, step)
        }
    }

    /// Checks the options: the FP8 format must not be pure E5M2 (TE rejects
    /// it), the delayed-scaling history must be at least 1, with RHT on
    /// the RHT size and signs must be valid ([`Rht::new`]), and neither
    /// 4over6 activations nor row scaling may meet the RHT, which X's
    /// wgrad copy gets (TE's `NVFP4BlockScalingRecipeState` raises
    /// `ValueError` for both).
    ///
    /// ```
    /// use blockscale::recipe::{FourOverSixRoles, Recipe};
    /// let mut r = Recipe::nvfp4();
    /// r.nvfp4.rht_size = 32; // TE's sign vector has 16 entries
    /// assert!(r.validate().is_err());
    /// assert!(Recipe::nvfp4().validate().is_ok());
    /// let mut r = Recipe::nvfp4();
    /// r.nvfp4.four_over_six = FourOverSixRoles::All;
    /// assert!(r.validate().is_err()); // X has the RHT in wgrad
    /// r.nvfp4.rht = false;
    /// assert!(r.validate().is_ok());
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
            let o = &self.nvfp4;
            if o.four_over_six.covers(LayerTensor::Input) || o.row_scaled_activation {
                return Err(Error::InvalidArgument(format!(
                    "NVFP4 {} on the activations needs rht off: X's wgrad copy gets the RHT, \
                     which Transformer Engine refuses with it",
                    if o.row_scaled_activation {
                        "row scaling"
                    } else {
                        "4over6"
                    }
                )));
            }
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
