//! DeepSeek FP8 both ways, with F32 and UE8M0 factors.

use crate::cli_support::{dir, run, s};
use crate::{json_file, model};
use blockscale::io::{DType, st};
use serde_json::json;

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
