//! The live terminal scoreboard (ratatui): what organizers project during an event and what teams
//! watch during their own runs. It is a view like the progress bars: it reads [`Snapshot`]s from the
//! engine's `watch` channel at a bounded frame rate and never reaches into the engine; quitting
//! cancels the run through the run's own token, so every result file is still written.
//!
//! [`Snapshot`]: crate::metrics::Snapshot
//!
//! # Layout
//! - [`app`]: the state: view, pause, overlays, selected team, the figures on show.
//! - [`event`]: keys to actions, as a pure [`handle_key`](event::handle_key).
//! - [`ui`]: `impl Widget for &App`: the run, match and bracket views.
//! - [`leader`]: the live-leader rule of the match view, behind a swappable
//!   [`Ranker`](leader::Ranker).
//! - The bracket view draws [`crate::view::bracket`], the view-model the report pages draw too.
//! - [`format`](mod@format): thousands separators, latencies, clocks, text sparklines.
//! - [`terminal`]: [`run`], the loop that owns the terminal and restores it on every way out.

pub mod app;
pub mod event;
pub mod format;
pub mod leader;
pub mod terminal;
pub mod ui;

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod tests;

pub use app::{App, View};
pub use terminal::{TuiOptions, run};
