//! stampede: a load-testing tool for chat-service competitions.
//!
//! It ramps thousands of virtual users (VUs) that each hold a real Socket.IO chat session against a
//! team's server, measures every failure and latency (HDR histograms in microseconds, corrected for
//! coordinated omission, message delivery verified member by member), and writes one [`RunSummary`]
//! per run that scoring, matches and brackets are computed from.
//!
//! [`RunSummary`]: report::RunSummary
//!
//! # Layout
//! Modules in reading order; each owns one layer and imports only layers listed before it (the
//! command line, last, imports everything).
//! - [`base`]: the ground floor: operation and failure kinds, histograms and their encoding, level
//!   spans and thresholds, and the [`RunSummary`] model with its row types.
//! - [`scenario`]: the TOML scenario model, validation with precise errors, and lowering into a
//!   [`LoadPlan`](engine::plan::LoadPlan).
//! - [`client`]: protocol clients a VU drives: REST over reqwest and Socket.IO v4 over
//!   tokio-tungstenite, as typestates (`Guest → Authed → Joined`).
//! - [`metrics`]: what a run measures: operation and failure kinds, per-VU recording, one aggregator
//!   task, and the live [`Snapshot`](metrics::Snapshot) every view reads.
//! - [`engine`]: runs a `LoadPlan`: the ramp controller, one task per VU, pacing, delivery tracking,
//!   cancellation.
//! - [`report`]: the [`RunSummary`](report::RunSummary) model and its renderers (JSON, CSV, HdrHistogram
//!   log, text, the `report.html` page), and two runs compared.
//! - [`runner`]: from a plan to results on disk: runs the engine, assembles summaries, writes files.
//! - [`merge`]: the segments of a split run merged into one result, histograms merged exactly.
//! - [`score`]: pure scoring of saved summaries: levels sustained without problems, match verdicts,
//!   brackets and their crash-safe journal.
//! - [`contest`]: matches and brackets played for real: every team under one plan through the
//!   runner, verdicts and bracket journal on disk, resume, offline rescoring, their pages.
//! - [`tui`]: the live terminal scoreboard (run, match and bracket views), a view of snapshots like
//!   the progress display.
//! - [`view`]: view-models every screen draws alike (the bracket's rounds and standings).
//! - [`cli`]: command-line flags resolved into validated configs, the subcommands, the progress
//!   display, exit-code policy.

pub mod base;
pub mod cli;
pub mod client;
pub mod contest;
pub mod engine;
pub mod merge;
pub mod metrics;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod score;
pub mod tui;
pub mod view;
