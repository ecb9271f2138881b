//! Grouped GEMMs (`gemm_contiguous`, `gemm_masked`) over a seeded sweep of
//! formats, shapes and group layouts: each valid output row must equal the
//! same row of the ordinary reference GEMM of the whole A with that row's
//! expert (which knows nothing of groups), bit for bit, on the fast path and
//! the reference path alike; padding and masked rows must stay untouched.

use blockscale::Error;
use blockscale::format::{BlockFormat, Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp8E4M3, Nvfp4};
use blockscale::gemm::{
    gemm_contiguous, gemm_contiguous_reference, gemm_masked, gemm_masked_reference, gemm_reference,
};
use blockscale::tensor::{PartialBlocks, QuantizeOptions, QuantizedTensor};
use blockscale::{E4M3, E5M2};

/// A sentinel no GEMM writes: a NaN with a payload.
const UNTOUCHED: u32 = 0x7fc0_dead;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Values over a few binades, with signs and some zeros.
    fn values(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
                let e = self.below(12) as i32 - 6;
                if self.below(16) == 0 {
                    0.0
                } else {
                    ((u * 2.0 - 1.0) * 2f64.powi(e)) as f32
                }
            })
            .collect()
    }
}

fn quantize<F: BlockFormat>(f: &F, x: &[f32], rows: usize, cols: usize) -> QuantizedTensor<F> {
    let o = QuantizeOptions {
        partial_blocks: PartialBlocks::ZeroPad,
        ..Default::default()
    };
    QuantizedTensor::quantize(f.clone(), x, rows, cols, &o).unwrap()
}

fn bits(c: &[f32]) -> Vec<u32> {
    c.iter().map(|v| v.to_bits()).collect()
}

/// The whole of A against each expert, by the specification.
fn full<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &[QuantizedTensor<FB>],
    alpha: f32,
) -> Vec<Vec<f32>> {
    let m = a.stored_shape().0;
    b.iter()
        .map(|e| {
            let mut c = vec![0.0; m * e.stored_shape().0];
            gemm_reference(a, e, alpha, 0.0, &mut c).unwrap();
            c
        })
        .collect()
}

fn sweep<FA: BlockFormat, FB: BlockFormat>(fa: FA, fb: FB, k: usize, seed: u64) {
    let mut r = Rng(seed);
    for _ in 0..6 {
        let (m, n, experts) = (1 + r.below(90), 1 + r.below(24), 1 + r.below(4));
        let alpha = [1.0, 0.75, -3.0][r.below(3)];
        let a = quantize(&fa, &r.values(m * k), m, k);
        let b: Vec<_> = (0..experts)
            .map(|_| quantize(&fb, &r.values(n * k), n, k))
            .collect();
        let want = full(&a, &b, alpha);
        // Contiguous: runs of random lengths, some of them padding (-1).
        let mut groups = Vec::new();
        while groups.len() < m {
            let g = r.below(experts + 1) as i32 - 1;
            let len = (1 + r.below(20)).min(m - groups.len());
            groups.extend(std::iter::repeat_n(g, len));
        }
        let mut c1 = vec![f32::from_bits(UNTOUCHED); m * n];
        let mut c2 = c1.clone();
        gemm_contiguous(&a, &b, &groups, alpha, &mut c1).unwrap();
        gemm_contiguous_reference(&a, &b, &groups, alpha, &mut c2).unwrap();
        assert_eq!(
            bits(&c1),
            bits(&c2),
            "{} x {}: fast != reference",
            fa.name(),
            fb.name()
        );
        for (i, &g) in groups.iter().enumerate() {
            let got = bits(&c1[i * n..(i + 1) * n]);
            match usize::try_from(g) {
                Ok(g) => assert_eq!(got, bits(&want[g][i * n..(i + 1) * n]), "row {i}"),
                Err(_) => assert!(got.iter().all(|&v| v == UNTOUCHED), "padding row {i}"),
            }
        }
        // Masked: one A per expert, a valid prefix each.
        let a_g: Vec<_> = (0..experts)
            .map(|_| quantize(&fa, &r.values(m * k), m, k))
            .collect();
        let masked_m: Vec<usize> = (0..experts).map(|_| r.below(m + 1)).collect();
        let mut c1 = vec![f32::from_bits(UNTOUCHED); experts * m * n];
        let mut c2 = c1.clone();
        gemm_masked(&a_g, &b, &masked_m, alpha, &mut c1).unwrap();
        gemm_masked_reference(&a_g, &b, &masked_m, alpha, &mut c2).unwrap();
        assert_eq!(bits(&c1), bits(&c2));
        for g in 0..experts {
            let mut want = vec![0.0; m * n];
            gemm_reference(&a_g[g], &b[g], alpha, 0.0, &mut want).unwrap();
            let got = &c1[g * m * n..(g + 1) * m * n];
            let valid = masked_m[g] * n;
            assert_eq!(bits(&got[..valid]), bits(&want[..valid]), "group {g}");
            assert!(
                bits(&got[valid..]).iter().all(|&v| v == UNTOUCHED),
                "group {g} masked rows"
            );
        }
    }
}

#[test]
fn grouped_rows_equal_the_whole_gemm_over_a_seeded_sweep() {
    for seed in 0..4 {
        sweep(Nvfp4::default(), Nvfp4::default(), 64, seed);
        sweep(MxFp8E4M3::default(), MxFp8E4M3::default(), 96, seed);
        sweep(MxFp4::default(), MxFp4::default(), 64, seed);
        sweep(
            Fp8Tensorwise::<E4M3>::default(),
            Fp8Tensorwise::<E5M2>::default(),
            48,
            seed,
        );
        // 1x128 activations against 128x128 weights (DeepSeek's recipe).
        let mut w = Fp8Blockwise::<E4M3>::new(128, 128);
        w.power_of_two = true;
        sweep(Fp8Blockwise::<E4M3>::new(1, 128), w, 256, seed);
        // 2-D blocks in A: group boundaries inside a 16-row block are
        // computed on whole blocks and cut.
        sweep(
            Nvfp4 {
                two_d: true,
                ..Nvfp4::default()
            },
            Nvfp4::default(),
            64,
            seed,
        );
    }
}

#[test]
fn bad_groups_are_errors_and_leave_c_as_it_was() {
    let f = MxFp8E4M3::default();
    let a = quantize(&f, &[1.0; 4 * 32], 4, 32);
    let b = vec![quantize(&f, &[1.0; 2 * 32], 2, 32)];
    let mut c = vec![f32::from_bits(UNTOUCHED); 8];
    let err = |r: Result<(), Error>| r.unwrap_err().to_string();
    let e = err(gemm_contiguous(&a, &b, &[0, 1, 0, 0], 1.0, &mut c));
    assert!(e.contains("row 1 is in group 1"), "{e}");
    assert!(err(gemm_contiguous(&a, &b, &[0, 0, 0], 1.0, &mut c)).contains("group of each row"));
    assert!(err(gemm_contiguous(&a, &b, &[0, -2, 0, 0], 1.0, &mut c)).contains("group -2"));
    let none: &[QuantizedTensor<MxFp8E4M3>] = &[];
    assert!(err(gemm_contiguous(&a, none, &[-1; 4], 1.0, &mut c)).contains("at least one expert"));
    let b64 = vec![quantize(&f, &[1.0; 2 * 64], 2, 64)];
    let e = gemm_contiguous(&a, &b64, &[0; 4], 1.0, &mut c).unwrap_err();
    assert!(matches!(e, Error::KMismatch { .. }), "{e}");
    let mixed = vec![b[0].clone(), quantize(&f, &[1.0; 3 * 32], 3, 32)];
    assert!(err(gemm_contiguous(&a, &mixed, &[0; 4], 1.0, &mut c)).contains("share one shape"));
    assert!(
        err(gemm_masked(std::slice::from_ref(&a), &b, &[5], 1.0, &mut c))
            .contains("masked_m[0] = 5")
    );
    assert!(gemm_masked(std::slice::from_ref(&a), &b, &[1, 1], 1.0, &mut c).is_err());
    assert!(gemm_masked(std::slice::from_ref(&a), &b64, &[1], 1.0, &mut c).is_err());
    assert!(
        c.iter().all(|v| v.to_bits() == UNTOUCHED),
        "c written on error"
    );
    // No groups at all: nothing to do.
    assert!(gemm_masked::<MxFp8E4M3, MxFp8E4M3>(&[], &[], &[], 1.0, &mut []).is_ok());
}

/// `stored_rows` keeps each row's values: FP4 rows that start mid-byte
/// (an odd row length), columnwise tensors, 2-D blocks and per-tensor
/// scales.
#[test]
fn stored_rows_dequantize_as_the_rows_of_the_whole() {
    use blockscale::tensor::Direction;
    let mut r = Rng(9);
    let x = r.values(37 * 17);
    let check = |q: &dyn Fn() -> Vec<f32>,
                 rows: &dyn Fn(usize, usize) -> Result<Vec<f32>, Error>,
                 sr: usize,
                 sc: usize,
                 step: usize| {
        let whole = q();
        for s in (0..=sr).step_by(step) {
            for e in (s..=sr).step_by(step).chain([sr]) {
                let got = rows(s, e).unwrap();
                // The stored rows s..e of the whole, in the stored orientation.
                let want: Vec<f32> = (s..e)
                    .flat_map(|i| (0..sc).map(move |j| (i, j)))
                    .map(|(i, j)| whole[i * sc + j])
                    .collect();
                assert_eq!(bits(&got), bits(&want), "rows {s}..{e}");
            }
        }
    };
    let o = QuantizeOptions {
        partial_blocks: PartialBlocks::ZeroPad,
        ..Default::default()
    };
    let nv = QuantizedTensor::quantize(Nvfp4::default(), &x, 37, 17, &o).unwrap();
    check(
        &|| nv.dequantize(),
        &|s, e| Ok(nv.stored_rows(s, e)?.dequantize()),
        37,
        17,
        1,
    );
    let tw = quantize(&Fp8Tensorwise::<E4M3>::default(), &x, 37, 17);
    check(
        &|| tw.dequantize(),
        &|s, e| Ok(tw.stored_rows(s, e)?.dequantize()),
        37,
        17,
        1,
    );
    let two_d = QuantizedTensor::quantize(
        Nvfp4 {
            two_d: true,
            ..Nvfp4::default()
        },
        &x,
        37,
        17,
        &o,
    )
    .unwrap();
    check(
        &|| two_d.dequantize(),
        &|s, e| Ok(two_d.stored_rows(s, e)?.dequantize()),
        37,
        17,
        16,
    );
    assert!(two_d.stored_rows(3, 16).is_err() && two_d.stored_rows(0, 38).is_err());
    // Columnwise: stored rows are the logical columns; compare the stored
    // (transposed) values.
    let oc = QuantizeOptions {
        direction: Direction::Columnwise,
        ..o
    };
    let cw = QuantizedTensor::quantize(MxFp4::default(), &r.values(64 * 5), 64, 5, &oc).unwrap();
    let t = |v: Vec<f32>, rows: usize, cols: usize| {
        (0..cols)
            .flat_map(|j| (0..rows).map(move |i| (i, j)))
            .map(|(i, j)| v[i * cols + j])
            .collect::<Vec<f32>>()
    };
    check(
        &|| t(cw.dequantize(), 64, 5),
        &|s, e| {
            let p = cw.stored_rows(s, e)?;
            Ok(t(p.dequantize(), 64, e - s))
        },
        5,
        64,
        1,
    );
}

/// A tensor quantized from a NaN or an infinity has a NaN or +Inf tensor
/// amax. The ordinary GEMM takes it (its rows come out NaN or ±Inf); the
/// grouped GEMMs must too, row for row, rather than refuse the amax when
/// they cut the tensor into groups (found by the `gemm_apis` fuzz target).
#[test]
fn non_finite_tensor_amaxes_group_like_the_whole() {
    let t4 = Fp8Tensorwise::<E4M3>::current();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut x = Rng(3).values(6 * 32);
        x[4 * 32 + 5] = bad;
        let a = quantize(&t4, &x, 6, 32);
        assert!(!a.global_amax().unwrap().is_finite());
        let b = vec![quantize(&t4, &Rng(4).values(3 * 32), 3, 32)];
        let whole = &full(&a, &b, 1.0)[0];
        let groups = [0, 0, -1, 0, 0, -1];
        for run in [gemm_contiguous, gemm_contiguous_reference] {
            let mut c = vec![f32::from_bits(UNTOUCHED); 6 * 3];
            run(&a, &b, &groups, 1.0, &mut c).unwrap();
            for (i, &g) in groups.iter().enumerate() {
                let want = if g < 0 {
                    [UNTOUCHED; 3].to_vec()
                } else {
                    bits(&whole[i * 3..i * 3 + 3])
                };
                assert_eq!(bits(&c[i * 3..i * 3 + 3]), want, "{bad}: row {i}");
            }
        }
        let stack = [a.clone(), quantize(&t4, &Rng(5).values(6 * 32), 6, 32)];
        for run in [gemm_masked, gemm_masked_reference] {
            let mut c = vec![f32::from_bits(UNTOUCHED); 2 * 6 * 3];
            run(&stack, &[b[0].clone(), b[0].clone()], &[5, 2], 1.0, &mut c).unwrap();
            assert_eq!(bits(&c[..15]), bits(&whole[..15]), "{bad}: group 0");
            assert!(c[15..18].iter().all(|v| v.to_bits() == UNTOUCHED));
        }
        // The rows keep the amax, so they dequantize as in the whole.
        let rows = a.stored_rows(4, 6).unwrap();
        assert_eq!(
            rows.global_amax().map(f32::to_bits),
            a.global_amax().map(f32::to_bits)
        );
        assert_eq!(bits(&rows.dequantize()), bits(&a.dequantize()[4 * 32..]));
    }
}
