"""The Python package against independent references: ml_dtypes for the
element casts, vectors worked by hand (the Rust crate's tests and
tests/producers/NVFP4_4OVER6.md) and the OCP MX definition written in
numpy for quantization, and a numpy recomputation of the GEMM contract
(the Rust crate's `gemm` module docs)."""

import doctest

import ml_dtypes
import numpy as np
import pytest

import blockscale

ML = {
    "e4m3": ml_dtypes.float8_e4m3fn,
    "e5m2": ml_dtypes.float8_e5m2,
    "e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
    "e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
    "e2m3": ml_dtypes.float6_e2m3fn,
    "e3m2": ml_dtypes.float6_e3m2fn,
    "e2m1": ml_dtypes.float4_e2m1fn,
    "e8m0": ml_dtypes.float8_e8m0fnu,
}


def all_bf16():
    return np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(ml_dtypes.bfloat16)


@pytest.mark.parametrize("kind", sorted(ML))
def test_cast_equals_ml_dtypes_on_every_bf16_and_random_f32(kind):
    dtype = ML[kind]
    x = all_bf16()
    got = blockscale.cast(x, kind)
    assert got.dtype == dtype and got.shape == x.shape
    with np.errstate(invalid="ignore", over="ignore"):
        np.testing.assert_array_equal(got.view(np.uint8), x.astype(dtype).view(np.uint8))
        bits = np.random.default_rng(7).integers(0, 1 << 32, 1 << 18, dtype=np.uint64)
        f = bits.astype(np.uint32).view(np.float32)
        np.testing.assert_array_equal(blockscale.cast(f, dtype).view(np.uint8), f.astype(dtype).view(np.uint8))
        # float64 and float16 inputs round their exact value once, as ml_dtypes does.
        d = np.random.default_rng(8).standard_normal(4096) * 100
        np.testing.assert_array_equal(blockscale.cast(d, kind).view(np.uint8), d.astype(dtype).view(np.uint8))
        h = d.astype(np.float16)
        np.testing.assert_array_equal(blockscale.cast(h, kind).view(np.uint8), h.astype(dtype).view(np.uint8))


def test_cast_options():
    x = np.array([[500.0, -1e6], [0.3, np.nan]], np.float32)
    sat = blockscale.cast(x, "e4m3", saturate=True)
    assert sat.shape == (2, 2)
    assert sat.astype(np.float32)[0].tolist() == [448.0, -448.0]
    # Toward zero: 0.3 lies between E4M3's 0.28125 and 0.3125.
    assert float(blockscale.cast(np.float32(0.3), "e4m3", rounding="toward_zero")) == 0.28125
    assert float(blockscale.cast(np.float32(0.3), "e4m3", rounding="up")) == 0.3125
    # Stochastic rounding: reproducible per seed, and unbiased.
    v = np.full(20000, 0.3, np.float32)
    a = blockscale.cast(v, "e4m3", rounding="stochastic", seed=5)
    assert (a.view(np.uint8) == blockscale.cast(v, "e4m3", rounding="stochastic", seed=5).view(np.uint8)).all()
    assert abs(a.astype(np.float64).mean() - 0.3) < 0.002
    assert blockscale.cast(np.int8(3) * np.ones(2, np.float32), "int8").dtype == np.int8


def test_quantize_matches_hand_worked_vectors():
    # MXFP8 (RCEIL): amax 1.5 gets 2^ceil(log2(1.5/448)) = 2^-8 (E8M0 119),
    # and 1.5 · 2^8 = 384 is E4M3 0x7C.
    q = blockscale.quantize(np.full((1, 32), 1.5, np.float32), "mxfp8")
    assert q.scales.dtype == ml_dtypes.float8_e8m0fnu
    assert q.scales.view(np.uint8).tolist() == [[119]]
    assert (q.data == 0x7C).all()
    # NVFP4 4over6, vector G1 (tensor amax 6): map-4 wins, scale 0x7C.
    g1 = np.array([6, 4.5, -4.5, 3, 2.25, 1.5, 0.75, 0, -6, 4.5, 2.25, -3, 1.5, -0.75, 0, 3], np.float32)
    q = blockscale.quantize(g1[None, :], "nvfp4-4over6")
    assert q.scales.dtype == ml_dtypes.float8_e4m3fn
    assert q.scales.view(np.uint8).tolist() == [[0x7C]]
    assert q.data.tobytes().hex() == "564d23015ec39240"
    np.testing.assert_array_equal(q.dequantize()[0], g1)
    # NVFP4, R1's row 0 under a tensor amax of 100: scale 13 (0x55).
    row0 = np.array([3, -2.5, 1.75, 1, 0.625, -0.3125, 0.15625, 0, 2.25, -1.375, 0.875, 0.5, -0.75, 2.75, 1.25, -3],
                    np.float32)
    q = blockscale.quantize(row0[None, :], "nvfp4", global_amax=100.0)
    assert q.global_amax == 100.0
    assert q.scales.view(np.uint8).tolist() == [[0x55]]
    assert q.data.tobytes().hex() == "f7469301d6247bf5"
    # The same bytes from bfloat16 and float64 sources (every value is exact in both).
    for src in (row0.astype(ml_dtypes.bfloat16), row0.astype(np.float64)):
        r = blockscale.quantize(src[None, :], "nvfp4", global_amax=100.0)
        assert r.data.tobytes() == q.data.tobytes()


def test_quantize_options_reach_the_format():
    x = np.random.default_rng(1).standard_normal((32, 64)).astype(np.float32)
    assert blockscale.quantize(x, "mxfp8", scale_rule="floor").format == "mxfp8,rule=floor"
    assert blockscale.quantize(x, "nvfp4", two_d=True).scale_shape == (2, 4)
    assert blockscale.quantize(x, "nvfp4", profile="modelopt").format == "nvfp4,profile=modelopt"
    c = blockscale.quantize(x, "mxfp8", direction="columnwise")
    assert (c.direction, c.stored_shape, c.scale_shape) == ("columnwise", (64, 32), (64, 1))
    s1 = blockscale.quantize(x, "nvfp4", rounding="stochastic", seed=3)
    s2 = blockscale.quantize(x, "nvfp4", rounding="stochastic", seed=3)
    assert s1.data.tobytes() == s2.data.tobytes()
    assert s1.data.tobytes() != blockscale.quantize(x, "nvfp4").data.tobytes()
    # Leading axes are rows.
    assert blockscale.quantize(x.reshape(2, 16, 64), "mxfp8").shape == (32, 64)


def _splitmix64(seed: int, n: int) -> list:
    """SplitMix64's first n outputs (Steele, Lea and Flood 2014), by hand."""
    m = (1 << 64) - 1
    out, z = [], seed
    for _ in range(n):
        z = (z + 0x9E3779B97F4A7C15) & m
        v = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
        v = ((v ^ (v >> 27)) * 0x94D049BB133111EB) & m
        out.append(v ^ (v >> 31))
    return out


def test_stochastic8_rounds_with_the_counters_bytes():
    # Blocks of 16 led by 6.0 keep a scale of 1: each element is rounded
    # alone. Between E2M1 neighbours lo < hi, a fraction f of the gap rounds
    # up exactly when floor(256 f) + b >= 256, for its byte b: byte i % 8 of
    # SplitMix64 word i // 8 (one 1x16 tile per row, two words per tile).
    rows, seed = 8, 11
    mids = np.array([0.75, 1.25, 2.5, 5.0, 0.6875, 3.25, 0.25, 1.125] * 2, dtype=np.float32)
    x = np.tile(mids, (rows, 1))
    x[:, 0] = 6.0
    q = blockscale.quantize(x, "nvfp4", rounding="stochastic8", seed=seed)
    y = q.dequantize()
    grid = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]
    words = _splitmix64(seed, 2 * rows)
    for r in range(rows):
        for i in range(1, 16):
            v = float(x[r, i])
            hi = min(g for g in grid if g >= v)
            lo = max(g for g in grid if g <= v)
            b = (words[2 * r + i // 8] >> (8 * (i % 8))) & 0xFF
            up = int(256 * (v - lo) / (hi - lo)) + b >= 256
            assert y[r, i] == (hi if up else lo), (r, i, v, b)
    assert blockscale.quantize(x, "nvfp4", rounding="stochastic", seed=seed).data.tobytes() != q.data.tobytes()
    with pytest.raises(ValueError, match="stochastic8"):
        blockscale.quantize(x, "nvfp4", rounding="stochastic9")


def test_parts_round_trip_and_layouts():
    x = np.random.default_rng(2).standard_normal((130, 64)).astype(np.float32)
    q = blockscale.quantize(x, "nvfp4")
    r = blockscale.from_parts("nvfp4", q.shape, q.data, q.scales, global_amax=q.global_amax)
    np.testing.assert_array_equal(r.dequantize(), q.dequantize())
    assert q.data is q.data and not q.data.flags.writeable
    # dequantize(out=) writes into the caller's buffer, no copy.
    buf = np.full(q.shape, np.nan, np.float32)
    res = q.dequantize(out=buf)
    assert res is buf and np.shares_memory(res, buf)
    np.testing.assert_array_equal(buf, q.dequantize())
    with pytest.raises(ValueError, match="shape"):
        q.dequantize(out=np.zeros((2, 2), np.float32))
    # cuBLAS's 128x4 layout: rows padded to 256, scale columns to 4; cell
    # (r, c) sits at (r%32)*16 + ((r%128)//32)*4 + c%4 within its 512-cell tile.
    sw = q.scales_in("swizzled_128x4").view(np.uint8)
    assert sw.size == 256 * 4
    rm = q.scales.view(np.uint8)
    for r, c in [(0, 0), (1, 2), (33, 3), (129, 1)]:
        tile = (r // 128) * 1 + c // 4
        assert sw[tile * 512 + (r % 32) * 16 + ((r % 128) // 32) * 4 + c % 4] == rm[r, c]
    # FP8 per-tensor: one float32 scale.
    f = blockscale.quantize(x, "fp8")
    assert f.scales.dtype == np.float32 and f.scales.shape == (1, 1)
    m = f.error_metrics(x)
    assert m["count"] == x.size and m["sqnr_db"] > 25


E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6])


def codes(q):
    """The E2M1 values of a rowwise NVFP4 tensor, (rows, cols) in f64: two
    codes per byte, the first in the low nibble."""
    d = q.data
    return E2M1[np.stack([d & 0xF, d >> 4], axis=-1).reshape(q.shape)]


def numpy_gemm_nvfp4(a, b, alpha):
    """The GEMM contract in numpy for NVFP4 x NVFP4 (1x16 blocks):
    t = f32(Σ q_a·q_b · s_a · s_b) per block (the sum and the scale product
    are exact in f64), f32 accumulation in block order, then
    f32(alpha' · acc) with alpha' = f32(f32(alpha · A_a/2688) · A_b/2688)."""
    qa, qb = codes(a), codes(b)
    sa, sb = a.scales.astype(np.float64), b.scales.astype(np.float64)
    m, k = qa.shape
    n = qb.shape[0]
    f32 = np.float32
    ga = f32(a.global_amax) / f32(2688)
    gb = f32(b.global_amax) / f32(2688)
    al = f32(f32(f32(alpha) * ga) * gb)
    out = np.zeros((m, n), np.float32)
    for i in range(m):
        for j in range(n):
            acc = f32(0)
            for kb in range(k // 16):
                s = (qa[i, kb * 16:(kb + 1) * 16] * qb[j, kb * 16:(kb + 1) * 16]).sum()
                acc = f32(acc + f32(s * sa[i, kb] * sb[j, kb]))
            out[i, j] = f32(al * acc)
    return out


def test_gemm_equals_a_numpy_recomputation_of_the_contract():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((5, 64)).astype(np.float32) * 3
    b = rng.standard_normal((7, 64)).astype(np.float32) / 5
    qa, qb = blockscale.quantize(a, "nvfp4"), blockscale.quantize(b, "nvfp4")
    want = numpy_gemm_nvfp4(qa, qb, alpha=0.75)
    got = blockscale.gemm(qa, qb, alpha=0.75)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(blockscale.gemm_reference(qa, qb, alpha=0.75), got)
    # beta: C = f32(y + f32(beta · C)), and C itself is left alone.
    c = rng.standard_normal((5, 7)).astype(np.float32)
    c0 = c.copy()
    g2 = blockscale.gemm(qa, qb, alpha=0.75, beta=0.5, c=c)
    np.testing.assert_array_equal(g2, (want + np.float32(0.5) * c).astype(np.float32))
    np.testing.assert_array_equal(c, c0)
    # Mixed MX operands (MXFP8 x MXFP4): fast path equals the definition.
    m8 = blockscale.quantize(a, "mxfp8")
    m4 = blockscale.quantize(b, "mxfp4")
    np.testing.assert_array_equal(blockscale.gemm(m8, m4), blockscale.gemm_reference(m8, m4))


def test_rht_is_the_scaled_hadamard_transform():
    # Sylvester's Hadamard matrix of order 16 by Kronecker products, scaled
    # by 1/4: with all-one signs, row i of the identity maps to row i of H/4.
    h = np.array([[1.0]])
    for _ in range(4):
        h = np.block([[h, h], [h, -h]])
    y = blockscale.rht(np.eye(16, dtype=np.float32), signs="ones")
    np.testing.assert_array_equal(y, (h / 4).astype(np.float32))
    x = np.random.default_rng(6).standard_normal((32, 64)).astype(np.float32)
    for signs in ("te", "seeded"):
        z = blockscale.rht(x, signs=signs, seed=9, size=32 if signs == "seeded" else 16, direction="columnwise")
        back = blockscale.rht(z, signs=signs, seed=9, size=32 if signs == "seeded" else 16,
                              direction="columnwise", inverse=True)
        np.testing.assert_allclose(back, x, atol=1e-5)
        # Orthogonal: every column keeps its energy.
        np.testing.assert_allclose((z**2).sum(axis=0), (x**2).sum(axis=0), rtol=1e-5)
    with pytest.raises(ValueError):
        blockscale.rht(np.ones((2, 24), np.float32))


M64 = (1 << 64) - 1


def splitmix64(z):
    """SplitMix64's finalizer, written from Steele, Lea and Flood (2014)."""
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def test_recipe_specs():
    roles = ["fprop_input", "fprop_weight", "dgrad_grad_output", "dgrad_weight", "wgrad_grad_output",
             "wgrad_input"]
    # The NVFP4 paper's recipe: 2-D weights, stochastic gradients, TE's RHT in wgrad.
    spec = {r: blockscale.recipe_spec("nvfp4", r, seed=11, layer=2, num_layers=4, step=7) for r in roles}
    assert spec["fprop_weight"]["format"] == "nvfp4,2d" and spec["fprop_weight"]["block"] == (16, 16)
    assert spec["dgrad_weight"]["direction"] == "columnwise"
    assert [spec[r]["rounding"] for r in roles] == ["nearest", "nearest", "stochastic", "nearest", "stochastic",
                                                     "nearest"]
    assert spec["wgrad_input"]["rht"] == {"size": 16, "signs": "te", "bf16": True}
    assert spec["fprop_input"]["rht"] is None
    # The seed is the crate's documented operand_seed:
    # splitmix64(seed ^ splitmix64(step ^ splitmix64(layer ^ splitmix64(role index)))).
    for i, r in enumerate(roles):
        if spec[r]["seed"] is not None:
            want = splitmix64(11 ^ splitmix64(7 ^ splitmix64(2 ^ splitmix64(i))))
            assert spec[r]["seed"] == want, r
    # 4over6 and row scaling, as TE's switches.
    s = blockscale.recipe_spec("nvfp4", "fprop_input", rht=False, four_over_six="all", row_scaled_activation=True)
    assert s["format"] == "nvfp4-4over6" and s["row_scaled"]
    w = blockscale.recipe_spec("nvfp4", "fprop_weight", four_over_six="weights", four_over_six_e4m3_256="none",
                               four_over_six_metric="mse")
    assert w["format"] == "nvfp4-4over6,metric=mse,e4m3max=448,2d"
    assert blockscale.recipe_spec("mxfp8", "wgrad_input")["format"] == "mxfp8"
    assert blockscale.recipe_spec("delayed", "fprop_input")["delayed"]
    with pytest.raises(ValueError, match="rht"):
        blockscale.recipe_spec("nvfp4", "fprop_input", four_over_six="activations")
    with pytest.raises(ValueError, match="role"):
        blockscale.recipe_spec("nvfp4", "fprop")
    with pytest.raises(ValueError, match="option"):
        blockscale.recipe_spec("nvfp4", "fprop_input", disable_rht=True)


def test_bad_input_raises_the_documented_errors():
    x = np.ones((2, 32), np.float32)
    with pytest.raises(TypeError, match="int64"):
        blockscale.quantize(np.ones((2, 32), np.int64), "mxfp8")
    with pytest.raises(TypeError, match="complex"):
        blockscale.cast(np.ones(3, np.complex64), "e4m3")
    with pytest.raises(ValueError, match="unknown element"):
        blockscale.cast(x, "e9m9")
    with pytest.raises(ValueError, match="fp5"):
        blockscale.quantize(x, "fp5")
    with pytest.raises(ValueError, match="block"):
        blockscale.quantize(np.ones((2, 30), np.float32), "mxfp8")
    assert blockscale.quantize(np.ones((2, 30), np.float32), "mxfp8", pad=True).shape == (2, 30)
    with pytest.raises(ValueError, match="scalar"):
        blockscale.quantize(np.float32(1), "mxfp8")
    with pytest.raises(ValueError):
        blockscale.from_parts("nvfp4", (1, 16), np.zeros(7, np.uint8), np.zeros(1, np.uint8), global_amax=1.0)
    q8 = blockscale.quantize(x, "mxfp8")
    qn = blockscale.quantize(x, "nvfp4")
    with pytest.raises(ValueError):
        blockscale.gemm(q8, qn)
    with pytest.raises(ValueError, match="shape"):
        blockscale.gemm(q8, q8, beta=1.0, c=np.zeros((3, 3), np.float32))
    with pytest.raises(TypeError):
        blockscale.gemm(x, q8)


def test_docstring_examples():
    r = doctest.testmod(blockscale, extraglobs={"blockscale": blockscale, "np": np}, report=True)
    assert r.attempted > 5 and r.failed == 0


def test_the_readme_example_runs():
    import pathlib
    import re

    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### From Python", 1)[1]
    (code,) = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.S)
    exec(compile(code, "README.md", "exec"), {})


def crate_format(producer, config):
    """The format identifier that models `producer`'s `config` (as
    tests/producer_corners.rs maps them), or None."""
    if config == "nvfp4":
        ok = ("torchao", "modelopt", "modelopt-legacy", "jax", "compressed-tensors")
        return f"nvfp4,profile={producer}" if producer in ok else None
    if config.startswith("fp8-e4m3-"):
        family = {"tensor": "fp8", "block128": "fp8-block"}.get(config[len("fp8-e4m3-"):])
        ok = ("torchao", "modelopt", "compressed-tensors")
        return f"{family},profile={producer}" if family and producer in ok else None
    if not config.startswith("mx-"):
        return None
    elem, rule = config[3:].split("-", 1)
    family = {"e4m3": "mxfp8", "e5m2": "mxfp8-e5m2", "e2m3": "mxfp6", "e3m2": "mxfp6-e3m2",
              "e2m1": "mxfp4"}.get(elem)
    ok = ("torchao", "jax", "modelopt", "compressed-tensors", "ggml")
    return f"{family},rule={rule},profile={producer}" if family and producer in ok else None


def test_producer_corpus_bytes_through_python():
    """The committed producer corpus (tests/golden/producers, bytes written by
    torchao, Model-Optimizer, JAX, compressed-tensors and gguf-py) quantized
    through the Python package: the same 655 of 680 cases match as in the
    Rust test tests/producer_corners.rs, which lists the other 25 (NaN, ±Inf
    and FLT_MAX corners) with their reasons."""
    import json
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2] / "tests" / "golden" / "producers"
    matched = total = 0
    for path in sorted(root.glob("*.json")):
        doc = json.loads(path.read_text())
        for case in doc["cases"]:
            fid = crate_format(doc["producer"], case["config"])
            assert fid is not None, (doc["producer"], case["config"])
            x = np.frombuffer(bytes.fromhex(case["input"]), "<f4").reshape(case["shape"])
            g = case.get("global_amax")
            g = float(np.frombuffer(bytes.fromhex(g), "<f4")[0]) if g else None
            q = blockscale.quantize(x, fid, global_amax=g if g is not None and np.isfinite(g) else None)
            scales = q.scales.tobytes() if case["config"].startswith("fp8") else q.scales.view(np.uint8).tobytes()
            total += 1
            matched += scales.hex() == case["scales"] and q.data.tobytes().hex() == case["data"]
    assert (matched, total) == (655, 680)


# The MX element types: (format, ml_dtypes type or None for INT8, emax, max).
MX = [
    ("mxfp8", ml_dtypes.float8_e4m3fn, 8, 448.0),
    ("mxfp8-e5m2", ml_dtypes.float8_e5m2, 15, 57344.0),
    ("mxfp6", ml_dtypes.float6_e2m3fn, 2, 7.5),
    ("mxfp6-e3m2", ml_dtypes.float6_e3m2fn, 4, 28.0),
    ("mxfp4", ml_dtypes.float4_e2m1fn, 2, 6.0),
    ("mxint8", None, 0, 127 / 64),
]


def mx_reference(x, elem, emax, top, rule):
    """OCP MX by its definition (docs/SEMANTICS.md §3), in numpy: per 1x32
    block, FLOOR `X = 2^(floor(log2 amax) - emax)` or RCEIL `X =
    2^ceil(log2(f32(amax * f32(1/max))))`, E8M0 byte `e + 127` (0 for an
    all-zero block); elements `saturate(RNE(x / X))` by ml_dtypes' cast
    (INT8: to 1/64 steps, ±127/64). Returns the scale bytes and the
    dequantized matrix."""
    blocks = x.reshape(x.shape[0], -1, 32).astype(np.float64)
    amax = np.abs(blocks).max(axis=-1)
    if rule == "floor":
        m, e = np.frexp(amax)
        exp = e - 1 - emax
    else:
        v = amax.astype(np.float32) * np.float32(1 / top)
        m, e = np.frexp(v.astype(np.float64))
        exp = np.where(m == 0.5, e - 1, e)
    exp = np.clip(exp, -127, 127)
    scale_bytes = np.where(amax == 0, 0, exp + 127).astype(np.uint8)
    X = np.exp2(exp.astype(np.float64))[..., None]
    v = np.clip(blocks / X, -top, top)
    if elem is None:
        q = np.clip(np.round(v * 64), -127, 127) / 64
    else:
        q = v.astype(np.float32).astype(elem).astype(np.float64)
    q = np.where(amax[..., None] == 0, 0, q)
    return scale_bytes, (q * X).reshape(x.shape)


@pytest.mark.parametrize("fmt,elem,emax,top", MX)
@pytest.mark.parametrize("rule", ["floor", "rceil"])
def test_every_mx_format_against_the_ocp_definition(fmt, elem, emax, top, rule):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((64, 256)) * np.exp2(rng.integers(-20, 20, (64, 8))).repeat(32, axis=1)
    x[5, 32:64] = 0  # an all-zero block
    x[9, :32] = 2.0 ** np.arange(-16, 16)  # one block spanning 32 binades
    x = x.astype(np.float32)
    q = blockscale.quantize(x, fmt, profile="ocp", scale_rule=rule)
    want_scales, want = mx_reference(x, elem, emax, top, rule)
    assert np.array_equal(q.scales.view(np.uint8), want_scales)
    assert np.array_equal(q.dequantize().astype(np.float64), want)


def test_scale_layouts_equal_their_sources_reshapes():
    """Each layout rebuilt the way its source builds it, with reshapes and
    transposes rather than an offset formula: torchao's `to_blocked`
    (128x4), FlashInfer's 8x4 tiles, DeepGEMM's torch packing of UE8M0
    bytes into int32 words, aiter's `shuffle_scale` view/permute (gfx950)."""
    x = np.random.default_rng(5).standard_normal((300, 32 * 7)).astype(np.float32)
    q = blockscale.quantize(x, "mxfp8")
    s = q.scales.view(np.uint8)  # 300 x 7

    def padded(r, c):
        out = np.zeros((r, c), np.uint8)
        out[: s.shape[0], : s.shape[1]] = s
        return out

    def rup(a, b):
        return -(-a // b) * b

    R, C = s.shape
    p = padded(rup(R, 128), rup(C, 4))
    blocks = p.reshape(-1, 128, p.shape[1] // 4, 4).transpose(0, 2, 1, 3)
    want_128x4 = blocks.reshape(-1, 4, 32, 4).transpose(0, 2, 1, 3).reshape(-1)
    p = padded(rup(R, 8), rup(C, 4))
    want_8x4 = p.reshape(-1, 8, p.shape[1] // 4, 4).transpose(0, 2, 1, 3).reshape(-1)
    want_mn = padded(rup(R, 4), C).T.reshape(-1)
    words = padded(rup(R, 4), rup(C, 4)).view("<i4")  # [rows, K groups]
    want_packed = np.ascontiguousarray(words.T).view(np.uint8).reshape(-1)
    want_pad4 = padded(R, rup(C, 4)).reshape(-1)
    p = padded(rup(R, 256), rup(C, 8))
    want_gfx = p.reshape(p.shape[0] // 32, 2, 16, p.shape[1] // 8, 2, 4).transpose(0, 3, 5, 2, 4, 1).reshape(-1)
    for name, want in [("swizzled_128x4", want_128x4), ("swizzled_8x4", want_8x4), ("mn_major", want_mn),
                       ("packed_ue8m0", want_packed), ("row_major_pad4", want_pad4), ("gfx950_32x8", want_gfx)]:
        got = q.scales_in(name)
        assert got.dtype == ml_dtypes.float8_e8m0fnu, name
        assert np.array_equal(got.view(np.uint8), want), name
    with pytest.raises(ValueError, match="packs E8M0 scales"):
        blockscale.quantize(x, "nvfp4").scales_in("packed_ue8m0")
    with pytest.raises(ValueError, match="expected one of row_major"):
        q.scales_in("swizzled")


def test_data_layouts_equal_numpy_constructions():
    x = np.random.default_rng(8).standard_normal((6, 64)).astype(np.float32)
    # FP6 packed: each row's codes as one little-endian bit stream, code i
    # at bits 6i..6i+6 (Python integers have no width limit).
    q = blockscale.quantize(x, "mxfp6-e3m2")
    codes = q.data.reshape(6, 64)
    got = q.data_in(fp6="packed")
    assert got.shape == (6, 48)
    for r in range(6):
        v = sum(int(c) << (6 * i) for i, c in enumerate(codes[r]))
        assert got[r].tobytes() == v.to_bytes(48, "little")
    # FP4 MN-major: unpack the nibbles, transpose, repack, pad rows to 16 bytes.
    q = blockscale.quantize(x, "nvfp4")
    d = q.data.reshape(6, 32)
    nib = np.stack([d & 0xF, d >> 4], axis=-1).reshape(6, 64).T  # 64 x 6
    want = np.zeros((64, 16), np.uint8)
    want[:, :3] = nib[:, 0::2] | (nib[:, 1::2] << 4)
    assert np.array_equal(q.data_in("mn", row_bytes_to=16), want)
    # K-major with rows padded to 128: the data, then zero rows.
    k = q.data_in(rows_to=128)
    assert k.shape == (128, 32) and np.array_equal(k[:6], d) and not k[6:].any()
    with pytest.raises(ValueError, match="groups of 4"):
        blockscale.quantize(np.ones((2, 32), np.float32), "mxfp6").data_in("mn", fp6="packed")
    with pytest.raises(ValueError, match='expected "k" or "mn"'):
        q.data_in("m")


F32_MAX = np.finfo(np.float32).max


def cutlass_output(y, block, elem, top, nc):
    """CUTLASS 4's block-scaled GEMM output, written from its host reference
    (``compute_1d_scaling_factor_and_quantized_output``, ``gett.hpp``) and
    its SM100 epilogue (``sm100_visitor_store_tma_warpspecialized.hpp``),
    in float32 numpy with ml_dtypes casts: the block scale SF (E4M3 by
    nearest-even, or UE8M0 rounded up when ``elem`` is MX), and the element
    codes. Returns (scale bytes, element codes)."""
    f = np.float32
    with np.errstate(all="ignore"):
        b = y.astype(f).reshape(-1, block)
        amax = np.abs(b).max(axis=1)  # NaN propagates
        pv = (amax * f(f(nc) * f(f(1) / f(top)))).astype(f)
        if block == 16:
            sf = np.clip(pv, -448, 448).astype(ml_dtypes.float8_e4m3fn)  # satfinite, NaN kept
            sf_bytes = sf.view(np.uint8)
            r = (f(1) / sf.astype(f)).astype(f)
        else:
            # cvt.rp.satfinite.ue8m0: the smallest 2^E >= pv, 2^-127 <= 2^E <= 2^127.
            bits = pv.view(np.uint32)
            e, man = (bits >> 23) & 0xFF, bits & 0x7FFFFF
            up = (man > 0) & (e != 0xFE) & ~((e == 0) & (man <= 0x400000))
            sf_bytes = np.where(np.isnan(pv), 0xFF, np.where(np.isinf(pv), 0xFE, e + up)).astype(np.uint8)
            r = np.where(sf_bytes == 0xFF, np.nan, np.exp2(127.0 - sf_bytes.astype(np.float64))).astype(f)
        s = (f(nc) * r).astype(f)
        s = np.where(np.isnan(s), s, np.minimum(s, F32_MAX))
        v = (b * s[:, None]).astype(f)
        lim = float(ml_dtypes.finfo(elem).max)
        # cvt.rn.satfinite of a NaN: the canonical NaN 0x7F (FP8), or +max (FP4, FP6).
        has_nan = elem in (ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2)
        nan_code = 0x7F if has_nan else np.array([lim], f).astype(elem).view(np.uint8)[0]
        clipped = np.clip(v, -lim, lim).astype(elem).view(np.uint8)
        codes = np.where(np.isnan(v), nan_code, clipped)
    return sf_bytes, codes.reshape(-1)


def nibbles(data):
    d = data.reshape(-1)
    return np.stack([d & 0xF, d >> 4], axis=1).reshape(-1)


def test_cutlass_block_scaled_output_against_the_epilogue_written_in_numpy():
    rng = np.random.default_rng(21)
    y = (rng.standard_normal((8, 64)) * np.exp2(rng.integers(-6, 6, (8, 4))).repeat(16, axis=1)).astype(np.float32)
    y[0, :16] = 0  # an all-zero block
    y[1, :16] = 1e-30  # a block whose E4M3 scale underflows to 0: elements saturate
    y[1, 16:32] = 2.0 ** -126 * 3  # f32-tiny block: UE8M0 byte near 0, multiplier near 2^127
    y[2, 5] = np.nan
    y[3, 40] = np.inf
    # Values that land on E2M1 and E4M3 rounding ties under a power-of-two scale.
    y[4, :16] = np.array([6, 5, 3.5, 2.5, 1.75, 1.25, 0.75, 0.25, -5, -3.5, -0.25, 0, -0.0, 1, 2, 4], np.float32)
    finite = np.where(np.isfinite(y), y, np.float32(3))
    # The norm constant is 2688/A (A: given, or the tensor's own amax).
    for x, amax in ((finite, None), (y, 100.0), (y, 2688.0), (y, 1e-3)):
        q = blockscale.quantize(x, "nvfp4", profile="cutlass", global_amax=amax)
        A = np.float32(q.global_amax)
        sf, codes = cutlass_output(x, 16, ml_dtypes.float4_e2m1fn, 6, np.float32(2688) / A)
        assert q.scales.view(np.uint8).reshape(-1).tolist() == sf.tolist(), amax
        assert nibbles(q.data).tolist() == codes.tolist(), amax
    for fmt, elem in (("mxfp8", ml_dtypes.float8_e4m3fn), ("mxfp8-e5m2", ml_dtypes.float8_e5m2),
                      ("mxfp4", ml_dtypes.float4_e2m1fn), ("mxfp6", ml_dtypes.float6_e2m3fn)):
        q = blockscale.quantize(y, fmt, profile="cutlass")
        top = float(ml_dtypes.finfo(elem).max)
        sf, codes = cutlass_output(y, 32, elem, top, 1.0)
        assert q.scales.view(np.uint8).reshape(-1).tolist() == sf.tolist(), fmt
        got = nibbles(q.data) if elem == ml_dtypes.float4_e2m1fn else q.data.reshape(-1)
        assert got.tolist() == codes.tolist(), fmt


def test_gemm_epilogue_and_block_scaled_output():
    rng = np.random.default_rng(22)
    a = blockscale.quantize(rng.standard_normal((6, 128)).astype(np.float32), "mxfp8")
    b = blockscale.quantize(rng.standard_normal((32, 128)).astype(np.float32), "mxfp8")
    rs = (1 + rng.random(6) / 2).astype(np.float32)
    cs = (1 + rng.random(32) / 2).astype(np.float32)
    bias = rng.standard_normal(32).astype(np.float32)
    f = np.float32
    y = blockscale.gemm_reference(a, b, alpha=0.5)
    # The epilogue's order, each step rounded to float32.
    want = ((((y * cs[None, :]).astype(f)) * rs[:, None]).astype(f) + bias[None, :]).astype(f)
    got = blockscale.gemm(a, b, alpha=0.5, row_scale=rs, col_scale=cs, bias=bias)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(
        blockscale.gemm_reference(a, b, alpha=0.5, row_scale=rs, col_scale=cs, bias=bias), want)
    rb = rng.standard_normal(6).astype(np.float32)
    np.testing.assert_array_equal(
        blockscale.gemm(a, b, bias=rb, bias_per="row"), (blockscale.gemm(a, b) + rb[:, None]).astype(f))
    c0 = rng.standard_normal((6, 32)).astype(np.float32)
    np.testing.assert_array_equal(
        blockscale.gemm(a, b, beta=2.0, c=c0, bias=bias),
        ((blockscale.gemm(a, b) + bias[None, :]).astype(f) + (f(2) * c0).astype(f)).astype(f))
    # The output quantized as CUTLASS's epilogue writes it.
    d = blockscale.gemm_quantized(a, b, "nvfp4", alpha=0.5, row_scale=rs, col_scale=cs, bias=bias)
    assert d.format == "nvfp4,profile=cutlass" and d.global_amax == float(np.abs(want).max())
    sf, codes = cutlass_output(want, 16, ml_dtypes.float4_e2m1fn, 6, f(2688) / f(d.global_amax))
    assert d.scales.view(np.uint8).reshape(-1).tolist() == sf.tolist()
    assert nibbles(d.data).tolist() == codes.tolist()
    d8 = blockscale.gemm_quantized(a, b, "mxfp8")
    sf, codes = cutlass_output(blockscale.gemm(a, b), 32, ml_dtypes.float8_e4m3fn, 448, 1.0)
    assert d8.scales.view(np.uint8).reshape(-1).tolist() == sf.tolist()
    assert d8.data.reshape(-1).tolist() == codes.tolist()
    with pytest.raises(ValueError, match="row_scale"):
        blockscale.gemm(a, b, row_scale=rs[:5])
    with pytest.raises(ValueError, match="bias_per"):
        blockscale.gemm(a, b, bias=bias, bias_per="diagonal")
    with pytest.raises(TypeError, match="float32"):
        blockscale.gemm(a, b, bias=bias.astype(np.float64))
