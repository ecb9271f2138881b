//! Writes sample inputs for the command line (needs `--features io`):
//! `sample/acts.npy`, a seeded 256×1024 heavy-tailed f32 matrix shaped like
//! LLM activations, and `sample/model/`, a tiny two-shard BF16 checkpoint
//! (4 layers, hidden size 256) with an index and a `config.json`.
//!
//! ```text
//! cargo run --release --features io --example sample_files [DIR]
//! ```

use blockscale::io::{DType, Tensor, npy, st};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use std::path::PathBuf;

fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    let u1 = (rng.next_u32() as f64 + 1.0) / 4294967296.0;
    let u2 = rng.next_u32() as f64 / 4294967296.0;
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Normal values times a per-column log-normal scale, one in a thousand ×40.
fn heavy(rng: &mut Xoshiro256PlusPlus, rows: usize, cols: usize, std: f64) -> Vec<f32> {
    let col: Vec<f64> = (0..cols).map(|_| (0.75 * normal(rng)).exp()).collect();
    (0..rows * cols)
        .map(|i| {
            let v = normal(rng) * col[i % cols] * std;
            (if i % 1000 == 999 { v * 40.0 } else { v }) as f32
        })
        .collect()
}

fn main() -> Result<(), blockscale::Error> {
    let root = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "sample".into()));
    let model = root.join("model");
    std::fs::create_dir_all(&model)
        .map_err(|e| blockscale::Error::file(&model, None, e.to_string()))?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2026);
    let acts = heavy(&mut rng, 256, 1024, 1.0);
    npy::write(
        root.join("acts.npy"),
        &Tensor::from_f32(DType::F32, vec![256, 1024], &acts)?,
    )?;
    let h = 256;
    let mut t = Vec::new();
    let mut add = |name: String, rows: usize, cols: usize, rng: &mut Xoshiro256PlusPlus| {
        let x = heavy(rng, rows, cols, 0.02);
        let shape = if rows == 1 {
            vec![cols]
        } else {
            vec![rows, cols]
        };
        t.push((name, Tensor::from_f32(DType::BF16, shape, &x)));
    };
    add("model.embed_tokens.weight".into(), 512, h, &mut rng);
    for l in 0..4 {
        for (p, r, c) in [
            ("self_attn.q_proj", h, h),
            ("self_attn.k_proj", h, h),
            ("self_attn.v_proj", h, h),
            ("self_attn.o_proj", h, h),
            ("mlp.gate_proj", 4 * h, h),
            ("mlp.up_proj", 4 * h, h),
            ("mlp.down_proj", h, 4 * h),
        ] {
            add(format!("model.layers.{l}.{p}.weight"), r, c, &mut rng);
        }
        add(
            format!("model.layers.{l}.input_layernorm.weight"),
            1,
            h,
            &mut rng,
        );
    }
    add("model.norm.weight".into(), 1, h, &mut rng);
    add("lm_head.weight".into(), 512, h, &mut rng);
    let t: Vec<(String, Tensor)> = t
        .into_iter()
        .map(|(n, r)| r.map(|t| (n, t)))
        .collect::<Result<_, _>>()?;
    let half = t.len() / 2;
    let shards = [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ];
    st::write(model.join(shards[0]), &t[..half], None)?;
    st::write(model.join(shards[1]), &t[half..], None)?;
    let map: Vec<String> = t
        .iter()
        .enumerate()
        .map(|(i, (n, _))| format!("\"{n}\": \"{}\"", shards[usize::from(i >= half)]))
        .collect();
    let index = format!(
        "{{\"metadata\": {{}}, \"weight_map\": {{{}}}}}",
        map.join(", ")
    );
    blockscale::io::write_bytes(model.join("model.safetensors.index.json"), index.as_bytes())?;
    let config = r#"{"model_type": "llama", "hidden_size": 256, "num_hidden_layers": 4}"#;
    blockscale::io::write_bytes(model.join("config.json"), config.as_bytes())?;
    println!(
        "wrote {} and {}",
        root.join("acts.npy").display(),
        model.display()
    );
    Ok(())
}
