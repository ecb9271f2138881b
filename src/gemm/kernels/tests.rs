//! The tile kernels' tests: each SIMD table against the portable kernels,
//! and the portable terms against exact integer rounding.

use super::*;
use crate::simd;

mod exact;

/// The f64 kernel's term is one correct rounding (checked against the
/// exact integer rounding of the reference) where the f64 product
/// itself rounds, including results in f32's subnormal range.
#[test]
fn term_f64_rounds_once() {
    use super::super::round_scaled;
    // S · P with a 48-bit P: the product has up to 90 bits.
    let p_int: i64 = (1 << 47) + 0x1234_5678_9ABC;
    for (s, e) in [
        (3i64, -40),
        ((1 << 40) + 12345, -80),
        (-((1 << 35) + 7), -300),
    ] {
        let p = p_int as f64 * crate::element::pow2_f64(e);
        let want = round_scaled(s as i128 * p_int as i128, e);
        assert_eq!(term_f64(s as f64, p).to_bits(), want.to_bits(), "{s} {e}");
    }
    // The exact product lies just above (below) an f32 midpoint and its
    // f64 rounding lands on the midpoint itself: ties-to-even from the
    // f64 value would go the wrong way, round-to-odd does not.
    // (1 + 2^-24 - 2^-47)(1 + 2^-47) = 1 + 2^-24 + 2^-71 - 2^-94: up.
    // (1 + 3·2^-24 + 2^-47)(1 - 2^-47) = 1 + 3·2^-24 - tiny: down.
    for (s, p_int, up) in [
        ((1i64 << 52) + (1 << 28) - 32, (1i64 << 47) + 1, true),
        ((1i64 << 52) + (3 << 28) + 32, (1i64 << 47) - 1, false),
    ] {
        let p = p_int as f64 * crate::element::pow2_f64(-47);
        let want = round_scaled(s as i128 * p_int as i128, -47);
        let naive = (s as f64 * p) as f32;
        assert_ne!(naive, want, "the case must defeat double rounding");
        assert_eq!(term_f64(s as f64, p), want);
        assert_eq!(want > naive, up);
    }
}

/// Each table's f64 tile kernel on this CPU equals the portable one on the
/// double-rounding cases above, in every lane.
#[test]
fn f64_tile_kernels_agree() {
    let g = KGeom {
        blocks: 2,
        kbp: 1,
        cpb: 1,
    };
    let cases = [
        ((1i64 << 52) + (1 << 28) - 32, (1i64 << 47) + 1),
        ((1i64 << 52) + (3 << 28) + 32, (1i64 << 47) - 1),
        (-((1i64 << 40) + 12345), (1i64 << 47) + 0x1234_5678_9ABC),
        (3, 1),
        // S·P = m + 3/4 for the f32 midpoint m = 2^52 + 17·2^28, whose
        // lower neighbour is even: the f64 product rounds up to the odd
        // m + 1, and round-to-odd must leave it there (stepping toward
        // lo lands on m, which ties to the wrong side).
        (3_602_883_352_618_599, 5 << 45),
    ];
    let mut a = vec![0f64; 2 * MR];
    let mut sa = vec![0f64; 2 * MR];
    for r in 0..MR {
        let (s, p) = cases[r % cases.len()];
        a[r] = s as f64;
        a[MR + r] = -(s as f64);
        sa[r] = p as f64 * crate::element::pow2_f64(-47 - r as i32 * 40); // down to subnormal f32
        sa[MR + r] = sa[r] * 0.5;
    }
    let b: Vec<f64> = (0..2 * NR).map(|j| 1.0 + (j % 3) as f64).collect();
    let sb: Vec<f64> = (0..2 * NR)
        .map(|j| crate::element::pow2_f64(j as i32 % 5))
        .collect();
    // The kernels add to the accumulators they are given: −0 in even
    // columns (where the subnormal terms stay subnormal), others nonzero.
    let start: [f32; MR * NR] = core::array::from_fn(|i| {
        if i.is_multiple_of(2) {
            -0.0
        } else {
            i as f32 - 40.5
        }
    });
    let mut want = start;
    f64_tile_portable(&a, &sa, &b, &sb, g, false, &mut want);
    each_table(|level, k| {
        let mut got = start;
        f64_tile(k, &a, &sa, &b, &sb, g, false, &mut got);
        assert_eq!(want.map(f32::to_bits), got.map(f32::to_bits), "{level:?}");
    });
    assert!(want.iter().any(|v| v.is_subnormal()));
}

/// Every level's table on this CPU (the levels it lacks are skipped:
/// `simd::kernels` lowers them), against the portable kernels.
pub(in crate::gemm) fn each_table(check: impl Fn(simd::Level, &Kernels)) {
    use simd::Level;
    for level in [Level::Avx2, Level::Avx512, Level::Avx512Vnni] {
        if level <= simd::detected() {
            check(level, simd::kernels(level));
        }
    }
}

/// A small xorshift stream of test data.
pub(in crate::gemm) fn stream(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// The i8 tile kernels on random quads (both K block lengths the
/// formats use, 16 and 32, an odd one and one past the AVX2 kernel's
/// 8-quad chunks), with power-of-two scales
/// so that `S·P` is exact, as the planner guarantees.
#[test]
fn i8_tile_kernels_agree() {
    let mut next = stream(0x9E37_79B9_7F4A_7C15);
    // Any bytes (no i16 sums), and FP4's integers (|v| ≤ 12) with the
    // plan's 9-quad i16 runs, at their extremes: `12 + 128` times ±12.
    let fp4 = |x: u64, off: u8| {
        let v = |t: u64| match t % 4 {
            0 => 12,
            1 => -12,
            _ => (t % 25) as i8 - 12,
        };
        u32::from_le_bytes(core::array::from_fn(|i| {
            (v(x >> (16 * i)) as u8).wrapping_add(off)
        }))
    };
    // Extremes (`ext` > 0) of an i16 lane's sum. 1: every a and b 12,
    // so 9 quads' sums reach 30240 (a block's 4 or 8 quads, 13440 or
    // 26880). With the block's `nc = -128·Σb` in the even lanes (as
    // the AVX2 whole-block kernel starts them), an even lane ends at
    // `Σ₀ a·b − 128·Σ₁ b` (bytes 0–1 of each quad, then 2–3), which
    // 2 (a = 12, b = 12 then −12) drives up to +26880 for 8 quads and
    // 3 (a = −12, b = 12) down to −26880.
    for (kbp, i16_runs, ext) in [
        (16, 0, 0),
        (32, 0, 0),
        (12, 0, 0),
        (40, 0, 0),
        (16, 9, 0),
        (32, 9, 0),
        (40, 9, 0),
        (40, 9, 1),
        (16, 9, 1),
        (32, 9, 1),
        (16, 9, 2),
        (32, 9, 2),
        (16, 9, 3),
        (32, 9, 3),
    ]
    .into_iter()
    // Under Miri (the portable kernel's memory accesses) every third
    // shape: chunk lengths 16, 32 and 40, with and without i16 runs,
    // extremes 0, 1 and 3. All fourteen took a minute.
    .step_by(if cfg!(miri) { 3 } else { 1 })
    {
        let g = KGeom {
            blocks: 3,
            kbp,
            cpb: 1,
        };
        let quads = g.blocks * kbp / 4;
        let (a, b): (Vec<u32>, Vec<u32>) = if ext > 0 {
            let (av, bv) = match ext {
                1 => (0x8C8C_8C8C, 0x0C0C_0C0C),
                2 => (0x8C8C_8C8C, 0xF4F4_0C0C),
                _ => (0x7474_7474, 0x0C0C_0C0C),
            };
            (vec![av; quads * MR], vec![bv; quads * NR])
        } else if i16_runs == 0 {
            (
                (0..quads * MR).map(|_| next() as u32).collect(),
                (0..quads * NR).map(|_| next() as u32).collect(),
            )
        } else {
            (
                (0..quads * MR).map(|_| fp4(next(), 128)).collect(),
                (0..quads * NR).map(|_| fp4(next(), 0)).collect(),
            )
        };
        let sa: Vec<f32> = (0..g.blocks * MR)
            .map(|_| f32::from_bits(((next() % 40 + 100) as u32) << 23))
            .collect();
        let sb: Vec<f32> = (0..g.blocks * NR)
            .map(|_| f32::from_bits(((next() % 40 + 100) as u32) << 23))
            .collect();
        // -128·Σb per block and column, from first principles.
        let nc: Vec<i32> = (0..g.blocks * NR)
            .map(|i| {
                let (blk, j) = (i / NR, i % NR);
                let q = kbp / 4;
                let sum: i32 = (blk * q..(blk + 1) * q)
                    .flat_map(|qi| b[qi * NR + j].to_le_bytes())
                    .map(|v| v as i8 as i32)
                    .sum();
                -128 * sum
            })
            .collect();
        // B's scales one value per block (B's scale blocks spanning the
        // tile's columns), which a kernel told so may read once.
        let sb_uniform: Vec<f32> = (0..g.blocks * NR).map(|i| sb[i / NR * NR]).collect();
        // The kernels add to the accumulators they are given.
        let start: [f32; MR * NR] = core::array::from_fn(|i| i as f32 - 40.5);
        // (Miri runs only the portable kernel, which ignores the flag.)
        let cases = [(&sb, false), (&sb_uniform, false), (&sb_uniform, true)];
        for (sb, uniform) in cases.into_iter().take(if cfg!(miri) { 1 } else { 3 }) {
            let mut want = start;
            let t = QuadTile::new(&a, &sa, &b, sb, &nc, g.blocks, kbp / 4);
            i8_tile_portable(&t, &mut want);
            each_table(|level, k| {
                let mut got = start;
                i8_tile(k, &t, i16_runs, uniform, &mut got);
                let bits = |v: [f32; MR * NR]| v.map(f32::to_bits);
                assert_eq!(
                    bits(want),
                    bits(got),
                    "{level:?} kbp {kbp} {i16_runs} uniform {uniform}"
                );
            });
        }
    }
}

/// The i16 tile kernels against the portable one: planes dense and
/// sparse (a block with no nonzero pair at all, too), values at the
/// window's edge (32 products of ±8191 sum to ±2146959392, 536 below
/// i32's end) and at the packer's sum-of-squares bound (two products of
/// ±32767 sum to ±2147352578), and each way of rounding the terms; blocks of one chunk and
/// of three (a long block's chunks summed before its one term).
/// Accumulators start at −0 in places: an all-zero block still adds its +0
/// term.
#[test]
fn i16_tile_kernels_agree() {
    let mut next = stream(0x6A09_E667_F3BC_C909);
    let (blocks, kbp, w) = (6, 32, 13);
    assert_eq!(crate::gemm::pack::window_bits(kbp), w);
    let kp = blocks * kbp;
    let max = (1i64 << w) - 1;
    // Under Miri (portable code only, its table being the only one) two
    // cases check the kernel's memory accesses; all twelve took ten minutes.
    let cases: Vec<(usize, usize)> = if cfg!(miri) {
        vec![(2, 1), (5, 3)]
    } else {
        (0..6).flat_map(|c| [(c, 1), (c, 3)]).collect()
    };
    for (case, cpb) in cases {
        let g = KGeom { blocks, kbp, cpb };
        let terms = [Terms::Odd, Terms::Pow2, Terms::Pow2F32][case % 3];
        let edge = case >= 3;
        // [plane][k/2][W][2]: plane 0 dense, later planes in a few
        // pairs of chunk 0 only (so chunk 1 is one pass of planes, the
        // f32 terms' case where a chunk is a block); chunk 2 all zero in
        // case 5 (its pair bits then all clear).
        let make = |planes: usize, width: usize, next: &mut dyn FnMut() -> u64| {
            let mut data = vec![0i16; planes * kp * width];
            for p in 0..planes {
                for k in 0..kp {
                    let blk = k / kbp;
                    let live = if p == 0 {
                        !(case == 5 && blk == 2)
                    } else {
                        blk == 0 && next().is_multiple_of(8)
                    };
                    for r in 0..width {
                        let v = match (live, edge) {
                            (false, _) => 0,
                            (true, true) if p == 0 => {
                                // Chunk 1 holds ±(2^15 − 1) in its first
                                // pair and nothing else: a sum of squares
                                // of 2147352578 (`plane_shift`'s bound),
                                // which one instruction's two products
                                // reach where the signs agree.
                                let v = match (blk, k % kbp) {
                                    (1, 0 | 1) => i16::MAX as i64,
                                    (1, _) => 0,
                                    _ => max,
                                };
                                if next().is_multiple_of(2) { v } else { -v }
                            }
                            _ => (next() % (2 * max as u64 + 1)) as i64 - max,
                        };
                        data[((p * kp + k) / 2 * width + r) * 2 + k % 2] = v as i16;
                    }
                }
            }
            // Pair bits from the data, plus a spare bit (a zero pair in
            // case 5's block 2, until cleared below).
            let mut pairs = vec![0u64; planes * blocks];
            for p in 0..planes {
                for blk in 0..blocks {
                    for i in 0..kbp / 2 {
                        let at = ((p * kp + blk * kbp) / 2 + i) * width * 2;
                        if data[at..at + 2 * width].iter().any(|&v| v != 0) || (i, p) == (3, 0) {
                            pairs[p * blocks + blk] |= 1 << i;
                        }
                    }
                }
            }
            if case == 5 {
                for p in 0..planes {
                    pairs[p * blocks + 2] = 0;
                }
            }
            (data, pairs)
        };
        let (ad, ap) = make(2, MR, &mut next);
        let (bd, bp) = make(3, NR, &mut next);
        // For Pow2F32 the factors stay well inside f32's normal range;
        // Pow2 reaches f32's subnormal terms; Odd has 24-bit scales.
        let scale = |next: &mut dyn FnMut() -> u64| match terms {
            Terms::Odd => (next() % (1 << 24)) as f64 * crate::element::pow2_f64(-40),
            Terms::Pow2 => crate::element::pow2_f64((next() % 100) as i32 - 110),
            Terms::Pow2F32 => crate::element::pow2_f64((next() % 40) as i32 - 30),
        };
        let shift = |next: &mut dyn FnMut() -> u64| crate::element::pow2_f64((next() % 20) as i32);
        // One scale per block, repeated for each of its chunks.
        let mut scales = |width: usize| -> Vec<f64> {
            let per_block: Vec<f64> = (0..blocks / cpb * width)
                .map(|_| scale(&mut next))
                .collect();
            (0..blocks * width)
                .map(|i| per_block[(i / width / cpb) * width + i % width])
                .collect()
        };
        let (sa, sb) = (scales(MR), scales(NR));
        let (fa, fb): (Vec<f64>, Vec<f64>) = (
            (0..2 * blocks * MR).map(|_| shift(&mut next)).collect(),
            (0..3 * blocks * NR).map(|_| shift(&mut next)).collect(),
        );
        let a = PlaneTile {
            planes: 2,
            data: &ad,
            shifts: &fa,
            scales: &sa,
            pairs: &ap,
        };
        let b = PlaneTile {
            planes: 3,
            data: &bd,
            shifts: &fb,
            scales: &sb,
            pairs: &bp,
        };
        let start: [f32; MR * NR] =
            core::array::from_fn(|i| if i % 5 == 0 { -0.0 } else { i as f32 - 40.5 });
        let mut want = start;
        i16_tile_portable(&a, &b, g, 0..blocks, terms != Terms::Odd, &mut want);
        // The GEMM's driver cuts K into ranges of whole block terms and
        // calls the kernel once per range: the same terms in the same
        // order, so the same bits as one call over all of K.
        let cuts: &[usize] = if cpb == 1 {
            &[0, 2, 5, blocks]
        } else {
            &[0, 3, blocks]
        };
        each_table(|level, k| {
            let mut got = start;
            i16_tile(k, &a, &b, g, 0..blocks, terms, &mut got);
            let bits = |v: [f32; MR * NR]| v.map(f32::to_bits);
            assert_eq!(bits(want), bits(got), "{level:?} case {case} cpb {cpb}");
            let mut got = start;
            for r in cuts.windows(2) {
                i16_tile(k, &a, &b, g, r[0]..r[1], terms, &mut got);
            }
            assert_eq!(
                bits(want),
                bits(got),
                "{level:?} case {case} cpb {cpb} in ranges"
            );
        });
    }
    // All-zero operands: each block's term is +0 (S = 0), and
    // −0 + +0 = +0, so every −0 start ends +0.
    let g = KGeom {
        blocks,
        kbp,
        cpb: 1,
    };
    let (ad, bd) = (vec![0i16; kp * MR], vec![0i16; kp * NR]);
    let (sa, sb) = (vec![1.0; blocks * MR], vec![1.0; blocks * NR]);
    let (fa, fb) = (vec![1.0; blocks * MR], vec![1.0; blocks * NR]);
    let none = vec![0u64; blocks];
    let a = PlaneTile {
        planes: 1,
        data: &ad,
        shifts: &fa,
        scales: &sa,
        pairs: &none,
    };
    let b = PlaneTile {
        planes: 1,
        data: &bd,
        shifts: &fb,
        scales: &sb,
        pairs: &none,
    };
    for terms in [Terms::Odd, Terms::Pow2, Terms::Pow2F32] {
        let mut want = [-0f32; MR * NR];
        i16_tile_portable(&a, &b, g, 0..blocks, terms != Terms::Odd, &mut want);
        assert!(want.iter().all(|v| v.to_bits() == 0));
        each_table(|level, k| {
            let mut got = [-0f32; MR * NR];
            i16_tile(k, &a, &b, g, 0..blocks, terms, &mut got);
            assert!(got.iter().all(|v| v.to_bits() == 0), "{level:?} {terms:?}");
        });
    }
}

/// The f64 tile kernels with power-of-two scale products (the `pow2`
/// path) and the i64 block sums, on random integers of the sizes the
/// planner admits.
#[test]
fn f64_and_i64_kernels_agree() {
    let mut next = stream(0x2545_F491_4F6C_DD1D);
    let g = KGeom {
        blocks: 2,
        kbp: 32,
        cpb: 1,
    };
    let kp = g.blocks * g.kbp;
    let int = |x: u64, bits: u32| (x % (1 << bits)) as i64 - (1 << (bits - 1));
    let a: Vec<i64> = (0..kp * MR).map(|_| int(next(), 20)).collect();
    let b: Vec<i64> = (0..kp * NR).map(|_| int(next(), 20)).collect();
    let pow2 = |x: u64| crate::element::pow2_f64((x % 60) as i32 - 30);
    let sa: Vec<f64> = (0..g.blocks * MR).map(|_| pow2(next())).collect();
    let sb: Vec<f64> = (0..g.blocks * NR).map(|_| pow2(next())).collect();
    let (af, bf): (Vec<f64>, Vec<f64>) = (
        a.iter().map(|&v| v as f64).collect(),
        b.iter().map(|&v| v as f64).collect(),
    );
    let mut want = [0f32; MR * NR];
    f64_tile_portable(&af, &sa, &bf, &sb, g, true, &mut want);
    let mut want_sums = [[0i64; MR * NR]; 2];
    for (blk, w) in want_sums.iter_mut().enumerate() {
        i64_block_portable(&af, &bf, blk * g.kbp, (blk + 1) * g.kbp, w);
    }
    each_table(|level, k| {
        let mut got = [0f32; MR * NR];
        f64_tile(k, &af, &sa, &bf, &sb, g, true, &mut got);
        assert_eq!(want.map(f32::to_bits), got.map(f32::to_bits), "{level:?}");
        for (blk, w) in want_sums.iter().enumerate() {
            let mut sums = [0i64; MR * NR];
            i64_block(
                k,
                &af,
                &bf,
                blk * g.kbp,
                (blk + 1) * g.kbp,
                1 << 12,
                &mut sums,
            );
            assert_eq!(*w, sums, "{level:?} block {blk}");
        }
    });
}

/// The i64 block sums at E4M3 × E5M2 sizes (|a| < 2^18, |b| < 2^32),
/// where 32 products reach 2^55 and one f64 sum would round: the
/// kernels' f64 runs of `group` terms must give the exact i64 sums,
/// computed here term by term in i128.
#[test]
fn i64_block_runs_are_exact() {
    let mut next = stream(0x6A09_E667_F3BC_C909);
    let kp = 32;
    let int = |x: u64, bits: u32| (x % (1 << bits)) as i64 - (1 << (bits - 1));
    let mut a: Vec<f64> = (0..kp * MR).map(|_| int(next(), 19) as f64).collect();
    let mut b: Vec<f64> = (0..kp * NR).map(|_| int(next(), 33) as f64).collect();
    // Row 0 and column 0 at the extremes, all one sign: the largest
    // sums. Row 1 and column 1 odd and near them: sums past 2^53 with
    // low bits set, which one f64 sum would round.
    for k in 0..kp {
        a[k * MR] = -((1 << 18) as f64);
        b[k * NR] = -((1i64 << 32) as f64);
        a[k * MR + 1] = ((1 << 18) - 1 - 2 * (k % 5)) as f64;
        b[k * NR + 1] = ((1i64 << 32) - 1 - 2 * (k % 7) as i64) as f64;
    }
    let mut want = [0i64; MR * NR];
    for (i, w) in want.iter_mut().enumerate() {
        let (r, j) = (i / NR, i % NR);
        let s: i128 = (0..kp)
            .map(|k| a[k * MR + r] as i128 * b[k * NR + j] as i128)
            .sum();
        *w = i64::try_from(s).unwrap();
    }
    assert_eq!(want[0], 32 << 50);
    let one_sum: f64 = (0..kp).map(|k| a[k * MR + 1] * b[k * NR + 1]).sum();
    assert_ne!(
        one_sum as i64,
        want[NR + 1],
        "the test needs a sum f64 rounds"
    );
    // 2^53 / 2^50 = 8 terms per run; shorter runs and ranges too.
    for group in [8, 5, 1] {
        each_table(|level, k| {
            let mut sums = [0i64; MR * NR];
            i64_block(k, &a, &b, 0, kp, group, &mut sums);
            assert_eq!(want, sums, "{level:?} group {group}");
            i64_block(k, &a, &b, 3, 17, group, &mut sums);
            let mut part = [0i64; MR * NR];
            i64_block_portable(&a, &b, 3, 17, &mut part);
            assert_eq!(part, sums, "{level:?} group {group}, k 3..17");
        });
    }
    // With every a a multiple of 2^5, runs of 8 reach 2^58, still exact
    // in f64 (the planner's 2^(53 + tz) bound), as the sums in i64.
    let a32: Vec<f64> = a.iter().map(|v| v * 32.0).collect();
    each_table(|level, k| {
        let mut sums = [0i64; MR * NR];
        i64_block(k, &a32, &b, 0, kp, 8, &mut sums);
        assert_eq!(want.map(|w| w * 32), sums, "{level:?} a·2^5");
    });
}

/// The i64 tile's conversion of sums to f32 at its corners, against
/// Rust's `i64 as f32`: sums past 2^53 (which f64 cannot hold) that sit
/// on or just past an f32 midpoint, with the deciding bit anywhere down
/// to bit 0, of either sign. Column j's sum is `Σ_k b[k][j]` (every a
/// is 1, one product per f64 run).
#[test]
fn i64_tile_rounds_sums_once() {
    let p53 = 1i64 << 53;
    let cols: [[i64; 4]; 12] = [
        [p53, p53, 1 << 30, 1], // 2^54 + 2^30 + 1: past the midpoint, up
        [p53, p53, 1 << 30, 0], // on the midpoint: to even, down
        [p53, p53, 3 << 30, 0], // on the midpoint: to even, up
        [-p53, -p53, -(1 << 30), -1],
        [p53, (1 << 29) + 1, 0, 0], // 2^53 + 2^29 + 1: bit 0 decides, up
        [-p53, -(1 << 29) - 1, 0, 0],
        [p53, 1 << 29, 0, 0],     // 2^53 + 2^29: midpoint, to even
        [p53, p53, p53, p53 - 1], // 2^55 − 1: up to 2^55
        [p53, -(1 << 28), 0, 0],  // 2^53 − 2^28, below 2^53: midpoint
        [p53 - 1, 0, 0, 0],
        [0, 0, 0, 0],
        [-1, 0, 0, 0],
    ];
    let g = KGeom {
        blocks: 1,
        kbp: 4,
        cpb: 1,
    };
    let a = vec![1f64; 4 * MR];
    let mut b = vec![0f64; 4 * NR];
    for (j, col) in cols.iter().enumerate() {
        for (k, &v) in col.iter().enumerate() {
            b[k * NR + j] = v as f64; // each |v| ≤ 2^53 is exact
        }
    }
    let (sa, sb) = (vec![1f64; MR], vec![1f64; NR]);
    let mut want = [0f32; MR * NR];
    i64_tile_pow2_portable(&a, &sa, &b, &sb, g, &mut want);
    assert_eq!(want[0], (1u64 << 54) as f32 + (1u64 << 31) as f32);
    assert_eq!(want[1], (1u64 << 54) as f32);
    assert_eq!(want[4], (p53 + (1 << 30)) as f32);
    each_table(|level, k| {
        let mut got = [0f32; MR * NR];
        i64_tile_pow2(k, &a, &sa, &b, &sb, g, 1, &mut got);
        assert_eq!(want.map(f32::to_bits), got.map(f32::to_bits), "{level:?}");
    });
}

/// The i64 tile with power-of-two scales at E4M3 × E5M2 sizes: the
/// kernels' f32 terms and sums, bit for bit, against the portable loop
/// (i64 sums, then Rust's own f32 conversions and operations).
#[test]
fn i64_tile_pow2_kernels_agree() {
    let mut next = stream(0xBB67_AE85_84CA_A73B);
    let g = KGeom {
        blocks: 3,
        kbp: 32,
        cpb: 1,
    };
    let kp = g.blocks * g.kbp;
    let int = |x: u64, bits: u32| ((x % (1 << bits)) as i64 - (1 << (bits - 1))) as f64;
    let a: Vec<f64> = (0..kp * MR).map(|_| int(next(), 19)).collect();
    let b: Vec<f64> = (0..kp * NR).map(|_| int(next(), 33)).collect();
    let pow2 = |x: u64| crate::element::pow2_f64((x % 40) as i32 - 60);
    let sa: Vec<f64> = (0..g.blocks * MR).map(|_| pow2(next())).collect();
    let sb: Vec<f64> = (0..g.blocks * NR).map(|_| pow2(next())).collect();
    let start: [f32; MR * NR] = core::array::from_fn(|i| i as f32 * 0.37 - 20.0);
    let mut want = start;
    i64_tile_pow2_portable(&a, &sa, &b, &sb, g, &mut want);
    each_table(|level, k| {
        for group in [8, 3] {
            let mut got = start;
            i64_tile_pow2(k, &a, &sa, &b, &sb, g, group, &mut got);
            assert_eq!(
                want.map(f32::to_bits),
                got.map(f32::to_bits),
                "{level:?} {group}"
            );
        }
    });
}
