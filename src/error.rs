//! The crate's one error type.

use alloc::boxed::Box;
use alloc::string::String;
#[cfg(feature = "std")]
use alloc::string::ToString;
use alloc::vec::Vec;
use core::fmt;

/// Everything that can go wrong in this crate, as a value rather than a panic.
///
/// Every fallible function returns `Result<_, Error>`; no public function
/// panics on any input. Each variant carries what a caller needs to act on
/// it (which buffer, which counts, which shape) and prints a message that
/// names them.
///
/// ```
/// use blockscale::{E4M3, Error, element::slice};
/// let mut out = [E4M3::ZERO; 2];
/// let err = slice::encode(&[1.0f32, 2.0, 3.0], &mut out, Default::default()).unwrap_err();
/// assert!(matches!(err, Error::LengthMismatch { expected: 3, found: 2, .. }));
/// assert_eq!(err.to_string(), "output has 2 elements, but 3 are needed");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error {
    /// A buffer's length does not match what the operation needs.
    LengthMismatch {
        /// Which buffer (for example `"output"`).
        what: &'static str,
        /// The length the operation needs.
        expected: usize,
        /// The length it was given.
        found: usize,
    },
    /// A shape whose element count (or a size derived from it) does not
    /// fit in `usize`.
    ///
    /// ```
    /// use blockscale::{Error, format::MxFp8E4M3, tensor::{QuantizedTensor, QuantizeOptions}};
    /// let e = QuantizedTensor::quantize(MxFp8E4M3::default(), &[0f32; 0], usize::MAX, 64, &QuantizeOptions::default());
    /// assert!(matches!(e, Err(Error::ShapeOverflow { .. })));
    /// ```
    ShapeOverflow {
        /// What has this shape (for example `"input"`).
        what: &'static str,
        /// The dimensions.
        shape: Vec<usize>,
    },
    /// A matrix that is not a whole number of its format's blocks (or of a
    /// transform's size), where the operation does not pad.
    ///
    /// ```
    /// use blockscale::{Error, format::Nvfp4, tensor::{QuantizedTensor, QuantizeOptions}};
    /// let e = QuantizedTensor::quantize(Nvfp4::default(), &[0.0; 20], 1, 20, &QuantizeOptions::default());
    /// assert!(matches!(e, Err(Error::NotWholeBlocks { shape: (1, 20), block: (1, 16), .. })));
    /// ```
    NotWholeBlocks {
        /// What was being divided into blocks: a format's or tensor's name.
        what: String,
        /// The matrix shape, as stored (rows, columns).
        shape: (usize, usize),
        /// The block shape (rows, columns).
        block: (usize, usize),
    },
    /// GEMM operands whose K (the stored columns of A, M×K, and of B, N×K)
    /// differ.
    KMismatch {
        /// A's stored shape (M, K).
        a: (usize, usize),
        /// B's stored shape (N, K).
        b: (usize, usize),
    },
    /// GEMM operands whose blocks along K differ, so that no partial sum
    /// has one scale from each.
    BlockMismatch {
        /// A's format.
        a: String,
        /// A's block length along K.
        a_block: usize,
        /// B's format.
        b: String,
        /// B's block length along K.
        b_block: usize,
    },
    /// Two formats where one was needed, or operands that cannot be
    /// combined (a GEMM of formats whose scales differ in kind, a tensor of
    /// another format than the one asked for).
    FormatMismatch {
        /// The format needed (or the first operand's).
        expected: String,
        /// The format given (or the second operand's).
        found: String,
    },
    /// A number outside its valid range: a NaN, infinite or negative
    /// amax, a non-finite scale.
    ///
    /// ```
    /// use blockscale::{Error, format::Nvfp4, tensor::{QuantizedTensor, QuantizeOptions}};
    /// let o = QuantizeOptions { global_amax: Some(f32::INFINITY), ..Default::default() };
    /// let e = QuantizedTensor::quantize(Nvfp4::default(), &[0.0; 16], 1, 16, &o).unwrap_err();
    /// assert!(matches!(e, Error::InvalidValue { .. }));
    /// assert_eq!(e.to_string(), "global amax is inf, not a finite non-negative number");
    /// ```
    InvalidValue {
        /// What the number is (for example `"global amax"`).
        what: String,
        /// The value given.
        value: f64,
        /// What it must be.
        expected: &'static str,
    },
    /// An option or argument is outside its valid range (a malformed
    /// format name, an option a format does not take, …).
    InvalidArgument(String),
    /// A file's contents are malformed or not what was asked for.
    File {
        /// The file's path.
        path: String,
        /// The tensor concerned, if any.
        tensor: Option<String>,
        /// What went wrong.
        message: String,
    },
    /// An error of another kind, met while processing a file (or one of
    /// its tensors); [`std::error::Error::source`] returns it.
    InFile {
        /// The file's path.
        path: String,
        /// The tensor concerned, if any.
        tensor: Option<String>,
        /// The error.
        source: Box<Error>,
    },
    /// The operating system refused to read, write, map or rename a file;
    /// [`std::error::Error::source`] returns its [`std::io::Error`], so that
    /// [`std::io::ErrorKind::NotFound`] and the like can be told apart.
    #[cfg(feature = "std")]
    Io {
        /// The file's path.
        path: String,
        /// What was being done (`"open"`, `"write"`, …).
        action: &'static str,
        /// The operating system's error.
        source: alloc::sync::Arc<std::io::Error>,
    },
}

impl Error {
    /// An [`Error::File`] about `path` (and `tensor`, if given).
    ///
    /// ```
    /// let e = blockscale::Error::file("model.safetensors", Some("w"), "truncated");
    /// assert_eq!(e.to_string(), "model.safetensors: tensor w: truncated");
    /// ```
    #[cfg(feature = "std")]
    pub fn file(
        path: impl AsRef<std::path::Path>,
        tensor: Option<&str>,
        message: impl Into<String>,
    ) -> Error {
        Error::File {
            path: path.as_ref().display().to_string(),
            tensor: tensor.map(str::to_owned),
            message: message.into(),
        }
    }

    /// An [`Error::Io`]: the operating system's `source`, met doing
    /// `action` (`"open"`, `"write"`, …) to `path`.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// let e = blockscale::Error::io("w.npy", "open", ErrorKind::NotFound.into());
    /// assert_eq!(e.to_string(), "w.npy: cannot open: entity not found");
    /// assert_eq!(e.io_kind(), Some(ErrorKind::NotFound));
    /// ```
    #[cfg(feature = "std")]
    pub fn io(
        path: impl AsRef<std::path::Path>,
        action: &'static str,
        source: std::io::Error,
    ) -> Error {
        Error::Io {
            path: path.as_ref().display().to_string(),
            action,
            source: alloc::sync::Arc::new(source),
        }
    }

    /// This error with `path` and `tensor` attached, if it has no file yet:
    /// an error met while processing a tensor of a file becomes an
    /// [`Error::InFile`] naming both, with this error as its source.
    ///
    /// ```
    /// use blockscale::Error;
    /// let e = Error::InvalidArgument("bad shape".into()).in_file("a.npy", None);
    /// assert_eq!(e.to_string(), "a.npy: invalid argument: bad shape");
    /// assert!(matches!(e.root(), Error::InvalidArgument(_)));
    /// ```
    #[cfg(feature = "std")]
    pub fn in_file(self, path: impl AsRef<std::path::Path>, tensor: Option<&str>) -> Error {
        if self.path().is_some() {
            return self;
        }
        Error::InFile {
            path: path.as_ref().display().to_string(),
            tensor: tensor.map(str::to_owned),
            source: Box::new(self),
        }
    }

    /// The file this error is about, if any.
    ///
    /// ```
    /// let e = blockscale::Error::file("a.npy", None, "truncated");
    /// assert_eq!(e.path(), Some("a.npy"));
    /// ```
    pub fn path(&self) -> Option<&str> {
        match self {
            Error::File { path, .. } | Error::InFile { path, .. } => Some(path),
            #[cfg(feature = "std")]
            Error::Io { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The error inside any [`Error::InFile`] wrapping: what went wrong,
    /// without the file it happened in.
    ///
    /// ```
    /// use blockscale::Error;
    /// let inner = Error::LengthMismatch { what: "data", expected: 4, found: 3 };
    /// let e = inner.clone().in_file("a.npy", Some("w"));
    /// assert_eq!(e.root(), &inner);
    /// ```
    pub fn root(&self) -> &Error {
        match self {
            Error::InFile { source, .. } => source.root(),
            other => other,
        }
    }

    /// The [`std::io::ErrorKind`] of an [`Error::Io`] (also inside an
    /// [`Error::InFile`]); `None` for every other error.
    #[cfg(feature = "std")]
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self.root() {
            Error::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

impl PartialEq for Error {
    /// Field by field; an [`Error::Io`] compares its source by kind and
    /// message (`std::io::Error` has no equality), and an
    /// [`Error::InvalidValue`]'s value by bits, so that a NaN equals itself.
    fn eq(&self, other: &Error) -> bool {
        use Error::*;
        match (self, other) {
            (
                LengthMismatch {
                    what,
                    expected,
                    found,
                },
                LengthMismatch {
                    what: w,
                    expected: e,
                    found: f,
                },
            ) => (what, expected, found) == (w, e, f),
            (ShapeOverflow { what, shape }, ShapeOverflow { what: w, shape: s }) => {
                (what, shape) == (w, s)
            }
            (
                NotWholeBlocks { what, shape, block },
                NotWholeBlocks {
                    what: w,
                    shape: s,
                    block: b,
                },
            ) => (what, shape, block) == (w, s, b),
            (KMismatch { a, b }, KMismatch { a: a2, b: b2 }) => (a, b) == (a2, b2),
            (
                BlockMismatch {
                    a,
                    a_block,
                    b,
                    b_block,
                },
                BlockMismatch {
                    a: a2,
                    a_block: ak,
                    b: b2,
                    b_block: bk,
                },
            ) => (a, a_block, b, b_block) == (a2, ak, b2, bk),
            (
                FormatMismatch { expected, found },
                FormatMismatch {
                    expected: e,
                    found: f,
                },
            ) => (expected, found) == (e, f),
            (
                InvalidValue {
                    what,
                    value,
                    expected,
                },
                InvalidValue {
                    what: w,
                    value: v,
                    expected: e,
                },
            ) => (what, value.to_bits(), expected) == (w, v.to_bits(), e),
            (InvalidArgument(a), InvalidArgument(b)) => a == b,
            (
                File {
                    path,
                    tensor,
                    message,
                },
                File {
                    path: p,
                    tensor: t,
                    message: m,
                },
            ) => (path, tensor, message) == (p, t, m),
            (
                InFile {
                    path,
                    tensor,
                    source,
                },
                InFile {
                    path: p,
                    tensor: t,
                    source: s,
                },
            ) => (path, tensor, source) == (p, t, s),
            #[cfg(feature = "std")]
            (
                Io {
                    path,
                    action,
                    source,
                },
                Io {
                    path: p,
                    action: a,
                    source: s,
                },
            ) => {
                (path, action, source.kind()) == (p, a, s.kind())
                    && source.to_string() == s.to_string()
            }
            _ => false,
        }
    }
}

/// `[a, b, c]` as `axbxc`.
struct Dims<'a>(&'a [usize]);

impl fmt::Display for Dims<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("x")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let in_file = |f: &mut fmt::Formatter<'_>, path: &str, tensor: &Option<String>| match tensor
        {
            Some(t) => write!(f, "{path}: tensor {t}: "),
            None => write!(f, "{path}: "),
        };
        match self {
            Error::LengthMismatch {
                what,
                expected,
                found,
            } => write!(f, "{what} has {found} elements, but {expected} are needed"),
            Error::ShapeOverflow { what, shape } => write!(
                f,
                "{what} of shape {} has more elements than usize can count",
                Dims(shape)
            ),
            Error::NotWholeBlocks {
                what,
                shape: (r, c),
                block: (br, bc),
            } => write!(
                f,
                "{what}: a {r}x{c} matrix is not a whole number of {br}x{bc} blocks"
            ),
            Error::KMismatch {
                a: (m, k),
                b: (n, kb),
            } => write!(
                f,
                "K mismatch: A is {m}x{k}, B is {n}x{kb} (both stored along K)"
            ),
            Error::BlockMismatch {
                a,
                a_block,
                b,
                b_block,
            } => write!(
                f,
                "incompatible blocks along K: A ({a}) has {a_block}, B ({b}) has {b_block}"
            ),
            Error::FormatMismatch { expected, found } => {
                write!(f, "format mismatch: {expected} and {found}")
            }
            Error::InvalidValue {
                what,
                value,
                expected,
            } => write!(f, "{what} is {value}, not {expected}"),
            Error::InvalidArgument(msg) => write!(f, "invalid argument: {msg}"),
            Error::File {
                path,
                tensor,
                message,
            } => {
                in_file(f, path, tensor)?;
                f.write_str(message)
            }
            Error::InFile {
                path,
                tensor,
                source,
            } => {
                in_file(f, path, tensor)?;
                fmt::Display::fmt(source, f)
            }
            #[cfg(feature = "std")]
            Error::Io {
                path,
                action,
                source,
            } => write!(f, "{path}: cannot {action}: {source}"),
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::InFile { source, .. } => Some(&**source),
            #[cfg(feature = "std")]
            Error::Io { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

/// `Ok` if `found == expected`, else [`Error::LengthMismatch`] naming `what`.
pub(crate) fn check_len(what: &'static str, expected: usize, found: usize) -> Result<(), Error> {
    if expected == found {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            what,
            expected,
            found,
        })
    }
}

/// `rows · cols`, or [`Error::ShapeOverflow`] naming `what`.
pub(crate) fn checked_area(what: &'static str, rows: usize, cols: usize) -> Result<usize, Error> {
    rows.checked_mul(cols).ok_or_else(|| Error::ShapeOverflow {
        what,
        shape: alloc::vec![rows, cols],
    })
}
