//! Block-scaled GEMM throughput (multiply-accumulates counted as 2 FLOP
//! each, reported by criterion as elements = M·N·K·2) on 512³, all cores.
//! `cargo bench -p blockscale-bench --bench gemm`. For the side-by-side table against an f32
//! GEMM at 1 and 2 threads, run `cargo run --release -p blockscale-bench --example gemm_bench`.

use blockscale::E4M3;
use blockscale::format::{BlockFormat, Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp8E4M3, Nvfp4};
use blockscale::gemm::gemm;
use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const S: usize = 512;

fn inputs(seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..S * S)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 4.0
        })
        .collect()
}

fn pair<FA: BlockFormat, FB: BlockFormat>(c: &mut Criterion, fa: FA, fb: FB) {
    let o = QuantizeOptions::default();
    let a = QuantizedTensor::quantize(fa, &inputs(1), S, S, &o).unwrap();
    let b = QuantizedTensor::quantize(fb, &inputs(2), S, S, &o).unwrap();
    let mut out = vec![0f32; S * S];
    let mut g = c.benchmark_group("gemm_512");
    g.throughput(Throughput::Elements(2 * (S * S * S) as u64));
    g.sample_size(20);
    g.bench_function(a.format().name(), |bch| {
        bch.iter(|| gemm(black_box(&a), black_box(&b), 1.0, 0.0, &mut out).unwrap())
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    pair(c, Nvfp4::default(), Nvfp4::WEIGHTS_2D);
    pair(c, MxFp4::default(), MxFp4::default());
    pair(c, MxFp8E4M3::default(), MxFp8E4M3::default());
    let t = Fp8Tensorwise::<E4M3>::current();
    pair(c, t, t);
    pair(
        c,
        Fp8Blockwise::<E4M3>::ACTIVATIONS,
        Fp8Blockwise::<E4M3>::WEIGHTS,
    );
}

criterion_group!(gemm_benches, benches);
criterion_main!(gemm_benches);
