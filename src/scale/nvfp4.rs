//! NVFP4's two-level scaling: an FP32 per-tensor scale from the tensor amax
//! and an E4M3 scale per 16 elements, as each producer computes them
//! ([SEMANTICS.md](crate::contract) §3; arXiv 2509.25149 App. B).

use super::ElementMap;
use crate::E4M3;
use crate::element::{CastRule, ConvertOptions, NanToFinite, ZeroSign, flush_subnormal as ftz};

/// Whose NVFP4 bytes to reproduce. The producers agree on the idea and
/// differ in operation order, clamps, zero handling and element casts, so
/// their bytes differ near ties and in the corners (zero, tiny and
/// subnormal blocks).
///
/// With A the tensor amax, a_b the block amax, f(·) one rounding to f32:
///
/// | profile | block scale s_b (E4M3, nearest even) | element q = E2M1(·) | dequant factor |
/// |---|---|---|---|
/// | `TransformerEngine` | a_b · (S_enc · (1/6)), S_enc = 2688/A | x · min(1/(s_b · (1/S_enc)), FLT_MAX) | (s_b · A) · (1/2688) |
/// | `ModelOptimizer` (≥ 0.45) | clamp(a_b / (6 · w), 2⁻⁹, 448), w = A/2688; 0 → 1 before the clamp | x / (s_b · w) | s_b · w |
/// | `ModelOptimizerLegacy` (0.35–0.44) | a_b / (6 · w); an f32 0 → 1 | x / (s_b · w) | s_b · w |
/// | `TorchAo` | clamp((a_b/6) / w, 2⁻⁶, 448) | x · ((1/w) / s_b) | s_b · w |
/// | `Jax` | clip((a_b · c) · f(1/6), 0, 448), c = f(1/w) | x · f(f(1/s_b) · c), subnormals flushed | s_b · w |
/// | `CompressedTensors` | g · (a_b/6), g = f(1/A) · 2688 | x / (s_b / g); s_b = 0 → 0.125 | s_b / g |
/// | `Cutlass` | a_b · (S_enc · (1/6)), S_enc = 2688/A | x · min(S_enc · (1/s_b), FLT_MAX), NaN kept | s_b / S_enc |
///
/// Sources, read for the operation order and checked against the
/// producers' own bytes on CPU (`tests/producer_corners.rs`, from
/// `tests/producers/gen_corners.py`):
/// - Transformer Engine `common/cast/nvfp4/core_nvfp4.cuh`
///   (`compute_decoding_scaling_factor`) and
///   `pytorch/custom_recipes/reference_nvfp4.py`.
/// - Model-Optimizer 0.47 `torch/quantization/qtensor/nvfp4_tensor.py`:
///   `get_weights_scaling_factor` (`per_block_amax / (6 · wsf2)`, then
///   `per_block_scale[per_block_scale == 0] = 1.0`), then
///   `_cast_per_block_scale_to_fp8` (`clamp(min=2**-9, max=448)` before
///   `.to(float8_e4m3fn)`); `quantize` divides by `(s_b.float() * wsf2)`
///   and `_cast_fp4` takes the sign from `x < 0`, so −0 gives +0. The clamp
///   came with 0.45.0; 0.35–0.44 (`ModelOptimizerLegacy`) cast without it,
///   so a block whose scale underflows E4M3 stores 0x00 and its elements
///   divide by 0 (±6; 0/0 gives NaN, +6).
/// - torchao 0.18 `prototype/mx_formats/nvfp4_tensor.py` (`nvfp4_quantize`,
///   `per_tensor_amax_to_scale`): the clamp's floor is
///   `finfo(float8_e4m3fn).tiny` = 2⁻⁶.
/// - JAX 0.10 `_src/cudnn/scaled_matmul_stablehlo.py::quantize` as XLA
///   compiles it for CPU under `jit`: `x / w` and `x / s_b` become
///   multiplications by folded reciprocals, reassociated as x · f(r · c);
///   denormals are flushed (inputs, amaxes and w), and the E2M1 convert
///   turns NaN into −0.
/// - compressed-tensors 0.20 `quantization/utils/helpers.py`
///   (`generate_gparam`: `2688 / amax` evaluated as `amax.reciprocal() *
///   2688`, amax at least `finfo(float32).tiny`, non-finite → 1) and
///   `calculate_qparams` (`where(scales == 0, 0.125)`); `_quantize`
///   divides by `s_b / g`; the stored `weight_global_scale` is g.
/// - CUTLASS 4 block-scaled GEMM output (the SM100/SM120 epilogue fusions
///   `LinCombBlockScaleFactor` and their host reference
///   `compute_1d_scaling_factor_and_quantized_output` in
///   `tools/util/include/cutlass/util/reference/host/gett.hpp`): the norm
///   constant (the output's encode scale) is S_enc; the scale's reciprocal
///   is taken first and then multiplied by it, and a NaN multiplier stays
///   NaN (`minimum_with_nan_propagation`). The GPU's reciprocal of the
///   block scale is `rcp.approx.ftz`, which the host reference, and this
///   profile, compute exactly.
///
/// Special cases. Transformer Engine: S_enc is 1 when A is 0 or +Inf or
/// 2688/A underflows, and f32::MAX when 2688/A overflows; a NaN A gives
/// NaN; a zero block gets s_b = 0 and zero elements. The other producers
/// compute what their arithmetic gives, and the crate follows it: an
/// all-zero tensor (A = 0) is 0/0 for Model-Optimizer and torchao, NaN
/// block scales (0xFF: a CPU's 0/0 is the x86 default NaN, whose sign bit
/// is set) and +6 elements (Model-Optimizer) ; JAX gives 0x7F scales and
/// −0 elements. A tensor so small that w is subnormal makes torchao's 1/w
/// infinite, so its elements saturate to ±6, and JAX's w zero.
/// compressed-tensors writes 0.125 for zero and underflowing blocks.
///
/// Not reproduced: what torchao's bit-level FP4 cast makes of a NaN
/// (0xC from the x86 NaN; the crate gives +6), which reaches its bytes only
/// for all-zero tensors and NaN or infinite inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Nvfp4Profile {
    /// NVIDIA Transformer Engine (the default).
    #[default]
    TransformerEngine,
    /// NVIDIA Model-Optimizer 0.45 and later (its export is read by vLLM
    /// and TensorRT-LLM).
    ModelOptimizer,
    /// NVIDIA Model-Optimizer 0.35 to 0.44, before the block-scale clamp.
    ModelOptimizerLegacy,
    /// torchao's `NVFP4Tensor` (0.18).
    TorchAo,
    /// JAX's cuDNN scaled-matmul quantizer, as XLA runs it on CPU (0.10).
    Jax,
    /// compressed-tensors' `nvfp4-pack-quantized` (0.20), as LLM Compressor
    /// writes it.
    CompressedTensors,
    /// The NVFP4 output of a CUTLASS block-scaled GEMM epilogue, with the
    /// norm constant S_enc = 2688/A ([`crate::gemm::gemm_quantized`]).
    Cutlass,
}

impl Nvfp4Profile {
    /// Every profile.
    pub const ALL: &'static [Nvfp4Profile] = &[
        Nvfp4Profile::TransformerEngine,
        Nvfp4Profile::ModelOptimizer,
        Nvfp4Profile::ModelOptimizerLegacy,
        Nvfp4Profile::TorchAo,
        Nvfp4Profile::Jax,
        Nvfp4Profile::CompressedTensors,
        Nvfp4Profile::Cutlass,
    ];

    /// The short name the command line and format identifiers use:
    /// `te`, `modelopt`, `modelopt-legacy`, `torchao`, `jax`,
    /// `compressed-tensors`, `cutlass`.
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
            Nvfp4Profile::ModelOptimizerLegacy => "modelopt-legacy",
            Nvfp4Profile::TorchAo => "torchao",
            Nvfp4Profile::Jax => "jax",
            Nvfp4Profile::CompressedTensors => "compressed-tensors",
            Nvfp4Profile::Cutlass => "cutlass",
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
        Self::with_range(amax, NVFP4_RANGE)
    }

    /// The per-tensor quantities for amax `amax` when the block scales
    /// are bounded by `range / 6` instead of 448: Transformer Engine's
    /// `compute_global_encode_scaling_factor_FP4<E4M3_MAX>`, whose 4over6
    /// recipe uses 256 (`range` 1536).
    ///
    /// ```
    /// use blockscale::scale::nvfp4::Nvfp4Global;
    /// let g = Nvfp4Global::with_range(6.0, 1536.0);
    /// assert_eq!((g.s_enc, g.w), (256.0, 6.0 / 1536.0));
    /// ```
    pub fn with_range(amax: f32, range: f32) -> Self {
        let s_enc = if amax.is_nan() {
            f32::NAN
        } else {
            let s = (range / amax).min(f32::MAX);
            if amax == 0.0 || s == 0.0 { 1.0 } else { s }
        };
        Nvfp4Global {
            amax,
            s_enc,
            s_dec: 1.0 / s_enc,
            w: amax / range,
        }
    }
}

fn e4m3_satfinite(x: f32) -> E4M3 {
    E4M3::from_f32_with(x, ConvertOptions::SATFINITE)
}

/// What a CPU's 0/0 (or 0 · ∞) gives: x86's default NaN, sign bit set.
/// Spelt out so that the bytes do not depend on the machine the crate runs
/// on (ARM's default NaN is positive).
const CPU_NAN: f32 = f32::from_bits(0xFFC0_0000);

/// `a / b` as the producers' CPUs compute it.
fn div(a: f32, b: f32) -> f32 {
    if (a == 0.0 && b == 0.0) || (a.is_infinite() && b.is_infinite()) {
        CPU_NAN
    } else {
        a / b
    }
}

/// `a · b` as the producers' CPUs compute it.
fn mul(a: f32, b: f32) -> f32 {
    if (a == 0.0 && b.is_infinite()) || (a.is_infinite() && b == 0.0) {
        CPU_NAN
    } else {
        a * b
    }
}

/// JAX's global scale w, as its eager CPU arithmetic gives it: denormals
/// flushed, so a tiny tensor has w = 0.
pub(crate) fn jax_global(g: &Nvfp4Global) -> f32 {
    ftz(ftz(g.amax) / NVFP4_RANGE)
}

/// compressed-tensors' stored global scale g = f(f(1/A) · 2688), with A at
/// least the smallest normal f32 and a non-finite result replaced by 1.
pub(crate) fn compressed_tensors_global(g: &Nvfp4Global) -> f32 {
    let gs = (1.0 / g.amax.max(f32::MIN_POSITIVE)) * NVFP4_RANGE;
    if gs.is_finite() { gs } else { 1.0 }
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
/// // Model-Optimizer ≥ 0.45 clamps a scale that underflows E4M3 to 2⁻⁹;
/// // 0.44 stores 0.
/// let g = Nvfp4Global::new(36.97 * 2688.0);
/// assert_eq!(block_scale(Nvfp4Profile::ModelOptimizer, 0.19555, &g).0.to_bits(), 0x01);
/// assert_eq!(block_scale(Nvfp4Profile::ModelOptimizerLegacy, 0.19555, &g).0.to_bits(), 0x00);
/// ```
pub fn block_scale(profile: Nvfp4Profile, a_b: f32, g: &Nvfp4Global) -> (E4M3, ElementMap, f32) {
    match profile {
        Nvfp4Profile::TransformerEngine => {
            let s_b = e4m3_satfinite(a_b * (g.s_enc * (1.0 / 6.0)));
            let e_b = (1.0 / (s_b.to_f32() * g.s_dec)).min(f32::MAX);
            let dequant = (s_b.to_f32() * g.amax) * (1.0 / NVFP4_RANGE);
            (s_b, ElementMap::Mul(e_b), dequant)
        }
        Nvfp4Profile::ModelOptimizer | Nvfp4Profile::ModelOptimizerLegacy => {
            let s = div(a_b, 6.0 * g.w);
            let s = if s == 0.0 { 1.0 } else { s };
            let s = if profile == Nvfp4Profile::ModelOptimizer {
                // torch.clamp keeps NaN.
                if s.is_nan() {
                    s
                } else {
                    s.clamp(1.0 / 512.0, 448.0)
                }
            } else {
                s
            };
            let s_b = e4m3_satfinite(s);
            let d = mul(s_b.to_f32(), g.w);
            (s_b, ElementMap::Div(d), d)
        }
        Nvfp4Profile::TorchAo => {
            let scaled = div(a_b / 6.0, g.w);
            let scaled = if scaled.is_nan() {
                scaled
            } else {
                scaled.clamp(0.015625, 448.0)
            };
            let s_b = e4m3_satfinite(scaled);
            let m = div(1.0 / g.w, s_b.to_f32());
            (s_b, ElementMap::Mul(m), s_b.to_f32() * g.w)
        }
        Nvfp4Profile::Jax => {
            let w = jax_global(g);
            let c = 1.0 / w;
            // XLA's clamp and convert give a positive NaN.
            let scaled = ftz(ftz(ftz(a_b) * c) * (1.0 / 6.0));
            let scaled = if scaled.is_nan() {
                f32::NAN
            } else {
                scaled.clamp(0.0, 448.0)
            };
            let s_b = e4m3_satfinite(scaled);
            let m = ftz((1.0 / s_b.to_f32()) * c);
            (s_b, ElementMap::Mul(m), s_b.to_f32() * w)
        }
        Nvfp4Profile::CompressedTensors => {
            let gs = compressed_tensors_global(g);
            let s = e4m3_satfinite(gs * (a_b / 6.0));
            let s_b = if s.to_f32() == 0.0 {
                E4M3::from_bits(0x20)
            } else {
                s
            };
            let d = s_b.to_f32() / gs;
            (s_b, ElementMap::Div(d), d)
        }
        Nvfp4Profile::Cutlass => {
            let s_b = e4m3_satfinite(a_b * (g.s_enc * (1.0 / 6.0)));
            // min(S_enc · 1/s_b, FLT_MAX), NaN propagating: a zero scale
            // gives FLT_MAX (its elements saturate but decode to 0).
            let m = g.s_enc * (1.0 / s_b.to_f32());
            let m = if m.is_nan() { m } else { m.min(f32::MAX) };
            (s_b, ElementMap::Mul(m), s_b.to_f32() / g.s_enc)
        }
    }
}

/// The element conversion each profile uses: satfinite (clamp to ±6, NaN
/// → +6) except JAX, whose clip to ±6 is followed by XLA's convert
/// (NaN → −0).
pub fn element_options(profile: Nvfp4Profile) -> ConvertOptions {
    match profile {
        Nvfp4Profile::Jax => ConvertOptions {
            nan: NanToFinite::NegativeZero,
            ..ConvertOptions::SATFINITE
        },
        _ => ConvertOptions::SATFINITE,
    }
}

/// The element cast's ties and zero signs ([`CastRule`]): Model-Optimizer
/// and compressed-tensors take the sign from `x < 0` (−0 gives +0); JAX
/// runs with denormals flushed.
pub fn element_cast(profile: Nvfp4Profile) -> CastRule {
    match profile {
        Nvfp4Profile::ModelOptimizer
        | Nvfp4Profile::ModelOptimizerLegacy
        | Nvfp4Profile::CompressedTensors => CastRule {
            zero: ZeroSign::BelowZero,
            ..CastRule::IEEE
        },
        Nvfp4Profile::Jax => CastRule {
            flush_subnormals: true,
            ..CastRule::IEEE
        },
        _ => CastRule::IEEE,
    }
}
