//! YAML config loading with precise errors.
//! OWNER: the config work item. The error type's shape below is the contract; loading
//! helpers are added by that work.

use std::fmt;
use std::path::{Path, PathBuf};

/// A position in a file (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// Line, 1-based.
    pub line: usize,
    /// Column, 1-based.
    pub column: usize,
}

/// A config error: `file:line:column: message` (+ an optional hint and snippet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// Where in the file, if known.
    pub location: Option<Location>,
    /// What is wrong (never contains a secret value).
    pub message: String,
}

impl ConfigError {
    /// A new error.
    pub fn new(file: &Path, location: Option<Location>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: file.to_path_buf(),
            location,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some(l) => write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                l.line,
                l.column,
                self.message
            ),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}
