//! NVFP4's two-level scaling: an FP32 per-tensor scale from the tensor amax
//! and an E4M3 scale per 16 elements, as each producer computes them
//! ([SEMANTICS.md](crate::contract) §3; arXiv 2509.25149 App. B).

use super::ElementMap;
use crate::element::ConvertOptions;
use crate::{E2M1, E4M3};

/// Whose NVFP4 bytes to reproduce. The producers agree on the idea and
/// differ in operation order, so their bytes differ near ties.
///
/// With A the tensor amax, a_b the block amax, every operation rounded to
/// f32:
///
/// | profile | block scale s_b (E4M3, RNE, satfinite) | element q = E2M1(·) | dequant factor |
/// |---|---|---|---|
/// | `TransformerEngine` | a_b · (S_enc · (1/6)), S_enc = 2688/A | x · min(1/(s_b · (1/S_enc)), FLT_MAX) | (s_b · A) · (1/2688) |
/// | `ModelOptimizer` | a_b / (6 · w), w = A/2688; 0 → 1 | x / (s_b · w) | s_b · w |
/// | `TorchAo` | clamp((a_b/6) / w, 2⁻⁶, 448) | x · ((1/w) / s_b) | s_b · w |
/// | `Jax` | clip((a_b/w)/6, 0, 448) | (x/w) / s_b, ml_dtypes cast | s_b · w |
///
/// Sources: Transformer Engine `core_nvfp4.cuh` and
/// `pytorch/custom_recipes/reference_nvfp4.py`; Model-Optimizer
/// `qtensor/nvfp4_tensor.py`; torchao `NVFP4Tensor`; JAX
/// `cudnn/scaled_matmul_stablehlo.py::quantize`.
///
/// Special cases: S_enc is 1 when A is 0 or +Inf or 2688/A underflows, and
/// f32::MAX when 2688/A overflows; a NaN A gives NaN (Transformer Engine's
/// fused kernel and Python reference; its unfused kernel gives f32::MAX). A
/// zero block gets s_b = 0 and all-zero elements under Transformer Engine,
/// s_b = 1 (Model-Optimizer) or 2⁻⁶ (torchao) and zero elements, and −0
/// elements under JAX (its 0/0 is NaN, which the ml_dtypes cast makes −0).
/// A tensor of f32 subnormals so small that w = A/2688 underflows to 0
/// (A below about 2688 · 2⁻¹⁴⁹ ≈ 3.8e-42) makes torchao's (a_b/6)/w a 0/0
/// or x/0: a nonzero block there gets a NaN scale and NaN values, as torchao
/// computes it (found by the `quantize` fuzz target).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Nvfp4Profile {
    /// NVIDIA Transformer Engine (the default).
    #[default]
    TransformerEngine,
    /// NVIDIA Model-Optimizer's export (read by vLLM and TensorRT-LLM).
    ModelOptimizer,
    /// torchao's `NVFP4Tensor`.
    TorchAo,
    /// JAX's cuDNN scaled-matmul quantizer.
    Jax,
}

impl Nvfp4Profile {
    /// Every profile.
    pub const ALL: &'static [Nvfp4Profile] = &[
        Nvfp4Profile::TransformerEngine,
        Nvfp4Profile::ModelOptimizer,
        Nvfp4Profile::TorchAo,
        Nvfp4Profile::Jax,
    ];

    /// The short name the command line and format identifiers use:
    /// `te`, `modelopt`, `torchao`, `jax`.
    ///
    /// ```
    /// use blockscale::scale::nvfp4::Nvfp4Profile;
    /// assert_eq!(Nvfp4Profile::ModelOptimizer.name(), "modelopt");
    /// assert!(Nvfp4Profile::ALL.iter().all(|p| Nvfp4Profile::from_name(p.name()) == Some(*p)));
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Nvfp4Profile::TransformerEngine => "te",
            Nvfp4Profile::ModelOptimizer => "modelopt",
            Nvfp4Profile::TorchAo => "torchao",
            Nvfp4Profile::Jax => "jax",
        }
    }

    /// The profile with short name `name`, if any.
    pub fn from_name(name: &str) -> Option<Nvfp4Profile> {
        Nvfp4Profile::ALL.iter().copied().find(|p| p.name() == name)
    }
}

/// 448 · 6: the largest E4M3 scale times the largest E2M1 value.
pub const NVFP4_RANGE: f32 = 2688.0;

/// Per-tensor quantities of NVFP4, derived once from the tensor amax.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Nvfp4Global {
    /// The tensor amax A (computed, or supplied by the caller).
    pub amax: f32,
    /// Transformer Engine's encode scale S_enc = 2688/A (with its special cases).
    pub s_enc: f32,
    /// S_dec = 1/S_enc.
    pub s_dec: f32,
    /// Model-Optimizer's `weight_scale_2` (and torchao's, JAX's global scale) w = A/2688.
    pub w: f32,
}

impl Nvfp4Global {
    /// The per-tensor quantities for amax `amax`.
    ///
    /// ```
    /// use blockscale::scale::nvfp4::Nvfp4Global;
    /// let g = Nvfp4Global::new(5376.0);
    /// assert_eq!((g.s_enc, g.s_dec, g.w), (0.5, 2.0, 2.0));
    /// assert_eq!(Nvfp4Global::new(0.0).s_enc, 1.0);
    /// ```
    pub fn new(amax: f32) -> Self {
        let s_enc = if amax.is_nan() {
            f32::NAN
        } else {
            let s = (NVFP4_RANGE / amax).min(f32::MAX);
            if amax == 0.0 || s == 0.0 { 1.0 } else { s }
        };
        Nvfp4Global {
            amax,
            s_enc,
            s_dec: 1.0 / s_enc,
            w: amax / NVFP4_RANGE,
        }
    }
}

fn e4m3_satfinite(x: f32) -> E4M3 {
    E4M3::from_f32_with(x, ConvertOptions::SATFINITE)
}

/// The E4M3 block scale, the map applied to each element before E2M1
/// rounding, and the dequantization factor, for a block of amax `a_b`.
///
/// ```
/// use blockscale::scale::nvfp4::{block_scale, Nvfp4Global, Nvfp4Profile};
/// // A = 2688 makes S_enc = 1: a block of amax 6 gets s_b = 1.
/// let g = Nvfp4Global::new(2688.0);
/// let (s_b, _, dequant) = block_scale(Nvfp4Profile::TransformerEngine, 6.0, &g);
/// assert_eq!((s_b.to_f32(), dequant), (1.0, 1.0));
/// ```
pub fn block_scale(profile: Nvfp4Profile, a_b: f32, g: &Nvfp4Global) -> (E4M3, ElementMap, f32) {
    match profile {
        Nvfp4Profile::TransformerEngine => {
            let s_b = e4m3_satfinite(a_b * (g.s_enc * (1.0 / 6.0)));
            let e_b = (1.0 / (s_b.to_f32() * g.s_dec)).min(f32::MAX);
            let dequant = (s_b.to_f32() * g.amax) * (1.0 / NVFP4_RANGE);
            (s_b, ElementMap::Mul(e_b), dequant)
        }
        Nvfp4Profile::ModelOptimizer => {
            let s = e4m3_satfinite(a_b / (6.0 * g.w));
            let s_b = if s.to_f32() == 0.0 || s.is_nan() {
                E4M3::ONE
            } else {
                s
            };
            let d = s_b.to_f32() * g.w;
            (s_b, divide_or_zero(d), d)
        }
        Nvfp4Profile::TorchAo => {
            let scaled = ((a_b / 6.0) / g.w).clamp(0.015625, 448.0);
            // clamp keeps NaN (0/0 for an all-zero tensor); torch.clamp does too,
            // but a zero tensor should quantize to zeros: take the floor.
            let s_b = e4m3_satfinite(if scaled.is_nan() && a_b == 0.0 {
                0.015625 // 2^-6
            } else {
                scaled
            });
            let m = (1.0 / g.w) / s_b.to_f32();
            let map = if m.is_finite() {
                ElementMap::Mul(m)
            } else {
                ElementMap::Zero(E2M1::ZERO.to_bits())
            };
            (s_b, map, s_b.to_f32() * g.w)
        }
        Nvfp4Profile::Jax => {
            // A zero block is 0/w = 0 (and 0/0 when the whole tensor is zero).
            let scaled = if a_b == 0.0 {
                0.0
            } else {
                ((a_b / g.w) / 6.0).clamp(0.0, 448.0)
            };
            let s_b = e4m3_satfinite(scaled);
            let map = if s_b.to_f32() == 0.0 {
                ElementMap::Zero(E2M1::NEG_ZERO.to_bits())
            } else {
                ElementMap::DivDiv(g.w, s_b.to_f32())
            };
            (s_b, map, s_b.to_f32() * g.w)
        }
    }
}

fn divide_or_zero(d: f32) -> ElementMap {
    if d == 0.0 {
        ElementMap::Zero(0)
    } else {
        ElementMap::Div(d)
    }
}

/// The element conversion each profile uses: satfinite (NaN → +6) except
/// JAX, which casts with ml_dtypes semantics (NaN → −0).
pub fn element_options(profile: Nvfp4Profile) -> ConvertOptions {
    match profile {
        Nvfp4Profile::Jax => ConvertOptions::ML_DTYPES,
        _ => ConvertOptions::SATFINITE,
    }
}
