//! The swizzled scale layout, checked against offsets worked out by hand from
//! the cuBLAS / Transformer Engine formula
//!
//! ```text
//! off(r, c) = ((r/128)·(C/4) + c/4)·512 + (r%32)·16 + ((r%128)/32)·4 + c%4
//! ```
//!
//! (TE `transformer_engine/common/cast/nvfp4/swizzle.cuh`, torchao
//! `mx_formats/utils.py::to_blocked`), plus round trips on random shapes, a
//! permutation check, and the error cases.

use blockscale::Error;
use blockscale::layout::{
    ScaleLayout, swizzle, swizzle_into, swizzled_offset, swizzled_shape, unswizzle, unswizzle_into,
};
use proptest::prelude::*;

/// `(r, c, cols, offset)`, each offset computed by hand below.
const HAND: &[(usize, usize, usize, usize)] = &[
    // cols = 4: C = 4, C/4 = 1 tile column.
    (0, 0, 4, 0),      // 0
    (0, 1, 4, 1),      // c%4 = 1
    (0, 3, 4, 3),      // c%4 = 3
    (1, 0, 4, 16),     // (r%32)·16 = 16
    (2, 1, 4, 33),     // 2·16 + 1
    (31, 0, 4, 496),   // 31·16 = 496
    (32, 0, 4, 4),     // r%32 = 0; (32%128)/32 = 1 → 1·4 = 4
    (33, 2, 4, 22),    // 1·16 + 1·4 + 2 = 22
    (64, 1, 4, 9),     // 0·16 + 2·4 + 1 = 9
    (96, 2, 4, 14),    // 0·16 + 3·4 + 2 = 14
    (127, 3, 4, 511),  // 31·16 + 3·4 + 3 = 496 + 12 + 3 = 511
    (128, 0, 4, 512),  // (1·1 + 0)·512 = 512
    (129, 2, 4, 530),  // 512 + 1·16 + 0·4 + 2 = 530
    (255, 3, 4, 1023), // 512 + 511 = 1023
    // cols = 8: C = 8, C/4 = 2 tile columns.
    (0, 4, 8, 512),    // (0·2 + 1)·512 = 512
    (0, 7, 8, 515),    // 512 + 3
    (1, 4, 8, 528),    // 512 + 16
    (128, 0, 8, 1024), // (1·2 + 0)·512 = 1024
    (128, 5, 8, 1537), // (1·2 + 1)·512 + 0 + 0 + 1 = 1537
    // (200, 6): r/128 = 1, c/4 = 1 → (2 + 1)·512 = 1536; r%32 = 8 → 128;
    // (200%128)/32 = 72/32 = 2 → 8; c%4 = 2. 1536 + 128 + 8 + 2 = 1674.
    (200, 6, 8, 1674),
    // cols = 5 pads to C = 8, so it addresses like cols = 8.
    (1, 4, 5, 528), // (0·2 + 1)·512 + 16 = 528
    // cols = 3 pads to C = 4.
    (129, 2, 3, 530), // (1·1 + 0)·512 + 16 + 2 = 530
    // cols = 1 pads to C = 4: (5, 0) → 5·16 = 80; (300, 0) → r/128 = 2 →
    // 2·512 = 1024; r%32 = 300 − 288 = 12 → 192; (300%128)/32 = 44/32 = 1 → 4.
    (5, 0, 1, 80),
    (300, 0, 1, 1220), // 1024 + 192 + 4 = 1220
    // cols = 13 pads to C = 16, 4 tile columns: (130, 9): r/128 = 1, c/4 = 2
    // → (4 + 2)·512 = 3072; r%32 = 2 → 32; (130%128)/32 = 0; c%4 = 1 → 3105.
    (130, 9, 13, 3105),
];

#[test]
fn offsets_match_hand_computed_values() {
    for &(r, c, cols, want) in HAND {
        assert_eq!(
            swizzled_offset(r, c, cols),
            want,
            "({r}, {c}) with cols={cols}"
        );
    }
}

#[test]
fn swizzle_puts_each_cell_at_the_hand_computed_offset() {
    // Each hand-computed cell, in a matrix just big enough to hold it; the
    // cell's value is found at that offset and nowhere else.
    for &(r, c, cols, want) in HAND {
        let rows = r + 1;
        let mut src = vec![0u32; rows * cols];
        src[r * cols + c] = 1;
        let swz = swizzle(&src, rows, cols, 0).unwrap();
        let ones: Vec<usize> = (0..swz.len()).filter(|&i| swz[i] == 1).collect();
        assert_eq!(ones, [want], "({r}, {c}) with rows={rows} cols={cols}");
    }
}

#[test]
fn first_tile_of_a_256x4_matrix_by_hand() {
    // Value = row-major index. Swizzled position p = (r%32)·16 + (r/32)·4 + c
    // inside the first tile, so p = 0..4 holds row 0 (values 0..4), p = 4..8
    // holds row 32 (values 128..132), p = 8..12 row 64, p = 12..16 row 96,
    // p = 16..20 row 1 (values 4..8).
    let src: Vec<u32> = (0..256 * 4).collect();
    let swz = swizzle(&src, 256, 4, u32::MAX).unwrap();
    assert_eq!(swz.len(), 1024);
    assert_eq!(&swz[0..4], &[0, 1, 2, 3]);
    assert_eq!(&swz[4..8], &[128, 129, 130, 131]);
    assert_eq!(&swz[8..12], &[256, 257, 258, 259]);
    assert_eq!(&swz[12..16], &[384, 385, 386, 387]);
    assert_eq!(&swz[16..20], &[4, 5, 6, 7]);
    // Second tile starts with row 128 (value 512).
    assert_eq!(&swz[512..516], &[512, 513, 514, 515]);
    // Last cell: row 255, col 3 → value 1023 at offset 1023.
    assert_eq!(swz[1023], 1023);
}

#[test]
fn shapes_are_padded_to_128_by_4() {
    assert_eq!(swizzled_shape(256, 4), Ok((256, 4)));
    assert_eq!(swizzled_shape(128, 4), Ok((128, 4)));
    assert_eq!(swizzled_shape(129, 4), Ok((256, 4)));
    assert_eq!(swizzled_shape(200, 5), Ok((256, 8)));
    assert_eq!(swizzled_shape(1, 1), Ok((128, 4)));
    assert_eq!(swizzled_shape(0, 0), Ok((0, 0)));
    assert_eq!(swizzled_shape(0, 3), Ok((0, 4)));
    assert_eq!(swizzled_shape(3, 0), Ok((128, 0)));
    assert_eq!(ScaleLayout::RowMajor.storage_len(200, 5), Ok(1000));
    assert_eq!(ScaleLayout::Swizzled.storage_len(200, 5), Ok(2048));
    assert_eq!(ScaleLayout::default(), ScaleLayout::RowMajor);
}

#[test]
fn empty_matrices_round_trip() {
    for (rows, cols) in [(0, 0), (0, 5), (7, 0)] {
        let swz = swizzle::<u8>(&[], rows, cols, 0).unwrap();
        assert!(swz.is_empty());
        assert!(unswizzle::<u8>(&[], rows, cols).unwrap().is_empty());
        swizzle_into::<u8>(&[], rows, cols, 0, &mut []).unwrap();
        unswizzle_into::<u8>(&[], rows, cols, &mut []).unwrap();
    }
}

/// Checks that the offsets of the whole padded `R` × `C` grid are a
/// permutation of `0..R·C`, that the `rows` × `cols` cells land where
/// [`swizzled_offset`] says, and that every other cell holds `pad`.
fn check_permutation(rows: usize, cols: usize) {
    let (pr, pc) = swizzled_shape(rows, cols).unwrap();
    let n = pr * pc;
    let mut seen = vec![false; n];
    for r in 0..pr {
        for c in 0..pc {
            let off = swizzled_offset(r, c, pc);
            // Padding to C leaves C/4 unchanged, so padded and unpadded column
            // counts address alike.
            if c < cols {
                assert_eq!(off, swizzled_offset(r, c, cols));
            }
            assert!(off < n, "({r}, {c}) of {rows}x{cols} -> {off} >= {n}");
            assert!(!seen[off], "({r}, {c}) of {rows}x{cols} -> {off} twice");
            seen[off] = true;
        }
    }
    let src: Vec<usize> = (0..rows * cols).collect();
    let pad = usize::MAX;
    let swz = swizzle(&src, rows, cols, pad).unwrap();
    assert_eq!(swz.len(), n);
    for r in 0..pr {
        for c in 0..pc {
            let got = swz[swizzled_offset(r, c, pc)];
            if r < rows && c < cols {
                assert_eq!(got, r * cols + c);
            } else {
                assert_eq!(got, pad, "padding ({r}, {c}) of {rows}x{cols}");
            }
        }
    }
    assert_eq!(
        swz.iter().filter(|&&x| x == pad).count(),
        n - rows * cols,
        "{rows}x{cols}"
    );
}

#[test]
fn offsets_are_a_permutation_with_padding() {
    for (rows, cols) in [
        (1, 1),
        (31, 3),
        (32, 4),
        (100, 7),
        (128, 4),
        (129, 5),
        (256, 8),
        (300, 19),
        (385, 13),
    ] {
        check_permutation(rows, cols);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip(
        (rows, cols, src) in (1usize..300, 1usize..20).prop_flat_map(|(r, c)| {
            (Just(r), Just(c), proptest::collection::vec(any::<u8>(), r * c))
        }),
        pad in any::<u8>(),
    ) {
        let (pr, pc) = swizzled_shape(rows, cols).unwrap();
        let swz = swizzle(&src, rows, cols, pad).unwrap();
        prop_assert_eq!(swz.len(), pr * pc);
        for r in 0..rows {
            for c in 0..cols {
                prop_assert_eq!(swz[swizzled_offset(r, c, cols)], src[r * cols + c]);
            }
        }
        prop_assert_eq!(&unswizzle(&swz, rows, cols).unwrap(), &src);

        // The `_into` variants agree, and overwrite whatever was there.
        let mut into = vec![pad.wrapping_add(1); pr * pc];
        swizzle_into(&src, rows, cols, pad, &mut into).unwrap();
        prop_assert_eq!(&into, &swz);
        let mut back = vec![0u8; rows * cols];
        unswizzle_into(&swz, rows, cols, &mut back).unwrap();
        prop_assert_eq!(&back, &src);
    }

    #[test]
    fn permutation_on_random_shapes(rows in 1usize..300, cols in 1usize..20) {
        check_permutation(rows, cols);
    }

    #[test]
    fn unswizzle_ignores_padding(rows in 1usize..300, cols in 1usize..20, junk in any::<u8>()) {
        let src: Vec<u8> = (0..rows * cols).map(|i| i as u8).collect();
        let a = swizzle(&src, rows, cols, 0).unwrap();
        let b = swizzle(&src, rows, cols, junk).unwrap();
        prop_assert_eq!(unswizzle(&a, rows, cols).unwrap(), unswizzle(&b, rows, cols).unwrap());
    }
}

#[test]
fn wrong_lengths_are_errors() {
    // 2×2 needs 4 row-major cells and 128·4 = 512 swizzled cells.
    assert_eq!(
        swizzle(&[0u8; 3], 2, 2, 0),
        Err(Error::LengthMismatch {
            what: "row-major scales",
            expected: 4,
            found: 3
        })
    );
    assert!(matches!(
        unswizzle(&[0u8; 511], 2, 2),
        Err(Error::LengthMismatch {
            expected: 512,
            found: 511,
            ..
        })
    ));
    // A row-major buffer is not a swizzled one.
    assert!(matches!(
        unswizzle(&[0u8; 4], 2, 2),
        Err(Error::LengthMismatch {
            expected: 512,
            found: 4,
            ..
        })
    ));

    let mut dst = [9u8; 4];
    assert!(matches!(
        swizzle_into(&[1u8; 4], 2, 2, 0, &mut dst),
        Err(Error::LengthMismatch {
            expected: 512,
            found: 4,
            ..
        })
    ));
    assert_eq!(dst, [9; 4], "dst untouched on error");
    assert!(matches!(
        swizzle_into(&[1u8; 5], 2, 2, 0, &mut [0u8; 512]),
        Err(Error::LengthMismatch {
            expected: 4,
            found: 5,
            ..
        })
    ));

    let mut dst = [9u8; 3];
    assert!(matches!(
        unswizzle_into(&[1u8; 512], 2, 2, &mut dst),
        Err(Error::LengthMismatch {
            expected: 4,
            found: 3,
            ..
        })
    ));
    assert_eq!(dst, [9; 3], "dst untouched on error");
    assert!(matches!(
        unswizzle_into(&[1u8; 4], 2, 2, &mut [0u8; 4]),
        Err(Error::LengthMismatch {
            expected: 512,
            found: 4,
            ..
        })
    ));
}

#[test]
fn overflow_is_an_error_not_a_panic() {
    let huge = [
        (usize::MAX, 1),             // R = roundup(MAX, 128) overflows
        (1, usize::MAX),             // C = roundup(MAX, 4) overflows
        (usize::MAX - 200, 4),       // R overflows
        (usize::MAX / 2, 4),         // R = 2^(w−1) fits in w bits, R·C does not
        (usize::MAX >> 20, 1 << 21), // R = 2^(w−20), C = 2^21: R·C = 2^(w+1)
        (usize::MAX, usize::MAX),
    ];
    for (rows, cols) in huge {
        assert!(
            matches!(swizzled_shape(rows, cols), Err(Error::ShapeOverflow { .. })),
            "{rows}x{cols}"
        );
        assert!(ScaleLayout::Swizzled.storage_len(rows, cols).is_err());
        // Row-major needs no padding, so only a product that overflows fails.
        assert_eq!(
            ScaleLayout::RowMajor.storage_len(rows, cols).ok(),
            rows.checked_mul(cols)
        );
        assert!(matches!(
            swizzle(&[0u8; 4], rows, cols, 0),
            Err(Error::ShapeOverflow { .. })
        ));
        assert!(matches!(
            unswizzle(&[0u8; 4], rows, cols),
            Err(Error::ShapeOverflow { .. })
        ));
        assert!(matches!(
            swizzle_into(&[0u8; 4], rows, cols, 0, &mut [0u8; 4]),
            Err(Error::ShapeOverflow { .. })
        ));
        assert!(matches!(
            unswizzle_into(&[0u8; 4], rows, cols, &mut [0u8; 4]),
            Err(Error::ShapeOverflow { .. })
        ));
    }
    // swizzled_offset outside its precondition returns something unspecified
    // but does not panic, in debug builds too.
    for (r, c, cols) in [
        (usize::MAX, usize::MAX, usize::MAX),
        (usize::MAX, 3, 4),
        (0, usize::MAX, 1),
        (usize::MAX / 2, 0, usize::MAX),
    ] {
        let _ = swizzled_offset(r, c, cols);
    }
}
