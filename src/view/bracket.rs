//! What the bracket view shows: rounds of matches (teams, result or "playing") and standings.
//!
//! A plain view-model, built from the scoring module's bracket state by [`bracket_view`] (whoever
//! plays the bracket publishes it to the scoreboard on a `watch` channel; the report pages draw it
//! too). Neither computes results itself; they draw what they are given.

pub use super::build::bracket_view;

/// The whole bracket as the scoreboard draws it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BracketView {
    /// Name of the event, e.g. `KTB 2024 final`.
    pub title: String,
    /// Rounds in playing order (first round first).
    pub rounds: Vec<RoundView>,
    /// True when match `i` of each round feeds match `i / 2` of the next (single elimination), so
    /// the rounds can be drawn as a tree; otherwise (double elimination, round robin) they are
    /// listed one under another.
    pub tree: bool,
    /// Standings, best first.
    pub standings: Vec<StandingRow>,
    /// True once the last match has been scored; the scoreboard may then close after the last run.
    pub finished: bool,
}

/// One round of the bracket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoundView {
    /// Name, e.g. `Quarter-finals`.
    pub name: String,
    /// Its matches, top to bottom; in a [tree](BracketView::tree), match `i` of a round feeds match
    /// `i / 2` of the next.
    pub matches: Vec<MatchView>,
}

/// One match of a round.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatchView {
    /// Its teams in bracket order; `None` while the slot waits for an earlier match's winner.
    pub teams: Vec<Option<String>>,
    /// Where it stands.
    pub state: MatchState,
}

/// Where a match stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum MatchState {
    /// Not played yet.
    #[default]
    Waiting,
    /// Being played now (the run and match views show it live).
    Playing,
    /// Scored.
    Finished {
        /// Index into `teams` of the winner; `None` for a void match (e.g. the generator was the
        /// bottleneck) or a draw.
        winner: Option<usize>,
        /// A short result per team, in `teams` order, e.g. `2,950 users` (may be empty).
        scores: Vec<String>,
        /// One line on why, e.g. `held 250 more users at 3,000`.
        note: String,
    },
}

/// One row of the standings table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StandingRow {
    /// 1-based rank (shared ranks allowed).
    pub rank: u32,
    /// Team name.
    pub team: String,
    /// Matches played.
    pub played: u32,
    /// Matches won.
    pub won: u32,
    /// Matches lost.
    pub lost: u32,
    /// Best figure so far, as the scoring module words it, e.g. `3,250 users at 3,400`.
    pub best: String,
    /// Still in the bracket.
    pub alive: bool,
}

impl BracketView {
    /// The match being played, as (round index, match index), if any.
    pub fn playing(&self) -> Option<(usize, usize)> {
        self.rounds.iter().enumerate().find_map(|(r, round)| {
            round
                .matches
                .iter()
                .position(|m| m.state == MatchState::Playing)
                .map(|i| (r, i))
        })
    }
}
