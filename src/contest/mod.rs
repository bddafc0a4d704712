//! Matches and brackets played for real: teams run under one plan through the
//! [`runner`](crate::runner), judged by the pure [`score`](crate::score) module, written to disk; a
//! bracket's journal kept on disk so an interrupted tournament resumes; and re-judging any of it
//! offline. It knows about files and the engine, not about the terminal: the commands in
//! command line wraps it with flags, signals and views.
//!
//! # Layout
//! - [`teams`]: a team (name, target, seed) and which names are allowed.
//! - [`play`]: one match — concurrent or sequential runs, the verdict, `match.json` and
//!   `levels.csv` — through an [`Executor`] (the engine, or a test's stand-in).
//! - [`tournament`]: a bracket — seeding (teams file or a qualifying match), every match played and
//!   journaled, resume, void replays, forfeits — and its files.
//! - [`rescore`](mod@rescore): a match or bracket directory re-judged with other rules, offline.
//! - [`merge`](mod@merge): a match played in segments, merged and judged once.
//! - [`files`]: what a match or bracket directory holds, and the models and renderers of its files.
//! - [`html`]: `report.html` of a match and of a bracket, and [`rebuild`](html::rebuild) of every
//!   page of a results directory.

pub mod files;
pub mod html;
pub mod merge;
pub mod play;
pub mod rescore;
pub mod teams;
pub mod tournament;

#[cfg(test)]
mod testkit;

use std::path::PathBuf;

pub use files::Mode;
pub use play::{Executor, LiveExecutor, MatchSetup, PlayedMatch, play_match};
pub use rescore::{NewRules, Rescored, rescore};
pub use teams::{TeamEntry, check_team_name};
pub use tournament::{
    BracketEvent, BracketOutcome, BracketSetup, SeedBy, Start, Stopped, play_bracket,
};

use crate::report::ReportError;
use crate::runner::RunnerError;

/// A team whose server did not answer before a match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable {
    /// The team.
    pub team: String,
    /// Its base URL.
    pub target: String,
    /// What the connection attempt said.
    pub reason: String,
}

/// Why a match, bracket or rescore could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ContestError {
    /// Targets that do not answer `GET /health`; nothing was run.
    #[error("{}", unreachable_text(.0))]
    Unreachable(Vec<Unreachable>),
    /// A run could not be carried out.
    #[error(transparent)]
    Run(#[from] RunnerError),
    /// A file could not be read or written (the message names it).
    #[error(transparent)]
    Files(#[from] ReportError),
    /// A directory or file that cannot be used as asked: not a match or bracket directory, a
    /// bracket that exists already, a corrupt journal, a saved setup that does not load.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong, and what to do instead where there is something.
        message: String,
    },
}

fn unreachable_text(teams: &[Unreachable]) -> String {
    let lines: Vec<String> = teams
        .iter()
        .map(|u| {
            format!(
                "team {} ({}) failed the check before the match: {}. Fix its URL (--team {}=URL, \
                 or `target` in the teams file), or start its server.",
                u.team, u.target, u.reason, u.team
            )
        })
        .collect();
    lines.join("\n")
}
