#!/usr/bin/env python3
"""The README's layout contract, checked: runs the exact numpy lines from
README.md ("# numpy: ..." blocks) on files the `blockscale` command line
writes, and compares them bit for bit with the crate's own dequantization
(`blockscale dequantize --dtype f32`).

Run from the repository root: `python3 tests/layout_numpy.py`. It builds the
binary (`cargo build --release --all-features`; or set BLOCKSCALE_BIN to one
already built), creates a throwaway virtual
environment with numpy and ml_dtypes, writes a small seeded F32 checkpoint,
converts it to NVFP4 (Model-Optimizer), MXFP4 (gpt-oss, with expert
stacks), FP8 128x128 (DeepSeek) and MXFP8 (blockscale layout), and checks
every quantized weight.
"""

import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import pyenv

ROOT = pathlib.Path(__file__).resolve().parent.parent
PINS = ["numpy>=1.26", "ml_dtypes==0.6.0"]


pyenv.rerun_in_throwaway_venv(__file__, PINS, "BLOCKSCALE_LAYOUT_VENV", "blockscale-layout-")

import numpy as np  # noqa: E402

SNIPPETS = {
    m.group(1): m.group(0).split("\n", 1)[1]
    for m in re.finditer(r"# numpy: ([\w-]+)\n.*?(?=```)", (ROOT / "README.md").read_text(), re.S)
}


def write_safetensors(path, tensors):
    """A minimal F32 safetensors writer (the input checkpoint)."""
    header, offset, blobs = {}, 0, []
    for name, a in tensors.items():
        data = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(len(h).to_bytes(8, "little") + h + b"".join(blobs))


def main():
    # CI passes the binary its build step made (BLOCKSCALE_BIN), so that the
    # crate is not compiled once more for this script alone.
    exe = os.environ.get("BLOCKSCALE_BIN")
    if not exe:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--all-features", "--bin", "blockscale"],
                       cwd=ROOT, check=True)
        exe = ROOT / "target" / "release" / "blockscale"
    ns = {}
    exec(SNIPPETS["load"], ns)
    load = ns["load"]
    rng = np.random.default_rng(2026)
    work = pathlib.Path(tempfile.mkdtemp(prefix="blockscale-layout-files-"))
    model = work / "model"
    model.mkdir()
    weights = {}
    for layer in range(2):
        for proj, shape in [("self_attn.q_proj", (64, 128)), ("mlp.up_proj", (96, 128))]:
            x = rng.standard_normal(shape) * np.exp(rng.standard_normal(shape[1]) * 0.75)
            x[rng.random(shape) < 0.002] *= 40
            weights[f"model.layers.{layer}.{proj}.weight"] = x.astype(np.float32)
    weights["model.embed_tokens.weight"] = rng.standard_normal((50, 128)).astype(np.float32)
    write_safetensors(model / "model.safetensors", weights)
    # gpt-oss: expert stacks [E, in, out], stored transposed.
    gptoss = work / "gptoss"
    gptoss.mkdir()
    experts = {
        "model.layers.0.mlp.experts.gate_up_proj": (rng.standard_normal((4, 128, 96)) * 0.1).astype(np.float32),
        "model.layers.0.mlp.experts.down_proj": (rng.standard_normal((4, 64, 128)) * 0.1).astype(np.float32),
    }
    write_safetensors(gptoss / "model.safetensors", experts)
    (gptoss / "config.json").write_text('{"model_type": "gpt_oss"}')
    checked, used = 0, set()
    for target, snippet, src, names, extra in [
        ("nvfp4", "nvfp4-modelopt", model, weights, []),
        ("mxfp4", "mxfp4-gptoss", model, weights, []),
        ("mxfp4", "mxfp4-gptoss", gptoss, experts, []),
        ("mxfp8", "mxfp8-blockscale", model, weights, []),
        ("fp8-block,2d", "fp8-deepseek", model, weights, ["--layout", "deepseek"]),
        ("nvfp4", "nvfp4-compressed", model, weights, ["--layout", "compressed-tensors"]),
        ("mxfp8", "mxfp8-compressed", model, weights, ["--layout", "compressed-tensors"]),
        ("fp8", "fp8-compressed", model, weights, ["--layout", "compressed-tensors"]),
        ("fp8-channel", "fp8-compressed", model, weights, ["--layout", "compressed-tensors"]),
        ("fp8-block,2d", "fp8-block-compressed", model, weights, ["--layout", "compressed-tensors"]),
    ]:
        used.add(snippet)
        out, deq = work / f"{target}-{snippet}-{src.name}", work / f"{target}-{snippet}-{src.name}-f32"
        subprocess.run([exe, "convert", src, "--to", target, "-o", out, *extra], check=True, capture_output=True)
        subprocess.run([exe, "dequantize", out, "-o", deq, "--dtype", "f32"], check=True)
        t = load(out / "model.safetensors")
        want = load(deq / "model.safetensors")
        for w in names:
            if "embed" in w:
                continue
            env = dict(ns, t=t, w=w)
            exec(SNIPPETS[snippet], env)
            got, ref = env["x"], want[w]
            assert got.dtype == np.float32 and got.shape == ref.shape, (target, w, got.dtype, got.shape, ref.shape)
            if not np.array_equal(got.view(np.uint32), ref.view(np.uint32)):
                bad = np.flatnonzero(got.view(np.uint32) != ref.view(np.uint32))
                sys.exit(f"{target} {w}: {bad.size} elements differ, first at {bad[0]}: {got.flat[bad[0]]} vs {ref.flat[bad[0]]}")
            checked += 1
    # A test-vector bundle: the README's numpy lines redo its GEMM.
    bundle = work / "nvfp4-bundle"
    subprocess.run([exe, "vectors", "--a", "nvfp4", "-m", "40", "-n", "32", "-k", "256", "--seed", "7",
                    "--d-format", "nvfp4,profile=cutlass", "-o", bundle], check=True, capture_output=True)
    env = dict(ns)
    exec(SNIPPETS["vectors"].replace('"nvfp4-bundle/', f'"{bundle}/'), env)
    got, want = env["c"], env["t"]["c"]
    assert got.dtype == np.float32 and got.shape == want.shape == (40, 32), (got.dtype, got.shape)
    if not np.array_equal(got.view(np.uint32), want.view(np.uint32)):
        sys.exit(f"vectors: {np.count_nonzero(got.view(np.uint32) != want.view(np.uint32))} outputs differ")
    # Its block-scaled output, from c by the README's lines.
    exec(SNIPPETS["vectors-d"], env)
    t = env["t"]
    if not np.array_equal(env["d"], t["d.data"]):
        sys.exit(f"vectors-d: {np.count_nonzero(env['d'] != t['d.data'])} data bytes differ")
    if not np.array_equal(env["sf"].view(np.uint8).reshape(-1), t["d.scales"].view(np.uint8)):
        sys.exit("vectors-d: the block scales differ")
    print(f"layout contract: {checked} weights in {len(used)} layouts match the crate bit for bit; "
          "the README's numpy GEMM equals the bundle's c, and its epilogue the bundle's d")


main()
