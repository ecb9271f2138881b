//! GGUF from the command line: ggml's MXFP4 and NVFP4 blocks with the
//! checkpoint's names, experts along the input dimension, one file per
//! shard named and tagged as llama.cpp's `gguf-split` does, and back.

use crate::cli_support::{dir, run, s};
use crate::{MO, convert_ok, json_file, model, transpose};
use blockscale::format::MxFp4;
use blockscale::io::gguf::{self, GgmlType, Value, ValueType};
use blockscale::io::{DType, Tensor, st};
use blockscale::tensor::{QuantizeOptions, QuantizedTensor};
use serde_json::json;

/// E2M1 from first principles: code bits s·e·e·m, `(−1)^s · 2^(e−1) ·
/// (1 + m/2)`, subnormal `(−1)^s · m/2` for e = 0.
fn e2m1(code: u8) -> f32 {
    let (e, m) = ((code >> 1) & 3, (code & 1) as f32);
    let v = if e == 0 {
        m * 0.5
    } else {
        (1.0 + m / 2.0) * f32::powi(2.0, e as i32 - 1)
    };
    if code & 8 != 0 { -v } else { v }
}

/// gpt-oss's expert stacks (`[E, in, out]` in transformers) become ggml
/// MXFP4 `[E, out, in]`, listed under `blockscale.transposed`; everything
/// else is copied with its type; `dequantize` gives back the checkpoint's
/// names, shapes and (fake-quantized) values.
#[test]
fn gpt_oss_converts_to_gguf_mxfp4_and_back() {
    let d = dir("gguf-gptoss");
    let (e, h, i) = (2, 64, 32);
    let ex = "model.layers.0.mlp.experts";
    let shapes = [
        ("model.embed_tokens.weight", vec![10, h]),
        ("model.layers.0.self_attn.q_proj.weight", vec![h, h]),
        ("model.layers.0.mlp.router.weight", vec![e, h]),
        ("model.layers.0.mlp.experts.gate_up_proj", vec![e, h, 2 * i]),
        ("model.layers.0.mlp.experts.down_proj", vec![e, i, h]),
    ];
    let src = model(&d.join("bf16"), json!({"model_type": "gpt_oss"}), &shapes);
    let out = d.join("gguf");
    convert_ok(&d.join("bf16"), "mxfp4", &["--layout", "gguf"], &out);
    let f = gguf::read(out.join("model.gguf")).unwrap();
    assert_eq!(
        f.get("general.architecture"),
        Some(&Value::String("gpt_oss".into()))
    );
    assert_eq!(f.get("split.count"), None);
    let listed = Value::Array(
        ValueType::String,
        [format!("{ex}.down_proj"), format!("{ex}.gate_up_proj")]
            .map(Value::String)
            .to_vec(),
    );
    assert_eq!(f.get(gguf::TRANSPOSED_KEY), Some(&listed));
    // gpt-oss keeps attention, router and embeddings in BF16: same bytes.
    for (n, x) in &src[..3] {
        let t = f.tensor(n).unwrap();
        let want = Tensor::from_f32(DType::BF16, t.shape.clone(), x).unwrap();
        assert_eq!((t.ggml_type, &t.data), (GgmlType::BF16, &want.data), "{n}");
    }
    // Each expert is MXFP4 of W_eᵀ (out × in) rowwise; ggml reads the
    // crate's values (−0 as +0).
    let t = f.tensor(&format!("{ex}.gate_up_proj")).unwrap();
    assert_eq!(
        (t.ggml_type, t.shape.clone()),
        (GgmlType::MXFP4, vec![e, 2 * i, h])
    );
    let got = gguf::dequantize_tensor(t, None).unwrap();
    let (rows, cols) = (h, 2 * i);
    let mut fake = Vec::new();
    for k in 0..e {
        let wt = transpose(
            &src[3].1[k * rows * cols..(k + 1) * rows * cols],
            rows,
            cols,
        );
        let q = QuantizedTensor::quantize(
            MxFp4::default(),
            &wt,
            cols,
            rows,
            &QuantizeOptions::default(),
        )
        .unwrap();
        let y: Vec<f32> = q.dequantize().iter().map(|v| v + 0.0).collect();
        assert_eq!(
            got[k * rows * cols..(k + 1) * rows * cols],
            y[..],
            "expert {k}"
        );
        fake.extend(transpose(&y, cols, rows));
    }
    // config.json goes along unchanged.
    assert_eq!(
        json_file(&out.join("config.json")),
        json!({"model_type": "gpt_oss"})
    );
    let back = d.join("back");
    let (ok, _, err) = run(&["dequantize", s(&out), "-o", s(&back), "--dtype", "f32"]);
    assert!(ok, "{err}");
    let b = st::SafeFile::open(back.join("model.safetensors")).unwrap();
    let g = b.tensor(&format!("{ex}.gate_up_proj")).unwrap();
    assert_eq!(
        (g.shape.clone(), g.to_f32().unwrap()),
        (vec![e, h, 2 * i], fake)
    );
    assert_eq!(b.info(&format!("{ex}.down_proj")).unwrap().1, [e, i, h]);
    let q = b.raw("model.layers.0.self_attn.q_proj.weight").unwrap();
    assert_eq!(format!("{:?}", q.dtype), "BF16");
    std::fs::remove_dir_all(&d).unwrap();
}

/// A Llama-shaped checkpoint in two shards to NVFP4: two parts named and
/// tagged as `gguf-split` writes them, metadata in the first; q/k/v share
/// one `.scale` (= largest amax / 2688); each value is ggml's
/// `e2m1 · E4M3(s) · w`, checked from the codes by first principles; and
/// `dequantize` reads the directory back into shards of the same names.
#[test]
fn sharded_llama_converts_to_split_gguf_nvfp4_and_back() {
    let d = dir("gguf-llama");
    let p = "model.layers.0.self_attn";
    let shard = |k: usize, names: &[&str]| {
        let shapes: Vec<(&str, Vec<usize>)> = names.iter().map(|n| (*n, vec![32, 64])).collect();
        let sub = d.join(format!("s{k}"));
        let v = model(&sub, json!({"model_type": "llama"}), &shapes);
        let to = d.join(format!("bf16/model-0000{k}-of-00002.safetensors"));
        std::fs::create_dir_all(d.join("bf16")).unwrap();
        std::fs::rename(sub.join("model.safetensors"), to).unwrap();
        v
    };
    let q = format!("{p}.q_proj.weight");
    let k = format!("{p}.k_proj.weight");
    let v = format!("{p}.v_proj.weight");
    let o = format!("{p}.o_proj.weight");
    let mut src = shard(1, &[&q, &k]);
    src.extend(shard(2, &[&v, &o]));
    // v has the largest amax of the group (values() lies in ±4).
    std::fs::write(
        d.join("bf16/config.json"),
        json!({"model_type": "llama"}).to_string(),
    )
    .unwrap();
    let map: serde_json::Map<String, serde_json::Value> = [(&q, 1), (&k, 1), (&v, 2), (&o, 2)]
        .iter()
        .map(|(n, f)| {
            (
                n.to_string(),
                json!(format!("model-0000{f}-of-00002.safetensors")),
            )
        })
        .collect();
    std::fs::write(
        d.join("bf16/model.safetensors.index.json"),
        json!({"weight_map": map}).to_string(),
    )
    .unwrap();
    let out = d.join("gguf");
    convert_ok(&d.join("bf16"), "nvfp4", &["--layout", "gguf"], &out);
    let f1 = gguf::read(out.join("model-00001-of-00002.gguf")).unwrap();
    let f2 = gguf::read(out.join("model-00002-of-00002.gguf")).unwrap();
    for (f, no) in [(&f1, 0), (&f2, 1)] {
        assert_eq!(f.get("split.no"), Some(&Value::U16(no)));
        assert_eq!(f.get("split.count"), Some(&Value::U16(2)));
        // Four weights and their four scales.
        assert_eq!(f.get("split.tensors.count"), Some(&Value::I32(8)));
    }
    assert!(f1.get("general.architecture").is_some() && f2.get("general.architecture").is_none());
    let amax = |n: &str| {
        let x = &src.iter().find(|(m, _)| m == n).unwrap().1;
        x.iter().fold(0f32, |m, v| m.max(v.abs()))
    };
    let group = amax(&q).max(amax(&k)).max(amax(&v));
    let file_of = |n: &str| {
        if [&q, &k].contains(&&n.to_string()) {
            &f1
        } else {
            &f2
        }
    };
    let mut want_back = Vec::new();
    for (n, x) in &src {
        let f = file_of(n);
        let t = f.tensor(n).unwrap();
        let w = f.tensor(&gguf::nvfp4_scale_name(n)).unwrap();
        let a = if n == &o { amax(&o) } else { group };
        assert_eq!(w.data, (a / 2688.0).to_le_bytes(), "{n}");
        // The codes are Model-Optimizer's quantization with that amax.
        let opts = QuantizeOptions {
            global_amax: Some(a),
            ..Default::default()
        };
        let qt = QuantizedTensor::quantize(MO, x, 32, 64, &opts).unwrap();
        assert_eq!(t.data, gguf::nvfp4_to_ggml(&qt).unwrap(), "{n}");
        // ggml's value of each element: e2m1(code) · E4M3(scale) · w.
        let ws = a / 2688.0;
        let want: Vec<f32> = (0..32 * 64)
            .map(|j| {
                let byte = qt.data()[j / 2];
                let code = if j % 2 == 0 { byte & 15 } else { byte >> 4 };
                e2m1(code) * qt.scales()[j / 16].to_f32() * ws
            })
            .collect();
        let got = gguf::dequantize_tensor(t, Some(w)).unwrap();
        assert_eq!(got, want, "{n}");
        want_back.push((n.clone(), want));
    }
    let back = d.join("back");
    let (ok, _, err) = run(&["dequantize", s(&out), "-o", s(&back), "--dtype", "f32"]);
    assert!(ok, "{err}");
    for (n, want) in &want_back {
        let part = if file_of(n) == &f1 { 1 } else { 2 };
        let b = st::SafeFile::open(back.join(format!("model-0000{part}-of-00002.safetensors")))
            .unwrap();
        let t = b.tensor(n).unwrap();
        assert_eq!(
            (t.shape.clone(), &t.to_f32().unwrap()),
            (vec![32, 64], want),
            "{n}"
        );
        assert!(b.info(&gguf::nvfp4_scale_name(n)).is_err());
    }
    let index = json_file(&back.join("model.safetensors.index.json"));
    assert_eq!(
        index["weight_map"][&o],
        json!("model-00002-of-00002.safetensors")
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// What GGUF cannot hold is refused before anything is written: formats
/// ggml has no blocks for, rows that are not whole 64-element NVFP4
/// blocks, names of 64 bytes or more, and dtypes GGUF has no type for.
#[test]
fn what_gguf_cannot_hold_is_refused_before_writing() {
    let d = dir("gguf-refuse");
    let long = format!("model.layers.0.{}.weight", "a".repeat(50));
    model(
        &d.join("bf16"),
        json!({"model_type": "llama"}),
        &[
            ("model.layers.0.mlp.up_proj.weight", vec![32, 32]),
            (&long, vec![4]),
        ],
    );
    let convert = |to: &str, name: &str| {
        let out = d.join(name);
        let (ok, _, err) = run(&[
            "convert",
            s(&d.join("bf16")),
            "--to",
            to,
            "--layout",
            "gguf",
            "-o",
            s(&out),
        ]);
        assert!(!ok && !out.exists(), "{to}: {err}");
        err
    };
    let err = convert("mxfp8", "a");
    assert!(err.contains("1x32 MXFP4 or 1x16 NVFP4"), "{err}");
    let err = convert("nvfp4", "b");
    assert!(err.contains("not whole 1x64 blocks"), "{err}");
    let err = convert("mxfp4", "c");
    assert!(
        err.contains("shorter than 64 bytes") && err.contains(&long),
        "{err}"
    );
    let t = Tensor::new(DType::U8, vec![3], vec![1, 2, 3]).unwrap();
    let w = Tensor::from_f32(DType::BF16, vec![32, 32], &[0.5; 1024]).unwrap();
    st::write(
        d.join("bf16/model.safetensors"),
        &[
            ("ids".into(), t),
            ("model.layers.0.mlp.up_proj.weight".into(), w),
        ],
        None,
    )
    .unwrap();
    let err = convert("mxfp4", "e");
    assert!(
        err.contains("GGUF has no type for U8") && err.contains("ids"),
        "{err}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}
