//! The ground floor: the vocabulary every layer shares, so that the layers above never import each
//! other for a type. Nothing here knows about the engine, the terminal or files.
//!
//! # Layout
//! - [`kinds`]: [`Op`](kinds::Op) and [`FailureKind`](kinds::FailureKind), the closed sets a run
//!   counts by, with their stable report names.
//! - [`hist`]: latency histograms (µs), their encoding in summaries and interval logs.
//! - [`spec`]: level spans and thresholds, as a plan states them and summaries keep them.
//! - [`summary`]: [`RunSummary`](summary::RunSummary), the one model of a finished run, and its row
//!   types; every renderer, scoring and rescoring read it.

pub mod hist;
pub mod kinds;
pub mod spec;
pub mod summary;
