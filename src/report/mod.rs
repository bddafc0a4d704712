//! The [`RunSummary`] model and its renderers.

pub mod summary;

pub use summary::{RunSummary, SCHEMA_VERSION};
