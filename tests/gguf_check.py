#!/usr/bin/env python3
"""Cross-check blockscale's GGUF files against the `gguf` Python package.

Installs numpy and gguf==0.19.0 (MXFP4 = ggml type 39, NVFP4 = 40) from PyPI
into a throwaway virtual environment under target/, runs the `gguf_vectors`
example, reads its `vectors.gguf` with `gguf.GGUFReader` and dequantizes
every MXFP4 and NVFP4 tensor with `gguf.quants.dequantize`, then checks bit
for bit:

* MXFP4: gguf-py's values equal the crate's ggml-rule dequantization
  (`io::gguf::dequantize_tensor`), and the crate's own
  `QuantizedTensor::dequantize` with -0 read as +0 (ggml's code 8 is +0);
* NVFP4: gguf-py's values equal `io::gguf::dequantize_nvfp4` without the
  per-tensor scale, and, times the tensor's `.scale` F32 tensor in NumPy
  float32, the ggml-rule values; the crate's own values (e2m1 * f32(s * w),
  or Transformer Engine's order) are reported, and must be within one unit
  in the last place for the profiles that multiply by w.

Also checks the metadata, shapes (ggml's ne reversed) and types as the
reader reports them.

Then, through the command line: writes two tiny BF16 checkpoints with numpy
(gpt-oss-shaped, with expert stacks [E, in, out], and Llama-shaped, with
fused q/k/v), converts each with `blockscale convert --to mxfp4|nvfp4
--layout gguf`, and checks that gguf-py's dequantization of every MXFP4 and
NVFP4 tensor (times its `.scale`, per expert; stacks named under
`blockscale.transposed` swapped back) equals `blockscale dequantize`'s f32
output bit for bit, with the checkpoint's names and shapes, and that every
other tensor holds the source's bytes.

Usage: python3 tests/gguf_check.py [--example-dir DIR]
  --example-dir DIR  use vectors already written there instead of running
                     `cargo run --release --all-features --example gguf_vectors`
                     (the features CI builds with, so nothing is rebuilt).
Environment: BLOCKSCALE_BIN, the command line to run (default: built with
`cargo build --release --all-features --bin blockscale`); BLOCKSCALE_EXAMPLES,
a directory holding a built `gguf_vectors` (default: `cargo run`).
Exits non-zero on any mismatch.
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile

import pyenv

ROOT = pathlib.Path(__file__).resolve().parent.parent
PINS = ["numpy>=1.26", "gguf==0.19.0"]


pyenv.rerun_in_throwaway_venv(__file__, PINS, "BLOCKSCALE_GGUF_VENV", "gguf-check-venv-", ROOT / "target")

import numpy as np  # noqa: E402
import gguf  # noqa: E402
from gguf import GGMLQuantizationType as T  # noqa: E402

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL:", msg)


def same_bits(name, what, a, b):
    a = np.ascontiguousarray(a, dtype=np.float32)
    b = np.ascontiguousarray(b, dtype=np.float32)
    if a.shape != b.shape:
        fail(f"{name}: {what}: shapes {a.shape} and {b.shape}")
        return False
    diff = np.flatnonzero(a.view(np.uint32) != b.view(np.uint32))
    if diff.size:
        i = diff[0]
        fail(f"{name}: {what}: {diff.size} of {a.size} differ; first at {i}: "
             f"{a.flat[i]!r} ({a.view(np.uint32).flat[i]:#010x}) vs {b.flat[i]!r} ({b.view(np.uint32).flat[i]:#010x})")
        return False
    return True


def ulps(a, b):
    """Distance in units in the last place, zeros of either sign equal."""
    def ordered(x):
        i = x.astype(np.float32).view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    return np.abs(ordered(a) - ordered(b))


def write_safetensors(path, tensors):
    """A safetensors file of BF16 tensors given as float32 arrays exact in BF16."""
    header, blobs, off = {}, [], 0
    for name, x in tensors.items():
        b = (np.ascontiguousarray(x, dtype=np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
        header[name] = {"dtype": "BF16", "shape": list(x.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(len(h).to_bytes(8, "little") + h + b"".join(blobs))


def read_safetensors(path):
    """{name: (dtype, shape, bytes)} of a safetensors file."""
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    return {k: (v["dtype"], tuple(v["shape"]), raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
            for k, v in header.items()}


def bf16_values(rng, shape):
    x = rng.standard_normal(shape).astype(np.float32) * 2
    return ((x.view(np.uint32) >> 16) << 16).view(np.float32)


def cli_round_trip(bin_path, work):
    """convert --layout gguf, read by gguf-py, compared with dequantize."""
    rng = np.random.default_rng(7)
    e, h, i = 2, 64, 64
    models = {
        "gpt_oss": {
            "model.embed_tokens.weight": (10, h),
            "model.layers.0.self_attn.q_proj.weight": (h, h),
            "model.layers.0.mlp.router.weight": (e, h),
            "model.layers.0.mlp.experts.gate_up_proj": (e, h, 2 * i),
            "model.layers.0.mlp.experts.down_proj": (e, i, h),
        },
        "llama": {
            **{f"model.layers.0.self_attn.{p}_proj.weight": (h, h) for p in "qkvo"},
            "model.layers.0.input_layernorm.weight": (h,),
        },
    }
    checked = 0
    for model_type, shapes in models.items():
        src_dir = work / f"{model_type}-bf16"
        src_dir.mkdir()
        src = {n: bf16_values(rng, s) for n, s in shapes.items()}
        write_safetensors(src_dir / "model.safetensors", src)
        (src_dir / "config.json").write_text(json.dumps({"model_type": model_type}))
        for to in ["mxfp4", "nvfp4"]:
            out, back = work / f"{model_type}-{to}", work / f"{model_type}-{to}-back"
            subprocess.run([bin_path, "convert", src_dir, "--to", to, "--layout", "gguf", "-o", out], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run([bin_path, "dequantize", out, "-o", back, "--dtype", "f32"], check=True)
            reader = gguf.GGUFReader(out / "model.gguf")
            field = reader.get_field("blockscale.transposed")
            transposed = set(field.contents()) if field is not None else set()
            tensors = {t.name: t for t in reader.tensors}
            crate = read_safetensors(back / "model.safetensors")
            names = {n for n in tensors if not n.endswith(".scale")}
            if names != set(src) or set(crate) != set(src):
                fail(f"{model_type} {to}: names {sorted(names)} / {sorted(crate)}, source {sorted(src)}")
                continue
            for n, x in src.items():
                t = tensors[n]
                shape = tuple(int(d) for d in reversed(t.shape))
                if t.tensor_type not in (T.MXFP4, T.NVFP4):
                    if t.data.tobytes() != (x.view(np.uint32) >> 16).astype("<u2").tobytes():
                        fail(f"{model_type} {to} {n}: {t.tensor_type.name} bytes differ from the source")
                    continue
                y = gguf.quants.dequantize(t.data, t.tensor_type).reshape(shape)
                if t.tensor_type == T.NVFP4:
                    w = np.asarray(tensors[n.removesuffix(".weight") + ".scale"].data, dtype=np.float32)
                    y = y * (w.reshape((-1,) + (1,) * (y.ndim - 1)) if y.ndim == 3 else w[0])
                if n in transposed:
                    y = np.swapaxes(y, -1, -2)
                dtype, cshape, data = crate[n]
                got = np.frombuffer(data, dtype="<f4").reshape(cshape)
                if cshape != x.shape or dtype != "F32":
                    fail(f"{model_type} {to} {n}: dequantize gave {dtype} {cshape}, source {x.shape}")
                    continue
                ok = same_bits(f"{model_type} {to} {n}", "gguf-py vs blockscale dequantize", y, got)
                checked += 1
                print(f"{'ok' if ok else 'FAIL'}  CLI {to} {n} {x.shape}{' (transposed)' if n in transposed else ''}"
                      f": gguf-py equals `blockscale dequantize`")
    if checked < 12:
        fail(f"too few command-line tensors checked: {checked}")
    return checked


def main():
    args = sys.argv[1:]
    if args[:1] == ["--example-dir"]:
        out = pathlib.Path(args[1])
    else:
        out = pathlib.Path(tempfile.mkdtemp(prefix="gguf-vectors-", dir=ROOT / "target"))
        built = os.environ.get("BLOCKSCALE_EXAMPLES")
        cmd = ([str(pathlib.Path(built) / "gguf_vectors")] if built
               else ["cargo", "run", "--quiet", "--release", "--all-features", "--example", "gguf_vectors", "--"])
        subprocess.run([*cmd, str(out)], cwd=ROOT, check=True)
    reader = gguf.GGUFReader(out / "vectors.gguf")
    arch = reader.get_field("general.architecture")
    if arch is None or arch.contents() != "blockscale-test":
        fail(f"general.architecture is {arch and arch.contents()!r}")
    align = reader.get_field("general.alignment")
    if align is None or align.contents() != 32:
        fail("general.alignment")
    tensors = {t.name: t for t in reader.tensors}
    checked = {T.MXFP4: 0, T.NVFP4: 0}
    for name, t in tensors.items():
        if t.tensor_type not in (T.MXFP4, T.NVFP4):
            continue
        ggml_ref = np.load(out / f"{name}.ggml.npy")
        crate = np.load(out / f"{name}.crate.npy")
        shape = tuple(int(d) for d in reversed(t.shape))
        if shape != ggml_ref.shape:
            fail(f"{name}: reader shape {shape} (ne {list(t.shape)}), crate {ggml_ref.shape}")
            continue
        raw = gguf.quants.dequantize(t.data, t.tensor_type)
        checked[t.tensor_type] += 1
        if t.tensor_type == T.MXFP4:
            ok = same_bits(name, "gguf-py vs crate's ggml rule", raw, ggml_ref)
            ok &= same_bits(name, "gguf-py vs crate dequantize (-0 as +0)", raw, crate + np.float32(0))
            negz = int(np.sum(crate.view(np.uint32) == 0x80000000))
            print(f"{'ok' if ok else 'FAIL'}  MXFP4 {name} {shape}: bit-identical ({negz} crate -0 read as +0)")
        else:
            scale_name = name.removesuffix(".weight") + ".scale"
            s = tensors.get(scale_name)
            if s is None or s.tensor_type != T.F32 or s.data.size != 1:
                fail(f"{name}: no F32 [1] {scale_name}")
                continue
            w = np.float32(s.data[0])
            ok = same_bits(name, "gguf-py vs crate without scale", raw, np.load(out / f"{name}.noscale.npy"))
            ok &= same_bits(name, "gguf-py * scale vs crate's ggml rule", raw * w, ggml_ref)
            d = ulps(raw * w, crate)
            both_zero = (raw * w == 0) & (crate == 0)
            d = np.where(both_zero, 0, d)
            n, worst = int(np.sum(d > 0)), int(d.max())
            te = ".te." in name or "_te." in name
            if not te and worst > 1:
                fail(f"{name}: crate dequantize is {worst} ulps from ggml's")
                ok = False
            print(f"{'ok' if ok else 'FAIL'}  NVFP4 {name} {shape} w={float(w)!r}: bit-identical to gguf-py; "
                  f"crate's own order differs in {n} of {d.size} values (max {worst} ulp)")
    if checked[T.MXFP4] < 4 or checked[T.NVFP4] < 5:
        fail(f"too few tensors checked: {checked}")
    bin_path = os.environ.get("BLOCKSCALE_BIN")
    if not bin_path:
        subprocess.run(["cargo", "build", "--quiet", "--release", "--all-features", "--bin", "blockscale"],
                       cwd=ROOT, check=True)
        bin_path = str(ROOT / "target" / "release" / "blockscale")
    via_cli = cli_round_trip(bin_path, pathlib.Path(tempfile.mkdtemp(prefix="gguf-cli-", dir=ROOT / "target")))
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print(f"all {sum(checked.values())} tensors, and {via_cli} through the command line, match gguf {gguf.__version__ if hasattr(gguf, '__version__') else '0.19.0'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
