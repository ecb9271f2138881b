//! The planner: from the operands' formats and data, the fastest kernel
//! whose arithmetic is exact for the data at hand.
//!
//! Five packed kernels exist (their portable code is in `kernels`), each
//! exact up to one rounding per block term (so each equals
//! [`super::gemm_reference`] bit for bit):
//!
//! - **i8**: every element integer fits in i8 (E2M1, E2M3, INT8 and their
//!   mixes) and the block term `S · s_a' · s_b'` is exact in f32. The inner
//!   sums are exact i32 (u8 × i8 dot products of `a + 128` with `b`, minus
//!   `128 · Σ b`), and `acc + S·P` is one f32 rounding, as in the reference.
//! - **f64**: the block sums fit 53 significant bits (E4M3, E3M2, and any
//!   pair whose integers present are close enough in size: below
//!   `2^(53 + tz)` where every product is a multiple of `2^tz`, so E4M3 x
//!   E5M2 and E5M2 pairs too when the data lacks the formats' smallest
//!   values). Element products and their sums are exact in f64; the block
//!   term `S · P` (`P = s_a'·s_b'` has at most 48 bits) is rounded to odd
//!   in f64 with an exact two-product, then once to f32:
//!   round-to-odd at 53 bits followed by nearest-even at 24 is one correct
//!   rounding (Boldo and Melquiond, "Emulation of FMA and correctly rounded
//!   sums: proved algorithms using rounding to odd", IEEE TC 2008).
//! - **i16**: the f64 kernel's sums and terms, with each block's exact sum
//!   assembled from i16 products. Each (row, block) of an operand is split
//!   into planes: plane 0 holds the elements that are multiples of `2^s`,
//!   with `s` the smallest at which the values it takes, divided by `2^s`,
//!   fit i16 and their squares sum to at most `2^31 − 1`; at the latest
//!   where every value fits a window of w bits, `(2^w − 1)²·kb ≤ 2^31 − 1`
//!   (13 bits for 32-long blocks). Plane 1 takes the rest by the same rule,
//!   and so on. An element has at most 4 significant bits (E4M3), so each
//!   plane after the first starts below the last one's `s`: E3M2 needs one
//!   plane, E4M3 two, E5M2 three. The sum of any pair of planes is then
//!   exact in i32 (`vpmaddwd` pairs; by Cauchy–Schwarz, `|Σ a·b| ≤
//!   ‖a‖·‖b‖`), and
//!   `S = Σ S_pq · 2^(s_p + s_q)` is exact in f64 by the f64 bound. Small
//!   elements are rare, so later planes are sparse, and a kernel skips the
//!   pairs of K that hold none. A block longer than 32 (FP8 per tensor,
//!   1×128) is cut into chunks of 32 (`pack::CHUNK`), each split into
//!   planes of its own; their exact sums add in f64 before the block's one
//!   term (every partial sum is a sum of the block's products, so within
//!   the bound). Where the scales are powers of two and the factors stay
//!   in f32's normal range (`Terms::Pow2F32`), a block of one chunk summed
//!   in one pair of planes takes its term as `f32(S_pq)` times the
//!   factors' f32 product: one rounding, then an exact scaling, as the i8
//!   kernel.
//! - **i16 with i64 sums**: the i16 kernel's planes where the block sums
//!   fit 63 bits but not f64 (E4M3 x E5M2 per tensor on data reaching the
//!   subnormals): each block's pair sums, shifted, add exactly in i64
//!   (every partial sum is a sum of the block's products, so within the
//!   bound), and the term is the exact rounding of `S · s_a · s_b`. Only
//!   for long blocks (a scalar rounding per term) whose data leaves few
//!   elements to a second plane, judged from the codes present (passes over
//!   dense planes take longer than the i64 kernel).
//! - **i64**: the block sums fit 63 bits (E4M3 x E5M2, whose 32-term sums
//!   need 55), summed in f64 over runs short enough to stay exact. With
//!   power-of-two scale products in f32's normal range the term is
//!   `f32(S)·P` (one rounding, then an exact scaling); otherwise it is the
//!   reference's own exact scalar rounding.
//!
//! Everything else (E5M2 pairs whose data reaches the subnormals, a
//! non-finite element or scale) runs the generic kernel; the i8 kernel's
//! f32 terms fall back to the f64 kernel when scale products leave f32's
//! normal range.

use super::pack::{self, Codes, code};
use super::{Dims, unit_exponent};
use crate::Element;
use crate::format::{BlockFormat, ScaleCodec};
use crate::simd::Terms;
use crate::tensor::QuantizedTensor;

/// What the data of one operand needs: the largest |integer| present and
/// the fewest trailing zero bits of a nonzero one, whether every element
/// and scale is finite, and the range and significand width of its nonzero
/// scale values.
#[derive(Debug)]
struct Stats {
    max_int: u64,
    /// Every integer present is a multiple of `2^int_tz` (64 if all are 0).
    int_tz: u32,
    finite: bool,
    /// Smallest and largest nonzero |scale · 2^e0|, in f64 (exact).
    scale_min: f64,
    scale_max: f64,
    /// The widest significand (in bits) of any scale value.
    scale_bits: u32,
}

fn stats<F: BlockFormat>(t: &QuantizedTensor<F>) -> Stats {
    let codes = Codes::new::<F::Elem>();
    let (r, c) = t.stored_shape();
    let all_codes = &codes.ints[..1 << F::Elem::BITS];
    let format_max = all_codes.iter().flatten().map(|i| i.unsigned_abs()).max();
    let mut seen = [false; 256];
    if all_codes.iter().all(Option::is_some) && format_max.unwrap_or(0) <= 127 {
        // Every code is finite and small (E2M1, E2M3): the data cannot
        // change the plan, so skip the scan.
        seen[..all_codes.len()].fill(true);
    } else {
        let mut bytes = [false; 256];
        for &byte in t.data() {
            bytes[byte as usize] = true;
        }
        if F::Elem::BITS != 4 {
            seen = bytes;
        } else if (r * c) % 2 == 0 {
            for (byte, _) in bytes.iter().enumerate().filter(|(_, s)| **s) {
                seen[byte & 0xF] = true;
                seen[byte >> 4] = true;
            }
        } else {
            // A packed odd count leaves one unused high nibble: skip it.
            for i in 0..r * c {
                seen[code(t, i)] = true;
            }
        }
    }
    let mut s = Stats {
        max_int: 0,
        int_tz: 64,
        finite: true,
        scale_min: f64::INFINITY,
        scale_max: 0.0,
        scale_bits: 0,
    };
    for (code, _) in seen.iter().enumerate().filter(|(_, s)| **s) {
        match codes.ints[code] {
            Some(i) => {
                s.max_int = s.max_int.max(i.unsigned_abs());
                s.int_tz = s.int_tz.min(i.trailing_zeros());
            }
            None => s.finite = false,
        }
    }
    // Byte-coded scales (E4M3, E8M0): each code present once, not each
    // block's.
    let distinct: Vec<F::Scale>;
    let scales = if <F::Scale as ScaleCodec>::BITS == 8 {
        let mut present = [false; 256];
        for sc in t.scales() {
            present[sc.to_bits() as usize & 0xFF] = true;
        }
        distinct = (0..256u32)
            .filter(|&c| present[c as usize])
            .map(<F::Scale as ScaleCodec>::from_bits)
            .collect();
        &distinct[..]
    } else {
        t.scales()
    };
    // On |v|'s bits, which order as the values do.
    let (mut lo, mut hi) = (u32::MAX, 0u32);
    for sc in scales {
        let bits = sc.value().to_bits() & 0x7FFF_FFFF;
        if bits >= 0x7F80_0000 {
            s.finite = false;
        } else if bits != 0 {
            (lo, hi) = (lo.min(bits), hi.max(bits));
            let man = if bits >> 23 == 0 {
                bits
            } else {
                bits & 0x7F_FFFF | 0x80_0000
            };
            s.scale_bits = s
                .scale_bits
                .max(32 - man.leading_zeros() - man.trailing_zeros());
        }
    }
    if hi != 0 {
        let f = crate::element::pow2_f64(unit_exponent::<F::Elem>());
        s.scale_min = f32::from_bits(lo) as f64 * f;
        s.scale_max = f32::from_bits(hi) as f64 * f;
    }
    s
}

/// The fewest chunks of 32 to a block term for `Plan::I16Wide`, whose
/// terms take a scalar rounding each.
const WIDE_MIN_CHUNKS: usize = 8;

/// The largest share of an operand's nonzero elements that may lie too far
/// below its largest to be sure of plane 0 for `Plan::I16Wide`.
const WIDE_LOW_SHARE: f64 = 1.0 / 64.0;

/// The share of `t`'s nonzero elements that plane 0 may not take: below
/// `2^(top − w + sig)`, with `top` the bit length of the largest integer
/// present and `sig` the format's widest significand. A chunk's plane 0
/// takes every multiple of `2^s` with `s` at most its largest's bit length
/// less `w` (`pack::planes::plane_shift`), and an element at or above that
/// bound has at least `s` trailing zeros. `None` for formats not stored a
/// code per byte.
fn low_share<F: BlockFormat>(t: &QuantizedTensor<F>, st: &Stats, w: u32, sig: u32) -> Option<f64> {
    if F::Elem::BITS != 8 {
        return None;
    }
    let top = 64 - st.max_int.leading_zeros();
    let bound = (top + sig).saturating_sub(w).min(63);
    let codes = Codes::new::<F::Elem>();
    let class = |c: usize| match codes.ints[c] {
        Some(i) if i != 0 => 1 + u32::from(i.unsigned_abs() < 1 << bound),
        _ => 0,
    };
    let classes: [u32; 256] = core::array::from_fn(class);
    let (mut nonzero, mut low) = (0u64, 0u64);
    for &byte in t.data() {
        let c = classes[byte as usize];
        nonzero += u64::from(c != 0);
        low += u64::from(c == 2);
    }
    Some(if nonzero == 0 {
        0.0
    } else {
        low as f64 / nonzero as f64
    })
}

/// The kernel a GEMM runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    I8 {
        /// How many quads' u8 × i8 pair sums (`(a0+128)·b0 + (a1+128)·b1`,
        /// as `vpmaddubsw` makes them) an i16 lane sums without overflow:
        /// `32767 / (2·(128 + max|a|)·max|b|)`, 0 if not even one.
        i16_runs: usize,
    },
    /// `pow2`: every nonzero scale is a power of two (E8M0), so `S·P` is
    /// exact in f64 and needs no round-to-odd step.
    F64 {
        pow2: bool,
    },
    /// The f64 plan's sums and terms, with each block's sum taken from
    /// i16 planes of A and B (`pack::planes::PackedPlanes`; `planes` of each),
    /// whose pairwise sums are exact in i32.
    I16 {
        terms: Terms,
        planes: (usize, usize),
    },
    /// The i16 planes with i64 sums, for long blocks whose sums f64 does
    /// not hold (E4M3 x E5M2 per tensor on data that reaches the
    /// subnormals): each block term's exact sum in i64, then its exact
    /// rounding (`kernels::add_terms_i64`).
    I16Wide {
        planes: (usize, usize),
    },
    /// Exact i64 block sums (E4M3 x E5M2, up to 55 bits). `pow2`: the
    /// scale products are powers of two in f32's normal range, so the term
    /// is `f32(S)·P`; otherwise the reference's exact scalar rounding.
    I64 {
        pow2: bool,
        /// How many products an f64 sums exactly (`group · max|a·b| ≤
        /// 2^(53 + tz)`, where every product is a multiple of `2^tz`), for
        /// the kernel's f64 runs; 0 if one product may not fit.
        group: usize,
    },
    Generic,
}

/// Picks the fastest kernel whose arithmetic is exact for these operands.
pub(crate) fn plan<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    d: &Dims,
) -> Plan {
    let (sa, sb) = (stats(a), stats(b));
    if !sa.finite || !sb.finite {
        return Plan::Generic;
    }
    // The largest possible |S| of one block.
    let smax = (sa.max_int as u128) * (sb.max_int as u128) * d.kb as u128;
    // Every product, so every sum, is a multiple of 2^tz: an f64 holds such
    // integers exactly below 2^(53 + tz). Data without the format's
    // smallest values (E5M2 subnormals, say) has tz > 0. The cap keeps the
    // shifts below in range (an all-zero operand has int_tz 64).
    let tz = (sa.int_tz + sb.int_tz).min(24);
    let smax_bits = 128 - smax.leading_zeros();
    let no_scales = sa.scale_max == 0.0 || sb.scale_max == 0.0;
    let f32_exact = no_scales
        || (smax_bits + sa.scale_bits + sb.scale_bits <= 24
            && sa.scale_min >= f32::MIN_POSITIVE as f64
            && sb.scale_min >= f32::MIN_POSITIVE as f64
            && sa.scale_min * sb.scale_min >= f32::MIN_POSITIVE as f64
            && sa.scale_max * sb.scale_max * (smax.max(1) as f64) < f32::MAX as f64);
    if sa.max_int <= 127 && sb.max_int <= 127 && f32_exact {
        let pair = 2 * (128 + sa.max_int) * sb.max_int;
        Plan::I8 {
            i16_runs: (32767 / pair.max(1)).min(1 << 16) as usize,
        }
    } else if smax < 1 << (53 + tz) {
        let pow2 = sa.scale_bits <= 1 && sb.scale_bits <= 1;
        let chunks = pack::KGeom::planes(d);
        let w = pack::window_bits(chunks.kbp);
        let (wa, wb) = (
            pack::int_widths::<FA::Elem>(),
            pack::int_widths::<FB::Elem>(),
        );
        match (
            pack::plane_count(wa.0, wa.1, w),
            pack::plane_count(wb.0, wb.1, w),
        ) {
            (Some(pa), Some(pb)) => {
                // Plane 0's shift is at most `top − w`; later planes' less.
                let factor_ok = |s: &Stats, top: u32| {
                    s.scale_min >= crate::element::pow2_f64(-63)
                        && s.scale_max * crate::element::pow2_f64(top.saturating_sub(w) as i32)
                            <= crate::element::pow2_f64(63)
                };
                // One chunk to a term: a term of several sums their f64s.
                let f32_terms = chunks.cpb == 1
                    && factor_ok(&sa, wa.0)
                    && factor_ok(&sb, wb.0)
                    && sa.scale_min * sb.scale_min >= f32::MIN_POSITIVE as f64
                    && sa.scale_max * sb.scale_max * (smax as f64) < f32::MAX as f64 / 2.0;
                let terms = match (pow2, f32_terms) {
                    (false, _) => Terms::Odd,
                    (true, false) => Terms::Pow2,
                    (true, true) => Terms::Pow2F32,
                };
                Plan::I16 {
                    terms,
                    planes: (pa, pb),
                }
            }
            _ => Plan::F64 { pow2 },
        }
    } else if smax < 1 << 63 {
        let chunks = pack::KGeom::planes(d);
        let w = pack::window_bits(chunks.kbp);
        let (wa, wb) = (
            pack::int_widths::<FA::Elem>(),
            pack::int_widths::<FB::Elem>(),
        );
        let planes = (
            pack::plane_count(wa.0, wa.1, w),
            pack::plane_count(wb.0, wb.1, w),
        );
        // Long blocks only (a term per 256 products at least), and only
        // when few elements can need a plane after the first: each such
        // element adds a pass over its pair for a whole tile, and with many
        // (data over 30 binades) the dense passes take longer than the i64
        // kernel's f64 runs (bench/README.md, "A recipe step").
        let sparse = |t_low: Option<f64>| t_low.is_some_and(|l| l <= WIDE_LOW_SHARE);
        if let (Some(pa), Some(pb)) = planes
            && chunks.cpb >= WIDE_MIN_CHUNKS
            && sparse(low_share(a, &sa, w, wa.1))
            && sparse(low_share(b, &sb, w, wb.1))
        {
            return Plan::I16Wide { planes: (pa, pb) };
        }
        let prod = (sa.max_int as u128 * sb.max_int as u128).max(1);
        Plan::I64 {
            group: ((1u128 << (53 + tz)) / prod).min(usize::MAX as u128) as usize,
            pow2: sa.scale_bits <= 1
                && sb.scale_bits <= 1
                && (no_scales
                    || (sa.scale_min * sb.scale_min >= f32::MIN_POSITIVE as f64
                        && sa.scale_max * sb.scale_max * (smax as f64) < f32::MAX as f64)),
        }
    } else {
        Plan::Generic
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Fp8Tensorwise, MxFp4, MxFp6E3M2, MxFp8E4M3, MxFp8E5M2, MxInt8, Nvfp4};
    use crate::gemm::check;
    use crate::tensor::QuantizeOptions;
    use crate::{E4M3, E5M2};

    fn q<F: BlockFormat>(f: F, x: &[f32]) -> QuantizedTensor<F> {
        QuantizedTensor::quantize(f, x, 2, 64, &QuantizeOptions::default()).unwrap()
    }

    fn plan_of<F: BlockFormat>(f: F, x: &[f32]) -> Plan {
        let t = q(f, x);
        let d = check(&t, &t, 4).unwrap();
        plan(&t, &t, &d)
    }

    /// Each format pair reaches the kernel the module docs promise, so the
    /// bit-identity tests in tests/gemm.rs cover every kernel.
    #[test]
    fn the_planner_picks_the_exact_kernel() {
        let x: Vec<f32> = (0..128)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.31)
            .collect();
        // FP4 integers (doubled E2M1) are at most 12: 32767 / (2·140·12)
        // is 9 quads, a whole MX block; MXINT8's reach 127, too wide for
        // even one pair sum.
        assert_eq!(plan_of(Nvfp4::default(), &x), Plan::I8 { i16_runs: 9 });
        assert_eq!(plan_of(MxFp4::default(), &x), Plan::I8 { i16_runs: 9 });
        assert_eq!(plan_of(MxInt8::default(), &x), Plan::I8 { i16_runs: 0 });
        // E3M2's integers (|v| ≤ 448, 9 bits) fit one 13-bit i16 plane;
        // E4M3's (18 bits, 4 significant) two, E5M2's (32, 3) three.
        let i16 = |planes| Plan::I16 {
            terms: Terms::Pow2F32,
            planes,
        };
        assert_eq!(plan_of(MxFp6E3M2::default(), &x), i16((1, 1)));
        assert_eq!(plan_of(MxFp8E4M3::default(), &x), i16((2, 2)));
        // Per tensor: one block of all K (64), two chunks of 32 to its
        // one term, and a scale that is not a power of two.
        assert_eq!(
            plan_of(Fp8Tensorwise::<E4M3>::current(), &x),
            Plan::I16 {
                terms: Terms::Odd,
                planes: (2, 2)
            }
        );
        // This data holds no value below 1/64 of its block's largest, far
        // above either format's subnormals, so every element integer (in
        // units of the smallest subnormal) is a multiple of a large power
        // of two: E4M3 x E5M2's 55-bit and E5M2 pairs' 69-bit sums both
        // hold in f64.
        let pair = |fa, fb, x: &[f32]| {
            let (a, b) = (q(fa, x), q(fb, x));
            plan(&a, &b, &check(&a, &b, 4).unwrap())
        };
        let (e4m3, e5m2) = (MxFp8E4M3::default(), MxFp8E5M2::default());
        assert_eq!(pair(e4m3, e5m2, &x), i16((2, 3)));
        assert_eq!(plan_of(e5m2, &x), i16((3, 3)));
        // Add an E4M3 subnormal (3·2^-9 times the block's scale) and an
        // E5M2 one (3·2^-16 times its scale): both operands hold odd
        // integers, so E4M3 x E5M2 sums (past 2^53 here) take the i64
        // kernel and E5M2 pairs' (past 2^63) the generic one.
        let mut tiny = x.clone();
        tiny[1] = 3.0 * 2f32.powi(-9) * q(e4m3, &x).scale_at(0, 0).unwrap().value();
        tiny[2] = 3.0 * 2f32.powi(-16) * q(e5m2, &x).scale_at(0, 0).unwrap().value();
        let (a, b) = (q(e4m3, &tiny), q(e5m2, &tiny));
        assert_eq!(a.element(0, 1).unwrap().to_f32(), 3.0 * 2f32.powi(-9));
        assert_eq!(b.element(0, 2).unwrap().to_f32(), 3.0 * 2f32.powi(-16));
        let hybrid = pair(e4m3, e5m2, &tiny);
        assert!(matches!(hybrid, Plan::I64 { pow2: true, group } if group >= 8));
        assert_eq!(plan_of(e5m2, &tiny), Plan::Generic);
        assert_eq!(
            plan_of(Fp8Tensorwise::<E5M2>::current(), &tiny),
            Plan::Generic
        );
        // A NaN anywhere takes the generic kernel.
        let mut y = x.clone();
        y[5] = f32::NAN;
        assert_eq!(plan_of(MxFp4::default(), &y), Plan::Generic);
    }

    /// Per tensor, E4M3 x E5M2 sums past f64's 53 bits take the i16
    /// planes with i64 sums when the blocks are long and few elements lie
    /// far below the largest, and the i64 kernel otherwise.
    #[test]
    fn long_sums_past_f64_take_i16_planes_in_i64() {
        let (t4, t5) = (
            Fp8Tensorwise::<E4M3>::current(),
            Fp8Tensorwise::<E5M2>::current(),
        );
        // Values in [0.5, 1) of both signs, and one element in 200 at
        // 2^-17.6 (E4M3's smallest subnormal at this scale: the integer 1)
        // and one at 2^-30.2 (an E5M2 subnormal, the integer 3): no common
        // low zero bits, so 1024-long sums may need 59.6 bits.
        let data = |k: usize, tiny_every: usize| -> Vec<f32> {
            (0..2 * k)
                .map(|i| match i % tiny_every {
                    7 => 2f32.powf(-17.6),
                    8 => -(2f32.powf(-30.2)),
                    _ => {
                        let v = 0.5 + (i * 37 % 101) as f32 / 202.0;
                        if i % 3 == 0 { -v } else { v }
                    }
                })
                .collect()
        };
        let pair = |k: usize, x: &[f32]| {
            let o = QuantizeOptions::default();
            let a = QuantizedTensor::quantize(t4, x, 2, k, &o).unwrap();
            let b = QuantizedTensor::quantize(t5, x, 2, k, &o).unwrap();
            assert!(a.data().contains(&1), "E4M3's integer 1 (2^-9)");
            plan(&a, &b, &check(&a, &b, 4).unwrap())
        };
        // (K = 1024 only off Miri, where the CI runs this crate's tests
        // slowly.)
        if !cfg!(miri) {
            assert_eq!(
                pair(1024, &data(1024, 200)),
                Plan::I16Wide { planes: (2, 3) }
            );
        }
        assert_eq!(pair(256, &data(256, 200)), Plan::I16Wide { planes: (2, 3) });
        // Blocks of 128 (4 chunks) keep the i64 kernel: a scalar term per
        // 128 products would cost more than the planes save.
        assert!(matches!(
            pair(128, &data(128, 100)),
            Plan::I64 { pow2: false, .. }
        ));
        // With one element in 20 that far down (more than 1/64 of them),
        // planes after the first would be dense: the i64 kernel.
        assert!(matches!(pair(256, &data(256, 20)), Plan::I64 { .. }));
    }

    /// The f64 bound at its edges, worked by hand. With scales of 1, E4M3's
    /// 448 is the integer 448·2^9 = 229376 and E5M2's 57344 is 57344·2^16
    /// = 3758096384 (units of their smallest subnormals), so a product
    /// reaches 8.62e14 (2^49.6) and a 32-term block sum 2^54.6. One small
    /// element per row sets the common power of two, 2^tz.
    #[test]
    fn the_f64_bound_counts_common_powers_of_two() {
        let row = |big: f32, small: f32| -> Vec<f32> {
            (0..128)
                .map(|i| if i % 64 == 1 { small } else { big })
                .collect()
        };
        let hybrid = |units_a: f32, units_b: f32| {
            let a = q(MxFp8E4M3::default(), &row(448.0, units_a * 2f32.powi(-9)));
            let b = q(
                MxFp8E5M2::default(),
                &row(57344.0, units_b * 2f32.powi(-16)),
            );
            plan(&a, &b, &check(&a, &b, 4).unwrap())
        };
        // Odd integers on both sides: tz = 0, 2^53 / 8.62e14 = 10.4.
        assert_eq!(
            hybrid(3.0, 3.0),
            Plan::I64 {
                pow2: true,
                group: 10
            }
        );
        // 2 units of E4M3: tz = 1, 2^54 / 8.62e14 = 20.9, and 2^54.6 needs
        // the i64 kernel still.
        assert_eq!(
            hybrid(2.0, 3.0),
            Plan::I64 {
                pow2: true,
                group: 20
            }
        );
        // 4 and 2 units: tz = 3, and 2^54.6 < 2^56 fits f64 (the f64
        // plan's sums, here taken from i16 planes: MX blocks are 32 long).
        assert!(matches!(hybrid(4.0, 2.0), Plan::I16 { .. }));
    }
}
