//! Model structure: which tensors of a checkpoint are linear weights, along
//! which axis their input dimension runs, which are fused into one GEMM
//! by the loaders (and must share a global scale), and which stay in high
//! precision. Conversion follows this table, not guesses from names,
//! for the architecture families it knows; for others it falls back to
//! name rules and says which tensors it guessed about.
//!
//! | family (`model_type`) | quantized | input axis | fused (one global scale) | kept |
//! |---|---|---|---|---|
//! | dense: `llama`, `mistral`, `qwen2`, `qwen3`, `gemma*`, `phi3`, `olmo*`, `granite` | every 2-D `*.weight` of a linear | last (`[out, in]`) | `q/k/v_proj`; `gate/up_proj` | embeddings, norms, `lm_head` |
//! | per-expert MoE: `mixtral`, `qwen2_moe`, `qwen3_moe`, `deepseek_v2`, `deepseek_v3` | as dense, and each expert's `gate/up/down_proj` or `w1/w2/w3` | last | as dense; per expert `gate/up_proj`, `w1/w3`; `q_a_proj` with `kv_a_proj_with_mqa` | as dense, and routers (`mlp.gate`, `shared_expert_gate`) |
//! | `gpt_oss` | `mlp.experts.gate_up_proj` `[E, H, 2I]`, `mlp.experts.down_proj` `[E, I, H]` only | middle (`[E, in, out]`) | each expert alone (`gate_up_proj` is already one GEMM) | attention, router, embeddings, `lm_head`, norms, sinks, biases (gpt-oss's `modules_to_not_convert`) |
//!
//! Sources: Hugging Face transformers' model definitions (`GptOssExperts`
//! holds `gate_up_proj` as `[E, hidden, 2·intermediate]` and computes
//! `x @ W`); vLLM's merged linear layers (`QKVParallelLinear`,
//! `MergedColumnParallelLinear`), which load q/k/v and gate/up into one
//! weight with one NVFP4 global scale; llm-compressor's
//! `update_fused_layer_weight_global_scales`, which makes them equal.
//!
//! ```
//! use blockscale::io::model::{Family, Role};
//! let f = Family::from_model_type("gpt_oss");
//! let p = f.plan("model.layers.0.mlp.experts.gate_up_proj", &[4, 64, 128]);
//! assert_eq!(p.role, Role::Experts { transposed: true });
//! assert_eq!(f.plan("model.layers.0.self_attn.q_proj.weight", &[64, 64]).role, Role::Keep);
//!
//! let llama = Family::from_model_type("llama");
//! let q = llama.plan("model.layers.3.self_attn.q_proj.weight", &[64, 64]);
//! assert_eq!(q.role, Role::Linear);
//! assert_eq!(q.fused.as_deref(), Some("model.layers.3.self_attn.{q_proj,k_proj,v_proj}"));
//! ```

/// An architecture family: how its checkpoints name and lay out weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Family {
    /// Llama-style dense transformers: 2-D `[out, in]` linear weights.
    Dense,
    /// Mixture-of-experts with one 2-D weight per expert (Mixtral, Qwen-MoE,
    /// DeepSeek).
    PerExpertMoe,
    /// gpt-oss: experts as 3-D stacks `[E, in, out]`, everything else kept.
    GptOss,
    /// Not in the table: name rules, each quantized tensor a guess.
    Unknown,
}

/// What conversion does with one tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Role {
    /// Stays as it is.
    Keep,
    /// A linear weight `[out, in]`: blocks run along the last axis (the
    /// leading axes of a weight of four or more are flattened into `out`).
    Linear,
    /// A stack of expert weights, one per index of the first axis, each
    /// quantized (and globally scaled) on its own: `[E, out, in]`, or
    /// `[E, in, out]` when `transposed` (gpt-oss), whose quantized layout
    /// stores each expert as `[out, in]`.
    Experts {
        /// The stored matrices are `[in, out]`.
        transposed: bool,
    },
}

/// The plan for one tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorPlan {
    /// What to do with it.
    pub role: Role,
    /// The fused group it belongs to (its members share one global scale),
    /// named by the common prefix and the members, as
    /// `model.layers.3.self_attn.{q_proj,k_proj,v_proj}`.
    pub fused: Option<String>,
    /// The role came from name rules, not the table (an unknown family).
    pub guessed: bool,
}

/// Groups of projections that loaders fuse into one GEMM.
const FUSED: &[&[&str]] = &[
    &["q_proj", "k_proj", "v_proj"],
    &["gate_proj", "up_proj"],
    &["w1", "w3"],
    &["q_a_proj", "kv_a_proj_with_mqa"],
];

/// Parts of a name that mark a tensor kept in high precision by every
/// family: embeddings, norms, the output head, routers.
const KEPT: &[&str] = &[
    "embed",
    "norm",
    "lm_head",
    "wte",
    "wpe",
    "ln_",
    "router",
    "gate.weight",
];

impl Family {
    /// The family of a `config.json` `model_type`.
    ///
    /// ```
    /// use blockscale::io::model::Family;
    /// assert_eq!(Family::from_model_type("qwen3_moe"), Family::PerExpertMoe);
    /// assert_eq!(Family::from_model_type("mamba"), Family::Unknown);
    /// ```
    pub fn from_model_type(model_type: &str) -> Family {
        let t = model_type.to_ascii_lowercase();
        let dense = ["llama", "mistral", "qwen2", "qwen3", "phi3", "granite"];
        let moe = [
            "mixtral",
            "qwen2_moe",
            "qwen3_moe",
            "deepseek_v2",
            "deepseek_v3",
        ];
        if t == "gpt_oss" {
            Family::GptOss
        } else if moe.contains(&t.as_str()) {
            Family::PerExpertMoe
        } else if dense.contains(&t.as_str()) || t.starts_with("gemma") || t.starts_with("olmo") {
            Family::Dense
        } else {
            Family::Unknown
        }
    }

    /// The family of a checkpoint's `config.json` (its `model_type`);
    /// [`Family::Unknown`] without one.
    ///
    /// ```
    /// use blockscale::io::model::Family;
    /// let c = serde_json::json!({"model_type": "llama"});
    /// assert_eq!(Family::from_config(Some(&c)), Family::Dense);
    /// assert_eq!(Family::from_config(None), Family::Unknown);
    /// ```
    pub fn from_config(config: Option<&serde_json::Value>) -> Family {
        config
            .and_then(|c| c["model_type"].as_str())
            .map_or(Family::Unknown, Family::from_model_type)
    }

    /// The plan for the tensor `name` of shape `shape` (see the table in
    /// the module docs).
    ///
    /// ```
    /// use blockscale::io::model::{Family, Role};
    /// let p = Family::Unknown.plan("encoder.block.0.wi.weight", &[64, 32]);
    /// assert!(p.role == Role::Linear && p.guessed);
    /// assert_eq!(Family::Dense.plan("model.norm.weight", &[64]).role, Role::Keep);
    /// ```
    pub fn plan(self, name: &str, shape: &[usize]) -> TensorPlan {
        let keep = TensorPlan {
            role: Role::Keep,
            fused: None,
            guessed: false,
        };
        let lower = name.to_ascii_lowercase();
        if self == Family::GptOss {
            let expert = lower.ends_with("mlp.experts.gate_up_proj")
                || lower.ends_with("mlp.experts.down_proj");
            return if expert && shape.len() == 3 {
                TensorPlan {
                    role: Role::Experts { transposed: true },
                    ..keep
                }
            } else {
                keep
            };
        }
        let linear_name = lower.ends_with(".weight") || lower.ends_with("_proj");
        if shape.len() < 2 || !linear_name || KEPT.iter().any(|k| lower.contains(k)) {
            return keep;
        }
        TensorPlan {
            role: if shape.len() == 3 {
                Role::Experts { transposed: false }
            } else {
                Role::Linear
            },
            fused: fused_group(name),
            guessed: self == Family::Unknown,
        }
    }
}

/// The fused group of a projection's weight, if it is one of [`FUSED`].
fn fused_group(name: &str) -> Option<String> {
    let stem = name.strip_suffix(".weight").unwrap_or(name);
    let (prefix, last) = stem.rsplit_once('.')?;
    let group = FUSED.iter().find(|g| g.contains(&last))?;
    Some(format!("{prefix}.{{{}}}", group.join(",")))
}
