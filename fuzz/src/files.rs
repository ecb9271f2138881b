//! The file targets: `npy`, `safetensors`, `layouts` and `gguf`.

use arbitrary::Unstructured;
use blockscale::io::{DType, Tensor, gguf, layouts, npy, st};

use crate::pick;

/// Everything a reader might do with a tensor it was handed.
fn use_tensor(t: &Tensor) {
    let _ = t.matrix_shape();
    let _ = t.numel();
    if let Ok(v) = t.to_f32() {
        assert_eq!(v.len(), t.numel(), "to_f32 of a valid tensor");
    }
}

/// The `.npy` reader on arbitrary bytes: an error or a valid tensor, and a
/// valid tensor writes back to bytes that read as the same tensor.
pub fn npy(data: &[u8]) {
    let Ok(t) = npy::from_bytes(data) else { return };
    t.validate().expect("the reader returns valid tensors");
    use_tensor(&t);
    let again = npy::to_bytes(&t).expect("a valid tensor writes");
    assert_eq!(npy::from_bytes(&again).expect("reads back"), t);
}

/// The safetensors reader on arbitrary bytes, then every layout dequantizer
/// on whatever tensors it finds, named as the layouts name them.
pub fn safetensors(data: &[u8]) {
    let Ok(f) = st::SafeFile::from_bytes("fuzz.safetensors", data.to_vec()) else {
        return;
    };
    let meta = f.metadata();
    let names = f.names();
    for name in &names {
        f.info(name).expect("listed names exist");
        let raw = f.raw(name).expect("listed names exist");
        assert_eq!(raw.data.len(), f.nbytes(name).expect("listed"));
        if let Ok(t) = f.tensor(name) {
            t.validate().expect("the reader returns valid tensors");
            use_tensor(&t);
        }
    }
    let get = |n: &str| f.tensor(n).ok();
    for name in &names {
        if let (Some(w), Some(s), Some(s2)) = (
            get(name),
            get(&format!("{name}_scale")),
            get(&format!("{name}_scale_2")),
        ) {
            let _ = layouts::dequantize_modelopt_nvfp4(&w, &s, &s2);
        }
        if let Some(stem) = name.strip_suffix("_blocks")
            && let (Some(b), Some(s)) = (get(name), get(&format!("{stem}_scales")))
        {
            let _ = layouts::dequantize_gptoss_mxfp4(&b, &s);
            let _ = layouts::dequantize_gptoss_experts(&b, &s);
        }
        if let (Some(w), Some(s)) = (get(name), get(&format!("{name}_scale_inv"))) {
            let _ = layouts::dequantize_deepseek_fp8(&w, &s);
        }
    }
    // Whatever layout the file holds: detection, description and every
    // weight's dequantization return, never panic.
    if let Ok(found) = blockscale::io::detect::detect(&f) {
        for stored in found {
            let _ = stored.parts();
            if let Ok((x, shape)) = stored.dequantize(&f) {
                assert_eq!(
                    x.len(),
                    shape.iter().product::<usize>(),
                    "{}",
                    stored.name()
                );
            }
        }
    }
    let _ = blockscale::io::detect::describe(&f);
    let _ = blockscale::io::detect::unrecognized(&f);
    for (key, json) in &meta {
        if let Some(stem) = key.strip_prefix("blockscale:")
            && let (Some(d), Some(s)) = (
                get(&format!("{stem}.qdata")),
                get(&format!("{stem}.qscales")),
            )
        {
            read_own_any(&d, &s, json);
        }
    }
}

/// [`layouts::read_own`] in whatever format the metadata names.
fn read_own_any(d: &Tensor, s: &Tensor, json: &str) {
    if let Ok(q) = layouts::read_own(d, s, json) {
        use blockscale::tensor::QuantizedView;
        let _ = q.dequantize();
    }
}

fn dtype(u: &mut Unstructured) -> DType {
    pick(u, DType::ALL)
}

/// A tensor built field by field: its public fields need not agree.
fn raw_tensor(u: &mut Unstructured) -> Tensor {
    let dtype = dtype(u);
    let ndim = u.int_in_range(0..=4usize).unwrap_or(0);
    let shape = (0..ndim)
        .map(|_| {
            if u.ratio(1, 10).unwrap_or(false) {
                u.arbitrary::<usize>().unwrap_or(0)
            } else {
                u.int_in_range(0..=40usize).unwrap_or(0)
            }
        })
        .collect();
    let len = u.int_in_range(0..=512usize).unwrap_or(0);
    let data = u.bytes(len).map(<[u8]>::to_vec).unwrap_or_default();
    Tensor { dtype, shape, data }
}

/// The checkpoint layouts' dequantizers and the crate's own layout reader
/// with tensors whose fields disagree, and arbitrary metadata JSON.
pub fn layouts(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let (a, b, c) = (raw_tensor(&mut u), raw_tensor(&mut u), raw_tensor(&mut u));
    for t in [&a, &b, &c] {
        use_tensor(t);
        let _ = npy::to_bytes(t);
        let _ = t.clone().reinterpret(DType::U8);
    }
    if let Ok(v) = layouts::dequantize_modelopt_nvfp4(&a, &b, &c) {
        assert_eq!(v.len(), 2 * a.numel());
    }
    if let Ok(v) = layouts::dequantize_gptoss_mxfp4(&a, &b) {
        assert_eq!(v.len(), 2 * a.numel());
    }
    if let Ok((v, shape)) = layouts::dequantize_gptoss_experts(&a, &b) {
        assert_eq!(v.len(), shape.iter().product::<usize>());
    }
    if let Ok(v) = layouts::dequantize_deepseek_fp8(&a, &b) {
        assert_eq!(v.len(), a.numel());
    }
    for kind in [
        layouts::Compressed::Nvfp4Packed,
        layouts::Compressed::Mxfp4Packed,
        layouts::Compressed::Fp8Block,
    ] {
        let _ = layouts::dequantize_compressed(kind, &a, &b, Some(&c));
    }
    let json = String::from_utf8_lossy(u.take_rest()).into_owned();
    let _ = layouts::own_format(&json);
    read_own_any(&a, &b, &json);
    let _ = Tensor::from_f32(a.dtype, a.shape.clone(), &[0.0; 4]);
}

/// The GGUF reader on arbitrary bytes: an error or a file whose tensors are
/// valid; every tensor dequantizes to its element count or errs (NVFP4
/// with the per-tensor scale the writer names, if the file has it); the
/// conversion to safetensors entries returns; and a file that writes back
/// reads again as bytes that write the same (its values compared by bytes,
/// not `==`, which NaN metadata would fail).
pub fn gguf(data: &[u8]) {
    let Ok(f) = gguf::GgufFile::from_bytes("fuzz.gguf", data) else {
        return;
    };
    let _ = f.alignment();
    for t in &f.tensors {
        t.validate().expect("the reader returns valid tensors");
        let scale = f.tensor(&gguf::nvfp4_scale_name(&t.name));
        for s in core::iter::once(None).chain(scale.map(Some)) {
            if let Ok(v) = gguf::dequantize_tensor(t, s) {
                assert_eq!(v.len(), t.shape.iter().product::<usize>(), "{}", t.name);
            }
        }
        let _ = gguf::raw_tensor(t);
    }
    for dtype in [DType::F32, DType::BF16] {
        let _ = gguf::to_entries(&f, dtype);
    }
    if let Ok(bytes) = f.to_bytes() {
        let again = gguf::GgufFile::from_bytes("again.gguf", &bytes).expect("its own bytes read");
        assert_eq!(again.to_bytes().expect("writes again"), bytes);
    }
}
