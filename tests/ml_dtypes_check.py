#!/usr/bin/env python3
"""Cross-check blockscale's element codecs against ml_dtypes, bit for bit.

Installs numpy and ml_dtypes from PyPI into a throwaway virtual environment,
builds the `codec_dump` example, and compares for E2M1, E2M3, E3M2, E4M3,
E5M2, E4M3FNUZ, E5M2FNUZ and E8M0:

* the decode of every code (NaN compared as NaN, zeros by sign);
* `from_f32` against `astype` on the same inputs: every bf16 bit pattern,
  10^7 seeded random f32 bit patterns, every midpoint between neighbouring
  values of each format (and past the largest) with the f32 values one ulp
  either side, ±0, ±Inf, NaNs with several payloads, f32 subnormals and
  large values. That is more than 1.1 * 10^7 inputs, all checked for every format.

Usage: python3 tests/ml_dtypes_check.py [--exhaustive]
  --exhaustive  also compare all 2^32 f32 bit patterns (minutes; not in CI).
Environment: BLOCKSCALE_EXAMPLES, a directory holding a built `codec_dump`
(default: `cargo run --release --example codec_dump`).
Exits non-zero on any mismatch.
"""

import os
import pathlib
import subprocess
import sys
import tempfile

import pyenv

ROOT = pathlib.Path(__file__).resolve().parent.parent
PINS = ["numpy>=1.26", "ml_dtypes==0.6.0"]


pyenv.rerun_in_throwaway_venv(__file__, PINS, "BLOCKSCALE_MLD_VENV", "blockscale-mld-")

import numpy as np  # noqa: E402
import ml_dtypes  # noqa: E402

FORMATS = {
    "E2M1": (ml_dtypes.float4_e2m1fn, 4),
    "E2M3": (ml_dtypes.float6_e2m3fn, 6),
    "E3M2": (ml_dtypes.float6_e3m2fn, 6),
    "E4M3": (ml_dtypes.float8_e4m3fn, 8),
    "E5M2": (ml_dtypes.float8_e5m2, 8),
    "E4M3FNUZ": (ml_dtypes.float8_e4m3fnuz, 8),
    "E5M2FNUZ": (ml_dtypes.float8_e5m2fnuz, 8),
    "E8M0": (ml_dtypes.float8_e8m0fnu, 8),
}


def f32_from_bits(bits):
    return np.asarray(bits, dtype=np.uint32).view(np.float32)


def format_values(dtype, nbits):
    codes = np.arange(1 << nbits, dtype=np.uint8)
    vals = codes.view(dtype).astype(np.float64)
    return vals[np.isfinite(vals)]


def midpoints(dtype, nbits):
    """Midpoints between neighbouring finite values (and one past the top),
    with the f32 neighbours one ulp either side, both signs."""
    v = np.unique(np.abs(format_values(dtype, nbits)))
    top = v[-1] + (v[-1] - v[-2])  # the next value the exponent range would have
    v = np.append(v, top)
    mids = ((v[:-1] + v[1:]) / 2).astype(np.float32)  # exact: few significant bits
    out = [mids, np.nextafter(mids, np.float32(np.inf)), np.nextafter(mids, np.float32(0))]
    out += [v.astype(np.float32)]
    pos = np.concatenate(out)
    return np.concatenate([pos, -pos])


def build_inputs():
    rng = np.random.default_rng(20261122)
    parts = [
        f32_from_bits(np.arange(1 << 16, dtype=np.uint32) << 16),  # every bf16
        f32_from_bits(rng.integers(0, 1 << 32, size=10_000_000, dtype=np.uint64).astype(np.uint32)),
        f32_from_bits(np.array([0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000,
                                0x7F800001, 0xFF800001, 0x7FFFFFFF, 0xFFFFFFFF, 0x7FA00000,
                                0x7F7FFFFF, 0xFF7FFFFF, 1, 0x80000001, 0x007FFFFF, 0x00800000],
                               dtype=np.uint32)),
        # f32 subnormals: every power of two and a seeded sample, both signs.
        f32_from_bits(np.concatenate([1 << np.arange(23, dtype=np.uint32),
                                      rng.integers(1, 1 << 23, size=100_000).astype(np.uint32)])),
        # Overflow territory: powers of two and random values up to FLT_MAX.
        np.ldexp(np.float32(1.0), np.arange(-149, 128)).astype(np.float32),
        (rng.random(100_000) * 1e5).astype(np.float32),
    ]
    for dtype, nbits in FORMATS.values():
        parts.append(midpoints(dtype, nbits))
    x = np.concatenate(parts).astype(np.float32)
    return np.concatenate([x, -x])


def run_dump(args, outdir):
    # CI passes the directory of the examples its build step made
    # (BLOCKSCALE_EXAMPLES), so that the crate is not compiled again here.
    built = os.environ.get("BLOCKSCALE_EXAMPLES")
    cmd = ([str(pathlib.Path(built) / "codec_dump")] if built
           else ["cargo", "run", "--quiet", "--release", "--example", "codec_dump", "--"])
    subprocess.run([*cmd, *args, str(outdir)], cwd=ROOT, check=True)


def compare_encodings(name, x, outdir, label):
    dtype, nbits = FORMATS[name]
    ours = np.fromfile(outdir / f"{name}.u8", dtype=np.uint8)
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/Inf casts are the point
        theirs = x.astype(dtype).view(np.uint8) & np.uint8((1 << nbits) - 1)
    if ours.shape != theirs.shape:
        print(f"{name} {label}: length {ours.size} != {theirs.size}")
        return 1
    bad = np.nonzero(ours != theirs)[0]
    for i in bad[:5]:
        b = x[i : i + 1].view(np.uint32)[0]
        print(f"  {name}: f32 bits {b:#010x} ({x[i]!r}): blockscale {ours[i]:#04x}, ml_dtypes {theirs[i]:#04x}")
    print(f"{name} {label}: {x.size} inputs, {bad.size} mismatches")
    return int(bad.size > 0)


def compare_decode(name, outdir):
    dtype, nbits = FORMATS[name]
    ours = np.fromfile(outdir / f"{name}.decode.f32", dtype=np.float32)
    theirs = np.arange(1 << nbits, dtype=np.uint8).view(dtype).astype(np.float32)
    same = (ours.view(np.uint32) == theirs.view(np.uint32)) | (np.isnan(ours) & np.isnan(theirs))
    bad = np.nonzero(~same)[0]
    for c in bad[:5]:
        print(f"  {name}: code {c:#04x}: blockscale {ours[c]!r}, ml_dtypes {theirs[c]!r}")
    print(f"{name} decode: {1 << nbits} codes, {bad.size} mismatches")
    return int(bad.size > 0)


def main():
    exhaustive = "--exhaustive" in sys.argv[1:]
    failed = 0
    checks = 0
    with tempfile.TemporaryDirectory(prefix="blockscale-mld-out-") as tmp:
        tmp = pathlib.Path(tmp)
        x = build_inputs()
        x.tofile(tmp / "inputs.f32")
        run_dump([str(tmp / "inputs.f32")], tmp)
        for name in FORMATS:
            failed += compare_decode(name, tmp)
            failed += compare_encodings(name, x, tmp, "encode")
            checks += 2
        if exhaustive:
            chunk = 1 << 27
            for start in range(0, 1 << 32, chunk):
                run_dump(["--range", str(start), str(chunk)], tmp)
                x = f32_from_bits(np.arange(start, start + chunk, dtype=np.uint64).astype(np.uint32))
                for name in FORMATS:
                    failed += compare_encodings(name, x, tmp, f"bits {start:#010x}+{chunk:#x}")
                    checks += 1
    print(f"ml_dtypes: {checks - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
