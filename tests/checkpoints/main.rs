//! Checkpoints the loaders accept, on small models with real names,
//! shapes and config.json, built here; one file per layout family, and
//! quantized files in layouts the tool does not read refused.
#![cfg(feature = "cli")]

#[path = "../support/cli.rs"]
mod cli_support;

mod compressed;
mod deepseek;
mod gguf;
mod gptoss;
mod modelopt;
mod refused;

use blockscale::format::Nvfp4;
use blockscale::io::{DType, Tensor, st};
use blockscale::scale::nvfp4::Nvfp4Profile;
use cli_support::values;
use serde_json::Value;
use std::path::Path;

const MO: Nvfp4 = Nvfp4 {
    profile: Nvfp4Profile::ModelOptimizer,
    two_d: false,
};

/// Writes one BF16 shard (values exact in BF16) and config.json; returns
/// the tensors as f32.
fn model(d: &Path, config: Value, shapes: &[(&str, Vec<usize>)]) -> Vec<(String, Vec<f32>)> {
    std::fs::create_dir_all(d).unwrap();
    let mut out = Vec::new();
    let mut tensors = Vec::new();
    for (i, (name, shape)) in shapes.iter().enumerate() {
        let n: usize = shape.iter().product();
        let t = Tensor::from_f32(DType::BF16, shape.clone(), &values(n, i as u32 + 3)).unwrap();
        out.push((name.to_string(), t.to_f32().unwrap()));
        tensors.push((name.to_string(), t));
    }
    st::write(d.join("model.safetensors"), &tensors, None).unwrap();
    std::fs::write(d.join("config.json"), config.to_string()).unwrap();
    out
}

fn json_file(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// `[rows, cols]` transposed.
fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..rows * cols)
        .map(|i| x[(i % rows) * cols + i / rows])
        .collect()
}

/// Runs `blockscale convert SRC --to TO [extra…] -o OUT` and asserts that it
/// succeeded.
fn convert_ok(src: &Path, to: &str, extra: &[&str], out: &Path) {
    let mut args = vec!["convert", cli_support::s(src), "--to", to];
    args.extend_from_slice(extra);
    args.extend(["-o", cli_support::s(out)]);
    let (ok, _, err) = cli_support::run(&args);
    assert!(ok, "convert --to {to} {extra:?}: {err}");
}
