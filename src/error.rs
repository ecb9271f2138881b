//! The crate's one error type.

use std::fmt;

/// Everything that can go wrong in this crate, as a value rather than a panic.
///
/// Every fallible function returns `Result<_, Error>`; no public function
/// panics on any input.
///
/// ```
/// use blockscale::{E4M3, Error, element::slice};
/// let mut out = [E4M3::ZERO; 2];
/// let err = slice::encode(&[1.0f32, 2.0, 3.0], &mut out, Default::default()).unwrap_err();
/// assert!(matches!(err, Error::LengthMismatch { expected: 3, found: 2, .. }));
/// println!("{err}"); // "output has 2 elements, but 3 are needed"
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// An option or argument is outside its valid range.
    InvalidArgument(String),
    /// A file could not be read or written, or its contents are malformed.
    File {
        /// The file's path.
        path: String,
        /// The tensor concerned, if any.
        tensor: Option<String>,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// An [`Error::File`] about `path` (and `tensor`, if given).
    ///
    /// ```
    /// let e = blockscale::Error::file("model.safetensors", Some("w"), "truncated");
    /// assert_eq!(e.to_string(), "model.safetensors: tensor w: truncated");
    /// ```
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

    /// This error with `path` and `tensor` attached, if it has none yet:
    /// an argument error found while processing a tensor of a file becomes
    /// an [`Error::File`] naming both.
    ///
    /// ```
    /// use blockscale::Error;
    /// let e = Error::InvalidArgument("bad shape".into()).in_file("a.npy", None);
    /// assert_eq!(e.to_string(), "a.npy: invalid argument: bad shape");
    /// ```
    pub fn in_file(self, path: impl AsRef<std::path::Path>, tensor: Option<&str>) -> Error {
        match self {
            Error::File { .. } => self,
            other => Error::file(path, tensor, other.to_string()),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::LengthMismatch {
                what,
                expected,
                found,
            } => write!(f, "{what} has {found} elements, but {expected} are needed"),
            Error::InvalidArgument(msg) => write!(f, "invalid argument: {msg}"),
            Error::File {
                path,
                tensor: Some(t),
                message,
            } => write!(f, "{path}: tensor {t}: {message}"),
            Error::File {
                path,
                tensor: None,
                message,
            } => write!(f, "{path}: {message}"),
        }
    }
}

impl std::error::Error for Error {}

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
