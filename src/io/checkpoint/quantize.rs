//! One planned tensor quantized into the pieces its target layout stores.

use super::Quantized;
use super::gguf::Piece;
use super::target::{self, Target};
use crate::Error;
use crate::format::{AnyFormat, BlockFormat};
use crate::io::detect::TRANSPOSED_KEY;
use crate::io::model::Role;
use crate::io::{finite_values, layouts, st};
use crate::tensor::{AnyQuantized, Direction, PartialBlocks, QuantizeOptions, QuantizedTensor};
use std::path::Path;

/// Each expert's slice quantized on its own with its options.
fn per_expert<'a, F: BlockFormat>(
    f: F,
    experts: usize,
    slice: impl Fn(usize) -> (&'a [f32], QuantizeOptions),
    (rows, cols): (usize, usize),
) -> Result<Vec<QuantizedTensor<F>>, Error> {
    (0..experts)
        .map(|e| {
            let (x, o) = slice(e);
            QuantizedTensor::quantize(f.clone(), x, rows, cols, &o)
        })
        .collect()
}

/// Quantizes one planned tensor: a linear weight as one matrix, a stack
/// per expert (gpt-oss's `[E, in, out]` stacks columnwise, so that blocks
/// run along the input dimension), each with its global amax if the
/// format has a global scale.
pub(super) fn quantize_tensor(
    path: &Path,
    sf: &st::SafeFile,
    name: &str,
    role: Role,
    to: Target,
    amax: Option<&Vec<f32>>,
) -> Result<Quantized, Error> {
    let t = sf.tensor(name)?;
    let x = finite_values(path, name, &t)?;
    let ctx = |e: Error| e.in_file(path, Some(name));
    let entries = |v: Vec<(String, crate::io::Tensor)>| {
        v.into_iter().map(|(n, t)| Piece::St(n, t.into())).collect()
    };
    let (experts, transposed) = match role {
        Role::Experts { transposed } => (t.shape[0], transposed),
        _ => (1, false),
    };
    let (rows, cols) = match t.shape[..] {
        [_, r, c] if experts > 1 || matches!(role, Role::Experts { .. }) => (r, c),
        _ => t.matrix_shape(),
    };
    let opts = |e: usize| QuantizeOptions {
        direction: if transposed {
            Direction::Columnwise
        } else {
            Direction::Rowwise
        },
        global_amax: amax.map(|m| m[e.min(m.len().saturating_sub(1))]),
        ..Default::default()
    };
    let each = |e: usize| &x[e * rows * cols..(e + 1) * rows * cols];
    let stack = matches!(role, Role::Experts { .. });
    let mark = |m: &mut Vec<(String, String)>| {
        if transposed {
            m.push((format!("{TRANSPOSED_KEY}{name}"), "true".into()));
        }
    };
    Ok(match to {
        Target::ModelOpt(f) => {
            let qs = per_expert(f, experts, |e| (each(e), opts(e)), (rows, cols)).map_err(ctx)?;
            let v = if stack {
                layouts::modelopt_nvfp4_experts(name, &qs)
            } else {
                layouts::modelopt_nvfp4(name, &qs[0])
            };
            let mut m = Vec::new();
            mark(&mut m);
            (entries(v.map_err(ctx)?), m)
        }
        Target::GptOss(f) => {
            let qs = per_expert(f, experts, |e| (each(e), opts(e)), (rows, cols)).map_err(ctx)?;
            let v = if stack {
                layouts::gptoss_mxfp4_experts(name, &qs)
            } else {
                layouts::gptoss_mxfp4(name, &qs[0])
            };
            (entries(v.map_err(ctx)?), Vec::new())
        }
        Target::Gguf(f) => {
            use crate::io::gguf as g;
            let sizes = (rows, cols);
            let v = match f {
                AnyFormat::MxFp4(f) => {
                    let qs = per_expert(f, experts, |e| (each(e), opts(e)), sizes).map_err(ctx)?;
                    if stack {
                        g::gguf_tensors_mxfp4_experts(name, &qs)
                    } else {
                        g::gguf_tensors_mxfp4(name, &qs[0])
                    }
                }
                AnyFormat::Nvfp4(f) => {
                    let qs = per_expert(f, experts, |e| (each(e), opts(e)), sizes).map_err(ctx)?;
                    if stack {
                        g::gguf_tensors_nvfp4_experts(name, &qs)
                    } else {
                        g::gguf_tensors_nvfp4(name, &qs[0])
                    }
                }
                f => Err(Error::InvalidArgument(format!("GGUF holds no {f}"))),
            };
            (
                v.map_err(ctx)?.into_iter().map(Piece::Gguf).collect(),
                Vec::new(),
            )
        }
        Target::Compressed(f, kind) => {
            let f = match kind {
                layouts::Compressed::Fp8Channel => target::channelwise(cols).into(),
                _ => f,
            };
            let o = QuantizeOptions {
                partial_blocks: PartialBlocks::ZeroPad,
                global_amax: amax.map(|m| m[0]),
                ..Default::default()
            };
            let q = AnyQuantized::quantize(&f, &x, rows, cols, &o).map_err(ctx)?;
            (
                entries(layouts::compressed(name, &q).map_err(ctx)?),
                Vec::new(),
            )
        }
        Target::DeepSeek(f) => {
            let o = QuantizeOptions {
                partial_blocks: PartialBlocks::ZeroPad,
                ..Default::default()
            };
            let q = AnyQuantized::quantize(&f, &x, rows, cols, &o).map_err(ctx)?;
            (
                entries(layouts::deepseek_fp8(name, &q).map_err(ctx)?),
                Vec::new(),
            )
        }
        Target::Own(f) => {
            // One tensor for the stack: experts as consecutive rows, each
            // stored [out, in] (so blocks run along the input dimension).
            let (data, srows, scols) = if transposed {
                (
                    layouts::transpose_stack(&x, rows, cols),
                    experts * cols,
                    rows,
                )
            } else {
                (x.clone(), experts * rows, cols)
            };
            let o = QuantizeOptions {
                global_amax: amax.map(|m| m.iter().fold(0f32, |a, &b| a.max(b))),
                ..Default::default()
            };
            let q = AnyQuantized::quantize(&f, &data, srows, scols, &o).map_err(ctx)?;
            let (v, meta) = layouts::own(name, &q).map_err(ctx)?;
            let mut m = vec![meta];
            if stack {
                let stored = if transposed {
                    [experts, cols, rows]
                } else {
                    [experts, rows, cols]
                };
                m.push((
                    format!("blockscale-shape:{name}"),
                    serde_json::to_string(&stored).expect("JSON serializes"),
                ));
            }
            mark(&mut m);
            (entries(v), m)
        }
    })
}
