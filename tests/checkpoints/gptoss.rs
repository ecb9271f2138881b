//! gpt-oss MXFP4: experts along the input dimension, both ways.

use crate::cli_support::{dir, run, s};
use crate::{json_file, model, transpose};
use blockscale::format::MxFp4;
use blockscale::io::{DType, st};
use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
use serde_json::json;

/// gpt-oss (E = 4 experts, H = 64, I = 32): transformers' parameters are
/// `gate_up_proj [E, H, 2I]` and `down_proj [E, I, H]` (used as `x @ W`),
/// its MXFP4 tensors `*_blocks [E, out, in/32, 16]`, `*_scales [E, out,
/// in/32]`, blocks along the input dimension; everything else stays BF16.
#[test]
fn gpt_oss_experts_convert_along_the_input_dimension_and_back() {
    let d = dir("gptoss");
    let (e, h, i) = (4, 64, 32);
    let shapes = [
        ("model.embed_tokens.weight", vec![100, h]),
        ("model.layers.0.self_attn.q_proj.weight", vec![h, h]),
        ("model.layers.0.self_attn.q_proj.bias", vec![h]),
        ("model.layers.0.self_attn.sinks", vec![4]),
        ("model.layers.0.mlp.router.weight", vec![e, h]),
        ("model.layers.0.mlp.experts.gate_up_proj", vec![e, h, 2 * i]),
        (
            "model.layers.0.mlp.experts.gate_up_proj_bias",
            vec![e, 2 * i],
        ),
        ("model.layers.0.mlp.experts.down_proj", vec![e, i, h]),
        ("model.layers.0.post_attention_layernorm.weight", vec![h]),
        ("lm_head.weight", vec![100, h]),
    ];
    let src = model(
        &d.join("bf16"),
        json!({"model_type": "gpt_oss", "num_hidden_layers": 1}),
        &shapes,
    );
    let out = d.join("mxfp4");
    let (ok, _, err) = run(&[
        "convert",
        s(&d.join("bf16")),
        "--to",
        "mxfp4",
        "-o",
        s(&out),
    ]);
    assert!(ok, "{err}");
    let f = st::SafeFile::open(out.join("model.safetensors")).unwrap();
    let mut names = f.names();
    names.sort();
    let mut want: Vec<String> = shapes
        .iter()
        .map(|(n, _)| n.to_string())
        .filter(|n| !n.ends_with("gate_up_proj") && !n.ends_with("down_proj"))
        .chain(["gate_up_proj", "down_proj"].iter().flat_map(|p| {
            ["blocks", "scales"].map(|k| format!("model.layers.0.mlp.experts.{p}_{k}"))
        }))
        .collect();
    want.sort();
    assert_eq!(names, want);
    let shape = |n: &str| f.info(n).unwrap().1;
    let ex = "model.layers.0.mlp.experts";
    assert_eq!(
        shape(&format!("{ex}.gate_up_proj_blocks")),
        [e, 2 * i, h / 32, 16]
    );
    assert_eq!(
        shape(&format!("{ex}.gate_up_proj_scales")),
        [e, 2 * i, h / 32]
    );
    assert_eq!(shape(&format!("{ex}.down_proj_blocks")), [e, h, i / 32, 16]);
    assert_eq!(shape(&format!("{ex}.down_proj_scales")), [e, h, i / 32]);
    // Kept tensors are byte-identical BF16.
    for (n, x) in &src {
        if !n.ends_with("_proj") || n.contains("self_attn") {
            let t = f.tensor(n).unwrap();
            assert_eq!(
                (t.dtype, t.to_f32().unwrap()),
                (DType::BF16, x.clone()),
                "{n}"
            );
        }
    }
    // Each expert's blocks are MXFP4 of W_eᵀ (out × in), quantized rowwise.
    let (w_src, rows, cols) = (&src[5].1, h, 2 * i);
    let blocks = f.tensor(&format!("{ex}.gate_up_proj_blocks")).unwrap();
    let o = QuantizeOptions::default();
    let mut fake = Vec::new();
    for k in 0..e {
        let wt = transpose(&w_src[k * rows * cols..(k + 1) * rows * cols], rows, cols);
        let q = QuantizedTensor::quantize(MxFp4::default(), &wt, cols, rows, &o).unwrap();
        let per = q.data().len();
        assert_eq!(&blocks.data[k * per..(k + 1) * per], q.data(), "expert {k}");
        fake.extend(transpose(&q.dequantize(), cols, rows));
    }
    let config = json_file(&out.join("config.json"));
    assert_eq!(
        config["quantization_config"],
        json!({"quant_method": "mxfp4", "modules_to_not_convert": [
            "model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]})
    );
    // dequantize restores transformers' parameter: [E, H, 2I], the
    // fake-quantized original.
    let back = d.join("back");
    let (ok, _, err) = run(&["dequantize", s(&out), "-o", s(&back), "--dtype", "f32"]);
    assert!(ok, "{err}");
    let b = st::SafeFile::open(back.join("model.safetensors")).unwrap();
    let g = b.tensor(&format!("{ex}.gate_up_proj")).unwrap();
    assert_eq!(g.shape, [e, h, 2 * i]);
    assert_eq!(g.to_f32().unwrap(), fake);
    assert_eq!(
        b.tensor(&format!("{ex}.down_proj")).unwrap().shape,
        [e, i, h]
    );
    std::fs::remove_dir_all(&d).unwrap();
}
