//! FP8 per-tensor scaling: current (tensorwise) and delayed, as NVIDIA
//! Transformer Engine (TE) computes them ([SEMANTICS.md](crate::contract) §4).
//!
//! The scale `s` multiplies before rounding: `q = T(f32(x · s))`, and TE
//! stores `scale_inv = f32(1/s)` to dequantize with. Sources:
//! TE `transformer_engine/common/recipe/recipe_common.cuh`
//! (`compute_scale_from_amax`), `recipe/current_scaling.cu`,
//! `recipe/delayed_scaling.cu` (the fused `kernel_bulk` that TE's PyTorch
//! `DelayedScaling` runs by default), `recipe/__init__.py` (defaults) and
//! `pytorch/quantization.py` (the unfused fallback).

use crate::{E4M3, E5M2, Element, Error};

/// `f32(2^e)` rounded to nearest even, as `std::pow(2.f, e)` gives it:
/// +Inf above 2¹²⁷, subnormal down to 2⁻¹⁴⁹, 0 below (2⁻¹⁵⁰ ties to 0).
fn exp2_f32(e: i64) -> f32 {
    // 2^e is exact in f64 over f32's whole range and beyond, so the one
    // rounding is the conversion to f32 (which gives the same Inf and 0).
    crate::element::pow2_f64(e.clamp(-2000, 2000) as i32) as f32
}

/// The options of [`current_scale_with`]: the two knobs TE's
/// `compute_scale_from_amax` takes besides the amax and the FP8 maximum.
///
/// The default (`power_of_two: false`, `amax_epsilon: 0.0`,
/// `value_for_inf: f32::MAX`) is TE's `Float8CurrentScaling` recipe.
///
/// ```
/// use blockscale::scale::fp8::{current_scale_with, CurrentScaleOptions};
/// let opts = CurrentScaleOptions { amax_epsilon: 0.5, ..Default::default() };
/// // amax 0 is floored to the epsilon first: 448 / 0.5.
/// assert_eq!(current_scale_with(0.0, 448.0, opts), 896.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurrentScaleOptions {
    /// Round the scale down to a power of two by clearing its 23 mantissa
    /// bits. TE: `Float8CurrentScaling` off by default (environment variable
    /// `NVTE_FP8_CURRENT_SCALING_POWER_2_SCALES`), `Float8BlockScaling` on
    /// by default.
    pub power_of_two: bool,
    /// Floor for the amax: an amax below it (0 included, NaN excluded) is
    /// replaced by it before anything else. TE `QParams.amax_epsilon`,
    /// default 0.
    pub amax_epsilon: f32,
    /// What an overflowing `fp8_max / amax` (+Inf) becomes. TE uses
    /// `f32::MAX` for per-tensor current scaling and the input dtype's
    /// largest value for blockwise scaling (`compute_scale_from_types`:
    /// `f32::MAX` for f32 input, 3.3895314e38 = `0x7F7F0000` for bf16).
    pub value_for_inf: f32,
}

impl Default for CurrentScaleOptions {
    fn default() -> Self {
        CurrentScaleOptions {
            power_of_two: false,
            amax_epsilon: 0.0,
            value_for_inf: f32::MAX,
        }
    }
}

/// TE's current (tensorwise) scale for an amax: the scale that maps `amax`
/// onto `fp8_max`, with TE's special cases.
///
/// Exactly, with every operation in f32 (TE `recipe_common.cuh`
/// `compute_scale_from_amax` with epsilon 0 and `value_for_inf = f32::MAX`,
/// as `current_scaling.cu` calls it):
///
/// 1. if `amax < 0` (the epsilon floor), `amax = 0`;
/// 2. if `amax` is 0, ±Inf or NaN, return `1.0`;
/// 3. `s = f32(fp8_max / amax)`, rounded to nearest even;
/// 4. if `s` is ±Inf, `s = f32::MAX`;
/// 5. if `power_of_two`, clear the 23 mantissa bits of `s` (keep sign and
///    exponent): a normal `s` rounds down to a power of two, `f32::MAX`
///    becomes 2¹²⁷, and a subnormal `s` (impossible for `fp8_max ≥ 1`)
///    becomes 0.
///
/// `fp8_max` is meant to be the element's largest finite value (448 for
/// E4M3, 57344 for E5M2; see [`Fp8Element::max`]); other values go through
/// the same arithmetic. For an epsilon or another Inf replacement see
/// [`current_scale_with`].
///
/// ```
/// use blockscale::scale::fp8::current_scale;
/// assert_eq!(current_scale(2.0, 448.0, false), 224.0);
/// assert_eq!(current_scale(2.0, 448.0, true), 128.0);   // 224 = 1.75 · 2^7
/// assert_eq!(current_scale(0.0, 448.0, false), 1.0);
/// assert_eq!(current_scale(f32::NAN, 448.0, false), 1.0);
/// assert_eq!(current_scale(1e-38, 448.0, false), f32::MAX); // 448/amax overflows
/// assert_eq!(current_scale(1e-38, 448.0, true), 2f32.powi(127));
/// ```
pub fn current_scale(amax: f32, fp8_max: f32, power_of_two: bool) -> f32 {
    current_scale_with(
        amax,
        fp8_max,
        CurrentScaleOptions {
            power_of_two,
            ..Default::default()
        },
    )
}

/// [`current_scale`] with TE's full set of options: an amax floor
/// (`amax_epsilon`) and the value that replaces an infinite scale.
///
/// Exactly (TE `recipe_common.cuh` `compute_scale_from_amax`):
///
/// 1. if `amax < amax_epsilon`, `amax = amax_epsilon` (a NaN amax is not
///    less than anything and stays NaN);
/// 2. if `amax` is 0, ±Inf or NaN, return `1.0`;
/// 3. `s = f32(fp8_max / amax)`;
/// 4. if `s` is ±Inf, `s = value_for_inf`;
/// 5. if `power_of_two`, `s = f32::from_bits(s.to_bits() & 0xFF80_0000)`.
///
/// ```
/// use blockscale::scale::fp8::{current_scale_with, CurrentScaleOptions};
/// // Blockwise scaling of bf16 input: an overflowing scale becomes bf16's max.
/// let bf16_max = f32::from_bits(0x7F7F_0000);
/// let opts = CurrentScaleOptions { value_for_inf: bf16_max, ..Default::default() };
/// assert_eq!(current_scale_with(1e-38, 448.0, opts), bf16_max);
/// assert_eq!(current_scale_with(4.0, 448.0, opts), 112.0);
/// ```
pub fn current_scale_with(amax: f32, fp8_max: f32, opts: CurrentScaleOptions) -> f32 {
    let amax = if amax < opts.amax_epsilon {
        opts.amax_epsilon
    } else {
        amax
    };
    if amax == 0.0 || !amax.is_finite() {
        return 1.0;
    }
    let mut s = fp8_max / amax;
    if s.is_infinite() {
        s = opts.value_for_inf;
    }
    if opts.power_of_two {
        s = f32::from_bits(s.to_bits() & 0xFF80_0000);
    }
    s
}

/// The dequantization scale TE stores next to FP8 data: `f32(1/scale)`,
/// rounded to nearest even (TE `utils.cuh` `reciprocal<float>` =
/// `__frcp_rn`).
///
/// `scale_inv(0) = +Inf`, `scale_inv(f32::MAX) = 2⁻¹²⁸` (subnormal; the
/// exact value is 2⁻¹²⁸·(1 + 2⁻²⁴ + …), which rounds to 2⁻¹²⁸).
///
/// ```
/// use blockscale::scale::fp8::scale_inv;
/// assert_eq!(scale_inv(128.0), 0.0078125);
/// assert_eq!(scale_inv(f32::MAX), f32::from_bits(0x0020_0000)); // 2^-128
/// ```
pub fn scale_inv(scale: f32) -> f32 {
    1.0 / scale
}

/// An FP8 element format, as TE's recipes name them.
///
/// ```
/// use blockscale::scale::fp8::Fp8Element;
/// assert_eq!(Fp8Element::E4M3.max(), 448.0);
/// assert_eq!(Fp8Element::E5M2.max(), 57344.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fp8Element {
    /// [`E4M3`] ("fn": no Inf), largest finite value 448.
    E4M3,
    /// [`E5M2`], largest finite value 57344.
    E5M2,
}

impl Fp8Element {
    /// The largest finite value, the `fp8_max` of the scale rules: 448 for
    /// E4M3, 57344 for E5M2 (TE `delayed_scaling.cu` `fp8_dtype_max`; taken
    /// here from the crate's element codecs).
    pub const fn max(self) -> f32 {
        match self {
            Fp8Element::E4M3 => E4M3::MAX_F32,
            Fp8Element::E5M2 => E5M2::MAX_F32,
        }
    }
}

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
/// use blockscale::scale::fp8::{Fp8Element, Fp8Format};
/// let f = Fp8Format::Hybrid;
/// assert_eq!((f.forward(), f.backward()), (Fp8Element::E4M3, Fp8Element::E5M2));
/// assert_eq!((f.max_fwd(), f.max_bwd()), (448.0, 57344.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
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
    /// The element of forward-pass tensors (activations and weights).
    pub const fn forward(self) -> Fp8Element {
        match self {
            Fp8Format::E5M2 => Fp8Element::E5M2,
            Fp8Format::E4M3 | Fp8Format::Hybrid => Fp8Element::E4M3,
        }
    }

    /// The element of backward-pass tensors (gradients).
    pub const fn backward(self) -> Fp8Element {
        match self {
            Fp8Format::E4M3 => Fp8Element::E4M3,
            Fp8Format::E5M2 | Fp8Format::Hybrid => Fp8Element::E5M2,
        }
    }

    /// `self.forward().max()` (TE `Format.*.value.max_fwd`).
    pub const fn max_fwd(self) -> f32 {
        self.forward().max()
    }

    /// `self.backward().max()` (TE `Format.*.value.max_bwd`).
    pub const fn max_bwd(self) -> f32 {
        self.backward().max()
    }
}

/// Which amax of the history window a delayed scale is computed from (TE
/// `DelayedScaling.amax_compute_algo`).
///
/// ```
/// use blockscale::scale::fp8::AmaxCompute;
/// assert_eq!(AmaxCompute::default(), AmaxCompute::Max);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
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
/// use blockscale::scale::fp8::{AmaxCompute, DelayedScalingConfig};
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
    /// use blockscale::scale::fp8::{AmaxCompute, DelayedScalingConfig};
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
/// use blockscale::scale::fp8::{AmaxCompute, DelayedScaler, DelayedScalingConfig};
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
    scaled_max: f32,
    /// Oldest first; always `config.history_len` long.
    history: Vec<f32>,
    scale: f32,
}

impl DelayedScaler {
    /// A scaler at step 0: window all zeros, scale 1.0 (TE initializes
    /// `amax_history` to zeros and `scale` to ones).
    ///
    /// `fp8_max` is the element's largest finite value (see
    /// [`Fp8Element::max`], [`Fp8Format::max_fwd`]).
    ///
    /// Errors with [`Error::InvalidArgument`] if `config.history_len` is 0,
    /// if `fp8_max` is not finite and `> 0`, or if `f32(fp8_max · 2^-margin)`
    /// is 0 or infinite.
    ///
    /// ```
    /// use blockscale::scale::fp8::{DelayedScaler, DelayedScalingConfig, Fp8Format};
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
        let scaled_max = fp8_max * exp2_f32(-i64::from(config.margin));
        if !(scaled_max.is_finite() && scaled_max > 0.0) {
            return Err(Error::InvalidArgument(format!(
                "margin {} makes fp8_max · 2^-margin = {scaled_max}",
                config.margin
            )));
        }
        Ok(DelayedScaler {
            config,
            fp8_max,
            scaled_max,
            history: vec![0.0; config.history_len],
            scale: 1.0,
        })
    }

    /// The scale to quantize with at this step, computed from the amaxes
    /// recorded by earlier [`DelayedScaler::update`] calls only (1.0 before
    /// the first non-zero one).
    ///
    /// ```
    /// use blockscale::scale::fp8::{DelayedScaler, DelayedScalingConfig};
    /// let mut s = DelayedScaler::new(DelayedScalingConfig::MEGATRON, 448.0)?;
    /// s.update(7.0);
    /// assert_eq!(s.scale(), 64.0);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// [`scale_inv`] of [`DelayedScaler::scale`]: `f32(1/scale)`, what TE
    /// stores to dequantize this step's data.
    ///
    /// ```
    /// use blockscale::scale::fp8::{DelayedScaler, DelayedScalingConfig};
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
    /// use blockscale::scale::fp8::{AmaxCompute, DelayedScaler, DelayedScalingConfig};
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
        if chosen.is_finite() && chosen > 0.0 {
            let s = self.scaled_max / chosen;
            self.scale = if s.is_infinite() { f32::MAX } else { s };
        }
    }

    /// The window of the last `history_len` non-zero amaxes, oldest first;
    /// slots not yet filled hold 0 (as TE's zero-initialized history).
    ///
    /// ```
    /// use blockscale::scale::fp8::{AmaxCompute, DelayedScaler, DelayedScalingConfig};
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
    /// use blockscale::scale::fp8::{DelayedScaler, DelayedScalingConfig};
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
    ///
    /// ```
    /// use blockscale::scale::fp8::{DelayedScaler, DelayedScalingConfig};
    /// let s = DelayedScaler::new(DelayedScalingConfig::MEGATRON, 448.0)?;
    /// assert_eq!(s.config().history_len, 1);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn config(&self) -> &DelayedScalingConfig {
        &self.config
    }

    /// The FP8 maximum the scale maps amaxes to (before the margin).
    ///
    /// ```
    /// use blockscale::scale::fp8::{DelayedScaler, DelayedScalingConfig, Fp8Element};
    /// let s = DelayedScaler::new(DelayedScalingConfig::MEGATRON, Fp8Element::E4M3.max())?;
    /// assert_eq!(s.fp8_max(), 448.0);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn fp8_max(&self) -> f32 {
        self.fp8_max
    }
}

#[cfg(test)]
mod tests {
    use super::exp2_f32;

    #[test]
    fn exp2_matches_powf_rounding() {
        assert_eq!(exp2_f32(0), 1.0);
        assert_eq!(exp2_f32(127), 1.7014118e38);
        assert_eq!(exp2_f32(128), f32::INFINITY);
        assert_eq!(exp2_f32(-126), f32::MIN_POSITIVE);
        assert_eq!(exp2_f32(-149), f32::from_bits(1));
        assert_eq!(exp2_f32(-150), 0.0);
    }
}
