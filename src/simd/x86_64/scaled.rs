//! What the AVX2 and AVX-512 one-pass NVFP4 kernels (`avx2/scaled.rs`,
//! `avx512/scaled.rs`) share: the order in which a chunk's blocks are
//! encoded.

/// Blocks a chunk: the kernels take a row's scales and maps a chunk at a
/// time, then its elements, and a chunk's NaN blocks are the bits of one
/// u64.
pub(super) const CHUNK: usize = 64;

/// Calls `encode(b, maps[b], num)` for every block `b` of a chunk, in
/// order, with `num` true where bit b of `nans` is clear (no element
/// times its map can be NaN, so the encode may leave out the NaN test).
/// The blocks up to the next one that `nans` names run in a loop of their
/// own, with `num` a constant there once this is inlined.
#[inline(always)]
pub(super) fn each_block(maps: &[f32], nans: u64, mut encode: impl FnMut(usize, f32, bool)) {
    let n = maps.len();
    assert!(
        n <= CHUNK,
        "a chunk is at most 64 blocks (the bits of `nans`)"
    );
    let mut b = 0;
    while b < n {
        let run = match nans >> b {
            0 => n - b,
            rest => rest.trailing_zeros() as usize,
        };
        for (j, &mul) in maps[b..b + run].iter().enumerate() {
            encode(b + j, mul, true);
        }
        b += run;
        if let Some(&mul) = maps.get(b) {
            encode(b, mul, false);
            b += 1;
        }
    }
}
