//! Test-vector bundles (`blockscale vectors`, `vectors`): each bundle
//! is read back from its files alone, using only the manifest, the layouts'
//! inverses and `from_parts`, and its GEMM output recomputed with
//! `gemm_reference`, group by group, and its epilogue and block-scaled
//! output from their definitions.

use blockscale::format::{AnyFormat, BlockFormat};
use blockscale::gemm::gemm_reference;
use blockscale::io::st::SafeFile;
use blockscale::layout::{DataLayout, Fp6Packing, ScaleLayout};
use blockscale::tensor::{AnyQuantized, Direction, PartialBlocks, QuantizedTensor, TensorVisitor};
use blockscale::vectors::{Grouping, VectorsOptions, write_vectors};
use blockscale::{E2M1, E4M3, element::ConvertOptions};
use serde_json::Value;

/// Operand `name`'s tensors rebuilt from the bundle, one per group.
fn operand(
    f: &SafeFile,
    m: &Value,
    name: &str,
    layout: ScaleLayout,
    dl: DataLayout,
) -> Vec<AnyQuantized> {
    let o = &m[name];
    let format: AnyFormat = o["format"].as_str().unwrap().parse().unwrap();
    let dim = |v: &Value, i: usize| v[i].as_u64().unwrap() as usize;
    let (sr, sc) = (dim(&o["stored_shape"], 0), dim(&o["stored_shape"], 1));
    let (tr, tc) = (dim(&o["scale_shape"], 0), dim(&o["scale_shape"], 1));
    let groups = o["groups"].as_u64().unwrap_or(1) as usize;
    let data = f.tensor(&format!("{name}.data")).unwrap().data;
    let scales = f.tensor(&format!("{name}.scales")).unwrap();
    let amax = f
        .tensor(&format!("{name}.global_amax"))
        .ok()
        .map(|t| t.to_f32().unwrap());
    let bits = match o["scale_kind"].as_str().unwrap() {
        "f32" => scales
            .data
            .chunks(4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
            .collect::<Vec<_>>(),
        _ => scales.data.iter().map(|&b| u32::from(b)).collect(),
    };
    let elem_bits = match format.id().family() {
        "nvfp4" | "mxfp4" | "nvfp4-4over6" => 4,
        f if f.starts_with("mxfp6") => 6,
        _ => 8,
    };
    let per_data = data.len() / groups;
    let per_scales = bits.len() / groups;
    (0..groups)
        .map(|g| {
            let codes = dl
                .read_back(&data[g * per_data..(g + 1) * per_data], sr, sc, elem_bits)
                .unwrap();
            // The crate's own data: FP4 codes two per byte, low nibble first.
            let own: Vec<u8> = if elem_bits == 4 {
                codes
                    .chunks(2)
                    .map(|p| p[0] | p.get(1).map_or(0, |h| h << 4))
                    .collect()
            } else {
                codes
            };
            let s = layout
                .unpack(&bits[g * per_scales..(g + 1) * per_scales], tr, tc)
                .unwrap();
            AnyQuantized::from_parts(
                &format,
                (sr, sc),
                Direction::Rowwise,
                PartialBlocks::Reject,
                own,
                &s,
                amax.as_ref().map(|a| a[g]),
            )
            .unwrap()
        })
        .collect()
}

/// `c = A · Bᵀ` by `gemm_reference`, on the concrete formats.
fn reference(a: &AnyQuantized, b: &AnyQuantized, c: &mut [f32]) {
    struct Outer<'a>(&'a AnyQuantized, &'a mut [f32]);
    struct Inner<'a, FA: BlockFormat>(&'a QuantizedTensor<FA>, &'a mut [f32]);
    impl<FA: BlockFormat> TensorVisitor for Inner<'_, FA> {
        type Output = ();
        fn visit<FB: BlockFormat>(self, b: &QuantizedTensor<FB>) {
            gemm_reference(self.0, b, 1.0, 0.0, self.1).unwrap();
        }
    }
    impl TensorVisitor for Outer<'_> {
        type Output = ();
        fn visit<FA: BlockFormat>(self, a: &QuantizedTensor<FA>) {
            self.0.visit(Inner(a, self.1));
        }
    }
    a.visit(Outer(b, c));
}

fn check(o: VectorsOptions) {
    let dir = std::env::temp_dir().join(format!("bs-vectors-{}-{}", std::process::id(), o.seed));
    let m = write_vectors(&dir, &o).unwrap();
    let f = SafeFile::open(dir.join("vectors.safetensors")).unwrap();
    let a = operand(&f, &m, "a", o.scale_layout, o.data_layout);
    let b = operand(&f, &m, "b", o.scale_layout, o.data_layout);
    let c = f.tensor("c").unwrap().to_f32().unwrap();
    let n = o.shape.1;
    let rows = |q: &AnyQuantized| q.view().stored_shape().0;
    // Mixed K blocks (W4A8): the coarser FP8 operand refined to the finer.
    let (ka, kb) = (
        m["k_blocks"][0].as_u64().unwrap() as usize,
        m["k_blocks"][1].as_u64().unwrap() as usize,
    );
    let gemm = |a: &AnyQuantized, b: &AnyQuantized| {
        let mut c = vec![0.0f32; rows(a) * n];
        let a = if ka > kb {
            a.refine_k(kb).unwrap()
        } else {
            a.clone()
        };
        let b = if kb > ka {
            b.refine_k(ka).unwrap()
        } else {
            b.clone()
        };
        reference(&a, &b, &mut c);
        c
    };
    // Only the specification, no grouped code: gemm_reference per group.
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    match &o.grouping {
        Grouping::Contiguous { .. } => {
            let idx: Vec<i64> = m["grouping"]["m_indices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect();
            let full: Vec<Vec<f32>> = b.iter().map(|e| gemm(&a[0], e)).collect();
            for (i, &g) in idx.iter().enumerate() {
                let want = if g < 0 {
                    vec![0.0; n]
                } else {
                    full[g as usize][i * n..(i + 1) * n].to_vec()
                };
                assert_eq!(bits(&c[i * n..(i + 1) * n]), bits(&want), "row {i}");
            }
        }
        Grouping::Masked { rows: valid } => {
            let mm = o.shape.0;
            for (g, (x, e)) in a.iter().zip(&b).enumerate() {
                let mut want = gemm(x, e);
                want[valid[g] * n..].fill(0.0);
                assert_eq!(
                    bits(&c[g * mm * n..(g + 1) * mm * n]),
                    bits(&want),
                    "group {g}"
                );
            }
        }
        _ => {
            // The epilogue, as the manifest states it: each step rounded.
            let y = gemm(&a[0], &b[0]);
            let vec_of = |name: &str| f.tensor(name).ok().map(|t| t.to_f32().unwrap());
            let (rs, cs, bias) = (vec_of("row_scale"), vec_of("col_scale"), vec_of("bias"));
            let want: Vec<f32> = y
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let (r, j) = (i / n, i % n);
                    let v = cs.as_ref().map_or(v, |s| v * s[j]);
                    let v = rs.as_ref().map_or(v, |s| v * s[r]);
                    bias.as_ref().map_or(v, |b| v + b[j])
                })
                .collect();
            assert_eq!(bits(&c), bits(&want));
            if !m["d"].is_null() {
                let d = operand(&f, &m, "d", o.scale_layout, o.data_layout);
                cutlass_output(&d[0], &c, n);
            }
        }
    }
    // The inputs quantize to the stored bytes.
    let a_in = f.tensor("a").unwrap().to_f32().unwrap();
    let fa: AnyFormat = o.a.parse().unwrap();
    let k = o.shape.2;
    let q = AnyQuantized::quantize(
        &fa,
        &a_in[..rows(&a[0]) * k],
        rows(&a[0]),
        k,
        &Default::default(),
    )
    .unwrap();
    assert_eq!(q.view().data(), a[0].view().data());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// D's bytes against CUTLASS's block-scaled epilogue, written out from its
/// host reference (SEMANTICS.md §7): NVFP4 with the norm constant
/// nc = 2688/A, MXFP8 (E4M3) with nc = 1 and the scale rounded up.
fn cutlass_output(d: &AnyQuantized, c: &[f32], n: usize) {
    let v = d.view();
    let id = v.format_id().to_string();
    let block = if id.starts_with("nvfp4") { 16 } else { 32 };
    let nc = v.global_amax().map_or(1.0, |a| 2688.0 / a);
    let (top, data) = (if block == 16 { 6.0 } else { 448.0 }, v.data());
    let sbits = v.scale_bits_in(ScaleLayout::RowMajor).unwrap();
    for (bi, blk) in c.chunks(block).enumerate() {
        let amax = blk.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let pv = amax * (nc * (1.0 / top));
        let (sf_bits, sf) = if block == 16 {
            let s = E4M3::from_f32_with(pv, ConvertOptions::SATFINITE);
            (u32::from(s.to_bits()), s.to_f32())
        } else {
            // The smallest power of two at least pv (normal pv here).
            let b = pv.to_bits();
            let e = (b >> 23) + u32::from(b & 0x7F_FFFF != 0);
            (e, f32::from_bits(e << 23))
        };
        assert_eq!(sbits[bi], sf_bits, "{id}: scale of block {bi}");
        let s = (nc * (1.0 / sf)).min(f32::MAX);
        for (k, &x) in blk.iter().enumerate() {
            let i = bi * block + k;
            let (want, got) = if block == 16 {
                let q = E2M1::from_f32_with(x * s, ConvertOptions::SATFINITE).to_bits();
                (q, (data[i / 2] >> (4 * (i % 2))) & 0xF)
            } else {
                let q = E4M3::from_f32_with(x * s, ConvertOptions::SATFINITE).to_bits();
                (q, data[i])
            };
            assert_eq!(got, want, "{id}: element {} of row {}", i % n, i / n);
        }
    }
}

#[test]
fn bundles_read_back_and_their_gemm_recomputes() {
    let mut o = VectorsOptions::new("nvfp4", "nvfp4", (130, 40, 256));
    o.scale_layout = ScaleLayout::Swizzled;
    o.data_layout = DataLayout::k_major().rows_to(128).row_bytes_to(16);
    check(o);
    let mut o = VectorsOptions::new("mxfp8", "mxfp8", (20, 36, 256));
    o.seed = 1;
    o.scale_layout = ScaleLayout::PackedUe8m0;
    o.data_layout = DataLayout::mn_major().row_bytes_to(16);
    check(o);
    let mut o = VectorsOptions::new("fp8-block", "fp8-block,2d", (33, 256, 384));
    o.seed = 2;
    o.scale_layout = ScaleLayout::MnMajor;
    check(o);
    let mut o = VectorsOptions::new("mxfp6-e3m2", "mxfp6", (8, 12, 128));
    o.seed = 3;
    o.data_layout = DataLayout::k_major().fp6(Fp6Packing::Packed);
    o.scale_layout = ScaleLayout::Gfx950;
    check(o);
    // Mixed K granularity: 1×128 FP8 activations, 1×32 FP8 weights.
    let mut o = VectorsOptions::new("fp8-block", "fp8-block,block=1x32", (16, 32, 256));
    o.seed = 6;
    o.scale_layout = ScaleLayout::MnMajor;
    check(o);
    // W4A8: 1×128 FP8 activations × NVFP4 weights, and MXFP4 × FP8.
    let mut o = VectorsOptions::new("fp8-block", "nvfp4", (16, 32, 256));
    o.seed = 7;
    o.scale_layout = ScaleLayout::Swizzled;
    check(o);
    let mut o = VectorsOptions::new("mxfp4", "fp8-block,block=1x128", (8, 16, 256));
    o.seed = 8;
    check(o);
    // An epilogue, and D block-scaled as a Blackwell epilogue writes it.
    let mut o = VectorsOptions::new("mxfp8", "mxfp8", (24, 64, 128));
    o.seed = 9;
    o.bias = true;
    o.row_col_scales = true;
    o.output = Some("nvfp4,profile=cutlass".into());
    o.scale_layout = ScaleLayout::Swizzled;
    check(o);
    let mut o = VectorsOptions::new("nvfp4", "nvfp4", (8, 64, 64));
    o.seed = 10;
    o.bias = true;
    o.output = Some("mxfp8,profile=cutlass".into());
    check(o);
    let mut o = VectorsOptions::new("mxfp4", "mxfp4", (0, 24, 128));
    o.seed = 4;
    o.scale_layout = ScaleLayout::Swizzled8x4;
    o.grouping = Grouping::Contiguous {
        rows: vec![5, 0, 40],
        align: 32,
    };
    check(o);
    let mut o = VectorsOptions::new("nvfp4", "nvfp4", (48, 16, 64));
    o.seed = 5;
    o.scale_layout = ScaleLayout::Swizzled;
    o.grouping = Grouping::Masked {
        rows: vec![48, 3, 0],
    };
    check(o);
}

#[test]
fn bad_bundles_are_errors() {
    let dir = std::env::temp_dir().join(format!("bs-vectors-bad-{}", std::process::id()));
    let e = |o: VectorsOptions| write_vectors(&dir, &o).unwrap_err().to_string();
    assert!(e(VectorsOptions::new("nvfp5", "nvfp4", (16, 16, 64))).contains("nvfp5"));
    assert!(
        e(VectorsOptions::new("nvfp4", "mxfp4", (16, 16, 64)))
            .to_lowercase()
            .contains("mxfp4")
    );
    assert!(e(VectorsOptions::new("nvfp4", "nvfp4", (16, 16, 40))).contains("blocks"));
    let mut o = VectorsOptions::new("nvfp4", "nvfp4", (16, 16, 64));
    o.scale_layout = ScaleLayout::PackedUe8m0;
    assert!(e(o).contains("E8M0"));
    let mut o = VectorsOptions::new("nvfp4", "nvfp4", (16, 16, 64));
    o.grouping = Grouping::Masked { rows: vec![17] };
    assert!(e(o).contains("more than M"));
    let mut o = VectorsOptions::new("nvfp4", "nvfp4", (16, 16, 64));
    o.grouping = Grouping::Masked { rows: vec![4] };
    o.bias = true;
    assert!(e(o).contains("one GEMM"));
    let mut o = VectorsOptions::new("nvfp4", "nvfp4", (16, 24, 64));
    o.output = Some("nvfp4,profile=cutlass".into());
    assert!(e(o).contains("blocks"));
    assert!(!dir.exists(), "nothing written on error");
}
