//! Writes this crate's element encodings for a set of f32 inputs, for
//! `tests/ml_dtypes_check.py` to compare with ml_dtypes bit for bit.
//!
//! ```text
//! cargo run --release --example codec_dump -- INPUT.f32 OUT_DIR
//! cargo run --release --example codec_dump -- --range START COUNT OUT_DIR
//! ```
//! INPUT.f32 is raw little-endian f32; `--range` encodes the f32 bit patterns
//! START..START+COUNT. OUT_DIR receives `<format>.u8` (one byte per input,
//! `from_f32`, through `slice::encode` for the minifloats) and
//! `<format>.decode.f32` (the value of every code, through `slice::decode`).

use blockscale::element::{ConvertOptions, slice};
use blockscale::{E2M1, E2M3, E3M2, E4M3, E4M3Fnuz, E5M2, E5M2Fnuz, E8M0, Element};
use std::path::Path;
use std::process::ExitCode;

/// The minifloats go through the bulk slice functions, which run the SIMD
/// kernels this CPU has (`BLOCKSCALE_SIMD` caps them), so ml_dtypes checks
/// the kernels directly; E8M0's `from_f32` (ties away) has no slice form.
fn dump<T: Element>(inputs: &[f32], out: &Path) -> std::io::Result<()> {
    let codes: Vec<u8> = if T::NAME == "E8M0" {
        inputs.iter().map(|&x| T::from_f32(x).to_bits()).collect()
    } else {
        let mut q = vec![T::from_bits(0); inputs.len()];
        slice::encode(inputs, &mut q, ConvertOptions::ML_DTYPES).map_err(std::io::Error::other)?;
        q.iter().map(|e| e.to_bits()).collect()
    };
    std::fs::write(out.join(format!("{}.u8", T::NAME)), codes)?;
    let all: Vec<T> = (0..1u32 << T::BITS)
        .map(|b| T::from_bits(b as u8))
        .collect();
    let mut values = vec![0f32; all.len()];
    slice::decode(&all, &mut values).map_err(std::io::Error::other)?;
    let table: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(out.join(format!("{}.decode.f32", T::NAME)), table)
}

fn run(args: &[String]) -> Result<(), String> {
    let (inputs, out): (Vec<f32>, &str) = match args {
        [flag, start, count, out] if flag == "--range" => {
            let start: u64 = start.parse().map_err(|e| format!("START: {e}"))?;
            let count: u64 = count.parse().map_err(|e| format!("COUNT: {e}"))?;
            if start + count > 1 << 32 {
                return Err("range goes past 2^32".into());
            }
            let v = (start..start + count)
                .map(|b| f32::from_bits(b as u32))
                .collect();
            (v, out.as_str())
        }
        [input, out] => {
            let bytes = std::fs::read(input).map_err(|e| format!("{input}: {e}"))?;
            if bytes.len() % 4 != 0 {
                return Err(format!(
                    "{input}: length {} is not a multiple of 4",
                    bytes.len()
                ));
            }
            let v = bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            (v, out.as_str())
        }
        _ => {
            return Err("usage: codec_dump INPUT.f32 OUT_DIR | --range START COUNT OUT_DIR".into());
        }
    };
    let out = Path::new(out);
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let io = |e: std::io::Error| format!("{}: {e}", out.display());
    dump::<E2M1>(&inputs, out).map_err(io)?;
    dump::<E2M3>(&inputs, out).map_err(io)?;
    dump::<E3M2>(&inputs, out).map_err(io)?;
    dump::<E4M3>(&inputs, out).map_err(io)?;
    dump::<E5M2>(&inputs, out).map_err(io)?;
    dump::<E4M3Fnuz>(&inputs, out).map_err(io)?;
    dump::<E5M2Fnuz>(&inputs, out).map_err(io)?;
    dump::<E8M0>(&inputs, out).map_err(io)?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("codec_dump: {e}");
            ExitCode::FAILURE
        }
    }
}
