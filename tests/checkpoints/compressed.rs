//! compressed-tensors, for each format it has.

use crate::cli_support::{dir, run, s};
use crate::{json_file, model};
use blockscale::io::{DType, st};
use blockscale::tensor::QuantizeOptions;
use serde_json::json;

/// compressed-tensors, for each format it has: tensor names after the
/// module, dtypes and shapes as llm-compressor writes them, NVFP4's
/// `weight_global_scale` = 448·6/amax shared by q/k/v, the config keys vLLM
/// reads, and `dequantize` by compressed-tensors' formulas, computed here
/// from the stored bytes, equal to the crate's fake quantization.
#[test]
fn compressed_tensors_round_trip_for_every_format_it_has() {
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
    for (to, fmt, strategy) in [
        ("nvfp4", "nvfp4-pack-quantized", "tensor_group"),
        ("mxfp4", "mxfp4-pack-quantized", "group"),
        ("mxfp8", "mxfp8-quantized", "group"),
        ("fp8", "float-quantized", "tensor"),
        ("fp8-channel", "float-quantized", "channel"),
        ("fp8-block,2d", "float-quantized", "block"),
    ] {
        let out = d.join(to);
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
        assert_eq!(
            c["config_groups"]["group_0"]["weights"]["strategy"],
            strategy
        );
        assert!(c["ignore"].as_array().unwrap().contains(&json!("lm_head")));
        let back = d.join(format!("{to}-back"));
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
                    // compressed-tensors' formula on the stored bytes.
                    let packed = to == "mxfp4";
                    let w = f
                        .tensor(&format!(
                            "{m}.weight{}",
                            if packed { "_packed" } else { "" }
                        ))
                        .unwrap();
                    let sc = f.tensor(&format!("{m}.weight_scale")).unwrap();
                    let (wd, sd, sshape) = match to {
                        "mxfp4" => (DType::U8, DType::U8, vec![rows, 4]),
                        "mxfp8" => (DType::F8E4M3, DType::U8, vec![rows, 4]),
                        "fp8" => (DType::F8E4M3, DType::F32, vec![1]),
                        "fp8-channel" => (DType::F8E4M3, DType::F32, vec![rows, 1]),
                        _ => (DType::F8E4M3, DType::F32, vec![rows.div_ceil(128), 1]),
                    };
                    let wshape = vec![rows, if packed { 64 } else { 128 }];
                    assert_eq!((w.dtype, w.shape.clone()), (wd, wshape), "{to} {n}");
                    assert_eq!((sc.dtype, sc.shape.clone()), (sd, sshape), "{to} {n}");
                    let factor = |i: usize| match sd {
                        DType::U8 => {
                            f32::powi(2.0, sc.data[(i / 128) * 4 + (i % 128) / 32] as i32 - 127)
                        }
                        _ => sc.to_f32().unwrap()[match to {
                            "fp8" => 0,
                            "fp8-channel" => i / 128,
                            _ => i / 128 / 128,
                        }],
                    };
                    let want: Vec<f32> = (0..rows * 128)
                        .map(|i| {
                            let e = if packed {
                                let byte = w.data[i / 2];
                                let code = if i % 2 == 0 { byte & 15 } else { byte >> 4 };
                                blockscale::E2M1::from_bits(code).to_f32()
                            } else {
                                blockscale::E4M3::from_bits(w.data[i]).to_f32()
                            };
                            e * factor(i)
                        })
                        .collect();
                    assert_eq!(got, want, "{to} {n}");
                    // The crate's own fake quantization, bit for bit.
                    let id = if to == "fp8-channel" {
                        "fp8-block,block=1x128,pow2=false"
                    } else {
                        to
                    };
                    let fmt: blockscale::format::AnyFormat = id.parse().unwrap();
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
        "mxfp6",
        "--layout",
        "compressed-tensors",
        "-o",
        s(&d.join("x")),
    ]);
    assert!(!ok && err.contains("compressed-tensors"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// Checkpoints that compressed-tensors 0.20.1 itself wrote (llm-compressor's
/// presets NVFP4A16, MXFP4A16, MXFP8A16, FP8, FP8_DYNAMIC, FP8_BLOCK; BF16
/// FP8 factors, a zero row, outliers, partial 128×128 blocks) and its own
/// decompression of them, committed in tests/golden/compressed_tensors (see
/// its README to regenerate): `dequantize` gives the same weights, bit for
/// bit after rounding to compressed-tensors' BF16, and the norm unchanged.
#[test]
fn compressed_tensors_own_checkpoints_dequantize_to_its_values() {
    let golden =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/compressed_tensors");
    let d = dir("ct-golden");
    for preset in [
        "nvfp4a16",
        "mxfp4a16",
        "mxfp8a16",
        "fp8",
        "fp8_dynamic",
        "fp8_block",
    ] {
        let src = golden.join(preset);
        let out = d.join(preset);
        let (ok, _, err) = run(&["dequantize", s(&src), "-o", s(&out), "--dtype", "f32"]);
        assert!(ok, "{preset}: {err}");
        let got = st::SafeFile::open(out.join("model.safetensors")).unwrap();
        let want = st::SafeFile::open(src.join("expected/expected.safetensors")).unwrap();
        assert_eq!(got.names(), want.names(), "{preset}");
        for n in want.names() {
            let w = want.tensor(&n).unwrap();
            let g = got.tensor(&n).unwrap();
            assert_eq!((w.dtype, &g.shape), (DType::BF16, &w.shape), "{preset} {n}");
            // f32 → bf16, round to nearest even, as torch's `.to(bfloat16)`.
            let g = blockscale::io::Tensor::from_f32(
                DType::BF16,
                g.shape.clone(),
                &g.to_f32().unwrap(),
            )
            .unwrap();
            assert_eq!(g.data, w.data, "{preset} {n}");
        }
    }
    std::fs::remove_dir_all(&d).unwrap();
}
