//! Checkpoints the loaders accept, on small models with real names,
//! shapes and config.json, built here: gpt-oss's MXFP4 experts in
//! transformers' orientation, Model-Optimizer NVFP4 with fused layers and
//! experts scaled as vLLM requires and the config keys it reads, and
//! quantized files in layouts the tool does not read refused.
#![cfg(feature = "cli")]

#[path = "support/cli.rs"]
mod cli_support;
use cli_support::{dir, run, s, values};

use blockscale::format::{MxFp4, Nvfp4};
use blockscale::io::{DType, Tensor, st};
use blockscale::scale::nvfp4::Nvfp4Profile;
use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
use serde_json::{Value, json};
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

/// Llama-shaped NVFP4: q/k/v and gate/up share one `weight_scale_2` (the
/// largest amax of the group over 2688), o/down have their own, and the
/// configs carry the keys vLLM's Model-Optimizer loader reads.
#[test]
fn nvfp4_fused_layers_share_a_global_scale_and_the_config_is_vllms() {
    let d = dir("fused");
    let p = "model.layers.0";
    let shapes = [
        ("model.embed_tokens.weight".to_string(), vec![100, 64]),
        (format!("{p}.self_attn.q_proj.weight"), vec![64, 64]),
        (format!("{p}.self_attn.k_proj.weight"), vec![32, 64]),
        (format!("{p}.self_attn.v_proj.weight"), vec![32, 64]),
        (format!("{p}.self_attn.o_proj.weight"), vec![64, 64]),
        (format!("{p}.mlp.gate_proj.weight"), vec![128, 64]),
        (format!("{p}.mlp.up_proj.weight"), vec![128, 64]),
        (format!("{p}.mlp.down_proj.weight"), vec![64, 128]),
        ("lm_head.weight".to_string(), vec![100, 64]),
    ];
    let shapes_ref: Vec<(&str, Vec<usize>)> = shapes
        .iter()
        .map(|(n, s)| (n.as_str(), s.clone()))
        .collect();
    let mut src = model(&d.join("bf16"), json!({"model_type": "llama"}), &shapes_ref);
    // Very different magnitudes inside each fused group.
    for (n, x) in &mut src {
        if n.contains("k_proj") || n.contains("up_proj") {
            x.iter_mut().for_each(|v| *v *= 8.0);
        }
    }
    let tensors: Vec<(String, Tensor)> = src
        .iter()
        .zip(&shapes)
        .map(|((n, x), (_, sh))| {
            (
                n.clone(),
                Tensor::from_f32(DType::BF16, sh.clone(), x).unwrap(),
            )
        })
        .collect();
    st::write(d.join("bf16/model.safetensors"), &tensors, None).unwrap();
    let out = d.join("nvfp4");
    let (ok, _, err) = run(&[
        "convert",
        s(&d.join("bf16")),
        "--to",
        "nvfp4",
        "-o",
        s(&out),
    ]);
    assert!(ok, "{err}");
    let f = st::SafeFile::open(out.join("model.safetensors")).unwrap();
    let amax = |n: &str| {
        src.iter()
            .find(|(m, _)| m == n)
            .unwrap()
            .1
            .iter()
            .fold(0f32, |m, v| m.max(v.abs()))
    };
    let scale_2 = |n: &str| f.tensor(&format!("{n}_scale_2")).unwrap().to_f32().unwrap()[0];
    let groups: [&[&str]; 4] = [
        &["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"],
        &["mlp.gate_proj", "mlp.up_proj"],
        &["self_attn.o_proj"],
        &["mlp.down_proj"],
    ];
    for g in groups {
        let names: Vec<String> = g.iter().map(|m| format!("{p}.{m}.weight")).collect();
        let group_amax = names.iter().map(|n| amax(n)).fold(0f32, f32::max);
        for n in &names {
            // Model-Optimizer's weight_scale_2 = amax / (6 · 448).
            assert_eq!(scale_2(n), group_amax / 2688.0, "{n}");
            // The bytes are Model-Optimizer's with the group's amax.
            let (rows, cols) = (
                f.info(n).unwrap().1[0],
                64 * (1 + n.contains("down") as usize),
            );
            let x = &src.iter().find(|(m, _)| m == n).unwrap().1;
            let o = QuantizeOptions {
                global_amax: Some(group_amax),
                ..Default::default()
            };
            let q = QuantizedTensor::quantize(MO, x, rows, cols, &o).unwrap();
            assert_eq!(f.tensor(n).unwrap().data, q.data(), "{n}");
        }
    }
    let c = &json_file(&out.join("config.json"))["quantization_config"];
    assert_eq!(c["quant_method"], "modelopt");
    assert_eq!(c["quant_algo"], "W4A16_NVFP4");
    assert_eq!(c["group_size"], 16);
    assert!(c["ignore"].as_array().unwrap().contains(&json!("lm_head")));
    assert!(c.as_object().unwrap().contains_key("kv_cache_scheme"));
    let hf = &json_file(&out.join("hf_quant_config.json"))["quantization"];
    for key in [
        "quant_algo",
        "kv_cache_quant_algo",
        "group_size",
        "exclude_modules",
    ] {
        assert!(hf.as_object().unwrap().contains_key(key), "{key}");
    }
    // No activation statistics: weight-only, so no input_scale.
    assert!(f.names().iter().all(|n| !n.ends_with("input_scale")));
    std::fs::remove_dir_all(&d).unwrap();
}

/// A 3-D expert stack gets one global scale per expert.
#[test]
fn nvfp4_expert_stacks_have_a_global_scale_per_expert() {
    let d = dir("stack");
    let name = "model.layers.0.mlp.experts.down_proj";
    let mut src = model(
        &d.join("bf16"),
        json!({"model_type": "qwen3_moe"}),
        &[(name, vec![3, 32, 64])],
    );
    for (k, v) in src[0].1.iter_mut().enumerate() {
        *v *= [1.0, 16.0, 0.25][k / (32 * 64)];
    }
    let t = Tensor::from_f32(DType::BF16, vec![3, 32, 64], &src[0].1).unwrap();
    st::write(d.join("bf16/model.safetensors"), &[(name.into(), t)], None).unwrap();
    let out = d.join("nvfp4");
    let (ok, _, err) = run(&[
        "convert",
        s(&d.join("bf16")),
        "--to",
        "nvfp4",
        "-o",
        s(&out),
    ]);
    assert!(ok, "{err}");
    let f = st::SafeFile::open(out.join("model.safetensors")).unwrap();
    let s2 = f.tensor(&format!("{name}_scale_2")).unwrap();
    assert_eq!(s2.shape, [3]);
    let want: Vec<f32> = src[0]
        .1
        .chunks(32 * 64)
        .map(|c| c.iter().fold(0f32, |m, v| m.max(v.abs())) / 2688.0)
        .collect();
    assert_eq!(s2.to_f32().unwrap(), want);
    assert_eq!(f.info(name).unwrap().1, [3, 32, 32]);
    // And back: each expert Model-Optimizer's fake quantization.
    let back = d.join("back");
    let (ok, _, err) = run(&["dequantize", s(&out), "-o", s(&back), "--dtype", "f32"]);
    assert!(ok, "{err}");
    let b = st::SafeFile::open(back.join("model.safetensors")).unwrap();
    let fake: Vec<f32> = src[0]
        .1
        .chunks(32 * 64)
        .flat_map(|c| {
            QuantizedTensor::quantize(MO, c, 32, 64, &QuantizeOptions::default())
                .unwrap()
                .dequantize()
        })
        .collect();
    let g = b.tensor(name).unwrap();
    assert_eq!(
        (g.shape.clone(), g.to_f32().unwrap()),
        (vec![3, 32, 64], fake)
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// A checkpoint in a layout `dequantize` does not read (here
/// compressed-tensors' per-tensor FP8: F8_E4M3 `weight` with an F32
/// `weight_scale`) must be refused, naming the tensor, with nothing
/// written, where FP8 bytes used to be copied through as if they were
/// weights. Fused layers of different input dimensions, and experts whose
/// input dimension is not whole blocks, are refused by `convert` the same
/// way, before anything is written.
#[test]
fn quantized_tensors_in_unknown_layouts_and_bad_fusions_are_refused() {
    let d = dir("refuse");
    let ds = d.join("ct-fp8");
    std::fs::create_dir_all(&ds).unwrap();
    let w = Tensor::new(DType::F8E4M3, vec![128, 128], vec![0x38; 128 * 128]).unwrap();
    let sc = Tensor::from_f32(DType::F32, vec![1], &[0.5]).unwrap();
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

/// DeepSeek FP8 both ways: `weight` F8_E4M3 and `weight_scale_inv` F32
/// `[⌈out/128⌉, ⌈in/128⌉]` (partial blocks at the edges), power-of-two
/// factors with `scale_fmt: "ue8m0"`; and `dequantize` of such a
/// checkpoint gives `e4m3 · s` per block in BF16, the names unchanged.
#[test]
fn deepseek_fp8_converts_with_ue8m0_factors_and_dequantizes() {
    let d = dir("deepseek");
    let n = "model.layers.0.mlp.down_proj.weight";
    let src = model(
        &d.join("bf16"),
        json!({"model_type": "deepseek_v3"}),
        &[(n, vec![130, 200]), ("model.norm.weight", vec![200])],
    );
    let out = d.join("fp8");
    let bf16 = d.join("bf16");
    let args = [
        "convert",
        s(&bf16),
        "--to",
        "fp8-block-ue8m0,2d",
        "--layout",
        "deepseek",
        "-o",
        s(&out),
    ];
    let (ok, _, err) = run(&args);
    assert!(ok, "{err}");
    let f = st::SafeFile::open(out.join("model.safetensors")).unwrap();
    let w = f.tensor(n).unwrap();
    let si = f.tensor(&format!("{n}_scale_inv")).unwrap();
    assert_eq!((w.dtype, w.shape.clone()), (DType::F8E4M3, vec![130, 200]));
    assert_eq!((si.dtype, si.shape.clone()), (DType::F32, vec![2, 2]));
    // Each factor: the least power of two s with amax/s ≤ 448.
    let x = &src[0].1;
    let s_inv = si.to_f32().unwrap();
    for (b, &sv) in s_inv.iter().enumerate() {
        let (br, bc) = (b / 2, b % 2);
        let amax = (br * 128..(130).min(br * 128 + 128))
            .flat_map(|r| (bc * 128..(200).min(bc * 128 + 128)).map(move |c| (r, c)))
            .fold(0f32, |m, (r, c)| m.max(x[r * 200 + c].abs()));
        assert_eq!(sv, (amax / 448.0).log2().ceil().exp2(), "block {b}");
    }
    let c = &json_file(&out.join("config.json"))["quantization_config"];
    assert_eq!(c["quant_method"], "fp8");
    assert_eq!(c["weight_block_size"], json!([128, 128]));
    assert_eq!(c["scale_fmt"], "ue8m0");
    // dequantize: e4m3 · s, per block, by DeepSeek's formula.
    let back = d.join("back");
    let (ok, _, err) = run(&["dequantize", s(&out), "-o", s(&back), "--dtype", "f32"]);
    assert!(ok, "{err}");
    let b = st::SafeFile::open(back.join("model.safetensors")).unwrap();
    let got = b.tensor(n).unwrap();
    let want: Vec<f32> = (0..130 * 200)
        .map(|i| {
            let (r, c) = (i / 200, i % 200);
            blockscale::E4M3::from_bits(w.data[i]).to_f32() * s_inv[(r / 128) * 2 + c / 128]
        })
        .collect();
    assert_eq!(
        (got.shape.clone(), got.to_f32().unwrap()),
        (vec![130, 200], want)
    );
    assert!(b.names().iter().all(|m| !m.ends_with("scale_inv")));
    // 1x128 tiles are not DeepSeek's.
    let (ok, _, err) = run(&[
        "convert",
        s(&d.join("bf16")),
        "--to",
        "fp8-block",
        "--layout",
        "deepseek",
        "-o",
        s(&d.join("x")),
    ]);
    assert!(!ok && err.contains("128x128"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// compressed-tensors, for each format it has: tensor names after the
/// module, dtypes and shapes as llm-compressor writes them, NVFP4's
/// `weight_global_scale` = 448·6/amax shared by q/k/v, the config keys vLLM
/// reads, and `dequantize` by compressed-tensors' formulas.
#[test]
fn compressed_tensors_round_trip_for_nvfp4_mxfp4_and_fp8_blocks() {
    let d = dir("ct");
    let p = "model.layers.0.self_attn";
    let shapes = [
        (format!("{p}.q_proj.weight"), vec![64, 128]),
        (format!("{p}.k_proj.weight"), vec![32, 128]),
        (format!("{p}.v_proj.weight"), vec![32, 128]),
        ("lm_head.weight".to_string(), vec![100, 128]),
    ];
    let shapes_ref: Vec<(&str, Vec<usize>)> = shapes
        .iter()
        .map(|(n, s)| (n.as_str(), s.clone()))
        .collect();
    let src = model(&d.join("bf16"), json!({"model_type": "llama"}), &shapes_ref);
    let bf16 = d.join("bf16");
    for (to, fmt) in [
        ("nvfp4", "nvfp4-pack-quantized"),
        ("mxfp4", "mxfp4-pack-quantized"),
        ("fp8-block,2d", "float-quantized"),
    ] {
        let out = d.join(fmt);
        let args = [
            "convert",
            s(&bf16),
            "--to",
            to,
            "--layout",
            "compressed-tensors",
            "-o",
            s(&out),
        ];
        let (ok, _, err) = run(&args);
        assert!(ok, "{to}: {err}");
        let f = st::SafeFile::open(out.join("model.safetensors")).unwrap();
        let c = &json_file(&out.join("config.json"))["quantization_config"];
        assert_eq!(c["quant_method"], "compressed-tensors");
        assert_eq!(c["format"], fmt);
        assert_eq!(c["quantization_status"], "compressed");
        assert_eq!(c["config_groups"]["group_0"]["targets"], json!(["Linear"]));
        assert!(c["ignore"].as_array().unwrap().contains(&json!("lm_head")));
        let back = d.join(format!("{fmt}-back"));
        let (ok, _, err) = run(&["dequantize", s(&out), "-o", s(&back), "--dtype", "f32"]);
        assert!(ok, "{to}: {err}");
        let b = st::SafeFile::open(back.join("model.safetensors")).unwrap();
        let group_amax = src[..3]
            .iter()
            .flat_map(|(_, x)| x.iter())
            .fold(0f32, |m, v| m.max(v.abs()));
        for (n, x) in &src[..3] {
            let m = n.strip_suffix(".weight").unwrap();
            let rows = x.len() / 128;
            let got = b.tensor(n).unwrap();
            assert_eq!(got.shape, [rows, 128], "{to} {n}");
            let got = got.to_f32().unwrap();
            match to {
                "nvfp4" => {
                    let w = f.tensor(&format!("{m}.weight_packed")).unwrap();
                    let sc = f.tensor(&format!("{m}.weight_scale")).unwrap();
                    let gs = f.tensor(&format!("{m}.weight_global_scale")).unwrap();
                    assert_eq!((w.dtype, w.shape.clone()), (DType::U8, vec![rows, 64]));
                    assert_eq!((sc.dtype, sc.shape.clone()), (DType::F8E4M3, vec![rows, 8]));
                    let g = gs.to_f32().unwrap();
                    assert_eq!(g, [2688.0 / group_amax], "{n}: shared by q/k/v");
                    // x = e2m1 · (scale / global_scale), compressed-tensors' order.
                    let want: Vec<f32> = (0..rows * 128)
                        .map(|i| {
                            let byte = w.data[i / 2];
                            let code = if i % 2 == 0 { byte & 15 } else { byte >> 4 };
                            let s = blockscale::E4M3::from_bits(
                                sc.data[(i / 128) * 8 + (i % 128) / 16],
                            );
                            blockscale::E2M1::from_bits(code).to_f32() * (s.to_f32() / g[0])
                        })
                        .collect();
                    assert_eq!(got, want, "{n}");
                }
                _ => {
                    // The crate's own fake quantization, bit for bit.
                    let fmt: blockscale::format::AnyFormat = to.parse().unwrap();
                    let o = QuantizeOptions {
                        partial_blocks: blockscale::tensor::PartialBlocks::ZeroPad,
                        ..Default::default()
                    };
                    let q =
                        blockscale::tensor::AnyQuantized::quantize(&fmt, x, rows, 128, &o).unwrap();
                    use blockscale::tensor::QuantizedView;
                    assert_eq!(got, q.dequantize(), "{to} {n}");
                }
            }
        }
    }
    // Formats compressed-tensors has no layout for are refused up front.
    let (ok, _, err) = run(&[
        "convert",
        s(&bf16),
        "--to",
        "mxfp8",
        "--layout",
        "compressed-tensors",
        "-o",
        s(&d.join("x")),
    ]);
    assert!(!ok && err.contains("compressed-tensors"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// `--activation-amax`: every NVFP4 linear gets Model-Optimizer's
/// `input_scale` = amax/2688, fused q/k/v the largest of theirs, and the
/// config names the W4A4 method; a linear without an amax, or another
/// target, is refused before anything is written.
#[test]
fn activation_amaxes_give_input_scales_and_the_w4a4_method() {
    let d = dir("amax");
    let p = "model.layers.0.self_attn";
    let names = ["q_proj", "k_proj", "v_proj", "o_proj"].map(|m| format!("{p}.{m}.weight"));
    let shapes: Vec<(&str, Vec<usize>)> =
        names.iter().map(|n| (n.as_str(), vec![32, 64])).collect();
    model(&d.join("bf16"), json!({"model_type": "llama"}), &shapes);
    let amax = d.join("amax.json");
    let amaxes = json!({
        format!("{p}.q_proj"): 1.0, format!("{p}.k_proj"): 3.0,
        format!("{p}.v_proj"): 2.0, format!("{p}.o_proj"): 5.0,
    });
    std::fs::write(&amax, amaxes.to_string()).unwrap();
    let (bf16, out) = (d.join("bf16"), d.join("w4a4"));
    let (ok, _, err) = run(&[
        "convert",
        s(&bf16),
        "--to",
        "nvfp4",
        "--activation-amax",
        s(&amax),
        "-o",
        s(&out),
    ]);
    assert!(ok, "{err}");
    let f = st::SafeFile::open(out.join("model.safetensors")).unwrap();
    for (m, want) in [
        ("q_proj", 3.0f32),
        ("k_proj", 3.0),
        ("v_proj", 3.0),
        ("o_proj", 5.0),
    ] {
        let t = f.tensor(&format!("{p}.{m}.input_scale")).unwrap();
        assert_eq!(
            (t.dtype, t.to_f32().unwrap()),
            (DType::F32, vec![want / 2688.0]),
            "{m}"
        );
    }
    let c = &json_file(&out.join("config.json"))["quantization_config"];
    assert_eq!(c["quant_algo"], "NVFP4");
    assert!(c["config_groups"]["group_0"]["input_activations"].is_object());
    assert_eq!(
        json_file(&out.join("hf_quant_config.json"))["quantization"]["quant_algo"],
        "NVFP4"
    );
    // dequantize drops the activation scales with the weights' parts.
    let back = d.join("back");
    let (ok, _, err) = run(&["dequantize", s(&out), "-o", s(&back)]);
    assert!(ok, "{err}");
    let b = st::SafeFile::open(back.join("model.safetensors")).unwrap();
    assert!(b.names().iter().all(|n| !n.ends_with("input_scale")));

    // A linear without an amax, and a target without input scales.
    let partial = d.join("partial.json");
    std::fs::write(&partial, json!({format!("{p}.q_proj"): 1.0}).to_string()).unwrap();
    let none = d.join("none");
    let (ok, _, err) = run(&[
        "convert",
        s(&bf16),
        "--to",
        "nvfp4",
        "--activation-amax",
        s(&partial),
        "-o",
        s(&none),
    ]);
    assert!(!ok && err.contains("no activation amax for 3"), "{err}");
    let (ok, _, err) = run(&[
        "convert",
        s(&bf16),
        "--to",
        "mxfp4",
        "--activation-amax",
        s(&amax),
        "-o",
        s(&none),
    ]);
    assert!(!ok && err.contains("--to nvfp4"), "{err}");
    assert!(!none.exists());
    std::fs::remove_dir_all(&d).unwrap();
}
