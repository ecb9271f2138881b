//! FP8 with FP32 scales: one per tensor (current or delayed scaling) or one
//! per block (1×128, 128×128 or any tile).

use super::{BlockFormat, BlockShape, FormatId};
use crate::element::ElementKind;
use crate::prelude::*;
use crate::scale::ElementMap;
use crate::scale::fp8::current_scale;
use crate::{Element, Error};
use core::marker::PhantomData;

/// Per-tensor quantities of per-tensor FP8 scaling.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fp8Global {
    /// The tensor amax.
    pub amax: f32,
    /// The scale s: `q = T(f32(x · s))`.
    pub scale: f32,
    /// `f32(1/s)`, what Transformer Engine stores and dequantizes with.
    pub scale_inv: f32,
}

/// FP8 per-tensor scaling ([SEMANTICS.md](crate::contract) §4), element `T` = [`crate::E4M3`] or
/// [`crate::E5M2`].
///
/// With `scale: None` this is **current** (tensorwise) scaling:
/// `s = `[`current_scale`]`(amax, T::MAX, power_of_two)`. With
/// `scale: Some(s)` the caller supplies s, as **delayed** scaling does
/// (take it from a [`crate::recipe::DelayedScaler`], which derives the
/// scale of step t from the amaxes of steps before t). Elements are
/// `T(f32(x · s))` rounded to nearest even and saturated; the one stored
/// scale is `f32(1/s)`.
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
            _elem: PhantomData,
        }
    }
    /// A caller-supplied scale (delayed scaling).
    pub const fn with_scale(scale: f32) -> Self {
        Fp8Tensorwise {
            power_of_two: false,
            scale: Some(scale),
            _elem: PhantomData,
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
        id
    }
    fn from_id(id: &FormatId) -> Result<Self, Error> {
        id.expect(&family("fp8", T::KIND), &["pow2", "scale"])?;
        Ok(Fp8Tensorwise {
            power_of_two: id.flag("pow2", false)?,
            scale: id.value("scale")?,
            _elem: PhantomData,
        })
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
            None => format!("current scaling, power of two: {}", self.power_of_two),
        }
    }
    fn validate(&self) -> Result<(), Error> {
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
        let scale = self
            .scale
            .unwrap_or_else(|| current_scale(amax, T::MAX_F32, self.power_of_two));
        Fp8Global {
            amax,
            scale,
            scale_inv: 1.0 / scale,
        }
    }
    fn block_scale(&self, _block_amax: f32, g: &Fp8Global) -> (f32, ElementMap, f32) {
        (g.scale_inv, ElementMap::Mul(g.scale), g.scale_inv)
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
/// own FP32 scale `s_b = `[`current_scale`]`(a_b, T::MAX, power_of_two)`,
/// power of two by default; elements are `T(f32(x · s_b))`, nearest even,
/// saturated; the stored scale is `f32(1/s_b)`.
///
/// 1×128 for activations and gradients ([`Fp8Blockwise::ACTIVATIONS`]),
/// 128×128 for weights ([`Fp8Blockwise::WEIGHTS`]), or any tile.
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
    /// Round each scale down to a power of two (the default).
    pub power_of_two: bool,
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
            _elem: PhantomData,
        }
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
        if !self.power_of_two {
            id = id.with("pow2", "false");
        }
        id
    }
    fn from_id(id: &FormatId) -> Result<Self, Error> {
        id.expect(&family("fp8-block", T::KIND), &["2d", "block", "pow2"])?;
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
        Ok(Fp8Blockwise {
            rows,
            cols,
            power_of_two: id.flag("pow2", true)?,
            _elem: PhantomData,
        })
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
            "per-block current scaling, power of two: {}",
            self.power_of_two
        )
    }
    fn validate(&self) -> Result<(), Error> {
        super::check_tile(self.rows, self.cols)
    }
    fn global(&self, _amax: f32) {}
    fn block_scale(&self, block_amax: f32, _g: &()) -> (f32, ElementMap, f32) {
        let s = current_scale(block_amax, T::MAX_F32, self.power_of_two);
        let inv = 1.0 / s;
        (inv, ElementMap::Mul(s), inv)
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

/// The family keyword of an FP8-scaled format: `base` for E4M3 (the
/// default element), `base-e5m2` and so on for the others.
fn family(base: &str, kind: ElementKind) -> String {
    match kind {
        ElementKind::E4M3 => base.to_string(),
        k => format!("{base}-{}", k.name().to_ascii_lowercase()),
    }
}
