"""The checkpoint functions (convert, dequantize_checkpoint, inspect)
against numpy: inputs are written with the `safetensors` package, outputs
read back by the file format's definition and decoded with ml_dtypes by
the layout's (docs/SEMANTICS.md §6), not by blockscale."""

import json
import struct

import ml_dtypes
import numpy as np
import pytest
from safetensors.numpy import save_file

# safetensors' dtype names; `safetensors.numpy` has no FP8 or bfloat16.
DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "BF16": ml_dtypes.bfloat16,
          "F8_E4M3": ml_dtypes.float8_e4m3fn, "U8": np.uint8, "I8": np.int8}


def load_file(path):
    """A safetensors file's tensors: an 8-byte little-endian header length,
    the JSON header, then the tensors' bytes at their offsets."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, h in header.items():
        a, b = h["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], DTYPES[h["dtype"]]).reshape(h["shape"])
    return out

import blockscale

E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6])

P = "model.layers.{}.{}.weight"


def llama(tmp_path, layers=2):
    """A two-layer Llama-style checkpoint in float32: q/k/v (which vLLM
    fuses, so they share one global scale), o_proj, up_proj, an embedding
    and a norm."""
    rng = np.random.default_rng(7)
    t = {"model.embed_tokens.weight": rng.standard_normal((32, 64)).astype(np.float32)}
    for i in range(layers):
        for name, scale in [("self_attn.q_proj", 1), ("self_attn.k_proj", 4), ("self_attn.v_proj", 0.25),
                            ("self_attn.o_proj", 1), ("mlp.up_proj", 2)]:
            t[P.format(i, name)] = (rng.standard_normal((64, 64)) * scale).astype(np.float32)
        t[f"model.layers.{i}.input_layernorm.weight"] = np.ones(64, np.float32)
    d = tmp_path / "bf16"
    d.mkdir()
    save_file(t, str(d / "model.safetensors"))
    (d / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 64}))
    return d, t


def modelopt_decode(out, name):
    """A Model-Optimizer NVFP4 weight by its definition: E2M1 codes two per
    byte, the first in the low nibble, times f32(its 1x16 block's E4M3
    scale times the tensor's `weight_scale_2`), in float32 as
    Model-Optimizer's own dequantization (and the contract) compute it."""
    m = name.removesuffix(".weight")
    w, s, s2 = out[name], out[m + ".weight_scale"], out[m + ".weight_scale_2"]
    assert w.dtype == np.uint8 and s2.dtype == np.float32 and s2.shape == ()
    codes = E2M1[np.stack([w & 0xF, w >> 4], axis=-1).reshape(w.shape[0], -1)].astype(np.float32)
    factor = s.astype(np.float32) * s2
    assert factor.dtype == np.float32
    return codes * np.repeat(factor, 16, axis=1), s2


def test_convert_writes_modelopt_nvfp4_as_its_definition_reads(tmp_path):
    src, t = llama(tmp_path)
    r = blockscale.convert(src, tmp_path / "nvfp4", "nvfp4", exclude=["*.o_proj.*"])
    # Two layers of q, k, v and up_proj; o_proj excluded; embedding and norms kept.
    assert (r["tensors"], r["quantized"], r["guessed"]) == (len(t), 8, [])
    out = load_file(str(tmp_path / "nvfp4" / "model.safetensors"))
    for i in range(2):
        group = [P.format(i, f"self_attn.{p}_proj") for p in "qkv"]
        amax = max(np.abs(t[n]).max() for n in group)
        for n in group + [P.format(i, "mlp.up_proj")]:
            w, s2 = modelopt_decode(out, n)
            # The global scale is amax / (6 * 448); q, k and v share theirs.
            own = amax if n in group else np.abs(t[n]).max()
            assert s2 == np.float32(own) / np.float32(2688)
            # Every element is within half a step of the grid of its block:
            # at most a quarter of the block scale times the largest gap (2).
            scale = out[n.removesuffix(".weight") + ".weight_scale"].astype(np.float64)
            step = np.repeat(scale, 16, axis=1) * np.float64(s2)
            assert np.all(np.abs(w - t[n]) <= step + 1e-12)
            # And the bytes are the tensor API's with that global amax.
            q = blockscale.quantize(t[n], "nvfp4", profile="modelopt", global_amax=float(own))
            assert q.data.tobytes() == out[n].tobytes()
        # Excluded and kept tensors are unchanged.
        assert np.array_equal(out[P.format(i, "self_attn.o_proj")], t[P.format(i, "self_attn.o_proj")])
    assert np.array_equal(out["model.embed_tokens.weight"], t["model.embed_tokens.weight"])
    cfg = json.loads((tmp_path / "nvfp4" / "config.json").read_text())
    assert cfg["quantization_config"]["quant_method"] == "modelopt"
    assert cfg["quantization_config"]["quant_algo"] == "W4A16_NVFP4"
    assert "model.layers.0.self_attn.o_proj" in cfg["quantization_config"]["ignore"]
    hf = json.loads((tmp_path / "nvfp4" / "hf_quant_config.json").read_text())
    assert hf["quantization"]["group_size"] == 16


def test_dequantize_checkpoint_restores_what_numpy_decodes(tmp_path):
    src, t = llama(tmp_path, layers=1)
    blockscale.convert(src / "model.safetensors", tmp_path / "q", "nvfp4", keep_last_layers=0)
    q = load_file(str(tmp_path / "q" / "model.safetensors"))
    blockscale.dequantize_checkpoint(tmp_path / "q", tmp_path / "back")
    back = load_file(str(tmp_path / "back" / "model.safetensors"))
    n = P.format(0, "mlp.up_proj")
    want, _ = modelopt_decode(q, n)
    # bf16 by default: the float32 value rounded to bfloat16.
    assert back[n].dtype == ml_dtypes.bfloat16
    assert np.array_equal(back[n].astype(np.float32), want.astype(ml_dtypes.bfloat16).astype(np.float32))
    cfg = json.loads((tmp_path / "back" / "config.json").read_text())
    assert "quantization_config" not in cfg
    index = json.loads((tmp_path / "back" / "model.safetensors.index.json").read_text())
    assert index["weight_map"][n] == "model.safetensors"
    # One file to .npy, in float32: the f32 rounding of the decoded value.
    blockscale.convert(src / "model.safetensors", tmp_path / "one", "nvfp4", exclude=["*embed*", "*.self_attn.*"])
    with pytest.raises(ValueError, match="holds one tensor; this file has 7"):
        blockscale.dequantize_checkpoint(tmp_path / "one" / "model.safetensors", tmp_path / "x.npy")
    single = tmp_path / "single.safetensors"
    save_file({n: t[n]}, str(single))
    blockscale.convert(single, tmp_path / "s", "nvfp4")
    blockscale.dequantize_checkpoint(tmp_path / "s" / "single.safetensors", tmp_path / "w.npy", dtype=np.float32)
    assert np.array_equal(np.load(tmp_path / "w.npy"), want)


def test_inspect_names_each_part_and_its_scales(tmp_path):
    src, _ = llama(tmp_path, layers=1)
    blockscale.convert(src, tmp_path / "q", "nvfp4")
    info = blockscale.inspect(tmp_path / "q" / "model.safetensors")
    assert info["kind"] == "safetensors" and info["metadata"] == {}
    by = {e["name"]: e for e in info["tensors"]}
    n = "model.layers.0.mlp.up_proj"
    assert by[n + ".weight"]["role"].startswith("Model-Optimizer NVFP4 weight")
    assert (by[n + ".weight"]["dtype"], by[n + ".weight"]["shape"]) == ("U8", (64, 32))
    assert by["model.embed_tokens.weight"]["role"] == "unquantized"
    s = by[n + ".weight_scale"]["scales"]
    raw = load_file(str(tmp_path / "q" / "model.safetensors"))[n + ".weight_scale"]
    v = raw.astype(np.float64).ravel()
    assert s["count"] == v.size == 64 * 4
    assert (s["min"], s["max"]) == (v[v > 0].min(), v.max())
    assert s["zero"] == 0 and s["nonfinite"] == 0
    assert s["log2_mean"] == pytest.approx(np.log2(v).mean(), rel=1e-12)


def test_gguf_and_compressed_tensors_layouts(tmp_path):
    src, t = llama(tmp_path, layers=1)
    blockscale.convert(src, tmp_path / "g", "mxfp4", layout="gguf")
    g = blockscale.inspect(tmp_path / "g" / "model.gguf")
    assert g["kind"] == "gguf"
    assert g["metadata"]["general.architecture"] == "llama"
    assert g["metadata"]["general.quantization_version"] == 2
    by = {e["name"]: e for e in g["tensors"]}
    # ggml's shapes list the innermost dimension first.
    assert by[P.format(0, "mlp.up_proj")]["dtype"] == "MXFP4"
    assert by["model.embed_tokens.weight"]["dtype"] == "F32"
    # compressed-tensors MXFP8: E4M3 codes and E8M0 exponents as uint8.
    blockscale.convert(src, tmp_path / "c", "mxfp8", layout="compressed-tensors")
    out = load_file(str(tmp_path / "c" / "model.safetensors"))
    n = P.format(0, "mlp.up_proj")
    m = n.removesuffix(".weight")
    codes = out[m + ".weight_packed"] if m + ".weight_packed" in out else out[n]
    x = codes.astype(np.float64)
    e = out[m + ".weight_scale"].astype(np.int64) - 127
    scale = np.exp2(np.repeat(e, 32, axis=1))
    # Half an E4M3 step: 2^-4 relative for normals, 2^-10 of the scale
    # below (the subnormal step is 2^-9).
    err = np.abs(x * scale - t[n])
    assert np.all(err <= np.maximum(np.abs(t[n]) * 2**-4, scale * 2**-10))


def test_checkpoint_errors(tmp_path):
    src, t = llama(tmp_path, layers=1)
    with pytest.raises(FileNotFoundError):
        blockscale.convert(tmp_path / "missing.safetensors", tmp_path / "o", "nvfp4")
    with pytest.raises(ValueError, match="expected one of auto, modelopt"):
        blockscale.convert(src, tmp_path / "o", "nvfp4", layout="tensorrt")
    with pytest.raises(ValueError, match="holds 1x32 MXFP4"):
        blockscale.convert(src, tmp_path / "o", "nvfp4", layout="gpt-oss")
    with pytest.raises(TypeError, match="expected a path"):
        blockscale.convert(3, tmp_path / "o", "nvfp4")
    # A weight that is not whole blocks: the file and the tensor named,
    # nothing written.
    bad = tmp_path / "bad.safetensors"
    save_file({P.format(0, "mlp.up_proj"): np.ones((8, 40), np.float32)}, str(bad))
    with pytest.raises(ValueError, match=r"bad\.safetensors.*up_proj.*whole 1x16 blocks"):
        blockscale.convert(bad, tmp_path / "o", "nvfp4")
    assert not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match="expected f32, f16, bf16 or f64"):
        blockscale.dequantize_checkpoint(src, tmp_path / "o", dtype="int8")
    with pytest.raises(ValueError, match="unknown file type"):
        blockscale.inspect(tmp_path / "bf16" / "config.json")


def test_to_layout_gives_what_each_layout_definition_decodes():
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((256, 256)) * np.exp2(rng.integers(-6, 6, (256, 1)))).astype(np.float32)
    # Model-Optimizer NVFP4.
    q = blockscale.quantize(x, "nvfp4", profile="modelopt")
    t, meta = q.to_layout("modelopt", "fc.weight")
    assert meta == {} and t["fc.weight_scale"].dtype == ml_dtypes.float8_e4m3fn
    got, _ = modelopt_decode(t, "fc.weight")
    assert np.array_equal(got, q.dequantize())
    # gpt-oss MXFP4: 32 codes per 16 bytes, the even element in the low
    # nibble, times 2^(scale - 127).
    q = blockscale.quantize(x, "mxfp4")
    t, _ = q.to_layout("auto", "fc.weight")
    b, sc = t["fc.weight_blocks"], t["fc.weight_scales"]
    assert b.shape == (256, 8, 16) and sc.shape == (256, 8)
    codes = E2M1[np.stack([b & 0xF, b >> 4], axis=-1).reshape(256, 8, 32)]
    got = (codes * np.exp2(sc.astype(np.float64) - 127)[..., None]).reshape(256, 256)
    assert np.array_equal(got.astype(np.float32), q.dequantize())
    # DeepSeek FP8: E4M3 times the 128x128 block's scale_inv.
    q = blockscale.quantize(x, "fp8-block", two_d=True)
    t, _ = q.to_layout("deepseek", "fc.weight")
    w, s = t["fc.weight"], t["fc.weight_scale_inv"]
    assert w.dtype == ml_dtypes.float8_e4m3fn and s.shape == (2, 2)
    got = w.astype(np.float32) * np.repeat(np.repeat(s, 128, axis=0), 128, axis=1)
    assert np.array_equal(got, q.dequantize())
    # blockscale's own: the element bytes, the scales, and a metadata entry.
    q = blockscale.quantize(x, "mxfp6-e3m2")
    t, meta = q.to_layout("blockscale", "fc.weight")
    assert np.array_equal(t["fc.weight.qdata"].ravel(), q.data.ravel())
    assert json.loads(meta["blockscale:fc.weight"])["format"] == q.format
    with pytest.raises(ValueError, match="holds 1x32 MXFP4"):
        blockscale.quantize(x, "nvfp4").to_layout("gpt-oss")
    with pytest.raises(ValueError, match="gguf"):
        blockscale.quantize(x, "mxfp4").to_layout("gguf")
