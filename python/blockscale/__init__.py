"""blockscale: the exact CPU reference of block-scaled low-precision formats.

NVFP4 (and 4over6), MXFP8/6/4, MXINT8 and FP8 with per-tensor and
blockwise scales, bit for bit as the Rust crate ``blockscale`` defines them
(its ``docs/SEMANTICS.md``), from numpy. Element results come back as
ml_dtypes arrays, so they compare with ``==`` against ml_dtypes and view
into PyTorch with ``torch.from_numpy(a.view(np.uint8)).view(torch.float8_e4m3fn)``.

Inputs may be float32, float64, float16 or ml_dtypes' bfloat16 arrays (or
anything ``numpy.asarray`` turns into one); each is read in place when it is
C-contiguous, and converted to the element format with one rounding of its
exact value. Any other dtype raises ``TypeError``; a bad shape, format or
option raises ``ValueError`` with the Rust crate's message. Long work runs
with the GIL released.

>>> import numpy as np, blockscale
>>> q = blockscale.quantize(np.full((1, 32), 1.5, np.float32), "mxfp8")
>>> q.scales.view(np.uint8).tolist(), q.data[:2].tolist()  # 2^-8; 1.5 · 2^8 = 384 in E4M3
([[119]], [124, 124])
>>> q.dequantize()[0, :2].tolist()
[1.5, 1.5]
"""

from __future__ import annotations

import os
from typing import Optional, Sequence, Tuple, Union

import ml_dtypes
import numpy as np

from . import _blockscale as _native

__version__: str = _native.__version__

__all__ = [
    "QuantizedTensor",
    "cast",
    "convert",
    "dequantize_checkpoint",
    "formats",
    "from_parts",
    "gemm",
    "gemm_quantized",
    "gemm_reference",
    "inspect",
    "quantize",
    "recipe_spec",
    "rht",
    "simd_level",
]

#: Element types by the crate's name, with the numpy dtype their codes are
#: returned in (ml_dtypes' where it has one).
ELEMENT_DTYPES = {
    "e4m3": ml_dtypes.float8_e4m3fn,
    "e5m2": ml_dtypes.float8_e5m2,
    "e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
    "e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
    "e2m3": ml_dtypes.float6_e2m3fn,
    "e3m2": ml_dtypes.float6_e3m2fn,
    "e2m1": ml_dtypes.float4_e2m1fn,
    "e8m0": ml_dtypes.float8_e8m0fnu,
    "int8": np.int8,
}

# The crate's stored dtypes (`io::DType::name`) as numpy dtypes.
_STORED_DTYPES = {
    "f64": np.float64,
    "f32": np.float32,
    "f16": np.float16,
    "bf16": ml_dtypes.bfloat16,
    "f8e4m3": ml_dtypes.float8_e4m3fn,
    "f8e5m2": ml_dtypes.float8_e5m2,
    "f8e8m0": ml_dtypes.float8_e8m0fnu,
    "u8": np.uint8,
    "i8": np.int8,
    "raw8": np.uint8,
}

# ml_dtypes' names for the same types, accepted wherever an element is named.
_ALIASES = {np.dtype(t).name: k for k, t in ELEMENT_DTYPES.items() if k != "int8"}

ArrayLike = Union[np.ndarray, Sequence[float], float]
PathLike = Union[str, "os.PathLike[str]"]


def _element(kind) -> str:
    if isinstance(kind, str):
        k = kind.lower()
    else:
        k = np.dtype(kind).name
    k = _ALIASES.get(k, k)
    if k not in ELEMENT_DTYPES:
        names = ", ".join(ELEMENT_DTYPES)
        raise ValueError(f"unknown element type {kind!r}; expected one of {names} (or ml_dtypes' names)")
    return k


def _source(x, name: str = "x") -> Tuple[np.ndarray, str, Tuple[int, ...]]:
    """The input as a flat contiguous array the native module reads, its tag and shape."""
    a = np.asarray(x)
    dt = a.dtype
    if dt == np.float32:
        tag = "float32"
    elif dt == np.float64:
        tag = "float64"
    elif dt == ml_dtypes.bfloat16:
        tag = "bfloat16"
    elif dt == np.float16:
        tag = "float16"
    else:
        raise TypeError(
            f"{name} has dtype {dt}; expected float32, float64, float16 or bfloat16 (ml_dtypes)"
        )
    flat = np.ascontiguousarray(a).reshape(-1)
    if tag in ("bfloat16", "float16"):
        flat = flat.view(np.uint16)
    return flat, tag, a.shape


def _matrix(shape: Tuple[int, ...], name: str = "x") -> Tuple[int, int]:
    """(rows, cols) of an array: its last axis is the columns, the others the rows."""
    if len(shape) == 0:
        raise ValueError(f"{name} is a scalar; expected an array with at least one axis")
    cols = shape[-1]
    rows = int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1
    return rows, cols


def cast(
    x: ArrayLike,
    dtype,
    *,
    rounding: str = "nearest",
    saturate: bool = False,
    seed: int = 0,
) -> np.ndarray:
    """Converts every element of ``x`` to the element type ``dtype``.

    ``dtype`` is the crate's name (``"e4m3"``, ``"e5m2"``, ``"e2m1"``,
    ``"e2m3"``, ``"e3m2"``, ``"e8m0"``, ``"e4m3fnuz"``, ``"e5m2fnuz"``,
    ``"int8"``) or the ml_dtypes type. ``rounding`` is ``"nearest"`` (ties to
    even; for E8M0, ml_dtypes' astype exactly, ties away), ``"nearest_away"``, ``"toward_zero"``, ``"up"``, ``"down"`` or
    ``"stochastic"`` (seeded by ``seed``, reproducible). With ``saturate``
    off, overflow and NaN follow ml_dtypes' ``astype`` bit for bit; with it
    on, values past the largest finite clamp to it (CUDA's ``satfinite``).

    Returns an array of ``x``'s shape in ml_dtypes' type (one byte per
    element, E2M1 included).

    >>> import numpy as np, ml_dtypes, blockscale
    >>> x = np.array([0.3, 500.0, -1e-3], np.float32)
    >>> bool((blockscale.cast(x, "e4m3") == x.astype(ml_dtypes.float8_e4m3fn))[[0, 2]].all())
    True
    >>> int(blockscale.cast(x, "e4m3").view(np.uint8)[1])  # past 448: NaN, as ml_dtypes
    127
    >>> float(blockscale.cast(x, "e4m3", saturate=True)[1])
    448.0
    """
    kind = _element(dtype)
    flat, tag, shape = _source(x)
    bits = _native.cast(flat, tag, kind, rounding, saturate, seed)
    return bits.view(ELEMENT_DTYPES[kind]).reshape(shape)


def formats() -> list:
    """Every format family: ``nvfp4``, ``nvfp4-4over6``, ``mxfp8``, …

    >>> "nvfp4" in blockscale.formats()
    True
    """
    return list(_native.formats())


def rht(
    x: ArrayLike,
    *,
    size: int = 16,
    signs: str = "te",
    seed: int = 0,
    direction: str = "rowwise",
    inverse: bool = False,
    bf16: bool = False,
) -> np.ndarray:
    """The Random Hadamard Transform of the matrix ``x`` (float32; its last
    axis is the columns) along its rows (``direction="rowwise"``) or columns,
    in chunks v of ``size`` n (a power of two 16..256): ``v ↦ v·M`` with
    ``M = diag(s)·H_n/√n`` (H_n Sylvester's Hadamard matrix),
    or its inverse. ``signs`` is ``"te"`` (Transformer Engine's fixed
    16-entry vector), ``"seeded"`` (from ``seed``) or ``"ones"``; ``bf16``
    rounds the output to bfloat16 values as TE does. Returns a new float32
    array of ``x``'s shape.

    >>> y = blockscale.rht(np.eye(16, dtype=np.float32), signs="ones")
    >>> float(y[0, 0]), float(abs(y).max())  # the Hadamard rows, scaled by 1/4
    (0.25, 0.25)
    """
    a = np.asarray(x)
    if a.dtype != np.float32:
        raise TypeError(f"x has dtype {a.dtype}; the RHT takes float32")
    rows, cols = _matrix(a.shape)
    y = _native.rht(np.ascontiguousarray(a).reshape(-1), rows, cols, size, signs, seed, direction, inverse, bf16)
    return y.reshape(a.shape)


def recipe_spec(
    recipe: str,
    role: str,
    *,
    layer: int = 0,
    num_layers: int = 1,
    step: int = 0,
    seed: int = 0,
    **nvfp4_options,
) -> dict:
    """How ``recipe`` quantizes one GEMM operand of a linear layer (the
    crate's ``Recipe::layer_spec``), with Transformer Engine's defaults.

    ``recipe`` is ``"delayed"``, ``"tensorwise"``, ``"mxfp8"``,
    ``"blockwise"``, ``"nvfp4"`` or ``"mxfp4"``; ``role`` one of
    ``"fprop_input"``, ``"fprop_weight"``, ``"dgrad_grad_output"``,
    ``"dgrad_weight"``, ``"wgrad_grad_output"``, ``"wgrad_input"``.
    ``nvfp4_options`` are the NVFP4 recipe's switches by TE's names
    (``two_d_weights``, ``stochastic_gradients``, ``rht``, ``rht_size``,
    ``rht_bf16``, ``four_over_six="none|weights|activations|all"``,
    ``four_over_six_e4m3_256``, ``four_over_six_metric="mae|mse"``,
    ``four_over_six_fast_error``, ``row_scaled_activation``).

    Returns a dict: ``format`` (an identifier for :func:`quantize`, or
    ``None`` for BF16), ``block``, ``delayed``, ``direction``, ``rounding``
    and ``seed`` (the operand's own stochastic-rounding seed, for
    :func:`quantize`), ``rht`` (``None`` or the keywords of :func:`rht`:
    ``size``, ``signs``, ``bf16``; applied along ``direction`` first) and
    ``row_scaled``.

    >>> s = blockscale.recipe_spec("nvfp4", "wgrad_grad_output")
    >>> s["format"], s["direction"], s["rounding"], s["rht"]
    ('nvfp4', 'columnwise', 'stochastic', {'size': 16, 'signs': 'te', 'bf16': True})
    """
    return dict(
        _native.recipe_spec(recipe, role, layer, num_layers, step, seed, nvfp4_options or None)
    )


def simd_level() -> str:
    """The SIMD level the Rust kernels run at here: ``"portable"``,
    ``"avx2"``, ``"avx512"`` or ``"avx512vnni"`` (every level gives the same
    bytes; the environment variable ``BLOCKSCALE_SIMD=portable`` forces the
    portable path).

    >>> blockscale.simd_level() in ("portable", "avx2", "avx512", "avx512vnni")
    True
    """
    return _native.simd_level()


def _format_id(format: str, profile, scale_rule, two_d) -> str:
    parts = [format]
    if profile is not None:
        parts.append(f"profile={profile}")
    if scale_rule is not None:
        parts.append(f"rule={scale_rule}")
    if two_d:
        parts.append("2d")
    return ",".join(parts)


class QuantizedTensor:
    """A matrix in a block-scaled format: element bytes, block scales and
    (NVFP4) the tensor amax, with the crate's dequantization and metrics.

    Made by :func:`quantize` or :func:`from_parts`. The stored matrix is
    the logical one (``rowwise``) or its transpose (``columnwise``); data
    and scales are row-major in the stored orientation.
    """

    __slots__ = ("_q", "_data")

    def __init__(self, native):
        self._q = native
        self._data = None

    @property
    def format(self) -> str:
        """The format identifier, e.g. ``"nvfp4"`` or ``"mxfp8,rule=floor"``."""
        return self._q.format

    @property
    def shape(self) -> Tuple[int, int]:
        """``(rows, cols)`` of the logical matrix."""
        return self._q.shape

    @property
    def stored_shape(self) -> Tuple[int, int]:
        """``(rows, cols)`` as stored: transposed when ``direction`` is columnwise."""
        return self._q.stored_shape

    @property
    def direction(self) -> str:
        """``"rowwise"`` or ``"columnwise"``: the axis the blocks run along."""
        return self._q.direction

    @property
    def global_amax(self) -> Optional[float]:
        """The tensor amax (NVFP4's second-level scale), or ``None``."""
        return self._q.global_amax

    @property
    def data(self) -> np.ndarray:
        """The stored element bytes, row-major (two E2M1 codes per byte,
        the first in the low nibble; FP6 one code per byte). Read-only; the
        same array on every access."""
        if self._data is None:
            d = self._q.data()
            d.flags.writeable = False
            self._data = d
        return self._data

    @property
    def scales(self) -> np.ndarray:
        """The block scales, shape ``scale_shape``, as ml_dtypes
        ``float8_e4m3fn`` (NVFP4), ``float8_e8m0fnu`` (MX) or float32 (FP8)."""
        return self._scales(self._q.scale_bits(), self._q.scale_shape)

    def _scales(self, bits: np.ndarray, shape) -> np.ndarray:
        kind = self._q.scale_kind
        if kind == "f32":
            return bits.view(np.float32).reshape(shape)
        dtype = ml_dtypes.float8_e4m3fn if kind == "e4m3" else ml_dtypes.float8_e8m0fnu
        return bits.astype(np.uint8).view(dtype).reshape(shape)

    @property
    def scale_shape(self) -> Tuple[int, int]:
        """``(rows, cols)`` of the block-scale matrix."""
        return self._q.scale_shape

    def scales_in(self, layout: str) -> np.ndarray:
        """The scales laid out for the kernel that reads them, flat, padding
        zero (the Rust crate's ``blockscale::layout`` tabulates each):

        - ``"row_major"``: ``scales`` (also FlashInfer's ``layout_linear``);
        - ``"swizzled_128x4"``: cuBLAS's, ``tcgen05``'s, Transformer
          Engine's and FlashInfer's ``layout_128x4``;
        - ``"swizzled_8x4"``: FlashInfer's ``layout_8x4``;
        - ``"mn_major"``: column-major, rows padded to 4 (Transformer
          Engine's GEMM-ready 1x128 FP8 scales, DeepGEMM's FP32 scales);
        - ``"packed_ue8m0"``: DeepGEMM on SM100, E8M0 scales only;
          ``.view(np.int32)`` gives its words, four K blocks each;
        - ``"row_major_pad4"``: Transformer Engine's GEMM-ready 128x128 FP8
          scales;
        - ``"gfx950_32x8"``: AMD MI355's pre-shuffled MX scales (aiter's
          ``e8m0_shuffle``).

        >>> q = blockscale.quantize(np.ones((2, 192), np.float32), "mxfp8")
        >>> q.scales_in("packed_ue8m0").view(np.int32).shape  # 2 groups of 4 K blocks x 4 rows
        (8,)
        """
        if layout == "row_major":
            return self.scales
        bits = self._q.scale_bits_in(layout)
        return self._scales(bits, (bits.size,))

    def data_in(self, major: str = "k", *, rows_to: int = 1, row_bytes_to: int = 1, fp6: str = "bytes") -> np.ndarray:
        """The element codes laid out as a kernel reads them, as uint8 of
        shape ``(rows, bytes per row)``: ``major="k"`` (the stored rows,
        K fastest; Blackwell's FP4 MMA) or ``"mn"`` (the transpose), rows
        padded with zeros to a multiple of ``rows_to`` and each row to a
        multiple of ``row_bytes_to`` bytes (16 for TMA); FP4 two codes per
        byte (element 2j low), FP6 one per byte (``fp6="bytes"``, CUDA's
        FP6 types) or four in three bytes (``"packed"``: code i in bits
        6i..6i+6, NVIDIA's TMA and CUTLASS, AMD gfx950).

        >>> q = blockscale.quantize(np.ones((2, 32), np.float32), "mxfp6")
        >>> q.data_in(fp6="packed").shape, q.data_in("mn", row_bytes_to=16).shape
        ((2, 24), (32, 16))
        """
        data = self._q.data_in(major, rows_to, row_bytes_to, fp6)
        rows, cols = self.stored_shape if major == "k" else self.stored_shape[::-1]
        rows = -(-rows // rows_to) * rows_to if rows_to > 0 else rows
        return data.reshape(rows, -1) if rows else data.reshape(0, 0)

    def dequantize(self, dtype=np.float32, out: Optional[np.ndarray] = None) -> np.ndarray:
        """The matrix (logical orientation, ``shape``), converted to ``dtype``
        from the crate's f32 values. With ``out`` (a C-contiguous float32
        array of ``shape``) the values are written into it, with no other
        buffer, and ``out`` is returned."""
        if out is not None:
            if not isinstance(out, np.ndarray) or out.dtype != np.float32:
                raise TypeError("out must be a float32 numpy array")
            if out.shape != tuple(self.shape) or not out.flags.c_contiguous:
                raise ValueError(f"out has shape {out.shape}; expected a C-contiguous {tuple(self.shape)}")
            self._q.dequantize_into(out.reshape(-1))
            return out
        res = self._q.dequantize().reshape(self.shape)
        return res if np.dtype(dtype) == np.float32 else res.astype(dtype)

    def error_metrics(self, reference: ArrayLike) -> dict:
        """Error against the ``reference`` it was quantized from: ``count``,
        ``nonfinite``, ``mse``, ``sqnr_db``, ``max_abs``, ``max_rel``,
        ``saturated`` and ``flushed_to_zero`` (the crate's ``ErrorMetrics``)."""
        flat, tag, _ = _source(reference, "reference")
        return dict(self._q.error_metrics(flat, tag))

    def to_layout(self, layout: str = "auto", name: str = "weight") -> Tuple[dict, dict]:
        """The tensors a checkpoint layout stores for this matrix as the
        weight ``name``, and the safetensors metadata it needs: what
        :func:`convert` writes for one weight, for a state dict built in
        Python. ``layout`` is one of :data:`LAYOUTS` but ``"gguf"``
        (``"auto"``: Model-Optimizer for NVFP4, gpt-oss for MXFP4, else
        blockscale's own). Arrays are numpy (ml_dtypes for FP8 and E8M0);
        into PyTorch with ``torch.from_numpy(a.view(np.uint8)).view(dtype)``.

        >>> q = blockscale.quantize(np.ones((2, 32), np.float32), "nvfp4")
        >>> t, meta = q.to_layout("modelopt", "proj.weight")
        >>> [(k, v.dtype.name, v.shape) for k, v in t.items()]
        [('proj.weight', 'uint8', (2, 16)), ('proj.weight_scale', 'float8_e4m3fn', (2, 2)), ('proj.weight_scale_2', 'float32', ())]
        >>> bool(t["proj.weight_scale_2"] == np.float32(1) / np.float32(2688)), meta  # amax / (6 * 448)
        (True, {})
        """
        tensors, meta = self._q.layout_tensors(layout, name)
        out = {}
        for n, dtype, shape, data in tensors:
            out[n] = data.view(_STORED_DTYPES[dtype]).reshape(shape)
        return out, dict(meta)

    def __repr__(self) -> str:
        return f"QuantizedTensor(format={self.format!r}, shape={self.shape}, direction={self.direction!r})"


def quantize(
    x: ArrayLike,
    format: str,
    *,
    profile: Optional[str] = None,
    scale_rule: Optional[str] = None,
    two_d: bool = False,
    direction: str = "rowwise",
    rounding: str = "nearest",
    seed: int = 0,
    global_amax: Optional[float] = None,
    pad: bool = False,
) -> QuantizedTensor:
    """Quantizes the matrix ``x`` (its last axis is the columns; leading axes
    are flattened into rows) with ``format``.

    ``format`` is a format identifier (``"nvfp4"``, ``"nvfp4-4over6"``,
    ``"mxfp8"``, ``"mxfp4,rule=floor"``, ``"fp8-block"``, … see
    :func:`formats`); ``profile``, ``scale_rule`` and ``two_d`` add its
    options (``profile="modelopt"``, ``scale_rule="floor"``, 16×16 / 32×32
    tiles). ``direction="columnwise"`` runs the blocks down the columns.
    ``rounding`` is ``"nearest"``, ``"stochastic"`` (32 random bits per
    element from a seeded stream per tile) or ``"stochastic8"`` (8 bits
    per element, the GPUs' resolution, from a seeded counter; faster).
    ``global_amax`` replaces the tensor's amax (NVFP4). ``pad`` zero-pads a
    last partial block instead of refusing it.

    >>> x = np.linspace(-1, 1, 64, dtype=np.float32).reshape(2, 32)
    >>> q = blockscale.quantize(x, "nvfp4")
    >>> q.scales.shape, q.data.size, q.global_amax
    ((2, 2), 32, 1.0)
    """
    flat, tag, shape = _source(x)
    rows, cols = _matrix(shape)
    fid = _format_id(format, profile, scale_rule, two_d)
    q = _native.quantize(
        flat, tag, rows, cols, fid, direction, rounding, seed, global_amax, pad
    )
    return QuantizedTensor(q)


def _scale_bits(scales) -> np.ndarray:
    s = np.ascontiguousarray(np.asarray(scales)).reshape(-1)
    if s.dtype == np.float32:
        return s.view(np.uint32)
    if s.dtype.itemsize == 1:
        return s.view(np.uint8).astype(np.uint32)
    if s.dtype == np.uint32:
        return s
    raise TypeError(
        f"scales have dtype {s.dtype}; expected float8_e4m3fn/float8_e8m0fnu/uint8 (NVFP4, MX) or float32 (FP8)"
    )


def from_parts(
    format: str,
    shape: Tuple[int, int],
    data: ArrayLike,
    scales: ArrayLike,
    *,
    global_amax: Optional[float] = None,
    direction: str = "rowwise",
    pad: bool = False,
) -> QuantizedTensor:
    """Wraps bytes another producer wrote (a GPU kernel's output, a
    checkpoint's tensors) as a :class:`QuantizedTensor`, checking their sizes.

    ``data`` is the stored element bytes (uint8, any shape), ``scales`` the
    block scales row-major (ml_dtypes FP8/E8M0 or uint8 for NVFP4 and MX,
    float32 for FP8), ``shape`` the logical ``(rows, cols)``.

    >>> q = blockscale.from_parts("mxfp8", (1, 32), np.full(32, 0x38, np.uint8), np.array([127], np.uint8))
    >>> q.dequantize()[0, :3].tolist()
    [1.0, 1.0, 1.0]
    """
    d = np.ascontiguousarray(np.asarray(data)).reshape(-1)
    if d.dtype.itemsize != 1:
        raise TypeError(f"data has dtype {d.dtype}; expected uint8 (or a one-byte ml_dtypes type)")
    rows, cols = shape
    q = _native.from_parts(
        format, rows, cols, d.view(np.uint8), _scale_bits(scales), global_amax, direction, pad
    )
    return QuantizedTensor(q)


def _f32_vector(v, name: str) -> Optional[np.ndarray]:
    if v is None:
        return None
    v = np.asarray(v)
    if v.dtype != np.float32 or v.ndim != 1:
        raise TypeError(f"{name} is {v.dtype} of shape {v.shape}; expected a 1-D float32 array")
    return np.ascontiguousarray(v)


def _gemm(native, a: QuantizedTensor, b: QuantizedTensor, alpha, beta, c, epilogue=None) -> np.ndarray:
    if not isinstance(a, QuantizedTensor) or not isinstance(b, QuantizedTensor):
        raise TypeError("a and b must be QuantizedTensor (from quantize or from_parts)")
    m, n = a.shape[0], b.shape[0]
    cflat = None
    if c is not None:
        c = np.asarray(c)
        if c.dtype != np.float32:
            raise TypeError(f"c has dtype {c.dtype}; expected float32")
        if c.shape != (m, n):
            raise ValueError(f"c has shape {c.shape}; expected {(m, n)}")
        cflat = np.ascontiguousarray(c).reshape(-1)
    if epilogue is None or all(v is None for v in epilogue[:3]):
        return native(a._q, b._q, float(alpha), float(beta), cflat).reshape(m, n)
    row_scale, col_scale, bias, bias_per = epilogue
    y = native(a._q, b._q, float(alpha), 0.0, None)
    out = _native.epilogue(
        y,
        m,
        n,
        float(beta),
        cflat,
        _f32_vector(row_scale, "row_scale"),
        _f32_vector(col_scale, "col_scale"),
        _f32_vector(bias, "bias"),
        bias_per,
    )
    return out.reshape(m, n)


def gemm(
    a: QuantizedTensor,
    b: QuantizedTensor,
    alpha: float = 1.0,
    beta: float = 0.0,
    c=None,
    *,
    row_scale=None,
    col_scale=None,
    bias=None,
    bias_per: str = "column",
) -> np.ndarray:
    """``alpha · A · Bᵀ + beta · C`` (float32, M × N) for A (M × K) and B
    (N × K) quantized along K, by the crate's fast exact GEMM: each block's
    inner sum exact, one rounding per block term, f32 accumulation in block
    order (the crate's ``gemm`` module docs), bit-identical to
    :func:`gemm_reference`. ``c`` is read when ``beta`` is not 0 and is not
    modified.

    The epilogue (the crate's ``gemm::Epilogue``), each step rounded to
    float32 in this order: ``y * col_scale[n]`` (length N), ``* row_scale[m]``
    (length M), ``+ bias`` (length N, or M with ``bias_per="row"``), then
    ``+ beta * C``.

    >>> a = blockscale.quantize(np.full((2, 32), 1.5, np.float32), "mxfp8")
    >>> b = blockscale.quantize(np.full((3, 32), 2.0, np.float32), "mxfp4")
    >>> blockscale.gemm(a, b).tolist()
    [[96.0, 96.0, 96.0], [96.0, 96.0, 96.0]]
    >>> blockscale.gemm(a, b, row_scale=np.array([1, 0.5], np.float32), bias=np.ones(3, np.float32)).tolist()
    [[97.0, 97.0, 97.0], [49.0, 49.0, 49.0]]
    """
    return _gemm(_native.gemm, a, b, alpha, beta, c, (row_scale, col_scale, bias, bias_per))


def gemm_reference(
    a: QuantizedTensor,
    b: QuantizedTensor,
    alpha: float = 1.0,
    beta: float = 0.0,
    c=None,
    *,
    row_scale=None,
    col_scale=None,
    bias=None,
    bias_per: str = "column",
) -> np.ndarray:
    """:func:`gemm` by the crate's triple-loop definition (slow; the
    specification the fast path is tested against)."""
    return _gemm(
        _native.gemm_reference, a, b, alpha, beta, c, (row_scale, col_scale, bias, bias_per)
    )


def gemm_quantized(
    a: QuantizedTensor,
    b: QuantizedTensor,
    format: str,
    *,
    alpha: float = 1.0,
    row_scale=None,
    col_scale=None,
    bias=None,
    bias_per: str = "column",
    profile: Optional[str] = None,
    global_amax: Optional[float] = None,
) -> QuantizedTensor:
    """A GEMM whose output is block-scaled, as a Blackwell GEMM epilogue
    writes an NVFP4 or MXFP8 D: :func:`gemm` (with its epilogue), quantized
    along N with ``format``. For NVFP4 and the MX floats the profile is
    ``"cutlass"`` unless ``profile`` or the format names another: the block
    scales CUTLASS's epilogue computes (the crate's
    ``gemm::gemm_quantized``), NVFP4 with the norm constant ``2688 /
    global_amax`` (D's own amax when not given), MX with RCEIL.

    >>> a = blockscale.quantize(np.full((2, 32), 1.5, np.float32), "mxfp8")
    >>> b = blockscale.quantize(np.full((16, 32), 2.0, np.float32), "mxfp4")
    >>> d = blockscale.gemm_quantized(a, b, "nvfp4")
    >>> d.format, d.global_amax, d.dequantize()[0, :2].tolist()
    ('nvfp4,profile=cutlass', 96.0, [96.0, 96.0])
    """
    family = format.split(",")[0]
    if profile is None and "profile=" not in format:
        if family == "nvfp4" or (family.startswith("mx") and family != "mxint8"):
            profile = "cutlass"
    y = gemm(a, b, alpha, row_scale=row_scale, col_scale=col_scale, bias=bias, bias_per=bias_per)
    return quantize(y, format, profile=profile, global_amax=global_amax)


# Checkpoints -------------------------------------------------------------
#
# The command line's ``convert``, ``dequantize`` and ``inspect``, as
# functions: the same Rust code (``blockscale::io::checkpoint``), with the
# GIL released. A file the system cannot read or write raises ``OSError``
# (``FileNotFoundError``, ``PermissionError``); a malformed file or a
# checkpoint that cannot be converted, ``ValueError`` naming the file and
# the tensor. Every input is checked before anything is written, and each
# output file is written atomically.

#: The layouts :func:`convert` writes (``layout=``).
LAYOUTS = ("auto", "modelopt", "gpt-oss", "deepseek", "compressed-tensors", "gguf", "blockscale")


def _path(p, name: str) -> str:
    if not isinstance(p, (str, os.PathLike)):
        raise TypeError(f"{name} is a {type(p).__name__}; expected a path (str or os.PathLike)")
    return os.fspath(p)


def convert(
    model: PathLike,
    output: PathLike,
    to: str,
    *,
    layout: str = "auto",
    exclude: Sequence[str] = (),
    keep_last_layers: int = 0,
    activation_amax: Optional[PathLike] = None,
) -> dict:
    """Converts a BF16/F16/F32 checkpoint to a block-scaled format in a
    loader's layout, as ``blockscale convert`` does.

    ``model`` is one ``.safetensors`` file or a checkpoint directory
    (sharded with ``model.safetensors.index.json``, or ``*.safetensors``),
    usually with ``config.json``; ``output`` a directory, created if
    missing. Every linear weight the model table knows is quantized to
    ``to`` (a format identifier as :func:`quantize` takes it, or
    ``"fp8-channel"``), the rest copied. ``layout`` is one of
    :data:`LAYOUTS`: ``"auto"`` writes Model-Optimizer's for NVFP4
    (vLLM, TensorRT-LLM), gpt-oss's for MXFP4 (transformers) and
    blockscale's own for the rest; ``"compressed-tensors"``, ``"deepseek"``
    and ``"gguf"`` (llama.cpp) are the others. ``exclude`` globs (``*``,
    ``?``) and ``keep_last_layers`` keep tensors unchanged;
    ``activation_amax`` (a JSON ``{"module": amax}`` or safetensors file)
    adds Model-Optimizer's ``input_scale`` for W4A4 NVFP4.

    Returns a dict: ``tensors`` (read), ``quantized``, ``guessed`` (the
    tensors quantized by their names alone, because ``config.json``'s
    architecture is not in the model table) and ``output_bytes``.

    >>> import os, tempfile
    >>> from safetensors.numpy import save_file
    >>> d = tempfile.mkdtemp()
    >>> w = np.linspace(-1, 1, 64 * 32, dtype=np.float32).reshape(64, 32)
    >>> save_file({"model.layers.0.mlp.up_proj.weight": w}, os.path.join(d, "model.safetensors"))
    >>> blockscale.convert(os.path.join(d, "model.safetensors"), os.path.join(d, "nvfp4"), "nvfp4")["quantized"]
    1
    >>> t = blockscale.inspect(os.path.join(d, "nvfp4", "model.safetensors"))["tensors"]
    >>> [(e["name"].rsplit(".", 1)[-1], e["dtype"], e["shape"]) for e in t]
    [('weight', 'U8', (64, 16)), ('weight_scale', 'F8_E4M3', (64, 2)), ('weight_scale_2', 'F32', ())]
    """
    exclude = [exclude] if isinstance(exclude, str) else list(exclude)
    amax = None if activation_amax is None else _path(activation_amax, "activation_amax")
    return dict(
        _native.convert(
            _path(model, "model"), _path(output, "output"), to, layout, exclude, keep_last_layers, amax
        )
    )


def dequantize_checkpoint(input: PathLike, output: PathLike, dtype: Optional[str] = None) -> None:
    """Dequantizes a quantized file or checkpoint, as ``blockscale
    dequantize`` does: every layout :func:`convert` writes (Model-Optimizer
    NVFP4, gpt-oss MXFP4, DeepSeek FP8, compressed-tensors, GGUF,
    blockscale's own) back to ``dtype`` (``"bf16"``, ``"f16"``, ``"f32"``
    or ``"f64"``; by default bf16, or f32 for a ``.npy`` output).

    ``input`` a ``.safetensors`` or ``.gguf`` file: ``output`` is a
    ``.safetensors`` file, or a ``.npy`` file if the input holds one
    tensor. ``input`` a directory: ``output`` is a directory with one
    safetensors file per shard, the index and ``config.json`` without its
    ``quantization_config``. A tensor that looks quantized but is in no
    layout blockscale reads raises ``ValueError``, never passes as weights.

    >>> import os, tempfile
    >>> from safetensors.numpy import save_file
    >>> d = tempfile.mkdtemp()
    >>> w = np.linspace(-1, 1, 64 * 32, dtype=np.float32).reshape(64, 32)
    >>> src = os.path.join(d, "w.safetensors")
    >>> save_file({"fc.weight": w}, src)
    >>> _ = blockscale.convert(src, os.path.join(d, "q"), "mxfp8")
    >>> blockscale.dequantize_checkpoint(os.path.join(d, "q", "w.safetensors"), os.path.join(d, "w.npy"))
    >>> back = np.load(os.path.join(d, "w.npy"))
    >>> bool(np.array_equal(back, blockscale.quantize(w, "mxfp8").dequantize()))
    True
    """
    if dtype is not None and not isinstance(dtype, str):
        dtype = np.dtype(dtype).name
        dtype = {"float32": "f32", "float16": "f16", "float64": "f64", "bfloat16": "bf16"}.get(dtype, dtype)
    _native.dequantize_checkpoint(_path(input, "input"), _path(output, "output"), dtype)


def inspect(path: PathLike) -> dict:
    """What a ``.npy``, ``.safetensors`` or ``.gguf`` file holds, as
    ``blockscale inspect`` prints it.

    Returns a dict: ``kind`` (``"npy"``, ``"safetensors"`` or ``"gguf"``),
    ``tensors`` (in the file's order, each a dict with ``name``, ``dtype``
    as the file names it, ``shape``, ``role`` (for safetensors the part of
    a quantized weight it is, such as ``"Model-Optimizer NVFP4 block
    scales"``, or ``"unquantized"``), ``scales`` (for a scale tensor:
    ``count``, ``min`` (non-zero), ``max``, ``log2_mean``, ``zero``,
    ``nonfinite``) and ``values`` (for ``.npy``: ``count``, ``amax``,
    ``nonfinite``)) and ``metadata`` (GGUF's keys and values).

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(p, np.array([[1.0, -3.0], [0.5, np.inf]], np.float32))
    >>> t = blockscale.inspect(p)["tensors"][0]
    >>> t["name"], t["dtype"], t["shape"], t["values"]
    ('x', 'f32', (2, 2), {'count': 4, 'amax': inf, 'nonfinite': 1})
    """
    return dict(_native.inspect(_path(path, "path")))

