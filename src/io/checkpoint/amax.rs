//! [`ConvertOptions::activation_amax`](super::ConvertOptions): activation
//! amaxes from any calibration tool, turned into Model-Optimizer's
//! `input_scale`s.

use super::plan::Planned;
use super::read_json;
use super::target::Target;
use crate::Error;
use crate::io::model::Role;
use crate::io::st;
use std::collections::HashMap;
use std::path::Path;

/// Each quantized linear weight's activation amax from `file` (JSON
/// `{"module": amax}`), the largest of its fused group (Model-Optimizer's
/// `preprocess_linear_fusion` gives fused layers one input amax, and vLLM
/// one `input_scale`). Every quantized linear must have one.
pub(crate) fn input_amaxes(
    file: &Path,
    planned: &Planned,
    to: Target,
) -> Result<HashMap<String, f32>, Error> {
    if !matches!(to, Target::ModelOpt(_)) {
        return Err(Error::file(
            file,
            None,
            "activation amaxes become Model-Optimizer NVFP4 input scales; convert to nvfp4",
        ));
    }
    let map = amax_file(file)?;
    let mut own = HashMap::new();
    let mut missing = Vec::new();
    for (n, p) in &planned.plan {
        let m = n.strip_suffix(".weight").unwrap_or(n);
        if p.role != Role::Linear {
            return Err(Error::file(
                file,
                Some(n),
                "activation amaxes for expert stacks are not supported",
            ));
        }
        match map.get(m).copied() {
            Some(Some(x)) if x >= 0.0 && (x as f32).is_finite() => {
                own.insert(n.clone(), x as f32);
            }
            Some(_) => {
                return Err(Error::file(
                    file,
                    Some(m),
                    "the amax is not a finite non-negative number",
                ));
            }
            None => missing.push(m.to_string()),
        }
    }
    if let Some(first) = missing.first() {
        return Err(Error::file(
            file,
            Some(first),
            format!(
                "no activation amax for {} quantized linear layers",
                missing.len()
            ),
        ));
    }
    let mut group: HashMap<&str, f32> = HashMap::new();
    for (n, p) in &planned.plan {
        if let Some(g) = &p.fused {
            let e = group.entry(g).or_default();
            *e = e.max(own[n]);
        }
    }
    Ok(own
        .iter()
        .map(|(n, &x)| {
            let shared = planned.plan[n].fused.as_deref().map(|g| group[g]);
            (n.clone(), shared.unwrap_or(x))
        })
        .collect())
}

/// The activation amaxes of `file` by module: a JSON object `{"module":
/// amax}` (a non-number is `None`), or a safetensors file of one-element
/// float tensors named after the module, alone or with
/// Model-Optimizer's `.input_quantizer._amax` or `.input_amax` after it.
fn amax_file(file: &Path) -> Result<HashMap<String, Option<f64>>, Error> {
    if file.extension().is_some_and(|e| e == "safetensors") {
        let f = st::SafeFile::open(file)?;
        let mut out = HashMap::new();
        for n in f.names() {
            let t = f.tensor(&n)?;
            let x = t.to_f32().map_err(|e| e.in_file(file, Some(&n)))?;
            if !t.dtype.is_float() || x.len() != 1 {
                return Err(Error::file(
                    file,
                    Some(&n),
                    format!(
                        "{} {:?}: an amax is one floating-point value",
                        t.dtype.name(),
                        t.shape
                    ),
                ));
            }
            let m = [".input_quantizer._amax", ".input_amax"]
                .iter()
                .find_map(|s| n.strip_suffix(s))
                .unwrap_or(&n);
            out.insert(m.to_string(), Some(x[0] as f64));
        }
        return Ok(out);
    }
    let v = read_json(file)?.ok_or_else(|| Error::file(file, None, "cannot read"))?;
    let map = v
        .as_object()
        .ok_or_else(|| Error::file(file, None, "expected a JSON object {\"module\": amax}"))?;
    Ok(map.iter().map(|(k, v)| (k.clone(), v.as_f64())).collect())
}
