//! An element format and conversion options, flattened into the numbers
//! the SIMD kernels take ([`crate::simd::Codec`], [`crate::simd::Decoder`]);
//! `simd` is a leaf and knows no element types.

use super::{ConvertOptions, Element, ElementKind, NanToFinite, Overflow, Specials};
use crate::simd::{Codec, Decoder};

/// The kernel description of element `T` under `opts` (whose rounding is
/// ignored: the kernels round to nearest even or stochastically), or
/// `None` for formats without a kernel (E8M0).
pub(crate) fn kernel_codec<T: Element>(opts: ConvertOptions) -> Option<Codec> {
    if T::KIND == ElementKind::Int8 {
        let nan_code = match opts.nan {
            NanToFinite::PositiveMax => 127,
            NanToFinite::MlDtypes | NanToFinite::Zero | NanToFinite::NegativeZero => 0,
        };
        return Some(Codec::Int8 { nan_code });
    }
    let spec = T::SPEC?;
    if spec.specials == Specials::Fnuz {
        // The kernels write `sign | magnitude`, which is NaN for a negative
        // value that rounds to zero here: the engine handles fnuz.
        return None;
    }
    let max_code = spec.max_code() as u32;
    let sign = spec.sign_bit() as u32;
    // The engine's `overflowed(toward_zero = false)`.
    let over_code = match (opts.overflow, spec.specials) {
        (Overflow::NonSaturating, Specials::InfNan) => spec.inf_code(),
        (Overflow::NonSaturating, Specials::NanOnly) => spec.nan_code(),
        _ => None,
    }
    .map_or(max_code, |c| c as u32);
    // Inf's code and E4M3's NaN follow max_code (the field's contract).
    debug_assert!(over_code == max_code || over_code == max_code + 1);
    let (nan_pos, nan_neg) = match spec.nan_code() {
        Some(n) => (n as u32, sign | n as u32),
        None => match opts.nan {
            NanToFinite::MlDtypes => (sign, 0),
            NanToFinite::Zero => (0, 0),
            NanToFinite::PositiveMax => (max_code, max_code),
            NanToFinite::NegativeZero => (sign, sign),
        },
    };
    Some(Codec::Mini {
        bits: spec.bits(),
        man_bits: spec.man_bits,
        bias: spec.bias,
        max_code,
        over_code,
        nan_pos,
        nan_neg,
    })
}

/// The decode kernels' description of element `T`: its table and width,
/// and its minifloat layout where every code up to `max_code` follows it
/// (`kernel_codec` gives none for fnuz, and MXINT8's is not a minifloat).
pub(crate) fn decoder<T: Element>() -> Decoder {
    let mini =
        kernel_codec::<T>(ConvertOptions::SATFINITE).filter(|c| matches!(c, Codec::Mini { .. }));
    Decoder {
        table: T::DECODE,
        bits: T::BITS,
        mini,
        // Evaluated once per element type at compile time: callers build a
        // decoder for every few hundred scales, and the scan is 128 entries.
        sign_symmetric: const { sign_symmetric(T::DECODE) },
    }
}

/// Whether every code with its top bit set decodes to the value of the
/// code without it, sign flipped, bit for bit (NaN payloads included).
const fn sign_symmetric(table: &[f32; 256]) -> bool {
    let mut i = 0;
    while i < 128 {
        if table[i | 128].to_bits() != table[i].to_bits() ^ 0x8000_0000 {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::element::{E2M1, E4M3, E4M3Fnuz, E5M2, E8M0, Int8};

    /// Sign symmetry by the formats' definitions: IEEE-style sign–magnitude
    /// FP8 has it (0x80 is −0, 0xFF is the NaN 0x7F negated); fnuz puts its
    /// NaN at 0x80, E8M0 has no sign bit and MXINT8 is two's complement.
    #[test]
    fn sign_symmetry_by_definition() {
        assert!(decoder::<E4M3>().sign_symmetric);
        assert!(decoder::<E5M2>().sign_symmetric);
        assert!(!decoder::<E4M3Fnuz>().sign_symmetric);
        assert!(!decoder::<E8M0>().sign_symmetric);
        assert!(!decoder::<Int8>().sign_symmetric);
        // A 4-bit table repeats its 16 codes: code 0x88 is −0, like 0x08,
        // but 0x80 is +0, not −(0x00): not symmetric, and not looked up so.
        assert!(!decoder::<E2M1>().sign_symmetric);
    }

    /// `Codec::Mini`'s `over_code` is `max_code` or the next code, by each
    /// format's definition: E5M2's Inf is 0x7C after 0x7B (57344), E4M3's
    /// NaN 0x7F after 0x7E (448); saturation, and the formats with neither
    /// (FP4, FP6), give max itself.
    #[test]
    fn overflow_code_is_max_or_next() {
        use crate::element::{E2M3, E3M2, NanToFinite, Overflow};
        let over = |c: Option<Codec>| match c {
            Some(Codec::Mini {
                max_code,
                over_code,
                ..
            }) => (max_code, over_code),
            c => panic!("not a minifloat codec: {c:?}"),
        };
        let sat = ConvertOptions {
            overflow: Overflow::Saturate,
            nan: NanToFinite::MlDtypes,
            ..Default::default()
        };
        let non = ConvertOptions {
            overflow: Overflow::NonSaturating,
            ..sat
        };
        assert_eq!(over(kernel_codec::<E5M2>(non)), (0x7B, 0x7C));
        assert_eq!(over(kernel_codec::<E4M3>(non)), (0x7E, 0x7F));
        for opts in [sat, non] {
            assert_eq!(over(kernel_codec::<E2M1>(opts)), (0x7, 0x7));
            assert_eq!(over(kernel_codec::<E2M3>(opts)), (0x1F, 0x1F));
            assert_eq!(over(kernel_codec::<E3M2>(opts)), (0x1F, 0x1F));
        }
        assert_eq!(over(kernel_codec::<E5M2>(sat)), (0x7B, 0x7B));
        assert_eq!(over(kernel_codec::<E4M3>(sat)), (0x7E, 0x7E));
    }
}
