//! View-models: what a screen shows, built from the scoring state, drawn by the terminal scoreboard
//! ([`crate::tui`]) and by the report pages ([`crate::contest::html`]) alike. Nothing here draws,
//! and nothing here decides a result.
//!
//! - [`bracket`]: rounds of matches and standings, and [`bracket_view`](bracket::bracket_view), which
//!   builds them from a [`Bracket`](crate::score::Bracket).

pub mod bracket;
mod build;
