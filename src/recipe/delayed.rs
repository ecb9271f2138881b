//! The state of FP8 delayed scaling, and the recipes' FP8 vocabulary: which
//! FP8 element forward tensors and gradients use ([`Fp8Format`]) and the
//! delayed-scaling settings. The pure rule is
//! [`crate::scale::fp8::delayed_scale`]; this module keeps the amax
//! history it is applied to.

use crate::element::ElementKind;
use crate::scale::fp8::{delayed_scale, margin_max, scale_inv};
use crate::{E4M3, E5M2, Element, Error};

/// Which FP8 element forward tensors and gradients use: TE's
/// `recipe.Format` (`transformer_engine/common/recipe/__init__.py`).
///
/// | format | forward (activations, weights) | backward (gradients) |
/// |---|---|---|
/// | `E4M3` | E4M3 (448) | E4M3 (448) |
/// | `E5M2` | E5M2 (57344) | E5M2 (57344) |
/// | `Hybrid` | E4M3 (448) | E5M2 (57344) |
///
/// The default is `Hybrid`, the default of TE's `DelayedScaling` and
/// `Float8CurrentScaling` recipes (TE's recipes reject pure `E5M2`;
/// `MXFP8BlockScaling` and `Float8BlockScaling` default to `E4M3`).
///
/// ```
/// use blockscale::element::ElementKind;
/// use blockscale::recipe::Fp8Format;
/// let f = Fp8Format::Hybrid;
/// assert_eq!((f.forward(), f.backward()), (ElementKind::E4M3, ElementKind::E5M2));
/// assert_eq!((f.max_fwd(), f.max_bwd()), (448.0, 57344.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Fp8Format {
    /// E4M3 everywhere.
    E4M3,
    /// E5M2 everywhere.
    E5M2,
    /// E4M3 forward, E5M2 for gradients.
    #[default]
    Hybrid,
}

impl Fp8Format {
    /// The element of forward-pass tensors (activations and weights):
    /// [`ElementKind::E4M3`] or [`ElementKind::E5M2`].
    pub const fn forward(self) -> ElementKind {
        match self {
            Fp8Format::E5M2 => ElementKind::E5M2,
            Fp8Format::E4M3 | Fp8Format::Hybrid => ElementKind::E4M3,
        }
    }

    /// The element of backward-pass tensors (gradients).
    pub const fn backward(self) -> ElementKind {
        match self {
            Fp8Format::E4M3 => ElementKind::E4M3,
            Fp8Format::E5M2 | Fp8Format::Hybrid => ElementKind::E5M2,
        }
    }

    /// The largest finite forward value, the `fp8_max` of the scale rules:
    /// 448 for E4M3, 57344 for E5M2 (TE `Format.*.value.max_fwd`; taken
    /// from the crate's element codecs).
    pub const fn max_fwd(self) -> f32 {
        fp8_max(self.forward())
    }

    /// The largest finite backward value (TE `Format.*.value.max_bwd`).
    pub const fn max_bwd(self) -> f32 {
        fp8_max(self.backward())
    }
}

/// Which amax of the history window a delayed scale is computed from (TE
/// `DelayedScaling.amax_compute_algo`).
///
/// ```
/// use blockscale::recipe::AmaxCompute;
/// assert_eq!(AmaxCompute::default(), AmaxCompute::Max);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum AmaxCompute {
    /// `"max"` (TE's default): the largest amax in the window, NaNs ignored
    /// (TE reduces with `fmaxf`, which returns the other operand when one is
    /// NaN), starting from 0.
    #[default]
    Max,
    /// `"most_recent"` (Megatron-LM's default): the amax just recorded.
    MostRecent,
}

/// The settings of TE's delayed-scaling recipe that change the scale.
///
/// `Default` is TE's `DelayedScaling` (`recipe/__init__.py`):
/// `history_len` 1024, [`AmaxCompute::Max`], `margin` 0.
/// [`DelayedScalingConfig::MEGATRON`] is Megatron-LM's `TransformerConfig`
/// default: `history_len` 1, [`AmaxCompute::MostRecent`], `margin` 0.
///
/// The fields are public; [`DelayedScalingConfig::new`] and
/// [`DelayedScaler::new`] check them.
///
/// ```
/// use blockscale::recipe::{AmaxCompute, DelayedScalingConfig};
/// let te = DelayedScalingConfig::default();
/// assert_eq!((te.history_len, te.compute, te.margin), (1024, AmaxCompute::Max, 0));
/// assert!(DelayedScalingConfig::new(0, AmaxCompute::Max, 0).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DelayedScalingConfig {
    /// How many of the most recent (non-zero) amaxes the window holds
    /// (TE `amax_history_len`); at least 1.
    pub history_len: usize,
    /// How the window becomes one amax (TE `amax_compute_algo`).
    pub compute: AmaxCompute,
    /// The scale maps the amax to `fp8_max · 2^-margin` (TE `margin`).
    pub margin: i32,
}

impl Default for DelayedScalingConfig {
    fn default() -> Self {
        DelayedScalingConfig {
            history_len: 1024,
            compute: AmaxCompute::Max,
            margin: 0,
        }
    }
}

impl DelayedScalingConfig {
    /// Megatron-LM's defaults (`TransformerConfig.fp8_amax_history_len = 1`,
    /// `fp8_amax_compute_algo = "most_recent"`, `fp8_margin = 0`).
    pub const MEGATRON: Self = DelayedScalingConfig {
        history_len: 1,
        compute: AmaxCompute::MostRecent,
        margin: 0,
    };

    /// A checked configuration.
    ///
    /// Errors with [`Error::InvalidArgument`] if `history_len` is 0.
    ///
    /// ```
    /// use blockscale::recipe::{AmaxCompute, DelayedScalingConfig};
    /// let c = DelayedScalingConfig::new(16, AmaxCompute::MostRecent, 1)?;
    /// assert_eq!(c.history_len, 16);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn new(history_len: usize, compute: AmaxCompute, margin: i32) -> Result<Self, Error> {
        let config = DelayedScalingConfig {
            history_len,
            compute,
            margin,
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), Error> {
        if self.history_len == 0 {
            return Err(Error::InvalidArgument(
                "delayed scaling needs an amax history of at least 1 step, got 0".into(),
            ));
        }
        Ok(())
    }
}

/// TE's delayed scaling for one tensor: the scale used at step t is
/// computed only from the amaxes of steps before t.
///
/// A training step quantizes the tensor with [`DelayedScaler::scale`],
/// measures the tensor's amax (of the high-precision values) as it does so,
/// and then calls [`DelayedScaler::update`] with it, which produces the
/// scale of the next step. So the amax of step t never affects step t's
/// own quantization — values that grew since the last steps saturate at
/// `±fp8_max` — which is what lets TE fuse the amax into the cast kernel.
///
/// State: the window of the last `history_len` recorded amaxes (initially
/// all 0, as TE's `amax_history` tensor) and the current scale (initially
/// 1.0, as TE's `scale` tensor). [`DelayedScaler::update`]`(a)` does exactly
/// what TE's fused kernel (`delayed_scaling.cu` `kernel_bulk`, run by
/// PyTorch's `DelayedScaling` by default) does, with every operation in f32:
///
/// 1. if `a == 0` (or −0), nothing changes: the window does not roll and
///    the scale is kept;
/// 2. otherwise `a` is pushed into the window and the oldest amax leaves
///    (NaN, ±Inf and negative values are recorded as given);
/// 3. `a*` = the largest amax in the window, starting from 0 and ignoring
///    NaNs ([`AmaxCompute::Max`]), or `a` itself ([`AmaxCompute::MostRecent`]);
/// 4. if `a*` is finite and `> 0`, `s = f32(scaled_max / a*)` with
///    `scaled_max = f32(fp8_max · 2^-margin)`; otherwise (`a*` is +Inf, NaN
///    or ≤ 0) the previous scale is kept;
/// 5. if `s` is +Inf (a tiny `a*`), `s = f32::MAX`.
///
/// Consequences worth knowing: under `Max` an Inf amax freezes the scale
/// for `history_len` non-zero steps, until it leaves the window, while a
/// NaN amax is ignored; under `MostRecent` both just keep the previous
/// scale for one step.
///
/// ```
/// use blockscale::recipe::{AmaxCompute, DelayedScaler, DelayedScalingConfig};
/// let config = DelayedScalingConfig::new(2, AmaxCompute::Max, 0)?;
/// let mut s = DelayedScaler::new(config, 448.0)?;
/// assert_eq!(s.scale(), 1.0);   // step 0 has no history: scale 1
/// s.update(4.0);                // step 0's amax
/// assert_eq!(s.scale(), 112.0); // step 1 uses 448 / max(4)
/// s.update(2.0);
/// assert_eq!(s.scale(), 112.0); // step 2: 448 / max(4, 2)
/// s.update(1.0);
/// assert_eq!(s.scale(), 224.0); // step 3: 448 / max(2, 1); the 4 rolled out
/// assert_eq!(s.history(), &[2.0, 1.0]);
/// # Ok::<(), blockscale::Error>(())
/// ```
///
/// Deviations from TE, all documented choices:
/// - [SEMANTICS.md](crate::contract) and TE's docstring write the scale as
///   `(fp8_max / a*) / 2^margin`; TE's fused kernel (followed here) divides
///   `fp8_max · 2^-margin` by `a*`. They agree unless `fp8_max / a*`
///   overflows: then TE's unfused PyTorch path (`_default_sf_compute`) gives
///   `f32::MAX` and the fused kernel a finite `(fp8_max · 2^-margin) / a*`.
/// - TE's unfused path also rolls the window on a zero amax and lets a NaN
///   in the window win under `Max` (`torch.max`), keeping the scale.
/// - TE accepts any margin; [`DelayedScaler::new`] rejects one that makes
///   `fp8_max · 2^-margin` zero or infinite (every scale would be 0 or
///   `f32::MAX`).
/// - TE's buffer keeps the current step's amax in row 0 and rotates the
///   rest; [`DelayedScaler::history`] shows the same window in time order.
#[derive(Clone, Debug, PartialEq)]
pub struct DelayedScaler {
    config: DelayedScalingConfig,
    fp8_max: f32,
    /// Oldest first; always `config.history_len` long.
    history: Vec<f32>,
    scale: f32,
}

impl DelayedScaler {
    /// A scaler at step 0: window all zeros, scale 1.0 (TE initializes
    /// `amax_history` to zeros and `scale` to ones).
    ///
    /// `fp8_max` is the element's largest finite value (see
    /// [`Fp8Format::max_fwd`], [`Fp8Format::max_bwd`]).
    ///
    /// Errors with [`Error::InvalidArgument`] if `config.history_len` is 0,
    /// if `fp8_max` is not finite and `> 0`, or if `f32(fp8_max · 2^-margin)`
    /// is 0 or infinite.
    ///
    /// ```
    /// use blockscale::recipe::{DelayedScaler, DelayedScalingConfig, Fp8Format};
    /// let grads = DelayedScaler::new(DelayedScalingConfig::default(), Fp8Format::Hybrid.max_bwd())?;
    /// assert_eq!((grads.scale(), grads.fp8_max(), grads.history().len()), (1.0, 57344.0, 1024));
    /// assert!(DelayedScaler::new(DelayedScalingConfig::default(), f32::NAN).is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn new(config: DelayedScalingConfig, fp8_max: f32) -> Result<Self, Error> {
        config.validate()?;
        if !(fp8_max.is_finite() && fp8_max > 0.0) {
            return Err(Error::InvalidArgument(format!(
                "fp8_max must be finite and positive, got {fp8_max}"
            )));
        }
        let scaled_max = margin_max(fp8_max, config.margin);
        if !(scaled_max.is_finite() && scaled_max > 0.0) {
            return Err(Error::InvalidArgument(format!(
                "margin {} makes fp8_max · 2^-margin = {scaled_max}",
                config.margin
            )));
        }
        Ok(DelayedScaler {
            config,
            fp8_max,
            history: vec![0.0; config.history_len],
            scale: 1.0,
        })
    }

    /// The scale to quantize with at this step, computed from the amaxes
    /// recorded by earlier [`DelayedScaler::update`] calls only (1.0 before
    /// the first non-zero one).
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// [`scale_inv`] of [`DelayedScaler::scale`]: `f32(1/scale)`, what TE
    /// stores to dequantize this step's data.
    ///
    /// ```
    /// use blockscale::recipe::{DelayedScaler, DelayedScalingConfig};
    /// let mut s = DelayedScaler::new(DelayedScalingConfig::MEGATRON, 448.0)?;
    /// s.update(3.5);
    /// assert_eq!((s.scale(), s.scale_inv()), (128.0, 0.0078125));
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn scale_inv(&self) -> f32 {
        scale_inv(self.scale)
    }

    /// Record this step's amax and compute the scale of the next step, by
    /// the five rules in [`DelayedScaler`]'s documentation (TE
    /// `delayed_scaling.cu` `kernel_bulk`).
    ///
    /// ```
    /// use blockscale::recipe::{AmaxCompute, DelayedScaler, DelayedScalingConfig};
    /// let mut s = DelayedScaler::new(DelayedScalingConfig::new(4, AmaxCompute::MostRecent, 1)?, 448.0)?;
    /// s.update(2.0);
    /// assert_eq!(s.scale(), 112.0);      // (448 · 2^-1) / 2
    /// s.update(0.0);                     // zero amax: nothing changes
    /// s.update(f32::INFINITY);           // non-finite amax: scale kept
    /// assert_eq!(s.scale(), 112.0);
    /// assert_eq!(s.history(), &[0.0, 0.0, 2.0, f32::INFINITY]);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn update(&mut self, amax: f32) {
        if amax == 0.0 {
            return;
        }
        self.history.rotate_left(1);
        if let Some(newest) = self.history.last_mut() {
            *newest = amax;
        }
        let chosen = match self.config.compute {
            // f32::max returns the non-NaN operand, as CUDA's fmaxf does.
            AmaxCompute::Max => self.history.iter().fold(0.0f32, |m, &a| m.max(a)),
            AmaxCompute::MostRecent => amax,
        };
        self.scale = delayed_scale(chosen, self.fp8_max, self.config.margin, self.scale);
    }

    /// The window of the last `history_len` non-zero amaxes, oldest first;
    /// slots not yet filled hold 0 (as TE's zero-initialized history).
    ///
    /// ```
    /// use blockscale::recipe::{AmaxCompute, DelayedScaler, DelayedScalingConfig};
    /// let mut s = DelayedScaler::new(DelayedScalingConfig::new(3, AmaxCompute::Max, 0)?, 448.0)?;
    /// s.update(5.0);
    /// s.update(6.0);
    /// assert_eq!(s.history(), &[0.0, 5.0, 6.0]);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn history(&self) -> &[f32] {
        &self.history
    }

    /// Back to step 0: window all zeros, scale 1.0; the configuration and
    /// `fp8_max` are kept.
    ///
    /// ```
    /// use blockscale::recipe::{DelayedScaler, DelayedScalingConfig};
    /// let mut s = DelayedScaler::new(DelayedScalingConfig::MEGATRON, 448.0)?;
    /// s.update(7.0);
    /// s.reset();
    /// assert_eq!((s.scale(), s.history()), (1.0, &[0.0][..]));
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn reset(&mut self) {
        self.history.fill(0.0);
        self.scale = 1.0;
    }

    /// The configuration.
    pub fn config(&self) -> &DelayedScalingConfig {
        &self.config
    }

    /// The FP8 maximum the scale maps amaxes to (before the margin).
    pub fn fp8_max(&self) -> f32 {
        self.fp8_max
    }
}

/// The largest finite value of an FP8 element (E4M3 for anything else).
const fn fp8_max(kind: ElementKind) -> f32 {
    match kind {
        ElementKind::E5M2 => E5M2::MAX_F32,
        _ => E4M3::MAX_F32,
    }
}
