//! The [`RunSummary`] model and its renderers. One model, many renderers: everything a run reports
//! is in the summary, and each file is a view of it (plus the interval histograms for the log).
//! Building the summary from the engine's results is not done here, and neither is scoring.
//!
//! # Layout
//! - [`summary`]: the model, [`SCHEMA_VERSION`].
//! - [`thresholds`]: [`evaluate`] judges a scenario's thresholds against a summary (pure).

pub mod summary;
pub mod thresholds;

#[cfg(test)]
mod fixture;

pub use summary::{RunSummary, SCHEMA_VERSION, ThresholdResult};
pub use thresholds::evaluate;
