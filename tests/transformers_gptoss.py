#!/usr/bin/env python3
"""Check that `blockscale convert --to mxfp4` writes a gpt-oss checkpoint that
Hugging Face transformers loads, with the numbers blockscale promises.

Installs CPU torch and transformers from PyPI into a virtual environment kept
in target/venv-transformers (reused between runs: only the first run pays for
the install), then:

1. builds a tiny random `GptOssForCausalLM` (2 layers, 4 experts of
   hidden 64 / intermediate 96, so that a missing transpose changes shapes)
   in bfloat16 and `save_pretrained`s it;
2. runs `blockscale convert --to mxfp4` on it;
3. checks, stopping at the first failing step:
   (a) the tensor names, dtypes and shapes are gpt-oss's MXFP4 layout:
       `model.layers.N.mlp.experts.gate_up_proj_blocks` U8 [E, 2I, H/32, 16],
       `..._scales` U8 [E, 2I, H/32], `down_proj_blocks` U8 [E, H, I/32, 16],
       `down_proj_scales` U8 [E, H, I/32] (blocks of 32 along each expert
       matrix's input dimension, which transformers stores first:
       `gate_up_proj` [E, H, 2I], `down_proj` [E, I, H]); everything else
       (attention, router, sinks, embeddings, norms, biases, lm_head)
       unchanged, byte for byte;
   (b) config.json has `quantization_config` = {"quant_method": "mxfp4",
       "modules_to_not_convert": [...]} with the four entries of gpt-oss's
       published config;
   (c) `GptOssForCausalLM.from_pretrained(out, quantization_config=
       Mxfp4Config(dequantize=True), dtype=torch.bfloat16)` loads on CPU with
       no missing, unexpected or mismatched keys; every expert weight equals,
       bit for bit, the original BF16 weight fake-quantized to MXFP4 by an
       independent numpy quantizer along the input dimension (RCEIL, the
       crate's default rule, or OCP FLOOR: the script says which matched);
       and the logits equal those of the original model with those
       fake-quantized experts substituted (loose tolerance);
   (d) `blockscale dequantize` on the converted directory gives back the
       original names, dtypes and shapes, with the expert weights equal to
       the ones transformers loaded and every other tensor unchanged.

Usage: python3 tests/transformers_gptoss.py [--keep-going]
  --keep-going  run every step even after one fails (for diagnosis).
Environment: BLOCKSCALE_BIN (default target/release/blockscale, built with
`cargo build --release --features cli`; this script does not build it),
BLOCKSCALE_TF_VENV_DIR (default target/venv-transformers).
Exits non-zero on any failure.
"""

import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import pyenv

ROOT = pathlib.Path(__file__).resolve().parent.parent
TORCH_PIN = "torch==2.15.0"
PINS = ["transformers==5.24.0", "safetensors==0.8.0", "numpy==2.4.6"]
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
VENV_DIR = pathlib.Path(os.environ.get("BLOCKSCALE_TF_VENV_DIR", ROOT / "target" / "venv-transformers"))


def ensure_venv():
    """Re-run this script inside the virtual environment, installing the pins
    the first time (or when they change)."""
    if os.environ.get("BLOCKSCALE_TF_VENV"):
        return
    py = pyenv.ensure_stamped_venv(VENV_DIR, pyenv.BASE_STAMP, TORCH_PIN, TORCH_CPU_INDEX, PINS)
    pyenv.rerun_in(py, __file__, "BLOCKSCALE_TF_VENV", str(VENV_DIR))


ensure_venv()

import numpy as np  # noqa: E402
import safetensors  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import GptOssConfig, GptOssForCausalLM, Mxfp4Config  # noqa: E402
from transformers.quantizers.quantizers_utils import should_convert_module  # noqa: E402

BIN = pathlib.Path(os.environ.get("BLOCKSCALE_BIN", ROOT / "target" / "release" / "blockscale"))

# The tiny model: every expert input dimension (H for gate_up, I for down) a
# multiple of 32, and H != I so that a missing transpose changes the shapes.
E, TOPK, H, I, LAYERS, VOCAB = 4, 2, 64, 96, 2, 128
# gpt-oss's published quantization_config (openai/gpt-oss-20b and -120b
# config.json; transformers' models/gpt_oss/convert_gpt_oss_weights_to_hf.py
# writes the same list).
OFFICIAL_NOT_CONVERT = ["model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]
EXPERT_RE = r"model\.layers\.(\d+)\.mlp\.experts\.(gate_up_proj|down_proj)"


class StepFailed(Exception):
    pass


def fail_if(problems, what):
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise StepFailed(f"{what}:\n  " + "\n  ".join(shown))


# ---------------------------------------------------------------- numpy MXFP4
# An independent reference: OCP MX v1.0 MXFP4 (E2M1 elements, E8M0 shared
# scale per 32 consecutive elements), elements rounded to nearest, ties to
# even, saturating at ±6.

def e2m1_round(y):
    """Round float64 `y` to the nearest E2M1 value (ties to even mantissa),
    saturating at ±6. E2M1 spacing is 0.5 below 2, 1 in [2, 4), 2 from 4."""
    a = np.abs(y)
    step = np.where(a < 2, 0.5, np.where(a < 4, 1.0, 2.0))
    q = np.minimum(np.round(a / step) * step, 6.0)  # np.round: half to even
    return np.copysign(q, y)


def mx_scale_exponent(amax, rule):
    """The E8M0 exponent of each block's scale (clamped to [-127, 127]).
    floor: OCP §6.3, floor(log2 amax) - emax(E2M1)=2.
    rceil: Transformer Engine / cuBLAS, ceil(log2(f32(amax * f32(1/6))))."""
    amax = amax.astype(np.float32)
    if rule == "floor":
        _, e = np.frexp(amax)  # amax = m * 2^e, m in [0.5, 1)
        exp = e.astype(np.int64) - 1 - 2
    elif rule == "rceil":
        t = (amax * (np.float32(1.0) / np.float32(6.0))).astype(np.float32)
        m, e = np.frexp(t)
        exp = np.where(m == 0.5, e - 1, e).astype(np.int64)
    else:
        raise ValueError(rule)
    exp = np.where(amax == 0, -127, exp)
    return np.clip(exp, -127, 127)


def mxfp4_fake_quantize(x, axis, rule):
    """Quantize float32 `x` to MXFP4 in blocks of 32 along `axis` and return
    the dequantized float32 values."""
    x = np.moveaxis(np.asarray(x, dtype=np.float32), axis, -1)
    shape = x.shape
    assert shape[-1] % 32 == 0, shape
    b = x.reshape(*shape[:-1], shape[-1] // 32, 32).astype(np.float64)
    amax = np.abs(b).max(axis=-1)
    scale = np.ldexp(1.0, mx_scale_exponent(amax, rule))[..., None]
    q = e2m1_round(b / scale) * scale  # exact: power-of-two scales
    return np.moveaxis(q.reshape(shape).astype(np.float32), -1, axis)


def bits_equal(a, b):
    """Bit-for-bit float32 equality, with -0 taken as +0."""
    a = np.asarray(a, dtype=np.float32) + np.float32(0)
    b = np.asarray(b, dtype=np.float32) + np.float32(0)
    return a.shape == b.shape and bool(np.array_equal(a.view(np.uint32), b.view(np.uint32)))


# ---------------------------------------------------------------- safetensors

from hf_checkpoint import checkpoint_files, header, layout, tensors  # noqa: E402,F401


def f32(t):
    return t.detach().to(torch.float32).cpu().numpy()


def blockscale(*args):
    r = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        raise StepFailed(f"blockscale {' '.join(map(str, args))} exited {r.returncode}:\n{r.stderr.strip()}")


# ---------------------------------------------------------------- the model

def make_model(outdir):
    config = GptOssConfig(
        vocab_size=VOCAB, hidden_size=H, intermediate_size=I, num_hidden_layers=LAYERS,
        num_local_experts=E, num_experts_per_tok=TOPK, num_attention_heads=4, num_key_value_heads=2,
        head_dim=16, sliding_window=8, max_position_embeddings=131072, tie_word_embeddings=False,
        pad_token_id=0, bos_token_id=1, eos_token_id=2,
    )
    torch.manual_seed(20261130)
    model = GptOssForCausalLM(config).to(torch.bfloat16).eval()
    g = torch.Generator().manual_seed(20261130)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                v = 1 + 0.1 * torch.randn(p.shape, generator=g)
            elif name.endswith(("experts.gate_up_proj", "experts.down_proj")):
                # Vary the magnitude per 32-block along the input dimension
                # (axis 1) so the blocks get many different scales.
                v = torch.randn(p.shape, generator=g)
                mag = torch.exp2(torch.randint(-6, 3, (p.shape[0], p.shape[1] // 32, p.shape[2]), generator=g))
                v = v * mag.repeat_interleave(32, dim=1) * 0.05
                v[0, :32, 0] = 0  # an all-zero block
                v[0, :32, 1] = 0.01 * torch.randn(32, generator=g)
                v[0, 5, 1] = 0.1875  # amax exactly 6 * 2^-5
            else:
                v = 0.05 * torch.randn(p.shape, generator=g)
            p.copy_(v.to(p.dtype))
    model.save_pretrained(outdir)
    return config


def expected_layout(orig):
    """The gpt-oss MXFP4 layout of checkpoint layout `orig`."""
    want = {}
    for name, (dtype, shape) in orig.items():
        if re.fullmatch(EXPERT_RE, name):
            e, k, n = shape  # stored [E, in, out]; MXFP4 is [E, out, in/32, 16]
            want[name + "_blocks"] = ("U8", [e, n, k // 32, 16])
            want[name + "_scales"] = ("U8", [e, n, k // 32])
        else:
            want[name] = (dtype, shape)
    return want


# ---------------------------------------------------------------- steps

def step_a_layout(orig_dir, out_dir):
    orig, got = layout(orig_dir), layout(out_dir)
    want = expected_layout(orig)
    problems = [f"{n}: {got[n][0]} {got[n][1]}, transformers' gpt-oss MXFP4 layout wants {want[n][0]} {want[n][1]}"
                for n in sorted(set(want) & set(got)) if got[n] != want[n]]
    problems += [f"missing {n} {want[n][0]} {want[n][1]}" for n in sorted(set(want) - set(got))]
    problems += [f"unexpected {n} {got[n][0]} {got[n][1]} (gpt-oss keeps only the experts in MXFP4)"
                 for n in sorted(set(got) - set(want))]
    fail_if(problems, "converted tensors are not gpt-oss's MXFP4 layout")
    ot, ct = tensors(orig_dir), tensors(out_dir)
    for name in sorted(orig):
        if name in want and name in ct and not (ct[name].view(torch.uint8).flatten().equal(
                ot[name].view(torch.uint8).flatten())):
            problems.append(f"{name}: kept tensor's bytes changed")
    fail_if(problems, "unquantized tensors were not copied unchanged")
    n_expert = sum(1 for k in got if k.endswith("_blocks"))
    print(f"  {len(got)} tensors: {n_expert} expert weights in MXFP4 blocks/scales, "
          f"{len(got) - 2 * n_expert} unchanged (attention, router, sinks, embeddings, norms, biases, lm_head)")


def step_b_config(out_dir, model_names):
    cfg = json.loads((out_dir / "config.json").read_text())
    qc = cfg.get("quantization_config")
    if not isinstance(qc, dict):
        raise StepFailed("config.json has no quantization_config")
    problems = []
    if qc.get("quant_method") != "mxfp4":
        problems.append(f"quant_method is {qc.get('quant_method')!r}, gpt-oss has 'mxfp4'")
    mnc = qc.get("modules_to_not_convert")
    if not isinstance(mnc, list) or sorted(mnc) != sorted(OFFICIAL_NOT_CONVERT):
        problems.append(f"modules_to_not_convert is {mnc!r}; gpt-oss's config has {OFFICIAL_NOT_CONVERT!r}")
    if isinstance(mnc, list):
        # As transformers reads the list (quantizers_utils.should_convert_module).
        for m in model_names:
            if m.endswith(".mlp.experts") and not should_convert_module(m, mnc):
                problems.append(f"modules_to_not_convert would keep {m} unquantized")
    fail_if(problems, "config.json's quantization_config is not gpt-oss's")
    print(f"  quantization_config = {json.dumps(qc)}")


def step_c_load(orig_dir, out_dir):
    t0 = time.time()
    # `dtype` is transformers 5's name for `torch_dtype` (still accepted, deprecated).
    # ignore_mismatched_sizes=True turns transformers' "size mismatch" error
    # into entries of the loading info, so that all of them are reported here.
    try:
        model, info = GptOssForCausalLM.from_pretrained(
            out_dir, quantization_config=Mxfp4Config(dequantize=True), dtype=torch.bfloat16,
            output_loading_info=True, ignore_mismatched_sizes=True)
    except Exception as e:
        raise StepFailed(f"transformers could not load the converted checkpoint: {type(e).__name__}: {e}")
    model.eval()
    problems = []
    for k, what in [("mismatched_keys", "size mismatch"), ("missing_keys", "missing from the checkpoint"),
                    ("unexpected_keys", "unexpected in the checkpoint")]:
        for v in sorted(info.get(k) or [], key=str):
            if k == "mismatched_keys" and isinstance(v, (tuple, list)) and len(v) == 3:
                v = f"{v[0]}: checkpoint {list(v[1])}, model {list(v[2])}"
            problems.append(f"{what}: {v}")
    fail_if(problems, "transformers did not load the converted checkpoint cleanly")
    print(f"  from_pretrained(Mxfp4Config(dequantize=True)) loaded with no missing, unexpected or mismatched keys "
          f"({time.time() - t0:.1f} s)")

    orig = tensors(orig_dir)
    params = dict(model.named_parameters())
    loaded, refs, problems = {}, {}, []
    matched = {"rceil": True, "floor": True}
    for name in sorted(orig):
        if not re.fullmatch(EXPERT_RE, name):
            continue
        p = params[name]
        if tuple(p.shape) != tuple(orig[name].shape) or p.dtype != torch.bfloat16:
            problems.append(f"{name}: loaded {p.dtype} {list(p.shape)}, original bfloat16 {list(orig[name].shape)}")
            continue
        loaded[name] = f32(p)
        x = f32(orig[name])
        refs[name] = {rule: mxfp4_fake_quantize(x, 1, rule) for rule in matched}
        for rule in matched:
            matched[rule] &= bits_equal(loaded[name], refs[name][rule])
    fail_if(problems, "loaded expert weights have the wrong shape or dtype")
    rules = [r for r, ok in matched.items() if ok]
    if not rules:
        for name in loaded:
            ref = refs[name]["rceil"]
            bad = np.argwhere(loaded[name] != ref)
            if bad.size:
                i = tuple(int(j) for j in bad[0])
                problems.append(f"{name}: {len(bad)} of {ref.size} values differ from the RCEIL reference "
                                f"(FLOOR: {int((loaded[name] != refs[name]['floor']).sum())}); first at {list(i)}: "
                                f"loaded {float(loaded[name][i])!r}, reference {float(ref[i])!r}, original "
                                f"{float(f32(orig[name])[i])!r}")
        fail_if(problems, "loaded expert weights are not the original weights MXFP4-fake-quantized along the "
                          "input dimension")
    rule = "rceil" if "rceil" in rules else rules[0]
    print(f"  {len(loaded)} expert weights equal, bit for bit, numpy MXFP4 ({' and '.join(rules)} scale rule"
          f"{'s' if len(rules) > 1 else ''}) of the original along the input dimension")

    # End to end: the original model with the fake-quantized experts.
    ref_model = GptOssForCausalLM.from_pretrained(orig_dir, dtype=torch.bfloat16).eval()
    with torch.no_grad():
        ids = torch.randint(3, VOCAB, (2, 12), generator=torch.Generator().manual_seed(7))
        unquantized = ref_model(input_ids=ids).logits.float()
        rp = dict(ref_model.named_parameters())
        for name in loaded:
            rp[name].copy_(torch.from_numpy(refs[name][rule]).to(torch.bfloat16))
        got = model(input_ids=ids).logits.float()
        want = ref_model(input_ids=ids).logits.float()
    diff = (got - want).abs().max().item()
    tol = 1e-2 * max(1.0, want.abs().max().item())
    if not diff <= tol:
        raise StepFailed(f"logits differ from the fake-quantized original's by up to {diff:.3g} (tolerance {tol:.3g})")
    print(f"  logits [2, 12, {VOCAB}] match the fake-quantized original's: max |diff| {diff:.3g} (tolerance {tol:.3g}; "
          f"the unquantized original's differ by {(got - unquantized).abs().max().item():.3g})")
    return loaded


def step_d_dequantize(orig_dir, out_dir, deq_dir, loaded):
    blockscale("dequantize", out_dir, "-o", deq_dir)
    orig, got = layout(orig_dir), layout(deq_dir)
    problems = [f"missing {n} {orig[n][0]} {orig[n][1]}" for n in sorted(set(orig) - set(got))]
    problems += [f"unexpected {n} {got[n][0]} {got[n][1]}" for n in sorted(set(got) - set(orig))]
    problems += [f"{n}: {got[n][0]} {got[n][1]}, original {orig[n][0]} {orig[n][1]}"
                 for n in sorted(set(orig) & set(got)) if got[n] != orig[n]]
    fail_if(problems, "dequantized checkpoint does not have the original names, dtypes and shapes")
    ot, dt = tensors(orig_dir), tensors(deq_dir)
    for name in sorted(orig):
        if re.fullmatch(EXPERT_RE, name):
            if loaded is None:
                continue
            if not bits_equal(f32(dt[name]), loaded[name]):
                n = int((f32(dt[name]) != loaded[name]).sum())
                problems.append(f"{name}: {n} values differ from the weights transformers loaded")
        elif not dt[name].view(torch.uint8).flatten().equal(ot[name].view(torch.uint8).flatten()):
            problems.append(f"{name}: differs from the original")
    fail_if(problems, "dequantized values differ")
    what = "equal the weights transformers loaded" if loaded is not None else "not compared (step c failed)"
    print(f"  {len(got)} tensors with the original names and shapes; experts {what}, the rest unchanged")


def main():
    transformers.utils.logging.disable_progress_bar()
    keep_going = "--keep-going" in sys.argv[1:]
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, transformers {transformers.__version__}, "
          f"safetensors {safetensors.__version__}, numpy {np.__version__}")
    if not BIN.exists():
        print(f"FAIL: {BIN} not found; build it with `cargo build --release --features cli`")
        return 2
    t0 = time.time()
    failed = passed = 0
    with tempfile.TemporaryDirectory(prefix="blockscale-gptoss-") as tmp:
        tmp = pathlib.Path(tmp)
        orig_dir, out_dir, deq_dir = tmp / "bf16", tmp / "mxfp4", tmp / "dequantized"
        config = make_model(orig_dir)
        print(f"tiny gpt-oss: {LAYERS} layers, {E} experts (top {TOPK}), hidden {H}, intermediate {I}, "
              f"vocab {VOCAB}, head_dim {config.head_dim}; saved to {orig_dir.name}/")
        try:
            blockscale("convert", orig_dir, "--to", "mxfp4", "-o", out_dir)
        except StepFailed as e:
            print(f"FAIL convert: {e}")
            print("transformers_gptoss: 0 passed, 1 failed")
            return 1
        print(f"blockscale convert --to mxfp4: ok ({', '.join(sorted(p.name for p in out_dir.iterdir()))})")
        with torch.device("meta"):
            module_names = [n for n, _ in GptOssForCausalLM(config).named_modules()]
        loaded = None
        steps = [
            ("a", "tensor names, dtypes and shapes", lambda: step_a_layout(orig_dir, out_dir)),
            ("b", "config.json quantization_config", lambda: step_b_config(out_dir, module_names)),
            ("c", "transformers load, expert values and logits", lambda: step_c_load(orig_dir, out_dir)),
            ("d", "blockscale dequantize", lambda: step_d_dequantize(orig_dir, out_dir, deq_dir, loaded)),
        ]
        for key, title, run in steps:
            print(f"({key}) {title}")
            try:
                result = run()
                if key == "c":
                    loaded = result
                passed += 1
                print("  ok")
            except StepFailed as e:
                failed += 1
                print(f"FAIL ({key}) {e}")
                if not keep_going:
                    break
    print(f"ran in {time.time() - t0:.1f} s")
    print(f"transformers_gptoss: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
