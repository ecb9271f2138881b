#!/usr/bin/env python3
"""Speed of the Python package, in one run: `blockscale.cast` against
ml_dtypes' `astype`, and `blockscale.quantize` (NVFP4, MXFP8) against JAX's
quantizer (`jax._src.cudnn.scaled_matmul_stablehlo.quantize` under
`jax.jit`, the producer tests/producers/gen_corners.py checks the crate
against), all called from Python on the same arrays.

    python3 python/bench.py

makes a throwaway virtual environment, installs the package from this
checkout (`pip install ./python`, a release build) with numpy, ml_dtypes
0.6.0 and jax 0.10.2, and prints the CPU model, the SIMD level the crate
chose, and a table of rates with each ratio to its baseline (best of five
runs each; JAX's compilation is done before timing, and its results are
waited for with `block_until_ready`; both NVFP4 quantizers get the tensor
amax computed beforehand).
"""

import os
import pathlib
import platform
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import pyenv  # noqa: E402

PINS = ["numpy>=1.26", "ml_dtypes==0.6.0", "jax==0.10.2", "jaxlib==0.10.2", str(ROOT / "python")]
pyenv.rerun_in_throwaway_venv(__file__, PINS, "BLOCKSCALE_BENCH_VENV", "blockscale-bench-")

# The installed package, not its sources beside this script.
sys.path = [p for p in sys.path if pathlib.Path(p or ".").resolve() != pathlib.Path(__file__).resolve().parent]

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import ml_dtypes  # noqa: E402
import numpy as np  # noqa: E402
from jax._src.cudnn.scaled_matmul_stablehlo import quantize as jax_quantize  # noqa: E402

import blockscale  # noqa: E402

N = 1 << 22


def best(f, reps=5):
    t = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        t = min(t, time.perf_counter() - t0)
    return t


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(N) * np.exp(rng.standard_normal(N))).astype(np.float32)
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical cores; SIMD level: {blockscale.simd_level()}")
    print(f"blockscale {blockscale.__version__}, ml_dtypes {ml_dtypes.__version__}, jax {jax.__version__}, "
          f"numpy {np.__version__}; {N >> 20} Mi f32 elements per call")
    print()
    print("| operation | baseline | baseline Melem/s | blockscale Melem/s | ratio |")
    print("|---|---|---|---|---|")

    def row(name, base_name, base, ours):
        tb, to = best(base), best(ours)
        print(f"| {name} | {base_name} | {N / tb / 1e6:.0f} | {N / to / 1e6:.0f} | {tb / to:.1f}x |")

    for kind, dt in [("e4m3", ml_dtypes.float8_e4m3fn), ("e5m2", ml_dtypes.float8_e5m2),
                     ("e2m1", ml_dtypes.float4_e2m1fn)]:
        assert (blockscale.cast(x, kind).view(np.uint8) == x.astype(dt).view(np.uint8)).all()
        row(f"cast f32 -> {kind}", "ml_dtypes astype", lambda dt=dt: x.astype(dt),
            lambda kind=kind: blockscale.cast(x, kind))

    m = x.reshape(-1, 4096)
    xj = jnp.asarray(m)
    amax = jnp.max(jnp.abs(xj)).astype(jnp.float32)
    gs = jnp.asarray(amax / (6.0 * 448.0), jnp.float32).reshape(1)
    for name, fmt, cfg in [
        ("quantize NVFP4", "nvfp4", jax.nn.get_scaled_dot_general_config("nvfp4", gs)),
        ("quantize MXFP8", "mxfp8", jax.nn.get_scaled_dot_general_config("mxfp8")),
    ]:
        fn = jax.jit(lambda v, cfg=cfg: jax_quantize(v, cfg))
        jax.block_until_ready(fn(xj))
        row(name, "JAX jit", lambda fn=fn: jax.block_until_ready(fn(xj)),
            lambda fmt=fmt: blockscale.quantize(m, fmt, global_amax=float(amax) if fmt == "nvfp4" else None))


if __name__ == "__main__":
    main()
