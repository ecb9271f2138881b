#!/usr/bin/env python3
"""Check both directions between blockscale and compressed-tensors (the
format of llm-compressor's checkpoints), on CPU: that `blockscale convert
--layout compressed-tensors` writes checkpoints that compressed-tensors' own
code decompresses to the values `blockscale dequantize` gives, and that
`blockscale inspect` and `dequantize` read the checkpoints compressed-tensors'
own compressor writes, to the values compressed-tensors decompresses them to.

Reuses the virtual environment of tests/transformers_gptoss.py
(target/venv-transformers: CPU torch and transformers, pinned there and read
from that script so the two never disagree) and adds a pinned
compressed-tensors to it (the first run after a pin change pays for the
install; later runs take seconds), then:

1. builds a tiny random `LlamaForCausalLM` in bfloat16 (2 layers, hidden 192,
   intermediate 256, 6 heads of 32, 2 KV heads: every input dimension a
   multiple of 32, and 128x128 FP8 blocks both whole and partial) and
   `save_pretrained`s it;
2. for each case of CASES (`--to` format, `--layout`): runs `blockscale
   convert` and `blockscale dequantize OUT -o DQ --dtype f32`, then checks
   (a) config.json's quantization_config: quant_method compressed-tensors,
       the case's `format`, quantization_status compressed; it parses as
       compressed-tensors' QuantizationConfig; the format compressed-tensors
       infers from each scheme (compressors/format.py infer_module_format,
       what its model-free dequantizer goes by) is the declared one; the
       `weights` arguments that differ from llm-compressor's preset scheme
       for the format (e.g. a missing scale_dtype) are printed as notes;
   (b) the quantized modules' tensor names and shapes are those that
       compressed-tensors' own compressor writes for that scheme (an
       `nn.Linear` of each shape is initialised with
       `initialize_module_for_quantization` and compressed with
       `compress_module`); a different FP scale dtype (llm-compressor keeps
       FP8 scales in the model's dtype, BF16; blockscale writes F32) is a
       note, not a failure: decompression follows the stored dtype;
   (c) compressed-tensors' model-free dequantizer
       (`entrypoints.convert.converters.CompressedTensorsDequantizer`, the
       code behind its checkpoint converter), in float32, equals blockscale's
       dequantization bit for bit, every tensor. It picks linear weights by
       name only, so on float-quantized checkpoints it takes
       `model.embed_tokens.weight` for one and raises KeyError on the missing
       `weight_scale` (llm-compressor's own checkpoints too): that is
       printed as a note and it is run again with the non-linear modules in
       its `ignore` argument;
   (d) so does `AutoModelForCausalLM.from_pretrained(out,
       quantization_config=CompressedTensorsConfig(dequantize=True),
       dtype=torch.float32)` (transformers' compressed-tensors quantizer,
       which calls the same compressors module by module).
   compressed-tensors decompresses FP4 in bfloat16 (compressors/nvfp4/
   base.py: the unpacked values are bf16), so a tensor that differs in
   float32 but equals blockscale's float32 rounded to bfloat16 matches, and
   the output says which did which.
   Cases marked `pending` are formats blockscale does not write in this
   layout yet: while `convert` rejects them they are skipped with its
   message; once it accepts them they are checked like the others.
3. for each case of READ_CASES (one of llm-compressor's preset schemes:
   NVFP4A16, MXFP4A16, MXFP8A16, FP8 (per-tensor BF16 scale, static
   input_scale), FP8_DYNAMIC (per-channel), FP8_BLOCK (128x128, partial
   blocks too)): quantizes the same model as llm-compressor does, with
   compressed-tensors' code and not llm-compressor's (apply_quantization_config,
   the qparams of its min-max observer from calculate_qparams and
   generate_gparam, ModelCompressor compress_model, save_pretrained and
   update_config: the same files and config.json quantization_config), checks
   that the format and the tensors of one module are the case's (else the
   case, not blockscale, is wrong), then
   (a) `blockscale inspect` on the shard succeeds and names the layout
       (`compressed-tensors FORMAT`) on the quantized weight;
   (b) `blockscale dequantize CKPT -o DQ --dtype f32` succeeds, and DQ has
       exactly the original model's tensor names and no quantization_config;
   (c), (d) every tensor of DQ equals, bit for bit, compressed-tensors' own
       decompression as in 2 (c) and (d) (the model-free dequantizer also
       keeps input_scale, which blockscale drops: printed, not compared).
       compressed-tensors decompresses each quantized weight in its scale's
       or unpacked values' dtype, bf16 for all these presets (FP8: e4m3 times
       a BF16 scale, the product rounded once to bf16; NVFP4: e2m1 times
       scale / global_scale in f32, rounded to bf16), while blockscale's f32
       is the e4m3/e2m1 value times the scale, exact or in f32; so for the
       weights that compressed-tensors' compressor decompresses to bf16
       (found by running it on each module), blockscale's f32 rounded to bf16
       (round-to-nearest-even, as torch) may be what equals it, and the output
       counts those apart; any other tensor must equal it in f32.

4. with --write-golden DIR, instead of 1-3: for each preset of 3, writes
   DIR/<preset lowercase>/ (model.safetensors and config.json, as
   compressed-tensors' compressor saves them, for a tiny model of plain
   linear layers: GOLDEN_LINEARS and a BF16 norm weight), its
   expected/expected.safetensors (compressed-tensors' decompression, in the
   dtype it returns, checked against its model-free dequantizer and its
   in-memory decompress_model) and DIR/README.md; then, when BLOCKSCALE_BIN
   exists, checks that `blockscale dequantize` in f32, rounded to each
   expected dtype (nearest even), equals them bit for bit. The files are
   the committed tests/golden/compressed_tensors, read by the Rust tests
   without torch; the output is the same on every run.

Usage: python3 tests/compressed_tensors_check.py [--keep-going] [--keep DIR] [--write-golden DIR]
  --keep-going        run every check of a case even after one fails.
  --keep DIR          write the models under DIR and leave them there.
  --write-golden DIR  write the golden files of 4 under DIR (only that).
Environment: BLOCKSCALE_BIN (default target/release/blockscale, built with
`cargo build --release --features cli`; this script does not build it),
BLOCKSCALE_TF_VENV_DIR (default target/venv-transformers).
Exits non-zero when any case that ran, in either direction, failed; the last
line counts the cases of both.
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass

import pyenv

ROOT = pathlib.Path(__file__).resolve().parent.parent
CT_PIN = "compressed-tensors==0.20.1"
VENV_DIR = pathlib.Path(os.environ.get("BLOCKSCALE_TF_VENV_DIR", ROOT / "target" / "venv-transformers"))
STAMP = "blockscale-pins-compressed-tensors.txt"  # on top of pyenv.BASE_STAMP


def ensure_venv():
    """Re-run this script inside the shared virtual environment, installing
    transformers_gptoss.py's pins (as it does) and compressed-tensors the
    first time, or when a pin changes."""
    if os.environ.get("BLOCKSCALE_TF_VENV"):
        return
    # Read, not imported: importing it would run its own venv step.
    base = pyenv.module_constants(ROOT / "tests" / "transformers_gptoss.py", ["TORCH_PIN", "PINS", "TORCH_CPU_INDEX"],
                                  shown="tests/transformers_gptoss.py")
    py = pyenv.ensure_stamped_venv(VENV_DIR, STAMP, base["TORCH_PIN"], base["TORCH_CPU_INDEX"], base["PINS"], [CT_PIN])
    pyenv.rerun_in(py, __file__, "BLOCKSCALE_TF_VENV", str(VENV_DIR))


ensure_venv()
os.environ.setdefault("TQDM_DISABLE", "1")  # before tqdm is imported: compressed-tensors' progress bars

import compressed_tensors  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import AutoModelForCausalLM, CompressedTensorsConfig, LlamaConfig, LlamaForCausalLM  # noqa: E402

BIN = pathlib.Path(os.environ.get("BLOCKSCALE_BIN", ROOT / "target" / "release" / "blockscale"))

LAYERS, H, I, HEADS, KV_HEADS, HEAD_DIM, VOCAB = 2, 192, 256, 6, 2, 32, 128


@dataclass(frozen=True)
class Case:
    to: str  # `convert --to`
    layout: str  # `convert --layout`
    ct_format: str  # compressed-tensors' `format` the checkpoint should declare
    pending: str = ""  # non-empty: not written by blockscale yet; why it is listed


# One line a case. A pending case (a format blockscale is to write) is
# skipped, with convert's message, while convert rejects it.
CASES = [
    Case("nvfp4", "compressed-tensors", "nvfp4-pack-quantized"),
    Case("mxfp4", "compressed-tensors", "mxfp4-pack-quantized"),
    Case("mxfp8", "compressed-tensors", "mxfp8-quantized"),
    Case("fp8", "compressed-tensors", "float-quantized"),
    Case("fp8-channel", "compressed-tensors", "float-quantized"),
    Case("fp8-block,2d", "compressed-tensors", "float-quantized"),
]


@dataclass(frozen=True)
class ReadCase:
    preset: str  # llm-compressor's preset scheme (compressed-tensors quantization/quant_scheme.py)
    ct_format: str  # the `format` compressed-tensors' compressor declares for it
    down_proj: str  # what it writes for model.layers.0.mlp.down_proj (BF16 [192, 256]), checked first


# The other direction, one line a case: compressed-tensors' own compressor
# writes the checkpoint, blockscale reads it.
READ_CASES = [
    ReadCase("NVFP4A16", "nvfp4-pack-quantized",
             "weight_packed U8 [192, 128], weight_scale F8_E4M3 [192, 16], weight_global_scale F32 [1]"),
    ReadCase("MXFP4A16", "mxfp4-pack-quantized", "weight_packed U8 [192, 128], weight_scale U8 [192, 8]"),
    ReadCase("MXFP8A16", "mxfp8-quantized", "weight F8_E4M3 [192, 256], weight_scale U8 [192, 8]"),
    ReadCase("FP8", "float-quantized", "weight F8_E4M3 [192, 256], weight_scale BF16 [1], input_scale BF16 [1]"),
    ReadCase("FP8_DYNAMIC", "float-quantized", "weight F8_E4M3 [192, 256], weight_scale BF16 [192, 1]"),
    ReadCase("FP8_BLOCK", "float-quantized", "weight F8_E4M3 [192, 256], weight_scale BF16 [2, 2]"),
]


class CheckFailed(Exception):
    pass


class Rejected(Exception):
    pass


def fail_if(problems, what):
    if problems:
        shown = problems[:12] + ([f"... and {len(problems) - 12} more"] if len(problems) > 12 else [])
        raise CheckFailed(f"{what}:\n    " + "\n    ".join(shown))


class Steps:
    """Runs a case's checks in order, printing each; after a failure the
    rest are skipped unless `keep_going`. `ok` is false once one failed."""

    def __init__(self, keep_going):
        self.keep_going = keep_going
        self.ok = True

    def run(self, key, label, fn):
        if not self.ok and not self.keep_going:
            return None
        print(f"  ({key}) {label}")
        try:
            r = fn()
            print("    ok")
            return r
        except CheckFailed as e:
            print(f"  FAIL ({key}) {e}")
        except Exception as e:  # compressed-tensors' own error: say where it came from
            tb = traceback.extract_tb(e.__traceback__)
            where = next((f"{fr.filename.split('site-packages/')[-1]}:{fr.lineno} ({fr.name})"
                          for fr in reversed(tb) if "site-packages" in fr.filename), "")
            print(f"  FAIL ({key}) {type(e).__name__}: {e}" + (f"\n    raised at {where}" if where else ""))
        self.ok = False
        return None


def run_blockscale(*args):
    r = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True)
    return r.returncode, r.stderr.strip()


# ---------------------------------------------------------------- checkpoints

from hf_checkpoint import checkpoint_files, header, layout, tensors  # noqa: E402,F401


SAFETENSORS_DTYPE = {torch.uint8: "U8", torch.float8_e4m3fn: "F8_E4M3", torch.float32: "F32",
                     torch.bfloat16: "BF16", torch.float16: "F16", torch.int8: "I8", torch.int32: "I32"}


def make_model(outdir):
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=H, intermediate_size=I, num_hidden_layers=LAYERS,
        num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, head_dim=HEAD_DIM,
        max_position_embeddings=256, tie_word_embeddings=False, pad_token_id=0, bos_token_id=1, eos_token_id=2,
    )
    torch.manual_seed(20261130)
    model = LlamaForCausalLM(config).to(torch.bfloat16).eval()
    g = torch.Generator().manual_seed(20261130)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                v = 1 + 0.1 * torch.randn(p.shape, generator=g)
            elif p.ndim == 2 and "embed" not in name and "lm_head" not in name:
                # Vary the magnitude per 16 inputs so that the FP4 blocks get
                # many scales, and per row so that FP8 rows differ.
                v = torch.randn(p.shape, generator=g)
                mag = torch.exp2(torch.randint(-8, 3, (p.shape[0], p.shape[1] // 16), generator=g).float())
                v = v * mag.repeat_interleave(16, dim=1) * 0.05
                v[0, :32] = 0  # an all-zero block
                v[1, 5] = 0.1875  # amax exactly 6 * 2^-5
            else:
                v = 0.05 * torch.randn(p.shape, generator=g)
            p.copy_(v.to(p.dtype))
    model.save_pretrained(outdir)
    return config


# ---------------------------------------------------------------- checks

def quant_config(out_dir):
    cfg = json.loads((out_dir / "config.json").read_text())
    qc = cfg.get("quantization_config")
    if not isinstance(qc, dict):
        raise CheckFailed("config.json has no quantization_config")
    return qc


# llm-compressor's preset scheme for each format (quantization/quant_scheme.py),
# whose `weights` arguments the checkpoint's are compared with (notes only).
PRESET = {"nvfp4-pack-quantized": "NVFP4A16", "mxfp4-pack-quantized": "MXFP4A16", "mxfp8-quantized": "MXFP8A16",
          ("float-quantized", "block"): "FP8_BLOCK", ("float-quantized", "tensor"): "FP8",
          ("float-quantized", "channel"): "FP8_DYNAMIC"}


def check_config(case, out_dir, case_notes):
    from compressed_tensors.compressors import BaseCompressor
    from compressed_tensors.compressors.format import infer_module_format
    from compressed_tensors.quantization import QuantizationConfig, preset_name_to_scheme

    qc = quant_config(out_dir)
    problems = []
    for k, want in [("quant_method", "compressed-tensors"), ("format", case.ct_format),
                    ("quantization_status", "compressed")]:
        if qc.get(k) != want:
            problems.append(f"{k} is {qc.get(k)!r}, expected {want!r}")
    try:
        parsed = QuantizationConfig.model_validate(qc)
    except Exception as e:
        raise CheckFailed(f"compressed-tensors' QuantizationConfig rejects it: {e}")
    for name, scheme in parsed.config_groups.items():
        # The model-free dequantizer ignores `format` and infers it from the
        # scheme (ct_dequantizer.py __init__), so the two must agree.
        inferred = infer_module_format(torch.nn.Linear, scheme).value
        if inferred != case.ct_format:
            same = [BaseCompressor.get_value_from_registry(f).decompress.__func__ for f in (inferred, case.ct_format)]
            msg = (f"{name}: compressed-tensors infers format {inferred!r} from its scheme "
                   f"(compressors/format.py infer_module_format), the config says {case.ct_format!r}")
            if same[0] is same[1]:
                case_notes.append(msg + " (same decompression code)")
                print(f"    note: {case_notes[-1]}")
            else:
                problems.append(msg)
        w = scheme.weights
        preset = PRESET.get(case.ct_format) or PRESET.get((case.ct_format, w.strategy if w else None))
        if w is not None and preset:
            ref = preset_name_to_scheme(preset, ["Linear"]).weights.model_dump()
            got = w.model_dump()
            diff = [f"{k}={got.get(k)!r} (llm-compressor's {preset}: {ref.get(k)!r})"
                    for k in sorted(set(ref) | set(got)) if ref.get(k) != got.get(k)]
            if diff:
                case_notes.append(f"{name}.weights: " + ", ".join(diff))
                print(f"    note: {case_notes[-1]}")
    fail_if(problems, "config.json's quantization_config")
    return parsed


def expected_module_tensors(scheme, out_features, in_features):
    """{local name: (dtype, shape)} that compressed-tensors' own compressor
    writes for an nn.Linear [out, in] in BF16 under `scheme`."""
    from compressed_tensors.compressors.base import compress_module
    from compressed_tensors.quantization.lifecycle.initialize import initialize_module_for_quantization

    lin = torch.nn.Linear(in_features, out_features, bias=False, dtype=torch.bfloat16)
    with torch.no_grad():
        lin.weight.normal_()
    scheme = scheme.model_copy(deep=True)
    initialize_module_for_quantization(lin, scheme)
    with torch.no_grad():
        for n, p in lin.named_parameters():
            if n.endswith("_scale") or n.endswith("_global_scale"):
                p.fill_(1.0)
    compress_module(lin)
    out = {}
    for n, t in list(lin.named_parameters()) + list(lin.named_buffers()):
        out[n] = (SAFETENSORS_DTYPE.get(t.dtype, str(t.dtype)), list(t.shape))
    return out


def linear_modules(config):
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    return {n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}


def check_layout(case, parsed, orig_dir, out_dir, linears, case_notes):
    """Names and shapes as compressed-tensors' compressor writes them for
    every nn.Linear that config_groups targets and `ignore` leaves out."""
    from compressed_tensors.utils.match import match_name

    orig, got = layout(orig_dir), layout(out_dir)
    scheme = next(iter(parsed.config_groups.values()))
    ignore = parsed.ignore or []
    problems, notes, n_quant = [], set(), 0
    want_all = {}
    for name, (dtype, shape) in orig.items():
        module = name.rsplit(".", 1)[0]
        quantized = (name.endswith(".weight") and module in linears
                     and not any(match_name(module, ign) for ign in ignore))
        if not quantized:
            want_all[name] = (dtype, shape)
            continue
        n_quant += 1
        for local, ds in expected_module_tensors(scheme, *shape).items():
            want_all[f"{module}.{local}"] = ds
    for n in sorted(set(want_all) - set(got)):
        problems.append(f"missing {n} {want_all[n][0]} {want_all[n][1]}")
    for n in sorted(set(got) - set(want_all)):
        problems.append(f"unexpected {n} {got[n][0]} {got[n][1]}")
    for n in sorted(set(want_all) & set(got)):
        (wd, ws), (gd, gs) = want_all[n], got[n]
        if ws != gs:
            problems.append(f"{n}: shape {gs}, compressed-tensors writes {ws}")
        elif wd != gd:
            local = n.rsplit(".", 1)[1]
            if local == "weight_scale" and {wd, gd} <= {"F32", "BF16", "F16"}:
                notes.add(f"weight_scale is {gd}; compressed-tensors keeps it in the model's dtype ({wd}) "
                          f"(quantization/lifecycle/initialize.py initialize_qparams)")
            else:
                problems.append(f"{n}: dtype {gd}, compressed-tensors writes {wd}")
    fail_if(problems, "tensor names and shapes differ from compressed-tensors' own")
    example = sorted(k for k in want_all if ".layers.0.mlp.down_proj." in k)
    print(f"    {n_quant} linear weights quantized, {len(got)} tensors; e.g. "
          + ", ".join(f"{k.rsplit('.', 1)[1]} {got[k][0]} {got[k][1]}" for k in example))
    for n in sorted(notes):
        print(f"    note: {n}")
        case_notes.append(n)


def ct_dequantize(out_dir, linears, notes):
    """compressed-tensors' model-free dequantizer. It tells linear weights
    from others by name only (utils/match.py match_quantizable_tensors: any
    `*.weight` not under a `*norm` module when targets has "Linear"), so for
    formats whose quantized tensor is `weight` (float-quantized) it takes
    `model.embed_tokens.weight` for a quantized linear and fails on its
    missing `weight_scale`, for llm-compressor's checkpoints as for ours;
    then it is run again with the non-linear modules in its `ignore`
    argument, which exists for this, and the failure is kept as a note."""
    from compressed_tensors.entrypoints.convert.converters.ct_dequantizer import CompressedTensorsDequantizer

    try:
        deq = CompressedTensorsDequantizer(str(out_dir), dtype=torch.float32)
        out = deq.process(tensors(out_dir))
    except KeyError as e:
        missing = str(e.args[0]) if e.args else ""
        module = missing.rsplit(".", 1)[0]
        if module in linears or not missing:
            raise
        others = sorted({n.rsplit(".", 1)[0] for n in tensors(out_dir) if n.endswith(".weight")
                         and not n.rsplit(".", 1)[0].endswith("norm")} - linears)
        notes.append(f"model-free CompressedTensorsDequantizer raised KeyError {missing!r} "
                     f"(entrypoints/convert/converters/ct_dequantizer.py:117): it takes every `*.weight` outside "
                     f"`*norm` for a quantized linear (utils/match.py match_quantizable_tensors); "
                     f"ran again with ignore={others}")
        print(f"    note: {notes[-1]}")
        deq = CompressedTensorsDequantizer(str(out_dir), ignore=others, dtype=torch.float32)
        out = deq.process(tensors(out_dir))
    return {k: v.detach().to(torch.float32) for k, v in out.items()}


def transformers_dequantize(out_dir):
    model = AutoModelForCausalLM.from_pretrained(
        out_dir, quantization_config=CompressedTensorsConfig(dequantize=True), dtype=torch.float32)
    sd = model.state_dict()
    return {k: v.detach().to(torch.float32) for k, v in sd.items()}


def as_bits(t):
    return (t.to(torch.float32) + 0.0).contiguous().view(torch.int32)  # -0 taken as +0


def compare(what, got, ref, orig_names, bf16=None):
    """Bit-for-bit comparison of `got` (float32) with blockscale's float32
    dequantization `ref`, over the original checkpoint's tensor names. A
    tensor that differs may still equal `ref` rounded to bfloat16: accepted
    for the names in `bf16` (those compressed-tensors decompresses in
    bfloat16), or for any name when `bf16` is None."""
    problems, exact, via_bf16 = [], 0, 0
    for name in sorted(orig_names):
        if name not in got:
            problems.append(f"{name}: missing from {what}'s output")
            continue
        a, b = got[name], ref[name]
        if tuple(a.shape) != tuple(b.shape):
            problems.append(f"{name}: {what} {list(a.shape)}, blockscale {list(b.shape)}")
            continue
        if torch.equal(as_bits(a), as_bits(b)):
            exact += 1
            continue
        b16 = b.to(torch.bfloat16).to(torch.float32)
        rounded_ok = bf16 is None or name in bf16
        if rounded_ok and torch.equal(as_bits(a), as_bits(b16)):
            via_bf16 += 1
            continue
        cmp = b16 if rounded_ok else b
        bad = (as_bits(a) != as_bits(cmp)).nonzero()
        i = tuple(int(j) for j in bad[0])
        problems.append(f"{name}: {len(bad)} of {a.numel()} values differ"
                        + ("" if rounded_ok else " (compressed-tensors decompresses it in float32)")
                        + f"; first at {list(i)}: {what} {float(a[i])!r}, blockscale f32 {float(b[i])!r}"
                        + (f" (bf16 {float(b16[i])!r})" if rounded_ok else ""))
    fail_if(problems, f"{what} differs from blockscale dequantize")
    msg = f"{exact} tensors equal blockscale's f32 bit for bit"
    if via_bf16:
        msg += f", {via_bf16} equal it rounded to bf16 (compressed-tensors decompresses in bf16)"
    print(f"    {msg}")


def run_case(case, work, orig_dir, linears, keep_going):
    """Returns ('pass' | 'fail' | 'skip', notes)."""
    notes = []
    tag = case.to.replace(",", "_").replace("=", "-")
    out_dir, dq_dir = work / f"ct-{tag}", work / f"dq-{tag}"
    title = f"--to {case.to} --layout {case.layout}" + (f"  [pending: {case.pending}]" if case.pending else "")
    print(f"\n== {title}")
    t0 = time.time()
    rc, err = run_blockscale("convert", orig_dir, "--to", case.to, "--layout", case.layout, "-o", out_dir)
    if rc != 0:
        if case.pending:
            print(f"  SKIP: blockscale convert rejects it (exit {rc}): {err.splitlines()[-1] if err else ''}")
            return "skip", [f"convert: {err.splitlines()[-1] if err else ''}"]
        print(f"  FAIL convert (exit {rc}): {err}")
        return "fail", notes
    print(f"  convert: ok ({time.time() - t0:.1f} s)")
    rc, err = run_blockscale("dequantize", out_dir, "-o", dq_dir, "--dtype", "f32")
    ref = tensors(dq_dir) if rc == 0 else None
    orig_names = set(layout(orig_dir))
    parsed = None
    steps = Steps(keep_going)
    step = steps.run

    parsed = step("a", "config.json quantization_config, as compressed-tensors parses it",
                  lambda: check_config(case, out_dir, notes))
    if parsed is not None:
        step("b", "tensor names, dtypes and shapes vs compressed-tensors' own compressor",
             lambda: check_layout(case, parsed, orig_dir, out_dir, linears, notes))
    if ref is None:
        print(f"  FAIL blockscale dequantize (exit {rc}): {err}")
        return "fail", notes
    ct = step("c", "compressed-tensors CompressedTensorsDequantizer (model-free) vs blockscale dequantize",
              lambda: ct_dequantize(out_dir, linears, notes))
    if ct is not None:
        step("c", "  compare", lambda: compare("CompressedTensorsDequantizer", ct, ref, orig_names))
    tf = step("d", "transformers from_pretrained(CompressedTensorsConfig(dequantize=True)) vs blockscale dequantize",
              lambda: transformers_dequantize(out_dir))
    if tf is not None:
        step("d", "  compare", lambda: compare("transformers", tf, ref, orig_names))
    print(f"  {'PASS' if steps.ok else 'FAIL'} ({time.time() - t0:.1f} s)")
    return ("pass" if steps.ok else "fail"), notes


# ---------------------------------------------------------------- the other direction

def weight_observer_range(w, args):
    """min and max as llm-compressor's default (memoryless min-max) weight
    observer takes them for args.strategy, in the weight's dtype."""
    if args.strategy == "tensor":
        return w.amin().reshape(1), w.amax().reshape(1)
    if args.strategy == "channel":
        return w.amin(dim=1, keepdim=True), w.amax(dim=1, keepdim=True)
    if args.strategy in ("group", "tensor_group"):
        g = w.unflatten(-1, (-1, args.group_size))
        return g.amin(-1), g.amax(-1)
    if args.strategy == "block":
        from compressed_tensors.quantization.utils import maybe_pad_tensor_for_block_quant

        bh, bw = args.block_structure
        b = maybe_pad_tensor_for_block_quant(w, (bh, bw)).unflatten(0, (-1, bh)).unflatten(-1, (-1, bw))
        return b.amin((1, 3)), b.amax((1, 3))
    raise ValueError(f"no observer here for strategy {args.strategy!r}")


def llmc_quantize(preset, orig_dir, out_dir):
    """What llm-compressor does for a preset scheme with `ignore=["lm_head"]`,
    on CPU and without its package: apply_quantization_config, weight
    qparams from calculate_qparams (and generate_gparam for NVFP4's global
    scale) on each weight's min and max, a static input_scale from a random
    activation, then its save path: ModelCompressor.from_pretrained_model,
    compress_model, save_pretrained, update_config (which writes config.json's
    quantization_config)."""
    model = LlamaForCausalLM.from_pretrained(orig_dir, dtype=torch.bfloat16)
    comp = ct_quantize(preset, model)
    model.save_pretrained(out_dir)
    comp.update_config(out_dir)


def ct_quantize(preset, model):
    """llmc_quantize's steps up to compress_model, on any model whose
    nn.Linear modules are to be quantized; returns the ModelCompressor (its
    update_config writes config.json's quantization_config)."""
    from compressed_tensors.compressors import ModelCompressor
    from compressed_tensors.quantization import (QuantizationConfig, apply_quantization_config,
                                                 preset_name_to_scheme)
    from compressed_tensors.quantization.utils import calculate_qparams, generate_gparam

    apply_quantization_config(model, QuantizationConfig(
        config_groups={"group_0": preset_name_to_scheme(preset, ["Linear"])}, ignore=["lm_head"]),
        show_progress=False)
    g = torch.Generator().manual_seed(20261201)
    with torch.no_grad():
        for _, m in model.named_modules():
            scheme = getattr(m, "quantization_scheme", None)
            if scheme is None:
                continue
            args, w, gs = scheme.weights, m.weight.data, None
            if args.strategy == "tensor_group":
                gs = generate_gparam(w.amin().reshape(1), w.amax().reshape(1))
                m.weight_global_scale.copy_(gs)
            scale, _ = calculate_qparams(*weight_observer_range(w, args), args, global_scale=gs)
            m.weight_scale.copy_(scale.reshape(m.weight_scale.shape))
            ia = scheme.input_activations
            if ia is not None and not ia.dynamic:
                x = torch.randn(16, w.shape[1], generator=g).to(w.dtype)
                scale, _ = calculate_qparams(x.amin().reshape(1), x.amax().reshape(1), ia)
                m.input_scale.copy_(scale.reshape(m.input_scale.shape))
    comp = ModelCompressor.from_pretrained_model(model)
    comp.compress_model(model)
    return comp


def ct_bf16_weights(ckpt, linears):
    """Names of the weights that compressed-tensors' compressors decompress
    in bfloat16 (each module's decompress run on its own, its dtype read)."""
    from compressed_tensors.compressors import BaseCompressor
    from compressed_tensors.compressors.format import infer_module_format
    from compressed_tensors.quantization import QuantizationConfig

    from compressed_tensors.utils.match import match_name

    qc = QuantizationConfig.model_validate(quant_config(ckpt))
    t, out = tensors(ckpt), set()
    for scheme in qc.config_groups.values():
        comp = BaseCompressor.get_value_from_registry(infer_module_format(torch.nn.Linear, scheme).value)
        names = comp.compression_param_names(scheme)
        for m in linears:
            if f"{m}.{names[0]}" in t and not any(match_name(m, ign) for ign in qc.ignore or []):
                sd = {n: t[f"{m}.{n}"] for n in names if f"{m}.{n}" in t}
                if comp.decompress(sd, scheme)["weight"].dtype == torch.bfloat16:
                    out.add(f"{m}.weight")
    return out


def run_read_case(case, work, orig_dir, linears, keep_going):
    """Returns ('pass' | 'fail' | 'skip', notes)."""
    from compressed_tensors.quantization.quant_scheme import PRESET_SCHEMES

    notes = []
    ckpt, dq_dir = work / f"llmc-{case.preset}", work / f"llmc-{case.preset}-dq"
    print(f"\n== compressed-tensors {case.preset} ({case.ct_format}) -> blockscale dequantize")
    if case.preset not in PRESET_SCHEMES:
        print(f"  SKIP: compressed-tensors {compressed_tensors.__version__} has no preset {case.preset}")
        return "skip", [f"no preset {case.preset} in compressed-tensors {compressed_tensors.__version__}"]
    t0 = time.time()
    try:
        llmc_quantize(case.preset, orig_dir, ckpt)
    except Exception as e:
        print(f"  FAIL quantizing with compressed-tensors: {type(e).__name__}: {e}")
        return "fail", notes
    qc, lay = quant_config(ckpt), layout(ckpt)
    mod = "model.layers.0.mlp.down_proj"
    got = ", ".join(f"{k[len(mod) + 1:]} {d} {list(sh)}" for k, (d, sh) in sorted(lay.items())
                    if k.startswith(mod + "."))
    want = sorted(case.down_proj.split(", "))
    if qc.get("format") != case.ct_format or sorted(got.split(", ")) != want:
        print(f"  FAIL compressed-tensors wrote format {qc.get('format')!r}, {mod}: {got}; "
              f"the case expects {case.ct_format!r}, {case.down_proj}")
        return "fail", notes
    print(f"  compressed-tensors {compressed_tensors.__version__}: {qc['format']}, {mod}: {got} "
          f"({time.time() - t0:.1f} s)")
    steps = Steps(keep_going)
    step = steps.run

    def inspect():
        shard = checkpoint_files(ckpt)[0]
        r = subprocess.run([str(BIN), "inspect", str(shard)], capture_output=True, text=True)
        if r.returncode != 0:
            raise CheckFailed(f"blockscale inspect {shard.name} exit {r.returncode}: {r.stderr.strip()}")
        name = mod + (".weight_packed" if mod + ".weight_packed" in lay else ".weight")
        line = next((ln.strip() for ln in r.stdout.splitlines() if ln.strip().startswith(name + " ")), "")
        if f"compressed-tensors {case.ct_format}" not in line:
            raise CheckFailed(f"blockscale inspect {shard.name} does not name the layout "
                              f"'compressed-tensors {case.ct_format}' for {name}: {line or '(no line)'}")
        print(f"    {' '.join(line.split())}")

    def dequantize():
        rc, err = run_blockscale("dequantize", ckpt, "-o", dq_dir, "--dtype", "f32")
        if rc != 0:
            raise CheckFailed(f"blockscale dequantize exit {rc}: {err}")
        names, want = set(layout(dq_dir)), set(layout(orig_dir))
        problems = [f"missing {n}" for n in sorted(want - names)] + [f"unexpected {n}" for n in sorted(names - want)]
        if "quantization_config" in json.loads((dq_dir / "config.json").read_text()):
            problems.append("its config.json keeps quantization_config")
        fail_if(problems, "the dequantized checkpoint is not the original model's tensors")
        return tensors(dq_dir)

    step("a", "blockscale inspect names the layout", inspect)
    ref = step("b", f"blockscale dequantize {ckpt.name} -o DQ --dtype f32: the original model's tensors, "
                    f"no quantization_config", dequantize)
    if ref is None:
        print(f"  FAIL ({time.time() - t0:.1f} s)")
        return "fail", notes
    bf16 = ct_bf16_weights(ckpt, linears)
    print(f"  compressed-tensors decompresses {len(bf16)} weights in bf16 (one rounding of the exact product): "
          f"for those blockscale's f32 (e4m3/e2m1 times the scale, exact) may equal it only once rounded to bf16; "
          f"every other tensor must equal it in f32")
    ct = step("c", "compressed-tensors CompressedTensorsDequantizer (model-free) vs blockscale dequantize",
              lambda: ct_dequantize(ckpt, linears, notes))
    if ct is not None:
        step("c", "  compare", lambda: compare("CompressedTensorsDequantizer", ct, ref, set(ref), bf16))
        extra = sorted(set(ct) - set(ref))
        if extra:
            print(f"    (its output also keeps {len(extra)} tensors that blockscale's drops, e.g. {extra[0]})")
    tf = step("d", "transformers from_pretrained(CompressedTensorsConfig(dequantize=True)) vs blockscale dequantize",
              lambda: transformers_dequantize(ckpt))
    if tf is not None:
        step("d", "  compare", lambda: compare("transformers", tf, ref, set(ref), bf16))
    print(f"  {'PASS' if steps.ok else 'FAIL'} ({time.time() - t0:.1f} s)")
    return ("pass" if steps.ok else "fail"), notes


# ---------------------------------------------------------------- golden files

# --write-golden: a tiny model of plain linear layers (realistic names, no
# transformers model class) for each preset of READ_CASES. q_proj's input
# and down_proj's are multiples of 32 (MX blocks) and 16 (NVFP4 groups);
# down_proj [130, 160] has whole and partial 128x128 FP8 blocks both ways.
GOLDEN_SEED = 20261202
GOLDEN_LINEARS = {"model.layers.0.self_attn.q_proj": (32, 64), "model.layers.0.mlp.down_proj": (130, 160)}
GOLDEN_NORM = ("model.layers.0.input_layernorm", 64)  # left in BF16 (compressed-tensors skips `*norm`)
# Not beside model.safetensors: blockscale (like other readers) takes every
# *.safetensors of an index-less directory for a shard of the checkpoint.
GOLDEN_EXPECTED = "expected/expected.safetensors"
GOLDEN_REGEN = "python3 tests/compressed_tensors_check.py --write-golden tests/golden/compressed_tensors"


def golden_model():
    """The nn.Module tree: BF16 weights, random with GOLDEN_SEED (rounded to
    BF16 once, so the source is exact in BF16), the magnitude varied per 16
    inputs and per row, a few outliers (x64), one all-zero row each."""
    g = torch.Generator().manual_seed(GOLDEN_SEED)

    def node(**children):
        m = torch.nn.Module()
        for k, v in children.items():
            setattr(m, k, v)
        return m

    lin = {}
    for name, (out_f, in_f) in GOLDEN_LINEARS.items():
        m = torch.nn.Linear(in_f, out_f, bias=False, dtype=torch.bfloat16)
        v = torch.randn(out_f, in_f, generator=g)
        mag = torch.exp2(torch.randint(-8, 3, (out_f, in_f // 16), generator=g).float())
        v = v * mag.repeat_interleave(16, dim=1) * 0.05
        idx = torch.randint(0, out_f * in_f, (6,), generator=g)
        v.view(-1)[idx] *= 64  # outliers
        v[3] = 0  # an all-zero row
        with torch.no_grad():
            m.weight.copy_(v.to(torch.bfloat16))
        lin[name.rsplit(".", 1)[1]] = m
    norm = torch.nn.Module()
    norm.weight = torch.nn.Parameter((1 + 0.1 * torch.randn(GOLDEN_NORM[1], generator=g)).to(torch.bfloat16))
    layer = node(self_attn=node(q_proj=lin["q_proj"]), mlp=node(down_proj=lin["down_proj"]), input_layernorm=norm)
    return node(model=node(layers=torch.nn.ModuleList([layer])))


def read_raw(path):
    """{name: (safetensors dtype, shape, numpy array of the raw bits)}, with
    numpy only (it has no bfloat16), as the Rust test reads them."""
    raw = pathlib.Path(path).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    h = json.loads(raw[8:8 + n])
    h.pop("__metadata__", None)
    bits = {"F32": np.uint32, "BF16": np.uint16, "F16": np.uint16}
    out = {}
    for k, v in h.items():
        a, b = v["data_offsets"]
        dt = bits.get(v["dtype"], np.uint8)
        out[k] = (v["dtype"], list(v["shape"]), np.frombuffer(raw[8 + n + a:8 + n + b], dtype=dt).reshape(v["shape"]))
    return out


def f32_bits_to(bits32, dtype):
    """float32 bits rounded to `dtype` (round to nearest even), as bits."""
    if dtype == "F32":
        return bits32
    if dtype == "F16":
        return bits32.view(np.float32).astype(np.float16).view(np.uint16)
    if dtype == "BF16":
        u = bits32.astype(np.uint64)
        r = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
        nan = (bits32 & 0x7FFFFFFF) > 0x7F800000
        return np.where(nan, (bits32 >> 16) | 0x40, r).astype(np.uint16)
    raise ValueError(dtype)


def golden_expected(ckpt):
    """compressed-tensors' model-free decompression of `ckpt`, as
    CompressedTensorsDequantizer.process does it (same matching, same
    compressor.decompress) but without its final `.to(dtype)`: each weight in
    the dtype its compressor returns; the other tensors as stored."""
    from compressed_tensors.compressors import BaseCompressor
    from compressed_tensors.compressors.format import infer_module_format
    from compressed_tensors.quantization import QuantizationConfig
    from compressed_tensors.utils.match import match_quantizable_tensors

    qc = QuantizationConfig.model_validate(quant_config(ckpt))
    t, out = tensors(ckpt), {}
    for scheme in qc.config_groups.values():
        comp = BaseCompressor.get_value_from_registry(infer_module_format(torch.nn.Linear, scheme).value)
        names = comp.compression_param_names(scheme)
        for module, _ in list(match_quantizable_tensors(t, ignore=qc.ignore, targets=scheme.targets,
                                                         param_targets=[names[0]])):
            sd = {n: t.pop(f"{module}.{n}") for n in names}
            out[f"{module}.weight"] = comp.decompress(sd, scheme)["weight"]
    out.update({k: v for k, v in t.items() if k.endswith(".weight")})  # not input_scale: not an original tensor
    return out


def write_golden(root):
    """Returns the number of presets that failed a check."""
    from safetensors.torch import save_file

    root.mkdir(parents=True, exist_ok=True)
    failed, rows = 0, []
    for case in READ_CASES:
        d = root / case.preset.lower()
        exp_file = d / GOLDEN_EXPECTED
        exp_file.parent.mkdir(parents=True, exist_ok=True)
        for f in (d / "model.safetensors", d / "config.json", exp_file):
            f.unlink(missing_ok=True)
        print(f"\n== {case.preset} -> {d}")
        model = golden_model()
        orig = {k: v.clone() for k, v in model.state_dict().items()}
        comp = ct_quantize(case.preset, model)
        # What save_pretrained writes (its safetensors metadata too) and what
        # update_config adds; no config.json before it, so only quantization_config.
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()},
                  str(d / "model.safetensors"), metadata={"format": "pt"})
        comp.update_config(str(d))
        qc, problems = quant_config(d), []
        if qc.get("format") != case.ct_format:
            problems.append(f"format {qc.get('format')!r}, expected {case.ct_format!r}")
        exp = golden_expected(d)
        if sorted(exp) != sorted(orig):
            problems.append(f"decompressed names {sorted(exp)}, original {sorted(orig)}")
        # The same values by compressed-tensors' two other paths: the model-free
        # dequantizer (in f32) and decompress_model on the model in memory.
        notes = []
        other = ct_dequantize(d, set(GOLDEN_LINEARS), notes)
        comp.decompress_model(model)
        mem = model.state_dict()
        for k, v in exp.items():
            if not torch.equal(as_bits(other[k]), as_bits(v)):
                problems.append(f"{k}: CompressedTensorsDequantizer differs")
            if mem[k].dtype != v.dtype or not torch.equal(as_bits(mem[k]), as_bits(v)):
                problems.append(f"{k}: decompress_model differs ({mem[k].dtype}, {v.dtype})")
        save_file({k: v.contiguous() for k, v in sorted(exp.items())}, str(exp_file), metadata={"format": "pt"})
        for k, (dt, sh) in sorted(layout(d).items()):
            print(f"  model.safetensors   {k} {dt} {sh}")
        for k, (dt, sh) in sorted(layout_of(exp_file).items()):
            print(f"  {GOLDEN_EXPECTED} {k} {dt} {sh}")
        rows.append((case, qc, layout(d), layout_of(exp_file)))
        if BIN.exists():
            problems += verify_golden(d)
        else:
            print(f"  (not checked against blockscale: {BIN} not found)")
        for p in problems:
            print(f"  FAIL {p}")
        print(f"  {'FAIL' if problems else 'ok'}")
        failed += bool(problems)
    write_golden_readme(root, rows)
    return failed


def layout_of(path):
    return {k: (v["dtype"], list(v["shape"])) for k, v in header(path).items()}


def verify_golden(d):
    """`blockscale dequantize d -o DQ --dtype f32`, rounded to each expected
    tensor's dtype (nearest even), equals expected.safetensors bit for bit."""
    problems = []
    with tempfile.TemporaryDirectory(prefix="blockscale-golden-") as tmp:
        dq = pathlib.Path(tmp) / "dq"
        rc, err = run_blockscale("dequantize", d, "-o", dq, "--dtype", "f32")
        if rc != 0:
            return [f"blockscale dequantize exit {rc}: {err}"]
        got = {}
        for f in checkpoint_files(dq):
            got.update(read_raw(f))
    want = read_raw(d / GOLDEN_EXPECTED)
    if sorted(got) != sorted(want):
        return [f"blockscale's names {sorted(got)}, expected {sorted(want)}"]
    for k, (dt, sh, bits) in sorted(want.items()):
        gdt, gsh, gbits = got[k]
        if gsh != sh or gdt not in ("F32", dt):
            problems.append(f"{k}: blockscale {gdt} {gsh}, expected F32 (or {dt}, passed through) {sh}")
            continue
        r = f32_bits_to(gbits, dt) if gdt == "F32" else gbits
        bad = np.argwhere(r != bits)
        how = f"f32 -> {dt}" if gdt == "F32" else f"{dt} kept"
        print(f"  blockscale {how}: {k} {'equal' if not len(bad) else f'{len(bad)} differ'}")
        if len(bad):
            i = tuple(bad[0])
            problems.append(f"{k}: {len(bad)} of {bits.size} differ; first at {list(i)}: "
                            f"blockscale {gbits[i].view(np.float32)!r} -> {r[i]:#x}, expected {bits[i]:#x}")
    return problems


def write_golden_readme(root, rows):
    lines = [
        "# compressed-tensors golden checkpoints",
        "",
        f"Written by `tests/compressed_tensors_check.py --write-golden` with compressed-tensors "
        f"{compressed_tensors.__version__} (torch {torch.__version__.split('+')[0]}, CPU). Regenerate with:",
        "",
        f"    {GOLDEN_REGEN}",
        "",
        "One directory per llm-compressor preset scheme, each quantized by compressed-tensors' own code "
        "(apply_quantization_config, calculate_qparams / generate_gparam on min-max, "
        "ModelCompressor.compress_model, update_config), `ignore=[\"lm_head\"]` as llm-compressor's examples (no "
        "lm_head here, so config.json's `ignore` is empty):",
        "",
        "- `model.safetensors`, `config.json`: the compressed checkpoint as saved (config.json holds only "
        "`quantization_config`).",
        f"- `{GOLDEN_EXPECTED}` (in a subdirectory: readers take every `*.safetensors` of the checkpoint "
        "directory for a shard): compressed-tensors' decompression of it (each compressor's `decompress`, "
        "as its model-free CompressedTensorsDequantizer, without the final cast), under the original tensor "
        "names, in the dtype compressed-tensors returns. `blockscale dequantize DIR -o OUT --dtype f32`, "
        "rounded to that dtype (nearest even), equals it bit for bit (blockscale keeps the unquantized norm "
        "in BF16).",
        "",
        f"Tiny model of plain `nn.Linear`s (no bias), BF16, seed {GOLDEN_SEED} (torch.Generator): "
        + ", ".join(f"`{n}` [{o}, {i}]" for n, (o, i) in GOLDEN_LINEARS.items())
        + f", and `{GOLDEN_NORM[0]}.weight` [{GOLDEN_NORM[1]}] left in BF16. Weights are randn x 0.05 x 2^k "
        "(k in [-8, 2] per row and 16 inputs), 6 outliers x64 and row 3 all zero in each linear; "
        "down_proj has whole and partial 128x128 blocks.",
        "",
        "| directory | format | quantized tensors (down_proj) | expected dtypes |",
        "|---|---|---|---|",
    ]
    mod = "model.layers.0.mlp.down_proj."
    for case, qc, lay, exp in rows:
        q = ", ".join(f"`{k[len(mod):]}` {dt} {sh}" for k, (dt, sh) in sorted(lay.items()) if k.startswith(mod))
        e = ", ".join(sorted({dt for dt, _ in exp.values()}))
        lines.append(f"| `{case.preset.lower()}/` | {qc['format']} | {q} | {e} |")
    (root / "README.md").write_text("\n".join(lines) + "\n")


def main():
    from loguru import logger

    logger.disable("compressed_tensors")  # per-module warnings, e.g. partial 128x128 blocks
    warnings.filterwarnings("ignore", message=".*already has a `quantization_config`.*")
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    os.environ.setdefault("TQDM_DISABLE", "1")
    args = sys.argv[1:]
    keep_going = "--keep-going" in args
    keep = pathlib.Path(args[args.index("--keep") + 1]) if "--keep" in args else None
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, transformers {transformers.__version__}, "
          f"compressed-tensors {compressed_tensors.__version__}, numpy {np.__version__}")
    if "--write-golden" in args:
        failed = write_golden(pathlib.Path(args[args.index("--write-golden") + 1]))
        print(f"\ncompressed_tensors_check --write-golden: {len(READ_CASES) - failed} presets ok, {failed} failed")
        return 1 if failed else 0
    if not BIN.exists():
        print(f"FAIL: {BIN} not found; build it with `cargo build --release --features cli`")
        return 2
    t0 = time.time()
    results = {}
    with tempfile.TemporaryDirectory(prefix="blockscale-ct-") as tmp:
        work = keep or pathlib.Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        orig_dir = work / "bf16"
        config = make_model(orig_dir)
        linears = linear_modules(config)
        print(f"tiny Llama: {LAYERS} layers, hidden {H}, intermediate {I}, {HEADS} heads of {HEAD_DIM} "
              f"({KV_HEADS} KV), vocab {VOCAB}, bf16; saved to {orig_dir}")
        print("\n# blockscale writes, compressed-tensors reads")
        for case in CASES:
            results[case] = run_case(case, work, orig_dir, linears, keep_going)
        print("\n# compressed-tensors writes, blockscale reads")
        for case in READ_CASES:
            results[case] = run_read_case(case, work, orig_dir, linears, keep_going)
    print("\nsummary:")
    for case, (r, notes) in results.items():
        if isinstance(case, ReadCase):
            print(f"  {r.upper():4} compressed-tensors {case.preset} ({case.ct_format}) -> blockscale dequantize")
        else:
            print(f"  {r.upper():4} --to {case.to} --layout {case.layout}" + (" (pending)" if case.pending else ""))
        for n in notes:
            print(f"         note: {n}")
    results = {c: r for c, (r, _) in results.items()}
    passed = sum(r == "pass" for r in results.values())
    failed = sum(r == "fail" for r in results.values())
    skipped = sum(r == "skip" for r in results.values())
    print(f"ran in {time.time() - t0:.1f} s")
    print(f"compressed_tensors_check: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
