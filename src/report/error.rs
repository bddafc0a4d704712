//! [`ReportError`]: what can go wrong writing or reading a run's result files. Every variant names
//! the file, because a user with a results directory of six files needs to know which one.

use std::io;
use std::path::PathBuf;

/// Failure to write or read a result file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The results directory could not be created.
    #[error("cannot create results directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A file could not be written (or moved into place).
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A file's content could not be produced (a value the format cannot represent).
    #[error("cannot write {}: {message}", path.display())]
    Encode {
        /// The file.
        path: PathBuf,
        /// What could not be encoded.
        message: String,
    },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A file is not a run summary of this build's layout.
    #[error("{} is not a valid run summary: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why parsing failed.
        source: serde_json::Error,
    },
    /// A run summary written with a layout version this build cannot read.
    #[error(
        "{} has schema_version {found}, but this build of stampede reads schema_version {} to \
         {expected}",
        path.display(),
        crate::base::summary::OLDEST_READABLE
    )]
    SchemaVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u64,
        /// [`SCHEMA_VERSION`](super::SCHEMA_VERSION).
        expected: u32,
    },
}
