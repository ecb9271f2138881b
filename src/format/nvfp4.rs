//! NVFP4: E2M1 elements, an E4M3 scale per 16 elements (1×16, or 16×16 for
//! weights), and an FP32 per-tensor scale.

use super::{BlockFormat, BlockShape, FormatId};
use crate::Error;
use crate::element::{CastRule, ConvertOptions, decoder};
use crate::prelude::*;
use crate::scale::ElementMap;
use crate::scale::nvfp4::{self, NVFP4_RANGE, Nvfp4Global, Nvfp4Profile};
use crate::simd::{self, Packing};
use crate::{E2M1, E4M3};

/// NVFP4 ([SEMANTICS.md](crate::contract) §3): Transformer Engine's quantizer bit for bit by
/// default, or another producer's (see [`Nvfp4Profile`] for every formula
/// and special case).
///
/// `two_d: false` gives 1×16 blocks (activations and gradients); `true`
/// gives 16×16 tiles (weights), whose columnwise copy is exactly the
/// rowwise copy transposed.
///
/// Range: Transformer Engine's dequantization factor is
/// `f32(f32(s_b) · A) · (1/2688)` ([SEMANTICS.md](crate::contract) §3), so for a tensor amax
/// `A` above `f32::MAX / 448 ≈ 7.6e35` the product `s_b · A` of a block
/// with a large scale overflows and its elements dequantize to ±Inf (or
/// NaN for zeros), exactly as Transformer Engine's do. The other profiles
/// multiply by `A/2688` first and stay finite.
///
/// ```
/// use blockscale::format::Nvfp4;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let x: Vec<f32> = (0..32).map(|i| i as f32 - 16.0).collect();
/// let q = QuantizedTensor::quantize(Nvfp4::default(), &x, 2, 16, &QuantizeOptions::default())?;
/// assert_eq!(q.global_amax(), Some(16.0));
/// assert_eq!(q.scales().len(), 2);
/// assert_eq!(q.dequantize()[0], -16.0);
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Nvfp4 {
    /// Whose bytes to reproduce.
    pub profile: Nvfp4Profile,
    /// 16×16 tiles instead of 1×16 blocks.
    pub two_d: bool,
}

impl Nvfp4 {
    /// 16×16 tiles (weights), Transformer Engine's formulas.
    pub const WEIGHTS_2D: Nvfp4 = Nvfp4 {
        profile: Nvfp4Profile::TransformerEngine,
        two_d: true,
    };
}

impl BlockFormat for Nvfp4 {
    type Elem = E2M1;
    type Scale = E4M3;
    type Global = Nvfp4Global;

    fn name(&self) -> String {
        if self.two_d {
            "NVFP4-2D".into()
        } else {
            "NVFP4".into()
        }
    }
    fn id(&self) -> FormatId {
        let mut id = FormatId::new("nvfp4");
        if self.profile != Nvfp4Profile::default() {
            id = id.with("profile", self.profile.name());
        }
        if self.two_d {
            id = id.with("2d", "true");
        }
        id
    }
    fn from_id(id: &FormatId) -> Result<Self, Error> {
        id.expect("nvfp4", &["profile", "2d"])?;
        let profiles: Vec<_> = Nvfp4Profile::ALL.iter().map(|&p| (p.name(), p)).collect();
        let profile = id.choice("profile", &profiles)?.unwrap_or_default();
        Ok(Nvfp4 {
            profile,
            two_d: super::two_d(id)?,
        })
    }
    fn block(&self) -> BlockShape {
        if self.two_d {
            BlockShape::Tile { rows: 16, cols: 16 }
        } else {
            BlockShape::Tile { rows: 1, cols: 16 }
        }
    }
    fn has_global_scale(&self) -> bool {
        true
    }
    fn scale_rule(&self) -> String {
        format!(
            "{:?} NVFP4 two-level scaling (E4M3 block scale, FP32 A/2688)",
            self.profile
        )
    }
    fn global(&self, amax: f32) -> Nvfp4Global {
        Nvfp4Global::new(amax)
    }
    fn block_scale(&self, block_amax: f32, g: &Nvfp4Global) -> (E4M3, ElementMap, f32) {
        nvfp4::block_scale(self.profile, block_amax, g)
    }
    fn block_scales(
        &self,
        amaxes: &[f32],
        g: &Nvfp4Global,
        scales: &mut [E4M3],
        maps: &mut [ElementMap],
    ) {
        // Transformer Engine's formulas, with the E4M3 rounding of all the
        // block scales in one SIMD call: s_b = e4m3_satfinite(a_b · k).
        let kernels = simd::kernels(simd::active());
        let n = amaxes.len();
        let done = if self.profile == Nvfp4Profile::TransformerEngine
            && let Some(encode_row) = kernels.encode_row
            && let Some(c) = crate::element::kernel_codec::<E4M3>(ConvertOptions::SATFINITE)
        {
            let k = g.s_enc * (1.0 / 6.0);
            let out = bytemuck::cast_slice_mut(&mut scales[..n]);
            encode_row(
                &c,
                &[ElementMap::Mul(k)],
                usize::MAX,
                amaxes,
                None,
                out,
                Packing::Bytes,
                &[],
            );
            true
        } else {
            false
        };
        if !done {
            for ((&a, s), m) in amaxes.iter().zip(scales.iter_mut()).zip(maps.iter_mut()) {
                (*s, *m, _) = self.block_scale(a, g);
            }
            return;
        }
        // e_b = min(1 / f32(s_b · S_dec), FLT_MAX): the products by the
        // decode kernel, the rest in a loop the compiler vectorises.
        let mut prod = [0f32; 256];
        for (sc, mc) in scales[..n].chunks(256).zip(maps.chunks_mut(256)) {
            let p = &mut prod[..sc.len()];
            match kernels.decode_row {
                Some(decode_row) => {
                    let codes = bytemuck::cast_slice(sc);
                    let factors = Some((&[g.s_dec][..], usize::MAX));
                    decode_row(&decoder::<E4M3>(), codes, p, factors, Packing::Bytes);
                }
                None => {
                    for (d, s) in p.iter_mut().zip(sc) {
                        *d = s.to_f32() * g.s_dec;
                    }
                }
            }
            // Reciprocals in their own loop, which the compiler vectorises;
            // fused with the enum stores below it stayed one `divss` a block.
            for d in p.iter_mut() {
                *d = (1.0 / *d).min(f32::MAX);
            }
            for (m, &e) in mc.iter_mut().zip(p.iter()) {
                *m = ElementMap::Mul(e);
            }
        }
    }
    fn encode_row_fused(
        &self,
        amaxes: &[f32],
        g: &Nvfp4Global,
        src: &[f32],
        scales: &mut [E4M3],
        codes: &mut [u8],
        ahead: &[f32],
    ) -> bool {
        // `block_scales`' Transformer Engine path and the element encode,
        // in one kernel.
        let kernels = simd::kernels(simd::active());
        let n = amaxes.len();
        if self.profile != Nvfp4Profile::TransformerEngine
            || self.two_d
            || scales.len() < n
            || self.element_cast() != CastRule::IEEE
        {
            return false;
        }
        let (Some(scaled_row), Some(elem), Some(scale)) = (
            kernels.scaled_row,
            crate::element::kernel_codec::<E2M1>(self.element_options()),
            crate::element::kernel_codec::<E4M3>(ConvertOptions::SATFINITE),
        ) else {
            return false;
        };
        let k = g.s_enc * (1.0 / 6.0);
        let out = bytemuck::cast_slice_mut(&mut scales[..n]);
        let dec = decoder::<E4M3>();
        scaled_row(
            &elem,
            &scale,
            &dec,
            amaxes,
            (k, g.s_dec),
            src,
            out,
            codes,
            ahead,
        )
    }
    fn dequant_factor(&self, s: E4M3, g: &Nvfp4Global) -> f32 {
        match self.profile {
            Nvfp4Profile::TransformerEngine => (s.to_f32() * g.amax) * (1.0 / NVFP4_RANGE),
            Nvfp4Profile::Jax => s.to_f32() * nvfp4::jax_global(g),
            Nvfp4Profile::CompressedTensors => s.to_f32() / nvfp4::compressed_tensors_global(g),
            Nvfp4Profile::Cutlass => s.to_f32() / g.s_enc,
            _ => s.to_f32() * g.w,
        }
    }
    fn element_options(&self) -> ConvertOptions {
        nvfp4::element_options(self.profile)
    }
    fn element_cast(&self) -> CastRule {
        nvfp4::element_cast(self.profile)
    }
    fn global_amax(&self, g: &Nvfp4Global) -> Option<f32> {
        Some(g.amax)
    }
    fn tensor_alpha(&self, g: &Nvfp4Global) -> f32 {
        match self.profile {
            Nvfp4Profile::Jax => nvfp4::jax_global(g),
            Nvfp4Profile::CompressedTensors => 1.0 / nvfp4::compressed_tensors_global(g),
            Nvfp4Profile::Cutlass => g.s_dec,
            _ => g.amax / NVFP4_RANGE,
        }
    }
}
