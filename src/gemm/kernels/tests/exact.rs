//! The wide sums and their terms against integer arithmetic: the i64
//! kernels' exact roundings (`term_i64`, `add_terms_i64`) against the
//! reference's, and the i16 planes' i64 sums against sums rebuilt in i128.

use super::super::*;
use super::{each_table, stream};
use crate::simd;

/// The i64 kernel's term is the exact integer rounding of the reference
/// (`round_scaled`), bit for bit: on hand-worked cases where only the bits
/// below the top 64 decide a tie, at f32's subnormal and overflow edges,
/// and on products of every width.
#[test]
fn term_i64_rounds_once() {
    use crate::gemm::round_scaled;
    // s·p = (2^24 + 1)·2^85 + r with 0 < r < 2^46: the 25 leading bits are
    // an exact tie (kept bits even), and only r, below the top 64 bits,
    // says round up: (2^23 + 1)·2^86, which 2^-100 takes to
    // (2^23 + 1)·2^-14. Without r the tie would go to even, 512.
    let (s, p) = (0x7070_e51d_a55a_d5f9_i64, 0x48db_2265_b1f5_i64);
    let r = s as i128 * p as i128 - (((1i128 << 24) + 1) << 85);
    assert!(r > 0 && r < 1 << 46);
    assert_eq!(term_i64(s, p, -100), 512.0 + 2f32.powi(-14));
    assert_eq!(term_i64(-s, p, -100), -(512.0 + 2f32.powi(-14)));
    // Ties to even without low bits: 2^24 + 1 rounds down, 2^24 + 3 up.
    assert_eq!(term_i64((1 << 24) + 1, 1, 0), 16777216.0);
    assert_eq!(term_i64((1 << 24) + 3, -1, 0), -16777220.0);
    // The edges: the smallest normal, a subnormal (the exact path), half
    // the smallest subnormal (a tie, to zero), f32::MAX and past it.
    assert_eq!(term_i64(1, 1, -126), f32::MIN_POSITIVE);
    assert_eq!(term_i64(3, 1, -150), f32::from_bits(2));
    assert_eq!(term_i64(1, 1, -150), 0.0);
    assert_eq!(term_i64((1 << 24) - 1, 1, 104), f32::MAX);
    assert_eq!(term_i64((1 << 25) - 1, 1, 103), f32::INFINITY);
    assert_eq!(term_i64(0, 5, 3000), 0.0);
    // Random products: s of 1 to 63 bits, p of 1 to 48, exponents from
    // deep in the subnormals to past f32::MAX.
    let mut next = stream(0x9E37_79B9_7F4A_7C15);
    let n = if cfg!(miri) { 200 } else { 200_000 };
    for _ in 0..n {
        let s = (next() >> (1 + next() % 63)) as i64 * if next() & 1 == 0 { 1 } else { -1 };
        let p = (next() >> (16 + next() % 48)) as i64;
        let e = (next() % 500) as i32 - 300;
        let want = round_scaled(s as i128 * p as i128, e);
        assert_eq!(term_i64(s, p, e).to_bits(), want.to_bits(), "{s} {p} {e}");
    }
}

/// The wide kernels' terms (`add_terms_i64`: the scales split, then
/// `simd::wide::add_rows`, the table's build of it where there is one,
/// for the rows whose terms are normal, and `term_i64` for the rest) are
/// the reference's exact rounding (`block_term`), portable and with every
/// table: for sums of every width, f32 scales of both signs, subnormal and
/// zero among them, and each format's `2^e0` folded in as the packing
/// folds it, with rows of both kinds. Compared after adding to +0, as
/// every term is added to an accumulator that starts at +0 (a zero term's
/// sign is lost there). And one hand-worked tie that only bits far below
/// the kept 24 break.
#[test]
fn wide_terms_round_once() {
    use crate::gemm::block_term;
    let mut next = stream(0x3C6E_F372_FE94_F82B);
    let mut scale = || -> f32 {
        let x = next();
        let bits = (x >> 8) as u32;
        let v = match x % 8 {
            0 => 0.0,
            1 => f32::from_bits(bits & 0x7F_FFFF),
            _ => f32::from_bits((bits & 0x7FFF_FFFF) % 0x7F80_0000),
        };
        if x & 0x10 == 0 { v } else { -v }
    };
    let (e0a, e0b) = (-9, -16);
    let pow2 = crate::element::pow2_f64;
    // Hand-worked: S·a·b = (2^24 + 1)·2^73 + r with 0 < r < 2^42, an f32
    // tie that only r, 56 bits and more below the kept 24, breaks (up;
    // without r, to even: 2^23·2^−60). With s_a = a·2^−50 and s_b =
    // b·2^−60 (and 2^−25 from e0), the term is (2^23 + 1)·2^−61.
    let (s, a, b) = (0x2_56b0_6cef_c521_i64, 0xf8_e511_u32, 0xe1_2e77_u32);
    let r = s as i128 * a as i128 * b as i128 - (((1i128 << 24) + 1) << 73);
    assert!(r > 0 && r < 1 << 42);
    let mut sums = [0i64; MR * NR];
    (sums[0], sums[NR + 1]) = (s, -s);
    let (mut pa, mut pb) = (vec![1.0; MR], vec![1.0; NR]);
    pa[..2].fill(a as f64 * pow2(-50 + e0a));
    pb[..2].fill(b as f64 * pow2(-60 + e0b));
    let mut want = [0f32; MR * NR];
    want[0] = ((1 << 23) + 1) as f32 * 2f32.powi(-61);
    want[NR + 1] = -want[0];
    terms_match(&sums, &pa, &pb, &want);

    let mut next_sum = stream(0xA54F_F53A_5F1D_36F1);
    // Rows every term of which is zero or a normal f32 (or Inf), which
    // `wide::add_rows` takes, and rows with a term rounding to a
    // subnormal or to zero, which it leaves to `term_i64`'s exact path.
    let (mut normal, mut tiny) = (0, 0);
    let tiles = if cfg!(miri) { 2 } else { 2_000 };
    for _ in 0..tiles {
        let sa: [f32; MR] = core::array::from_fn(|_| scale());
        let sb: [f32; NR] = core::array::from_fn(|_| scale());
        let sums: [i64; MR * NR] = core::array::from_fn(|_| {
            let (x, width) = (next_sum(), 1 + next_sum() % 63);
            (x >> width) as i64 * if next_sum() & 1 == 0 { 1 } else { -1 }
        });
        let packed =
            |s: &[f32], e0| -> Vec<f64> { s.iter().map(|&v| v as f64 * pow2(e0)).collect() };
        let (pa, pb) = (packed(&sa, e0a), packed(&sb, e0b));
        let want: [f32; MR * NR] = core::array::from_fn(|i| {
            0.0 + block_term(sums[i] as i128, e0a + e0b, sa[i / NR], sb[i % NR])
        });
        for (r, row) in want.chunks_exact(NR).enumerate() {
            let under = |(j, w): (usize, &f32)| {
                let zero = sums[r * NR + j] == 0 || sa[r] == 0.0 || sb[j] == 0.0;
                !zero && w.abs() < f32::MIN_POSITIVE
            };
            if row.iter().enumerate().any(under) {
                tiny += 1;
            } else {
                normal += 1;
            }
        }
        terms_match(&sums, &pa, &pb, &want);
    }
    assert!(
        cfg!(miri) || (normal > 1_000 && tiny > 1_000),
        "{normal} {tiny}"
    );
}

/// `add_terms_i64` from +0, portable and with every table, against `want`
/// bit for bit.
fn terms_match(sums: &[i64; MR * NR], pa: &[f64], pb: &[f64], want: &[f32; MR * NR]) {
    let check = |name: &str, kernels: &Kernels| {
        let mut acc = [0f32; MR * NR];
        add_terms_i64(kernels, sums, pa, pb, &mut acc);
        for (i, (got, want)) in acc.iter().zip(want).enumerate() {
            let (s, fa, fb) = (sums[i], pa[i / NR], pb[i % NR]);
            assert_eq!(got.to_bits(), want.to_bits(), "{name}: {s} {fa:e} {fb:e}");
        }
    };
    check("portable", simd::kernels(simd::Level::Portable));
    each_table(|level, kernels| check(level.name(), kernels));
}

/// The exact i64 sums of i16 planes (`Plan::I16Wide`) at E4M3 × E5M2
/// sizes: plane values up to the window (2^13 − 1), shifts up to 2^8 (A)
/// and 2^16 (B), eight chunks of 32 to a sum, so that sums pass 2^53 with
/// low bits set. The portable sums against each element's integer
/// rebuilt from its planes and summed in i128, then every table's.
#[test]
fn i16_sums_are_exact() {
    let mut next = stream(0xBB67_AE85_84CA_A73B);
    let blocks = if cfg!(miri) { 2 } else { 8 };
    let g = KGeom {
        blocks,
        kbp: 32,
        cpb: blocks,
    };
    let kp = blocks * g.kbp;
    let max = (1i64 << 13) - 1;
    // [plane][k/2][W][2]: plane 0 dense, later planes in one pair of k in
    // four. Row (column) 0 all at the top; row 1 odd values near it, and
    // odd values unshifted in plane 1, so that its sum with column 1 passes
    // 2^53 with its lowest bit set.
    let make = |planes: usize, width: usize, top_shift: u64, next: &mut dyn FnMut() -> u64| {
        let mut data = vec![0i16; planes * kp * width];
        let mut shifts = vec![0f64; planes * blocks * width];
        let mut pairs = vec![0u64; planes * blocks];
        for p in 0..planes {
            for k in 0..kp {
                let live = p == 0 || (k / 2).is_multiple_of(4);
                for r in 0..width {
                    let v = match (live, p, r) {
                        (false, ..) => 0,
                        (true, 0, 0) => max,
                        (true, 0, 1) => max - 2 * (k % 5) as i64,
                        (true, 1, 1) => ((next() % max as u64) | 1) as i64,
                        _ => (next() % (2 * max as u64 + 1)) as i64 - max,
                    };
                    data[((p * kp + k) / 2 * width + r) * 2 + k % 2] = v as i16;
                    if v != 0 {
                        pairs[p * blocks + k / g.kbp] |= 1 << (k % g.kbp / 2);
                    }
                }
            }
            for blk in 0..blocks {
                for r in 0..width {
                    let s = match (p, r) {
                        (0, 0 | 1) => top_shift,
                        (1, 1) => 0,
                        _ => next() % (top_shift + 1),
                    };
                    shifts[(p * blocks + blk) * width + r] = crate::element::pow2_f64(s as i32);
                }
            }
        }
        (data, shifts, pairs)
    };
    let (ad, af, ap) = make(2, MR, 8, &mut next);
    let (bd, bf, bp) = make(3, NR, 16, &mut next);
    let ones = |n| vec![1.0; n];
    let (sa, sb) = (ones(blocks * MR), ones(blocks * NR));
    let a = PlaneTile {
        planes: 2,
        data: &ad,
        shifts: &af,
        scales: &sa,
        pairs: &ap,
    };
    let b = PlaneTile {
        planes: 3,
        data: &bd,
        shifts: &bf,
        scales: &sb,
        pairs: &bp,
    };
    // Element (row r, k) of a tile: Σ_p plane p's value times 2^s_p.
    let value = |t: &PlaneTile, width: usize, r: usize, k: usize| -> i128 {
        (0..t.planes)
            .map(|p| {
                let v = t.data[((p * kp + k) / 2 * width + r) * 2 + k % 2] as i128;
                v * t.shifts[(p * blocks + k / g.kbp) * width + r] as i128
            })
            .sum()
    };
    let want = |chunks: Range<usize>| -> [i64; MR * NR] {
        core::array::from_fn(|i| {
            let (r, j) = (i / NR, i % NR);
            let s: i128 = (chunks.start * g.kbp..chunks.end * g.kbp)
                .map(|k| value(&a, MR, r, k) * value(&b, NR, j, k))
                .sum();
            i64::try_from(s).unwrap()
        })
    };
    let all = want(0..blocks);
    if !cfg!(miri) {
        assert!(all[0] > 1 << 57, "the largest sum passes f64's bound");
        assert!(
            (all[NR + 1] as f64) as i64 != all[NR + 1],
            "the test needs a sum f64 rounds"
        );
    }
    let mut got = [0i64; MR * NR];
    i16_sums_portable(&a, &b, g, 0..blocks, &mut got);
    assert_eq!(got, all);
    let part = 1..blocks;
    let want_part = want(part.clone());
    each_table(|level, k| {
        let mut got = [7i64; MR * NR];
        i16_sums(k, &a, &b, g, 0..blocks, &mut got);
        assert_eq!(got, all, "{level:?}");
        i16_sums(k, &a, &b, g, part.clone(), &mut got);
        assert_eq!(got, want_part, "{level:?} chunks {part:?}");
    });
}
