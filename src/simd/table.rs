//! The kernel table: the architecture-specific kernels of one level,
//! chosen once per call.
//!
//! As matrixmultiply's `detect` and the gemm crate's `get_gemm_fn` do, a
//! public function picks the table once ([`kernels`] of [`super::active`],
//! on its calling thread) and calls straight into it. An entry is `None`
//! where the level has no kernel for that job, and the caller then runs its
//! portable code, which is the specification.
//!
//! The tables are the safety argument of the `unsafe` calls behind them:
//! a [`Kernels`] cannot be built outside `simd`, and [`kernels`] hands out
//! a table only for a level the CPU supports, so no kernel checks the CPU
//! again.

use super::{GEMM_MR as MR, GEMM_NR as NR, Level, detected};

/// What an element kernel needs to know about the element format and the
/// conversion options, flattened into numbers (built by the element
/// layer, which owns the formats) (nearest-even and stochastic
/// rounding only; the overflow code is the one those modes give).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // read only by the architecture-specific kernels
pub(crate) enum Codec {
    /// A sign–exponent–mantissa minifloat.
    Mini {
        /// Total width in bits (4, 6 or 8).
        bits: u32,
        /// Mantissa bits.
        man_bits: u32,
        /// Exponent bias.
        bias: i32,
        /// Largest finite magnitude code.
        max_code: u32,
        /// Magnitude code of an overflowing or infinite input: `max_code`
        /// or the code after it (Inf's, or E4M3's NaN), which the AVX2
        /// encoder's one-instruction clamp relies on.
        over_code: u32,
        /// Full code of a NaN input with the sign bit clear, and set.
        nan_pos: u32,
        /// See `nan_pos`.
        nan_neg: u32,
    },
    /// MXINT8: k/64, symmetric ±127.
    Int8 {
        /// Code of a NaN input.
        nan_code: u32,
    },
}

/// What is done to a high-precision value, in f32, before it is rounded to
/// the element format. Producers differ here (multiply by a reciprocal or
/// divide), and the bytes differ with them.
///
/// Public as [`crate::scale::ElementMap`]; it is defined here, beside the
/// encode kernels, because they take the formats' maps as they are, with
/// no conversion per block.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum ElementMap {
    /// `f32(x · m)` (Transformer Engine, torchao).
    Mul(f32),
    /// `f32(x / d)` (Model-Optimizer).
    Div(f32),
    /// `f32(f32(x / a) / b)` (JAX: divide by the global scale, then the block's).
    DivDiv(f32, f32),
    /// Every element of the block gets this code (zero blocks, where the
    /// producer's arithmetic would divide 0 by 0).
    Zero(u8),
}

/// Where the codes go: one per byte, or FP4 packed two per byte (element 2j
/// low nibble; an odd count leaves the last high nibble zero). Nibbles are
/// for 4-bit minifloats only: the encode kernels have no loop that packs
/// MXINT8's 8-bit codes as nibbles, and assert that none is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Packing {
    Bytes,
    Nibbles,
}

/// [`Kernels::encode_row`].
pub(crate) type EncodeRow =
    fn(&Codec, &[ElementMap], usize, &[f32], Option<&[u32]>, &mut [u8], Packing, &[f32]);
/// [`Kernels::encode_row_counter`].
pub(crate) type EncodeRowCounter = fn(
    &Codec,
    &[ElementMap],
    usize,
    &[f32],
    u64,
    (u64, u64, usize, usize),
    &mut [u8],
    Packing,
    &[f32],
) -> bool;
/// [`Kernels::scaled_row`].
pub(crate) type ScaledRow =
    fn(&Codec, &Codec, &Decoder, &[f32], (f32, f32), &[f32], &mut [u8], &mut [u8], &[f32]) -> bool;
/// What a decode kernel knows of an element format (built by the element
/// layer): its table, which is the specification, its code width and,
/// for a sign–exponent–mantissa minifloat, its layout, which lets a
/// kernel compute a value instead of looking it up.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Decoder {
    /// Value of every code (masked to `bits`).
    pub table: &'static [f32; 256],
    /// Code width.
    pub bits: u32,
    /// `Some(Codec::Mini { .. })` for a minifloat whose codes above
    /// `max_code` (the sign bit aside) are its only specials, so that every
    /// other code's value is given by `man_bits` and `bias` (not fnuz).
    #[allow(dead_code)] // read only by the AVX2 kernel
    pub mini: Option<Codec>,
    /// Each code `c | 128` decodes to code `c`'s value with the f32 sign
    /// bit flipped, for all 128 `c` (8-bit sign–magnitude tables).
    #[allow(dead_code)] // read only by the AVX-512 kernel
    pub sign_symmetric: bool,
}

/// [`Kernels::decode_row`].
pub(crate) type DecodeRow = fn(&Decoder, &[u8], &mut [f32], Option<(&[f32], usize)>, Packing);
/// [`Kernels::amax`].
pub(crate) type Amax = fn(&[f32]) -> f32;
/// [`Kernels::block_amaxes`].
pub(crate) type BlockAmaxes = fn(&[f32], usize, &mut [f32]);
/// [`Kernels::sr_seed`].
pub(crate) type SrSeed = fn(u64, u64, &mut [u64]);
/// [`Kernels::sr_draws`].
pub(crate) type SrDraws = fn(&mut [u64], &[u32], usize, &mut [u32]);
/// [`Kernels::sr_counter`].
pub(crate) type SrCounter = fn(u64, (u64, u64, usize, usize), &mut [u32]) -> bool;
/// [`Kernels::i8_tile`].
pub(crate) type I8Tile = fn(&QuadTile, usize, bool, &mut [f32; MR * NR]);
/// [`Kernels::f64_tile`].
pub(crate) type F64Tile =
    fn(&[f64], &[f64], &[f64], &[f64], usize, usize, bool, &mut [f32; MR * NR]);
/// [`Kernels::i16_tile`].
/// Arguments after the tiles: blocks (chunks), their length, chunks per
/// block term, the chunks to sum (whole block terms).
pub(crate) type I16Tile = fn(
    &PlaneTile,
    &PlaneTile,
    usize,
    usize,
    usize,
    core::ops::Range<usize>,
    Terms,
    &mut [f32; MR * NR],
);

/// How the i16 kernel rounds a block's term `S·P` to f32 (the planner's
/// choice; every way gives the same bits where the planner allows it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "std"), allow(dead_code))] // the GEMM needs std
pub(crate) enum Terms {
    /// Rounded to odd in f64, then to f32 (`gemm::kernels::term_f64`).
    Odd,
    /// Every scale product is a power of two: `f32(S·P)` from f64.
    Pow2,
    /// As `Pow2`, and each operand's factor `s·2^(e0 + shift)` and their
    /// product lie in f32's normal range, as does every `S·P`: a block of
    /// one chunk, summed in one pass of planes (`S = S_pq · 2^(s_p + s_q)`) may give
    /// `f32(S_pq)` times the f32 product of the factors (one rounding,
    /// then an exact scaling).
    Pow2F32,
}

/// One packed tile of an operand split into i16 planes (`gemm::pack`'s
/// `PackedPlanes`), for W = MR (A) or NR (B) rows, `blocks` K chunks of
/// `kbp` (even) elements, `cpb` chunks to a block term.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PlaneTile<'a> {
    /// Number of planes.
    pub planes: usize,
    /// `[plane][k / 2][W][2]`: pairs of elements along K.
    pub data: &'a [i16],
    /// `2^s` of each plane's values, `[plane][block][W]`.
    pub shifts: &'a [f64],
    /// Block scales (times `2^e0`), `[block][W]`.
    pub scales: &'a [f64],
    /// `[plane][block]`: bit i set if pair i of the block holds a nonzero
    /// value in the plane (blocks of at most 128 elements).
    pub pairs: &'a [u64],
}

/// One MR×NR tile's operands for [`Kernels::i8_tile`]: `blocks` K blocks
/// of `quads` quads (4 bytes of 4 consecutive K elements, as u32), A's
/// u8 `a + 128` and B's i8, each `[block][quad][W]` for W = MR (A) or NR
/// (B); their scales, `[block][W]`; and `nc`, `-128·Σb` per block and
/// column, `[block][NR]`. The fields are private to `simd` and
/// [`Self::new`] checks their lengths, so a kernel's reads within that
/// geometry need no check of their own.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "std"), allow(dead_code))] // the GEMM needs std
pub(crate) struct QuadTile<'a> {
    pub(in crate::simd) a: &'a [u32],
    pub(in crate::simd) sa: &'a [f32],
    pub(in crate::simd) b: &'a [u32],
    pub(in crate::simd) sb: &'a [f32],
    pub(in crate::simd) nc: &'a [i32],
    pub(in crate::simd) blocks: usize,
    pub(in crate::simd) quads: usize,
}

/// One K block of a [`QuadTile`] ([`QuadTile::block`]): A's `quads·MR`
/// quads and MR scales, B's `quads·NR` quads and NR scales, and B's NR
/// `-128·Σb`.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "std"), allow(dead_code))] // the GEMM needs std
pub(crate) struct QuadBlock<'a> {
    pub a: &'a [u32],
    pub sa: &'a [f32],
    pub b: &'a [u32],
    pub sb: &'a [f32],
    pub nc: &'a [i32],
}

#[cfg_attr(not(feature = "std"), allow(dead_code))] // the GEMM needs std
impl<'a> QuadTile<'a> {
    /// The tile of `blocks` K blocks of `quads` quads in these slices.
    ///
    /// Panics if a slice is shorter than that geometry needs (the GEMM
    /// sizes them exactly).
    pub(crate) fn new(
        a: &'a [u32],
        sa: &'a [f32],
        b: &'a [u32],
        sb: &'a [f32],
        nc: &'a [i32],
        blocks: usize,
        quads: usize,
    ) -> Self {
        assert!(a.len() >= blocks * quads * MR && b.len() >= blocks * quads * NR);
        assert!(sa.len() >= blocks * MR && sb.len() >= blocks * NR && nc.len() >= blocks * NR);
        QuadTile {
            a,
            sa,
            b,
            sb,
            nc,
            blocks,
            quads,
        }
    }

    /// The number of K blocks.
    pub(crate) fn blocks(&self) -> usize {
        self.blocks
    }

    /// Quads per K block.
    pub(crate) fn quads(&self) -> usize {
        self.quads
    }

    /// K block `blk`'s operands. Panics unless `blk < self.blocks()`.
    pub(crate) fn block(&self, blk: usize) -> QuadBlock<'a> {
        let q = self.quads;
        QuadBlock {
            a: &self.a[blk * q * MR..][..q * MR],
            sa: &self.sa[blk * MR..][..MR],
            b: &self.b[blk * q * NR..][..q * NR],
            sb: &self.sb[blk * NR..][..NR],
            nc: &self.nc[blk * NR..][..NR],
        }
    }
}

/// [`Kernels::i64_tile`].
pub(crate) type I64Tile =
    fn(&[f64], &[f64], &[f64], &[f64], usize, usize, usize, &mut [f32; MR * NR]);
/// [`Kernels::split_whole`].
pub(crate) type SplitWhole = fn(&[i64], u32, &mut [u32; 16]) -> Option<(u32, u64)>;
/// [`Kernels::nibble_quads`].
pub(crate) type NibbleQuads =
    fn(&[u8; 16], &[u8], usize, usize, usize, &mut [u32], usize, Option<(usize, &mut [i32])>);
/// [`Kernels::i16_sums`].
/// Arguments after the tiles: blocks (chunks), their length, the chunks to
/// sum, the sums.
pub(crate) type I16Sums =
    fn(&PlaneTile, &PlaneTile, usize, usize, core::ops::Range<usize>, &mut [i64; MR * NR]);
/// [`Kernels::i64_block`].
pub(crate) type I64Block = fn(&[f64], &[f64], usize, usize, usize, &mut [i64; MR * NR]);
/// [`Kernels::wide_terms`].
pub(crate) type WideTerms =
    fn(&[i64; MR * NR], &[(i64, i32); MR], &[(i64, i32); NR], &mut [f32; MR * NR]) -> u32;

/// The kernels of one instruction-set level; `None` means "run the
/// portable code".
#[derive(Clone, Copy)]
pub(crate) struct Kernels {
    /// Private to `simd`, so that only the tables there exist.
    pub(in crate::simd) _sealed: (),
    /// Encodes one row of blocks: block `b` is `src[b·block_len ..]` (the
    /// last may be shorter), mapped by `maps[b]` (an empty `maps` maps
    /// nothing: all of `src` is one block) and rounded to nearest
    /// even, or stochastically with `rand[i]` (the engine's `Stochastic {
    /// random: rand[i], count: 32 }`). `dst.len()` is `src.len()` (bytes) or
    /// `⌈src.len()/2⌉` (nibbles, which needs an even `block_len` unless
    /// there is one block). `ahead` (any length, often empty) is the next
    /// row the caller will read: the kernel prefetches it into L2 at the
    /// pace it reads `src`, so that the caller's amax pass over it finds it
    /// there instead of in DRAM (a hint; nothing is read). Arguments:
    /// codec, maps, block_len, src, rand, dst, packing, ahead.
    pub encode_row: Option<EncodeRow>,
    /// [`Self::encode_row`] with `TensorRounding::Stochastic8`'s bits,
    /// which the kernel makes as it goes instead of reading them from a
    /// buffer that [`Self::sr_counter`] filled: the same bytes as
    /// `rng::counter_row`'s bits through `encode_row`. It takes rows of
    /// tiles one row tall (`i0` 0, `words` = `tc / 8`) whose width `tc`,
    /// the block length, is a multiple of 16, with `maps` given; it returns
    /// false, writing nothing, elsewhere. Arguments: codec, maps,
    /// block_len, src, seed, (t0, words, tc, i0), dst, packing, ahead.
    pub encode_row_counter: Option<EncodeRowCounter>,
    /// One row of 16-element blocks of 4-bit codes with block scales
    /// from their amaxes and reciprocal maps, in one pass (NVFP4 with
    /// Transformer Engine's formulas): block b's scale code is
    /// `s_b = scale(amaxes[b] · k)`, its map `m_b = min(1 / (v_b · s_dec),
    /// f32::MAX)` with `v_b` the code's value by the scale's decoder (a NaN
    /// quotient gives `f32::MAX`, as `f32::min` does), and its elements
    /// `elem(x · m_b)`, packed as nibbles; both
    /// codecs round to nearest even. The bytes are those of
    /// [`Self::encode_row`] for the scales (map `Mul(k)`), then for the
    /// elements (maps `Mul(m_b)`). It takes `src` of 16 · `amaxes.len()`
    /// elements, `scales` of `amaxes.len()` bytes and `dst` of
    /// `src.len() / 2`; it returns false, writing nothing, elsewhere.
    /// `ahead` is [`Self::encode_row`]'s. Arguments: elem, scale, the
    /// scale's [`Decoder`], amaxes, (k, s_dec), src, scales, dst, ahead.
    pub scaled_row: Option<ScaledRow>,
    /// Decodes one row: `dst[i] = table[code_i & (2^bits − 1)]`, times
    /// `factors.0[i / factors.1]` if given (one f32 multiplication). With
    /// nibbles, `src` holds `⌈dst.len()/2⌉` bytes and the block length must
    /// be even (unless there is one block). Arguments: the format's
    /// [`Decoder`], src, dst, factors, packing.
    pub decode_row: Option<DecodeRow>,
    /// The amax of `src` (max |x|; any NaN gives `f32::NAN`).
    pub amax: Option<Amax>,
    /// The amax of each `block_len` run of `src` (the last may be shorter)
    /// into `out[b]` (max |x|; any NaN gives `f32::NAN`). `out` must hold
    /// ⌈src.len()/block_len⌉ values. Arguments: src, block_len, out.
    pub block_amaxes: Option<BlockAmaxes>,
    /// Seeds the Xoshiro256++ streams of tiles `t0 .. t0 + n` (n =
    /// `states.len() / 4`) exactly as `Xoshiro256PlusPlus::seed_from_u64(
    /// seed_mix ^ splitmix64(t))` does (SplitMix64 fills the 256-bit
    /// state), into `states` word-major: word w of tile i at `w·n + i`.
    /// Arguments: seed_mix, t0, states.
    pub sr_seed: Option<SrSeed>,
    /// Draws `counts[i]` values `next_u32()` (the high half of
    /// `next_u64()`) from tile i's stream in `states` (as `sr_seed` lays
    /// them out) into `out[i·stride ..]`, advancing the states. Present
    /// only where `sr_seed` is. Arguments: states, counts, stride, out.
    pub sr_draws: Option<SrDraws>,
    /// `rng::counter_row`'s random bits of one stored row (the counter
    /// of `TensorRounding::Stochastic8`), where the kernel's geometry
    /// applies: `tc` and `i0` multiples of 8, and a tile's `tc / 8` words
    /// a divisor or a multiple of the vector's words (8 with AVX-512, 4
    /// with AVX2; [`CounterWalk`]). Returns false, writing nothing,
    /// elsewhere. Arguments: seed, (t0, words, tc, i0), out.
    pub sr_counter: Option<SrCounter>,
    /// The GEMM's i8 tile kernel (see `gemm::kernels::i8_tile`).
    /// Arguments: the operands, the quads an i16 may sum (the plan's
    /// `i16_runs`), whether each block's NR scales of B are one value (bit
    /// for bit; a kernel may then read the first), accumulators.
    #[cfg_attr(not(feature = "std"), allow(dead_code))] // the GEMM needs std
    pub i8_tile: Option<I8Tile>,
    /// The GEMM's f64 tile kernel (see `gemm::kernels::f64_tile`).
    /// Arguments: a, s_a, b, s_b, K blocks, K block length, pow2,
    /// accumulators.
    #[cfg_attr(not(feature = "std"), allow(dead_code))] // the GEMM needs std
    pub f64_tile: Option<F64Tile>,
    /// The GEMM's i16 tile kernel (see `gemm::kernels::i16_tile`).
    /// Arguments: a, b, K chunks, chunk length (even), chunks per block
    /// term, the range of chunks to add the terms of (starting and ending
    /// on a block term), terms, accumulators.
    #[cfg_attr(not(feature = "std"), allow(dead_code))] // the GEMM needs std
    pub i16_tile: Option<I16Tile>,
    /// The GEMM's exact i64 sums of i16 planes over a range of chunks
    /// (see `gemm::kernels::i16_sums`), for block terms whose sums f64
    /// does not hold. Arguments: a, b, K chunks, chunk length (even), the
    /// chunks to sum, out.
    #[cfg_attr(not(feature = "std"), allow(dead_code))] // the GEMM needs std
    pub i16_sums: Option<I16Sums>,
    /// The GEMM's exact i64 block sums of integers held in f64 (see
    /// `gemm::kernels::i64_block`), summed exactly in f64 over runs of
    /// `group` k. Arguments: a, b, k0, k1, group (> 0), out.
    #[cfg_attr(not(feature = "std"), allow(dead_code))] // the GEMM needs std
    pub i64_block: Option<I64Block>,
    /// The GEMM's i64 tile kernel for power-of-two scale products (see
    /// `gemm::kernels::i64_tile_pow2`). Arguments: a, s_a, b, s_b, K blocks,
    /// K block length, group (> 0), accumulators.
    #[cfg_attr(not(feature = "std"), allow(dead_code))] // the GEMM needs std
    pub i64_tile: Option<I64Tile>,
    /// The wide GEMM kernels' block terms: `simd::wide::add_rows`
    /// compiled for the level (see `gemm::kernels::add_terms_i64`).
    /// Arguments: sums, the scales of A's rows and B's columns as `(m,
    /// e)`, accumulators; returns the rows left.
    #[cfg_attr(not(feature = "std"), allow(dead_code))] // the GEMM needs std
    pub wide_terms: Option<WideTerms>,
    /// The i16 GEMM's packing of a chunk that plane 0 takes whole (see
    /// `gemm::pack::planes::split_whole`). Arguments: the chunk's element
    /// integers (an even count, at most 32), the window's bits, the pair
    /// words.
    #[cfg_attr(not(feature = "std"), allow(dead_code))] // the GEMM needs std
    pub split_whole: Option<SplitWhole>,
    /// The i8 GEMM's packing of 4-bit codes (see `gemm::pack`'s
    /// `interleaved_quads`): for quads `q < nq` and rows `j < rows`,
    /// `out[q·width + j]` = the bytes `lut[c]` of codes `4q..4q+4` of row
    /// j (little-endian), where row j's codes are the nibbles of
    /// `src[j·stride..]`, low nibble first. Slots of rows past `rows` are
    /// left as they are. `width` is 8 or 16, `rows ≤ width`. With
    /// `Some((qpb, sums))`, also each row's sum of its bytes as i8 over
    /// each run of `qpb` quads: `sums[block·width + j]` for `j < rows`
    /// (B's bias correction; `sums` holds `⌈nq/qpb⌉·width`). Arguments:
    /// lut, src, stride, rows, nq, out, width, sums.
    #[cfg_attr(not(feature = "std"), allow(dead_code))] // the GEMM needs std
    pub nibble_quads: Option<NibbleQuads>,
}

/// No kernels: every job runs the portable code.
pub(in crate::simd) const PORTABLE: Kernels = Kernels {
    _sealed: (),
    encode_row: None,
    encode_row_counter: None,
    scaled_row: None,
    decode_row: None,
    amax: None,
    block_amaxes: None,
    sr_seed: None,
    sr_draws: None,
    sr_counter: None,
    i8_tile: None,
    f64_tile: None,
    i16_tile: None,
    i16_sums: None,
    i64_block: None,
    i64_tile: None,
    wide_terms: None,
    split_whole: None,
    nibble_quads: None,
};

/// The kernels of `level`, lowered to what this CPU supports ([`detected`]):
/// kernels only ever run on a level the CPU allows, whatever the caller
/// passes.
pub(crate) fn kernels(level: Level) -> &'static Kernels {
    #[cfg(target_arch = "x86_64")]
    {
        use super::x86_64::{avx2, avx512};
        match level.min(detected()) {
            Level::Portable => &PORTABLE,
            Level::Avx2 => &avx2::KERNELS,
            Level::Avx512 => &avx512::KERNELS,
            Level::Avx512Vnni => &avx512::KERNELS_VNNI,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (level, detected);
        &PORTABLE
    }
}

/// SplitMix64's increment, φ·2⁶⁴ (Steele, Lea and Flood 2014).
#[allow(dead_code)] // used only by the architecture-specific kernels
pub(in crate::simd) const PHI: u64 = 0x9E37_79B9_7F4A_7C15;

/// The bookkeeping every level's [`Kernels::sr_draws`] shares: the
/// arguments' bounds, and each group of up to `L` tiles (one per vector
/// lane) with its counts and where its draws go.
#[allow(dead_code)] // used only by the architecture-specific kernels
pub(in crate::simd) struct DrawGroup<const L: usize> {
    /// The group's first tile.
    pub i: usize,
    /// Its tiles: `i..i + m`, `m ≤ L`.
    pub m: usize,
    /// Their counts, zero past `m`.
    pub cnt: [u32; L],
    /// The largest count.
    pub maxc: usize,
    /// Whether all `m` tiles draw `maxc`.
    pub uniform: bool,
}

#[allow(dead_code)] // used only by the architecture-specific kernels
impl<const L: usize> DrawGroup<L> {
    /// The groups of `sr_draws` of `n` tiles with `counts` and `stride`,
    /// after checking that every tile's draws fit in the `out_len` values
    /// of `out` (the kernels' stores rely on it).
    pub fn all(
        n: usize,
        counts: &[u32],
        stride: usize,
        out_len: usize,
    ) -> impl Iterator<Item = DrawGroup<L>> {
        assert!(counts.len() >= n);
        for (i, &c) in counts.iter().enumerate().take(n) {
            assert!(c == 0 || i * stride + c as usize <= out_len);
        }
        (0..n).step_by(L).map(move |i| {
            let m = (n - i).min(L);
            let mut cnt = [0; L];
            cnt[..m].copy_from_slice(&counts[i..i + m]);
            let maxc = cnt.iter().copied().max().unwrap_or(0) as usize;
            let uniform = cnt[..m].iter().all(|&c| c as usize == maxc);
            DrawGroup {
                i,
                m,
                cnt,
                maxc,
                uniform,
            }
        })
    }

    /// Writes `tmp[k][l]`'s high half (steps `j + k`, `k < steps`, of tile
    /// `i + l`) to `out[(i + l)·stride + j + k]`, as far as each tile's
    /// count goes.
    pub fn scatter(
        &self,
        tmp: &[[u64; L]],
        j: usize,
        steps: usize,
        stride: usize,
        out: &mut [u32],
    ) {
        for (l, &c) in self.cnt.iter().enumerate().take(self.m) {
            let c = (c as usize).saturating_sub(j).min(steps);
            if c == 0 {
                continue;
            }
            let base = (self.i + l) * stride + j;
            for (o, t) in out[base..base + c].iter_mut().zip(tmp) {
                *o = (t[l] >> 32) as u32;
            }
        }
    }
}

/// The walk every level's [`Kernels::sr_counter`] shares: which counter
/// word each of `L` vector lanes holds as the row's bytes go by, `L`
/// words (`8·L` elements) a step.
///
/// The row's segment of a tile is that tile's `wpt = tc / 8` words from
/// word `i0 / 8`; tile `t` starts at word `t·words`. In the step whose
/// first word of the row is q (0, L, 2L, …), lane l holds the row's word
/// q + l: word (q + l) mod wpt of the segment of tile (q + l) / wpt. It
/// holds it as SplitMix64's state for that word c, `seed + (c + 1)·φ`,
/// so a step adds the counter's change times φ, the same in every lane
/// when `wpt` divides `L` (each step moves `L / wpt` tiles on) or `L`
/// divides `wpt` (a step stays in one tile, or starts the next).
#[allow(dead_code)] // used only by the architecture-specific kernels
pub(in crate::simd) struct CounterWalk<const L: usize> {
    /// Each lane's state at the first step.
    pub start: [u64; L],
    /// What a step adds to every lane's state: `deltas[0]` within a
    /// tile's segment, `deltas[1]` into the next tile's ([`Self::next`]).
    pub deltas: [u64; 2],
    /// Steps per tile's segment (`wpt / L`, at least 1).
    per_tile: usize,
    /// Steps left in the current tile's segment.
    left: usize,
}

#[allow(dead_code)] // used only by the architecture-specific kernels
impl<const L: usize> CounterWalk<L> {
    /// The walk of a row at `(t0, words, tc, i0)` with `seed`, or `None`
    /// where the geometry is not one the kernels take: `tc` or `i0` not
    /// a multiple of 8, or `wpt` neither a divisor nor a multiple of `L`.
    pub fn new(seed: u64, (t0, words, tc, i0): (u64, u64, usize, usize)) -> Option<Self> {
        let wpt = tc / 8;
        if !tc.is_multiple_of(8)
            || !i0.is_multiple_of(8)
            || wpt == 0
            || !(L.is_multiple_of(wpt) || wpt.is_multiple_of(L))
        {
            return None;
        }
        let c0 = t0.wrapping_mul(words).wrapping_add((i0 / 8) as u64);
        let start = core::array::from_fn(|l| {
            let (tile, word) = (l / wpt, l % wpt);
            let c = c0
                .wrapping_add((tile as u64).wrapping_mul(words))
                .wrapping_add(word as u64);
            seed.wrapping_add(c.wrapping_add(1).wrapping_mul(PHI))
        });
        let by = |d: u64| d.wrapping_mul(PHI);
        let deltas = if wpt <= L {
            [by(((L / wpt) as u64).wrapping_mul(words)); 2]
        } else {
            [
                by(L as u64),
                by(words.wrapping_sub(wpt as u64).wrapping_add(L as u64)),
            ]
        };
        let per_tile = (wpt / L).max(1);
        Some(CounterWalk {
            start,
            deltas,
            per_tile,
            left: per_tile,
        })
    }

    /// Which of [`Self::deltas`] takes the lanes from this step to the
    /// next: 1 where the step ends a tile's segment (always, when a step
    /// spans whole segments; then both deltas are the same).
    #[inline(always)]
    pub fn next(&mut self) -> usize {
        self.left -= 1;
        if self.left == 0 {
            self.left = self.per_tile;
            1
        } else {
            0
        }
    }
}

/// An amax as the kernels find it (the largest `bits & 0x7FFF_FFFF`; NaN
/// patterns are larger than every number), as an f32 with NaN normalised.
#[allow(dead_code)] // used only by the architecture-specific tables
pub(in crate::simd) fn amax_of_bits(bits: u32) -> f32 {
    if bits > 0x7F80_0000 {
        f32::NAN
    } else {
        f32::from_bits(bits)
    }
}
