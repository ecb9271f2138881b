#!/usr/bin/env python3
"""Independent reference quantizers (numpy float32 + ml_dtypes casts),
written from docs/SEMANTICS.md §2-§4, that produced the golden vectors in
tests/golden_blocks.rs. Run with numpy and ml_dtypes installed:

    python3 tests/golden/gen_golden.py

Every step is an explicit float32 operation, in the order each producer
uses; casts are ml_dtypes' (round to nearest even), with clipping first
where the producer saturates."""
import numpy as np
import ml_dtypes as m

f32 = np.float32
E4M3, E2M1 = m.float8_e4m3fn, m.float4_e2m1fn


def e4m3_sat(x):
    x = f32(x)
    return np.float32(np.clip(x, -448, 448)).astype(E4M3) if not np.isnan(x) else np.float32(x).astype(E4M3)


def e2m1_sat(v):
    v = np.asarray(v, dtype=f32)
    out = np.clip(v, -6, 6).astype(E2M1)
    out[np.isnan(v)] = np.float32(6).astype(E2M1)  # TE: NaN -> +6
    return out


def codes(a):
    return [int(b) & 0xF for b in np.asarray(a).view(np.uint8)]


def te_nvfp4(x):
    A = f32(np.max(np.abs(x)))
    s_enc = f32(2688) / A if A != 0 else f32(1)
    s_enc = min(s_enc, f32(np.finfo(f32).max))
    if A == 0 or s_enc == 0:
        s_enc = f32(1)
    s_dec = f32(1) / s_enc
    scales, qs = [], []
    for blk in x.reshape(-1, 16):
        a_b = f32(np.max(np.abs(blk)))
        s_b = e4m3_sat(a_b * f32(s_enc * (f32(1) / f32(6))))
        e_b = min(f32(1) / f32(f32(s_b) * s_dec), f32(np.finfo(f32).max))
        with np.errstate(over="ignore", invalid="ignore"):
            qs += codes(e2m1_sat(blk * e_b))
        scales.append(int(np.array(s_b).view(np.uint8)))
    return scales, qs, A


def mo_nvfp4(x):
    # Model-Optimizer >= 0.45: an f32 zero scale becomes 1, then the scale is
    # clamped to [2^-9, 448] before the E4M3 cast. (The producers' own bytes
    # are in tests/golden/producers/, from tests/producers/gen_corners.py.)
    A = f32(np.max(np.abs(x)))
    w = A / f32(2688)
    scales, qs = [], []
    for blk in x.reshape(-1, 16):
        a_b = f32(np.max(np.abs(blk)))
        s = f32(a_b / f32(f32(6) * w))
        s = f32(1) if s == 0 else s
        s_b = e4m3_sat(np.clip(s, f32(2.0**-9), f32(448)))
        qs += codes(e2m1_sat(blk / f32(f32(s_b) * w)))
        scales.append(int(np.array(s_b).view(np.uint8)))
    return scales, qs


def tao_nvfp4(x):
    A = f32(np.max(np.abs(x)))
    g = A / f32(2688)
    scales, qs = [], []
    for blk in x.reshape(-1, 16):
        a_b = f32(np.max(np.abs(blk)))
        sc = f32(f32(a_b / f32(6)) / g)
        s_b = e4m3_sat(np.clip(sc, f32(2.0**-6), f32(448)))
        qs += codes(e2m1_sat(blk * f32(f32(f32(1) / g) / f32(s_b))))
        scales.append(int(np.array(s_b).view(np.uint8)))
    return scales, qs


def jax_nvfp4(x):
    A = f32(np.max(np.abs(x)))
    g = A / f32(2688)
    xs = (x / g).astype(f32)
    scales, qs = [], []
    for blk in xs.reshape(-1, 16):
        a_b = f32(np.max(np.abs(blk)))
        s_b = np.float32(np.clip(f32(a_b / f32(6)), 0, 448)).astype(E4M3)
        if f32(s_b) == 0:
            qs += [0x8] * 16  # 0/0 -> NaN -> -0 (docs/SEMANTICS.md §3)
        else:
            qs += codes((blk / f32(s_b)).astype(f32).astype(E2M1))
        scales.append(int(np.array(s_b).view(np.uint8)))
    return scales, qs


def nvfp4_input():
    b0 = [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 6.0, -0.25, -0.75, -5.0, 0.1, 0.3, -1.6, 4.4, 0.0]
    b1 = [2688.0, -1000.0, 700.0, 300.0, 150.0, 100.0, 37.0, -19.0, 9.0, 5.0, 2.0, 1.0, 0.5, -0.2, 0.0, 1e-3]
    b2 = [0.0] * 16
    b3 = [1e-4, -2e-4, 3e-5, 0.0] * 4
    return np.array(b0 + b1 + b2 + b3, dtype=f32)


def mx(x, elem, emax, maxv, mbits, rule):
    scales, qs = [], []
    for blk in x.reshape(-1, 32):
        with np.errstate(invalid="ignore"):
            a = f32(np.max(np.abs(blk)))
        if np.isnan(a):
            scales.append(0xFF); qs += [0] * 32; continue
        if a == 0:
            scales.append(0x00); qs += [0] * 32; continue
        if np.isinf(a):
            scales.append(0xFE if rule == "rceil" else 0xFF); qs += [0] * 32; continue
        fl = int(np.floor(np.log2(np.float64(a))))
        if rule == "floor":
            e = fl - emax
        elif rule == "ceil":
            e = int(np.ceil(np.log2(np.float64(a)))) - emax
        elif rule == "even":
            bits = np.array([a], dtype=f32).view(np.uint32)[0]
            shift = 23 - mbits
            r = np.array([(int(bits) + (1 << (shift - 1))) & ~((1 << shift) - 1)], dtype=np.uint32).view(f32)[0]
            e = int(np.floor(np.log2(np.float64(r)))) - emax
        else:  # rceil: cvt.rp of f32(a * f32(1/max))
            t = np.float64(f32(a * f32(f32(1) / f32(maxv))))
            e = int(np.ceil(np.log2(t)))
        e = max(-127, min(127, e))
        scales.append(e + 127)
        q = np.clip((blk * f32(2.0 ** -e)).astype(f32), -maxv, maxv).astype(elem)
        qs += [int(b) for b in np.asarray(q).view(np.uint8)]
    return scales, qs


def mx_input():
    b0 = [7.0, 0.3, -2.9, 1.0, 0.25, 0.75] + [0.5] * 26          # FP4 amax 7: FLOOR clips
    b1 = [1.75 * 4, -3.0, 2.5, 0.0] + [0.125] * 28                 # amax 7 = 1.75·4
    b2 = [0.0] * 32
    b3 = [448.0 * 1.5, 1.0, -200.0] + [3.0] * 29                    # E4M3: 672
    return np.array(b0 + b1 + b2 + b3, dtype=f32)


if __name__ == "__main__":
    x = nvfp4_input()
    s, q, A = te_nvfp4(x)
    print("TE scales", [hex(v) for v in s]); print("TE q", q)
    s, q = mo_nvfp4(x); print("MO scales", [hex(v) for v in s]); print("MO q", q)
    s, q = tao_nvfp4(x); print("TAO scales", [hex(v) for v in s]); print("TAO q", q)
    s, q = jax_nvfp4(x); print("JAX scales", [hex(v) for v in s]); print("JAX q", q)
    y = mx_input()
    for rule in ["floor", "rceil", "ceil", "even"]:
        s, q = mx(y, E2M1, 2, 6.0, 1, rule)
        print("MXFP4", rule, s, [v & 0xF for v in q])
        s, q = mx(y, E4M3, 8, 448.0, 3, rule)
        print("MXFP8", rule, s, [hex(v) for v in q[:8]], [hex(v) for v in q[32:40]], [hex(v) for v in q[96:104]])
