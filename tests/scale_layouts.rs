//! The scale-layout registry (`blockscale::layout::ScaleLayout`), checked
//! against offsets worked out by hand from each source's definition (the
//! comments show the arithmetic; sources in `src/layout.rs`), plus, for
//! every layout, a permutation check on random shapes, round trips, the
//! batched (per-expert) form and the error cases.

use blockscale::Error;
use blockscale::layout::ScaleLayout as L;
use proptest::prelude::*;

/// `(layout, rows, cols, r, c, offset)`, by hand.
const HAND: &[(L, usize, usize, usize, usize, usize)] = &[
    // 128×4: ((r/128)·rup(C,4)/4 + c/4)·512 + (r%32)·16 + ((r%128)/32)·4 + c%4.
    (L::Swizzled, 5, 6, 1, 2, 18),       // 1·16 + 2
    (L::Swizzled, 5, 6, 4, 5, 577),      // (0 + 1)·512 + 4·16 + 1
    (L::Swizzled, 130, 6, 129, 5, 1553), // (1·2 + 1)·512 + 1·16 + 1
    // 8×4: ((r/8)·rup(C,4)/4 + c/4)·32 + (r%8)·4 + c%4.
    (L::Swizzled8x4, 5, 6, 1, 2, 6),    // 1·4 + 2
    (L::Swizzled8x4, 5, 6, 4, 5, 49),   // (0 + 1)·32 + 4·4 + 1
    (L::Swizzled8x4, 10, 6, 9, 5, 101), // (1·2 + 1)·32 + 1·4 + 1
    // MN-major: c·rup(R,4) + r, rup(5,4) = 8.
    (L::MnMajor, 5, 6, 1, 2, 17), // 2·8 + 1
    (L::MnMajor, 5, 6, 4, 5, 44), // 5·8 + 4
    (L::MnMajor, 4, 3, 3, 2, 11), // 2·4 + 3: no padding at 4 rows
    // DeepGEMM packed UE8M0: 4·((c/4)·rup(R,4) + r) + c%4.
    (L::PackedUe8m0, 5, 6, 0, 0, 0),
    (L::PackedUe8m0, 5, 6, 1, 2, 6),  // word 1, byte 2
    (L::PackedUe8m0, 5, 6, 4, 5, 49), // word 8 + 4 = 12, byte 1
    (L::PackedUe8m0, 5, 6, 4, 3, 19), // word 4, byte 3
    // TE 128×128 GEMM-ready: r·rup(C,4) + c.
    (L::RowMajorPad4, 5, 6, 1, 2, 10), // 1·8 + 2
    (L::RowMajorPad4, 5, 6, 4, 5, 37), // 4·8 + 5
    // AMD gfx950 32×8: (r/32)·32·rup(C,8) + (c/8)·256 + (c%4)·64 + (r%16)·4
    // + ((c/4)%2)·2 + (r/16)%2.
    (L::Gfx950, 5, 6, 0, 0, 0),
    (L::Gfx950, 5, 6, 1, 2, 132), // 2·64 + 1·4
    (L::Gfx950, 5, 6, 4, 5, 82),  // 1·64 + 4·4 + 1·2
    (L::Gfx950, 20, 6, 17, 0, 5), // 1·4 + 1: rows 16..32 pair with rows 0..16
    // rup(14, 8) = 16: 1·32·16 + 1·256 + 1·64 + 1·4 + 1·2 + 1 (every term).
    (L::Gfx950, 60, 14, 49, 13, 839),
    // Row-major.
    (L::RowMajor, 5, 6, 4, 5, 29), // 4·6 + 5
];

#[test]
fn offsets_match_hand_computed_values() {
    for &(l, rows, cols, r, c, want) in HAND {
        assert!(r < rows && c < cols, "({r}, {c}) is outside {rows}x{cols}");
        assert_eq!(
            l.offset(r, c, rows, cols),
            want,
            "{l} {rows}x{cols} ({r}, {c})"
        );
        // And pack puts the cell there.
        let src: Vec<u32> = (0..(rows * cols) as u32).collect();
        let p = l.pack(&src, rows, cols, u32::MAX).unwrap();
        assert_eq!(p[want], (r * cols + c) as u32, "{l}");
    }
}

#[test]
fn storage_sizes_by_hand() {
    // 5 × 6 scales.
    for (l, len) in [
        (L::RowMajor, 30),
        (L::Swizzled, 128 * 8),
        (L::Swizzled8x4, 8 * 8),
        (L::MnMajor, 8 * 6),
        (L::PackedUe8m0, 4 * 2 * 8), // 2 word groups × 8 rows × 4 bytes
        (L::RowMajorPad4, 5 * 8),
        (L::Gfx950, 256 * 8),
    ] {
        assert_eq!(l.storage_len(5, 6), Ok(len), "{l}");
    }
}

/// DeepGEMM's words: the lowest K block in the lowest byte, as
/// `e0 | e1 << 8 | e2 << 16 | e3 << 24`.
#[test]
fn packed_ue8m0_words_are_little_endian_k_groups() {
    let src: Vec<u8> = (0..3 * 5).map(|i| 100 + i as u8).collect(); // 3 rows × 5 blocks
    let p = L::PackedUe8m0.pack(&src, 3, 5, 0).unwrap();
    let words: Vec<u32> = p
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    // Rows pad to 4: words [k-group 0: rows 0..4][k-group 1: rows 0..4].
    assert_eq!(words.len(), 8);
    assert_eq!(words[1], u32::from_le_bytes([105, 106, 107, 108])); // row 1, blocks 0..4
    assert_eq!(words[4 + 2], u32::from_le_bytes([114, 0, 0, 0])); // row 2, block 4 + zero pad
    assert_eq!(words[3], 0); // padding row
}

/// Checks that the layout maps the `rows × cols` cells one-to-one into
/// `[0, storage_len)`, that `pack` leaves every other cell at `pad`, and
/// that `unpack` inverts it whatever the padding holds.
fn check(l: L, rows: usize, cols: usize) {
    let len = l.storage_len(rows, cols).unwrap();
    let mut hit = vec![false; len];
    for r in 0..rows {
        for c in 0..cols {
            let o = l.offset(r, c, rows, cols);
            assert!(o < len, "{l} {rows}x{cols} ({r}, {c}) -> {o} >= {len}");
            assert!(!hit[o], "{l} {rows}x{cols}: ({r}, {c}) collides at {o}");
            hit[o] = true;
        }
    }
    let src: Vec<u32> = (1..=(rows * cols) as u32).collect();
    let mut p = l.pack(&src, rows, cols, 0).unwrap();
    assert_eq!(p.iter().filter(|&&v| v == 0).count(), len - rows * cols);
    for (v, h) in p.iter_mut().zip(&hit) {
        if !h {
            *v = 0xDEAD;
        }
    }
    assert_eq!(l.unpack(&p, rows, cols).unwrap(), src);
}

#[test]
fn every_layout_is_a_permutation_with_padding_at_tile_edges() {
    for l in L::ALL {
        for (rows, cols) in [
            (1, 1),
            (5, 6),
            (31, 7),
            (32, 8),
            (33, 9),
            (128, 4),
            (129, 5),
            (256, 16),
            (257, 17),
        ] {
            check(l, rows, cols);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn permutation_on_random_shapes(l in proptest::sample::select(L::ALL.to_vec()), rows in 1usize..300, cols in 1usize..24) {
        check(l, rows, cols);
    }

    #[test]
    fn batches_are_each_matrix_laid_out_in_turn(
        l in proptest::sample::select(L::ALL.to_vec()),
        batch in 0usize..4,
        rows in 0usize..70,
        cols in 0usize..12,
    ) {
        let src: Vec<u16> = (0..(batch * rows * cols) as u16).collect();
        let p = l.pack_batch(&src, batch, rows, cols, 7).unwrap();
        let one = l.storage_len(rows, cols).unwrap();
        prop_assert_eq!(p.len(), batch * one);
        for e in 0..batch {
            let m = &src[e * rows * cols..(e + 1) * rows * cols];
            prop_assert_eq!(&p[e * one..(e + 1) * one], &l.pack(m, rows, cols, 7).unwrap()[..]);
        }
        prop_assert_eq!(l.unpack_batch(&p, batch, rows, cols).unwrap(), src);
    }
}

#[test]
fn names_round_trip_and_unknown_names_are_errors() {
    for l in L::ALL {
        assert_eq!(l.name().parse::<L>(), Ok(l));
        assert_eq!(l.to_string(), l.name());
    }
    let e = "swizzled".parse::<L>().unwrap_err();
    assert!(
        e.to_string()
            .contains("expected one of row_major, swizzled_128x4"),
        "{e}"
    );
}

#[test]
fn wrong_lengths_and_overflow_are_errors() {
    for l in L::ALL {
        assert!(
            matches!(
                l.pack(&[0u8; 5], 2, 3, 0),
                Err(Error::LengthMismatch { .. })
            ),
            "{l}"
        );
        let len = l.storage_len(2, 3).unwrap();
        assert!(matches!(
            l.unpack(&vec![0u8; len + 1], 2, 3),
            Err(Error::LengthMismatch { .. })
        ));
        let mut dst = vec![9u8; len - 1];
        assert!(l.pack_into(&[0u8; 6], 2, 3, 0, &mut dst).is_err());
        assert!(dst.iter().all(|&v| v == 9), "{l}: dst touched on error");
        assert!(l.storage_len(usize::MAX, 2).is_err(), "{l}");
        assert!(l.pack_batch(&[0u8; 6], usize::MAX, 2, 3, 0).is_err(), "{l}");
        assert!(
            l.unpack_batch(&[0u8; 6], usize::MAX / 2, 2, 3).is_err(),
            "{l}"
        );
        // Out of its precondition, offset never panics.
        let _ = l.offset(usize::MAX, usize::MAX, usize::MAX, usize::MAX);
    }
}
