//! What the AVX2 and AVX-512 one-pass NVFP4 kernels (`avx2/scaled.rs`,
//! `avx512/scaled.rs`) share: the order of their work, a chunk of blocks
//! at a time and, in a chunk, the blocks that need no NaN test in runs
//! (AVX2; AVX-512 takes such blocks four at a time).

/// Blocks a chunk: the kernels encode a row's elements a chunk at a time,
/// and a chunk's NaN blocks are the bits of one u64.
pub(super) const CHUNK: usize = 64;

/// Chunks whose scales and maps the kernels form in one call, before
/// their elements: the maps' steps (encode, decode, divide) are a long
/// chain of latencies, and the elements of one chunk take longer than the
/// core looks ahead, so a single chunk's four AVX-512 vectors of maps
/// could not overlap (`perf`: a sixth of an NVFP4 row in L2 on a Zen 4).
pub(super) const GROUP: usize = 4;

/// A row of `amaxes.len()` blocks of 16, [`GROUP`] chunks of [`CHUNK`] at
/// a time: first `maps_of(amaxes, scales, maps)` writes their scale codes
/// and maps and returns each chunk's NaN blocks (bit j for the chunk's
/// block j), then `elements((maps, nans), src, dst, ahead)` encodes a
/// chunk's elements, each call given the chunk's part of the row. Each step
/// is a function of its own in the kernels: inlined into one loop, the
/// AVX2 element encoder's constants spilled to the stack and the row ran
/// slower than the two steps it replaces. The lengths are the caller's to
/// check: `src` holds 16 elements a block, `scales` one byte and `dst`
/// eight.
#[inline(always)]
pub(super) fn by_chunks(
    (amaxes, src, ahead): (&[f32], &[f32], &[f32]),
    (scales, dst): (&mut [u8], &mut [u8]),
    mut maps_of: impl FnMut(&[f32], &mut [u8], &mut [f32]) -> [u64; GROUP],
    mut elements: impl FnMut((&[f32], u64), &[f32], &mut [u8], &[f32]),
) {
    let nb = amaxes.len();
    let mut maps = [0f32; GROUP * CHUNK];
    for g0 in (0..nb).step_by(GROUP * CHUNK) {
        let g1 = (g0 + GROUP * CHUNK).min(nb);
        let maps = &mut maps[..g1 - g0];
        let nans = maps_of(&amaxes[g0..g1], &mut scales[g0..g1], maps);
        for (c, maps) in maps.chunks(CHUNK).enumerate() {
            let (c0, c1) = (g0 + c * CHUNK, g0 + c * CHUNK + maps.len());
            let ahead = ahead.get(16 * c0..).unwrap_or(&[]);
            let (src, dst) = (&src[16 * c0..16 * c1], &mut dst[8 * c0..8 * c1]);
            elements((maps, nans[c]), src, dst, ahead);
        }
    }
}

/// Calls `encode(b, maps[b], num)` for every block `b` of a chunk, in
/// order, with `num` true where bit b of `nans` is clear (no element
/// times its map can be NaN, so the encode may leave out the NaN test).
/// The blocks up to the next one that `nans` names run in a loop of their
/// own, with `num` a constant there once this is inlined.
///
/// The kernels set a block's bit where its amax a times its map e is
/// NaN. An element x of the block has |x| ≤ a, and x·e is NaN only for a
/// NaN x (then a is NaN) or ±Inf times a map of 0 (then a·e is Inf·0): so
/// where a·e is a number, so is every x·e, e being finite.
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
