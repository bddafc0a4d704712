//! Brackets: single elimination, double elimination and round robin, as a pure state machine.
//!
//! A [`Bracket`] is its teams in seed order plus a fixed list of matches whose two slots name where
//! their teams come from (a seed, a bye, the winner or loser of an earlier match). Everything else —
//! who plays next, who advanced on a bye, standings — is derived from the results recorded so far, so
//! the state is small, serializable (`bracket.json`) and rebuilt exactly by replaying the journal
//! ([`journal`](super::journal)). Running the matches is the caller's job; the text drawing is
//! [`Bracket::render_text`].
//!
//! # Formats
//! - **single**: seeds placed so that 1 and 2 can only meet in the final (1 v 8, 4 v 5, 2 v 7, 3 v 6);
//!   when the team count is not a power of two the top seeds get byes, and a bye advances without a
//!   match. Semi-final losers share third place.
//! - **double**: the same winners bracket; a team's first loss sends it to the losers bracket, its
//!   second eliminates it. Losers-bracket rounds alternate between pairing its survivors and taking in
//!   the next round's losers from the winners bracket (in reverse order every other time, to postpone
//!   rematches). The grand final pits the winners-bracket champion against the losers-bracket
//!   champion; if the latter wins, both have lost once and a **bracket reset** (`GF2`) is played, so no
//!   team is out before its second loss.
//! - **round-robin**: everyone meets everyone once, scheduled in rounds by the circle method. A win
//!   is 2 points, a draw 1. Standings: points, then points in matches among the teams level on points
//!   (head to head), then total sustained users over all their matches; teams equal on all three
//!   share a place.
//!
//! A void result is not recorded: the match stays pending, its void reason is kept, and it is played
//! again. A draw (a verdict with everything equal) is recorded; in elimination formats the better
//! seed advances, because replaying identical figures would draw again.
//!
//! # Layout
//! - this file: [`Bracket`] (format, teams, matches) and how it is created; the shared helpers
//!   that name and build matches.
//! - `model`: the vocabulary — [`Format`], [`MatchId`], [`Source`], [`Stage`], [`MatchResult`],
//!   [`MatchStatus`], [`Standings`], [`BracketError`], …
//! - `seeding`: [`seed_order`] and [`seed_order_from_ranking`]: who is seed 1.
//! - `single`, `double`, `round_robin`: each format's layout of matches (the round robin also its
//!   ranking).
//! - `state`: the state machine — states derived from results, [`Bracket::next_matches`],
//!   [`Bracket::record`].
//! - `standings`: [`Bracket::standings`] and the champion.
//!
//! Imports point one way: `double` builds on `single`'s tree; `standings` reads `state` and uses
//! `round_robin`'s ranking; any file may use `model` and this file's helpers. The drawing
//! (`score::draw`) and the journal read brackets; nothing here reads them.

mod double;
mod model;
mod round_robin;
mod seeding;
mod single;
mod standings;
mod state;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

pub use model::{
    BracketError, Format, Match, MatchId, MatchResult, MatchScore, MatchStatus, NextMatch, Outcome,
    Source, Stage, Standing, Standings,
};
pub use seeding::{Entrant, seed_order, seed_order_from_ranking};
pub(crate) use state::{Slot, State};

/// A bracket in progress. Serialized into `bracket.json`. Only the teams and the matches (with
/// their results) are kept; every match's state is derived from them (see `state`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bracket {
    format: Format,
    /// Team names in seed order: `teams[0]` is seed 1.
    teams: Vec<String>,
    /// In dependency order: every match's sources refer to earlier matches only.
    matches: Vec<Match>,
}

impl Bracket {
    /// A bracket of `teams`, given in seed order (strongest first).
    pub fn new(format: Format, teams: Vec<String>) -> Result<Bracket, BracketError> {
        if teams.is_empty() {
            return Err(BracketError::NoTeams);
        }
        let mut seen = BTreeSet::new();
        for t in &teams {
            if t.trim().is_empty() {
                return Err(BracketError::EmptyName);
            }
            if !seen.insert(t.as_str()) {
                return Err(BracketError::DuplicateTeam(t.clone()));
            }
        }
        let n = teams.len() as u32;
        let matches = match format {
            Format::Single => single::elimination(n, "R", Stage::Round),
            Format::Double => double::double(n),
            Format::RoundRobin => round_robin::round_robin(n),
        };
        Ok(Bracket {
            format,
            teams,
            matches,
        })
    }

    /// The format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Team names in seed order.
    pub fn teams(&self) -> &[String] {
        &self.teams
    }

    /// Every match, in dependency order.
    pub fn matches(&self) -> &[Match] {
        &self.matches
    }

    /// Position of match `id`. A linear search: a bracket has a few dozen matches at most.
    fn index(&self, id: &MatchId) -> Option<usize> {
        self.matches.iter().position(|m| &m.id == id)
    }
}

/// A match's name: prefix, round, and its 1-based place in the round (`W2-1`). The journal and the
/// saved results refer to matches by these names, so a layout must keep producing the same ones.
fn match_id(prefix: &str, round: u32, n: usize) -> MatchId {
    MatchId(format!("{prefix}{round}-{}", n + 1))
}

/// A match not played yet.
fn new_match(id: MatchId, stage: Stage, a: Source, b: Source) -> Match {
    Match {
        id,
        stage,
        slots: [a, b],
        result: None,
        voids: Vec::new(),
    }
}

/// Helpers for every bracket test (`names` and `won` serve the journal's and the drawing's tests
/// too), and the tests of creating a bracket.
#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The first `n` team names, in seed order (`alpha` is seed 1).
    pub(crate) fn names(n: usize) -> Vec<String> {
        [
            "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
            "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec",
        ][..n]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// A result for match `id` of `b`: `winner` (by name) wins with 2,000 users against 1,000.
    pub(crate) fn won(b: &Bracket, id: &str, winner: &str) -> MatchResult {
        let MatchStatus::Ready { teams } = b.status(&id.into()).unwrap() else {
            panic!("{id} is not ready: {:?}", b.status(&id.into()));
        };
        MatchResult {
            outcome: Outcome::Won {
                winner: winner.to_string(),
            },
            scores: teams
                .iter()
                .map(|t| MatchScore {
                    team: t.clone(),
                    sustained_users: if t == winner { 2000 } else { 1000 },
                })
                .collect(),
            reason: format!("{winner} wins"),
        }
    }

    /// A result for match `id` with `outcome` and equal figures (1,500 users each).
    pub(super) fn with(b: &Bracket, id: &str, outcome: Outcome) -> MatchResult {
        let MatchStatus::Ready { teams } = b.status(&id.into()).unwrap() else {
            panic!("{id} is not ready");
        };
        MatchResult {
            outcome,
            scores: teams
                .iter()
                .map(|t| MatchScore {
                    team: t.clone(),
                    sustained_users: 1500,
                })
                .collect(),
            reason: "equal".into(),
        }
    }

    /// Records a win of `winner` in match `id`.
    pub(super) fn play(b: &mut Bracket, id: &str, winner: &str) {
        let r = won(b, id, winner);
        b.record(&id.into(), r).unwrap();
    }

    /// The matches to play next, as (name, teams).
    pub(super) fn next(b: &Bracket) -> Vec<(String, [String; 2])> {
        b.next_matches()
            .into_iter()
            .map(|m| (m.id.0, m.teams))
            .collect()
    }

    /// Two team names, in slot order.
    pub(super) fn pair(a: &str, b: &str) -> [String; 2] {
        [a.to_string(), b.to_string()]
    }

    /// (place, team) by place, then seed.
    pub(super) fn places(b: &Bracket) -> Vec<(u32, String)> {
        b.standings()
            .rows
            .into_iter()
            .map(|r| (r.place, r.team))
            .collect()
    }

    /// An expected [`places`] list.
    pub(super) fn place_list(v: &[(u32, &str)]) -> Vec<(u32, String)> {
        v.iter().map(|(p, t)| (*p, t.to_string())).collect()
    }

    #[test]
    fn one_team_is_champion_without_playing() {
        for format in [Format::Single, Format::Double, Format::RoundRobin] {
            let b = Bracket::new(format, names(1)).unwrap();
            assert!(b.is_finished(), "{format}");
            assert!(b.next_matches().is_empty());
            assert_eq!(b.champion().as_deref(), Some("alpha"), "{format}");
        }
    }

    #[test]
    fn bad_team_lists_are_rejected() {
        assert_eq!(
            Bracket::new(Format::Single, vec![]),
            Err(BracketError::NoTeams)
        );
        assert_eq!(
            Bracket::new(Format::Single, vec!["a".into(), "a".into()]),
            Err(BracketError::DuplicateTeam("a".into()))
        );
        assert_eq!(
            Bracket::new(Format::Double, vec!["a".into(), " ".into()]),
            Err(BracketError::EmptyName)
        );
    }

    #[test]
    fn a_bracket_in_progress_round_trips_through_json() {
        let mut b = Bracket::new(Format::Double, names(5)).unwrap();
        for m in b.next_matches() {
            let r = won(&b, &m.id.0, &m.teams[1]);
            b.record(&m.id, r).unwrap();
        }
        let json = serde_json::to_string_pretty(&b).unwrap();
        let back: Bracket = serde_json::from_str(&json).unwrap();
        assert_eq!(back, b);
        assert_eq!(back.next_matches(), b.next_matches());
        assert!(json.contains("\"winner_of\": \"W1-"), "{json}");
    }
}
