#!/usr/bin/env python3
"""Static cost of the crate's hot AVX-512 and AVX2 loops on several x86 cores.

Compiles the crate to assembly, finds each kernel's innermost loop, and asks
llvm-mca (LLVM's machine-code analyser, with its per-core scheduling models)
how many cycles one iteration takes on each core, so that a kernel can be
compared across AMD and Intel without the machines. These are model
predictions for the loop alone, with every load hitting L1: no memory
stalls, no branch mispredictions, no frequency changes. The benchmarks
measure; this explains.

    python3 bench/mca.py                       # builds target/mca, then analyses
    python3 bench/mca.py --asm path/to/blockscale-*.s --cpus znver4,sapphirerapids

AVX-512 loops print "n/a" for the cores without AVX-512 (AVX2_ONLY).

Needs llvm-mca 17 or later (the first with Zen 4 and Sapphire Rapids
models; Debian: `apt install llvm-19`).
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

CPUS = "znver3,znver4,znver5,skylake,skylake-avx512,icelake-server,sapphirerapids"


def has(pat):
    return lambda body: re.search(pat, body) is not None


def lacks(pat):
    return lambda body: re.search(pat, body) is None


NEAREST = [has(r"vaddps"), lacks(r"vdivps"), has(r"vmulps\t\(")]
# The stochastic encoders count steps with variable shifts (`fixed_sr`);
# the minifloats' loops, not MXINT8's, test for NaNs (`kortest`).
STOCHASTIC = [has(r"vpminud"), has(r"vpsrlvd"), lacks(r"vaddps"), lacks(r"vdivps"),
              lacks(r"vcvtps2dq"), has(r"vmulps\t\("), has(r"kortest")]
# The AVX2 encoders: the minifloat loops round to nearest with a magic
# add (MXINT8's with `vcvtps2dq`); only the stochastic ones clamp the
# exponent (`vpmaxud`), and only the minifloat's test for NaNs, not
# MXINT8's, whose nibble packing is compiled but never runs.
AVX2_NEAREST = [has(r"vaddps"), lacks(r"vpmaxud"), lacks(r"vdivps"), lacks(r"vcvtps2dq")]
AVX2_STOCHASTIC = [has(r"vpminud"), lacks(r"vdivps"), lacks(r"vcvtps2dq"), has(r"v(p)?test")]
# (label, function-name pattern, conditions on the loop text, work per
# iteration: a number of elements, or (instruction, products each) for GEMMs)
KERNELS = [
    # The nearest loops take 64 elements a step (NVFP4's blocks four at a
    # time, MX's two) and narrow them by packs (`vpackusdw`).
    ("encode E4M3 bytes, nearest, 64 a step (MXFP8, FP8)", r"avx5126encode10encode_row",
     [has(r"vaddps"), has(r"vpackusdw"), lacks(r"vpmaddubsw"), lacks(r"vcvtps2dq")] + NEAREST, 64),
    ("encode E2M1 nibbles, nearest, 64 a step (NVFP4, MXFP4)", r"avx5126encode10encode_row",
     [has(r"vaddps"), has(r"vpackusdw"), has(r"vpmaddubsw"), lacks(r"vcvtps2dq")] + NEAREST, 64),
    ("one-pass NVFP4 elements, four blocks without NaNs a step", r"avx5126scaled8elements",
     [has(r"vaddps"), has(r"vpackusdw"), has(r"vpmaddubsw")], 64),
    ("encode bytes, stochastic, 64 a step", r"avx5126encode10encode_row",
     [has(r"vpackusdw"), lacks(r"vpmaddubsw")] + STOCHASTIC, 64),
    ("encode E2M1 nibbles, stochastic, 64 a step", r"avx5126encode10encode_row",
     [has(r"vpackusdw"), has(r"vpmaddubsw")] + STOCHASTIC, 64),
    # Stochastic rounding's draws: one Xoshiro256++ step of two groups of 8
    # tiles' streams and the high halves of its 16 outputs (the transpose
    # to the tiles' rows comes after the loop).
    ("Xoshiro256++ draws, 16 streams (stochastic rounding)", r"avx5123rng8sr_draws",
     [has(r"vprolq"), has(r"vpermt2d|vpermi2d"), lacks(r"vpcmpnleuq|vpcmpltuq|vpcmpuq")], 16),
    ("block amax (16 vectors per step)", r"avx5124amax12block_amaxes", [has(r"vpmaxud")], 256),
    ("GEMM i8 tile (NVFP4, MXFP4, MXINT8)", r"avx5124gemm12i8_tile_impl",
     [has(r"vpdpbusd")], ("vpdpbusd", 64)),
    ("GEMM f64 tile (MXFP8, FP8)", r"avx5124gemm13f64_tile_impl",
     [has(r"vfmadd...pd")], ("vfmadd...pd", 8)),
    ("GEMM i64 runs (E4M3 x E5M2)", r"avx5124gemm\d+i64_(tile|block)",
     [has(r"vfmadd...pd")], ("vfmadd...pd", 8)),
    # The i16 tiles' pair loops (each K pair of one pass of planes); the
    # passes' conversion to f64 and the block terms are outside them.
    ("GEMM i16 tile, VNNI (MXFP8, FP8, MXFP6)", r"avx5123i16",
     [has(r"vpdpwssd")], ("vpdpwssd", 32)),
    ("GEMM i16 tile, AVX-512 without VNNI (Skylake-SP)", r"avx5123i16",
     [has(r"vpmaddwd\t.*zmm")], ("vpmaddwd", 32)),
    # The AVX2 encoders' nearest loops (16 elements an iteration): NVFP4's
    # 16-element blocks take their own loop, one map broadcast a block;
    # MX's 32-element blocks the general one, their map hoisted. Nibbles
    # pack by a `vpmaddwd`, bytes without one.
    ("AVX2 encode E2M1 nibbles, nearest, 16-element blocks (NVFP4)", r"avx26encode10encode_row",
     [has(r"vpmaddwd"), has(r"vbroadcastss")] + AVX2_NEAREST, 16),
    ("AVX2 encode E2M1 nibbles, nearest (MXFP4)", r"avx26encode10encode_row",
     [has(r"vpmaddwd"), lacks(r"vbroadcastss")] + AVX2_NEAREST, 16),
    ("AVX2 encode E4M3 bytes, nearest (MXFP8, FP8)", r"avx26encode10encode_row",
     [lacks(r"vpmaddwd"), lacks(r"vbroadcastss")] + AVX2_NEAREST, 16),
    ("AVX2 encode E2M1 nibbles, stochastic (MXFP4)", r"avx26encode10encode_row",
     [has(r"vpmaddwd"), lacks(r"vbroadcastss")] + AVX2_STOCHASTIC, 16),
    # The one-pass NVFP4 kernel's element loop over blocks whose amax rules
    # out NaN products: no NaN test (`vtestps`/`vptest`).
    ("AVX2 one-pass NVFP4 elements, blocks without NaNs", r"avx26scaled8elements",
     [has(r"vpmaddwd"), has(r"vbroadcastss"), lacks(r"vtestps|vptest")] + AVX2_NEAREST, 16),
    # One Xoshiro256++ step of two groups of 4 tiles' streams and the high
    # halves of its 8 outputs (the streams' path; the transpose comes after).
    ("AVX2 Xoshiro256++ draws, 8 streams (stochastic rounding)", r"avx23rng8sr_draws",
     [has(r"vpsllq"), has(r"vpsrlq"), has(r"vshufps"), has(r"vpaddq")], 8),
    # The AVX2 table's tiles (CPUs without AVX-512). The i8 loops are the
    # quad loops alone: each K block's end (its f32 term) is outside them.
    ("AVX2 GEMM i8 tile, whole-block quads (NVFP4, MXFP4)", r"avx24gemm14i8_tile_blocks",
     [has(r"vpmaddubsw")], ("vpmaddubsw", 32)),
    ("AVX2 GEMM f64 tile (MXFP8, FP8)", r"avx24gemm\d+(f64_|fma_block)",
     [has(r"vfmadd...pd")], ("vfmadd...pd", 4)),
    ("AVX2 GEMM i16 tile (MXFP8, FP8, MXFP6)", r"avx23i16",
     [has(r"vpmaddwd")], ("vpmaddwd", 16)),
]

# Cores without AVX-512, on which the AVX-512 loops do not run.
AVX2_ONLY = {"znver1", "znver2", "znver3", "haswell", "broadwell", "skylake", "alderlake"}


def functions(asm):
    """Mangled function name -> its lines."""
    out, cur = {}, None
    for line in asm.splitlines():
        m = re.match(r"^(_ZN[^:]+):$", line)
        if m:
            cur = m.group(1)
            out[cur] = []
        elif cur is not None:
            if line.startswith(".Lfunc_end"):
                cur = None
            else:
                out[cur].append(line)
    return out


def inner_loops(lines):
    """Instruction lists of the innermost loops (backward branches)."""
    labels = {}
    for i, line in enumerate(lines):
        m = re.match(r"^(\.LBB\w+):", line)
        if m:
            labels[m.group(1)] = i
    loops = []
    for i, line in enumerate(lines):
        m = re.match(r"\s+j\w+\s+(\.LBB\w+)", line)
        if m and m.group(1) in labels and labels[m.group(1)] < i:
            loops.append((labels[m.group(1)], i))
    for s, e in loops:
        if any(o != (s, e) and s <= o[0] and o[1] <= e for o in loops):
            continue
        body, skip_to, last = [], None, ""
        for i in range(s, e + 1):
            line = lines[i]
            if skip_to is not None:
                if line.startswith(skip_to + ":"):
                    skip_to = None
                continue
            if not line.startswith("\t") or line.strip().startswith((".", "#")):
                continue
            ins = line.strip()
            body.append(ins)
            # The encoders' NaN fix-up: a vector test, then a jump over
            # the fix-up when no lane is NaN. It runs only where there is
            # a NaN, so the loop is modelled without it.
            m = re.match(r"je\s+(\.LBB\w+)", ins)
            if (m and re.match(r"(v(p)?test|kortest)", last)
                    and s < labels.get(m.group(1), -1) <= e and labels[m.group(1)] > i):
                skip_to = m.group(1)
            last = ins
        yield "\n".join(body)


def mca_cycles(mca, cpu, body):
    with tempfile.NamedTemporaryFile("w", suffix=".s", delete=False) as f:
        f.write(body + "\n")
    try:
        out = subprocess.run([mca, "-mtriple=x86_64", f"-mcpu={cpu}", "-iterations=200", f.name],
                             capture_output=True, text=True).stdout
    finally:
        os.unlink(f.name)
    total = re.search(r"Total Cycles:\s+(\d+)", out)
    return int(total.group(1)) / 200 if total else None


def build_asm(root):
    target = os.path.join(root, "target", "mca")
    subprocess.run(["cargo", "rustc", "--release", "--lib", "-p", "blockscale", "--target-dir", target,
                    "--", "--emit", "asm", "-C", "codegen-units=1"], cwd=root, check=True)
    files = glob.glob(os.path.join(target, "release", "deps", "blockscale-*.s"))
    return max(files, key=os.path.getmtime)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--asm", help="the crate's assembly (default: build it)")
    ap.add_argument("--mca", help="llvm-mca binary (default: the newest found)")
    ap.add_argument("--cpus", default=CPUS)
    args = ap.parse_args()
    mca = args.mca or next((b for b in ("llvm-mca-20", "llvm-mca-19", "llvm-mca-18", "llvm-mca-17", "llvm-mca")
                            if shutil.which(b)), None)
    if mca is None:
        sys.exit("no llvm-mca found (Debian: apt install llvm-19)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    asm_path = args.asm or build_asm(root)
    funcs = functions(open(asm_path).read())
    cpus = args.cpus.split(",")
    version = subprocess.run([mca, "--version"], capture_output=True, text=True).stdout
    print(f"{mca}: " + next((l.strip() for l in version.splitlines() if "version" in l), "?"))
    print("core cycles per element (per 1000 multiply-adds for GEMM tiles) of each kernel's")
    print("innermost loop, as llvm-mca's scheduling model of each core predicts them\n")
    print("| kernel loop | instructions | " + " | ".join(cpus) + " |")
    print("|---|---|" + "---|" * len(cpus))
    for label, fpat, conds, work in KERNELS:
        cands = [b for name, lines in funcs.items() if re.search(fpat, name)
                 for b in inner_loops(lines) if all(c(b) for c in conds)]
        if not cands:
            print(f"| {label} | not found | " + " | ".join("-" for _ in cpus) + " |")
            continue
        if isinstance(work, tuple):
            body = max(cands, key=lambda b: len(re.findall(work[0], b)))
        else:
            body = max(cands, key=lambda b: b.count("\n"))
        if isinstance(work, tuple):
            ins, per = work
            units, scale = len(re.findall(ins, body)) * per / 1000, "/1k MAC"
        else:
            units, scale = work, ""
        cells = []
        for cpu in cpus:
            if cpu in AVX2_ONLY and not label.startswith("AVX2"):
                cells.append("n/a")
                continue
            c = mca_cycles(mca, cpu, body)
            cells.append("-" if c is None else f"{c / units:.2f}")
        print(f"| {label} | {body.count(chr(10)) + 1} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
