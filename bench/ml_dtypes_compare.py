#!/usr/bin/env python3
"""Element-cast throughput: blockscale's slice casts against ml_dtypes' astype.

Run from the repository root with numpy and ml_dtypes installed, e.g.:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install ml_dtypes numpy
    /tmp/venv/bin/python bench/ml_dtypes_compare.py

It times ml_dtypes' `astype` (one thread, as numpy casts run) on 16 Mi f32
values, runs

    cargo run --release -p blockscale-bench --example quant_bench -- --casts

(the same casts through `blockscale::element::slice::{encode, decode}` on one
thread, on 16 Mi heavy-tailed f32 values), and prints the machine line that
quant_bench prints (CPU model and SIMD level), its one-thread f32 copy of the
same size, both rates, their ratio and blockscale's rate over the copy's.
Each figure is the best of three runs.
"""
import re
import subprocess
import sys
import time

import ml_dtypes
import numpy as np

N = 1 << 24
CASTS = [
    ("E4M3", ml_dtypes.float8_e4m3fn),
    ("E5M2", ml_dtypes.float8_e5m2),
    ("E2M1", ml_dtypes.float4_e2m1fn),
]


def best(f, reps=3):
    t = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        t = min(t, time.perf_counter() - t0)
    return t


def main():
    rng = np.random.default_rng(1)
    x = np.tan(np.pi * (rng.random(N, dtype=np.float32) - 0.45)).astype(np.float32)
    ours = {}
    out = subprocess.run(
        ["cargo", "run", "--release", "--quiet", "-p", "blockscale-bench", "--example", "quant_bench", "--", "--casts"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in out.splitlines():
        if line.startswith("CPU:") or line.startswith("copy "):
            print(line)
        m = re.match(r"cast (\S+) -> (\S+): ([0-9.]+) Gelem/s, ([0-9]+%) of copy", line)
        if m:
            ours[(m.group(1), m.group(2))] = (float(m.group(3)), m.group(4))
    print(f"ml_dtypes {ml_dtypes.__version__}, numpy {np.__version__}, {N >> 20} Mi elements, one thread")
    print()
    print("| cast | ml_dtypes astype Gelem/s | blockscale Gelem/s | speed-up | blockscale of copy |")
    print("|---|---|---|---|---|")
    worst = float("inf")
    for name, dt in CASTS:
        q = x.astype(dt)
        for key, f in [(("f32", name), lambda: x.astype(dt)), ((name, "f32"), lambda: q.astype(np.float32))]:
            theirs = N / best(f) / 1e9
            mine, of_copy = ours[key]
            worst = min(worst, mine / theirs)
            print(f"| {key[0]} -> {key[1]} | {theirs:.3f} | {mine:.3f} | {mine / theirs:.0f}x | {of_copy} |")
    print()
    print(f"smallest speed-up: {worst:.0f}x (target 20x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
