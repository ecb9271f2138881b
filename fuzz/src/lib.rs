//! The bodies of blockscale's fuzz targets.
//!
//! Each target takes arbitrary bytes, drives one part of the public API with
//! them, and panics only when a property fails: a panic inside blockscale
//! on any input is itself a failure (every bad input must come back as an
//! `Err`). The properties are independent of the code under test where
//! possible: a brute-force rounding oracle over each element's value table,
//! the portable path as the specification of the SIMD kernels, the naive
//! GEMM as the specification of the fast one, and round trips through the
//! file formats.
//!
//! `fuzz_targets/*.rs` wrap these functions for cargo-fuzz (nightly); the
//! unit test at the bottom replays the committed corpus (`corpus/<target>/`)
//! on stable, which is what CI runs.

mod apis;
mod codecs;
mod files;
mod gemm;
mod quantize;

pub use apis::gemm_apis;
pub use codecs::codecs;
pub use files::{gguf, layouts, npy, safetensors};
pub use gemm::gemm;
pub use quantize::quantize;

use arbitrary::Unstructured;

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target, by the name cargo-fuzz and the corpus directory use.
pub const TARGETS: &[(&str, Target)] = &[
    ("codecs", codecs),
    ("quantize", quantize),
    ("gemm", gemm),
    ("npy", npy),
    ("safetensors", safetensors),
    ("layouts", layouts),
    ("gguf", gguf),
    ("gemm_apis", gemm_apis),
];

// Helpers the targets share.

pub(crate) fn pick<T: Copy>(u: &mut Unstructured, from: &[T]) -> T {
    *u.choose(from).unwrap_or(&from[0])
}

/// Arbitrary f32 values: mostly a spread of ordinary magnitudes (so that
/// blocks have structure), sometimes any bit pattern (NaN, ±Inf, subnormals).
pub(crate) fn values(u: &mut Unstructured, n: usize) -> Vec<f32> {
    let raw = u.ratio(1, 8).unwrap_or(false);
    (0..n)
        .map(|_| {
            if raw {
                f32::from_bits(u.arbitrary().unwrap_or(0))
            } else {
                let m = u.int_in_range(-128..=127i8).unwrap_or(0) as f32 / 16.0;
                let e = u.int_in_range(-20..=20i32).unwrap_or(0);
                m * 2f32.powi(e)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::TARGETS;
    use std::path::Path;

    /// Replays every file of `corpus/<target>/` (and `regressions/<target>/`,
    /// inputs that once failed) through its target: the fuzz smoke test CI
    /// runs on stable.
    #[test]
    fn replay_corpus() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut total = 0;
        for (name, target) in TARGETS {
            let mut n = 0;
            for dir in ["corpus", "regressions"] {
                let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
                    continue;
                };
                let mut paths: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
                paths.sort();
                for p in paths {
                    let data = std::fs::read(&p).expect("corpus file readable");
                    let r = std::panic::catch_unwind(|| target(&data));
                    assert!(r.is_ok(), "{name}: {} fails", p.display());
                    n += 1;
                }
            }
            println!("{name}: {n} inputs");
            total += n;
        }
        assert!(total > 0, "no corpus found under {}", root.display());
    }

    /// Every target survives empty and short inputs.
    #[test]
    fn short_inputs() {
        for (_, target) in TARGETS {
            for len in 0..64 {
                target(&vec![0xA5; len]);
                target(&vec![0; len]);
                target(&vec![0xFF; len]);
            }
        }
    }
}
