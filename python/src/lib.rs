//! The native half of the `blockscale` Python package: thin wrappers over
//! the Rust crate that take and return flat numpy arrays. The pure-Python
//! package (`python/blockscale/__init__.py`) gives them their shapes and
//! ml_dtypes dtypes and checks argument types; this module checks nothing
//! the crate checks itself, and reports the crate's errors as `ValueError`
//! (the operating system's refusals to read or write a file as `OSError`).

use blockscale::Error;
use blockscale::element::slice::{self, Real};
use blockscale::element::{ConvertOptions, Rounding};
use blockscale::format::AnyFormat;
use blockscale::format::BlockFormat;
use blockscale::gemm::{Bias, Epilogue, gemm_any, gemm_reference};
use blockscale::io::checkpoint;
use blockscale::tensor::{
    AnyQuantized, Direction, PartialBlocks, QuantizeOptions, QuantizedTensor, TensorRounding,
    TensorVisitor,
};
use half::slice::HalfBitsSliceExt;
use numpy::{PyArray1, PyReadonlyArray1, PyReadwriteArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The crate's error as a Python `ValueError` with its message.
fn value_error(e: Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A file function's error: the operating system's as `OSError`
/// (`FileNotFoundError`, `PermissionError`), the rest as [`value_error`].
fn file_error(e: Error) -> PyErr {
    use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyPermissionError};
    use std::io::ErrorKind;
    match e.io_kind() {
        Some(ErrorKind::NotFound) => PyFileNotFoundError::new_err(e.to_string()),
        Some(ErrorKind::PermissionDenied) => PyPermissionError::new_err(e.to_string()),
        Some(_) => PyOSError::new_err(e.to_string()),
        None => value_error(e),
    }
}

fn bad(msg: String) -> PyErr {
    PyValueError::new_err(msg)
}

/// A contiguous array's elements (the Python side makes it contiguous).
fn elements<'a, T: numpy::Element>(a: &'a PyReadonlyArray1<'_, T>) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|e| bad(format!("array is not contiguous: {e}")))
}

/// Runs `$body` with `$s` bound to the input as a slice of its own element
/// type: `f32`, `f64`, or bf16/f16 given as their uint16 bits.
macro_rules! with_real {
    ($x:expr, $src:expr, |$s:ident| $body:expr) => {
        match $src {
            "float32" => {
                let a = $x.extract::<PyReadonlyArray1<f32>>()?;
                let $s = elements(&a)?;
                $body
            }
            "float64" => {
                let a = $x.extract::<PyReadonlyArray1<f64>>()?;
                let $s = elements(&a)?;
                $body
            }
            "bfloat16" => {
                let a = $x.extract::<PyReadonlyArray1<u16>>()?;
                let $s: &[half::bf16] = elements(&a)?.reinterpret_cast();
                $body
            }
            "float16" => {
                let a = $x.extract::<PyReadonlyArray1<u16>>()?;
                let $s: &[half::f16] = elements(&a)?.reinterpret_cast();
                $body
            }
            other => Err(bad(format!(
                "source type {other:?}: expected float32, float64, bfloat16 or float16"
            ))),
        }
    };
}

/// Runs `$body` with `$t` the element type named `$kind`.
macro_rules! with_element {
    ($kind:expr, $t:ident => $body:expr) => {
        with_element!(@arms $kind, $t, $body,
            "e4m3" => E4M3, "e5m2" => E5M2, "e4m3fnuz" => E4M3Fnuz, "e5m2fnuz" => E5M2Fnuz,
            "e2m3" => E2M3, "e3m2" => E3M2, "e2m1" => E2M1, "e8m0" => E8M0, "int8" => Int8)
    };
    (@arms $kind:expr, $t:ident, $body:expr, $($name:literal => $ty:ident),*) => {
        match $kind {
            $( $name => {
                type $t = blockscale::$ty;
                $body
            } )*
            other => Err(bad(format!(
                "unknown element type {other:?}; expected one of {}",
                [$($name),*].join(", ")
            ))),
        }
    };
}

fn rounding_of(name: &str) -> PyResult<Rounding> {
    Ok(match name {
        "nearest" => Rounding::NearestEven,
        "nearest_away" => Rounding::NearestTiesAway,
        "toward_zero" => Rounding::TowardZero,
        "up" => Rounding::Up,
        "down" => Rounding::Down,
        other => {
            return Err(bad(format!(
                "unknown rounding {other:?}; expected nearest, nearest_away, toward_zero, up, down or stochastic"
            )));
        }
    })
}

/// `cast(x, src, kind, rounding, saturate, seed)`: one byte per element
/// (E2M1 unpacked, as ml_dtypes stores `float4_e2m1fn`).
#[pyfunction]
#[pyo3(signature = (x, src, kind, rounding="nearest", saturate=false, seed=0))]
fn cast<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    src: &str,
    kind: &str,
    rounding: &str,
    saturate: bool,
    seed: u64,
) -> PyResult<Bound<'py, PyArray1<u8>>> {
    let mut opts = if saturate {
        ConvertOptions::SATFINITE
    } else {
        ConvertOptions::ML_DTYPES
    };
    let stochastic = rounding == "stochastic";
    if !stochastic {
        opts = opts.with_rounding(rounding_of(rounding)?);
    }
    // ml_dtypes' astype to E8M0 rounds ties away and f32 subnormals above
    // 2^-127 up (the crate's `E8M0::from_f32`); its f64 path has no such
    // subnormals (`E8M0::from_f64`).
    if kind == "e8m0" && rounding == "nearest" && !saturate {
        let bits: Vec<u8> = with_real!(x, src, |s| {
            let f64_source = src == "float64";
            Ok::<_, PyErr>(py.detach(|| {
                s.iter()
                    .map(|&v| {
                        let e = if f64_source {
                            blockscale::E8M0::from_f64(v.to_f64())
                        } else {
                            blockscale::E8M0::from_f32(v.to_f32())
                        };
                        e.to_bits()
                    })
                    .collect()
            }))
        })?;
        return Ok(PyArray1::from_vec(py, bits));
    }
    let bits: Vec<u8> = with_real!(x, src, |s| {
        with_element!(kind, T => {
            py.detach(|| {
                let mut out = vec![T::from_bits(0); s.len()];
                if stochastic {
                    slice::encode_stochastic_seeded(s, &mut out, opts, seed)?;
                } else {
                    slice::encode(s, &mut out, opts)?;
                }
                Ok::<_, Error>(out.into_iter().map(|e| e.to_bits()).collect())
            })
            .map_err(value_error)
        })
    })?;
    Ok(PyArray1::from_vec(py, bits))
}

/// `decode(bits, kind)`: the f32 value of each code.
#[pyfunction]
fn decode<'py>(
    py: Python<'py>,
    bits: PyReadonlyArray1<'py, u8>,
    kind: &str,
) -> PyResult<Bound<'py, PyArray1<f32>>> {
    let b = elements(&bits)?;
    let out: Vec<f32> = with_element!(kind, T => {
        py.detach(|| {
            let codes: Vec<T> = b.iter().map(|&c| T::from_bits(c)).collect();
            let mut out = vec![0f32; codes.len()];
            slice::decode(&codes, &mut out).map(|()| out)
        })
        .map_err(value_error)
    })?;
    Ok(PyArray1::from_vec(py, out))
}

fn parse_format(format: &str) -> PyResult<AnyFormat> {
    format.parse().map_err(value_error)
}

fn direction_of(name: &str) -> PyResult<Direction> {
    match name {
        "rowwise" => Ok(Direction::Rowwise),
        "columnwise" => Ok(Direction::Columnwise),
        other => Err(bad(format!(
            "unknown direction {other:?}; expected rowwise or columnwise"
        ))),
    }
}

fn partial_of(pad: bool) -> PartialBlocks {
    if pad {
        PartialBlocks::ZeroPad
    } else {
        PartialBlocks::Reject
    }
}

/// A quantized tensor of any format (the crate's `AnyQuantized`).
#[pyclass(name = "_Quantized", module = "blockscale._blockscale", frozen)]
struct Quantized {
    q: AnyQuantized,
}

#[pymethods]
impl Quantized {
    /// The format identifier (`nvfp4`, `mxfp8,rule=floor`, …).
    #[getter]
    fn format(&self) -> String {
        self.q.view().format_id().to_string()
    }
    /// `(rows, cols)` of the logical matrix.
    #[getter]
    fn shape(&self) -> (usize, usize) {
        self.q.view().shape()
    }
    /// `(rows, cols)` as stored (transposed for columnwise).
    #[getter]
    fn stored_shape(&self) -> (usize, usize) {
        self.q.view().stored_shape()
    }
    /// `rowwise` or `columnwise`.
    #[getter]
    fn direction(&self) -> &'static str {
        match self.q.view().direction() {
            Direction::Rowwise => "rowwise",
            _ => "columnwise",
        }
    }
    /// `(rows, cols)` of the block-scale matrix.
    #[getter]
    fn scale_shape(&self) -> (usize, usize) {
        self.q.view().scale_shape()
    }
    /// `e4m3`, `e8m0` or `f32`: how each scale is stored.
    #[getter]
    fn scale_kind(&self) -> &'static str {
        match self.q.view().scale_kind() {
            blockscale::format::ScaleKind::E4M3 => "e4m3",
            blockscale::format::ScaleKind::E8M0 => "e8m0",
            _ => "f32",
        }
    }
    /// The tensor amax (NVFP4), else `None`.
    #[getter]
    fn global_amax(&self) -> Option<f32> {
        self.q.view().global_amax()
    }
    /// The tensors a checkpoint layout stores for this weight
    /// (`io::checkpoint::layout_tensors`): `(name, dtype, shape, bytes)`
    /// each, with dtype as `io::DType::name` spells it, and the safetensors
    /// metadata entries.
    #[allow(clippy::type_complexity)]
    fn layout_tensors<'py>(
        &self,
        py: Python<'py>,
        layout: &str,
        name: &str,
    ) -> PyResult<(
        Vec<(String, &'static str, Vec<usize>, Bound<'py, PyArray1<u8>>)>,
        Vec<(String, String)>,
    )> {
        let layout = layout.parse().map_err(value_error)?;
        let (tensors, meta) =
            checkpoint::layout_tensors(name, &self.q, layout).map_err(value_error)?;
        let tensors = tensors
            .into_iter()
            .map(|(n, t)| (n, t.dtype.name(), t.shape, PyArray1::from_vec(py, t.data)))
            .collect();
        Ok((tensors, meta))
    }
    /// The stored element bytes (a copy).
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u8>> {
        PyArray1::from_slice(py, self.q.view().data())
    }
    /// The block scales' stored bits, row-major (u32 each).
    fn scale_bits<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u32>> {
        PyArray1::from_vec(py, self.q.view().scale_bits())
    }
    /// The scale bits in a scale layout (`blockscale::layout::ScaleLayout`
    /// by name), padding zero.
    fn scale_bits_in<'py>(
        &self,
        py: Python<'py>,
        layout: &str,
    ) -> PyResult<Bound<'py, PyArray1<u32>>> {
        let layout = layout.parse().map_err(value_error)?;
        let s = self.q.view().scale_bits_in(layout).map_err(value_error)?;
        Ok(PyArray1::from_vec(py, s))
    }
    /// The element codes laid out for a kernel
    /// (`blockscale::layout::DataLayout`).
    fn data_in<'py>(
        &self,
        py: Python<'py>,
        major: &str,
        rows_to: usize,
        row_bytes_to: usize,
        fp6: &str,
    ) -> PyResult<Bound<'py, PyArray1<u8>>> {
        use blockscale::layout::{DataLayout, Fp6Packing};
        let l = match major {
            "k" => DataLayout::k_major(),
            "mn" => DataLayout::mn_major(),
            _ => return Err(bad(format!("major {major:?}: expected \"k\" or \"mn\""))),
        };
        let p = match fp6 {
            "bytes" => Fp6Packing::Bytes,
            "packed" => Fp6Packing::Packed,
            _ => {
                return Err(bad(format!(
                    "fp6 {fp6:?}: expected \"bytes\" or \"packed\""
                )));
            }
        };
        let l = l.rows_to(rows_to).row_bytes_to(row_bytes_to).fp6(p);
        let v = py
            .detach(|| self.q.view().data_in(l))
            .map_err(value_error)?;
        Ok(PyArray1::from_vec(py, v))
    }
    /// The dequantized matrix, row-major in the logical orientation.
    fn dequantize<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        let v = py.detach(|| self.q.view().dequantize());
        PyArray1::from_vec(py, v)
    }
    /// Dequantizes into `out` (rows·cols f32, contiguous) in place.
    fn dequantize_into(&self, py: Python<'_>, mut out: PyReadwriteArray1<'_, f32>) -> PyResult<()> {
        let o = out
            .as_slice_mut()
            .map_err(|e| bad(format!("out is not contiguous: {e}")))?;
        py.detach(|| self.q.view().dequantize_into(o))
            .map_err(value_error)
    }
    /// Error metrics against the reference it was quantized from.
    fn error_metrics<'py>(
        &self,
        py: Python<'py>,
        reference: &Bound<'py, PyAny>,
        src: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        struct Metrics<'a, S>(&'a [S]);
        impl<S: Real> TensorVisitor for Metrics<'_, S> {
            type Output = Result<blockscale::metrics::ErrorMetrics, Error>;
            fn visit<F: BlockFormat>(self, t: &QuantizedTensor<F>) -> Self::Output {
                t.error_metrics(self.0)
            }
        }
        let q = &self.q;
        let m = with_real!(reference, src, |s| {
            py.detach(|| q.visit(Metrics(s))).map_err(value_error)
        })?;
        let d = PyDict::new(py);
        d.set_item("count", m.count)?;
        d.set_item("nonfinite", m.nonfinite)?;
        d.set_item("mse", m.mse)?;
        d.set_item("sqnr_db", m.sqnr_db)?;
        d.set_item("max_abs", m.max_abs)?;
        d.set_item("max_rel", m.max_rel)?;
        d.set_item("saturated", m.saturated)?;
        d.set_item("flushed_to_zero", m.flushed_to_zero)?;
        Ok(d)
    }
}

/// `quantize(x, src, rows, cols, format, direction, rounding, seed,
/// global_amax, pad)`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (x, src, rows, cols, format, direction="rowwise", rounding="nearest", seed=0, global_amax=None, pad=false))]
fn quantize(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    src: &str,
    rows: usize,
    cols: usize,
    format: &str,
    direction: &str,
    rounding: &str,
    seed: u64,
    global_amax: Option<f32>,
    pad: bool,
) -> PyResult<Quantized> {
    let f = parse_format(format)?;
    let opts = QuantizeOptions {
        direction: direction_of(direction)?,
        partial_blocks: partial_of(pad),
        rounding: match rounding {
            "nearest" => TensorRounding::NearestEven,
            "stochastic" => TensorRounding::Stochastic { seed },
            "stochastic8" => TensorRounding::Stochastic8 { seed },
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown rounding {other:?}; expected nearest, stochastic or stochastic8"
                )));
            }
        },
        global_amax,
    };
    let q = with_real!(x, src, |s| {
        py.detach(|| AnyQuantized::quantize(&f, s, rows, cols, &opts))
            .map_err(value_error)
    })?;
    Ok(Quantized { q })
}

/// `from_parts(format, rows, cols, direction, data, scale_bits,
/// global_amax, pad)`: a tensor from bytes another producer wrote.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (format, rows, cols, data, scale_bits, global_amax=None, direction="rowwise", pad=false))]
fn from_parts(
    format: &str,
    rows: usize,
    cols: usize,
    data: PyReadonlyArray1<'_, u8>,
    scale_bits: PyReadonlyArray1<'_, u32>,
    global_amax: Option<f32>,
    direction: &str,
    pad: bool,
) -> PyResult<Quantized> {
    let q = AnyQuantized::from_parts(
        &parse_format(format)?,
        (rows, cols),
        direction_of(direction)?,
        partial_of(pad),
        elements(&data)?.to_vec(),
        elements(&scale_bits)?,
        global_amax,
    )
    .map_err(value_error)?;
    Ok(Quantized { q })
}

/// C = alpha · A · Bᵀ + beta · C into a fresh or given (M·N) f32 array.
fn run_gemm<'py>(
    py: Python<'py>,
    c: Option<PyReadonlyArray1<'py, f32>>,
    (m, n): (usize, usize),
    f: impl Fn(&mut [f32]) -> Result<(), Error> + Send + Sync,
) -> PyResult<Bound<'py, PyArray1<f32>>> {
    let mut out = match &c {
        Some(c) => elements(c)?.to_vec(),
        None => {
            let len = m
                .checked_mul(n)
                .ok_or_else(|| bad(format!("C of {m} × {n} overflows")))?;
            vec![0f32; len]
        }
    };
    py.detach(|| f(&mut out)).map_err(value_error)?;
    Ok(PyArray1::from_vec(py, out))
}

/// `gemm(a, b, alpha, beta, c)`: the fast exact GEMM (the crate's `gemm_any`).
#[pyfunction]
#[pyo3(signature = (a, b, alpha=1.0, beta=0.0, c=None))]
fn gemm<'py>(
    py: Python<'py>,
    a: &Quantized,
    b: &Quantized,
    alpha: f32,
    beta: f32,
    c: Option<PyReadonlyArray1<'py, f32>>,
) -> PyResult<Bound<'py, PyArray1<f32>>> {
    let mn = (a.q.view().shape().0, b.q.view().shape().0);
    run_gemm(py, c, mn, |out| gemm_any(&a.q, &b.q, alpha, beta, out))
}

/// `gemm_reference(a, b, alpha, beta, c)`: the triple-loop definition.
#[pyfunction(name = "gemm_reference")]
#[pyo3(signature = (a, b, alpha=1.0, beta=0.0, c=None))]
fn gemm_reference_py<'py>(
    py: Python<'py>,
    a: &Quantized,
    b: &Quantized,
    alpha: f32,
    beta: f32,
    c: Option<PyReadonlyArray1<'py, f32>>,
) -> PyResult<Bound<'py, PyArray1<f32>>> {
    // A's format, then B's: every pair is monomorphized, and the crate
    // refuses the pairs whose scales or blocks do not meet.
    struct OuterA<'a> {
        b: &'a AnyQuantized,
        alpha: f32,
        beta: f32,
        c: &'a mut [f32],
    }
    struct InnerB<'a, FA: BlockFormat> {
        a: &'a QuantizedTensor<FA>,
        alpha: f32,
        beta: f32,
        c: &'a mut [f32],
    }
    impl<FA: BlockFormat> TensorVisitor for InnerB<'_, FA> {
        type Output = Result<(), Error>;
        fn visit<FB: BlockFormat>(self, b: &QuantizedTensor<FB>) -> Self::Output {
            gemm_reference(self.a, b, self.alpha, self.beta, self.c)
        }
    }
    impl TensorVisitor for OuterA<'_> {
        type Output = Result<(), Error>;
        fn visit<FA: BlockFormat>(self, a: &QuantizedTensor<FA>) -> Self::Output {
            self.b.visit(InnerB {
                a,
                alpha: self.alpha,
                beta: self.beta,
                c: self.c,
            })
        }
    }
    let mn = (a.q.view().shape().0, b.q.view().shape().0);
    run_gemm(py, c, mn, |out| {
        a.q.visit(OuterA {
            b: &b.q,
            alpha,
            beta,
            c: out,
        })
    })
}

/// `epilogue(y, m, n, beta, c, row_scale, col_scale, bias, bias_per)`: the
/// crate's `Epilogue::apply` on a GEMM result `y` (M·N) into a new array
/// (from `c` when `beta` is not 0).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (y, m, n, beta=0.0, c=None, row_scale=None, col_scale=None, bias=None, bias_per="column"))]
fn epilogue<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f32>,
    m: usize,
    n: usize,
    beta: f32,
    c: Option<PyReadonlyArray1<'py, f32>>,
    row_scale: Option<PyReadonlyArray1<'py, f32>>,
    col_scale: Option<PyReadonlyArray1<'py, f32>>,
    bias: Option<PyReadonlyArray1<'py, f32>>,
    bias_per: &str,
) -> PyResult<Bound<'py, PyArray1<f32>>> {
    let y = elements(&y)?;
    let mut e = Epilogue::new();
    if let Some(s) = &row_scale {
        e = e.row_scale(elements(s)?);
    }
    if let Some(s) = &col_scale {
        e = e.col_scale(elements(s)?);
    }
    if let Some(b) = &bias {
        let b = elements(b)?;
        e = e.bias(match bias_per {
            "column" => Bias::PerColumn(b),
            "row" => Bias::PerRow(b),
            other => return Err(bad(format!("bias_per {other:?}: expected column or row"))),
        });
    }
    let mut out = match &c {
        Some(c) => elements(c)?.to_vec(),
        None => vec![0f32; y.len()],
    };
    e.apply(y, m, n, beta, &mut out).map_err(value_error)?;
    Ok(PyArray1::from_vec(py, out))
}

/// `rht(x, rows, cols, size, signs, seed, direction, inverse, bf16)`: the
/// Random Hadamard Transform of the float32 matrix `x` (a new array).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (x, rows, cols, size=16, signs="te", seed=0, direction="rowwise", inverse=false, bf16=false))]
fn rht<'py>(
    py: Python<'py>,
    x: PyReadonlyArray1<'py, f32>,
    rows: usize,
    cols: usize,
    size: usize,
    signs: &str,
    seed: u64,
    direction: &str,
    inverse: bool,
    bf16: bool,
) -> PyResult<Bound<'py, PyArray1<f32>>> {
    use blockscale::rht::{Rht, SignVector};
    let signs = match signs {
        "te" => SignVector::TransformerEngine,
        "seeded" => SignVector::Seeded(seed),
        "ones" => SignVector::Ones,
        other => {
            return Err(bad(format!(
                "unknown RHT signs {other:?}; expected te, seeded or ones"
            )));
        }
    };
    let r = Rht::new(size, signs)
        .map_err(value_error)?
        .with_bf16_rounding(bf16);
    let axis = direction_of(direction)?;
    let mut y = elements(&x)?.to_vec();
    py.detach(|| {
        if inverse {
            r.inverse(&mut y, rows, cols, axis)
        } else {
            r.forward(&mut y, rows, cols, axis)
        }
    })
    .map_err(value_error)?;
    Ok(PyArray1::from_vec(py, y))
}

/// One of a linear layer's six GEMM operands by its snake-case name.
fn role_of(name: &str) -> PyResult<blockscale::recipe::OperandRole> {
    use blockscale::recipe::OperandRole as R;
    const NAMES: [&str; 6] = [
        "fprop_input",
        "fprop_weight",
        "dgrad_grad_output",
        "dgrad_weight",
        "wgrad_grad_output",
        "wgrad_input",
    ];
    NAMES
        .iter()
        .position(|&n| n == name)
        .map(|i| R::ALL[i])
        .ok_or_else(|| {
            bad(format!(
                "unknown operand role {name:?}; expected one of {}",
                NAMES.join(", ")
            ))
        })
}

/// The NVFP4 recipe's switches from keyword options (TE's names).
fn nvfp4_options(
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<blockscale::recipe::Nvfp4Options> {
    use blockscale::recipe::FourOverSixRoles;
    use blockscale::scale::four_over_six::FourOverSixMetric;
    let mut o = blockscale::recipe::Nvfp4Options::default();
    let Some(options) = options else {
        return Ok(o);
    };
    for (k, v) in options.iter() {
        let key: String = k.extract()?;
        match key.as_str() {
            "two_d_weights" => o.two_d_weights = v.extract()?,
            "stochastic_gradients" => o.stochastic_gradients = v.extract()?,
            "rht" => o.rht = v.extract()?,
            "rht_size" => o.rht_size = v.extract()?,
            "rht_bf16" => o.rht_bf16 = v.extract()?,
            "four_over_six" => {
                o.four_over_six =
                    FourOverSixRoles::from_name(&v.extract::<String>()?).map_err(value_error)?
            }
            "four_over_six_e4m3_256" => {
                o.four_over_six_e4m3_256 =
                    FourOverSixRoles::from_name(&v.extract::<String>()?).map_err(value_error)?
            }
            "four_over_six_metric" => {
                o.four_over_six_metric = match v.extract::<String>()?.as_str() {
                    "mae" => FourOverSixMetric::Mae,
                    "mse" => FourOverSixMetric::Mse,
                    other => {
                        return Err(bad(format!(
                            "unknown 4over6 metric {other:?}; expected mae or mse"
                        )));
                    }
                }
            }
            "four_over_six_fast_error" => o.four_over_six_fast_error = v.extract()?,
            "row_scaled_activation" => o.row_scaled_activation = v.extract()?,
            other => return Err(bad(format!("unknown NVFP4 recipe option {other:?}"))),
        }
    }
    Ok(o)
}

/// `recipe_spec(recipe, role, layer, num_layers, step, seed, options)`: how
/// a recipe quantizes one operand of layer `layer` at `step` (the crate's
/// `Recipe::layer_spec`), as a dict.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (recipe, role, layer=0, num_layers=1, step=0, seed=0, options=None))]
fn recipe_spec<'py>(
    py: Python<'py>,
    recipe: &str,
    role: &str,
    layer: usize,
    num_layers: usize,
    step: u64,
    seed: u64,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    use blockscale::recipe::{Recipe, RecipeKind};
    let mut r = Recipe::from_kind(RecipeKind::from_name(recipe).map_err(value_error)?);
    r.seed = seed;
    r.nvfp4 = nvfp4_options(options)?;
    r.validate().map_err(value_error)?;
    let s = r.layer_spec(role_of(role)?, layer, num_layers, step);
    let d = PyDict::new(py);
    d.set_item("format", s.format.map(|f| f.id().to_string()))?;
    d.set_item("block", s.block())?;
    d.set_item("delayed", s.delayed)?;
    d.set_item(
        "direction",
        match s.direction {
            Direction::Rowwise => "rowwise",
            _ => "columnwise",
        },
    )?;
    let (rounding, seed) = match s.rounding {
        TensorRounding::Stochastic { seed } => ("stochastic", Some(seed)),
        TensorRounding::Stochastic8 { seed } => ("stochastic8", Some(seed)),
        _ => ("nearest", None),
    };
    d.set_item("rounding", rounding)?;
    d.set_item("seed", seed)?;
    let rht = match &s.rht {
        Some(h) => {
            let signs = match h.sign_vector() {
                blockscale::rht::SignVector::TransformerEngine => "te",
                blockscale::rht::SignVector::Ones => "ones",
                _ => "seeded",
            };
            let t = PyDict::new(py);
            t.set_item("size", h.size())?;
            t.set_item("signs", signs)?;
            t.set_item("bf16", h.rounds_to_bf16())?;
            Some(t)
        }
        None => None,
    };
    d.set_item("rht", rht)?;
    d.set_item("row_scaled", s.row_scaled)?;
    Ok(d)
}

/// The SIMD level the crate's kernels run at on this machine (its
/// `simd::active()`: `portable`, `avx2`, `avx512` or `avx512vnni`;
/// `BLOCKSCALE_SIMD=portable` forces the portable path).
#[pyfunction]
fn simd_level() -> &'static str {
    blockscale::simd::active().name()
}

/// Every format family the crate knows (`nvfp4`, `mxfp8`, …).
#[pyfunction]
fn formats() -> Vec<String> {
    AnyFormat::families()
}

/// Converts a checkpoint (`blockscale::io::checkpoint::convert`) and
/// returns its report as a dict.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (model, output, to, layout="auto", exclude=Vec::new(), keep_last_layers=0, activation_amax=None))]
fn convert<'py>(
    py: Python<'py>,
    model: std::path::PathBuf,
    output: std::path::PathBuf,
    to: String,
    layout: &str,
    exclude: Vec<String>,
    keep_last_layers: usize,
    activation_amax: Option<std::path::PathBuf>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut o = checkpoint::ConvertOptions::new(to);
    o.layout = layout.parse().map_err(value_error)?;
    o.exclude = exclude;
    o.keep_last_layers = keep_last_layers;
    o.activation_amax = activation_amax;
    let r = py
        .detach(|| checkpoint::convert(&model, &output, &o))
        .map_err(file_error)?;
    let d = PyDict::new(py);
    d.set_item("tensors", r.tensors)?;
    d.set_item("quantized", r.quantized)?;
    d.set_item("guessed", r.guessed)?;
    d.set_item("output_bytes", r.output_bytes)?;
    Ok(d)
}

/// Dequantizes a quantized file or checkpoint directory
/// (`blockscale::io::checkpoint::dequantize`).
#[pyfunction]
#[pyo3(signature = (input, output, dtype=None))]
fn dequantize_checkpoint(
    py: Python<'_>,
    input: std::path::PathBuf,
    output: std::path::PathBuf,
    dtype: Option<&str>,
) -> PyResult<()> {
    let dtype = match dtype {
        None => None,
        Some(s) => Some(
            blockscale::io::DType::parse(s)
                .filter(|d| d.is_float())
                .ok_or_else(|| bad(format!("dtype {s:?}: expected f32, f16, bf16 or f64")))?,
        ),
    };
    py.detach(|| checkpoint::dequantize(&input, &output, dtype))
        .map_err(file_error)
}

/// A GGUF metadata value as a Python object (arrays as lists).
fn gguf_value<'py>(
    py: Python<'py>,
    v: &blockscale::io::gguf::Value,
) -> PyResult<Bound<'py, PyAny>> {
    use blockscale::io::gguf::Value as V;
    Ok(match v {
        V::U8(x) => x.into_pyobject(py)?.into_any(),
        V::I8(x) => x.into_pyobject(py)?.into_any(),
        V::U16(x) => x.into_pyobject(py)?.into_any(),
        V::I16(x) => x.into_pyobject(py)?.into_any(),
        V::U32(x) => x.into_pyobject(py)?.into_any(),
        V::I32(x) => x.into_pyobject(py)?.into_any(),
        V::U64(x) => x.into_pyobject(py)?.into_any(),
        V::I64(x) => x.into_pyobject(py)?.into_any(),
        V::F32(x) => x.into_pyobject(py)?.into_any(),
        V::F64(x) => x.into_pyobject(py)?.into_any(),
        V::Bool(x) => pyo3::types::PyBool::new(py, *x).to_owned().into_any(),
        V::String(x) => x.into_pyobject(py)?.into_any(),
        V::Array(_, items) => {
            let list = pyo3::types::PyList::empty(py);
            for i in items {
                list.append(gguf_value(py, i)?)?;
            }
            list.into_any()
        }
        other => format!("{other:?}").into_pyobject(py)?.into_any(),
    })
}

/// What a tensor file holds (`blockscale::io::checkpoint::inspect`), as
/// a dict.
#[pyfunction(name = "inspect")]
fn inspect_py<'py>(py: Python<'py>, path: std::path::PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let i = py
        .detach(|| checkpoint::inspect(&path))
        .map_err(file_error)?;
    let d = PyDict::new(py);
    d.set_item(
        "kind",
        match i.kind {
            checkpoint::FileKind::Npy => "npy",
            checkpoint::FileKind::Gguf => "gguf",
            _ => "safetensors",
        },
    )?;
    let tensors = pyo3::types::PyList::empty(py);
    for t in &i.tensors {
        let e = PyDict::new(py);
        e.set_item("name", &t.name)?;
        e.set_item("dtype", &t.dtype)?;
        e.set_item("shape", pyo3::types::PyTuple::new(py, &t.shape)?)?;
        e.set_item("role", &t.role)?;
        match t.scales {
            Some(s) => {
                let sd = PyDict::new(py);
                sd.set_item("count", s.count)?;
                sd.set_item("min", s.min)?;
                sd.set_item("max", s.max)?;
                sd.set_item("log2_mean", s.log2_mean)?;
                sd.set_item("zero", s.zero)?;
                sd.set_item("nonfinite", s.nonfinite)?;
                e.set_item("scales", sd)?;
            }
            None => e.set_item("scales", py.None())?,
        }
        match t.values {
            Some(v) => {
                let vd = PyDict::new(py);
                vd.set_item("count", v.count)?;
                vd.set_item("amax", v.amax)?;
                vd.set_item("nonfinite", v.nonfinite)?;
                e.set_item("values", vd)?;
            }
            None => e.set_item("values", py.None())?,
        }
        tensors.append(e)?;
    }
    d.set_item("tensors", tensors)?;
    let meta = PyDict::new(py);
    for (k, v) in &i.metadata {
        meta.set_item(k, gguf_value(py, v)?)?;
    }
    d.set_item("metadata", meta)?;
    Ok(d)
}

#[pymodule]
fn _blockscale(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(cast, m)?)?;
    m.add_function(wrap_pyfunction!(decode, m)?)?;
    m.add_function(wrap_pyfunction!(quantize, m)?)?;
    m.add_function(wrap_pyfunction!(from_parts, m)?)?;
    m.add_function(wrap_pyfunction!(gemm, m)?)?;
    m.add_function(wrap_pyfunction!(gemm_reference_py, m)?)?;
    m.add_function(wrap_pyfunction!(epilogue, m)?)?;
    m.add_function(wrap_pyfunction!(formats, m)?)?;
    m.add_function(wrap_pyfunction!(simd_level, m)?)?;
    m.add_function(wrap_pyfunction!(rht, m)?)?;
    m.add_function(wrap_pyfunction!(recipe_spec, m)?)?;
    m.add_function(wrap_pyfunction!(convert, m)?)?;
    m.add_function(wrap_pyfunction!(dequantize_checkpoint, m)?)?;
    m.add_function(wrap_pyfunction!(inspect_py, m)?)?;
    m.add_class::<Quantized>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
