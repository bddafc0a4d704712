//! The [`RunSummary`] model and its renderers. One model, many renderers: everything a run reports
//! is in the summary, and each file is a view of it (plus the interval histograms for the log).
//! Building the summary from the engine's results is not done here, and neither is scoring.
//!
//! # Layout
//! - [`summary`]: the model (from [`base`](crate::base)), [`SCHEMA_VERSION`], described by
//!   `schema/run-summary.schema.json`.
//! - [`thresholds`]: [`evaluate`] judges a scenario's thresholds against a summary (pure).
//! - [`json`]: `summary.json` and [`RunSummary::load`], which reads the layout versions this build
//!   knows and refuses others.
//! - [`csv`]: `levels.csv`, `timeline.csv`, `failures.csv`, with their stable column names.
//! - [`hlog`]: `latency.hlog`, an HdrHistogram interval log tagged by operation.
//! - [`text`]: the human summary printed at the end of a run (also `summary.txt`).
//! - [`compare`](mod@compare): two runs side by side, p99 differences judged against run-to-run
//!   noise by a block bootstrap over the per-second histograms.
//! - [`html`]: `report.html`, the run as a self-contained page with charts.
//! - [`write`](mod@write): [`write_run`] puts all of the above in a results directory, each file atomically.
//! - [`error`]: [`ReportError`], which always names the file.

pub mod compare;
pub mod csv;
pub mod error;
pub mod hlog;
pub mod html;
pub mod json;
pub mod text;
pub mod thresholds;
pub mod write;

#[cfg(test)]
pub(crate) mod fixture;
#[cfg(test)]
mod schema_tests;

pub use crate::base::summary::{self, RunSummary, SCHEMA_VERSION, ThresholdResult};
pub use error::ReportError;
pub use json::write_json;
pub use text::render_text;
pub use thresholds::evaluate;
pub use write::{WrittenFiles, write_file_atomic, write_run};
