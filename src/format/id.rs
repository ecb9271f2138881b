//! [`FormatId`]: the text that names a format with its options, as the
//! command line takes it and as file metadata records it.
//!
//! Grammar: a family keyword, then comma-separated options, each `key=value`
//! or a bare `key` (which means `key=true`):
//!
//! ```text
//! nvfp4                       NVFP4, Transformer Engine's bytes, 1×16 blocks
//! nvfp4,profile=modelopt,2d   Model-Optimizer's bytes, 16×16 tiles
//! mxfp4,rule=floor            MXFP4 with the OCP spec's scale rule
//! fp8-block,block=64x64       FP8 E4M3 with FP32 scales per 64×64 tile
//! fp8-e5m2,scale=2e0          FP8 E5M2 per tensor with a fixed (delayed) scale
//! ```
//!
//! Each format prints only the options that differ from its family's
//! default, so a format and its text round-trip
//! ([`BlockFormat::id`](super::BlockFormat::id),
//! [`BlockFormat::from_id`](super::BlockFormat::from_id)).

use crate::Error;
use crate::prelude::*;
use core::fmt;
use core::str::FromStr;

/// A format's family keyword and the options that differ from the
/// family's default.
///
/// ```
/// use blockscale::format::{BlockFormat, FormatId, MxFp4};
/// use blockscale::scale::mx::MxScaleRule;
/// let id: FormatId = "mxfp4,rule=floor".parse()?;
/// assert_eq!((id.family(), id.option("rule")), ("mxfp4", Some("floor")));
/// assert_eq!(MxFp4::from_id(&id)?, MxFp4::new(MxScaleRule::Floor));
/// assert_eq!(MxFp4::new(MxScaleRule::Floor).id().to_string(), "mxfp4,rule=floor");
/// # Ok::<(), blockscale::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FormatId {
    family: String,
    options: Vec<(String, String)>,
}

impl FormatId {
    /// A family with no options (the family's default format).
    ///
    /// ```
    /// assert_eq!(blockscale::format::FormatId::new("mxfp8").to_string(), "mxfp8");
    /// ```
    pub fn new(family: &str) -> FormatId {
        FormatId {
            family: family.to_string(),
            options: Vec::new(),
        }
    }

    /// This identifier with option `key` set to `value` (replacing an
    /// earlier value); the value `"true"` prints as the bare key.
    ///
    /// ```
    /// use blockscale::format::FormatId;
    /// assert_eq!(FormatId::new("nvfp4").with("2d", "true").to_string(), "nvfp4,2d");
    /// ```
    pub fn with(mut self, key: &str, value: &str) -> FormatId {
        self.options.retain(|(k, _)| k != key);
        self.options.push((key.to_string(), value.to_string()));
        self
    }

    /// The family keyword (`"nvfp4"`, `"mxfp6-e3m2"`, `"fp8-block"`, …).
    pub fn family(&self) -> &str {
        &self.family
    }

    /// The value of option `key`, if given (`"true"` for a bare key).
    ///
    /// ```
    /// let id: blockscale::format::FormatId = "fp8,pow2".parse()?;
    /// assert_eq!((id.option("pow2"), id.option("scale")), (Some("true"), None));
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The options, in order.
    ///
    /// ```
    /// let id: blockscale::format::FormatId = "mxfp4,rule=even,2d".parse()?;
    /// assert_eq!(id.options().collect::<Vec<_>>(), [("rule", "even"), ("2d", "true")]);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn options(&self) -> impl Iterator<Item = (&str, &str)> {
        self.options.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Checks that this is family `family` and uses only the options in
    /// `allowed`: what each format's `from_id` does first.
    ///
    /// Errors: [`Error::InvalidArgument`] naming the family or the option.
    ///
    /// ```
    /// let id: blockscale::format::FormatId = "mxfp4,profile=te".parse()?;
    /// assert!(id.expect("mxfp4", &["rule", "2d"]).is_err());
    /// assert!(id.expect("mxfp4", &["rule", "2d", "profile"]).is_ok());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn expect(&self, family: &str, allowed: &[&str]) -> Result<(), Error> {
        if self.family != family {
            return Err(Error::InvalidArgument(format!(
                "format '{self}' is not of family {family}"
            )));
        }
        match self.options().find(|(k, _)| !allowed.contains(k)) {
            None => Ok(()),
            Some((k, _)) => Err(Error::InvalidArgument(format!(
                "{family} takes no option '{k}' (its options: {})",
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.join(", ")
                }
            ))),
        }
    }

    /// Option `key` as a boolean (`true` or `false`; absent gives `default`).
    ///
    /// ```
    /// let id: blockscale::format::FormatId = "fp8,pow2".parse()?;
    /// assert_eq!(id.flag("pow2", false)?, true);
    /// assert_eq!(id.flag("2d", false)?, false);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn flag(&self, key: &str, default: bool) -> Result<bool, Error> {
        match self.option(key) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(Error::InvalidArgument(format!(
                "{}: option {key} is true or false, not '{v}'",
                self.family
            ))),
        }
    }

    /// Option `key` as one of `choices`, each a name and its value
    /// (absent gives `None`); an unknown name is an error listing them.
    ///
    /// ```
    /// let id: blockscale::format::FormatId = "mxfp4,rule=up".parse()?;
    /// let rules = [("floor", 0), ("rceil", 1)];
    /// assert!(id.choice("rule", &rules).is_err());
    /// assert_eq!(id.choice("profile", &rules)?, None);
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn choice<T: Copy>(&self, key: &str, choices: &[(&str, T)]) -> Result<Option<T>, Error> {
        let Some(v) = self.option(key) else {
            return Ok(None);
        };
        match choices.iter().find(|(n, _)| *n == v) {
            Some(&(_, t)) => Ok(Some(t)),
            None => Err(Error::InvalidArgument(format!(
                "{}: unknown {key} '{v}' (expected one of: {})",
                self.family,
                choices
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Option `key` parsed with `FromStr` (absent gives `None`).
    ///
    /// ```
    /// let id: blockscale::format::FormatId = "fp8,scale=0.5".parse()?;
    /// assert_eq!(id.value::<f32>("scale")?, Some(0.5));
    /// assert!("fp8,scale=half".parse::<blockscale::format::FormatId>()?.value::<f32>("scale").is_err());
    /// # Ok::<(), blockscale::Error>(())
    /// ```
    pub fn value<T: FromStr>(&self, key: &str) -> Result<Option<T>, Error> {
        self.option(key)
            .map(|v| {
                v.parse().map_err(|_| {
                    Error::InvalidArgument(format!(
                        "{}: option {key} has a malformed value '{v}'",
                        self.family
                    ))
                })
            })
            .transpose()
    }
}

impl fmt::Display for FormatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.family)?;
        for (k, v) in &self.options {
            if v == "true" {
                write!(f, ",{k}")?;
            } else {
                write!(f, ",{k}={v}")?;
            }
        }
        Ok(())
    }
}

impl FromStr for FormatId {
    type Err = Error;

    /// Parses the grammar in the module docs. Keys and the family are
    /// lower-case ASCII letters, digits, `-` and `_`; surrounding spaces are
    /// ignored.
    fn from_str(s: &str) -> Result<FormatId, Error> {
        let word = |w: &str| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        };
        let mut parts = s.trim().split(',').map(str::trim);
        let family = parts.next().unwrap_or_default();
        if !word(family) {
            return Err(Error::InvalidArgument(format!(
                "'{s}' is not a format name (a family such as nvfp4 or mxfp8, then ,key=value options)"
            )));
        }
        let mut id = FormatId::new(family);
        for p in parts {
            let (k, v) = p.split_once('=').unwrap_or((p, "true"));
            if !word(k) || v.is_empty() || id.option(k).is_some() {
                return Err(Error::InvalidArgument(format!(
                    "format '{s}': malformed or repeated option '{p}'"
                )));
            }
            id = id.with(k, v);
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        let id: FormatId = " nvfp4 , profile=torchao ,2d".parse().unwrap();
        assert_eq!(id.to_string(), "nvfp4,profile=torchao,2d");
        assert_eq!(id.option("profile"), Some("torchao"));
        for bad in [
            "",
            "NVFP4",
            "nvfp4,",
            "nvfp4,=x",
            "nvfp4,a=",
            "nvfp4,a,a",
            "nv fp4",
        ] {
            assert!(bad.parse::<FormatId>().is_err(), "{bad:?}");
        }
    }
}
