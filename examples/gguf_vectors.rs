//! Writes test vectors for `tests/gguf_check.py` (needs `--features io`):
//! `OUTDIR/vectors.gguf`, several MXFP4 and NVFP4 tensors (seeded random
//! data, and corner cases: an all-zero block, tiny values, exact ties,
//! huge values), and beside it, per tensor, the values this crate computes
//! as `.npy` f32 matrices:
//!
//! - `{name}.ggml.npy`: [`gguf::dequantize_tensor`], ggml's rule (NVFP4
//!   times its `.scale` tensor);
//! - `{name}.noscale.npy` (NVFP4 only): [`gguf::dequantize_nvfp4`] without
//!   the per-tensor scale, what `gguf.quants.dequantize` returns;
//! - `{name}.crate.npy`: [`QuantizedTensor::dequantize`].
//!
//! ```text
//! cargo run --release --features io --example gguf_vectors -- OUTDIR
//! ```

use blockscale::Error;
use blockscale::format::{MxFp4, Nvfp4};
use blockscale::io::gguf::{self, GgufFile, GgufTensor, Value};
use blockscale::io::{DType, Tensor, npy};
use blockscale::scale::nvfp4::Nvfp4Profile;
use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

fn uniform(rng: &mut Xoshiro256PlusPlus, n: usize, mag: f32) -> Vec<f32> {
    (0..n)
        .map(|_| ((rng.next_u32() as f32 / 4294967296.0) * 2.0 - 1.0) * mag)
        .collect()
}

/// Rows of corner cases, `cols` elements each: an all-zero row, tiny
/// values (f32 subnormals and MX scales near 2⁻¹²⁷), exact E2M1 ties
/// (halfway between grid points: 0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5 times
/// powers of two), huge values, and mixed signs with −0.
fn corners(cols: usize) -> Vec<f32> {
    let ties = [0.25f32, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 6.0];
    let mut x = vec![0f32; cols];
    x.extend((0..cols).map(|i| (i as f32 + 1.0) * 1e-39 * if i % 2 == 0 { 1.0 } else { -1.0 }));
    x.extend((0..cols).map(|i| ties[i % 8] * if i % 3 == 0 { -1.0 } else { 1.0 }));
    x.extend((0..cols).map(|i| ties[i % 8] * 2f32.powi((i % 5) as i32 - 2)));
    x.extend((0..cols).map(|i| (i as f32 - cols as f32 / 2.0) * 1e36));
    x.extend((0..cols).map(|i| {
        if i % 4 == 0 {
            -0.0
        } else {
            (i as f32 * 0.77).sin() * 1e-3
        }
    }));
    x
}

fn save(
    dir: &Path,
    name: &str,
    kind: &str,
    rows: usize,
    cols: usize,
    v: &[f32],
) -> Result<(), Error> {
    let t = Tensor::from_f32(DType::F32, vec![rows, cols], v)?;
    npy::write(dir.join(format!("{name}.{kind}.npy")), &t)
}

fn main() -> Result<(), Error> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "gguf-vectors".into()),
    );
    std::fs::create_dir_all(&dir).map_err(|e| Error::file(&dir, None, e.to_string()))?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2026);
    let o = QuantizeOptions::default();
    let mut tensors: Vec<GgufTensor> = Vec::new();

    let mut mx_inputs = vec![
        ("mx.random.weight", 4, 64, uniform(&mut rng, 4 * 64, 3.0)),
        ("mx.wide.weight", 3, 256, uniform(&mut rng, 3 * 256, 1e4)),
        ("mx.one.weight", 1, 32, uniform(&mut rng, 32, 0.01)),
    ];
    mx_inputs.push(("mx.corners.weight", 6, 64, corners(64)));
    for (name, rows, cols, x) in &mx_inputs {
        let q = QuantizedTensor::quantize(MxFp4::default(), x, *rows, *cols, &o)?;
        let t = gguf::gguf_tensors_mxfp4(name, &q)?;
        save(
            &dir,
            name,
            "ggml",
            *rows,
            *cols,
            &gguf::dequantize_tensor(&t[0], None)?,
        )?;
        save(&dir, name, "crate", *rows, *cols, &q.dequantize())?;
        tensors.extend(t);
    }

    let nv_inputs = vec![
        (
            "nv.modelopt.weight",
            Nvfp4Profile::ModelOptimizer,
            4,
            128,
            uniform(&mut rng, 512, 2.0),
        ),
        (
            "nv.te.weight",
            Nvfp4Profile::TransformerEngine,
            3,
            192,
            uniform(&mut rng, 576, 50.0),
        ),
        (
            "nv.torchao.weight",
            Nvfp4Profile::TorchAo,
            2,
            64,
            uniform(&mut rng, 128, 1e-2),
        ),
        (
            "nv.corners.weight",
            Nvfp4Profile::ModelOptimizer,
            6,
            64,
            corners(64),
        ),
        (
            "nv.corners_te.weight",
            Nvfp4Profile::TransformerEngine,
            6,
            64,
            corners(64),
        ),
    ];
    for (name, profile, rows, cols, x) in &nv_inputs {
        let f = Nvfp4 {
            profile: *profile,
            two_d: false,
        };
        let q = QuantizedTensor::quantize(f, x, *rows, *cols, &o)?;
        let t = gguf::gguf_tensors_nvfp4(name, &q)?;
        save(
            &dir,
            name,
            "ggml",
            *rows,
            *cols,
            &gguf::dequantize_tensor(&t[0], Some(&t[1]))?,
        )?;
        save(
            &dir,
            name,
            "noscale",
            *rows,
            *cols,
            &gguf::dequantize_nvfp4(&t[0].data, None)?,
        )?;
        save(&dir, name, "crate", *rows, *cols, &q.dequantize())?;
        tensors.extend(t);
    }

    let file = GgufFile {
        metadata: vec![
            (
                "general.architecture".into(),
                Value::String("blockscale-test".into()),
            ),
            ("general.name".into(), Value::String("gguf_vectors".into())),
            ("general.alignment".into(), Value::U32(32)),
            ("blockscale.seed".into(), Value::U32(2026)),
            (
                "blockscale.note".into(),
                Value::String("MXFP4 and NVFP4 test vectors".into()),
            ),
            ("blockscale.w".into(), Value::F32(0.5)),
        ],
        tensors,
    };
    gguf::write(dir.join("vectors.gguf"), &file)?;
    println!(
        "wrote {} tensors to {}",
        file.tensors.len(),
        dir.join("vectors.gguf").display()
    );
    Ok(())
}
