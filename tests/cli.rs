//! The `blockscale` command line: round trips through files for every
//! format, a sharded checkpoint converted and read back, `--help` snapshots,
//! and one-line errors with nothing partial left behind for each kind of
//! bad input.
#![cfg(feature = "cli")]

use blockscale::format::{
    BlockFormat, Fp8Blockwise, Fp8Tensorwise, MxFp4, MxFp6E2M3, MxFp6E3M2, MxFp8E4M3, MxFp8E5M2,
    MxInt8, Nvfp4,
};
use blockscale::io::{DType, Tensor, npy, st};
use blockscale::scale::nvfp4::Nvfp4Profile;
use blockscale::tensor::{QuantizeOptions, QuantizedTensor, TensorRounding};
use blockscale::{E4M3, E5M2};
use std::path::Path;

#[path = "support/cli.rs"]
mod cli_support;
use cli_support::{dir, run, s, values};

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

fn check_format<F: BlockFormat>(d: &Path, cli: &str, extra: &[&str], f: F) {
    check_format_with(d, cli, extra, f, &QuantizeOptions::default());
}

fn check_format_with<F: BlockFormat>(
    d: &Path,
    cli: &str,
    extra: &[&str],
    f: F,
    opts: &QuantizeOptions,
) {
    let x = values(64 * 256, 7);
    let input = d.join("x.npy");
    npy::write(
        &input,
        &Tensor::from_f32(DType::F32, vec![64, 256], &x).unwrap(),
    )
    .unwrap();
    let q = d.join(format!("{cli}.safetensors"));
    let mut args = vec!["quantize", "--format", cli, s(&input), "-o", s(&q)];
    args.extend(extra);
    let (ok, _, err) = run(&args);
    assert!(ok, "{cli}: {err}");
    let back = d.join(format!("{cli}.npy"));
    let (ok, _, err) = run(&["dequantize", s(&q), "-o", s(&back)]);
    assert!(ok, "{cli}: {err}");
    let got = npy::read(&back).unwrap();
    assert_eq!(got.shape, vec![64, 256]);
    let want = QuantizedTensor::quantize(f, &x, 64, 256, opts)
        .unwrap()
        .dequantize();
    assert_eq!(bits(&got.to_f32().unwrap()), bits(&want), "{cli}");
}

#[test]
fn every_format_round_trips_through_the_command_line() {
    let d = dir("formats");
    check_format(&d, "nvfp4", &[], Nvfp4::default());
    let mo = Nvfp4 {
        profile: Nvfp4Profile::ModelOptimizer,
        two_d: true,
    };
    check_format(&d, "nvfp4", &["--profile", "modelopt", "--2d"], mo);
    check_format(&d, "mxfp8", &[], MxFp8E4M3::default());
    check_format(&d, "mxfp8-e5m2", &[], MxFp8E5M2::default());
    check_format(&d, "mxfp6", &[], MxFp6E2M3::default());
    check_format(&d, "mxfp6-e3m2", &[], MxFp6E3M2::default());
    check_format(&d, "mxfp4", &[], MxFp4::default());
    let floor = MxFp4::new(blockscale::scale::mx::MxScaleRule::Floor);
    check_format(&d, "mxfp4", &["--profile", "ocp"], floor);
    check_format(
        &d,
        "mxint8",
        &["--scale-rule", "even"],
        MxInt8::new(blockscale::scale::mx::MxScaleRule::Even),
    );
    check_format(&d, "fp8", &[], Fp8Tensorwise::<E4M3>::current());
    check_format(&d, "fp8-e5m2", &[], Fp8Tensorwise::<E5M2>::current());
    check_format(&d, "fp8-block", &[], Fp8Blockwise::<E4M3>::ACTIVATIONS);
    use blockscale::scale::fp8::Fp8Profile;
    let mo = Fp8Tensorwise::<E4M3>::with_profile(Fp8Profile::ModelOptimizer);
    check_format(&d, "fp8", &["--profile", "modelopt"], mo);
    let dg = Fp8Blockwise::<E4M3>::ACTIVATIONS.with_profile(Fp8Profile::DeepGemm);
    check_format(&d, "fp8-block", &["--profile", "deepgemm"], dg);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn stochastic_rounding_through_the_command_line() {
    let d = dir("stochastic");
    for (name, rounding) in [
        ("stochastic", TensorRounding::Stochastic { seed: 5 }),
        ("stochastic8", TensorRounding::Stochastic8 { seed: 5 }),
    ] {
        let opts = QuantizeOptions {
            rounding,
            ..Default::default()
        };
        let extra = ["--rounding", name, "--seed", "5"];
        check_format_with(&d, "nvfp4", &extra, Nvfp4::default(), &opts);
        check_format_with(&d, "mxfp8", &extra, MxFp8E4M3::default(), &opts);
    }
    std::fs::remove_dir_all(&d).unwrap();
}

/// A two-shard BF16 checkpoint with three layers, an index and a config.
fn checkpoint(d: &Path) -> Vec<(String, Tensor)> {
    let mut t = Vec::new();
    let mut seed = 1;
    let mut add = |name: String, shape: Vec<usize>| {
        let n = shape.iter().product();
        seed += 1;
        t.push((
            name,
            Tensor::from_f32(DType::BF16, shape, &values(n, seed)).unwrap(),
        ));
    };
    add("model.embed_tokens.weight".into(), vec![50, 64]);
    for l in 0..3 {
        add(
            format!("model.layers.{l}.self_attn.q_proj.weight"),
            vec![64, 64],
        );
        add(format!("model.layers.{l}.mlp.up_proj.weight"), vec![96, 64]);
        add(format!("model.layers.{l}.input_layernorm.weight"), vec![64]);
    }
    add("lm_head.weight".into(), vec![50, 64]);
    let (a, b) = t.split_at(5);
    st::write(d.join("model-00001-of-00002.safetensors"), a, None).unwrap();
    st::write(d.join("model-00002-of-00002.safetensors"), b, None).unwrap();
    let map: serde_json::Map<String, serde_json::Value> = a
        .iter()
        .map(|(n, _)| (n.clone(), "model-00001-of-00002.safetensors".into()))
        .chain(
            b.iter()
                .map(|(n, _)| (n.clone(), "model-00002-of-00002.safetensors".into())),
        )
        .collect();
    let index = serde_json::json!({"metadata": {}, "weight_map": map});
    std::fs::write(d.join("model.safetensors.index.json"), index.to_string()).unwrap();
    std::fs::write(
        d.join("config.json"),
        r#"{"model_type": "llama", "num_hidden_layers": 3}"#,
    )
    .unwrap();
    t
}

fn find(dir: &Path, name: &str) -> (st::SafeFile, String) {
    let index: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("model.safetensors.index.json")).unwrap(),
    )
    .unwrap();
    let file = index["weight_map"][name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} not in index"));
    (
        st::SafeFile::open(dir.join(file)).unwrap(),
        name.to_string(),
    )
}

#[test]
fn a_sharded_checkpoint_converts_and_reads_back() {
    let d = dir("ckpt");
    let model = d.join("model");
    std::fs::create_dir_all(&model).unwrap();
    let tensors = checkpoint(&model);
    let out = d.join("nvfp4");
    let (ok, _, err) = run(&[
        "convert",
        s(&model),
        "--to",
        "nvfp4",
        "-o",
        s(&out),
        "--exclude",
        "*.q_proj.*",
        "--keep-last-layers",
        "1",
    ]);
    assert!(ok, "{err}");
    for (name, t) in &tensors {
        let quantized = name.contains("up_proj") && !name.contains("layers.2");
        if quantized {
            let (f, n) = find(&out, name);
            let w = f.tensor(&n).unwrap();
            assert_eq!(w.dtype, DType::U8);
            // Model-Optimizer's numbers for the same input, bit for bit.
            let mo = Nvfp4 {
                profile: Nvfp4Profile::ModelOptimizer,
                two_d: false,
            };
            let q = QuantizedTensor::quantize(
                mo,
                &t.to_f32().unwrap(),
                96,
                64,
                &QuantizeOptions::default(),
            )
            .unwrap();
            assert_eq!(w.data, q.data());
            let s2 = f.tensor(&format!("{n}_scale_2")).unwrap();
            assert_eq!(s2.to_f32().unwrap(), vec![q.global().w]);
        } else {
            // Excluded, kept and never-quantized tensors: byte-identical.
            let (f, n) = find(&out, name);
            assert_eq!(f.tensor(&n).unwrap(), *t, "{name}");
        }
    }
    let hf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("hf_quant_config.json")).unwrap())
            .unwrap();
    assert_eq!(hf["quantization"]["quant_algo"], "W4A16_NVFP4");
    let excluded = hf["quantization"]["exclude_modules"].as_array().unwrap();
    assert!(excluded.iter().any(|m| m == "lm_head"));
    assert!(excluded.iter().any(|m| m == "model.layers.2.mlp.up_proj"));
    assert!(out.join("config.json").exists());

    // Back to BF16: the crate's own dequantization, rounded to bf16.
    let back = d.join("bf16");
    let (ok, _, err) = run(&["dequantize", s(&out), "-o", s(&back)]);
    assert!(ok, "{err}");
    let name = "model.layers.0.mlp.up_proj.weight";
    let (f, n) = find(&back, name);
    let got = f.tensor(&n).unwrap();
    assert_eq!(got.dtype, DType::BF16);
    assert_eq!(got.shape, vec![96, 64]);
    let (src, _) = tensors
        .iter()
        .find(|(n, _)| n == name)
        .map(|(n, t)| (t, n))
        .unwrap();
    let mo = Nvfp4 {
        profile: Nvfp4Profile::ModelOptimizer,
        two_d: false,
    };
    let want = QuantizedTensor::quantize(
        mo,
        &src.to_f32().unwrap(),
        96,
        64,
        &QuantizeOptions::default(),
    )
    .unwrap()
    .dequantize();
    assert_eq!(
        got,
        Tensor::from_f32(DType::BF16, vec![96, 64], &want).unwrap()
    );
    let config = std::fs::read_to_string(back.join("config.json")).unwrap();
    assert!(!config.contains("quantization_config"));

    // MXFP4 in gpt-oss's layout, and back.
    let mx = d.join("mxfp4");
    let (ok, _, err) = run(&["convert", s(&model), "--to", "mxfp4", "-o", s(&mx)]);
    assert!(ok, "{err}");
    let (f, _) = find(&mx, "model.layers.1.self_attn.q_proj.weight_blocks");
    let b = f
        .tensor("model.layers.1.self_attn.q_proj.weight_blocks")
        .unwrap();
    assert_eq!(b.shape, vec![64, 2, 16]);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn compare_tabulates_every_format_with_and_without_rht() {
    let d = dir("compare");
    let x = d.join("acts.npy");
    npy::write(
        &x,
        &Tensor::from_f32(DType::F32, vec![32, 128], &values(32 * 128, 9)).unwrap(),
    )
    .unwrap();
    let svg = d.join("chart.svg");
    let (ok, out, err) = run(&[
        "compare",
        s(&x),
        "--formats",
        "nvfp4,mxfp8",
        "--svg",
        s(&svg),
    ]);
    assert!(ok, "{err}");
    for row in [
        "| acts ",
        "nvfp4 ",
        "nvfp4+rht",
        "mxfp8 ",
        "mxfp8+rht",
        "(all tensors)",
    ] {
        assert!(out.contains(row), "{out} lacks {row}");
    }
    // MXFP8 keeps more signal than NVFP4 on the same data.
    let sqnr = |name: &str| -> f64 {
        let line = out
            .lines()
            .find(|l| l.starts_with("| acts") && l.contains(&format!(" {name} ")))
            .unwrap();
        line.split('|').nth(3).unwrap().trim().parse().unwrap()
    };
    assert!(sqnr("mxfp8") > sqnr("nvfp4") + 5.0, "{out}");
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    std::fs::remove_dir_all(&d).unwrap();
}

/// `compare --row-scaled`: a row of 3s and a row of 100s are exact with
/// one amax per row (each maps its amax onto 6 · 448), not with one amax
/// for both (the 3s get the scale e4m3(3 · 2688/100/6) = 13, and
/// 3 / (13/26.88) = 6.2 clips to 6, so 3 comes back as 2.9).
#[test]
fn compare_row_scaled_gives_each_row_its_amax() {
    let d = dir("compare-rows");
    let x = d.join("two.npy");
    let v: Vec<f32> = (0..32).map(|i| if i < 16 { 3.0 } else { 100.0 }).collect();
    npy::write(&x, &Tensor::from_f32(DType::F32, vec![2, 16], &v).unwrap()).unwrap();
    let svg = d.join("chart.svg");
    let args = [
        "compare",
        s(&x),
        "--formats",
        "nvfp4,mxfp8",
        "--no-rht",
        "--svg",
        s(&svg),
    ];
    let (ok, out, err) = run(&[&args[..], &["--row-scaled"]].concat());
    assert!(ok, "{err}");
    let max_err = |name: &str| -> f64 {
        let line = out
            .lines()
            .find(|l| l.starts_with("| two") && l.contains(&format!(" {name} ")))
            .unwrap_or_else(|| panic!("{out} lacks {name}"));
        line.split('|').nth(4).unwrap().trim().parse().unwrap()
    };
    assert_eq!(max_err("nvfp4+rows"), 0.0, "{out}");
    assert!(max_err("nvfp4") > 0.05, "{out}");
    // MXFP8 has no tensor amax: no row-scaled row.
    assert!(!out.contains("mxfp8+rows"), "{out}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// `--help` of every command, against tests/snapshots/help.txt (set
/// BLOCKSCALE_UPDATE_SNAPSHOTS=1 to rewrite it after a deliberate change).
#[test]
fn help_matches_the_snapshot() {
    let mut all = String::new();
    for cmd in [
        "",
        "quantize",
        "dequantize",
        "inspect",
        "compare",
        "convert",
        "vectors",
    ] {
        let args: Vec<&str> = if cmd.is_empty() {
            vec!["--help"]
        } else {
            vec![cmd, "--help"]
        };
        let (ok, out, err) = run(&args);
        assert!(ok, "{err}");
        all.push_str(&format!("$ blockscale {}\n{out}\n", args.join(" ")));
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/help.txt");
    if std::env::var("BLOCKSCALE_UPDATE_SNAPSHOTS").is_ok() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &all).unwrap();
    }
    assert_eq!(all, std::fs::read_to_string(&path).unwrap());
}

/// Each bad input: exit status 1, one line on stderr naming the file (and
/// the tensor), and no output file.
#[test]
fn bad_input_is_one_line_and_leaves_nothing() {
    let d = dir("bad");
    let fail = |args: &[&str], expect: &[&str], output: &Path| {
        let (ok, _, err) = run(args);
        assert!(!ok, "{args:?} succeeded");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.starts_with("blockscale: "), "{err}");
        for e in expect {
            assert!(err.contains(e), "{err} lacks {e}");
        }
        assert!(!output.exists(), "{args:?} left {}", output.display());
    };
    let out = d.join("out.safetensors");
    let good = d.join("good.npy");
    npy::write(
        &good,
        &Tensor::from_f32(DType::F32, vec![4, 32], &values(128, 3)).unwrap(),
    )
    .unwrap();
    // A truncated .npy.
    let trunc = d.join("trunc.npy");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&trunc, &bytes[..bytes.len() - 5]).unwrap();
    fail(
        &["quantize", "--format", "nvfp4", s(&trunc), "-o", s(&out)],
        &["trunc.npy", "bytes"],
        &out,
    );
    // A malformed safetensors header.
    let badst = d.join("bad.safetensors");
    std::fs::write(&badst, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all").unwrap();
    fail(&["inspect", s(&badst)], &["bad.safetensors"], &out);
    // A shape not divisible by the block size.
    let odd = d.join("odd.npy");
    npy::write(
        &odd,
        &Tensor::from_f32(DType::F32, vec![3, 10], &values(30, 4)).unwrap(),
    )
    .unwrap();
    fail(
        &["quantize", "--format", "mxfp4", s(&odd), "-o", s(&out)],
        &["odd.npy", "tensor odd", "1x32"],
        &out,
    );
    // An unknown format name.
    fail(
        &["quantize", "--format", "nvfp5", s(&good), "-o", s(&out)],
        &["unknown format 'nvfp5'"],
        &out,
    );
    // Non-finite values.
    let nan = d.join("nan.npy");
    let mut x = values(128, 5);
    x[77] = f32::NAN;
    npy::write(
        &nan,
        &Tensor::from_f32(DType::F32, vec![4, 32], &x).unwrap(),
    )
    .unwrap();
    fail(
        &["quantize", "--format", "nvfp4", s(&nan), "-o", s(&out)],
        &["nan.npy", "tensor nan", "index 77"],
        &out,
    );
    // A dtype/shape mismatch inside a quantized checkpoint.
    let mo = d.join("mo.safetensors");
    st::write(
        &mo,
        &[
            (
                "w".into(),
                Tensor::new(DType::U8, vec![2, 16], vec![0; 32]).unwrap(),
            ),
            (
                "w_scale".into(),
                Tensor::new(DType::F8E4M3, vec![2, 3], vec![0x38; 6]).unwrap(),
            ),
            (
                "w_scale_2".into(),
                Tensor::from_f32(DType::F32, vec![], &[1.0]).unwrap(),
            ),
        ],
        None,
    )
    .unwrap();
    let outnpy = d.join("w.npy");
    fail(
        &["dequantize", s(&mo), "-o", s(&outnpy)],
        &["mo.safetensors", "tensor w", "weight_scale"],
        &outnpy,
    );
    // An output directory that cannot be created.
    let model = d.join("model");
    std::fs::create_dir_all(&model).unwrap();
    checkpoint(&model);
    let blocked = d.join("file-not-dir");
    std::fs::write(&blocked, b"").unwrap();
    let target = blocked.join("out");
    fail(
        &["convert", s(&model), "--to", "nvfp4", "-o", s(&target)],
        &["file-not-dir"],
        &target,
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// `vectors` writes a bundle whose manifest describes what it holds.
#[test]
fn vectors_writes_a_bundle() {
    let d = dir("vectors");
    let out = d.join("bundle");
    let (ok, stdout, err) = run(&[
        "vectors",
        "--a",
        "nvfp4",
        "-n",
        "16",
        "-k",
        "64",
        "--layout",
        "swizzled_128x4",
        "--contiguous",
        "3,20",
        "--align",
        "16",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(stdout.contains("wrote nvfp4 x nvfp4"), "{stdout}");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["scale_layout"], "swizzled_128x4");
    assert_eq!(
        m["grouping"]["m_indices"].as_array().unwrap().len(),
        16 + 32
    );
    let (ok, _, err) = run(&[
        "vectors",
        "--a",
        "nvfp4",
        "-m",
        "32",
        "-n",
        "16",
        "-k",
        "64",
        "--layout",
        "swizzled",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("expected one of row_major"), "{err}");
    let (ok, _, err) = run(&[
        "vectors",
        "--a",
        "nvfp4",
        "-n",
        "16",
        "-k",
        "64",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("-m M is required"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}
