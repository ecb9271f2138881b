"""Type stubs of the native module (python/src/lib.rs). Use the package
`blockscale`, which wraps these with shapes, dtypes and argument checks."""

from typing import Any, Optional, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

def cast(
    x: npt.NDArray, src: str, kind: str, rounding: str = ..., saturate: bool = ..., seed: int = ...
) -> npt.NDArray[np.uint8]: ...
def decode(bits: npt.NDArray[np.uint8], kind: str) -> npt.NDArray[np.float32]: ...
def formats() -> list[str]: ...
def simd_level() -> str: ...
def recipe_spec(
    recipe: str,
    role: str,
    layer: int = ...,
    num_layers: int = ...,
    step: int = ...,
    seed: int = ...,
    options: Optional[dict] = ...,
) -> dict: ...
def rht(
    x: npt.NDArray[np.float32],
    rows: int,
    cols: int,
    size: int = ...,
    signs: str = ...,
    seed: int = ...,
    direction: str = ...,
    inverse: bool = ...,
    bf16: bool = ...,
) -> npt.NDArray[np.float32]: ...

class _Quantized:
    @property
    def format(self) -> str: ...
    @property
    def shape(self) -> Tuple[int, int]: ...
    @property
    def stored_shape(self) -> Tuple[int, int]: ...
    @property
    def direction(self) -> str: ...
    @property
    def scale_shape(self) -> Tuple[int, int]: ...
    @property
    def scale_kind(self) -> str: ...
    @property
    def global_amax(self) -> Optional[float]: ...
    def data(self) -> npt.NDArray[np.uint8]: ...
    def scale_bits(self) -> npt.NDArray[np.uint32]: ...
    def data_in(self, major: str, rows_to: int, row_bytes_to: int, fp6: str) -> npt.NDArray[np.uint8]: ...
    def scale_bits_in(self, layout: str) -> npt.NDArray[np.uint32]: ...
    def dequantize(self) -> npt.NDArray[np.float32]: ...
    def dequantize_into(self, out: npt.NDArray[np.float32]) -> None: ...
    def error_metrics(self, reference: npt.NDArray, src: str) -> dict: ...
    def layout_tensors(
        self, layout: str, name: str
    ) -> Tuple[list[Tuple[str, str, list[int], npt.NDArray[np.uint8]]], list[Tuple[str, str]]]: ...

def quantize(
    x: npt.NDArray,
    src: str,
    rows: int,
    cols: int,
    format: str,
    direction: str = ...,
    rounding: str = ...,
    seed: int = ...,
    global_amax: Optional[float] = ...,
    pad: bool = ...,
) -> _Quantized: ...
def from_parts(
    format: str,
    rows: int,
    cols: int,
    data: npt.NDArray[np.uint8],
    scale_bits: npt.NDArray[np.uint32],
    global_amax: Optional[float] = ...,
    direction: str = ...,
    pad: bool = ...,
) -> _Quantized: ...
def gemm(
    a: _Quantized, b: _Quantized, alpha: float = ..., beta: float = ..., c: Optional[npt.NDArray[np.float32]] = ...
) -> npt.NDArray[np.float32]: ...
def gemm_reference(
    a: _Quantized, b: _Quantized, alpha: float = ..., beta: float = ..., c: Optional[npt.NDArray[np.float32]] = ...
) -> npt.NDArray[np.float32]: ...
def epilogue(
    y: npt.NDArray[np.float32],
    m: int,
    n: int,
    beta: float = ...,
    c: Optional[npt.NDArray[np.float32]] = ...,
    row_scale: Optional[npt.NDArray[np.float32]] = ...,
    col_scale: Optional[npt.NDArray[np.float32]] = ...,
    bias: Optional[npt.NDArray[np.float32]] = ...,
    bias_per: str = ...,
) -> npt.NDArray[np.float32]: ...
def convert(
    model: str,
    output: str,
    to: str,
    layout: str = ...,
    exclude: list[str] = ...,
    keep_last_layers: int = ...,
    activation_amax: Optional[str] = ...,
) -> dict[str, Any]: ...
def dequantize_checkpoint(input: str, output: str, dtype: Optional[str] = ...) -> None: ...
def inspect(path: str) -> dict[str, Any]: ...
