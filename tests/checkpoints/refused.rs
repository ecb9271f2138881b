//! Quantized files in layouts the tool does not read, bad fusions and
//! partial expert blocks: refused before anything is written.

use crate::cli_support::{dir, run, s};
use crate::model;
use blockscale::io::{DType, Tensor, st};
use serde_json::json;

/// A checkpoint in a layout `dequantize` does not read (here
/// compressed-tensors' INT8 per channel: I8 `weight` with an F32
/// `weight_scale` `[out, 1]`) must be refused, naming the tensor, with nothing
/// written, where FP8 bytes used to be copied through as if they were
/// weights. Fused layers of different input dimensions, and experts whose
/// input dimension is not whole blocks, are refused by `convert` the same
/// way, before anything is written.
#[test]
fn quantized_tensors_in_unknown_layouts_and_bad_fusions_are_refused() {
    let d = dir("refuse");
    let ds = d.join("ct-fp8");
    std::fs::create_dir_all(&ds).unwrap();
    let w = Tensor::new(DType::I8, vec![128, 128], vec![7; 128 * 128]).unwrap();
    let sc = Tensor::from_f32(DType::F32, vec![128, 1], &[0.5; 128]).unwrap();
    let n = "model.layers.0.mlp.down_proj";
    st::write(
        ds.join("model.safetensors"),
        &[
            (format!("{n}.weight"), w),
            (format!("{n}.weight_scale"), sc),
        ],
        None,
    )
    .unwrap();
    std::fs::write(ds.join("config.json"), r#"{"model_type": "llama"}"#).unwrap();
    let out = d.join("out");
    let (ok, _, err) = run(&["dequantize", s(&ds), "-o", s(&out)]);
    assert!(!ok);
    assert!(
        err.contains(&format!("{n}.weight")) && err.contains("no layout"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!out.exists());

    let bad = d.join("fused");
    let p = "model.layers.0.self_attn";
    model(
        &bad,
        json!({"model_type": "llama"}),
        &[
            (&format!("{p}.q_proj.weight"), vec![32, 64]),
            (&format!("{p}.k_proj.weight"), vec![32, 48]),
        ],
    );
    let (ok, _, err) = run(&["convert", s(&bad), "--to", "nvfp4", "-o", s(&out)]);
    assert!(!ok);
    assert!(
        err.contains("k_proj") && err.contains("q_proj") && err.contains("input dimension"),
        "{err}"
    );
    assert!(!out.exists());
    // A gpt-oss expert whose input dimension (I = 48) is not whole
    // 32-element blocks.
    let g = d.join("gptoss");
    model(
        &g,
        json!({"model_type": "gpt_oss"}),
        &[
            ("model.layers.0.mlp.experts.gate_up_proj", vec![2, 64, 96]),
            ("model.layers.0.mlp.experts.down_proj", vec![2, 48, 64]),
        ],
    );
    let (ok, _, err) = run(&["convert", s(&g), "--to", "mxfp4", "-o", s(&out)]);
    assert!(!ok);
    assert!(
        err.contains("experts.down_proj") && err.contains("48 inputs"),
        "{err}"
    );
    assert!(!out.exists());
    // An expert stack for a layout of 2-D weights only.
    let st3 = d.join("stack");
    model(
        &st3,
        json!({"model_type": "qwen3_moe"}),
        &[("model.layers.0.mlp.experts.down_proj", vec![2, 128, 128])],
    );
    let args = [
        "convert",
        s(&st3),
        "--to",
        "fp8-block,2d",
        "--layout",
        "deepseek",
        "-o",
        s(&out),
    ];
    let (ok, _, err) = run(&args);
    assert!(!ok && err.contains("expert stacks"), "{err}");
    assert!(!out.exists());
    std::fs::remove_dir_all(&d).unwrap();
}

/// A tensor name in two shards (a stray file beside the checkpoint) is
/// refused by `dequantize` and `convert` before anything is written,
/// naming both files, where one of the two used to win silently.
#[test]
fn a_tensor_in_two_shards_is_refused() {
    let d = dir("dup");
    let n = "model.layers.0.mlp.up_proj.weight";
    model(
        &d.join("m"),
        json!({"model_type": "llama"}),
        &[(n, vec![32, 32])],
    );
    std::fs::copy(d.join("m/model.safetensors"), d.join("m/extra.safetensors")).unwrap();
    for args in [
        vec!["dequantize", "M", "-o", "OUT"],
        vec!["convert", "M", "--to", "mxfp4", "-o", "OUT"],
    ] {
        let (m, out) = (d.join("m"), d.join("out"));
        let args: Vec<&str> = args
            .iter()
            .map(|a| match *a {
                "M" => s(&m),
                "OUT" => s(&out),
                a => a,
            })
            .collect();
        let (ok, _, err) = run(&args);
        assert!(
            !ok && err.contains(n) && err.contains("also in extra.safetensors"),
            "{err}"
        );
        assert!(!out.exists());
    }
    std::fs::remove_dir_all(&d).unwrap();
}
