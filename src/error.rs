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
