//! Test-vector bundles for GPU-kernel authors: inputs, the quantized
//! operands in the layouts the kernel reads, and the exact GEMM output, in
//! one safetensors file with a JSON manifest that says what everything is.
//! The command line's `vectors` writes them.
//!
//! A bundle directory holds `vectors.safetensors` and `manifest.json`:
//!
//! | tensor | dtype, shape | what |
//! |---|---|---|
//! | `a`, `b` | F32 `[M, K]`, `[N, K]` | the inputs (a leading `[G]` per group or expert) |
//! | `a.data`, `b.data` | U8 `[rows, bytes]` | element codes in the data layout |
//! | `a.scales`, `b.scales` | F8_E4M3, F8_E8M0 or F32 `[len]` | block scales in the scale layout |
//! | `a.global_amax`, `b.global_amax` | F32 `[]` | the tensor amax (NVFP4) |
//! | `c` | F32 `[M, N]` | `alpha · A · Bᵀ` by the GEMM contract (SEMANTICS.md §7), through the epilogue if any |
//! | `row_scale`, `col_scale`, `bias` | F32 `[M]`, `[N]`, `[N]` | the epilogue's vectors, when asked for ([`crate::gemm::Epilogue`]) |
//! | `d.data`, `d.scales`, `d.global_amax` | as for A | `c` block-scaled, when an output format is asked for ([`crate::gemm::gemm_quantized`]) |
//!
//! The manifest gives the formats, shapes, seed, layouts (with the offset
//! formulas in [`crate::layout`]), the groups, and each tensor's meaning.

use crate::Error;
use crate::format::{AnyFormat, ScaleKind};
use crate::gemm::{Bias, Epilogue};
use crate::io::{DType, Tensor, st};
use crate::layout::{DataLayout, Fp6Packing, Major, ScaleLayout};
use crate::tensor::{AnyQuantized, PartialBlocks, QuantizeOptions};
use rand_core::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::path::Path;

/// How a bundle's GEMM is grouped (DeepGEMM's layouts; see
/// [`crate::gemm::gemm_contiguous`] and [`crate::gemm::gemm_masked`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Grouping {
    /// One GEMM.
    None,
    /// One A whose groups' rows follow one another, each padded with zero
    /// rows to a multiple of `align` (the padding rows' group is −1); one B
    /// per group. `rows[g]` is group g's row count.
    Contiguous {
        /// Rows per group.
        rows: Vec<usize>,
        /// The M alignment of each group.
        align: usize,
    },
    /// One M×K A per group, of which the first `rows[g]` are valid (M is
    /// the bundle's `m`); one B per group.
    Masked {
        /// Valid rows per group.
        rows: Vec<usize>,
    },
}

/// What a bundle holds.
///
/// ```
/// use blockscale::vectors::VectorsOptions;
/// use blockscale::layout::ScaleLayout;
/// let mut o = VectorsOptions::new("nvfp4", "nvfp4", (128, 64, 256));
/// o.scale_layout = ScaleLayout::Swizzled;
/// assert_eq!(o.seed, 0);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct VectorsOptions {
    /// A's format identifier (`nvfp4`, `mxfp8`, `fp8-block`, …).
    pub a: String,
    /// B's format identifier.
    pub b: String,
    /// `(M, N, K)`: A is M×K, B is N×K, C is M×N.
    pub shape: (usize, usize, usize),
    /// Seeds the inputs (reproducible across runs and machines).
    pub seed: u64,
    /// The scales' layout.
    pub scale_layout: ScaleLayout,
    /// The element data's layout.
    pub data_layout: DataLayout,
    /// The GEMM's grouping.
    pub grouping: Grouping,
    /// A block-scaled output D: `c` quantized with this format
    /// (`nvfp4,profile=cutlass` and `mxfp8,profile=cutlass` are what a
    /// Blackwell GEMM epilogue writes). One GEMM only.
    pub output: Option<String>,
    /// A per-column bias in the epilogue. One GEMM only.
    pub bias: bool,
    /// Per-row and per-column scales in the epilogue. One GEMM only.
    pub row_col_scales: bool,
}

impl VectorsOptions {
    /// A bundle of one `(M, N, K)` GEMM of formats `a` and `b`, seed 0,
    /// row-major scales, K-major data.
    pub fn new(a: &str, b: &str, shape: (usize, usize, usize)) -> VectorsOptions {
        VectorsOptions {
            a: a.into(),
            b: b.into(),
            shape,
            seed: 0,
            scale_layout: ScaleLayout::RowMajor,
            data_layout: DataLayout::k_major(),
            grouping: Grouping::None,
            output: None,
            bias: false,
            row_col_scales: false,
        }
    }
}

/// Values of `n` standard-normal-like inputs: a uniform in (−1, 1) times
/// 2^e with e uniform in −4..4, so blocks span several binades.
fn inputs(rng: &mut rand_xoshiro::Xoshiro256PlusPlus, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u = (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
            let e = (rng.next_u64() % 9) as i32 - 4;
            (2.0 * u - 1.0) * (e as f32).exp2()
        })
        .collect()
}

/// One operand's tensors under `name`, and its manifest entry.
fn operand(
    name: &str,
    q: &[AnyQuantized],
    o: &VectorsOptions,
    out: &mut Vec<(String, Tensor)>,
) -> Result<Value, Error> {
    let v = q[0].view();
    let (sr, sc) = v.stored_shape();
    let (tr, tc) = v.scale_shape();
    let lead: Vec<usize> = if q.len() > 1 || o.grouping != Grouping::None {
        vec![q.len()]
    } else {
        Vec::new()
    };
    let shape = |rest: &[usize]| [&lead[..], rest].concat();
    let mut data = Vec::new();
    let mut scales = Vec::new();
    let mut amax = Vec::new();
    for t in q {
        data.extend(t.view().data_in(o.data_layout)?);
        let bits = t.view().scale_bits_in(o.scale_layout)?;
        match v.scale_kind() {
            ScaleKind::F32 => scales.extend(bits.iter().flat_map(|b| b.to_le_bytes())),
            _ => scales.extend(bits.iter().map(|&b| b as u8)),
        }
        amax.extend(t.view().global_amax());
    }
    let (dr, db) = o.data_layout.shape(sr, sc, v.element_bits())?;
    out.push((
        format!("{name}.data"),
        Tensor::new(DType::U8, shape(&[dr, db]), data)?,
    ));
    let (dtype, kind) = match v.scale_kind() {
        ScaleKind::E4M3 => (DType::F8E4M3, "e4m3"),
        ScaleKind::E8M0 => (DType::F8E8M0, "e8m0"),
        _ => (DType::F32, "f32"),
    };
    let len = o.scale_layout.storage_len(tr, tc)?;
    out.push((
        format!("{name}.scales"),
        Tensor::new(dtype, shape(&[len]), scales)?,
    ));
    if !amax.is_empty() {
        out.push((
            format!("{name}.global_amax"),
            Tensor::from_f32(DType::F32, lead.clone(), &amax)?,
        ));
    }
    Ok(json!({
        "format": v.format_id().to_string(),
        "stored_shape": [sr, sc],
        "scale_shape": [tr, tc],
        "scale_kind": kind,
        "data_shape": shape(&[dr, db]),
        "scales_len": len,
        "groups": lead.first(),
    }))
}

/// Writes a bundle to directory `dir` (created if missing): see the module
/// docs for its tensors. Returns the manifest it wrote.
///
/// Errors: a format name that does not parse, shapes that are not whole
/// blocks (the operands are quantized with
/// [`PartialBlocks::Reject`]), formats whose K blocks differ, a layout that
/// does not fit (packed UE8M0 of non-E8M0 scales, packed FP6 rows not a
/// multiple of 4), a group larger than M (masked), and the file errors.
///
/// ```
/// use blockscale::vectors::{VectorsOptions, write_vectors};
/// use blockscale::layout::ScaleLayout;
/// let dir = std::env::temp_dir().join(format!("bs-vec-{}", std::process::id()));
/// let mut o = VectorsOptions::new("mxfp8", "mxfp8", (64, 32, 128));
/// o.scale_layout = ScaleLayout::Swizzled;
/// let m = write_vectors(&dir, &o)?;
/// assert_eq!(m["a"]["scales_len"], 128 * 4); // 64 x 4 scales padded to one 128x4 tile
/// let f = blockscale::io::st::SafeFile::open(dir.join("vectors.safetensors"))?;
/// assert_eq!(f.info("c")?, ("F32".into(), vec![64, 32]));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn write_vectors(dir: impl AsRef<Path>, o: &VectorsOptions) -> Result<Value, Error> {
    let dir = dir.as_ref();
    let (fa, fb): (AnyFormat, AnyFormat) = (o.a.parse()?, o.b.parse()?);
    let (m, n, k) = o.shape;
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(o.seed);
    let opts = QuantizeOptions {
        partial_blocks: PartialBlocks::Reject,
        ..Default::default()
    };
    let q = |f: &AnyFormat, x: &[f32], rows: usize| AnyQuantized::quantize(f, x, rows, k, &opts);
    // K blocks that differ (W4A8): the coarser FP8-blockwise operand is
    // refined for the GEMM (`QuantizedTensor::refine_k`); the bundle keeps
    // its own scales, as the kernel reads them.
    let along_k = |f: &AnyFormat| match f.block() {
        crate::format::BlockShape::Tile { cols, .. } => cols.min(k),
        _ => k,
    };
    let (ka, kb) = (along_k(&fa), along_k(&fb));
    let gemm = |a: &AnyQuantized, b: &AnyQuantized| -> Result<Vec<f32>, Error> {
        let rows = a.view().stored_shape().0;
        let mut c = vec![0.0f32; rows * n];
        let (ra, rb);
        let (a, b) = match ka.cmp(&kb) {
            core::cmp::Ordering::Greater => {
                ra = a.refine_k(kb)?;
                (&ra, b)
            }
            core::cmp::Ordering::Less => {
                rb = b.refine_k(ka)?;
                (a, &rb)
            }
            _ => (a, b),
        };
        crate::gemm::gemm_any(a, b, 1.0, 0.0, &mut c)?;
        Ok(c)
    };
    let mut out = Vec::new();
    let (a_in, a_q, b_in, b_q, c, group_json);
    match &o.grouping {
        Grouping::None => {
            a_in = inputs(&mut rng, m * k);
            b_in = inputs(&mut rng, n * k);
            a_q = vec![q(&fa, &a_in, m)?];
            b_q = vec![q(&fb, &b_in, n)?];
            let y = gemm(&a_q[0], &b_q[0])?;
            // Scales around 1 (in [0.5, 1.5)) and a bias of the inputs' size.
            let around_one = |rng: &mut _, len| -> Vec<f32> {
                inputs(rng, len)
                    .iter()
                    .map(|v| 1.0 + v.clamp(-0.5, 0.5))
                    .collect()
            };
            let (rs, cs) = if o.row_col_scales {
                (around_one(&mut rng, m), around_one(&mut rng, n))
            } else {
                (Vec::new(), Vec::new())
            };
            let bias = if o.bias {
                inputs(&mut rng, n)
            } else {
                Vec::new()
            };
            let mut e = Epilogue::new();
            if o.row_col_scales {
                e = e.row_scale(&rs).col_scale(&cs);
                out.push((
                    "row_scale".into(),
                    Tensor::from_f32(DType::F32, vec![m], &rs)?,
                ));
                out.push((
                    "col_scale".into(),
                    Tensor::from_f32(DType::F32, vec![n], &cs)?,
                ));
            }
            if o.bias {
                e = e.bias(Bias::PerColumn(&bias));
                out.push(("bias".into(), Tensor::from_f32(DType::F32, vec![n], &bias)?));
            }
            let mut cc = vec![0.0f32; y.len()];
            e.apply(&y, m, n, 0.0, &mut cc)?;
            c = cc;
            out.push(("a".into(), Tensor::from_f32(DType::F32, vec![m, k], &a_in)?));
            out.push(("b".into(), Tensor::from_f32(DType::F32, vec![n, k], &b_in)?));
            out.push(("c".into(), Tensor::from_f32(DType::F32, vec![m, n], &c)?));
            group_json = Value::Null;
        }
        _ if o.output.is_some() || o.bias || o.row_col_scales => {
            return Err(Error::InvalidArgument(
                "an epilogue or a block-scaled output is for one GEMM, not grouped ones".into(),
            ));
        }
        Grouping::Contiguous { rows, align } => {
            if *align == 0 || rows.is_empty() {
                return Err(Error::InvalidArgument(
                    "contiguous groups need at least one group and an alignment of at least 1"
                        .into(),
                ));
            }
            let mut m_indices = Vec::new();
            for (g, &r) in rows.iter().enumerate() {
                let padded = r.next_multiple_of(*align);
                m_indices.extend(std::iter::repeat_n(g as i32, r));
                m_indices.extend(std::iter::repeat_n(-1, padded - r));
            }
            let total = m_indices.len();
            let mut x = inputs(&mut rng, total * k);
            for (i, _) in m_indices.iter().enumerate().filter(|(_, g)| **g < 0) {
                x[i * k..(i + 1) * k].fill(0.0);
            }
            a_in = x;
            b_in = inputs(&mut rng, rows.len() * n * k);
            a_q = vec![q(&fa, &a_in, total)?];
            b_q = b_in
                .chunks(n * k)
                .map(|e| q(&fb, e, n))
                .collect::<Result<_, _>>()?;
            // Each valid row is that row of A's GEMM with its expert (the
            // grouped GEMM's contract, `gemm::gemm_contiguous`); padding
            // rows are zero.
            let full: Vec<Vec<f32>> = b_q
                .iter()
                .map(|b| gemm(&a_q[0], b))
                .collect::<Result<_, _>>()?;
            let mut cc = vec![0.0f32; total * n];
            for (i, &g) in m_indices.iter().enumerate() {
                if let Ok(g) = usize::try_from(g) {
                    cc[i * n..(i + 1) * n].copy_from_slice(&full[g][i * n..(i + 1) * n]);
                }
            }
            c = cc;
            out.push((
                "a".into(),
                Tensor::from_f32(DType::F32, vec![total, k], &a_in)?,
            ));
            out.push((
                "b".into(),
                Tensor::from_f32(DType::F32, vec![rows.len(), n, k], &b_in)?,
            ));
            out.push((
                "c".into(),
                Tensor::from_f32(DType::F32, vec![total, n], &c)?,
            ));
            group_json = json!({"layout": "contiguous", "rows": rows, "align": align, "m_indices": m_indices});
        }
        Grouping::Masked { rows } => {
            if let Some((g, r)) = rows.iter().enumerate().find(|(_, r)| **r > m) {
                return Err(Error::InvalidArgument(format!(
                    "masked group {g} has {r} rows, more than M = {m}"
                )));
            }
            let groups = rows.len();
            a_in = inputs(&mut rng, groups * m * k);
            b_in = inputs(&mut rng, groups * n * k);
            a_q = a_in
                .chunks(m * k)
                .map(|x| q(&fa, x, m))
                .collect::<Result<_, _>>()?;
            b_q = b_in
                .chunks(n * k)
                .map(|x| q(&fb, x, n))
                .collect::<Result<_, _>>()?;
            let mut cc = vec![0.0f32; groups * m * n];
            for (g, (a, b)) in a_q.iter().zip(&b_q).enumerate() {
                let full = gemm(a, b)?;
                let valid = rows[g] * n;
                cc[g * m * n..g * m * n + valid].copy_from_slice(&full[..valid]);
            }
            c = cc;
            out.push((
                "a".into(),
                Tensor::from_f32(DType::F32, vec![groups, m, k], &a_in)?,
            ));
            out.push((
                "b".into(),
                Tensor::from_f32(DType::F32, vec![groups, n, k], &b_in)?,
            ));
            out.push((
                "c".into(),
                Tensor::from_f32(DType::F32, vec![groups, m, n], &c)?,
            ));
            group_json = json!({"layout": "masked", "masked_m": rows});
        }
    }
    if a_q.is_empty() || b_q.is_empty() {
        return Err(Error::InvalidArgument("no groups".into()));
    }
    let a_json = operand("a", &a_q, o, &mut out)?;
    let b_json = operand("b", &b_q, o, &mut out)?;
    let d_json = match &o.output {
        Some(f) => {
            let d = AnyQuantized::quantize(&f.parse()?, &c, m, n, &opts)?;
            operand("d", &[d], o, &mut out)?
        }
        None => Value::Null,
    };
    let dl = o.data_layout;
    let mut manifest = json!({
        "producer": {"name": "blockscale", "version": env!("CARGO_PKG_VERSION")},
        "seed": o.seed,
        "shape": {"m": m, "n": n, "k": k},
        "a": a_json,
        "b": b_json,
        "d": d_json,
        "alpha": 1.0,
        "beta": 0.0,
        "gemm": "c = alpha * A * B^T by the contract of docs/SEMANTICS.md section 7: exact block sums, one rounding per block term, f32 accumulation in increasing K-block order, alpha folded with each format's tensor alpha (NVFP4: global_amax / 2688); where A's and B's K blocks differ, the finer blocks define the sums",
        "epilogue": {
            "row_col_scales": o.row_col_scales,
            "bias": if o.bias { "per_column" } else { "none" },
            "rule": "c = f32(f32(f32(y * col_scale[n]) * row_scale[m]) + bias[n]), each step present only if asked, y the GEMM's f32 result (docs/SEMANTICS.md section 7)",
        },
        "k_blocks": [ka, kb],
        "grouping": group_json,
        "scale_layout": o.scale_layout.name(),
        "data_layout": {
            "major": match dl.major { Major::K => "k", _ => "mn" },
            "rows_to": dl.row_multiple,
            "row_bytes_to": dl.row_bytes_multiple,
            "fp6": match dl.fp6 { Fp6Packing::Packed => "packed", _ => "bytes" },
        },
        "tensors": {
            "a": "A's inputs, f32, row-major (padding rows of contiguous groups are zero)",
            "b": "B's inputs, f32, row-major, one [N, K] per group",
            "a.data": "A's element codes in data_layout: FP4 two per byte (element 2j low), FP6 per fp6, else one byte each",
            "a.scales": "A's block scales in scale_layout (per group for a stack), padding zero",
            "a.global_amax": "A's tensor amax (formats with a global scale)",
            "b.data": "as a.data, for B",
            "b.scales": "as a.scales, for B",
            "b.global_amax": "as a.global_amax, for B",
            "c": "the exact GEMM output, through the epilogue; rows outside the groups' valid rows are zero",
            "row_scale": "the epilogue's per-row scales (row_col_scales)",
            "col_scale": "the epilogue's per-column scales (row_col_scales)",
            "bias": "the epilogue's per-column bias",
            "d.data": "c quantized with d's format, element codes in data_layout",
            "d.scales": "d's block scales in scale_layout",
            "d.global_amax": "d's tensor amax, from which its global scale is computed (NVFP4: S_enc = 2688 / it)",
        },
    });
    // Describe only the tensors this bundle holds.
    if let Some(t) = manifest["tensors"].as_object_mut() {
        t.retain(|name, _| out.iter().any(|(n, _)| n == name));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create directory", e))?;
    st::write(dir.join("vectors.safetensors"), &out, None)?;
    let text = serde_json::to_string_pretty(&manifest).expect("JSON serializes");
    crate::io::write_bytes(dir.join("manifest.json"), text.as_bytes())?;
    Ok(manifest)
}
