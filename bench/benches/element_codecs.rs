//! Encode and decode throughput of every element format (elements/s), the
//! baseline for the SIMD work. `cargo bench -p blockscale-bench --bench element_codecs`.

use blockscale::element::{ConvertOptions, slice};
use blockscale::{E2M1, E2M3, E3M2, E4M3, E5M2, E8M0, Element, Int8};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const N: usize = 1 << 20;

/// Seeded heavy-tailed inputs spanning each format's range: a fixed LCG
/// (no dependency needed for a bench input) through a Cauchy-like transform.
fn inputs(scale: f32) -> Vec<f32> {
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..N)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = ((s >> 40) as f32 + 0.5) / (1u64 << 24) as f32;
            (std::f32::consts::PI * (u - 0.5)).tan() * scale * 0.1
        })
        .collect()
}

fn bench_format<T: Element>(c: &mut Criterion) {
    let src = inputs(T::MAX_F32);
    let mut enc = vec![T::from_bits(0); N];
    let mut dec = vec![0f32; N];
    let mut g = c.benchmark_group(T::NAME);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("encode_f32", |b| {
        b.iter(|| slice::encode(black_box(&src), &mut enc, ConvertOptions::default()).unwrap())
    });
    g.bench_function("decode_f32", |b| {
        b.iter(|| slice::decode(black_box(&enc), &mut dec).unwrap())
    });
    g.finish();
}

fn codecs(c: &mut Criterion) {
    bench_format::<E2M1>(c);
    bench_format::<E2M3>(c);
    bench_format::<E3M2>(c);
    bench_format::<E4M3>(c);
    bench_format::<E5M2>(c);
    bench_format::<E8M0>(c);
    bench_format::<Int8>(c);
}

criterion_group!(benches, codecs);
criterion_main!(benches);
