//! The packers' tests: each SIMD table's against its definition.

use crate::gemm::kernels::tests::{each_table, stream};
use crate::simd;

/// Each table's 4-bit quad packer against its definition, worked here
/// code by code: both widths, every row count, quad counts with and
/// without a partial strip of 16, and block sums over runs of quads that
/// do and do not divide a strip. Slots of rows past the count and sums of
/// those rows keep their sentinel.
#[test]
fn nibble_quad_packers_match_their_definition() {
    // A table like the i8 packers': a code's integer as an i8 byte.
    let lut: [u8; 16] = core::array::from_fn(|c| ((c as i8 - 8) * 9) as u8);
    let checked = core::cell::Cell::new(0);
    each_table(|level, k| {
        let Some(quads) = k.nibble_quads else {
            return;
        };
        let mut next = stream(0x9E37_79B9_7F4A_7C15);
        for width in [8, 16] {
            for rows in 0..=width {
                for (nq, qpb) in [(1, 1), (16, 4), (50, 4), (40, 8), (72, 32), (33, 3)] {
                    let stride = 2 * nq + 5;
                    let src: Vec<u8> = (0..rows * stride).map(|_| next() as u8).collect();
                    let mut out = vec![0xDEAD_BEEFu32; nq * width];
                    let mut sums = vec![i32::MIN; nq.div_ceil(qpb) * width];
                    quads(
                        &lut,
                        &src,
                        stride,
                        rows,
                        nq,
                        &mut out,
                        width,
                        Some((qpb, &mut sums)),
                    );
                    for q in 0..nq {
                        for j in 0..width {
                            let want = if j < rows {
                                let code = |i: usize| {
                                    let byte = src[j * stride + i / 2];
                                    lut[usize::from(if i.is_multiple_of(2) {
                                        byte & 0xF
                                    } else {
                                        byte >> 4
                                    })]
                                };
                                u32::from_le_bytes(core::array::from_fn(|b| code(4 * q + b)))
                            } else {
                                0xDEAD_BEEF
                            };
                            assert_eq!(
                                out[q * width + j],
                                want,
                                "{level:?} {width} {rows} {nq} q{q} j{j}"
                            );
                        }
                    }
                    for (blk, got) in sums.chunks(width).enumerate() {
                        for (j, &g) in got.iter().enumerate() {
                            let want = if j < rows {
                                (blk * qpb..((blk + 1) * qpb).min(nq))
                                    .flat_map(|q| out[q * width + j].to_le_bytes())
                                    .map(|b| i32::from(b as i8))
                                    .sum()
                            } else {
                                i32::MIN
                            };
                            assert_eq!(
                                g, want,
                                "{level:?} sums {width} {rows} {nq}/{qpb} block {blk}"
                            );
                        }
                    }
                    // Without sums: the same quads.
                    let mut again = vec![0xDEAD_BEEFu32; nq * width];
                    quads(&lut, &src, stride, rows, nq, &mut again, width, None);
                    assert_eq!(again, out);
                }
            }
        }
        checked.set(checked.get() + 1);
    });
    // On a CPU with AVX-512, at least one table has the packer.
    if simd::detected() >= simd::Level::Avx512 {
        assert!(checked.get() > 0);
    }
}
