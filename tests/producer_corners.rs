//! The real producers' bytes on corner-case tensors, generated on CPU by
//! their own code (`tests/producers/gen_corners.py`, which writes
//! `tests/golden/producers/<producer>.json`): every case of every
//! producer and configuration the crate models must match byte for byte,
//! scales and elements. Every configuration in the files has a profile.

use blockscale::format::AnyFormat;
use blockscale::io::serde_json::{self, Value};
use blockscale::tensor::{AnyQuantized, QuantizeOptions};
use std::path::Path;

/// The crate's format for a producer's configuration, or `None` if the
/// crate has no profile for it (which fails the test).
fn crate_format(producer: &str, config: &str) -> Option<String> {
    if config == "nvfp4" {
        let profile = match producer {
            "torchao" => "torchao",
            "modelopt" => "modelopt",
            "modelopt-legacy" => "modelopt-legacy",
            "jax" => "jax",
            "compressed-tensors" => "compressed-tensors",
            _ => return None,
        };
        return Some(format!("nvfp4,profile={profile}"));
    }
    if let Some(granularity) = config.strip_prefix("fp8-e4m3-") {
        let family = match granularity {
            "tensor" => "fp8",
            "block128" => "fp8-block",
            _ => return None,
        };
        return match producer {
            "torchao" | "modelopt" | "compressed-tensors" => {
                Some(format!("{family},profile={producer}"))
            }
            _ => None,
        };
    }
    let rest = config.strip_prefix("mx-")?;
    let (elem, rule) = rest.split_once('-')?;
    let family = match elem {
        "e4m3" => "mxfp8",
        "e5m2" => "mxfp8-e5m2",
        "e2m3" => "mxfp6",
        "e3m2" => "mxfp6-e3m2",
        "e2m1" => "mxfp4",
        _ => return None,
    };
    let profile = match producer {
        "torchao" | "jax" | "modelopt" | "compressed-tensors" | "ggml" => producer,
        _ => return None,
    };
    Some(format!("{family},rule={rule},profile={profile}"))
}

/// Cases the crate does not reproduce, as (producer, config prefix, case,
/// why). Each must still differ (so that a fix removes it from here) and
/// nothing else may.
const KNOWN_DIFFERENCES: &[(&str, &str, &str, &str)] = &[
    (
        "compressed-tensors",
        "mx-",
        "huge_values",
        "the amax rounds up to ∞ and the scale byte comes from an undefined ∞-to-integer cast (0x7F on x86)",
    ),
    (
        "ggml",
        "mx-e2m1",
        "huge_values",
        "ggml's f32 products d·k overflow near FLT_MAX, so its search never reaches ±6",
    ),
    (
        "jax",
        "nvfp4",
        "tiny_tensor",
        "w flushes to 0, and XLA's block amax max|x·∞| is NaN where the block holds a zero",
    ),
    (
        "torchao",
        "nvfp4",
        "zeros",
        "torchao's bit-level FP4 cast makes x86's NaN 0xC",
    ),
    (
        "torchao",
        "nvfp4",
        "nan_in_block",
        "torchao's FP4 cast of NaN, and torch's NaN sign",
    ),
    (
        "torchao",
        "nvfp4",
        "inf_in_block",
        "torchao's FP4 cast of NaN (∞ · 0)",
    ),
    (
        "torchao",
        "nvfp4",
        "inf_negative_in_block",
        "torchao's FP4 cast of NaN (∞ · 0)",
    ),
    (
        "torchao",
        "mx-e5m2",
        "nan_in_block",
        "torch writes E5M2 NaN as 0x7F/0xFF (ml_dtypes 0x7E/0xFE)",
    ),
    (
        "torchao",
        "mx-e2m3",
        "nan_in_block",
        "torchao's bit-level FP6 cast of NaN",
    ),
    (
        "torchao",
        "mx-e3m2",
        "nan_in_block",
        "torchao's bit-level FP6 cast of NaN",
    ),
    (
        "torchao",
        "mx-e2m1",
        "nan_in_block",
        "torchao's bit-level FP4 cast of NaN",
    ),
];

fn known(producer: &str, config: &str, case: &str) -> Option<usize> {
    KNOWN_DIFFERENCES
        .iter()
        .position(|&(p, c, k, _)| p == producer && config.starts_with(c) && k == case)
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn f32s(s: &str) -> Vec<f32> {
    hex(s)
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

struct Outcome {
    matched: usize,
    mismatches: Vec<String>,
    /// How many cases each [`KNOWN_DIFFERENCES`] entry covered.
    known_hits: Vec<usize>,
    unmodelled: Vec<(String, String)>,
}

fn run_file(path: &Path, out: &mut Outcome) {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let producer = doc["producer"].as_str().unwrap().to_string();
    for case in doc["cases"].as_array().unwrap() {
        let config = case["config"].as_str().unwrap();
        let name = case["case"].as_str().unwrap();
        let Some(id) = crate_format(&producer, config) else {
            out.unmodelled.push((producer.clone(), config.to_string()));
            continue;
        };
        let format: AnyFormat = match id.parse() {
            Ok(f) => f,
            Err(_) => {
                out.unmodelled.push((producer.clone(), config.to_string()));
                continue;
            }
        };
        let shape: Vec<usize> = case["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let x = f32s(case["input"].as_str().unwrap());
        // A NaN or infinite amax (a NaN or Inf in the tensor) is what the
        // crate computes from the data itself; callers cannot pass one.
        let global_amax = case["global_amax"]
            .as_str()
            .map(|h| f32s(h)[0])
            .filter(|a| a.is_finite());
        let opts = QuantizeOptions {
            global_amax,
            ..QuantizeOptions::default()
        };
        let q = AnyQuantized::quantize(&format, &x, shape[0], shape[1], &opts).unwrap();
        let v = q.view();
        // One byte per scale, or an FP32 scale's four, little-endian.
        let scales: Vec<u8> = if config.starts_with("fp8") {
            v.scale_bits()
                .iter()
                .flat_map(|b| b.to_le_bytes())
                .collect()
        } else {
            v.scale_bits().iter().map(|&b| b as u8).collect()
        };
        let want_scales = hex(case["scales"].as_str().unwrap());
        let want_data = hex(case["data"].as_str().unwrap());
        let same = scales == want_scales && v.data() == want_data.as_slice();
        if let Some(k) = known(&producer, config, name) {
            if !same {
                out.known_hits[k] += 1;
            } else {
                out.mismatches.push(format!(
                    "{producer} {config} {name}: listed as a known difference, but matches"
                ));
            }
        } else if same {
            out.matched += 1;
        } else {
            let diff = |a: &[u8], b: &[u8]| {
                a.iter()
                    .zip(b)
                    .enumerate()
                    .filter(|(_, (x, y))| x != y)
                    .take(4)
                    .map(|(i, (x, y))| format!("[{i}] {x:02x} want {y:02x}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out.mismatches.push(format!(
                "{producer} {config} {name} ({id}): scales {}; data {}",
                diff(&scales, &want_scales),
                diff(v.data(), &want_data)
            ));
        }
    }
}

#[test]
fn every_modelled_producer_case_matches_byte_for_byte() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/producers");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut out = Outcome {
        matched: 0,
        mismatches: Vec::new(),
        known_hits: vec![0; KNOWN_DIFFERENCES.len()],
        unmodelled: Vec::new(),
    };
    for f in &files {
        run_file(f, &mut out);
    }
    out.unmodelled.sort();
    out.unmodelled.dedup();
    for m in &out.mismatches {
        eprintln!("{m}");
    }
    eprintln!(
        "{} cases matched, {} differ; not modelled: {:?}",
        out.matched,
        out.mismatches.len(),
        out.unmodelled
    );
    // Every producer file is present and contributes.
    assert_eq!(files.len(), 6, "{files:?}");
    assert!(out.matched > 500, "{} cases matched", out.matched);
    for (k, &(p, c, case, _)) in KNOWN_DIFFERENCES.iter().enumerate() {
        assert!(
            out.known_hits[k] > 0,
            "{p} {c} {case}: listed as a known difference, but no such case"
        );
    }
    assert!(
        out.mismatches.is_empty(),
        "{} cases differ from their producer",
        out.mismatches.len()
    );
    assert!(
        out.unmodelled.is_empty(),
        "no profile for {:?}",
        out.unmodelled
    );
}
