//! The layering `src/lib.rs` states, checked on the source: a module
//! refers (outside comments) only to modules of lower layers, so the
//! arrows point one way and `simd` stays a leaf.

use std::path::Path;

/// Layer of each top-level module, as `src/lib.rs` lists them.
const LAYERS: &[(&str, u32)] = &[
    ("error", 0),
    ("simd", 0),
    ("rng", 0),
    ("par", 0),
    ("layout", 1),
    ("element", 1),
    ("scale", 2),
    ("metrics", 2),
    ("format", 3),
    ("tensor", 4),
    ("gemm", 5),
    ("rht", 5),
    ("io", 5),
    ("testing", 5),
    ("recipe", 6),
    ("vectors", 6),
];

/// Items the crate root re-exports, by the module that defines them.
const ROOT_ITEMS: &[(&str, &str)] = &[
    ("E2M1", "element"),
    ("E2M3", "element"),
    ("E3M2", "element"),
    ("E4M3", "element"),
    ("E5M2", "element"),
    ("E8M0", "element"),
    ("Int8", "element"),
    ("Element", "element"),
    ("Error", "error"),
];

fn layer(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|&(_, l)| l)
}

/// The modules a source text names as `crate::x`, outside comments;
/// `crate::{a, b::c}` groups count each name.
fn references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + 7..];
            let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
                group
                    .split(['}', ';'])
                    .next()
                    .unwrap_or("")
                    .split(',')
                    .collect()
            } else {
                vec![rest]
            };
            for n in names {
                let n: String = n
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !n.is_empty() {
                    out.push(n);
                }
            }
        }
    }
    out
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn modules_refer_only_to_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut checked = 0;
    for path in all {
        let rel = path.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        let Some(own) = layer(&module) else {
            // lib.rs, and the binary (a crate of its own, using the public API).
            assert!(
                module == "lib" || module == "bin",
                "{} is not in LAYERS: add the new module to src/lib.rs's list and here",
                rel.display()
            );
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        for r in references(&text) {
            let target = ROOT_ITEMS
                .iter()
                .find(|(item, _)| *item == r)
                .map_or(r.as_str(), |&(_, m)| m);
            if target == module {
                continue;
            }
            let Some(l) = layer(target) else { continue };
            assert!(
                l < own,
                "{} (layer {own}) refers to crate::{r} (module {target}, layer {l})",
                rel.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} references checked");
}

#[test]
fn references_are_found_in_code_not_comments() {
    let text = "use crate::{E4M3, format::{A, B}};\n/// [`crate::recipe::X`]\nlet a = crate::simd::active(); // crate::io";
    assert_eq!(references(text), ["E4M3", "format", "B", "simd"]);
}
