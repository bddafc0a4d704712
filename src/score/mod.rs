//! Scoring, matches and brackets: pure functions of saved [`RunSummary`](crate::base::summary::RunSummary)
//! values. No clocks, no I/O, no tokio — so a match or a whole bracket can be re-scored offline.
//!
//! # Layout
//! In reading order:
//! - [`rules`]: [`ScoringRules`], the limits a user level must stay within and the tie-break order,
//!   loadable from TOML with precise errors.
//! - [`score`](mod@score): one team's [`TeamScore`]: every level judged, the highest level
//!   sustained without problems, and which level and rule decided it.
//! - [`verdict`]: [`judge`] a match: teams ranked by sustained users, ties broken at equal user
//!   levels, a [`MatchVerdict`] whose reason names the deciding level and rule, void when the
//!   generator was unhealthy or the run was interrupted.
//! - [`bracket`]: [`Bracket`], single and double elimination (byes, bracket reset) and round robin as
//!   a pure state machine: seeding, next matches, recording results (void ones stay pending),
//!   standings. Serialized into `bracket.json`. One file per concern: the vocabulary, seeding, each
//!   format's layout, the state machine, the standings.
//! - `draw`: [`Bracket::render_text`], the bracket as a plain-text tree with results and the match
//!   being played.
//! - [`journal`]: the bracket's crash-safe journal as a pure model: JSON-lines entries and
//!   [`Journal::replay`], which rebuilds an interrupted bracket (tolerating a torn last line).
//!   Appending and syncing the file is the caller's.
//! - [`words`]: numbers as verdicts print them (`3,400 users`, `3.2% > 1.0%`).

pub mod bracket;
mod draw;
pub mod journal;
pub mod rules;
// The issue names the file `score.rs`; the path `score::score` reads as "the score function's module".
#[allow(clippy::module_inception)]
pub mod score;
pub mod verdict;
pub mod words;

#[cfg(test)]
mod proptests;
#[cfg(test)]
pub(crate) mod testkit;

pub use bracket::{
    Bracket, BracketError, Entrant, Format, MatchId, MatchResult, MatchScore, MatchStatus,
    NextMatch, Outcome, Standing, Standings, seed_order, seed_order_from_ranking,
};
pub use journal::{Changed, Entry, Journal, JournalError, Replayed, Rescored, Seeding};
pub use rules::{RulesError, ScoringRules, TieBreak};
pub use score::{BrokenRule, LevelJudgement, LevelMeasures, Rule, TeamScore, score};
pub use verdict::{Decision, MatchVerdict, Ranked, judge, judge_scores};
