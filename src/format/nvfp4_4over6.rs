//! NVFP4 with 4over6 adaptive block scaling: ordinary NVFP4 storage (E2M1
//! elements, an E4M3 scale per 16, an FP32 tensor amax) whose block scales
//! are chosen per block between mapping the amax to 6 and to 4.

use super::{BlockFormat, BlockShape, FormatId};
use crate::prelude::*;
use crate::scale::ElementMap;
use crate::scale::four_over_six::{self, FourOverSixMetric};
use crate::scale::nvfp4::{NVFP4_RANGE, Nvfp4Global};
use crate::{E2M1, E4M3, Error};

/// NVFP4 "4over6" ([SEMANTICS.md](crate::contract) §3), Transformer
/// Engine's `nvfp4_4over6` recipes bit for bit: every block is quantized
/// with two candidate scales, its amax mapped to 6 and to 4 (see
/// [`four_over_six::candidates`]), and keeps the one whose dequantized
/// values are closer to the input by `metric`, map-6 on a tie
/// ([`four_over_six::choose`]).
///
/// The tensor's scale bound is 256 by default (TE
/// `nvfp4_4over6_e4m3_use_256`, on for every 4over6 role), so the tensor
/// scale is `S_enc = 1536/A` and a block dequantizes to
/// `q · f32(f32(s · A) · f32(1/1536))`; `e4m3_max_448` keeps ordinary
/// NVFP4's 2688. The stored bytes are ordinary NVFP4 bytes (nothing marks
/// the choice), so any NVFP4 reader decodes them given the bound. `two_d`
/// gives 16×16 tiles (TE's weights), whose 16 rows add their errors as TE's
/// warp reduction does; the columnwise copy of such a tile adds in the
/// other order and may choose differently on a near tie, as TE's does.
///
/// TE refuses 4over6 with stochastic rounding or the RHT; the crate
/// chooses the scale by nearest rounding and then rounds as the tensor
/// asks.
///
/// ```
/// use blockscale::format::Nvfp4FourOverSix;
/// use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
/// let mut x = [0.0f32; 16];
/// x[..4].copy_from_slice(&[6.0, 4.5, -4.5, 3.0]);
/// let q = QuantizedTensor::quantize(Nvfp4FourOverSix::default(), &x, 1, 16, &QuantizeOptions::default())?;
/// // Mapped to 4 (scale 384 with the bound 256), every value is exact.
/// assert_eq!(q.scales()[0].to_f32(), 384.0);
/// assert_eq!(&q.dequantize()[..4], &[6.0, 4.5, -4.5, 3.0]);
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Nvfp4FourOverSix {
    /// How the candidates' errors are measured (TE `nvfp4_4over6_err_mode`).
    pub metric: FourOverSixMetric,
    /// Bound the block scales by 448 as ordinary NVFP4 does, instead of
    /// 256 (TE `nvfp4_4over6_e4m3_use_256` off for this role).
    pub e4m3_max_448: bool,
    /// Measure the error in the scaled domain, TE's
    /// `NVTE_NVFP4_4OVER6_ERR_USE_FAST_MATH` ([`four_over_six::tile_error`]).
    pub fast_error: bool,
    /// 16×16 tiles instead of 1×16 blocks.
    pub two_d: bool,
}

impl Nvfp4FourOverSix {
    /// 1×16 blocks, errors measured by `metric`, the scale bound 256.
    ///
    /// ```
    /// use blockscale::format::{BlockFormat, Nvfp4FourOverSix};
    /// use blockscale::scale::four_over_six::FourOverSixMetric;
    /// assert_eq!(Nvfp4FourOverSix::new(FourOverSixMetric::Mse).id().to_string(), "nvfp4-4over6,metric=mse");
    /// ```
    pub const fn new(metric: FourOverSixMetric) -> Self {
        Nvfp4FourOverSix {
            metric,
            e4m3_max_448: false,
            fast_error: false,
            two_d: false,
        }
    }

    /// This format with 16×16 tiles if `two_d`.
    pub const fn with_two_d(self, two_d: bool) -> Self {
        Nvfp4FourOverSix { two_d, ..self }
    }

    /// 6 × the block-scale bound: 1536, or 2688 with `e4m3_max_448`.
    pub const fn range(&self) -> f32 {
        if self.e4m3_max_448 {
            NVFP4_RANGE
        } else {
            1536.0
        }
    }
}

impl BlockFormat for Nvfp4FourOverSix {
    type Elem = E2M1;
    type Scale = E4M3;
    type Global = Nvfp4Global;

    fn name(&self) -> String {
        if self.two_d {
            "NVFP4-4over6-2D".into()
        } else {
            "NVFP4-4over6".into()
        }
    }
    fn id(&self) -> FormatId {
        let mut id = FormatId::new("nvfp4-4over6");
        if self.metric != FourOverSixMetric::default() {
            id = id.with("metric", self.metric.name());
        }
        if self.e4m3_max_448 {
            id = id.with("e4m3max", "448");
        }
        if self.fast_error {
            id = id.with("fast", "true");
        }
        if self.two_d {
            id = id.with("2d", "true");
        }
        id
    }
    fn from_id(id: &FormatId) -> Result<Self, Error> {
        id.expect("nvfp4-4over6", &["metric", "e4m3max", "fast", "2d"])?;
        let metrics = [
            ("mae", FourOverSixMetric::Mae),
            ("mse", FourOverSixMetric::Mse),
        ];
        let e4m3_max_448 = id
            .choice("e4m3max", &[("256", false), ("448", true)])?
            .unwrap_or(false);
        Ok(Nvfp4FourOverSix {
            metric: id.choice("metric", &metrics)?.unwrap_or_default(),
            e4m3_max_448,
            fast_error: id.flag("fast", false)?,
            two_d: super::two_d(id)?,
        })
    }
    fn block(&self) -> BlockShape {
        BlockShape::Tile {
            rows: if self.two_d { 16 } else { 1 },
            cols: 16,
        }
    }
    fn has_global_scale(&self) -> bool {
        true
    }
    fn scale_rule(&self) -> String {
        format!(
            "NVFP4 4over6 (TE): map-4 or map-6 by {}, block scales bounded by {}{}",
            self.metric.name().to_ascii_uppercase(),
            self.range() / 6.0,
            if self.fast_error {
                ", error in the scaled domain"
            } else {
                ""
            }
        )
    }
    fn global(&self, amax: f32) -> Nvfp4Global {
        Nvfp4Global::with_range(amax, self.range())
    }
    /// Without the block's values: the map-6 candidate.
    fn block_scale(&self, block_amax: f32, g: &Nvfp4Global) -> (E4M3, ElementMap, f32) {
        let [_, m6] = four_over_six::candidates(block_amax, g);
        let dequant = self.dequant_factor(m6.scale, g);
        (m6.scale, ElementMap::Mul(m6.multiplier), dequant)
    }
    fn chooses_by_values(&self) -> bool {
        true
    }
    fn choose_by_values(
        &self,
        block_amax: f32,
        tile: &[f32],
        cols: usize,
        g: &Nvfp4Global,
    ) -> (E4M3, ElementMap) {
        let c = four_over_six::choose(
            tile,
            cols,
            block_amax,
            g,
            self.range(),
            self.metric,
            self.fast_error,
        );
        (c.scale, ElementMap::Mul(c.multiplier))
    }
    fn dequant_factor(&self, s: E4M3, g: &Nvfp4Global) -> f32 {
        // TE dequantize_fp4_kernel: f32(f32(s · A) · f32(1/(6 · E4M3_MAX))).
        (s.to_f32() * g.amax) * (1.0 / self.range())
    }
    fn global_amax(&self, g: &Nvfp4Global) -> Option<f32> {
        Some(g.amax)
    }
    fn tensor_alpha(&self, g: &Nvfp4Global) -> f32 {
        g.amax / self.range()
    }
}
