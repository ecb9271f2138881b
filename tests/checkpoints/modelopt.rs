//! Model-Optimizer NVFP4: fused layers and experts scaled as vLLM
//! requires, the config keys it reads, activation amaxes.

use crate::cli_support::{dir, run, s};
use crate::{MO, json_file, model};
use blockscale::io::{DType, Tensor, st};
use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
use serde_json::json;

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
    // The same amaxes in safetensors, under Model-Optimizer's quantizer
    // names or the module's: the same checkpoint, byte for byte.
    let st_amax = d.join("amax.safetensors");
    let one = |v: f32| Tensor::from_f32(DType::F32, vec![], &[v]).unwrap();
    st::write(
        &st_amax,
        &[
            (format!("{p}.q_proj.input_quantizer._amax"), one(1.0)),
            (format!("{p}.k_proj"), one(3.0)),
            (format!("{p}.v_proj.input_amax"), one(2.0)),
            (format!("{p}.o_proj.input_quantizer._amax"), one(5.0)),
        ],
        None,
    )
    .unwrap();
    let out2 = d.join("w4a4-st");
    let args = [
        "convert",
        s(&bf16),
        "--to",
        "nvfp4",
        "--activation-amax",
        s(&st_amax),
        "-o",
        s(&out2),
    ];
    let (ok, _, err) = run(&args);
    assert!(ok, "{err}");
    let bytes = |o: &std::path::Path| std::fs::read(o.join("model.safetensors")).unwrap();
    assert_eq!(bytes(&out), bytes(&out2));
    let two = Tensor::from_f32(DType::F32, vec![2], &[1.0, 2.0]).unwrap();
    st::write(&st_amax, &[(format!("{p}.q_proj"), two)], None).unwrap();
    let (ok, _, err) = run(&args);
    assert!(!ok && err.contains("one floating-point value"), "{err}");

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
    assert!(!ok && err.contains("convert to nvfp4"), "{err}");
    assert!(!none.exists());
    std::fs::remove_dir_all(&d).unwrap();
}
