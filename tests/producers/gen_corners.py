#!/usr/bin/env python3
"""Golden files from the real producer libraries, on CPU, over a fixed corpus
of corner-case tensors: tests/golden/producers/<producer>.json.

Each producer's own quantize function is called (nothing of theirs is
re-implemented here); this script only builds the inputs, converts each
producer's packing to the crate's, and writes the bytes:

  producer           what is called                                     configs
  modelopt           NVFP4QTensor.quantize (dynamic path),             nvfp4, mx-e2m1-rceil,
                     MXFP4QTensor.quantize, MXFP8QTensor.quantize;     mx-e4m3-rceil,
                     FP8: mtq.quantize(FP8_DEFAULT_CFG) then the HF    fp8-e4m3-tensor
                     export's get_weight_scaling_factor and
                     to_quantized_weight
  modelopt-legacy    NVFP4QTensor.quantize of the last release          nvfp4
                     before the 2^-9 clamp (0.44.0)
  torchao            NVFP4Tensor.to_nvfp4 with per_tensor_amax_to_scale nvfp4, mx-<elem>-<mode>
                     (torch.max(torch.abs(x))); mx_tensor.to_mx;        for 5 elements x 4 modes,
                     torchao.float8 hp_tensor_to_float8_dynamic;        fp8-e4m3-tensor,
                     Float8Tensor.from_hp(PerBlock([1, 128]))           fp8-e4m3-block128
  jax                scaled_matmul_stablehlo.quantize under jax.jit,    nvfp4, mx-e4m3-rceil
                     with jax.nn.get_scaled_dot_general_config
  compressed-tensors initialize_module_for_quantization on an           nvfp4, mx-e2m1-even,
                     nn.Linear, calculate_qparams (+ generate_gparam)   mx-e2m3-even, mx-e4m3-even,
                     on min-max ranges, compress_module                 fp8-e4m3-tensor (FP8),
                                                                        fp8-e4m3-block128 (FP8_BLOCK
                                                                        with [1, 128]; see the notes)
  ggml               gguf.quants.quantize(x, MXFP4) (gguf-py)           mx-e2m1-floor

Packing written (the crate's): FP4 two codes a byte, element 2i in the low
nibble; FP6 and FP8 one code a byte (FP6 in the low 6 bits); scales row-major
[rows, cols/block], one E4M3 byte per 16 elements (NVFP4) or one E8M0 byte per
32 (MX), never swizzled; for fp8-e4m3-*, the f32 LE bytes of each scale as the
dequantization factor (value = E4M3 element * factor): one for the tensor, or
one per 1x128 block.

Environments (made on the first run, reused later):
  target/venv-transformers  torch, transformers and compressed-tensors with the
                            pins of tests/transformers_gptoss.py and
                            tests/compressed_tensors_check.py (shared with them);
  target/venv-producers     a venv that sees venv-transformers' site-packages
                            through a .pth file (no second torch) and adds
                            PRODUCER_PINS with --no-deps;
  target/modelopt-legacy    nvidia-modelopt==LEGACY_MODELOPT (pip --target),
                            put first on PYTHONPATH for the modelopt-legacy run.

Usage: python3 tests/producers/gen_corners.py [--out DIR] [--only PRODUCER ...]
Each producer runs in its own process (two ModelOpt versions cannot share one).
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time
import venv
import warnings

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
# tests/ on the path for this import only, so the producers' own imports are unchanged.
sys.path.insert(0, str(ROOT / "tests"))
import pyenv  # noqa: E402
sys.path.remove(str(ROOT / "tests"))
TF_VENV = ROOT / "target" / "venv-transformers"
VENV = ROOT / "target" / "venv-producers"
LEGACY_DIR = ROOT / "target" / "modelopt-legacy"
OUT = ROOT / "tests" / "golden" / "producers"
GENERATED_BY = "python3 tests/producers/gen_corners.py"

# Installed with --no-deps into target/venv-producers; torch, numpy,
# compressed-tensors and the small packages they need come from
# target/venv-transformers. The last six are what `import modelopt.torch`
# needs at import time.
PRODUCER_PINS = [
    "torchao==0.18.0",
    "nvidia-modelopt==0.47.0",
    "jax==0.10.2",
    "jaxlib==0.10.2",
    "ml_dtypes==0.6.0",
    "opt_einsum==3.4.0",
    "scipy==1.17.1",
    "gguf==0.19.0",
    "requests==2.34.2",
    "urllib3==2.8.0",
    "certifi==2026.10.19.post1",
    "charset-normalizer==3.5.3",
    "omegaconf==2.4.0",
    "PuLP==3.3.2",
]
# The last release whose NVFP4QTensor.get_weights_scaling_factor casts the
# per-block scale to E4M3 without the [2^-9, 448] clamp (0.45.0 added it).
LEGACY_MODELOPT = "nvidia-modelopt==0.44.0"

PRODUCERS = ["modelopt", "modelopt-legacy", "torchao", "jax", "compressed-tensors", "ggml"]
STAMP = "blockscale-producer-pins.txt"


# ----------------------------------------------------------------- environment

def ensure_base_venv():
    """target/venv-transformers with the pins of tests/transformers_gptoss.py
    and compressed_tensors_check.py, installed and stamped as those scripts do
    (so that any of the three can make it and the others reuse it)."""
    base = pyenv.module_constants(ROOT / "tests" / "transformers_gptoss.py", ["TORCH_PIN", "PINS", "TORCH_CPU_INDEX"])
    ct = pyenv.module_constants(ROOT / "tests" / "compressed_tensors_check.py", ["CT_PIN", "STAMP"])
    pyenv.ensure_stamped_venv(TF_VENV, ct["STAMP"], base["TORCH_PIN"], base["TORCH_CPU_INDEX"], base["PINS"],
                              [ct["CT_PIN"]], timed=False)


def ensure_venv():
    """Re-run this script inside target/venv-producers, making it first."""
    if os.environ.get("BLOCKSCALE_PRODUCERS_VENV"):
        return
    t0 = time.time()
    ensure_base_venv()
    py = str(VENV / "bin" / "python")
    want = "\n".join([*PRODUCER_PINS, "legacy: " + LEGACY_MODELOPT]) + "\n"
    stamp = VENV / STAMP
    if not pyenv.is_stamped(stamp, want, py):
        print(f"making {VENV} (first run only)", flush=True)
        if not os.path.exists(py):
            venv.create(VENV, with_pip=True)
        site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
        tf_site = subprocess.run([str(TF_VENV / "bin" / "python"), "-c",
                                  "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        # torch, numpy, compressed-tensors, ... from venv-transformers, not a second copy.
        pathlib.Path(site, "_blockscale_venv_transformers.pth").write_text(tf_site + "\n")
        if not pyenv.pip(py, "--no-deps", *PRODUCER_PINS):
            sys.exit(f"FAIL: could not install {' '.join(PRODUCER_PINS)}")
        if not pyenv.pip(py, "--no-deps", "--upgrade", "--target", str(LEGACY_DIR), LEGACY_MODELOPT):
            sys.exit(f"FAIL: could not install {LEGACY_MODELOPT} into {LEGACY_DIR}")
        stamp.write_text(want)
        print(f"environment ready in {time.time() - t0:.0f} s", flush=True)
    pyenv.rerun_in(py, __file__, "BLOCKSCALE_PRODUCERS_VENV", str(VENV))


# ------------------------------------------------------------------------ corpus
#
# Every case is a 2-D float32 array whose column count is a multiple of 32.
# `kinds` says which configs it is for: "all" (the NVFP4 and MX configs),
# "nvfp4", "mx:<elem>" (the MX configs of that element), or "fp8" (the FP8
# configs only: their own cases, with a multiple of 128 columns). Cases named
# nan_* / inf_* hold NaN / Inf and are run only for the producers that handle
# them without an error or an undefined float-to-integer cast.

ELEMS = {
    # name: (ml_dtypes name, max, emax = floor(log2(max)))
    "e2m1": ("float4_e2m1fn", 6.0, 2),
    "e2m3": ("float6_e2m3fn", 7.5, 2),
    "e3m2": ("float6_e3m2fn", 28.0, 4),
    "e4m3": ("float8_e4m3fn", 448.0, 8),
    "e5m2": ("float8_e5m2", 57344.0, 15),
}
MODES = ["floor", "ceil", "even", "rceil"]


def build_corpus():
    import ml_dtypes
    import numpy as np

    f32 = np.float32
    cases = []

    def add(name, arr, kinds="all"):
        a = np.ascontiguousarray(np.asarray(arr, dtype=f32))
        assert a.ndim == 2 and a.shape[1] % 32 == 0, (name, a.shape)
        cases.append((name, a, kinds))

    def fill(values, n, pad=0.0):
        v = list(values)
        assert len(v) <= n, (len(v), n)
        return v + [pad] * (n - len(v))

    # A fixed pattern of fractions of a block's amax (all exactly representable).
    frac = [1.0, -0.5, 0.25, -0.75, 0.125, 0.3, -0.9, 0.6, -0.05, 0.45, -0.33, 0.8, 0.01, -0.2, 0.7, -1.0]

    def block(amax, n):
        """n values: amax first, then fractions of it (f32 products)."""
        return [f32(amax) * f32(frac[i % len(frac)]) for i in range(n)]

    # 1. all zeros
    add("zeros", np.zeros((2, 64)))

    # 2. a zero block next to a normal block (row 0: 32 zeros then 32 values,
    #    so both the NVFP4 and the MX blocks 0 are zero; row 1: 16 zeros then
    #    48 values, a zero NVFP4 block inside a nonzero MX block)
    r0 = [0.0] * 32 + block(3.0, 32)
    r1 = [0.0] * 16 + block(-5.5, 48)
    add("zero_block_next_to_normal", [r0, r1])

    # 3. NVFP4 block scales that underflow E4M3: the tensor amax is
    #    36.97*2688, so the scale of a block with amax 0.2 is
    #    0.2/6/36.97 = 9.0e-4 < 2^-10 (rounds to 0 in E4M3), 0.25 gives
    #    1.13e-3 (rounds up to 2^-9); then smaller blocks and a zero block.
    big = f32(36.97) * f32(2688)
    u0 = block(big, 16) + block(0.2, 16) + block(-0.25, 16) + block(0.1, 16)
    u1 = block(1e-3, 16) + block(2.5e-2, 16) + [0.0] * 16 + block(-0.19, 16)
    add("nvfp4_scale_underflow", [u0, u1])

    # 4. MX blocks whose scale underflows: amax below max*2^-127 (the E4M3
    #    example -1.4456583e-37), an f32-subnormal block (7.26584e-40), a block
    #    at 2^-126 (the smallest normal), and a normal block.
    tiny = block(-1.4456583e-37, 32) + block(7.26584e-40, 32) + block(2.0**-126, 32) + block(1.0, 32)
    add("mx_tiny_blocks", [tiny])
    # The same without the normal block, so that the NVFP4 tensor amax is tiny too.
    add("tiny_tensor", [block(-1.4456583e-37, 32) + block(7.26584e-40, 32)])

    # 5. f32 subnormals everywhere: powers of two 2^-149..2^-127, the largest
    #    subnormal, and seeded random mantissas, both signs.
    rng = np.random.default_rng(20261201)
    pw = [f32(2.0**-e) for e in range(127, 150)]
    bits = rng.integers(1, 1 << 23, size=128 - len(pw) - 1).astype(np.uint32)
    sub = np.concatenate([np.array(pw, dtype=f32), np.array([0x007FFFFF], np.uint32).view(f32), bits.view(f32)])
    signs = np.where(rng.random(sub.size) < 0.5, -1.0, 1.0).astype(f32)
    add("f32_subnormals", (sub * signs).reshape(2, 64))

    # 6. negative zeros: an all -0 block, -0 beside positives, negatives that
    #    round to zero next to a large amax, and a block of +0 and -0.
    n0 = [-0.0] * 32 + [-0.0, 1.0] * 16
    n1 = [8.0] + [-1e-3, -0.0, -0.2, 0.0] * 7 + [-1e-3, -0.0, -0.2] + [-0.0, 0.0] * 16
    add("negative_zeros", [n0, n1])

    # 7. powers of two, both signs, several magnitudes per block.
    p = [((-1) ** i) * 2.0 ** (((i * 7) % 41) - 20) for i in range(128)]
    add("powers_of_two", np.array(p).reshape(2, 64))

    # 8. blocks whose amax is exactly a power of two (other values fractions of it).
    pow2 = []
    for k in [-20, -6, -1, 0, 1, 2, 8, 15]:
        pow2 += block(2.0**k, 16)
    add("amax_pow2", np.array(pow2).reshape(2, 64))

    # 9. blocks whose amax is one ulp above / below a power of two: log2 of
    #    them rounds to the integer in f32 for large |k| (FLOOR/CEIL/RCEIL via
    #    log2 can disagree with the exponent bits).
    near = []
    for k in [-20, -3, 0, 8, 20, 60, 100, -100]:
        up = np.nextafter(f32(2.0**k), f32(np.inf))
        dn = np.nextafter(f32(2.0**k), f32(0))
        near += block(up, 32) + block(dn, 32)
    add("amax_near_pow2", np.array(near).reshape(8, 64))
    # ... and amax one ulp around max*2^k for each element type (RCEIL's
    # amax/max near a power of two), NVFP4's 6*448 included.
    near_max = []
    for m in [6.0, 7.5, 28.0, 448.0, 57344.0, 2688.0]:
        for k in [-10, 0, 12]:
            t = f32(m) * f32(2.0**k)
            near_max += block(np.nextafter(t, f32(np.inf)), 32) + block(np.nextafter(t, f32(0)), 32)
    add("amax_near_max_pow2", np.array(near_max).reshape(18, 64))

    # 10. values near the top of f32
    fmax = np.finfo(f32).max
    huge = block(fmax, 32) + block(-(2.0**127), 32) + block(1.7e38, 32) + block(3.0e38, 32)
    add("huge_values", [huge])

    # 11. seeded random normals, with a range of magnitudes
    x0 = np.random.default_rng(0).standard_normal((4, 128)).astype(f32)
    add("random_normal_0", x0)
    g = np.random.default_rng(1)
    x1 = g.standard_normal((8, 64)).astype(f32)
    mags = (2.0 ** g.integers(-24, 25, size=(8, 4))).astype(f32)
    add("random_normal_1", (x1.reshape(8, 4, 16) * mags[:, :, None]).reshape(8, 64))

    # 12. NVFP4 ties: tensor amax 2688 (global scale exactly 1), blocks with
    #     E4M3 scales s (amax 6s) holding the 7 midpoints between E2M1 values
    #     times s, both signs: -0.25*0.4375 = -0.109375 among them.
    mids_e2m1 = [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0]
    scales = [448.0, 1.0, 0.4375, 3 * 2.0**-9, 3.75, 2.0**-6, 240.0, 2.0**-9]
    rows = []
    for s in scales:
        rows += [f32(6.0 * s)] + [f32(m * s) for m in mids_e2m1] + [f32(-m * s) for m in mids_e2m1] + [f32(0.5 * s)]
    add("nvfp4_ties", np.array(rows).reshape(2, 64), "nvfp4")
    # the same times 2^-4 (global scale 2^-4, still exact)
    add("nvfp4_ties_pow2_global", (np.array(rows) * f32(2.0**-4)).astype(f32).reshape(2, 64), "nvfp4")

    # 13. NVFP4 at and above the element max times the scale (global scale 1):
    #     6s exactly; 6*1.0625 (scale 1.0625 is an E4M3 tie, rounds to 1, the
    #     elements then exceed 6); 6*1.03125; 6*(1+2^-23); 6*1.0625*1.0625.
    top = [f32(2688.0)] + [f32(6.0)] * 15
    for a in [6.0 * 1.0625, 6.0 * 1.03125, float(np.nextafter(f32(6.0), f32(7))), 6.0 * 1.0625 * 1.0625]:
        a = f32(a)
        top += [a, -a, f32(6.0), -f32(6.0), f32(a * f32(0.96))] + [f32(a * f32(fr)) for fr in frac[:11]]
    top += [f32(5.0)] * 16 + [f32(-6.0)] * 16 + [f32(2.999)] * 16
    add("nvfp4_at_above_max", np.array(top).reshape(2, 64), "nvfp4")

    # 14. MX, per element type: ties (every midpoint between neighbouring
    #     positive values, both signs, in blocks whose amax is 2^emax, or max
    #     for the midpoints above 2^emax, so that FLOOR, EVEN and RCEIL agree on
    #     the scale), at three block scales 2^k.
    for el, (mld, mx, emax) in ELEMS.items():
        dt = getattr(ml_dtypes, mld)
        nbits = 4 if el == "e2m1" else 6 if el.startswith(("e2m3", "e3m2")) else 8
        codes = np.arange(1 << nbits, dtype=np.uint8)
        vals = codes.view(dt).astype(np.float64)
        vals = np.unique(vals[np.isfinite(vals) & (vals >= 0)])
        mids = (vals[:-1] + vals[1:]) / 2
        low, high = mids[mids < 2.0**emax], mids[mids > 2.0**emax]
        blocks = []
        for k in [0, -4, 10]:
            sc = 2.0**k
            for amax, ms in [(2.0**emax, low), (mx, high)]:
                tv = [v * sc for m in ms for v in (m, -m)]
                for i in range(0, len(tv), 31):
                    blocks.append(fill([amax * sc] + tv[i:i + 31], 32, pad=0.5 * sc))
        arr = np.array(blocks)
        if arr.shape[0] % 2:
            arr = np.vstack([arr, np.full((1, 32), 0.5)])
        add(f"ties_{el}", arr.reshape(-1, 64), f"mx:{el}")

        # at and just above max*2^k: blocks with amax max*2^k, one ulp above,
        # the tie above max (max + half the top gap), and max*1.01.
        gap = vals[-1] - vals[-2]
        amaxes = [mx, float(np.nextafter(f32(mx), f32(np.inf))), mx + gap / 2, mx * 1.01]
        top = []
        for k in [0, -5]:
            for a in amaxes:
                a = a * 2.0**k
                top += fill([a, -a, mx * 2.0**k, -(mx * 2.0**k), (mx - gap / 2) * 2.0**k,
                             (vals[-2]) * 2.0**k] + [a * fr for fr in frac[1:]], 32)
        add(f"at_above_max_{el}", np.array(top).reshape(-1, 64), f"mx:{el}")

    # 15. non-finite inputs (only for the producers in SPECIALS_OK)
    nanr = block(2.0, 64)
    nanr[3] = np.nan
    nanr[40] = -np.nan
    add("nan_in_block", [nanr, block(1.5, 64)])
    infr = block(2.0, 64)
    infr[5] = np.inf
    add("inf_in_block", [infr, block(1.5, 64)])
    ninfr = block(2.0, 64)
    ninfr[5] = -np.inf
    add("inf_negative_in_block", [ninfr, block(1.5, 64)])

    # 16. FP8 (E4M3 with an FP32 scale per tensor or per 1x128 block): cases of
    #     their own (kinds "fp8"), 128 columns a block, one block a row unless
    #     said otherwise; the names follow the cases above. Appended last and
    #     drawn from their own generators, so the cases above are unchanged.
    def add8(name, arr):
        a = np.ascontiguousarray(np.asarray(arr, dtype=f32))
        assert a.ndim == 2 and a.shape[1] % 128 == 0, (name, a.shape)
        cases.append((name, a, "fp8"))

    add8("zeros", np.zeros((2, 128)))
    # row 0: a zero block then a normal one; row 1: normal then zero
    add8("zero_block_next_to_normal", [[0.0] * 128 + block(3.0, 128), block(-5.5, 128) + [0.0] * 128])
    # tensor amax -1.4456583e-37 (amax/448 is an f32 subnormal; below torchao's
    # EPS 1e-12), and an f32-subnormal block (7.26584e-40)
    add8("tiny_tensor", [block(-1.4456583e-37, 128) + block(7.26584e-40, 128)])
    # a tensor whose amax is an f32 subnormal (ModelOpt's export clamps it to 2^-126)
    add8("subnormal_tensor", [block(7.26584e-40, 128)])
    # the 128 values of f32_subnormals above in one block (amax 2^-127 + ...)
    sub_case = next(a for n, a, _ in cases if n == "f32_subnormals")
    add8("f32_subnormals", sub_case.reshape(1, 128))
    # an all -0 block; -0 beside 1.0; beside an amax of 8: -0, +0, -1e-6
    # (|x|/scale = 5.6e-5 < 2^-10: rounds to zero) and -0.2.
    add8("negative_zeros", [[-0.0] * 128, [-0.0, 1.0] * 64,
                            [8.0] + [-1e-6, -0.0, -0.2, 0.0] * 31 + [-1e-6, -0.0, -0.2]])
    # powers of two 2^-20..2^20, both signs (tensor amax 2^20: most of them
    # land among E4M3's subnormals or round to zero)
    add8("powers_of_two", np.array([((-1) ** i) * 2.0 ** (((i * 7) % 41) - 20) for i in range(256)]).reshape(2, 128))
    # E4M3 ties: every midpoint between neighbouring finite E4M3 values (both
    # signs, 2 * 126 of them) times 2^k, in two blocks whose amax is 448 * 2^k,
    # so that amax/448 (ModelOpt, compressed-tensors, torchao Float8Tensor) and
    # 448/amax (torchao float8) are the exact power 2^k / 2^-k.
    e4 = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).astype(np.float64)
    e4 = np.unique(e4[np.isfinite(e4) & (e4 >= 0)])
    mids8 = [v for m in (e4[:-1] + e4[1:]) / 2 for v in (m, -m)]
    assert len(mids8) == 252
    for k, nm in [(0, "ties_e4m3"), (-10, "ties_e4m3_pow2")]:
        sc = 2.0**k
        r0 = [448.0 * sc] + [m * sc for m in mids8[:127]]
        r1 = fill([448.0 * sc] + [m * sc for m in mids8[127:]], 128, pad=0.5 * sc)
        add8(nm, [r0, r1])
    # block amaxes one ulp either side of 2^k and of 448 * 2^k
    near8 = []
    for t in [1.0, 448.0, 448.0 * 2.0**-20]:
        near8 += [block(np.nextafter(f32(t), f32(np.inf)), 128), block(np.nextafter(f32(t), f32(0)), 128)]
    add8("amax_near_pow2", near8)
    # operation order: with s = f32(A/448) inexact, values x next to an E4M3
    # midpoint times s (within 2 ulps, both signs) where x / s, x * f32(1/s) and
    # x * f32(448/A) do not all round to the same E4M3 value (in-range RNE via
    # ml_dtypes); A = 3 separates x / s from the other two, A = 1000 all three.
    def e4m3_rne(v):
        return np.clip(f32(v), -448, 448).astype(ml_dtypes.float8_e4m3fn).view(np.uint8)

    for amax in [3.0, 1000.0]:
        a8 = f32(amax)
        s8 = f32(a8 / f32(448))
        r8, t8 = f32(f32(1) / s8), f32(np.float64(448) / np.float64(a8))
        picked = []
        for m in (e4[:-1] + e4[1:]) / 2:
            x0 = f32(m * np.float64(s8))
            for k in (-2, -1, 0, 1, 2):
                v = x0
                for _ in range(abs(k)):
                    v = np.nextafter(v, f32(np.copysign(np.inf, k)))
                if len({int(e4m3_rne(v / s8)), int(e4m3_rne(v * r8)), int(e4m3_rne(v * t8))}) > 1:
                    picked += [v, -v]
        assert len(picked) >= 40, (amax, len(picked))
        add8(f"op_order_{amax:g}", [fill([a8] + picked[:127], 128, pad=a8 * f32(0.3))])
    # values near the top of f32
    add8("huge_values", [block(fmax, 128), block(-(2.0**127), 128), block(1.7e38, 128), block(3.0e38, 128)])
    # seeded random normals; the second with per-block magnitudes 2^-24..2^24
    add8("random_normal_0", np.random.default_rng(8).standard_normal((2, 256)).astype(f32))
    g8 = np.random.default_rng(9)
    x8 = g8.standard_normal((2, 256)).astype(f32)
    mags8 = (2.0 ** g8.integers(-24, 25, size=(2, 2))).astype(f32)
    add8("random_normal_1", (x8.reshape(2, 2, 128) * mags8[:, :, None]).reshape(2, 256))
    # non-finite inputs: row 0 a block with NaN and -NaN (or +-Inf), row 1 a normal block
    for nm, vals in [("nan_in_block", {3: np.nan, 40: -np.nan}), ("inf_in_block", {5: np.inf}),
                     ("inf_negative_in_block", {5: -np.inf})]:
        r = block(2.0, 128)
        for i, v in vals.items():
            r[i] = v
        add8(nm, [r, block(1.5, 128)])
    return cases


# -------------------------------------------------------------------- helpers

def hexf32(a):
    import numpy as np

    return np.asarray(a, dtype="<f4").tobytes().hex()


def pack_fp4(codes):
    """[rows, cols] codes (0..15) -> the crate's packing: element 2i low nibble."""
    import numpy as np

    c = np.asarray(codes, dtype=np.uint8)
    assert c.max(initial=0) < 16
    return (c[..., 0::2] | (c[..., 1::2] << 4)).astype(np.uint8)


def unpack_fp4(packed):
    import numpy as np

    p = np.asarray(packed, dtype=np.uint8)
    out = np.empty(p.shape[:-1] + (p.shape[-1] * 2,), dtype=np.uint8)
    out[..., 0::2] = p & 0xF
    out[..., 1::2] = p >> 4
    return out


def decode(elem, codes):
    """Element codes (one a byte, unpacked) to float64 values, via ml_dtypes."""
    import ml_dtypes
    import numpy as np

    dt = getattr(ml_dtypes, ELEMS[elem][0])
    return np.asarray(codes, dtype=np.uint8).view(dt).astype(np.float64)


def check_roundtrip(producer, config, case, x, codes, block_scales, gdec):
    """Guard for the packing conversions: on the random cases, the decoded
    values must be close to the input (a swapped nibble or a wrong scale
    order would be far off). block_scales: float64 [rows, nblocks]."""
    import numpy as np

    if not case.startswith("random_normal"):
        return
    elem = "e2m1" if config == "nvfp4" else config.split("-")[1]
    bs = 16 if config == "nvfp4" else 32
    if config.startswith("fp8-"):
        bs = x.shape[1] if config == "fp8-e4m3-tensor" else 128
    v = decode(elem, codes) * np.repeat(block_scales, bs, axis=1) * gdec
    xs = x.astype(np.float64).reshape(x.shape[0], -1, bs)
    amax = np.abs(xs).max(axis=-1, keepdims=True)
    err = np.abs(v.reshape(xs.shape) - xs)
    ok = (amax == 0) | (err <= 0.34 * amax + 1e-30)
    if config == "nvfp4":
        ok |= amax < np.abs(xs).max() / 64  # small blocks: two-level scale underflow is not what this guards
    # blocks whose scale underflowed or overflowed are not what this guards
    ok |= ~np.isfinite(np.repeat(block_scales, 1, axis=1))[..., None]
    if not ok.all():
        i = np.argwhere(~ok)[0]
        raise AssertionError(f"{producer} {config} {case}: decoded values far from the input at {tuple(i)}: "
                             f"{v.reshape(xs.shape)[tuple(i)]} vs {xs[tuple(i)]}")


def e8m0_value(b):
    import numpy as np

    b = np.asarray(b, dtype=np.int64)
    return np.where(b == 255, np.nan, np.exp2((b - 127).astype(np.float64)))


def e4m3_value(b):
    import ml_dtypes
    import numpy as np

    return np.asarray(b, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).astype(np.float64)


def fp8_scales(s, rows, nblocks):
    """FP8 dequantization factors (f32, one per tensor or per block) -> the
    float64 [rows, nblocks] for check_roundtrip and their f32 LE bytes for
    record (row-major, one f32 a scale)."""
    import numpy as np

    f = np.asarray(s, dtype=np.float32).reshape(-1)
    assert f.size in (1, rows * nblocks), (f.size, rows, nblocks)
    grid = np.broadcast_to(f.reshape(-1, 1) if f.size == 1 else f.reshape(rows, nblocks), (rows, nblocks))
    return grid.astype(np.float64), np.ascontiguousarray(f, dtype="<f4").view(np.uint8)


def record(case, config, x, data, scales, global_amax=None, global_scale=None):
    import numpy as np

    return {
        "case": case,
        "config": config,
        "shape": list(x.shape),
        "input": hexf32(x),
        "global_amax": None if global_amax is None else hexf32([global_amax]),
        "global_scale": None if global_scale is None else hexf32([global_scale]),
        "data": np.ascontiguousarray(data, dtype=np.uint8).tobytes().hex(),
        "scales": np.ascontiguousarray(scales, dtype=np.uint8).tobytes().hex(),
    }


def applies(kinds, config):
    if kinds == "fp8" or config.startswith("fp8-"):
        return kinds == "fp8" and config.startswith("fp8-")
    if kinds == "all":
        return True
    if kinds == "nvfp4":
        return config == "nvfp4"
    return config.startswith("mx-") and config.split("-")[1] == kinds.split(":")[1]


def special(case):
    return case.startswith(("nan_", "inf_"))


# ------------------------------------------------------------------ producers
#
# Each returns (version, environment notes, notes, records).

def run_modelopt(cases, legacy):
    import numpy as np
    import torch
    import modelopt
    from modelopt.torch.quantization.qtensor.nvfp4_tensor import NVFP4QTensor
    from modelopt.torch.quantization.utils import reduce_amax

    if legacy:
        assert modelopt.__file__.startswith(str(LEGACY_DIR)), modelopt.__file__
        import modelopt.torch.quantization.qtensor.nvfp4_tensor as mod

        # 0.44's quantize() evaluates fp4_compatible() (a CUDA capability probe,
        # which raises without a driver) before try_tensorrt=False; the branch it
        # guards (TensorRT-LLM's kernel) is never taken here, so answer it.
        mod.fp4_compatible = lambda: False
    recs = []
    for name, x, kinds in cases:
        if not applies(kinds, "nvfp4"):
            continue
        t = torch.from_numpy(x.copy())
        amax = reduce_amax(t).float()  # what get_weights_scaling_factor_2 divides by 2688
        qt, bscale, wsf2 = NVFP4QTensor.quantize(t, 16)
        packed = qt._quantized_data.numpy()  # (q[1::2] << 4) | q[0::2]: already the crate's packing
        sc = bscale.view(torch.uint8).numpy()
        g = wsf2.float().reshape(()).item()
        check_roundtrip("modelopt", "nvfp4", name, x, unpack_fp4(packed), e4m3_value(sc), g)
        recs.append(record(name, "nvfp4", x, packed, sc, amax.item(), g))
    if not legacy:
        from modelopt.torch.quantization.qtensor.mxfp4_tensor import MXFP4QTensor
        from modelopt.torch.quantization.qtensor.mxfp8_tensor import MXFP8QTensor

        for name, x, kinds in cases:
            if special(name):
                continue  # NaN/Inf reach float->uint8 casts of NaN (undefined)
            if applies(kinds, "mx-e2m1-rceil"):
                qt, e = MXFP4QTensor.quantize(torch.from_numpy(x.copy()), 32)
                packed = qt._quantized_data.numpy()  # even element low nibble: the crate's packing
                sc = e.numpy().reshape(x.shape[0], -1)
                check_roundtrip("modelopt", "mx-e2m1-rceil", name, x, unpack_fp4(packed), e8m0_value(sc), 1.0)
                recs.append(record(name, "mx-e2m1-rceil", x, packed, sc))
            if applies(kinds, "mx-e4m3-rceil"):
                qt, e = MXFP8QTensor.quantize(torch.from_numpy(x.copy()))
                d = qt._quantized_data.view(torch.uint8).numpy()
                sc = e.numpy().reshape(x.shape[0], -1)
                check_roundtrip("modelopt", "mx-e4m3-rceil", name, x, d, e8m0_value(sc), 1.0)
                recs.append(record(name, "mx-e4m3-rceil", x, d, sc))
        fp8_skipped, fp8_qtensor_differs = run_modelopt_fp8(cases, recs)
    notes = {
        "nvfp4": "NVFP4QTensor.quantize(x, 16) (dynamic path, weights_scaling_factor_2 = amax/2688); "
                 "global_amax = reduce_amax(x), global_scale = weights_scaling_factor_2 (float32, as exported "
                 "as weight_scale_2). Elements x / f32(f32(s_b) * weights_scaling_factor_2), cast by "
                 "searchsorted (ties to even); sign bit from x < 0, so -0 gives 0x0 and negatives that round to "
                 "zero 0x8; NaN gives 0x7. An all-zero tensor has weights_scaling_factor_2 = 0 and NaN block "
                 "scales (0/0: 0xFF on x86-64, whose default NaN is negative), codes 0x7.",
    }
    if legacy:
        notes["legacy"] = ("0.44.0, the last release before the [2^-9, 448] clamp of the per-block scale (0.45.0): "
                           "an exact f32 zero scale becomes 1.0 before the E4M3 cast, a nonzero scale below 2^-10 "
                           "casts to 0x00 and is kept (its elements divide by 0: +-Inf -> codes 0x7/0xF, 0/0 -> "
                           "0x7). fp4_compatible(), a CUDA probe evaluated before try_tensorrt, is answered False.")
    if not legacy:
        notes["mx-e2m1-rceil"] = ("MXFP4QTensor.quantize(x, 32): scale 2^ceil(max(log2(amax/6), -127)); elements "
                                  "x / 2^e cast with searchsorted on strict '>' bounds (ties toward zero), and "
                                  "sign bit (2 - sign(x)) // 2, so +0 and -0 both get code 0x8.")
        notes["mx-e4m3-rceil"] = ("MXFP8QTensor.quantize(x): scale byte 127 + clamp(ceil(log2(amax/448)), -127, 127) "
                                  "(-127 for amax 0); elements clamp(x * exp2(127 - byte), +-448) cast to "
                                  "float8_e4m3fn.")
        notes["fp8-e4m3-tensor"] = (
            "ModelOpt's FP8 export path: mtq.quantize(nn.Sequential(nn.Linear with x as weight), FP8_DEFAULT_CFG, "
            "forward_loop=None) (max calibration of the weight: amax = max(|max(x)|, |min(x)|)), then "
            "get_weight_scaling_factor(linear) (quant_utils.get_scaling_factor: export_amax() / maxbound, "
            "maxbound 448.0) and to_quantized_weight(weight, scale, 'fp8') = (x / scale).to(float8_e4m3fn), as "
            "unified_export_hf._export_quantized_weight does. export_amax() replaces an amax of 0 by maxbound "
            "(scale 1.0; _sanitize_export_amax) and clamps it to [FLT_MIN (2^-126), FLT_MAX]. scales = weight_scale as "
            "exported (f32, amax/448: the dequantization factor); global_amax = the calibrated amax, before "
            "those replacements. No clamp before the cast: torch 2.15's eager float->float8_e4m3fn cast "
            "saturates (finite |v| >= 448 and Inf give 0x7E/0xFE), keeps the sign of -0 and of NaN.")
        notes["fp8-e4m3-tensor_not_run"] = (
            "nan_*/inf_*: mtq.quantize's max calibration raises (calib/max.py, MaxCalibrator.collect: "
            "'detected nan values in amax' / 'detected inf values in amax'): " + ", ".join(fp8_skipped) + ".")
        notes["fp8-e4m3-tensor_vs_FP8QTensor"] = (
            "Not recorded: FP8QTensor.quantize(x) (the qtensor path: scale = reduce_amax(x) / 448.0 with no "
            "replacement or clamp, then (x / scale).to(float8_e4m3fn)) gives other bytes in: "
            + (", ".join(fp8_qtensor_differs) or "none")
            + ". There: amax 0 gives scale 0 and 0/0 = NaN elements (0xFF on x86-64); an amax below 2^-126 the "
              "subnormal scale amax/448 (not 2^-126/448); and it runs on NaN/Inf: NaN amax gives scale NaN and "
              "elements 0x7F, Inf amax scale Inf, finite elements +-0 and Inf/Inf 0xFF.")
    return modelopt.__version__, notes, recs


def run_modelopt_fp8(cases, recs):
    """fp8-e4m3-tensor through ModelOpt's HF export functions (see the notes).
    Returns the cases left out and those where FP8QTensor.quantize differs."""
    import contextlib
    import io

    import numpy as np
    import torch
    import modelopt.torch.quantization as mtq
    from modelopt.torch.export.model_config import QUANTIZATION_FP8
    from modelopt.torch.export.quant_utils import (get_quantization_format, get_weight_scaling_factor,
                                                   to_quantized_weight)
    from modelopt.torch.quantization.qtensor.fp8_tensor import FP8QTensor

    config = "fp8-e4m3-tensor"
    skipped, differs = [], []
    for name, x, kinds in cases:
        if not applies(kinds, config):
            continue
        if special(name):
            skipped.append(name)
            continue
        t = torch.from_numpy(x.copy())
        lin = torch.nn.Linear(x.shape[1], x.shape[0], bias=False, dtype=torch.float32)
        with torch.no_grad():
            lin.weight.copy_(t)
        model = torch.nn.Sequential(lin)
        with contextlib.redirect_stdout(io.StringIO()):  # "Inserted 3 quantizers"
            mtq.quantize(model, mtq.FP8_DEFAULT_CFG, forward_loop=None)
        assert get_quantization_format(model[0]) == QUANTIZATION_FP8
        amax = model[0].weight_quantizer.amax.float().reshape(()).item()  # calibrated, before export_amax()
        wsf = get_weight_scaling_factor(model[0])  # float32 [1]
        assert wsf.dtype == torch.float32 and wsf.numel() == 1, (wsf.dtype, wsf.shape)
        q = to_quantized_weight(model[0].weight.data, wsf, QUANTIZATION_FP8)
        assert q.dtype == torch.float8_e4m3fn
        d = q.view(torch.uint8).numpy()
        grid, sc = fp8_scales(wsf.numpy(), x.shape[0], 1)
        check_roundtrip("modelopt", config, name, x, d, grid, 1.0)
        recs.append(record(name, config, x, d, sc, amax))
        qt, s2 = FP8QTensor.quantize(t)
        same = (np.array_equal(qt._quantized_data.view(torch.uint8).numpy(), d)
                and np.asarray(s2, np.float32).reshape(-1).tobytes() == np.asarray(wsf, np.float32).tobytes())
        if not same:
            differs.append(name)
    return skipped, differs


def run_torchao(cases):
    import numpy as np
    import torch
    import torchao
    from torchao.prototype.mx_formats.config import ScaleCalculationMode
    from torchao.prototype.mx_formats.constants import DTYPE_FP6_E2M3, DTYPE_FP6_E3M2
    from torchao.prototype.mx_formats.mx_tensor import to_mx
    from torchao.prototype.mx_formats.nvfp4_tensor import NVFP4Tensor, per_tensor_amax_to_scale

    recs = []
    for name, x, kinds in cases:
        if not applies(kinds, "nvfp4"):
            continue
        t = torch.from_numpy(x.copy())
        # As torchao's NVFP4 weight path (inference_workflow.py) does it:
        amax = torch.max(torch.abs(t))
        pts = per_tensor_amax_to_scale(amax)
        q = NVFP4Tensor.to_nvfp4(t, block_size=16, per_tensor_scale=pts, is_swizzled_scales=False)
        packed = q.qdata.view(torch.uint8).numpy()  # pack_uint4: even element low nibble (the crate's)
        sc = q.scale.view(torch.uint8).numpy().reshape(x.shape[0], -1)
        g = pts.reshape(()).item()
        check_roundtrip("torchao", "nvfp4", name, x, unpack_fp4(packed), e4m3_value(sc), g)
        recs.append(record(name, "nvfp4", x, packed, sc, amax.item(), g))

    elems = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2, "e2m3": DTYPE_FP6_E2M3,
             "e3m2": DTYPE_FP6_E3M2, "e2m1": torch.float4_e2m1fn_x2}
    modes = {m: getattr(ScaleCalculationMode, m.upper()) for m in MODES}
    for el, dt in elems.items():
        for mode, sm in modes.items():
            config = f"mx-{el}-{mode}"
            for name, x, kinds in cases:
                if not applies(kinds, config):
                    continue
                s, d = to_mx(torch.from_numpy(x.copy()), dt, 32, scaling_mode=sm, is_swizzled_scales=False)
                sc = s.view(torch.uint8).numpy().reshape(x.shape[0], -1)
                if el == "e2m1":
                    data = d.view(torch.uint8).numpy()  # pack_uint4: even element low nibble
                    codes = unpack_fp4(data)
                elif el in ("e2m3", "e3m2"):
                    data = d.numpy()  # f32_to_f6_*_unpacked: the code in the low 6 bits
                    assert data.max(initial=0) < 64
                    codes = data
                else:
                    data = d.view(torch.uint8).numpy()
                    codes = data
                check_roundtrip("torchao", config, name, x, codes, e8m0_value(sc), 1.0)
                recs.append(record(name, config, x, data, sc))
    pertensor_differs = run_torchao_fp8(cases, recs)
    notes = {
        "nvfp4": "NVFP4Tensor.to_nvfp4(x, 16, per_tensor_scale=per_tensor_amax_to_scale(torch.max(torch.abs(x))), "
                 "is_swizzled_scales=False), as inference_workflow.py quantizes a weight; global_amax = that amax, "
                 "global_scale = per_tensor_scale = amax/2688 (float32).",
        "mx": "to_mx(x, elem_dtype, 32, scaling_mode=MODE, is_swizzled_scales=False) for every element dtype "
              "and ScaleCalculationMode. FLOOR/CEIL/EVEN divide by max(2^(byte-127), 2^-126) (F32_MIN_NORMAL "
              "clamp); RCEIL takes ceil(torch.log2(amax/max)) (float32 log2: rounds to the integer just above a "
              "power of two for |k| >= ~3) and multiplies by 2^(127-byte), by 1 for byte 0.",
        "fp8-e4m3-tensor": "torchao.float8 (training) tensorwise: hp_tensor_to_float8_dynamic(x, float8_e4m3fn, "
                           "LinearMMConfig(), gemm_input_role=WEIGHT): amax = torch.max(torch.abs(x)) (f32; "
                           "global_amax), s = f32(448.0 / clamp(f64(amax), min=EPS=1e-12)) (amax_to_scale, in "
                           "float64), elements to_fp8_saturated(x * s) = clamp(x * s, -448, 448).to(float8_e4m3fn). "
                           "scales = s.reciprocal() in float32, the dequantization factor as float8_ops.py hands it to "
                           "torch._scaled_mm (torchao stores s, Float8TrainingTensor._scale; to_original_precision "
                           "computes data / s instead). An amax below 1e-12 (zeros too) gives s = 4.48e14 and "
                           "1/s = 2.2321e-15; Inf amax: s = 0, 1/s = Inf, x * 0 = +-0, Inf * 0 = NaN (0xFF on "
                           "x86-64); NaN in x: torch.max's CPU reduction returns the NaN 0xFFFFFFFF (sign set; "
                           "amax/amin return 0x7FC00000), which s and every element inherit: codes 0xFF.",
        "fp8-e4m3-block128": "torchao's inference Float8Tensor (torchao.quantization, as Float8WeightOnlyConfig / "
                             "Float8DynamicActivationFloat8WeightConfig quantize a weight): Float8Tensor.from_hp(x, "
                             "float8_e4m3fn, granularity=PerBlock([1, 128])) on CPU (kernel 'torch'): "
                             "_choose_scale_float8: scale = f32(amax_block / 448.0) (no eps: a zero block gets scale "
                             "0 and 0/0 = NaN elements), _quantize_affine_float8: clamp(x / scale, -448, "
                             "448).to(float8_e4m3fn). scales = Float8Tensor.scale (the dequantization factor), "
                             "[rows, cols/128].",
        "fp8-e4m3-tensor_vs_Float8Tensor": "Not recorded: Float8Tensor.from_hp(x, granularity=PerTensor()) runs "
                                           "the block128 path's arithmetic with one tensor-wide amax (x / "
                                           "f32(amax/448), no eps), not torchao.float8's x * f32(448/amax); its "
                                           "elements or dequantization factor differ from fp8-e4m3-tensor's in: "
                                           + (", ".join(pertensor_differs) or "none") + ".",
    }
    return torchao.__version__, notes, recs


def run_torchao_fp8(cases, recs):
    """fp8-e4m3-tensor (torchao.float8 tensorwise) and fp8-e4m3-block128
    (Float8Tensor, PerBlock([1, 128])); returns the cases where Float8Tensor
    with PerTensor() differs from torchao.float8's tensorwise bytes."""
    import numpy as np
    import torch
    from torchao.float8.float8_scaling_utils import hp_tensor_to_float8_dynamic
    from torchao.float8.float8_training_tensor import GemmInputRole, LinearMMConfig
    from torchao.float8.float8_utils import tensor_to_amax
    from torchao.quantization.granularity import PerBlock, PerTensor
    from torchao.quantization.quantize_.workflows.float8.float8_tensor import Float8Tensor

    differs = []
    config = "fp8-e4m3-tensor"
    for name, x, kinds in cases:
        if not applies(kinds, config):
            continue
        t = torch.from_numpy(x.copy())
        amax = tensor_to_amax(t)  # what hp_tensor_to_float8_dynamic's tensor_to_scale reduces
        f8 = hp_tensor_to_float8_dynamic(t, torch.float8_e4m3fn, LinearMMConfig(),
                                         gemm_input_role=GemmInputRole.WEIGHT)
        assert f8._data.dtype == torch.float8_e4m3fn and f8._scale.dtype == torch.float32
        d = f8._data.view(torch.uint8).numpy()
        # The dequantization factor as torchao's scaled matmul hands it to torch._scaled_mm
        # (float8_ops.py: a_scale.reciprocal()); to_original_precision divides by _scale instead.
        dq = f8._scale.reciprocal()
        grid, sc = fp8_scales(dq.numpy(), x.shape[0], 1)
        check_roundtrip("torchao", config, name, x, d, grid, 1.0)
        recs.append(record(name, config, x, d, sc, amax.item()))
        pt = Float8Tensor.from_hp(t, torch.float8_e4m3fn, granularity=PerTensor())
        if not (np.array_equal(pt.qdata.view(torch.uint8).numpy(), d)
                and pt.scale.float().numpy().tobytes() == dq.numpy().tobytes()):
            differs.append(name)
    config = "fp8-e4m3-block128"
    for name, x, kinds in cases:
        if not applies(kinds, config):
            continue
        t = torch.from_numpy(x.copy())
        f = Float8Tensor.from_hp(t, torch.float8_e4m3fn, granularity=PerBlock([1, 128]))
        assert f.qdata.dtype == torch.float8_e4m3fn and f.scale.dtype == torch.float32
        assert tuple(f.scale.shape) == (x.shape[0], x.shape[1] // 128), f.scale.shape
        d = f.qdata.view(torch.uint8).numpy()
        grid, sc = fp8_scales(f.scale.numpy(), x.shape[0], x.shape[1] // 128)
        check_roundtrip("torchao", config, name, x, d, grid, 1.0)
        recs.append(record(name, config, x, d, sc))
    return differs


def run_jax(cases):
    import numpy as np
    import jax
    import jax.numpy as jnp
    import jaxlib
    from jax._src.cudnn.scaled_matmul_stablehlo import quantize

    recs = []
    hlo = {}
    hlo_gs = None
    data_max = jnp.finfo(jnp.float4_e2m1fn).max.astype(jnp.float32)
    scale_max = jnp.finfo(jnp.float8_e4m3fn).max.astype(jnp.float32)
    for name, x, kinds in cases:
        if not applies(kinds, "nvfp4"):
            continue
        a = jnp.asarray(x)
        # As JAX's own tests make the global scale (scaled_matmul_stablehlo_test.py,
        # test_quantize_nvfp4 / generate_nvfp4_quantized_tensors): eager ops.
        amax = jnp.max(jnp.abs(a)).astype(jnp.float32)
        gs = jnp.asarray(amax / (data_max * scale_max), jnp.float32).reshape(1)
        cfg = jax.nn.get_scaled_dot_general_config("nvfp4", gs)
        fn = jax.jit(lambda v, cfg=cfg: quantize(v, cfg))
        if name == "random_normal_0":
            hlo["nvfp4"] = fn.lower(a).compile().as_text()
            hlo_gs = float(gs[0])
        q, s = fn(a)
        codes = np.asarray(q).view(np.uint8) & 0xF  # float4_e2m1fn: one element a byte
        sc = np.asarray(s).view(np.uint8)
        g = float(gs[0])
        check_roundtrip("jax", "nvfp4", name, x, codes, e4m3_value(sc), g)
        recs.append(record(name, "nvfp4", x, pack_fp4(codes), sc, float(amax), g))
    cfg8 = jax.nn.get_scaled_dot_general_config("mxfp8")
    fn8 = jax.jit(lambda v: quantize(v, cfg8))
    for name, x, kinds in cases:
        if not applies(kinds, "mx-e4m3-rceil"):
            continue
        a = jnp.asarray(x)
        if name == "random_normal_0":
            hlo["mxfp8"] = fn8.lower(a).compile().as_text()
        q, s = fn8(a)
        d = np.asarray(q).view(np.uint8)
        sc = np.asarray(s).view(np.uint8)
        check_roundtrip("jax", "mx-e4m3-rceil", name, x, d, e8m0_value(sc), 1.0)
        recs.append(record(name, "mx-e4m3-rceil", x, d, sc))
    notes = {
        "nvfp4": "jax.jit(quantize) with jax.nn.get_scaled_dot_general_config('nvfp4', gs), gs = "
                 "jnp.max(jnp.abs(x)) / (finfo(float4_e2m1fn).max * finfo(float8_e4m3fn).max) computed eagerly "
                 "(as JAX's tests do) and closed over, so XLA sees it as a constant; global_scale = gs; codes read "
                 "from the float4_e2m1fn array (one a byte) and packed two a byte.",
        "mx-e4m3-rceil": "jax.jit(quantize) with jax.nn.get_scaled_dot_general_config('mxfp8').",
        "xla": "XLA CPU rewrites the divisions (see the optimized HLO): nvfp4 computes c = f32(1/gs) at compile "
               "time, block amax = max|x*c|, s = e4m3(clamp(amax * f32(1/6), 0, 448)), r = 1/f32(s) at run time, "
               "codes = e2m1(clamp(x * f32(r*c), -6, 6)) (reassociated: not (x*c)*r); mxfp8 computes "
               "amax * f32(1/448) before the E8M0 round-up and x * (1/2^(byte-127)). XLA CPU flushes subnormals "
               "(FTZ and DAZ): subnormal inputs read as zero, and gs (computed eagerly) is 0 when amax/2688 is "
               "subnormal.",
        "xla_ops_random_normal_0": f"gs = {hlo_gs!r}; " + "; ".join(f"{k}: {v}" for k, v in summarize_hlo(hlo).items()),
    }
    return jax.__version__, notes, recs


def summarize_hlo(hlo):
    """The arithmetic ops of each compiled module (constants and divides/multiplies)."""
    import re

    out = {}
    for k, text in hlo.items():
        ops = []
        for line in text.splitlines():
            m = re.search(r"= f32\[[^\]]*\][^ ]* (divide|multiply)\((.*?)\)", line)
            if m:
                ops.append(m.group(1))
            m = re.search(r"= f32\[[^\]]*\][^ ]* constant\(([^)]*)\)", line)
            if m and m.group(1) not in ("0", "1", "-inf", "6", "-6", "448", "-448"):
                ops.append(f"constant({m.group(1)})")
        out[k] = ", ".join(ops)
    return out


def run_compressed_tensors(cases):
    import numpy as np
    import torch
    import compressed_tensors
    from compressed_tensors.compressors.base import compress_module
    from compressed_tensors.quantization import QuantizationScheme, preset_name_to_scheme
    from compressed_tensors.quantization.lifecycle.initialize import initialize_module_for_quantization
    from compressed_tensors.quantization.utils import calculate_qparams, generate_gparam

    presets = {"nvfp4": "NVFP4A16", "mx-e2m1-even": "MXFP4A16", "mx-e2m3-even": "MXFP6A16",
               "mx-e4m3-even": "MXFP8A16"}
    recs = []
    inf_scale = []
    for config, preset in presets.items():
        for name, x, kinds in cases:
            if not applies(kinds, config) or special(name):
                continue
            scheme = preset_name_to_scheme(preset, ["Linear"])
            assert isinstance(scheme, QuantizationScheme)
            lin = torch.nn.Linear(x.shape[1], x.shape[0], bias=False, dtype=torch.float32)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(x.copy()))
            initialize_module_for_quantization(lin, scheme)
            args, w, gs = scheme.weights, lin.weight.data, None
            # llm-compressor's memoryless min-max weight observer, as in
            # tests/compressed_tensors_check.py (weight_observer_range):
            gmin, gmax = w.unflatten(-1, (-1, args.group_size)).amin(-1), w.unflatten(-1, (-1, args.group_size)).amax(-1)
            amax = None
            with torch.no_grad():
                if args.strategy == "tensor_group":
                    tmin, tmax = w.amin().reshape(1), w.amax().reshape(1)
                    amax = torch.max(tmin.abs(), tmax.abs()).item()
                    gs = generate_gparam(tmin, tmax)
                    lin.weight_global_scale.copy_(gs)
                scale, _ = calculate_qparams(gmin, gmax, args, global_scale=gs)
                if not torch.isfinite(scale).all():
                    inf_scale.append(f"{name} ({config})")
                lin.weight_scale.copy_(scale.reshape(lin.weight_scale.shape))
            compress_module(lin)
            sd = dict(lin.named_parameters())
            sd.update(dict(lin.named_buffers()))
            if config == "nvfp4":
                packed = sd["weight_packed"].detach().numpy()  # pack_fp4_to_uint8: even element low nibble
                sc = sd["weight_scale"].detach().view(torch.uint8).numpy()
                stored = sd["weight_global_scale"].detach().float().reshape(()).item()  # 2688/amax (inverted)
                check_roundtrip("compressed-tensors", config, name, x, unpack_fp4(packed), e4m3_value(sc),
                                1.0 / stored)
                recs.append(record(name, config, x, packed, sc, amax, stored))
                continue
            sc = sd["weight_scale"].detach().numpy()
            assert sc.dtype == np.uint8, sc.dtype
            if config == "mx-e2m1-even":
                data = sd["weight_packed"].detach().numpy()
                codes = unpack_fp4(data)
            elif config == "mx-e2m3-even":
                # pack_fp6_to_uint8: 4 codes in 3 bytes, a 24-bit little-endian word
                # with code j at bits 6j..6j+5; unpacked here to one code a byte.
                p = sd["weight_packed"].detach().numpy().astype(np.uint32).reshape(x.shape[0], -1, 3)
                word = p[..., 0] | (p[..., 1] << 8) | (p[..., 2] << 16)
                data = np.stack([(word >> (6 * j)) & 0x3F for j in range(4)], axis=-1)
                data = data.reshape(x.shape).astype(np.uint8)
                codes = data
            else:
                data = sd["weight"].detach().view(torch.uint8).numpy()
                codes = data
            check_roundtrip("compressed-tensors", config, name, x, codes, e8m0_value(sc), 1.0)
            recs.append(record(name, config, x, data, sc))
    run_compressed_tensors_fp8(cases, recs)
    notes = {
        "how": "For each tensor: an nn.Linear in float32 with it as weight, initialize_module_for_quantization "
               "with the preset scheme (NVFP4A16, MXFP4A16, MXFP6A16, MXFP8A16), the qparams of llm-compressor's "
               "min-max observer (calculate_qparams on each group's amin/amax; generate_gparam on the tensor's "
               "amin/amax for NVFP4), then compress_module; the stored tensors are read back.",
        "nvfp4": "global_amax = max(|amin|, |amax|) as generate_gparam sees it; global_scale = weight_global_scale "
                 "as stored: 448*6/amax (the inverse of ModelOpt's weight_scale_2; 1.0 when that is Inf/NaN), "
                 "evaluated as f32(f32(1/amax) * 2688) because torch's Python-scalar / tensor is "
                 "tensor.reciprocal() * scalar (torch/_tensor.py __rdiv__). Block scales that are 0 in E4M3 "
                 "(zero or underflowing blocks) are replaced by 0.125 (0x20).",
        "signed_zero": "FP4 (nvfp4, mx-e2m1): +0 and -0 inputs give code 0x0 (cast_to_fp4 multiplies by "
                       "torch.sign(x), which is 0 for both), negatives that round to zero give 0x8. MXFP8: the "
                       "compressor adds the (zero) zero_point after x / scale, so -0 gives 0x00. MXFP6 keeps -0 "
                       "(copysign).",
        "mx-e4m3-even": "NOT torchao's EVEN for E4M3: compressed-tensors rounds the amax to a power of two with "
                        "E2M1's single mantissa bit (round_to_power_2(x, FP4_E2M1_DATA.mantissa)), i.e. up from "
                        "1.75*2^k, where torchao's EVEN uses E4M3's 3 bits (up from 1.9375*2^k).",
        "mx-e2m3-even": "MXFP6 is E2M3 only (FP6_E2M3_DATA); data unpacked from pack_fp6_to_uint8's 4-in-3 bytes.",
        "special": "nan_*/inf_* not run: the FP4 packer casts NaN to int8 ((x * 2).to(torch.int8)), undefined.",
        "infinite_mx_scale": "In these cases a block amax rounds up to Inf in round_to_power_2, the scale is "
                             "2^(255-127) = Inf (elements x/Inf = 0) and compress_mx_scale stores "
                             "127 + floor(log2(Inf)).to(torch.int32): an invalid cast (x86-64: INT_MIN, so the "
                             "byte is 0x7F): " + (", ".join(inf_scale) or "none") + ".",
        "fp8": "fp8-e4m3-tensor: preset FP8 (weights: float, 8 bits, symmetric, strategy tensor, static); "
               "fp8-e4m3-block128: preset FP8_BLOCK's weight args with block_structure [1, 128] instead of "
               "[128, 128] (the same strategy 'block' code; the validator accepts it). Same steps as above: "
               "calculate_qparams on the tensor's (or each 1x128 block's) amin/amax, then compress_module. "
               "scale = max(|min(amin, 0)|, |max(amax, 0)|) / f32(896 / 2) (f32 division), an exact 0 scale "
               "replaced by finfo(float32).eps = 2^-23 (scale_dtype is None); elements clamp(x / scale + zp, "
               "-448, 448).to(float8_e4m3fn) with zp = 0.0, so -0 (and x / Inf = -0) gives 0x00. scales = "
               "weight_scale as stored (f32, the dequantization factor), [1] or [rows, cols/128]; global_amax "
               "(tensor only) = max(|amin|, |amax|). A NaN in the tensor (block): amin/amax give the NaN "
               "0x7FC00000, scale NaN, every element 0x7F; an Inf: scale Inf, elements 0x00, Inf / Inf 0xFF "
               "(x86-64's default NaN).",
    }
    return compressed_tensors.__version__, notes, recs


def run_compressed_tensors_fp8(cases, recs):
    import torch
    from compressed_tensors.compressors.base import compress_module
    from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme, preset_name_to_scheme
    from compressed_tensors.quantization.lifecycle.initialize import initialize_module_for_quantization
    from compressed_tensors.quantization.utils import calculate_qparams

    block = preset_name_to_scheme("FP8_BLOCK", ["Linear"])
    assert block.weights.block_structure == [128, 128], block.weights
    block1 = QuantizationScheme(targets=["Linear"], weights=QuantizationArgs(
        **{**block.weights.model_dump(), "block_structure": [1, 128]}))
    schemes = {"fp8-e4m3-tensor": preset_name_to_scheme("FP8", ["Linear"]), "fp8-e4m3-block128": block1}
    for config, scheme in schemes.items():
        for name, x, kinds in cases:
            if not applies(kinds, config):
                continue
            lin = torch.nn.Linear(x.shape[1], x.shape[0], bias=False, dtype=torch.float32)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(x.copy()))
            initialize_module_for_quantization(lin, scheme)
            args, w = scheme.weights, lin.weight.data
            amax = None
            with torch.no_grad():
                # llm-compressor's memoryless min-max observer (weight_observer_range
                # in tests/compressed_tensors_check.py)
                if args.strategy == "tensor":
                    wmin, wmax = w.amin().reshape(1), w.amax().reshape(1)
                    amax = torch.max(wmin.abs(), wmax.abs()).item()
                else:
                    assert args.strategy == "block" and args.block_structure == [1, 128], args
                    b = w.unflatten(-1, (-1, 128))
                    wmin, wmax = b.amin(-1), b.amax(-1)
                scale, _ = calculate_qparams(wmin, wmax, args)
                lin.weight_scale.copy_(scale.reshape(lin.weight_scale.shape))
            compress_module(lin)
            sd = dict(lin.named_parameters())
            sd.update(dict(lin.named_buffers()))
            q, ws = sd["weight"].detach(), sd["weight_scale"].detach()
            assert q.dtype == torch.float8_e4m3fn and ws.dtype == torch.float32, (q.dtype, ws.dtype)
            d = q.view(torch.uint8).numpy()
            nb = 1 if config == "fp8-e4m3-tensor" else x.shape[1] // 128
            grid, sc = fp8_scales(ws.numpy(), x.shape[0], nb)
            check_roundtrip("compressed-tensors", config, name, x, d, grid, 1.0)
            recs.append(record(name, config, x, d, sc, amax))


def run_ggml(cases):
    import importlib.metadata
    import numpy as np
    import gguf
    from gguf.quants import quantize

    recs = []
    wrapped = []
    config = "mx-e2m1-floor"
    for name, x, kinds in cases:
        if not applies(kinds, config) or name.startswith("inf_"):
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            raw = quantize(x, gguf.GGMLQuantizationType.MXFP4)
        bad = [str(w.message) for w in caught if "invalid value encountered in cast" in str(w.message)]
        if bad:
            print(f"  ggml {name}: {bad[0]} (case left out)", flush=True)
            continue
        # Blocks with 0 < amax < 2^-125 make floor(log2(amax)) - 2 + 127 negative,
        # and numpy's float->uint8 cast of it is C's (undefined; x86-64 wraps).
        bamax = np.abs(x).reshape(x.shape[0], -1, 32).max(axis=-1)
        if ((bamax > 0) & (bamax < np.float32(2.0**-125))).any():
            wrapped.append(name)
        blocks = np.asarray(raw, dtype=np.uint8).reshape(x.shape[0], x.shape[1] // 32, 17)
        sc = blocks[..., 0]
        qs = blocks[..., 1:]
        # ggml's block: byte j holds element j (low nibble) and element j+16 (high).
        codes = np.concatenate([qs & 0xF, qs >> 4], axis=-1).reshape(x.shape)
        check_roundtrip("ggml", config, name, x, codes, e8m0_value(sc), 1.0)
        recs.append(record(name, config, x, pack_fp4(codes), sc))
    notes = {
        "mx-e2m1-floor": "gguf.quants.quantize(x, GGMLQuantizationType.MXFP4) (gguf-py's numpy port of ggml's "
                         "quantize_row_mxfp4_ref); ggml's 17-byte block (E8M0 byte, then element j in the low "
                         "nibble and j+16 in the high nibble of byte j) converted to the crate's packing. "
                         "Elements: argmin of |2^(e-128) * (0,1,2,3,4,6,8,12,0,-1,...,-12) - x|, the first "
                         "minimum winning, so ties go toward zero and every zero (+0, -0, negatives that round "
                         "to zero) is code 0x0. e = floor(log2(amax)) - 2 + 127 in float32: log2 rounds to the "
                         "integer just below a power of two (e.g. amax 255.99998 gives e as for 256).",
        "wrapped_scale_bytes": "In these cases some block has 0 < amax < 2^-125, so the scale exponent "
                               "floor(log2(amax)) - 2 + 127 is negative and np.astype(np.uint8) casts it out of "
                               "range (C's undefined float->integer conversion; on x86-64 it wraps modulo 256, e.g. "
                               "-1 -> 0xFF, -6 -> 0xFA, with no numpy warning): "
                               + ", ".join(wrapped) + ".",
        "special": "inf_* not run: np.floor(np.log2(inf)).astype(np.uint8) is an invalid cast. nvfp4: gguf-py "
                   "has no NVFP4 quantize_blocks (dequantize only), so ggml's NVFP4 is not run.",
    }
    return importlib.metadata.version("gguf"), notes, recs


def produce(producer, out):
    import numpy as np
    import torch

    cases = build_corpus()
    t0 = time.time()
    if producer == "modelopt":
        version, notes, recs = run_modelopt(cases, legacy=False)
    elif producer == "modelopt-legacy":
        version, notes, recs = run_modelopt(cases, legacy=True)
    elif producer == "torchao":
        version, notes, recs = run_torchao(cases)
    elif producer == "jax":
        version, notes, recs = run_jax(cases)
    elif producer == "compressed-tensors":
        version, notes, recs = run_compressed_tensors(cases)
    elif producer == "ggml":
        version, notes, recs = run_ggml(cases)
    else:
        sys.exit(f"unknown producer {producer}")
    import platform

    env = {"machine": platform.machine(), "python": sys.version.split()[0], "numpy": np.__version__,
           "torch": torch.__version__}
    if producer == "jax":
        import jaxlib
        env["jaxlib"] = jaxlib.__version__
    doc = {"producer": producer, "version": version, "generated_by": GENERATED_BY,
           "environment": env, "notes": notes, "cases": recs}
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{producer}.json"
    # One case a line: reviewable diffs.
    head = json.dumps({k: v for k, v in doc.items() if k != "cases"}, indent=1)[:-2]
    body = ",\n".join(json.dumps(r, separators=(", ", ": ")) for r in recs)
    path.write_text(head + ',\n "cases": [\n' + body + "\n ]\n}\n")
    json.loads(path.read_text())  # well-formed
    configs = sorted({r["config"] for r in recs})
    print(f"{producer} {version}: {len(recs)} cases, configs {', '.join(configs)} -> "
          f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ({time.time() - t0:.1f} s)", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=pathlib.Path, default=OUT)
    ap.add_argument("--only", nargs="*", choices=PRODUCERS)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        warnings.filterwarnings("ignore")
        produce(a.only[0], a.out.resolve())
        return
    t0 = time.time()
    failed = []
    for p in a.only or PRODUCERS:
        env = dict(os.environ, TQDM_DISABLE="1", JAX_PLATFORMS="cpu", CUDA_VISIBLE_DEVICES="",
                   PYTHONWARNINGS="ignore")
        if p == "modelopt-legacy":
            env["PYTHONPATH"] = os.pathsep.join([str(LEGACY_DIR), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        r = subprocess.run([sys.executable, __file__, "--child", "--only", p, "--out", str(a.out.resolve())], env=env)
        if r.returncode:
            failed.append(p)
    print(f"done in {time.time() - t0:.0f} s" + (f"; FAILED: {' '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    ensure_venv()
    main()
