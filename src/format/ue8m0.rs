//! FP8 E4M3 with E8M0 (UE8M0) block scales: DeepSeek-V3's FP8 as DeepGEMM
//! quantizes it on Blackwell, where the block scales are powers of two.

use super::{BlockFormat, BlockShape, FormatId};
use crate::prelude::*;
use crate::scale::ElementMap;
use crate::scale::fp8::deepgemm_factor;
use crate::{E4M3, E8M0, Error};

/// FP8 E4M3 elements with one E8M0 scale per 1×128 block (activations,
/// DeepGEMM `per_token_cast_to_fp8(…, use_ue8m0=True)`) or 128×128 tile
/// (weights, `per_block_cast_to_fp8`); DeepGEMM `deep_gemm/utils/math.py`.
///
/// For a block of amax `a_b`:
///
/// ```text
/// sf    = f32(max(a_b, 1e-4) / 448)       // torch clamp(min=1e-4): NaN stays NaN
/// e     = exponent field of sf, plus 1 if sf has mantissa bits, clamped to [1, 254]
/// scale = E8M0 byte e, value 2^(e − 127)  // ceil_to_ue8m0
/// q_i   = e4m3(x_i · 2^(127 − e))         // exact multiply; RNE, overflow → NaN
/// x̂_i   = q_i · scale
/// ```
///
/// The element cast is torch's `.to(torch.float8_e4m3fn)`: nearest even,
/// saturating (torch 2.15 on CPU, measured: ±Inf and finite values past
/// 448 give ±448). A finite block never reaches 448 (the scale covers the
/// amax); NaN elements stay NaN. The arithmetic is
/// [`deepgemm_factor`], which the FP32-scaled
/// `fp8-block,profile=deepgemm` shares. A NaN amax gives byte 254 (NaN's exponent field plus one, clamped),
/// as DeepGEMM's bit arithmetic does. Zero and tiny blocks take the 1e-4
/// floor: their scale is 2^-22.
///
/// ```
/// use blockscale::format::Fp8BlockUe8m0;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x: Vec<f32> = (0..256).map(|i| if i < 128 { 1.0 } else { 96.0 }).collect();
/// let q = QuantizedTensor::quantize(Fp8BlockUe8m0::default(), &x, 1, 256, &QuantizeOptions::default())?;
/// // 1/448 → 2^-8 (byte 119); 96/448 → 2^-2 (byte 125); 256 and 384 are E4M3 values.
/// let bytes: Vec<u8> = q.scales().iter().map(|s| s.to_bits()).collect();
/// assert_eq!(bytes, [119, 125]);
/// assert_eq!(q.dequantize(), x);
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Fp8BlockUe8m0 {
    /// 128×128 tiles (weights) instead of 1×128 blocks.
    pub two_d: bool,
}

/// The UE8M0 scale of a block with amax `amax`: the exponent byte of
/// DeepGEMM's power-of-two factor.
fn ue8m0_scale(amax: f32) -> E8M0 {
    let sf = deepgemm_factor(amax, E4M3::MAX.to_f32(), true);
    E8M0::from_bits((sf.to_bits() >> 23) as u8)
}

impl BlockFormat for Fp8BlockUe8m0 {
    type Elem = E4M3;
    type Scale = E8M0;
    type Global = ();

    fn name(&self) -> String {
        let (r, c) = if self.two_d { (128, 128) } else { (1, 128) };
        format!("FP8-E4M3-UE8M0-block{r}x{c}")
    }
    fn id(&self) -> FormatId {
        let id = FormatId::new("fp8-block-ue8m0");
        if self.two_d {
            id.with("2d", "true")
        } else {
            id
        }
    }
    fn from_id(id: &FormatId) -> Result<Self, Error> {
        id.expect("fp8-block-ue8m0", &["2d"])?;
        Ok(Fp8BlockUe8m0 {
            two_d: super::two_d(id)?,
        })
    }
    fn block(&self) -> BlockShape {
        if self.two_d {
            BlockShape::Tile {
                rows: 128,
                cols: 128,
            }
        } else {
            BlockShape::Tile { rows: 1, cols: 128 }
        }
    }
    fn has_global_scale(&self) -> bool {
        false
    }
    fn scale_rule(&self) -> String {
        "DeepGEMM ceil_to_ue8m0(max(amax, 1e-4) / 448)".into()
    }
    fn global(&self, _amax: f32) {}
    fn block_scale(&self, block_amax: f32, _g: &()) -> (E8M0, ElementMap, f32) {
        let s = ue8m0_scale(block_amax);
        // 2^(127 − e) is exact in f32 for e in 1..=254.
        (s, ElementMap::Mul(1.0 / s.to_f32()), s.to_f32())
    }
    fn dequant_factor(&self, s: E8M0, _g: &()) -> f32 {
        s.to_f32()
    }
    fn global_amax(&self, _g: &()) -> Option<f32> {
        None
    }
    fn tensor_alpha(&self, _g: &()) -> f32 {
        1.0
    }
}
