//! Configuration: a TOML file in two stages, raw → validated.
//!
//! `raw` is the serde shape of the file (spans kept on the fields that semantic errors
//! point at); `validate` turns it into a [`Config`] (the types of `model`, which the
//! rest of warden reads) and reports *every* problem at once, each as
//! `FILE:LINE:COL: message`. On the way, `interp` substitutes `${VAR}` and `units`
//! reads durations and sizes. `diff` compares two configs for a reload; `scale` makes
//! the running one with another number of copies of a program; `summary` is
//! what `warden check` prints. The user-facing reference is `docs/configuration.md`.
//!
//! This module does no I/O beyond reading the file and the environment, and knows
//! nothing of processes, HTTP or logs.

mod diff;
mod interp;
mod model;
mod raw;
mod scale;
mod summary;
#[cfg(test)]
mod tests;
mod units;
mod validate;

pub use model::*;
pub use scale::{instance_name, scaled, ScaleError, MAX_INSTANCES};
pub use units::{format_duration, format_size, parse_duration};
pub use validate::{MIN_TOKEN_LEN, TOKEN_ENV};

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a configuration file, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem has no place in the file (e.g. the file is missing).
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

/// All problems found in one file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Read and validate the file at `path`, substituting `${VAR}` from the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read config: {e}"),
        }])
    })?;
    parse(&text, path, &|name| std::env::var(name).ok())
}

/// Validate `text` as if read from `path`; `env` looks up variables for `${VAR}`.
///
/// Every problem is reported, in file order; the exceptions are a TOML syntax error and
/// a value of the wrong shape (a table where a string belongs), which are the only error.
pub fn parse(text: &str, path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
    validate::parse(text, path, env)
}

/// What a reload changes, by program name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigDiff {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: Vec<String>,
}

/// Compare programs by name: `added` (in `new` only) and `changed` / `unchanged` in
/// `new`'s order, `removed` in `old`'s. A program whose only change is its log
/// rotation is `unchanged`: rotation is applied without restarting it.
pub fn diff(old: &Config, new: &Config) -> ConfigDiff {
    diff::diff(old, new)
}

/// The commented example configuration (`config/warden.toml`), written by `warden init`.
pub fn example() -> &'static str {
    include_str!("../../config/warden.toml")
}
