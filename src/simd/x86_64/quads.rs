//! What the x86 4-bit quad packers (`avx2::quads`, `avx512::quads`)
//! share: the checks their raw reads and writes rely on.

/// Asserts the geometry of a
/// [`Kernels::nibble_quads`](crate::simd::Kernels::nibble_quads) call:
/// `width` 8 or 16, `rows ≤ width`, and `src`, `out` and the sums (their
/// `qpb` and length) long enough. False if there is nothing to pack.
pub(super) fn check(
    src: &[u8],
    stride: usize,
    rows: usize,
    nq: usize,
    out: &[u32],
    width: usize,
    sums: Option<(usize, &[i32])>,
) -> bool {
    assert!((width == 8 || width == 16) && rows <= width);
    if rows == 0 || nq == 0 {
        return false;
    }
    assert!((rows - 1) * stride + 2 * nq <= src.len());
    assert!((nq - 1) * width + rows <= out.len());
    if let Some((qpb, sums)) = sums {
        assert!(qpb > 0 && sums.len() >= nq.div_ceil(qpb) * width);
    }
    true
}
