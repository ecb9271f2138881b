//! FP8 with FP32 scales: one per tensor (current or delayed scaling) or one
//! per block (1×128, 128×128 or any tile).

use super::{BlockFormat, BlockShape, FormatId};
use crate::element::CastRule;
use crate::element::ElementKind;
use crate::prelude::*;
use crate::scale::ElementMap;
use crate::scale::fp8::{Fp8Profile, fp8_scale};
use crate::{Element, Error};
use core::marker::PhantomData;

/// Per-tensor quantities of per-tensor FP8 scaling.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fp8Global {
    /// The tensor amax.
    pub amax: f32,
    /// The scale s: `q = T(f32(x · s))` for the profiles that multiply;
    /// for those that divide by the stored factor (Model-Optimizer,
    /// compressed-tensors), `f32(1/scale_inv)`.
    pub scale: f32,
    /// The stored dequantization factor: `f32(1/s)` for Transformer
    /// Engine and torchao, the divisor for the others.
    pub scale_inv: f32,
}

/// FP8 per-tensor scaling ([SEMANTICS.md](crate::contract) §4), element `T` = [`crate::E4M3`] or
/// [`crate::E5M2`].
///
/// With `scale: None` this is **current** (tensorwise) scaling:
/// `s = `[`current_scale`](crate::scale::fp8::current_scale)`(amax, T::MAX, power_of_two)`. With
/// `scale: Some(s)` the caller supplies s, as **delayed** scaling does
/// (take it from a [`crate::recipe::DelayedScaler`], which derives the
/// scale of step t from the amaxes of steps before t). Elements are
/// `T(f32(x · s))` rounded to nearest even and saturated; the one stored
/// scale is `f32(1/s)`. Another producer's arithmetic is chosen with
/// [`Self::profile`] (see [`Fp8Profile`]: `fp8,profile=modelopt`,
/// `torchao`, `compressed-tensors`); a fixed scale and `pow2` are
/// Transformer Engine's options.
///
/// ```
/// use blockscale::format::Fp8Tensorwise;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// use blockscale::E4M3;
/// let x = [1.0f32, -2.0, 0.5, 0.25];
/// let q = QuantizedTensor::quantize(Fp8Tensorwise::<E4M3>::current(), &x, 1, 4, &QuantizeOptions::default())?;
/// assert_eq!(q.scales(), &[2.0 / 448.0]);      // s = 448 / amax = 224
/// assert_eq!(q.dequantize(), vec![1.0, -2.0, 0.5, 0.25]);
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Debug, PartialEq)]
pub struct Fp8Tensorwise<T> {
    /// Round the current scale down to a power of two.
    pub power_of_two: bool,
    /// A fixed scale (delayed scaling); `None` computes it from the amax.
    pub scale: Option<f32>,
    /// Whose current-scaling arithmetic to reproduce.
    pub profile: Fp8Profile,
    _elem: PhantomData<fn() -> T>,
}

impl<T> Clone for Fp8Tensorwise<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Fp8Tensorwise<T> {}

impl<T> Fp8Tensorwise<T> {
    /// Current scaling: the scale comes from this tensor's amax.
    pub const fn current() -> Self {
        Fp8Tensorwise {
            power_of_two: false,
            scale: None,
            profile: Fp8Profile::TransformerEngine,
            _elem: PhantomData,
        }
    }
    /// A caller-supplied scale (delayed scaling).
    pub const fn with_scale(scale: f32) -> Self {
        Fp8Tensorwise {
            power_of_two: false,
            scale: Some(scale),
            profile: Fp8Profile::TransformerEngine,
            _elem: PhantomData,
        }
    }
    /// Current scaling with `profile`'s arithmetic.
    ///
    /// ```
    /// use blockscale::format::{BlockFormat, Fp8Tensorwise};
    /// use blockscale::scale::fp8::Fp8Profile;
    /// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
    /// use blockscale::E4M3;
    /// let f = Fp8Tensorwise::<E4M3>::with_profile(Fp8Profile::ModelOptimizer);
    /// assert_eq!(f.id().to_string(), "fp8,profile=modelopt");
    /// let q = QuantizedTensor::quantize(f, &[0.0f32; 4], 1, 4, &QuantizeOptions::default())?;
    /// assert_eq!(q.scales(), &[1.0]); // an amax of 0 is exported as 448
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub const fn with_profile(profile: Fp8Profile) -> Self {
        Fp8Tensorwise {
            profile,
            ..Self::current()
        }
    }
}

impl<T: Element> Fp8Tensorwise<T> {
    /// The profile writes this element, and has the options set.
    fn check_profile(&self) -> Result<(), Error> {
        check_profile::<T>(&self.name(), self.profile, true, self.power_of_two)?;
        if self.scale.is_some() && self.profile != Fp8Profile::TransformerEngine {
            return Err(Error::InvalidArgument(format!(
                "{}: a fixed scale is Transformer Engine's delayed scaling, not profile {}'s",
                self.name(),
                self.profile.name()
            )));
        }
        Ok(())
    }
    /// The stored factor and element map of a tensor of amax `amax`.
    fn scale_and_map(&self, amax: f32) -> (f32, ElementMap) {
        match self.scale {
            Some(s) => (1.0 / s, ElementMap::Mul(s)),
            None => fp8_scale::<T>(self.profile, amax, self.power_of_two, true),
        }
    }
}

impl<T> Default for Fp8Tensorwise<T> {
    fn default() -> Self {
        Self::current()
    }
}

impl<T: Element> BlockFormat for Fp8Tensorwise<T> {
    type Elem = T;
    type Scale = f32;
    type Global = Fp8Global;

    fn name(&self) -> String {
        format!("FP8-{}-tensorwise", T::NAME)
    }
    fn id(&self) -> FormatId {
        let mut id = FormatId::new(&family("fp8", T::KIND));
        if self.power_of_two {
            id = id.with("pow2", "true");
        }
        if let Some(s) = self.scale {
            id = id.with("scale", &format!("{s:e}"));
        }
        if self.profile != Fp8Profile::default() {
            id = id.with("profile", self.profile.name());
        }
        id
    }
    fn from_id(id: &FormatId) -> Result<Self, Error> {
        id.expect(&family("fp8", T::KIND), &["pow2", "scale", "profile"])?;
        let f = Fp8Tensorwise {
            power_of_two: id.flag("pow2", false)?,
            scale: id.value("scale")?,
            profile: profile(id)?,
            _elem: PhantomData,
        };
        f.check_profile().map_err(|e| in_id(id, e))?;
        Ok(f)
    }
    fn block(&self) -> BlockShape {
        BlockShape::Tensor
    }
    fn has_global_scale(&self) -> bool {
        true
    }
    fn scale_rule(&self) -> String {
        match self.scale {
            Some(s) => format!("fixed scale {s} (delayed scaling)"),
            None => format!(
                "current scaling ({} arithmetic), power of two: {}",
                self.profile.name(),
                self.power_of_two
            ),
        }
    }
    fn validate(&self) -> Result<(), Error> {
        self.check_profile()?;
        match self.scale {
            // 1/scale is the stored dequantization factor: it must be finite too.
            Some(s) if !(s > 0.0 && s.is_finite() && (1.0 / s).is_finite()) => {
                Err(Error::InvalidArgument(format!(
                    "{}: the fixed scale {s:e} is not a positive finite number with a finite inverse",
                    self.name()
                )))
            }
            _ => Ok(()),
        }
    }
    fn global(&self, amax: f32) -> Fp8Global {
        let (scale_inv, map) = self.scale_and_map(amax);
        let scale = match map {
            ElementMap::Mul(s) => s,
            _ => 1.0 / scale_inv,
        };
        Fp8Global {
            amax,
            scale,
            scale_inv,
        }
    }
    fn block_scale(&self, _block_amax: f32, g: &Fp8Global) -> (f32, ElementMap, f32) {
        // One block, the tensor: its map follows from the tensor amax.
        let (scale_inv, map) = self.scale_and_map(g.amax);
        (scale_inv, map, scale_inv)
    }
    fn element_cast(&self) -> CastRule {
        self.profile.element_cast()
    }
    fn dequant_factor(&self, s: f32, _g: &Fp8Global) -> f32 {
        s
    }
    fn global_amax(&self, g: &Fp8Global) -> Option<f32> {
        Some(g.amax)
    }
    fn tensor_alpha(&self, _g: &Fp8Global) -> f32 {
        1.0
    }
}

/// FP8 blockwise ("DeepSeek", subchannel) scaling (Transformer Engine
/// `Float8BlockScaling`; [SEMANTICS.md](crate::contract) §4): each `rows × cols` tile has its
/// own FP32 scale `s_b = `[`current_scale`](crate::scale::fp8::current_scale)`(a_b, T::MAX, power_of_two)`,
/// power of two by default; elements are `T(f32(x · s_b))`, nearest even,
/// saturated; the stored scale is `f32(1/s_b)`.
///
/// 1×128 for activations and gradients ([`Fp8Blockwise::ACTIVATIONS`]),
/// 128×128 for weights ([`Fp8Blockwise::WEIGHTS`]), or any tile.
/// Another producer's arithmetic is chosen with [`Self::profile`] (see
/// [`Fp8Profile`]: `fp8-block,profile=deepgemm`, `torchao`,
/// `compressed-tensors`).
///
/// ```
/// use blockscale::format::Fp8Blockwise;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x: Vec<f32> = (0..256).map(|i| if i < 128 { 1.0 } else { 100.0 }).collect();
/// let q = QuantizedTensor::quantize(Fp8Blockwise::<blockscale::E4M3>::ACTIVATIONS, &x, 1, 256, &QuantizeOptions::default())?;
/// // 448/1 → 256 and 448/100 → 4 after rounding down to powers of two.
/// assert_eq!(q.scales(), &[1.0 / 256.0, 1.0 / 4.0]);
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Debug, PartialEq)]
pub struct Fp8Blockwise<T> {
    /// Tile rows.
    pub rows: usize,
    /// Tile columns.
    pub cols: usize,
    /// Round each scale to a power of two (the default): down, as
    /// Transformer Engine's scale, so the stored `1/s` goes up; DeepGEMM
    /// rounds its stored factor up.
    pub power_of_two: bool,
    /// Whose blockwise arithmetic to reproduce.
    pub profile: Fp8Profile,
    _elem: PhantomData<fn() -> T>,
}

impl<T> Clone for Fp8Blockwise<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Fp8Blockwise<T> {}

impl<T> Fp8Blockwise<T> {
    /// 1×128 tiles, power-of-two scales (activations and gradients).
    pub const ACTIVATIONS: Self = Self::new(1, 128);
    /// 128×128 tiles, power-of-two scales (weights).
    pub const WEIGHTS: Self = Self::new(128, 128);

    /// `rows × cols` tiles with power-of-two scales.
    pub const fn new(rows: usize, cols: usize) -> Self {
        Fp8Blockwise {
            rows,
            cols,
            power_of_two: true,
            profile: Fp8Profile::TransformerEngine,
            _elem: PhantomData,
        }
    }

    /// This tile shape with `profile`'s arithmetic and its power-of-two
    /// default.
    ///
    /// ```
    /// use blockscale::format::{BlockFormat, Fp8Blockwise};
    /// use blockscale::scale::fp8::Fp8Profile;
    /// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
    /// use blockscale::E4M3;
    /// let f = Fp8Blockwise::<E4M3>::ACTIVATIONS.with_profile(Fp8Profile::DeepGemm);
    /// assert_eq!(f.id().to_string(), "fp8-block,profile=deepgemm");
    /// let x: Vec<f32> = (0..128).map(|i| i as f32 / 127.0).collect(); // amax 1
    /// let q = QuantizedTensor::quantize(f, &x, 1, 128, &QuantizeOptions::default())?;
    /// assert_eq!(q.scales(), &[1.0 / 256.0]); // 1/448 rounded up to 2^-8
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub const fn with_profile(self, profile: Fp8Profile) -> Self {
        Fp8Blockwise {
            profile,
            power_of_two: profile.block_power_of_two(),
            ..self
        }
    }
}

impl<T: Element> Fp8Blockwise<T> {
    /// The profile writes this element, and has the options set.
    fn check_profile(&self) -> Result<(), Error> {
        check_profile::<T>(&self.name(), self.profile, false, self.power_of_two)
    }
}

impl<T> Default for Fp8Blockwise<T> {
    fn default() -> Self {
        Self::ACTIVATIONS
    }
}

impl<T: Element> BlockFormat for Fp8Blockwise<T> {
    type Elem = T;
    type Scale = f32;
    type Global = ();

    fn name(&self) -> String {
        format!("FP8-{}-block{}x{}", T::NAME, self.rows, self.cols)
    }
    fn id(&self) -> FormatId {
        let mut id = FormatId::new(&family("fp8-block", T::KIND));
        match (self.rows, self.cols) {
            (1, 128) => {}
            (128, 128) => id = id.with("2d", "true"),
            (r, c) => id = id.with("block", &format!("{r}x{c}")),
        }
        if self.power_of_two != self.profile.block_power_of_two() {
            id = id.with("pow2", &self.power_of_two.to_string());
        }
        if self.profile != Fp8Profile::default() {
            id = id.with("profile", self.profile.name());
        }
        id
    }
    fn from_id(id: &FormatId) -> Result<Self, Error> {
        id.expect(
            &family("fp8-block", T::KIND),
            &["2d", "block", "pow2", "profile"],
        )?;
        let (rows, cols) = match (super::two_d(id)?, id.option("block")) {
            (true, Some(_)) => {
                return Err(Error::InvalidArgument(format!(
                    "format '{id}': 2d and block= are two tile sizes"
                )));
            }
            (true, None) => (128, 128),
            (false, None) => (1, 128),
            (false, Some(b)) => b
                .split_once('x')
                .and_then(|(r, c)| Some((r.parse().ok()?, c.parse().ok()?)))
                .ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "format '{id}': block is ROWSxCOLS, such as 1x128, not '{b}'"
                    ))
                })?,
        };
        let profile = profile(id)?;
        let f = Fp8Blockwise {
            rows,
            cols,
            power_of_two: id.flag("pow2", profile.block_power_of_two())?,
            profile,
            _elem: PhantomData,
        };
        f.check_profile().map_err(|e| in_id(id, e))?;
        Ok(f)
    }
    fn block(&self) -> BlockShape {
        BlockShape::Tile {
            rows: self.rows,
            cols: self.cols,
        }
    }
    fn has_global_scale(&self) -> bool {
        false
    }
    fn scale_rule(&self) -> String {
        format!(
            "per-block current scaling ({} arithmetic), power of two: {}",
            self.profile.name(),
            self.power_of_two
        )
    }
    fn validate(&self) -> Result<(), Error> {
        super::check_tile(self.rows, self.cols)?;
        self.check_profile()
    }
    fn global(&self, _amax: f32) {}
    fn block_scale(&self, block_amax: f32, _g: &()) -> (f32, ElementMap, f32) {
        let (d, map) = fp8_scale::<T>(self.profile, block_amax, self.power_of_two, false);
        (d, map, d)
    }
    fn element_cast(&self) -> CastRule {
        self.profile.element_cast()
    }
    fn dequant_factor(&self, s: f32, _g: &()) -> f32 {
        s
    }
    fn global_amax(&self, _g: &()) -> Option<f32> {
        None
    }
    fn tensor_alpha(&self, _g: &()) -> f32 {
        1.0
    }
}

/// Option `profile` of a format identifier (Transformer Engine's by default).
fn profile(id: &FormatId) -> Result<Fp8Profile, Error> {
    let profiles: Vec<_> = Fp8Profile::ALL.iter().map(|&p| (p.name(), p)).collect();
    Ok(id.choice("profile", &profiles)?.unwrap_or_default())
}

/// An argument error of a format, placed in the identifier it came from.
fn in_id(id: &FormatId, e: Error) -> Error {
    match e {
        Error::InvalidArgument(m) => Error::InvalidArgument(format!("format '{id}': {m}")),
        e => e,
    }
}

/// Checks that `profile` writes this granularity and element, and offers
/// the power-of-two option if it is set.
fn check_profile<T: Element>(
    name: &str,
    profile: Fp8Profile,
    per_tensor: bool,
    power_of_two: bool,
) -> Result<(), Error> {
    let p = profile.name();
    let what = if per_tensor {
        "per-tensor"
    } else {
        "blockwise"
    };
    if !profile.writes(per_tensor) {
        return Err(Error::InvalidArgument(format!(
            "{name}: profile {p} has no {what} FP8 format"
        )));
    }
    if profile != Fp8Profile::TransformerEngine && T::KIND != ElementKind::E4M3 {
        return Err(Error::InvalidArgument(format!(
            "{name}: profile {p} writes E4M3 elements, not {}",
            T::NAME
        )));
    }
    if power_of_two && !profile.has_power_of_two(per_tensor) {
        return Err(Error::InvalidArgument(format!(
            "{name}: profile {p} has no power-of-two {what} scales"
        )));
    }
    Ok(())
}

/// The family keyword of an FP8-scaled format: `base` for E4M3 (the
/// default element), `base-e5m2` and so on for the others.
fn family(base: &str, kind: ElementKind) -> String {
    match kind {
        ElementKind::E4M3 => base.to_string(),
        k => format!("{base}-{}", k.name().to_ascii_lowercase()),
    }
}
