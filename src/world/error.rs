//! World loading errors: each names the file, the place in it and the reason.

use std::path::PathBuf;

use thiserror::Error;

/// Why a world could not be loaded.
#[derive(Debug, Error)]
pub enum WorldError {
    /// The file could not be read.
    #[error("{file}: cannot read the world file: {reason}")]
    Io { file: PathBuf, reason: String },
    /// The JSON is malformed or a value has the wrong type.
    #[error("{file}:{line}:{column}: at `{path}`: {reason}")]
    Parse { file: PathBuf, line: usize, column: usize, path: String, reason: String },
    /// The JSON is well-formed but breaks an invariant of the world format.
    #[error("{file}: at `{place}`: {reason}")]
    Invalid { file: PathBuf, place: String, reason: String },
    /// Neither a sample world nor an existing path.
    #[error("unknown world \"{name}\": not a sample world ({known}) and no such file")]
    UnknownWorld { name: String, known: String },
}
