//! Tensor files: round trips through .npy and safetensors for every dtype
//! and every quantized format, compatibility with the bytes NumPy and
//! ml_dtypes write, and typed errors (never panics, never partial files)
//! for bad input.
#![cfg(feature = "io")]

use blockscale::format::{
    BlockFormat, Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp6E2M3, MxFp6E3M2, MxFp8E4M3, MxFp8E5M2,
    MxInt8, Nvfp4,
};
use blockscale::io::{DType, Tensor, layouts, npy, st};
use blockscale::tensor::{Direction, QuantizeOptions, QuantizedTensor, QuantizedView};
use blockscale::{E4M3, E5M2, Error};
use std::path::PathBuf;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("blockscale-io-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn values(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 9.0)
        .collect()
}

#[test]
fn npy_round_trips_every_dtype() {
    let d = dir("npy");
    let x = values(12);
    for dtype in [
        DType::F64,
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::F8E4M3,
        DType::F8E5M2,
        DType::F8E8M0,
    ] {
        let t = Tensor::from_f32(dtype, vec![3, 4], &x).unwrap();
        let p = d.join(format!("{}.npy", dtype.name()));
        npy::write(&p, &t).unwrap();
        let back = npy::read(&p).unwrap();
        // ml_dtypes' opaque one-byte types come back as raw bytes.
        let back = match dtype {
            DType::F8E4M3 | DType::F8E8M0 => back.reinterpret(dtype).unwrap(),
            _ => back,
        };
        assert_eq!(back, t, "{}", dtype.name());
    }
    for dtype in [DType::U8, DType::I8] {
        let t = Tensor::new(dtype, vec![5], vec![0, 1, 127, 128, 255]).unwrap();
        let p = d.join("bytes.npy");
        npy::write(&p, &t).unwrap();
        assert_eq!(npy::read(&p).unwrap(), t);
    }
    std::fs::remove_dir_all(&d).unwrap();
}

/// The headers ml_dtypes 0.6.0 and NumPy wrote for 3-element arrays
/// (`np.save` of `np.array([1, 2, 3], dtype=...)`, printed in a session).
#[test]
fn reads_the_descriptors_ml_dtypes_writes() {
    let d = dir("mld");
    for (descr, dtype, bytes) in [
        ("<V2", DType::BF16, vec![0x80, 0x3F, 0x00, 0x40, 0x40, 0x40]),
        ("<f1", DType::F8E5M2, vec![0x3C, 0x40, 0x42]),
        ("<V1", DType::Raw8, vec![0x38, 0x40, 0x44]),
    ] {
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (3,), }}");
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend((h.len() as u16).to_le_bytes());
        b.extend(h.as_bytes());
        b.extend(&bytes);
        let p = d.join("m.npy");
        std::fs::write(&p, &b).unwrap();
        let t = npy::read(&p).unwrap();
        assert_eq!(t.dtype, dtype);
        let t = if dtype == DType::Raw8 {
            t.reinterpret(DType::F8E4M3).unwrap()
        } else {
            t
        };
        assert_eq!(t.to_f32().unwrap(), vec![1.0, 2.0, 3.0], "{descr}");
        // And this crate writes the same bytes back.
        npy::write(&p, &t).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b, "{descr}");
    }
    std::fs::remove_dir_all(&d).unwrap();
}

fn own_round_trip<F: BlockFormat>(f: F, dir: &std::path::Path, direction: Direction) {
    let (rows, cols) = (128, 256);
    let x = values(rows * cols);
    let opts = QuantizeOptions {
        direction,
        ..Default::default()
    };
    let q = QuantizedTensor::quantize(f.clone(), &x, rows, cols, &opts).unwrap();
    let (tensors, (key, json)) = layouts::own("layer.weight", &q).unwrap();
    let p = dir.join("q.safetensors");
    let meta = std::collections::HashMap::from([(key.clone(), json)]);
    st::write(&p, &tensors, Some(meta)).unwrap();
    let file = st::SafeFile::open(&p).unwrap();
    let json = file.metadata()[&key].clone();
    let back = layouts::read_own(
        &file.tensor("layer.weight.qdata").unwrap(),
        &file.tensor("layer.weight.qscales").unwrap(),
        &json,
    )
    .unwrap();
    // The metadata names the format with every option: it reads back as `f`.
    assert_eq!(back.format_id(), f.id());
    assert_eq!(back.data(), q.data(), "{}", f.name());
    let (a, b) = (back.dequantize(), q.dequantize());
    assert_eq!(
        a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        b.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        "{}",
        f.name()
    );
}

#[test]
fn every_format_round_trips_through_a_file() {
    let d = dir("own");
    for direction in [Direction::Rowwise, Direction::Columnwise] {
        own_round_trip(Nvfp4::default(), &d, direction);
        own_round_trip(Nvfp4::WEIGHTS_2D, &d, direction);
        own_round_trip(MxFp4::default(), &d, direction);
        own_round_trip(MxFp6E2M3::default(), &d, direction);
        own_round_trip(MxFp6E3M2::default(), &d, direction);
        own_round_trip(MxFp8E4M3::default(), &d, direction);
        own_round_trip(MxFp8E5M2::default(), &d, direction);
        own_round_trip(MxInt8::default(), &d, direction);
        own_round_trip(Fp8Tensorwise::<E4M3>::current(), &d, direction);
        own_round_trip(Fp8Tensorwise::<E5M2>::current(), &d, direction);
        own_round_trip(Fp8Blockwise::<E4M3>::ACTIVATIONS, &d, direction);
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn bad_files_are_typed_errors_naming_the_file() {
    let d = dir("bad");
    let good = d.join("good.npy");
    npy::write(
        &good,
        &Tensor::from_f32(DType::F32, vec![4, 4], &values(16)).unwrap(),
    )
    .unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let p = d.join("bad.npy");
    for n in [0, 5, 9, 20, 70, bytes.len() - 1] {
        std::fs::write(&p, &bytes[..n]).unwrap();
        let e = npy::read(&p).unwrap_err();
        assert!(matches!(e, Error::File { .. }), "{e}");
        assert!(e.to_string().starts_with(&p.display().to_string()), "{e}");
    }
    // A malformed header and an unsupported dtype.
    let mut bad = bytes.clone();
    bad[12..17].copy_from_slice(b"dexcr");
    std::fs::write(&p, &bad).unwrap();
    assert!(npy::read(&p).unwrap_err().to_string().contains("descr"));
    let mut bad = bytes.clone();
    let at = bad.windows(3).position(|w| w == b"<f4").unwrap();
    bad[at..at + 3].copy_from_slice(b">f4");
    std::fs::write(&p, &bad).unwrap();
    assert!(
        npy::read(&p)
            .unwrap_err()
            .to_string()
            .contains("unsupported dtype")
    );
    assert!(npy::read(d.join("missing.npy")).is_err());

    // safetensors: truncated file and garbage header.
    let sp = d.join("w.safetensors");
    let t = Tensor::from_f32(DType::BF16, vec![2, 8], &values(16)).unwrap();
    st::write(&sp, &[("w".into(), t)], None).unwrap();
    let sbytes = std::fs::read(&sp).unwrap();
    for n in [0, 7, 8, 20, sbytes.len() - 1] {
        std::fs::write(&sp, &sbytes[..n]).unwrap();
        let e = st::SafeFile::open(&sp).err().expect("error");
        assert!(matches!(e, Error::File { .. }), "{e}");
    }
    std::fs::write(&sp, &sbytes).unwrap();
    let f = st::SafeFile::open(&sp).unwrap();
    let e = f.tensor("nope").unwrap_err();
    assert!(e.to_string().contains("tensor nope"), "{e}");

    // An unwritable destination leaves nothing behind.
    let ro = d.join("missing-dir").join("x.npy");
    assert!(npy::write(&ro, &Tensor::from_f32(DType::F32, vec![1], &[1.0]).unwrap()).is_err());
    assert!(!ro.exists());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn checkpoint_layouts_match_their_definitions() {
    // gpt-oss: 32 elements per block, low nibble first, E8M0 scale bytes.
    let x: Vec<f32> = (0..64).map(|i| if i == 1 { 6.0 } else { 0.5 }).collect();
    let q = QuantizedTensor::quantize(MxFp4::default(), &x, 1, 64, &QuantizeOptions::default())
        .unwrap();
    let t = layouts::gptoss_mxfp4("w", &q).unwrap();
    assert_eq!(t[0].0, "w_blocks");
    assert_eq!(t[1].0, "w_scales");
    // RCEIL: block 0 has amax 6 → scale 2^0 (byte 127), elements 0.5
    // (code 1) and 6 (code 7); block 1 has amax 0.5 → 2^⌈log2(0.5/6)⌉ = 2^-3
    // (byte 124).
    assert_eq!(t[1].1.data, vec![127, 124]);
    assert_eq!(t[0].1.data[0], 0x71);
    // Model-Optimizer: weight_scale_2 = A/2688 as an f32 scalar.
    let f = Nvfp4 {
        profile: blockscale::scale::nvfp4::Nvfp4Profile::ModelOptimizer,
        two_d: false,
    };
    let q = QuantizedTensor::quantize(f, &values(32), 2, 16, &QuantizeOptions::default()).unwrap();
    let t = layouts::modelopt_nvfp4("w", &q).unwrap();
    let amax = values(32).iter().fold(0f32, |a, v| a.max(v.abs()));
    assert_eq!(t[2].1.to_f32().unwrap(), vec![amax / 2688.0]);
    assert_eq!(t[2].1.shape, Vec::<usize>::new());
    // Layout mismatches are errors.
    let q2 = QuantizedTensor::quantize(
        Nvfp4::WEIGHTS_2D,
        &values(256),
        16,
        16,
        &QuantizeOptions::default(),
    )
    .unwrap();
    assert!(layouts::modelopt_nvfp4("w", &q2).is_err());
}
