//! GEMMs whose operands' K blocks differ (W4A8; DeepGEMM's
//! `gran_k_a != gran_k_b`): the coarser FP8-blockwise operand refined with
//! `refine_k`, then the ordinary GEMM. Checked over a seeded sweep against
//! the semantics written out here from first principles (the finer blocks
//! define the inner sums; each fine block's term is rounded to f32 once;
//! f32 accumulation in K order), and fast path against reference.

use blockscale::format::{BlockFormat, Fp8Blockwise, MxFp4, Nvfp4, ScaleCodec};
use blockscale::gemm::{gemm, gemm_reference};
use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
use blockscale::{E4M3, Element};

fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 40) as f32 / (1u64 << 24) as f32;
            (2.0 * u - 1.0) * ((s % 7) as f32 - 3.0).exp2()
        })
        .collect()
}

/// Element value `k` of row `r` of a stored matrix with `cols` columns.
fn elem<F: BlockFormat>(q: &QuantizedTensor<F>, r: usize, k: usize) -> f64 {
    let cols = q.stored_shape().1;
    let i = r * cols + k;
    let code = if F::Elem::PACKED {
        (q.data()[i / 2] >> (4 * (i % 2))) & 0xF
    } else {
        q.data()[i]
    };
    f64::from(F::Elem::from_bits(code).to_f32())
}

/// The scale of element `(r, k)`.
fn scale<F: BlockFormat>(
    q: &QuantizedTensor<F>,
    r: usize,
    k: usize,
    (br, bc): (usize, usize),
) -> f64 {
    let tiles_c = q.scale_shape().1;
    f64::from(q.scales()[(r / br) * tiles_c + k / bc].value())
}

/// `C = alpha' · A·Bᵀ` with fine blocks of `fine` columns, from the
/// definition, in f64 where it is exact (power-of-two FP8 scales, E4M3 or
/// E2M1 elements and scales) and f32 where the contract rounds.
#[allow(clippy::too_many_arguments)]
fn definition<FA: BlockFormat, FB: BlockFormat>(
    a: &QuantizedTensor<FA>,
    ab: (usize, usize),
    alpha: f32,
    b: &QuantizedTensor<FB>,
    bb: (usize, usize),
    fine: usize,
) -> Vec<f32> {
    let (m, k) = a.stored_shape();
    let n = b.stored_shape().0;
    let mut c = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0f32;
            for k0 in (0..k).step_by(fine) {
                let s: f64 = (k0..k0 + fine)
                    .map(|kk| elem(a, i, kk) * elem(b, j, kk))
                    .sum();
                let t = s * scale(a, i, k0, ab) * scale(b, j, k0, bb);
                acc += t as f32;
            }
            c[i * n + j] = alpha * acc;
        }
    }
    c
}

#[test]
fn refined_fp8_operands_give_the_fine_block_semantics() {
    let o = QuantizeOptions::default();
    for seed in 0..6u64 {
        let (m, n, k) = (1 + seed as usize * 3, 2 + seed as usize * 2, 256);
        let xa = values(seed, m * k);
        let xb = values(seed + 100, n * k);
        // A: 1×128 FP8 activations; B: NVFP4 (1×16) or MXFP4 (1×32) weights.
        let act =
            QuantizedTensor::quantize(Fp8Blockwise::<E4M3>::ACTIVATIONS, &xa, m, k, &o).unwrap();
        let nv = QuantizedTensor::quantize(Nvfp4::default(), &xb, n, k, &o).unwrap();
        let alpha_b = nv.global_amax().unwrap() / 2688.0;
        let fine = act.refine_k(16).unwrap();
        let (mut c1, mut c2) = (vec![0f32; m * n], vec![0f32; m * n]);
        gemm(&fine, &nv, 1.0, 0.0, &mut c1).unwrap();
        gemm_reference(&fine, &nv, 1.0, 0.0, &mut c2).unwrap();
        assert_eq!(c1, c2, "seed {seed}: fast != reference");
        // alpha' = f32(f32(1 · 1) · A_b/2688).
        assert_eq!(
            c1,
            definition(&act, (1, 128), alpha_b, &nv, (1, 16), 16),
            "seed {seed}"
        );
        // 128×128 weights (DeepSeek) refined against 1×32 MXFP4 activations.
        let w = QuantizedTensor::quantize(
            Fp8Blockwise::<E4M3>::WEIGHTS,
            &values(seed + 7, 128 * k),
            128,
            k,
            &o,
        )
        .unwrap();
        let mx = QuantizedTensor::quantize(MxFp4::default(), &xa, m, k, &o).unwrap();
        let wf = w.refine_k(32).unwrap();
        let (mut c1, mut c2) = (vec![0f32; m * 128], vec![0f32; m * 128]);
        gemm(&mx, &wf, 1.0, 0.0, &mut c1).unwrap();
        gemm_reference(&mx, &wf, 1.0, 0.0, &mut c2).unwrap();
        assert_eq!(c1, c2);
        assert_eq!(
            c1,
            definition(&mx, (1, 32), 1.0, &w, (128, 128), 32),
            "seed {seed}"
        );
    }
}

#[test]
fn refine_k_keeps_the_values_and_refuses_what_does_not_divide() {
    let o = QuantizeOptions::default();
    let x = values(3, 4 * 384);
    let q = QuantizedTensor::quantize(Fp8Blockwise::<E4M3>::ACTIVATIONS, &x, 4, 384, &o).unwrap();
    for cols in [1, 16, 32, 64, 128] {
        let f = q.refine_k(cols).unwrap();
        assert_eq!(f.dequantize(), q.dequantize());
        assert_eq!(f.data(), q.data());
        assert_eq!(f.scale_shape(), (4, 384 / cols));
    }
    for cols in [0, 48, 256] {
        assert!(q.refine_k(cols).is_err(), "{cols}");
    }
}
