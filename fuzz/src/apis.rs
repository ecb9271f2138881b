//! The `gemm_apis` target: the GEMM entry points around the core GEMM
//! (grouped, epilogue, block-scaled output, any-format and W4A8,
//! row-scaled), each against the core reference GEMM and the rule its
//! documentation states.

use arbitrary::Unstructured;
use blockscale::format::{
    BlockFormat, Fp8Blockwise, Fp8Tensorwise, Mx, MxFp4, MxFp8E4M3, Nvfp4, ScaleCodec,
};
use blockscale::gemm::{self, Bias, Epilogue};
use blockscale::scale::{mx::MxProfile, nvfp4::Nvfp4Profile};
use blockscale::simd;
use blockscale::tensor::{
    AnyQuantized, PartialBlocks, QuantizeOptions, QuantizedTensor, RowScaled,
};
use blockscale::testing::{levels, same_bits, same_values};
use blockscale::{E2M3, E4M3, E5M2};

use crate::{pick, values};

/// Partial blocks padded with zeros, so that M and N need not be whole
/// blocks (2-D tiles included).
fn padded() -> QuantizeOptions {
    QuantizeOptions {
        partial_blocks: PartialBlocks::ZeroPad,
        ..QuantizeOptions::default()
    }
}

fn operand<F: BlockFormat>(
    f: &F,
    u: &mut Unstructured,
    (rows, k): (usize, usize),
) -> Option<QuantizedTensor<F>> {
    let x = values(u, rows * k);
    QuantizedTensor::quantize(f.clone(), &x, rows, k, &padded()).ok()
}

/// `gemm_reference` with `beta = 0` into a fresh M×N buffer.
fn reference<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    alpha: f32,
) -> Vec<f32> {
    let mut y = vec![0f32; a.stored_shape().0 * b.stored_shape().0];
    gemm::gemm_reference(a, b, alpha, 0.0, &mut y).expect("operands the fast GEMM took");
    y
}

fn alpha(u: &mut Unstructured) -> f32 {
    pick(u, &[1.0f32, -0.5, 3.0, 1e-30])
}

/// A check run on one pair of operand formats.
trait Check {
    fn run<FA: BlockFormat, FB: BlockFormat>(&self, fa: FA, fb: FB, u: &mut Unstructured);
}

/// Runs `check` on one of a few operand pairs: 1×16 NVFP4, mixed MX, per
/// tensor E4M3 × E5M2, and 2-D FP8 tiles (whose rows a grouped GEMM must
/// widen to whole tiles).
fn on_pair<C: Check>(check: C, u: &mut Unstructured) {
    match u.int_in_range(0..=3u8).unwrap_or(0) {
        0 => check.run(Nvfp4::default(), Nvfp4::default(), u),
        1 => check.run(MxFp8E4M3::default(), MxFp4::default(), u),
        2 => check.run(
            Fp8Tensorwise::<E4M3>::current(),
            Fp8Tensorwise::<E5M2>::current(),
            u,
        ),
        _ => check.run(
            Fp8Blockwise::<E4M3>::new(32, 32),
            Fp8Blockwise::<E4M3>::new(32, 32),
            u,
        ),
    }
}

/// `gemm_contiguous` (fast) and `gemm_contiguous_reference` agree at every
/// level; each valid row is that row of the whole A's reference GEMM with
/// its expert, padding rows keep their bits, and an error writes nothing.
struct Contiguous;

impl Check for Contiguous {
    fn run<FA: BlockFormat, FB: BlockFormat>(&self, fa: FA, fb: FB, u: &mut Unstructured) {
        let m = u.int_in_range(1..=48).unwrap_or(1);
        let n = u.int_in_range(1..=24).unwrap_or(1);
        let k = 32 * u.int_in_range(1..=4usize).unwrap_or(1);
        let experts = u.int_in_range(1..=3usize).unwrap_or(1);
        let Some(a) = operand(&fa, u, (m, k)) else {
            return;
        };
        let Some(b) = (0..experts)
            .map(|_| operand(&fb, u, (n, k)))
            .collect::<Option<Vec<_>>>()
        else {
            return;
        };
        // Runs of rows per group, as a router sorts tokens; one run in 48
        // has a group outside -1..experts (an error).
        let mut groups = Vec::with_capacity(m);
        while groups.len() < m {
            let g = if u.ratio(1, 48).unwrap_or(false) {
                pick(u, &[-2, experts as i32])
            } else {
                u.int_in_range(-1..=experts as i32 - 1).unwrap_or(0)
            };
            let run = u.int_in_range(1..=16usize).unwrap_or(m);
            groups.extend(std::iter::repeat_n(g, run.min(m - groups.len())));
        }
        let alpha = alpha(u);
        let c0 = values(u, m * n);
        let mut want = c0.clone();
        let r = gemm::gemm_contiguous_reference(&a, &b, &groups, alpha, &mut want);
        for level in levels() {
            let mut got = c0.clone();
            let fast = simd::with_level(level, || {
                gemm::gemm_contiguous(&a, &b, &groups, alpha, &mut got)
            });
            assert_eq!(fast.is_ok(), r.is_ok(), "contiguous at {level:?}");
            if let Err(d) = same_values(&got, &want) {
                panic!("contiguous m={m} n={n} k={k} at {level:?}: fast vs reference: {d}");
            }
        }
        if r.is_err() {
            same_bits(&want, &c0).expect("a failed grouped GEMM writes nothing");
            return;
        }
        let whole: Vec<Vec<f32>> = b.iter().map(|e| reference(&a, e, alpha)).collect();
        for (i, &g) in groups.iter().enumerate() {
            let row = i * n..(i + 1) * n;
            let check = match usize::try_from(g) {
                Ok(e) => same_values(&want[row.clone()], &whole[e][row]),
                Err(_) => same_bits(&want[row.clone()], &c0[row]),
            };
            if let Err(d) = check {
                panic!("contiguous row {i} of group {g}: {d}");
            }
        }
        let mut short = vec![0f32; m * n - 1];
        assert!(gemm::gemm_contiguous(&a, &b, &groups, alpha, &mut short).is_err());
    }
}

/// `gemm_masked` (fast) and `gemm_masked_reference` agree at every level;
/// each group's first `masked_m[g]` rows are those of its reference GEMM,
/// the rest keep their bits, and an error writes nothing.
struct Masked;

impl Check for Masked {
    fn run<FA: BlockFormat, FB: BlockFormat>(&self, fa: FA, fb: FB, u: &mut Unstructured) {
        let groups = u.int_in_range(1..=3usize).unwrap_or(1);
        let m_max = u.int_in_range(1..=40).unwrap_or(1);
        let n = u.int_in_range(1..=24).unwrap_or(1);
        let k = 32 * u.int_in_range(1..=4usize).unwrap_or(1);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..groups {
            let (Some(x), Some(w)) = (operand(&fa, u, (m_max, k)), operand(&fb, u, (n, k))) else {
                return;
            };
            a.push(x);
            b.push(w);
        }
        // One draw in 16 is past M_max (an error).
        let masked: Vec<usize> = (0..groups)
            .map(|_| u.int_in_range(0..=m_max + 1).unwrap_or(m_max))
            .collect();
        let alpha = alpha(u);
        let per = m_max * n;
        let c0 = values(u, groups * per);
        let mut want = c0.clone();
        let r = gemm::gemm_masked_reference(&a, &b, &masked, alpha, &mut want);
        for level in levels() {
            let mut got = c0.clone();
            let fast = simd::with_level(level, || {
                gemm::gemm_masked(&a, &b, &masked, alpha, &mut got)
            });
            assert_eq!(fast.is_ok(), r.is_ok(), "masked at {level:?}");
            if let Err(d) = same_values(&got, &want) {
                panic!("masked m_max={m_max} n={n} k={k} at {level:?}: fast vs reference: {d}");
            }
        }
        assert_eq!(r.is_ok(), masked.iter().all(|&x| x <= m_max));
        if r.is_err() {
            same_bits(&want, &c0).expect("a failed grouped GEMM writes nothing");
            return;
        }
        for (g, (x, w)) in a.iter().zip(&b).enumerate() {
            let whole = reference(x, w, alpha);
            let (valid, out) = (masked[g] * n, &want[g * per..(g + 1) * per]);
            let check = same_values(&out[..valid], &whole[..valid])
                .and_then(|()| same_bits(&out[valid..], &c0[g * per + valid..(g + 1) * per]));
            if let Err(d) = check {
                panic!("masked group {g} ({} of {m_max} rows): {d}", masked[g]);
            }
        }
    }
}

/// `gemm_epilogue` at every level against the reference GEMM followed by
/// the epilogue's rule written out here (each step rounded to f32); then
/// `gemm_quantized` against quantizing that result.
struct WithEpilogue;

/// A vector of `len` values, one draw in 16 one too long (an error).
fn vector(u: &mut Unstructured, len: usize) -> (Vec<f32>, bool) {
    let bad = u.ratio(1, 16).unwrap_or(false);
    (values(u, len + bad as usize), bad)
}

impl Check for WithEpilogue {
    fn run<FA: BlockFormat, FB: BlockFormat>(&self, fa: FA, fb: FB, u: &mut Unstructured) {
        let m = u.int_in_range(1..=24).unwrap_or(1);
        let n = u.int_in_range(1..=40).unwrap_or(1);
        let k = 32 * u.int_in_range(1..=4usize).unwrap_or(1);
        let (Some(a), Some(b)) = (operand(&fa, u, (m, k)), operand(&fb, u, (n, k))) else {
            return;
        };
        let mut bad = false;
        let mut some = |u: &mut Unstructured, len: usize| {
            u.arbitrary::<bool>().unwrap_or(false).then(|| {
                let (v, b) = vector(u, len);
                bad |= b;
                v
            })
        };
        let rows = some(u, m);
        let cols = some(u, n);
        let bias_rows = u.arbitrary::<bool>().unwrap_or(false);
        let bias = some(u, if bias_rows { m } else { n });
        let mut e = Epilogue::new();
        if let Some(s) = &rows {
            e = e.row_scale(s);
        }
        if let Some(s) = &cols {
            e = e.col_scale(s);
        }
        if let Some(v) = &bias {
            e = e.bias(if bias_rows {
                Bias::PerRow(v)
            } else {
                Bias::PerColumn(v)
            });
        }
        let (alpha, beta) = (alpha(u), pick(u, &[0.0f32, 1.0, -2.0]));
        let c0 = values(u, m * n);
        // SEMANTICS §7 / `Epilogue`: col scale, row scale, bias, then beta.
        let y = reference(&a, &b, alpha);
        let rule = |beta: f32| -> Vec<f32> {
            let mut c = c0.clone();
            for i in 0..m {
                for j in 0..n {
                    let mut v = y[i * n + j];
                    if let Some(s) = &cols {
                        v *= s[j];
                    }
                    if let Some(s) = &rows {
                        v *= s[i];
                    }
                    if let Some(bv) = &bias {
                        v += bv[if bias_rows { i } else { j }];
                    }
                    let old = &mut c[i * n + j];
                    *old = if beta == 0.0 { v } else { v + beta * *old };
                }
            }
            c
        };
        let want = if bad { c0.clone() } else { rule(beta) };
        for level in levels() {
            let mut got = c0.clone();
            let r = simd::with_level(level, || {
                gemm::gemm_epilogue(&a, &b, alpha, beta, &e, &mut got)
            });
            assert_eq!(r.is_ok(), !bad, "epilogue at {level:?}: {r:?}");
            if let Err(d) = same_values(&got, &want) {
                panic!("epilogue m={m} n={n} k={k} beta={beta} at {level:?}: {d}");
            }
        }
        let d0 = (!bad).then(|| rule(0.0));
        match u.int_in_range(0..=2u8).unwrap_or(0) {
            0 => quantized(
                &a,
                &b,
                alpha,
                &e,
                d0,
                Nvfp4 {
                    profile: Nvfp4Profile::Cutlass,
                    two_d: false,
                },
            ),
            1 => quantized(
                &a,
                &b,
                alpha,
                &e,
                d0,
                MxFp8E4M3::default().with_profile(MxProfile::Cutlass),
            ),
            _ => quantized(&a, &b, alpha, &e, d0, Fp8Tensorwise::<E4M3>::current()),
        }
    }
}

/// `gemm_quantized` against `QuantizedTensor::quantize` of `d0`, the
/// epilogue's result with `beta = 0` (`None`: the epilogue is invalid).
fn quantized<FA: BlockFormat, FB: BlockFormat, F: BlockFormat>(
    a: &QuantizedTensor<FA>,
    b: &QuantizedTensor<FB>,
    alpha: f32,
    e: &Epilogue,
    d0: Option<Vec<f32>>,
    out: F,
) {
    let (m, n) = (a.stored_shape().0, b.stored_shape().0);
    let opts = padded();
    let got = gemm::gemm_quantized(a, b, alpha, e, out.clone(), &opts);
    let want = d0.map(|d| QuantizedTensor::quantize(out, &d, m, n, &opts));
    match (got, want) {
        (Ok(g), Some(Ok(w))) => {
            assert_eq!(g.data(), w.data(), "gemm_quantized data");
            let bits =
                |t: &QuantizedTensor<F>| t.scales().iter().map(|s| s.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&g), bits(&w), "gemm_quantized scales");
            assert_eq!(
                g.global_amax().map(f32::to_bits),
                w.global_amax().map(f32::to_bits),
                "gemm_quantized tensor amax"
            );
        }
        (Err(_), None | Some(Err(_))) => {}
        (g, w) => panic!(
            "gemm_quantized {:?} where quantizing gives {:?}",
            g.err(),
            w.map(|r| r.err())
        ),
    }
}

/// `gemm_any` on tensors wrapped as `AnyQuantized`: the reference GEMM of
/// the typed pair where the pairing is one it runs (same scale kind, or
/// FP8 blockwise × FP4 once refined to the FP4 K blocks, either order), an
/// error that writes nothing otherwise.
fn any(u: &mut Unstructured) {
    let m = u.int_in_range(1..=16).unwrap_or(1);
    let n = u.int_in_range(1..=24).unwrap_or(1);
    let k = 64 * u.int_in_range(1..=3usize).unwrap_or(1);
    let swap = u.arbitrary::<bool>().unwrap_or(false);
    let refine = !u.ratio(1, 8).unwrap_or(false);
    match u.int_in_range(0..=4u8).unwrap_or(0) {
        0 => any_pair(
            Fp8Blockwise::<E4M3>::new(1, 64),
            Nvfp4::default(),
            u,
            (m, n, k),
            swap,
            refine.then_some(16),
        ),
        1 => any_pair(
            Fp8Blockwise::<E5M2>::new(1, 64),
            MxFp4::default(),
            u,
            (m, n, k),
            swap,
            refine.then_some(32),
        ),
        2 => any_pair(
            MxFp8E4M3::default(),
            Mx::<E2M3>::default(),
            u,
            (m, n, k),
            swap,
            Some(0),
        ),
        3 => any_pair(
            Nvfp4::default(),
            MxFp8E4M3::default(),
            u,
            (m, n, k),
            swap,
            None,
        ),
        _ => any_pair(
            Fp8Tensorwise::<E4M3>::current(),
            MxFp4::default(),
            u,
            (m, n, k),
            swap,
            None,
        ),
    }
}

/// `refine`: `Some(0)` a same-kind pair, `Some(c)` FP8 blockwise `fa`
/// refined to K blocks of `c`, `None` a pairing `gemm_any` refuses.
fn any_pair<FA: BlockFormat, FB: BlockFormat>(
    fa: FA,
    fb: FB,
    u: &mut Unstructured,
    (m, n, k): (usize, usize, usize),
    swap: bool,
    refine: Option<usize>,
) where
    AnyQuantized: From<QuantizedTensor<FA>> + From<QuantizedTensor<FB>>,
    QuantizedTensor<FA>: TryFrom<AnyQuantized>,
{
    let (rows_a, rows_b) = if swap { (n, m) } else { (m, n) };
    let (Some(mut x), Some(w)) = (operand(&fa, u, (rows_a, k)), operand(&fb, u, (rows_b, k)))
    else {
        return;
    };
    if let Some(c @ 1..) = refine {
        let fine = AnyQuantized::from(x).refine_k(c);
        let fine = fine.expect("FP8 blocks of 64 refine to 16 and 32");
        let Ok(t) = QuantizedTensor::<FA>::try_from(fine) else {
            panic!("refine_k keeps the format");
        };
        x = t;
    }
    let (alpha, beta) = (alpha(u), pick(u, &[0.0f32, 1.0]));
    let c0 = values(u, m * n);
    let mut want = c0.clone();
    let ok = if refine.is_none() {
        false
    } else if swap {
        gemm::gemm_reference(&w, &x, alpha, beta, &mut want).is_ok()
    } else {
        gemm::gemm_reference(&x, &w, alpha, beta, &mut want).is_ok()
    };
    let (x, w) = (AnyQuantized::from(x), AnyQuantized::from(w));
    let (qa, qb) = if swap { (&w, &x) } else { (&x, &w) };
    for level in levels() {
        let mut got = c0.clone();
        let r = simd::with_level(level, || gemm::gemm_any(qa, qb, alpha, beta, &mut got));
        assert_eq!(
            r.is_ok(),
            ok,
            "gemm_any {} x {}: {r:?}",
            qa.format().name(),
            qb.format().name()
        );
        if let Err(d) = same_values(&got, &want) {
            panic!(
                "gemm_any {} x {} at {level:?}: {d}",
                qa.format().name(),
                qb.format().name()
            );
        }
    }
}

/// Row-scaled NVFP4: each row is what quantizing that row alone gives (its
/// amax the row's); `gemm_row_scaled` and `gemm_row_scaled_b` at every
/// level are TE's rule on the reference GEMM of the unit-amax operands.
fn row_scaled(u: &mut Unstructured) {
    let m = u.int_in_range(1..=16).unwrap_or(1);
    let n = u.int_in_range(1..=24).unwrap_or(1);
    let k = 16 * u.int_in_range(1..=8usize).unwrap_or(1);
    let f = Nvfp4::default();
    let opts = QuantizeOptions::default();
    let x = values(u, m * k);
    let Ok(rs) = RowScaled::quantize(f, &x, m, k, &opts) else {
        return;
    };
    let half = k / 2;
    for r in 0..m {
        let one = QuantizedTensor::quantize(f, &x[r * k..(r + 1) * k], 1, k, &opts)
            .expect("a row that quantizes as part of the whole");
        assert_eq!(
            &rs.data()[r * half..(r + 1) * half],
            one.data(),
            "row {r}'s codes"
        );
        let spr = k / 16;
        let bits = |s: &[_]| {
            s.iter()
                .map(|c: &<Nvfp4 as BlockFormat>::Scale| c.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            bits(&rs.scales()[r * spr..(r + 1) * spr]),
            bits(one.scales()),
            "row {r}'s scales"
        );
        let amax = one.global_amax().unwrap_or(f32::NAN);
        same_values(&[rs.row_amax()[r]], &[amax]).expect("row amax");
    }
    let wf = pick(u, &[Nvfp4::default(), Nvfp4::WEIGHTS_2D]);
    let Some(b) = operand(&wf, u, (n, k)) else {
        return;
    };
    let amax_b = b.global_amax().expect("NVFP4 has a tensor amax");
    let unit_b = QuantizedTensor::from_parts(
        wf,
        b.shape(),
        b.direction(),
        PartialBlocks::ZeroPad,
        b.data().to_vec(),
        b.scales().to_vec(),
        Some(1.0),
    )
    .expect("the same tensor with amax 1");
    let (alpha, beta) = (alpha(u), pick(u, &[0.0f32, 1.0, -2.0]));
    // A row-scaled A (M×N output, rows scaled) and a row-scaled B (N×M,
    // columns scaled).
    for b_side in [false, true] {
        let (rows, cols) = if b_side { (n, m) } else { (m, n) };
        let c0 = values(u, rows * cols);
        let d = if b_side {
            reference(&unit_b, rs.unit(), alpha)
        } else {
            reference(rs.unit(), &unit_b, alpha)
        };
        let mut want = c0.clone();
        for i in 0..rows {
            for j in 0..cols {
                let kk = rs.row_amax()[if b_side { j } else { i }] * amax_b;
                let v = d[i * cols + j] * kk;
                let c = &mut want[i * cols + j];
                *c = if beta == 0.0 { v } else { v + beta * *c };
            }
        }
        for level in levels() {
            let mut got = c0.clone();
            simd::with_level(level, || {
                if b_side {
                    gemm::gemm_row_scaled_b(&b, &rs, alpha, beta, &mut got)
                } else {
                    gemm::gemm_row_scaled(&rs, &b, alpha, beta, &mut got)
                }
            })
            .expect("row-scaled NVFP4 against NVFP4");
            if let Err(e) = same_values(&got, &want) {
                panic!("row-scaled (B side {b_side}) m={m} n={n} k={k} at {level:?}: {e}");
            }
        }
    }
}

/// The GEMM entry points beyond `gemm` on arbitrary small operands: the
/// grouped GEMMs (contiguous and masked), the epilogue and block-scaled
/// output, `gemm_any` (W4A8 included), and row-scaled NVFP4.
pub fn gemm_apis(data: &[u8]) {
    let mut u = Unstructured::new(data);
    match u.int_in_range(0..=4u8).unwrap_or(0) {
        0 => on_pair(Contiguous, &mut u),
        1 => on_pair(Masked, &mut u),
        2 => on_pair(WithEpilogue, &mut u),
        3 => any(&mut u),
        _ => row_scaled(&mut u),
    }
}
