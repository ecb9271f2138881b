//! Bulk conversion equals the scalar conversion element by element, for
//! every real input type, and FP4 packing follows the nibble order of
//! docs/SEMANTICS.md §6 (element 2j low, 2j+1 high).

use blockscale::element::{ConvertOptions, Overflow, slice};
use blockscale::{E2M1, E4M3, E5M2, E8M0, Element, Int8};
use half::{bf16, f16};
use proptest::prelude::*;

fn check_encode<T: Element>(xs: &[f32], opts: ConvertOptions) {
    let mut got = vec![T::from_bits(0); xs.len()];
    slice::encode(xs, &mut got, opts).unwrap();
    for (g, &x) in got.iter().zip(xs) {
        assert_eq!(
            g.to_bits(),
            T::from_f32_with(x, opts).to_bits(),
            "{} {x}",
            T::NAME
        );
    }
    // f16 and bf16 inputs widen exactly, so they equal the f32 path on their values.
    let h: Vec<f16> = xs.iter().map(|&x| f16::from_f32(x)).collect();
    slice::encode(&h, &mut got, opts).unwrap();
    for (g, x) in got.iter().zip(&h) {
        assert_eq!(g.to_bits(), T::from_f32_with(x.to_f32(), opts).to_bits());
    }
    let b: Vec<bf16> = xs.iter().map(|&x| bf16::from_f32(x)).collect();
    slice::encode(&b, &mut got, opts).unwrap();
    for (g, x) in got.iter().zip(&b) {
        assert_eq!(g.to_bits(), T::from_f32_with(x.to_f32(), opts).to_bits());
    }
    let d: Vec<f64> = xs.iter().map(|&x| x as f64).collect();
    slice::encode(&d, &mut got, opts).unwrap();
    for (g, &x) in got.iter().zip(xs) {
        assert_eq!(g.to_bits(), T::from_f32_with(x, opts).to_bits());
    }
}

proptest! {
    #[test]
    fn slice_encode_equals_scalar(bits in prop::collection::vec(any::<u32>(), 0..300), sat in any::<bool>()) {
        let xs: Vec<f32> = bits.iter().map(|&b| f32::from_bits(b)).collect();
        let opts = ConvertOptions { overflow: if sat { Overflow::Saturate } else { Overflow::NonSaturating }, ..Default::default() };
        check_encode::<E2M1>(&xs, opts);
        check_encode::<E4M3>(&xs, opts);
        check_encode::<E5M2>(&xs, opts);
        check_encode::<E8M0>(&xs, opts);
        check_encode::<Int8>(&xs, opts);
    }

    #[test]
    fn pack_then_unpack_is_identity(codes in prop::collection::vec(0u8..16, 0..99)) {
        let elems: Vec<E2M1> = codes.iter().map(|&c| E2M1::from_bits(c)).collect();
        let mut packed = vec![0u8; slice::packed_e2m1_len(elems.len())];
        slice::pack_e2m1(&elems, &mut packed).unwrap();
        for (j, &c) in codes.iter().enumerate() {
            let nibble = if j % 2 == 0 { packed[j / 2] & 0xF } else { packed[j / 2] >> 4 };
            prop_assert_eq!(nibble, c);
        }
        if codes.len() % 2 == 1 {
            prop_assert_eq!(packed[codes.len() / 2] >> 4, 0);
        }
        let mut back = vec![E2M1::ZERO; elems.len()];
        slice::unpack_e2m1(&packed, &mut back).unwrap();
        prop_assert_eq!(back.iter().map(|e| e.to_bits()).collect::<Vec<_>>(), codes);
    }
}

#[test]
fn decode_into_every_real_type() {
    let src: Vec<E4M3> = (0..=255u8).map(E4M3::from_bits).collect();
    let mut f = vec![0f32; 256];
    let mut h = vec![f16::ZERO; 256];
    let mut b = vec![bf16::ZERO; 256];
    let mut d = vec![0f64; 256];
    slice::decode(&src, &mut f).unwrap();
    slice::decode(&src, &mut h).unwrap();
    slice::decode(&src, &mut b).unwrap();
    slice::decode(&src, &mut d).unwrap();
    for i in 0..256 {
        let v = src[i].to_f32();
        if v.is_nan() {
            assert!(f[i].is_nan() && h[i].is_nan() && b[i].is_nan() && d[i].is_nan());
            // The NaN keeps its sign.
            assert_eq!(d[i].is_sign_negative(), i >= 128);
        } else {
            // Every E4M3 value is exact in f16, bf16 (4 significant bits, 2^-9..448) and f64.
            assert_eq!(
                (f[i], h[i].to_f32(), b[i].to_f32(), d[i]),
                (v, v, v, v as f64)
            );
        }
    }
    // E8M0 beyond f16's range becomes Inf; bf16 keeps it.
    let mut h1 = [f16::ZERO];
    slice::decode(&[E8M0::MAX], &mut h1).unwrap();
    assert!(h1[0].is_infinite());
    let mut b1 = [bf16::ZERO];
    slice::decode(&[E8M0::MAX], &mut b1).unwrap();
    assert_eq!(b1[0].to_f32(), 2f32.powi(127));
}
