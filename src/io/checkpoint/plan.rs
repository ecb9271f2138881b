//! What `convert` does with each tensor of a checkpoint, decided before
//! anything is written: the model table's plan, whole-block and fusion
//! checks, and the global amaxes fused layers and experts share.

use super::target::Target;
use super::{ConvertOptions, glob, layer_index};
use crate::Error;
use crate::io::finite_values;
use crate::io::model::{Family, Role, TensorPlan};
use crate::io::st;
use crate::par::*;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// What convert does with each tensor: its plan from the model table, or
/// none if it stays as it is.
pub(crate) struct Planned {
    pub(crate) plan: BTreeMap<String, TensorPlan>,
    /// Tensors quantized on name rules alone (an unknown architecture).
    pub(crate) guessed: Vec<String>,
}

pub(crate) fn plan_checkpoint(
    dir: &Path,
    files: &[String],
    family: Family,
    a: &ConvertOptions,
    to: Target,
) -> Result<(Planned, Vec<String>, u64), Error> {
    let mut all = Vec::new();
    let mut total = 0u64;
    let mut seen: HashMap<String, &str> = HashMap::new();
    for f in files {
        let sf = st::SafeFile::open(dir.join(f))?;
        for n in sf.names() {
            if let Some(other) = seen.insert(n.clone(), f) {
                return Err(Error::file(
                    dir.join(f),
                    Some(&n),
                    format!("also in {other}"),
                ));
            }
            total += sf.nbytes(&n)? as u64;
            let (dtype, shape) = sf.info(&n)?;
            all.push((n, dtype, shape, f.clone()));
        }
    }
    let max_layer = all.iter().filter_map(|(n, ..)| layer_index(n)).max();
    let kept_layer = |name: &str| match (layer_index(name), max_layer) {
        (Some(i), Some(m)) => a.keep_last_layers > 0 && i + a.keep_last_layers > m,
        _ => false,
    };
    let mut plan = BTreeMap::new();
    let mut guessed = Vec::new();
    // Input dimension of each fused group's first member, to check the rest.
    let mut fused_in: HashMap<String, (String, usize)> = HashMap::new();
    for (n, dtype, shape, file) in &all {
        let p = family.plan(n, shape);
        let float = matches!(dtype.as_str(), "BF16" | "F16" | "F32");
        if p.role == Role::Keep || !float || a.exclude.iter().any(|g| glob(g, n)) || kept_layer(n) {
            continue;
        }
        let (out_dim, in_dim) = match p.role {
            Role::Experts { transposed: true } => (shape[2], shape[1]),
            Role::Experts { .. } => (shape[1], shape[2]),
            _ => (
                shape[..shape.len() - 1].iter().product(),
                shape[shape.len() - 1],
            ),
        };
        if matches!(p.role, Role::Experts { .. }) && !to.holds_stacks() {
            return Err(Error::file(
                dir.join(file),
                Some(n),
                "this layout holds 2-D weights, not expert stacks",
            ));
        }
        // Whole blocks, checked before anything is written.
        if let Some((br, bc)) = to.whole_blocks()
            && (!in_dim.is_multiple_of(bc) || !out_dim.is_multiple_of(br))
        {
            return Err(Error::file(
                dir.join(file),
                Some(n),
                format!(
                    "{out_dim} outputs x {in_dim} inputs are not whole {br}x{bc} blocks of {}",
                    to.format_name()
                ),
            ));
        }
        if let Some(g) = &p.fused {
            match fused_in.get(g) {
                Some((first, d)) if *d != in_dim => {
                    return Err(Error::file(
                        dir.join(file),
                        Some(n),
                        format!(
                            "fused with {first} ({g}), but its input dimension is {in_dim}, not {d}"
                        ),
                    ));
                }
                Some(_) => {}
                None => {
                    fused_in.insert(g.clone(), (n.clone(), in_dim));
                }
            }
        }
        if p.guessed {
            guessed.push(n.clone());
        }
        plan.insert(n.clone(), p);
    }
    let names = all.into_iter().map(|(n, ..)| n).collect();
    Ok((Planned { plan, guessed }, names, total))
}

/// Each quantized tensor's global amax, one per expert for stacks, the
/// largest of its fused group (loaders give a fused GEMM one global
/// scale). Only formats with a global scale need it; this reads every
/// quantized tensor once more, shard by shard.
pub(crate) fn global_amaxes(
    dir: &Path,
    files: &[String],
    planned: &Planned,
) -> Result<HashMap<String, Vec<f32>>, Error> {
    let mut own: HashMap<String, Vec<f32>> = HashMap::new();
    for file in files {
        let path = dir.join(file);
        let sf = st::SafeFile::open(&path)?;
        let names: Vec<String> = sf
            .names()
            .into_iter()
            .filter(|n| planned.plan.contains_key(n))
            .collect();
        let amaxes: Vec<Result<(String, Vec<f32>), Error>> = names
            .par_iter()
            .map(|n| {
                let t = sf.tensor(n)?;
                let x = finite_values(&path, n, &t)?;
                let per = match planned.plan[n].role {
                    Role::Experts { .. } => t.shape[0].max(1),
                    _ => 1,
                };
                let len = x.len() / per.max(1);
                let m = (0..per)
                    .map(|e| {
                        x[e * len..(e + 1) * len]
                            .iter()
                            .fold(0f32, |m, v| m.max(v.abs()))
                    })
                    .collect();
                Ok((n.clone(), m))
            })
            .collect();
        for r in amaxes {
            let (n, m) = r?;
            own.insert(n, m);
        }
    }
    let mut group: HashMap<&str, Vec<f32>> = HashMap::new();
    for (n, p) in &planned.plan {
        if let Some(g) = &p.fused {
            let e = group.entry(g).or_default();
            let m = &own[n];
            e.resize(e.len().max(m.len()), 0.0);
            for (a, b) in e.iter_mut().zip(m) {
                *a = a.max(*b);
            }
        }
    }
    Ok(own
        .iter()
        .map(|(n, m)| {
            let shared = planned.plan[n].fused.as_deref().map(|g| &group[g]);
            (n.clone(), shared.cloned().unwrap_or_else(|| m.clone()))
        })
        .collect())
}
