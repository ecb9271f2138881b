//! A linear layer's forward and backward GEMMs run through a recipe.

use super::DelayedScaler;
use super::{OperandRole, QuantizedOperand, Recipe, gemm_operands};
use crate::Error;
use crate::error::{check_len, checked_area};
use crate::recipe::{LayerTensor, RecipeKind};

/// The sizes of a linear layer: X is `tokens × in_features`, W is
/// `out_features × in_features`, dY is `tokens × out_features`.
///
/// ```
/// use blockscale::recipe::LinearShape;
/// let s = LinearShape { tokens: 128, in_features: 64, out_features: 32 };
/// assert_eq!(s.tokens * s.in_features, 8192);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinearShape {
    /// Rows of X and dY (batch dimensions flattened).
    pub tokens: usize,
    /// Columns of X and W.
    pub in_features: usize,
    /// Rows of W, columns of dY.
    pub out_features: usize,
}

/// What [`LinearLayer::run`] returns, all row-major f32.
///
/// ```
/// use blockscale::recipe::{LinearLayer, LinearShape, Recipe};
/// let mut l = LinearLayer::new(Recipe::tensorwise(), 0, 1)?;
/// let s = LinearShape { tokens: 1, in_features: 2, out_features: 1 };
/// let out = l.run(0, &[1.0, 2.0], &[0.5, 0.25], &[1.0], s)?;
/// assert!((out.y[0] - 1.0).abs() < 1e-6 && !out.bf16);
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LinearOutputs {
    /// Y = X·Wᵀ, tokens × out.
    pub y: Vec<f32>,
    /// dX = dY·W, tokens × in.
    pub dx: Vec<f32>,
    /// dW = dYᵀ·X, out × in.
    pub dw: Vec<f32>,
    /// Whether this step ran in BF16 ([`crate::recipe::Bf16Selection`]).
    pub bf16: bool,
}

/// The delayed-scaling state of one layer: one [`DelayedScaler`] (amax
/// history and scale) per tensor, as TE keeps one FP8 meta entry per tensor
/// (`input`, `weight`, `grad_output`). A tensor's rowwise and columnwise
/// operands share its scale, as TE's FP8 data and its transpose do.
///
/// ```
/// use blockscale::recipe::{LinearLayer, Recipe};
/// let l = LinearLayer::new(Recipe::delayed(), 0, 1)?;
/// let d = l.state().delayed.as_ref().unwrap();
/// assert_eq!((d.input.fp8_max(), d.grad_output.fp8_max()), (448.0, 57344.0));
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct DelayedState {
    /// X's scaler (forward element: E4M3 under HYBRID).
    pub input: DelayedScaler,
    /// W's scaler (forward element).
    pub weight: DelayedScaler,
    /// dY's scaler (backward element: E5M2 under HYBRID).
    pub grad_output: DelayedScaler,
}

impl DelayedState {
    /// The scaler of `tensor`.
    ///
    /// ```
    /// use blockscale::recipe::{LayerTensor, LinearLayer, Recipe};
    /// let l = LinearLayer::new(Recipe::delayed(), 0, 1)?;
    /// let d = l.state().delayed.as_ref().unwrap();
    /// assert_eq!(d.scaler(LayerTensor::Weight).fp8_max(), 448.0);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn scaler(&self, tensor: LayerTensor) -> &DelayedScaler {
        match tensor {
            LayerTensor::Input => &self.input,
            LayerTensor::Weight => &self.weight,
            LayerTensor::GradOutput => &self.grad_output,
        }
    }
}

/// The per-layer state a recipe keeps between steps.
///
/// ```
/// use blockscale::recipe::{LinearLayer, Recipe};
/// assert!(LinearLayer::new(Recipe::nvfp4(), 0, 1)?.state().delayed.is_none());
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LayerState {
    /// The amax histories and scales of the `delayed` recipe (`None` for
    /// the others, which keep no state).
    pub delayed: Option<DelayedState>,
}

/// One linear layer `Y = X·Wᵀ` (layer `layer` of `num_layers`) whose three
/// GEMMs run through a [`Recipe`].
///
/// ```
/// use blockscale::recipe::{LinearLayer, LinearShape, Recipe};
/// let shape = LinearShape { tokens: 128, in_features: 128, out_features: 128 };
/// let x: Vec<f32> = (0..128 * 128).map(|i| ((i * 7 % 13) as f32 - 6.0) / 4.0).collect();
/// let w = x.clone();
/// let dy: Vec<f32> = x.iter().map(|v| v * 1e-2).collect();
/// let mut layer = LinearLayer::new(Recipe::blockwise(), 0, 1)?;
/// let out = layer.run(0, &x, &w, &dy, shape)?;
/// // The inputs are multiples of 1/4 up to 1.5: exact in E4M3 after power-of-two scaling,
/// // so Y equals the f32 product up to accumulation rounding.
/// let y00: f32 = (0..128).map(|k| x[k] * w[k]).sum();
/// assert!((out.y[0] - y00).abs() < 1e-4);
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct LinearLayer {
    recipe: Recipe,
    layer: usize,
    num_layers: usize,
    state: LayerState,
}

impl LinearLayer {
    /// Layer `layer` of `num_layers` under `recipe`, at step 0 (delayed
    /// scalers with empty histories and scale 1, as TE starts).
    ///
    /// Errors ([`Error::InvalidArgument`]): `layer ≥ num_layers`, or an
    /// invalid recipe ([`Recipe::validate`]).
    ///
    /// ```
    /// use blockscale::recipe::{LinearLayer, Recipe};
    /// assert!(LinearLayer::new(Recipe::mxfp8(), 3, 2).is_err());
    /// ```
    pub fn new(recipe: Recipe, layer: usize, num_layers: usize) -> Result<Self, Error> {
        recipe.validate()?;
        if layer >= num_layers {
            return Err(Error::InvalidArgument(format!(
                "layer {layer} of {num_layers}: the index must be below the count"
            )));
        }
        let delayed = if recipe.kind == RecipeKind::Delayed {
            let cfg = recipe.delayed;
            Some(DelayedState {
                input: DelayedScaler::new(cfg, recipe.fp8_format.max_fwd())?,
                weight: DelayedScaler::new(cfg, recipe.fp8_format.max_fwd())?,
                grad_output: DelayedScaler::new(cfg, recipe.fp8_format.max_bwd())?,
            })
        } else {
            None
        };
        Ok(LinearLayer {
            recipe,
            layer,
            num_layers,
            state: LayerState { delayed },
        })
    }

    /// The recipe.
    pub fn recipe(&self) -> &Recipe {
        &self.recipe
    }

    /// The state (delayed-scaling histories).
    pub fn state(&self) -> &LayerState {
        &self.state
    }

    /// Runs the layer's three GEMMs at `step` on f32 `x` (tokens × in), `w`
    /// (out × in) and `dy` (tokens × out), returning Y, dX and dW.
    ///
    /// Each of the six operands is quantized by
    /// `recipe.layer_spec(role, layer, num_layers, step)`
    /// ([`super::OperandSpec::quantize`]) with stochastic-rounding seed
    /// [`super::operand_seed`]`(recipe.seed, step, layer, role)`, and
    /// under `delayed` with the scale of its tensor's [`DelayedScaler`];
    /// then `Y = gemm(X_fprop, W_fprop)`, `dX = gemm(dY_dgrad, W_dgrad)`,
    /// `dW = gemm(dY_wgrad, X_wgrad)` by [`gemm_operands`] (FP32
    /// accumulation). With RHT on the wgrad operands, both are transformed
    /// with the same signs along the token axis, so dW needs no inverse
    /// transform.
    ///
    /// After the GEMMs, under `delayed` (and if the step did not run in
    /// BF16), each scaler records its tensor's amax (max |x|, NaN if any
    /// element is NaN) with [`DelayedScaler::update`]: the scales of step
    /// t+1 come from the amaxes up to step t.
    ///
    /// Errors, with the state unchanged: a buffer of the wrong length
    /// ([`Error::LengthMismatch`]); a size not a whole number of the
    /// recipe's blocks (NVFP4: 16, MXFP8 and MXFP4: 32, blockwise: 128 along every
    /// dimension, tokens included) or of the RHT size ([`Error::NotWholeBlocks`]).
    ///
    /// ```
    /// use blockscale::recipe::{LinearLayer, LinearShape, Recipe};
    /// let shape = LinearShape { tokens: 16, in_features: 16, out_features: 16 };
    /// let mut l = LinearLayer::new(Recipe::delayed(), 0, 1)?;
    /// let x = vec![2.0f32; 256];
    /// l.run(0, &x, &x, &x, shape)?;
    /// // Step 0 used scale 1; step 1 uses 448 / 2.
    /// assert_eq!(l.state().delayed.as_ref().unwrap().input.scale(), 224.0);
    /// assert!(l.run(1, &x[..255], &x, &x, shape).is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn run(
        &mut self,
        step: u64,
        x: &[f32],
        w: &[f32],
        dy: &[f32],
        shape: LinearShape,
    ) -> Result<LinearOutputs, Error> {
        self.check(x, w, Some(dy), shape)?;
        let y = self.forward(step, x, w, shape)?;
        let (dx, dw) = self.backward(step, x, w, dy, shape)?;
        let bf16 = self.recipe.bf16.is_bf16(self.layer, self.num_layers, step);
        Ok(LinearOutputs { y, dx, dw, bf16 })
    }

    /// The fprop GEMM alone: `Y = X·Wᵀ` (tokens × out) at `step`, exactly
    /// the `y` that [`LinearLayer::run`] returns for the same state, step
    /// and inputs. It does not change the state: a training step calls
    /// `forward` in the forward pass and [`LinearLayer::backward`] (which
    /// records the delayed-scaling amaxes) once dY is known.
    ///
    /// Errors as [`LinearLayer::run`]'s, for X and W.
    ///
    /// ```
    /// use blockscale::recipe::{LinearLayer, LinearShape, Recipe};
    /// let shape = LinearShape { tokens: 32, in_features: 32, out_features: 32 };
    /// let x: Vec<f32> = (0..32 * 32).map(|i| (i as f32 * 0.37).sin()).collect();
    /// let mut layer = LinearLayer::new(Recipe::mxfp4(), 0, 1)?;
    /// let y = layer.forward(0, &x, &x, shape)?;
    /// assert_eq!(y, layer.run(0, &x, &x, &x, shape)?.y);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn forward(
        &self,
        step: u64,
        x: &[f32],
        w: &[f32],
        shape: LinearShape,
    ) -> Result<Vec<f32>, Error> {
        self.check(x, w, None, shape)?;
        let mut y = vec![0f32; shape.tokens * shape.out_features];
        gemm_operands(
            &self.quantize(step, OperandRole::FpropInput, x, shape)?,
            &self.quantize(step, OperandRole::FpropWeight, w, shape)?,
            &mut y,
        )?;
        Ok(y)
    }

    /// The dgrad and wgrad GEMMs: `(dX, dW) = (dY·W, dYᵀ·X)` at `step`,
    /// exactly the `dx` and `dw` that [`LinearLayer::run`] returns, and
    /// then, under `delayed` (if the step did not run in BF16), the amax
    /// updates that `run` makes. `forward` then `backward` at one step is
    /// `run`.
    ///
    /// Errors as [`LinearLayer::run`]'s, with the state unchanged.
    ///
    /// ```
    /// use blockscale::recipe::{LinearLayer, LinearShape, Recipe};
    /// let shape = LinearShape { tokens: 16, in_features: 16, out_features: 16 };
    /// let x = vec![2.0f32; 256];
    /// let mut a = LinearLayer::new(Recipe::delayed(), 0, 1)?;
    /// let mut b = a.clone();
    /// let (dx, dw) = a.backward(0, &x, &x, &x, shape)?;
    /// let out = b.run(0, &x, &x, &x, shape)?;
    /// assert_eq!((dx, dw), (out.dx, out.dw));
    /// assert_eq!(a.state(), b.state());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn backward(
        &mut self,
        step: u64,
        x: &[f32],
        w: &[f32],
        dy: &[f32],
        shape: LinearShape,
    ) -> Result<(Vec<f32>, Vec<f32>), Error> {
        self.check(x, w, Some(dy), shape)?;
        let bf16 = self.recipe.bf16.is_bf16(self.layer, self.num_layers, step);
        let mut dx = vec![0f32; shape.tokens * shape.in_features];
        let mut dw = vec![0f32; shape.out_features * shape.in_features];
        gemm_operands(
            &self.quantize(step, OperandRole::DgradGradOutput, dy, shape)?,
            &self.quantize(step, OperandRole::DgradWeight, w, shape)?,
            &mut dx,
        )?;
        gemm_operands(
            &self.quantize(step, OperandRole::WgradGradOutput, dy, shape)?,
            &self.quantize(step, OperandRole::WgradInput, x, shape)?,
            &mut dw,
        )?;
        if !bf16 && let Some(d) = self.state.delayed.as_mut() {
            d.input.update(crate::tensor::tensor_amax(x));
            d.weight.update(crate::tensor::tensor_amax(w));
            d.grad_output.update(crate::tensor::tensor_amax(dy));
        }
        Ok((dx, dw))
    }

    /// Checks the buffer lengths against `shape` (and that the sizes fit in usize).
    fn check(
        &self,
        x: &[f32],
        w: &[f32],
        dy: Option<&[f32]>,
        shape: LinearShape,
    ) -> Result<(), Error> {
        let LinearShape {
            tokens,
            in_features: n_in,
            out_features: n_out,
        } = shape;
        check_len("X", checked_area("X", tokens, n_in)?, x.len())?;
        check_len("W", checked_area("W", n_out, n_in)?, w.len())?;
        checked_area("dW", n_out, tokens)?;
        if let Some(dy) = dy {
            check_len("dY", checked_area("dY", tokens, n_out)?, dy.len())?;
        }
        Ok(())
    }

    /// Quantizes `data` (the tensor of `role`, logical orientation) as the
    /// recipe says for this layer at `step`.
    fn quantize(
        &self,
        step: u64,
        role: OperandRole,
        data: &[f32],
        shape: LinearShape,
    ) -> Result<QuantizedOperand, Error> {
        let spec = self
            .recipe
            .layer_spec(role, self.layer, self.num_layers, step);
        let fp8_scale = match (spec.delayed, &self.state.delayed) {
            (true, Some(d)) => Some(d.scaler(role.tensor()).scale()),
            _ => None,
        };
        let (rows, cols) = match role.tensor() {
            LayerTensor::Input => (shape.tokens, shape.in_features),
            LayerTensor::Weight => (shape.out_features, shape.in_features),
            LayerTensor::GradOutput => (shape.tokens, shape.out_features),
        };
        spec.quantize(data, rows, cols, fp8_scale)
    }
}
