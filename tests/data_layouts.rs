//! Element data layouts (`blockscale::layout::DataLayout`) against
//! independent constructions: the FP6 bit stream built as one big
//! little-endian integer, FP4 nibbles by hand, the transpose by index, and
//! round trips with padding on random shapes.

use blockscale::format::{MxFp6E3M2, Nvfp4};
use blockscale::layout::{DataLayout, Fp6Packing, Major};
use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
use proptest::prelude::*;

/// Sixteen 6-bit codes as one 96-bit little-endian integer, code i at bits
/// 6i..6i+6, written out as 12 bytes.
fn stream16(codes: &[u8]) -> Vec<u8> {
    let v = codes
        .iter()
        .enumerate()
        .fold(0u128, |acc, (i, &c)| acc | u128::from(c) << (6 * i));
    v.to_le_bytes()[..12].to_vec()
}

#[test]
fn packed_fp6_is_the_little_endian_bit_stream() {
    let l = DataLayout::k_major().fp6(Fp6Packing::Packed);
    // By hand: 0x01, 0x02, 0x03, 0x3F = 0b111111_000011_000010_000001.
    assert_eq!(
        l.lay_out(&[0x01, 0x02, 0x03, 0x3F], 1, 4, 6).unwrap(),
        [0x81, 0x30, 0xFC]
    );
    let codes: Vec<u8> = (0..32).map(|i| ((i * 37 + 11) % 64) as u8).collect();
    let got = l.lay_out(&codes, 2, 16, 6).unwrap();
    assert_eq!(&got[..12], &stream16(&codes[..16])[..]);
    assert_eq!(&got[12..], &stream16(&codes[16..])[..]);
    // One code per byte, bits 7:6 zero.
    assert_eq!(
        DataLayout::k_major()
            .lay_out(&[0x3F, 0x01], 1, 2, 6)
            .unwrap(),
        [0x3F, 0x01]
    );
}

#[test]
fn fp4_nibbles_and_transpose_by_hand() {
    // 2 × 3 codes [[1, 2, 3], [4, 5, 6]].
    let codes = [1, 2, 3, 4, 5, 6];
    // K-major: each row on whole bytes: [0x21, 0x03], [0x54, 0x06].
    assert_eq!(
        DataLayout::k_major().lay_out(&codes, 2, 3, 4).unwrap(),
        [0x21, 0x03, 0x54, 0x06]
    );
    // MN-major: columns [1, 4], [2, 5], [3, 6].
    assert_eq!(
        DataLayout::mn_major().lay_out(&codes, 2, 3, 4).unwrap(),
        [0x41, 0x52, 0x63]
    );
    // Rows to 4, row bytes to 4: zero padding around the data.
    let p = DataLayout::mn_major()
        .rows_to(4)
        .row_bytes_to(4)
        .lay_out(&codes, 2, 3, 4)
        .unwrap();
    assert_eq!(p, [0x41, 0, 0, 0, 0x52, 0, 0, 0, 0x63, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn quantized_data_in_each_layout() {
    let x: Vec<f32> = (0..6 * 64).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
    let o = QuantizeOptions::default();
    let q = QuantizedTensor::quantize(Nvfp4::default(), &x, 6, 64, &o).unwrap();
    let code = |i: usize, j: usize| (q.data()[(i * 64 + j) / 2] >> (4 * (j % 2))) & 0xF;
    let t = q.data_in(DataLayout::mn_major().row_bytes_to(16)).unwrap();
    // 64 rows of 6 codes = 3 bytes, padded to 16.
    assert_eq!(t.len(), 64 * 16);
    for j in 0..64 {
        for i in 0..6 {
            assert_eq!(
                (t[j * 16 + i / 2] >> (4 * (i % 2))) & 0xF,
                code(i, j),
                "({i}, {j})"
            );
        }
        assert!(t[j * 16 + 3..(j + 1) * 16].iter().all(|&b| b == 0));
    }
    let q6 = QuantizedTensor::quantize(MxFp6E3M2::default(), &x, 6, 64, &o).unwrap();
    let p = q6
        .data_in(DataLayout::k_major().fp6(Fp6Packing::Packed))
        .unwrap();
    assert_eq!(p.len(), 6 * 48);
    for r in 0..6 {
        for h in 0..4 {
            let codes = &q6.data()[r * 64 + h * 16..r * 64 + h * 16 + 16];
            assert_eq!(
                &p[r * 48 + h * 12..r * 48 + h * 12 + 12],
                &stream16(codes)[..]
            );
        }
    }
}

#[test]
fn bad_layouts_are_errors() {
    let l = DataLayout::k_major().fp6(Fp6Packing::Packed);
    assert!(
        l.lay_out(&[0; 6], 1, 6, 6)
            .unwrap_err()
            .to_string()
            .contains("groups of 4")
    );
    assert!(DataLayout::k_major().lay_out(&[0; 4], 1, 4, 5).is_err());
    assert!(
        DataLayout::k_major()
            .rows_to(0)
            .lay_out(&[0; 4], 1, 4, 8)
            .is_err()
    );
    assert!(DataLayout::k_major().lay_out(&[0; 3], 1, 4, 8).is_err());
    assert!(DataLayout::k_major().read_back(&[0; 3], 1, 4, 8).is_err());
    assert!(
        DataLayout::k_major()
            .rows_to(usize::MAX)
            .shape(3, 4, 8)
            .is_err()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn read_back_inverts_lay_out(
        rows in 0usize..40,
        quads in 0usize..10,
        bits in proptest::sample::select(vec![4u32, 6, 8]),
        mn in any::<bool>(),
        packed in any::<bool>(),
        row_multiple in proptest::sample::select(vec![1usize, 16, 32, 128]),
        row_bytes in proptest::sample::select(vec![1usize, 8, 16]),
        seed in any::<u64>(),
    ) {
        // Packed FP6 needs whole groups of 4 along the laid-out rows.
        let (rows, cols) = if mn { (rows / 4 * 4, quads * 3 + 1) } else { (rows, quads * 4) };
        let mask = ((1u32 << bits) - 1) as u8;
        let codes: Vec<u8> = (0..rows * cols)
            .map(|i| (seed.rotate_left(i as u32 % 64) ^ i as u64) as u8 & mask)
            .collect();
        let l = if mn { DataLayout::mn_major() } else { DataLayout::k_major() }
            .rows_to(row_multiple)
            .row_bytes_to(row_bytes)
            .fp6(if packed { Fp6Packing::Packed } else { Fp6Packing::Bytes });
        let data = l.lay_out(&codes, rows, cols, bits).unwrap();
        let (r, b) = l.shape(rows, cols, bits).unwrap();
        prop_assert_eq!(data.len(), r * b);
        prop_assert_eq!(r % row_multiple, 0);
        prop_assert_eq!(b % row_bytes, 0);
        prop_assert_eq!(l.major, if mn { Major::Mn } else { Major::K });
        prop_assert_eq!(l.read_back(&data, rows, cols, bits).unwrap(), codes);
    }
}
