//! GGUF: golden ggml blocks worked out by hand from `block_mxfp4` and
//! `block_nvfp4` (`ggml/src/ggml-common.h`, `ggml/src/ggml-quants.c`), round
//! trips crate → ggml → crate bit for bit, a tiny file checked byte by byte
//! against the GGUF v3 layout, and typed errors (never panics) for every
//! truncation and corruption of a small file.
#![cfg(feature = "io")]

use blockscale::format::{BlockFormat, MxFp4, Nvfp4};
use blockscale::io::gguf::{self, GgmlType, GgufFile, GgufTensor, Value};
use blockscale::scale::nvfp4::Nvfp4Profile;
use blockscale::tensor::{Direction, PartialBlocks, QuantizeOptions, QuantizedTensor};
use blockscale::{E4M3, E8M0};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

/// The crate's packing of codes `c(i) = i mod 16`: byte k holds elements 2k
/// (low nibble) and 2k + 1 (high nibble): 0x10, 0x32, …, 0xFE, repeated.
fn codes_mod16(n: usize) -> Vec<u8> {
    (0..n / 2)
        .map(|k| ((2 * k % 16) | ((2 * k + 1) % 16) << 4) as u8)
        .collect()
}

/// E2M1 values of codes 0..16.
const E2M1: [f32; 16] = [
    0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0,
];

#[test]
fn golden_mxfp4_block() {
    // One 1×32 block, E8M0 scale byte 0x80 (2^(128 − 127) = 2), element i
    // holding code i mod 16.
    let q = QuantizedTensor::from_parts(
        MxFp4::default(),
        (1, 32),
        Direction::Rowwise,
        PartialBlocks::Reject,
        codes_mod16(32),
        vec![E8M0::from_bits(0x80)],
        None,
    )
    .unwrap();
    // block_mxfp4: e = 0x80, then qs[j] = code(j) | code(j + 16) << 4 for
    // j < 16; here code(j + 16) = code(j) = j, so qs = 0x00, 0x11, …, 0xFF.
    let mut want = vec![0x80u8];
    want.extend((0..16u8).map(|j| j | (j << 4)));
    let got = gguf::mxfp4_to_ggml(&q).unwrap();
    assert_eq!(got, want);
    // dequantize_row_mxfp4: kvalues[q] · 2^(0x80 − 128) = kvalues[q], the
    // doubled E2M1 values, twice over; code 8 is +0 in kvalues.
    let kv = [
        0.0f32, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 0.0, -1.0, -2.0, -3.0, -4.0, -6.0, -8.0, -12.0,
    ];
    let y = gguf::dequantize_mxfp4(&got).unwrap();
    let want_y: Vec<f32> = kv.iter().chain(kv.iter()).copied().collect();
    assert_eq!(bits(&y), bits(&want_y));
    // The crate's values are the same numbers; its code 8 is −0.
    let crate_y = q.dequantize();
    assert_eq!(
        (crate_y[8].to_bits(), crate_y[24].to_bits()),
        (0x8000_0000, 0x8000_0000)
    );
    assert_eq!(bits(&y), bits(&plus_zero(&crate_y)));
    // And back.
    let back = gguf::mxfp4_from_ggml(&got, (1, 32), MxFp4::default()).unwrap();
    assert_eq!(back.data(), q.data());
}

#[test]
fn golden_nvfp4_block() {
    // One 1×64 row: four 16-element sub-blocks with E4M3 scales 1.0 (0x38),
    // 2.0 (0x40), 0.5 (0x30) and 0 (0x00); element i holds code i mod 16;
    // tensor amax 2688, so w = 2688/2688 = 1.
    let scales = [0x38u8, 0x40, 0x30, 0x00].map(E4M3::from_bits).to_vec();
    let f = Nvfp4 {
        profile: Nvfp4Profile::ModelOptimizer,
        two_d: false,
    };
    let q = QuantizedTensor::from_parts(
        f,
        (1, 64),
        Direction::Rowwise,
        PartialBlocks::Reject,
        codes_mod16(64),
        scales,
        Some(2688.0),
    )
    .unwrap();
    // block_nvfp4: d = 38 40 30 00, then for sub-block s, qs[8s + j] =
    // code(16s + j) | code(16s + j + 8) << 4 = j | (j + 8) << 4:
    // 0x80, 0x91, 0xA2, 0xB3, 0xC4, 0xD5, 0xE6, 0xF7, four times.
    let mut want = vec![0x38u8, 0x40, 0x30, 0x00];
    for _ in 0..4 {
        want.extend((0..8u8).map(|j| j | ((j + 8) << 4)));
    }
    let got = gguf::nvfp4_to_ggml(&q).unwrap();
    assert_eq!(got, want);
    // dequantize_row_nvfp4: kvalues[q] · ggml_ue4m3_to_fp32(d), the latter
    // 0.5 · E4M3(d): 0.5, 1, 0.25, 0; so e2m1 · {1, 2, 0.5, 0}.
    // Code 8 is +0 (kvalues[8] = 0); the zero scale makes −0 of the
    // negative codes 9..15 (−1 · 0 = −0), in ggml as in the crate.
    let y = gguf::dequantize_nvfp4(&got, None).unwrap();
    let want_y: Vec<f32> = [1.0f32, 2.0, 0.5, 0.0]
        .iter()
        .flat_map(|&s| (0..16).map(move |c| if c == 8 { 0.0 } else { E2M1[c] * s }))
        .collect();
    assert_eq!(bits(&y), bits(&want_y));
    assert_eq!(y[63].to_bits(), 0x8000_0000);
    // w = 1: the crate's values, but for code 8's sign.
    assert_eq!(q.global().w, 1.0);
    let mut crate_y = q.dequantize();
    for i in (8..64).step_by(16) {
        assert_eq!(crate_y[i].to_bits(), 0x8000_0000);
        crate_y[i] = 0.0;
    }
    assert_eq!(bits(&y), bits(&crate_y));
    let back = gguf::nvfp4_from_ggml(&got, (1, 64), f, 2688.0).unwrap();
    assert_eq!(back.data(), q.data());
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// −0 as +0, as ggml's `kvalues_mxfp4` reads code 8.
fn plus_zero(x: &[f32]) -> Vec<f32> {
    x.iter().map(|&v| v + 0.0).collect()
}

fn random(rng: &mut Xoshiro256PlusPlus, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let u = (rng.next_u32() as f32 / 4294967296.0) * 2.0 - 1.0;
            // Some rows tiny, some large, a few exact zeros.
            let mag = [1e-3f32, 1.0, 37.0, 1e5][(i / 64) % 4];
            if i % 97 == 0 { 0.0 } else { u * mag }
        })
        .collect()
}

#[test]
fn mxfp4_round_trips_bit_for_bit() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(39);
    for (rows, cols, dir) in [
        (1, 32, Direction::Rowwise),
        (5, 96, Direction::Rowwise),
        (7, 256, Direction::Rowwise),
        (64, 6, Direction::Columnwise),
    ] {
        let x = random(&mut rng, rows * cols);
        let o = QuantizeOptions {
            direction: dir,
            ..Default::default()
        };
        let q = QuantizedTensor::quantize(MxFp4::default(), &x, rows, cols, &o).unwrap();
        let (sr, sc) = q.stored_shape();
        let b = gguf::mxfp4_to_ggml(&q).unwrap();
        assert_eq!(b.len(), GgmlType::MXFP4.nbytes(&[sr, sc]).unwrap());
        let back = gguf::mxfp4_from_ggml(&b, (sr, sc), MxFp4::default()).unwrap();
        assert_eq!(back.data(), q.data());
        assert_eq!(
            back.scales()
                .iter()
                .map(|s| s.to_bits())
                .collect::<Vec<_>>(),
            q.scales().iter().map(|s| s.to_bits()).collect::<Vec<_>>()
        );
        // ggml's values are the crate's (stored orientation), −0 read as +0.
        let stored = if dir == Direction::Rowwise {
            q.dequantize()
        } else {
            back.dequantize()
        };
        assert_eq!(
            bits(&gguf::dequantize_mxfp4(&b).unwrap()),
            bits(&plus_zero(&stored))
        );
        assert_eq!(gguf::mxfp4_to_ggml(&back).unwrap(), b);
    }
}

#[test]
fn nvfp4_round_trips_bit_for_bit() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(40);
    for &profile in Nvfp4Profile::ALL {
        for (rows, cols) in [(1, 64), (3, 128), (9, 320)] {
            let f = Nvfp4 {
                profile,
                two_d: false,
            };
            let x = random(&mut rng, rows * cols);
            let q =
                QuantizedTensor::quantize(f, &x, rows, cols, &QuantizeOptions::default()).unwrap();
            let b = gguf::nvfp4_to_ggml(&q).unwrap();
            let back =
                gguf::nvfp4_from_ggml(&b, (rows, cols), f, q.global_amax().unwrap()).unwrap();
            assert_eq!(back.data(), q.data());
            assert_eq!(
                back.scales()
                    .iter()
                    .map(|s| s.to_bits())
                    .collect::<Vec<_>>(),
                q.scales().iter().map(|s| s.to_bits()).collect::<Vec<_>>()
            );
            assert_eq!(bits(&back.dequantize()), bits(&q.dequantize()));
            // ggml's weight f32(e2m1 · s) · w is the crate's e2m1 · f32(s · w)
            // up to one rounding: at most one unit in the last place apart.
            let t = gguf::gguf_tensors_nvfp4("blk.0.attn_k.weight", &q).unwrap();
            let g = gguf::dequantize_tensor(&t[0], Some(&t[1])).unwrap();
            let w = q.global().w;
            let exact = gguf::dequantize_nvfp4(&b, None).unwrap();
            for (i, ((&a, &c), &e)) in g.iter().zip(&q.dequantize()).zip(&exact).enumerate() {
                assert_eq!(a.to_bits(), (e * w).to_bits(), "{i}");
                // TE's and CUTLASS's factors are not s · w (SEMANTICS.md §3).
                if !matches!(
                    profile,
                    Nvfp4Profile::TransformerEngine | Nvfp4Profile::Cutlass
                ) {
                    let ulps = (a.to_bits() as i64 - (c + 0.0).to_bits() as i64).abs();
                    assert!(
                        ulps <= 1 || (a == 0.0 && c == 0.0),
                        "{profile:?} {i}: {a} vs {c}"
                    );
                }
            }
        }
    }
}

#[test]
fn unrepresentable_tensors_are_refused() {
    let x = vec![1.0f32; 2 * 48];
    let o = QuantizeOptions::default();
    // Rows of 48 are whole NVFP4 blocks of 16 but not ggml blocks of 64.
    let q = QuantizedTensor::quantize(Nvfp4::default(), &x, 2, 48, &o).unwrap();
    assert!(gguf::gguf_tensors_nvfp4("w", &q).is_err());
    // 2-D tiles.
    let x = vec![1.0f32; 32 * 32];
    let q = QuantizedTensor::quantize(MxFp4::new_2d(Default::default()), &x, 32, 32, &o).unwrap();
    assert!(gguf::mxfp4_to_ggml(&q).is_err());
    let q =
        QuantizedTensor::quantize(Nvfp4::WEIGHTS_2D, &vec![1.0f32; 64 * 64], 64, 64, &o).unwrap();
    assert!(gguf::nvfp4_to_ggml(&q).is_err());
    // A NaN E8M0 scale, and its ggml counterpart (2^127 to ggml).
    let q = QuantizedTensor::from_parts(
        MxFp4::default(),
        (1, 32),
        Direction::Rowwise,
        PartialBlocks::Reject,
        vec![0; 16],
        vec![E8M0::from_bits(0xFF)],
        None,
    )
    .unwrap();
    assert!(gguf::mxfp4_to_ggml(&q).is_err());
    let mut b = vec![0xFFu8];
    b.extend([0u8; 16]);
    assert!(gguf::mxfp4_from_ggml(&b, (1, 32), MxFp4::default()).is_err());
    assert_eq!(gguf::dequantize_mxfp4(&b).unwrap()[0], 0.0);
    // Negative and NaN E4M3 block scales.
    for s in [0xB8u8, 0x7F, 0xFF] {
        let q = QuantizedTensor::from_parts(
            Nvfp4::default(),
            (1, 64),
            Direction::Rowwise,
            PartialBlocks::Reject,
            vec![0; 32],
            vec![E4M3::from_bits(s); 4],
            Some(1.0),
        )
        .unwrap();
        assert!(gguf::nvfp4_to_ggml(&q).is_err(), "{s:#x}");
    }
    // Lengths that are not whole blocks.
    assert!(gguf::dequantize_mxfp4(&[0; 16]).is_err());
    assert!(gguf::dequantize_nvfp4(&[0; 35], None).is_err());
    assert!(gguf::mxfp4_from_ggml(&[0; 17], (1, 64), MxFp4::default()).is_err());
    assert!(gguf::nvfp4_from_ggml(&[0; 36], (1, 32), Nvfp4::default(), 1.0).is_err());
}

/// The tiny file of the layout test.
fn tiny() -> GgufFile {
    GgufFile {
        metadata: vec![("general.architecture".into(), Value::String("llama".into()))],
        tensors: vec![GgufTensor::f32("w", vec![2], &[1.0, 2.0]).unwrap()],
    }
}

#[test]
fn tiny_file_layout_byte_by_byte() {
    let b = tiny().to_bytes().unwrap();
    let mut want: Vec<u8> = Vec::new();
    // Header: magic, version 3, 1 tensor, 1 key/value (u64s).
    want.extend(b"GGUF");
    want.extend([3, 0, 0, 0]);
    want.extend([1, 0, 0, 0, 0, 0, 0, 0]);
    want.extend([1, 0, 0, 0, 0, 0, 0, 0]);
    // Key: u64 length 20, "general.architecture"; type 8 (string); value:
    // u64 length 5, "llama".
    want.extend([20, 0, 0, 0, 0, 0, 0, 0]);
    want.extend(b"general.architecture");
    want.extend([8, 0, 0, 0]);
    want.extend([5, 0, 0, 0, 0, 0, 0, 0]);
    want.extend(b"llama");
    // Tensor info: name (u64 1, "w"), 1 dimension, ne[0] = 2, type 0 (F32),
    // offset 0.
    want.extend([1, 0, 0, 0, 0, 0, 0, 0]);
    want.extend(b"w");
    want.extend([1, 0, 0, 0]);
    want.extend([2, 0, 0, 0, 0, 0, 0, 0]);
    want.extend([0, 0, 0, 0]);
    want.extend([0, 0, 0, 0, 0, 0, 0, 0]);
    // 24 + 45 + 33 = 102 bytes of header: zeros to 128, the data section's
    // start (alignment 32).
    assert_eq!(want.len(), 102);
    want.extend([0; 26]);
    // Data: 1.0f32, 2.0f32, then zeros to the next multiple of 32.
    want.extend([0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x40]);
    want.extend([0; 24]);
    assert_eq!(b, want);
    assert_eq!(GgufFile::from_bytes("tiny", &b).unwrap(), tiny());
}

#[test]
fn dimensions_are_stored_innermost_first_and_alignment_is_honoured() {
    let mut f = GgufFile {
        metadata: vec![("general.alignment".into(), Value::U32(64))],
        tensors: vec![
            GgufTensor::f32("a", vec![1], &[5.0]).unwrap(),
            GgufTensor {
                name: "m".into(),
                shape: vec![3, 32],
                ggml_type: GgmlType::MXFP4,
                data: (0..51).collect(),
            },
        ],
    };
    let b = f.to_bytes().unwrap();
    // Header 24; key 8 + 17 + type 4 + u32 4 = 33; tensor "a" 8+1+4+8+4+8 =
    // 33; tensor "m" 8+1+4+16+4+8 = 41: 131 bytes, data from 192.
    let m_info = 24 + 33 + 33;
    assert_eq!(
        &b[m_info + 13..m_info + 29],
        &[32, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(b[m_info + 29], 39); // MXFP4
    assert_eq!(&b[m_info + 33..m_info + 41], &[64, 0, 0, 0, 0, 0, 0, 0]); // offset
    assert_eq!(&b[192..196], &5.0f32.to_le_bytes());
    assert_eq!(&b[256..307], &(0..51).collect::<Vec<u8>>()[..]);
    assert_eq!(b.len(), 320);
    assert_eq!(GgufFile::from_bytes("f", &b).unwrap(), f);
    // A bad alignment is refused on both sides.
    f.metadata[0].1 = Value::U32(24);
    assert!(f.to_bytes().is_err());
}

#[test]
fn metadata_of_every_type_round_trips() {
    let f = GgufFile {
        metadata: vec![
            ("general.architecture".into(), Value::String("llama".into())),
            ("general.name".into(), Value::String("tiny ünïcode".into())),
            ("a.u8".into(), Value::U8(7)),
            ("a.i8".into(), Value::I8(-7)),
            ("a.u16".into(), Value::U16(700)),
            ("a.i16".into(), Value::I16(-700)),
            ("a.u32".into(), Value::U32(70000)),
            ("a.i32".into(), Value::I32(-70000)),
            ("a.f32".into(), Value::F32(0.1)),
            ("a.bool".into(), Value::Bool(true)),
            ("a.u64".into(), Value::U64(1 << 40)),
            ("a.i64".into(), Value::I64(-(1 << 40))),
            ("a.f64".into(), Value::F64(0.1)),
            (
                "tokenizer.ggml.tokens".into(),
                Value::Array(
                    gguf::ValueType::String,
                    vec![Value::String("a".into()), Value::String("".into())],
                ),
            ),
            ("a.empty".into(), Value::Array(gguf::ValueType::F32, vec![])),
        ],
        tensors: vec![],
    };
    let b = f.to_bytes().unwrap();
    assert_eq!(GgufFile::from_bytes("m", &b).unwrap(), f);
    let mixed = GgufFile {
        metadata: vec![(
            "x".into(),
            Value::Array(gguf::ValueType::U32, vec![Value::U32(1), Value::I32(2)]),
        )],
        tensors: vec![],
    };
    assert!(mixed.to_bytes().is_err());
}

/// A small file with quantized tensors, for the corruption tests.
fn small() -> Vec<u8> {
    let x: Vec<f32> = (0..2 * 64).map(|i| (i as f32 * 0.7).sin()).collect();
    let o = QuantizeOptions::default();
    let mx = QuantizedTensor::quantize(MxFp4::default(), &x, 2, 64, &o).unwrap();
    let nv = QuantizedTensor::quantize(Nvfp4::default(), &x, 2, 64, &o).unwrap();
    let mut tensors = gguf::gguf_tensors_mxfp4("blk.0.ffn_up.weight", &mx).unwrap();
    tensors.extend(gguf::gguf_tensors_nvfp4("blk.0.ffn_down.weight", &nv).unwrap());
    GgufFile {
        metadata: vec![
            ("general.architecture".into(), Value::String("llama".into())),
            (
                "tokenizer.ggml.tokens".into(),
                Value::Array(gguf::ValueType::String, vec![Value::String("a".into())]),
            ),
        ],
        tensors,
    }
    .to_bytes()
    .unwrap()
}

#[test]
fn every_truncation_is_an_error() {
    let b = small();
    // The last tensor's padding is not data: only cuts into data must fail.
    let f = GgufFile::from_bytes("small", &b).unwrap();
    let data_end = b.len() - 28; // the F32 [1] scale: 4 bytes, then 28 of padding
    assert_eq!(f.tensors.last().unwrap().data.len(), 4);
    for n in 0..data_end {
        let e = GgufFile::from_bytes("small.gguf", &b[..n]);
        match e {
            Err(blockscale::Error::File { path, .. }) => assert_eq!(path, "small.gguf"),
            other => panic!("truncated to {n}: {other:?}"),
        }
    }
}

/// Where tensor infos start in [`small`]'s bytes, and the bytes.
fn small_infos() -> (Vec<u8>, usize) {
    let b = small();
    // Header 24; "general.architecture" KV 8+20+4+8+5 = 45; tokens KV
    // 8+21+4 + 4+8 + 8+1 = 54.
    (b, 24 + 45 + 54)
}

fn err(b: &[u8]) -> String {
    match GgufFile::from_bytes("c.gguf", b) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn corrupt_files_are_errors_naming_file_and_tensor() {
    let (b, infos) = small_infos();
    let name = "blk.0.ffn_up.weight";
    // Tensor 0's info: name length, name, n_dims, ne[0], ne[1], type, offset.
    let n_dims = infos + 8 + name.len();
    let ne0 = n_dims + 4;
    let ty = ne0 + 16;
    let off = ty + 4;
    assert_eq!(&b[infos + 8..n_dims], name.as_bytes());

    let mut c = b.clone();
    c[0] = b'X';
    assert!(err(&c).contains("not a GGUF file"));
    for v in [1u8, 2, 4] {
        let mut c = b.clone();
        c[4] = v;
        assert!(err(&c).contains(&format!("version {v}")));
    }
    // Counts no file of this length can hold: no allocation, an error.
    for at in [8, 16] {
        let mut c = b.clone();
        c[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(err(&c).contains("more than the"), "{}", err(&c));
    }
    // A string length past the end.
    let mut c = b.clone();
    c[24..32].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(err(&c).contains("metadata key length"));
    // Unknown value type, bad bool.
    let mut c = b.clone();
    c[24 + 28] = 13;
    assert!(err(&c).contains("unknown value type 13"));
    let mut c = b.clone();
    c[ty] = 2; // Q4_0: not decoded here
    let e = err(&c);
    assert!(
        e.contains("c.gguf: tensor blk.0.ffn_up.weight: ggml type 2"),
        "{e}"
    );
    // Offsets out of range and misaligned.
    let mut c = b.clone();
    c[off..off + 8].copy_from_slice(&(1u64 << 20).to_le_bytes());
    assert!(err(&c).contains("tensor blk.0.ffn_up.weight: data at offset"));
    let mut c = b.clone();
    c[off] = 8;
    assert!(err(&c).contains("not a multiple of the alignment"));
    // Dimensions: a product that overflows, a size the data cannot hold,
    // partial blocks, too many dimensions.
    let mut c = b.clone();
    c[ne0 + 8..ne0 + 16].copy_from_slice(&(1u64 << 62).to_le_bytes());
    assert!(err(&c).contains("overflows"), "{}", err(&c));
    let mut c = b.clone();
    c[ne0 + 8] = 200;
    assert!(err(&c).contains("lies outside"), "{}", err(&c));
    let mut c = b.clone();
    c[ne0] = 48;
    assert!(
        err(&c).contains("not a whole number of 1x32 blocks"),
        "{}",
        err(&c)
    );
    let mut c = b.clone();
    c[n_dims] = 5;
    assert!(err(&c).contains("5 dimensions"));
    let mut c = b.clone();
    c[n_dims] = 0;
    assert!(err(&c).contains("0 dimensions"));
    // Duplicate tensor name.
    let mut c = b.clone();
    let second = infos + 8 + name.len() + 4 + 16 + 4 + 8;
    c[second + 8..second + 8 + name.len()].copy_from_slice(name.as_bytes());
    c[second..second + 8].copy_from_slice(&(name.len() as u64).to_le_bytes());
    let e = err(&c);
    assert!(
        e.contains("duplicate") || e.contains("not UTF-8") || e.contains("truncated"),
        "{e}"
    );
    // Bad alignment value.
    let f = GgufFile {
        metadata: vec![("general.alignment".into(), Value::U32(32))],
        tensors: vec![],
    };
    let mut c = f.to_bytes().unwrap();
    c[24 + 8 + 17 + 4] = 33;
    assert!(err(&c).contains("general.alignment"));
}

#[test]
fn random_corruption_never_panics() {
    let b = small();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    for _ in 0..20_000 {
        let mut c = b.clone();
        for _ in 0..1 + rng.next_u32() % 4 {
            let i = rng.next_u32() as usize % c.len();
            c[i] = rng.next_u32() as u8;
        }
        if let Ok(f) = GgufFile::from_bytes("r", &c) {
            for t in &f.tensors {
                let _ = gguf::dequantize_tensor(t, None);
            }
        }
    }
}

#[test]
fn write_and_read_files() {
    let dir = std::env::temp_dir().join(format!("blockscale-gguf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.gguf");
    let f = GgufFile::from_bytes("small", &small()).unwrap();
    gguf::write(&path, &f).unwrap();
    assert_eq!(gguf::read(&path).unwrap(), f);
    assert_eq!(std::fs::read(&path).unwrap(), small());
    // A missing file names itself.
    let e = gguf::read(dir.join("missing.gguf")).unwrap_err();
    assert!(e.to_string().contains("missing.gguf"));
    // A tensor too long a name for ggml is refused before anything is written.
    let long = GgufFile {
        metadata: vec![],
        tensors: vec![
            GgufTensor::f32(&"x".repeat(64), vec![1], &[1.0]).unwrap_or(GgufTensor {
                name: "x".repeat(64),
                shape: vec![1],
                ggml_type: GgmlType::F32,
                data: vec![0; 4],
            }),
        ],
    };
    assert!(gguf::write(dir.join("long.gguf"), &long).is_err());
    assert!(!dir.join("long.gguf").exists());
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        Nvfp4::default().block(),
        blockscale::format::BlockShape::Tile { rows: 1, cols: 16 }
    );
}
