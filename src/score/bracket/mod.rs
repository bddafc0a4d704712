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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::verdict::MatchVerdict;

/// How teams meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Single elimination.
    Single,
    /// Double elimination with a bracket reset.
    Double,
    /// Everyone meets everyone once.
    RoundRobin,
}

impl Format {
    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Format::Single => "single",
            Format::Double => "double",
            Format::RoundRobin => "round-robin",
        }
    }

    /// The name for people.
    pub fn title(self) -> &'static str {
        match self {
            Format::Single => "Single elimination",
            Format::Double => "Double elimination",
            Format::RoundRobin => "Round robin",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = BracketError;

    fn from_str(s: &str) -> Result<Format, BracketError> {
        match s {
            "single" => Ok(Format::Single),
            "double" => Ok(Format::Double),
            "round-robin" => Ok(Format::RoundRobin),
            other => Err(BracketError::UnknownFormat(other.to_string())),
        }
    }
}

/// A match's name: `R2-1` (single), `W1-3`, `L2-1`, `GF1`, `GF2` (double), `RR3-2` (round robin).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MatchId(pub String);

impl fmt::Display for MatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for MatchId {
    fn from(s: &str) -> MatchId {
        MatchId(s.to_string())
    }
}

/// Where a slot's team comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The team with this seed (1-based).
    Seed(u32),
    /// Nobody: the other team advances without a match.
    Bye,
    /// The winner of an earlier match.
    WinnerOf(MatchId),
    /// The loser of an earlier match.
    LoserOf(MatchId),
}

/// Which part of a bracket a match belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Round of a single-elimination bracket (1 = first).
    Round(u32),
    /// Round of a double-elimination winners bracket.
    Winners(u32),
    /// Round of a double-elimination losers bracket.
    Losers(u32),
    /// The grand final.
    GrandFinal,
    /// The bracket reset, played only when the losers-bracket champion wins the grand final.
    Reset,
    /// Round of a round robin.
    RoundRobin(u32),
}

/// One team's figure in a match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchScore {
    /// Team name.
    pub team: String,
    /// Users it sustained without problems in this match.
    pub sustained_users: u32,
}

/// How a match ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// One team won.
    Won {
        /// The winner.
        winner: String,
    },
    /// Everything the rules compare was equal.
    Draw,
    /// Not a result: the match has to be played again.
    Void,
}

/// The result of a match as a bracket keeps it: the outcome, each team's score and the verdict's
/// reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchResult {
    /// How it ended.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Each team's sustained users.
    pub scores: Vec<MatchScore>,
    /// The verdict's sentence (or why it is void).
    pub reason: String,
}

impl MatchResult {
    /// The bracket's view of a verdict: void, won, or (a tie) a draw.
    pub fn from_verdict(v: &MatchVerdict) -> MatchResult {
        let outcome = if v.void.is_some() {
            Outcome::Void
        } else if let Some(w) = &v.winner {
            Outcome::Won { winner: w.clone() }
        } else {
            Outcome::Draw
        };
        MatchResult {
            outcome,
            scores: v
                .ranking
                .iter()
                .map(|r| MatchScore {
                    team: r.team.clone(),
                    sustained_users: r.score.sustained_users,
                })
                .collect(),
            reason: v.reason.clone(),
        }
    }

    /// Sustained users of `team` in this match.
    pub fn users_of(&self, team: &str) -> Option<u32> {
        self.scores
            .iter()
            .find(|s| s.team == team)
            .map(|s| s.sustained_users)
    }
}

/// One match of a bracket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    /// Its name.
    pub id: MatchId,
    /// Where it sits.
    pub stage: Stage,
    /// Where its two teams come from.
    pub slots: [Source; 2],
    /// The recorded result (never void).
    pub result: Option<MatchResult>,
    /// Reasons of the void attempts, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub voids: Vec<String>,
}

/// Where a match stands, derived from the results recorded so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum MatchStatus {
    /// A team is not known yet.
    Waiting,
    /// Both teams are known; the match is to be played.
    Ready {
        /// The two teams, in slot order.
        teams: [String; 2],
    },
    /// Played and recorded.
    Played {
        /// Winner (for a draw, the better seed).
        winner: String,
        /// Loser.
        loser: String,
    },
    /// One side is a bye: the other team advanced without a match (`None`: both sides empty).
    Bye {
        /// The team that advanced.
        advanced: Option<String>,
    },
    /// The bracket reset, not needed because the winners-bracket champion won the grand final.
    NotNeeded,
}

/// A match ready to be played.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextMatch {
    /// Its name.
    pub id: MatchId,
    /// Where it sits.
    pub stage: Stage,
    /// The two teams, in slot order.
    pub teams: [String; 2],
}

/// A team in the teams file: a name and an optional seed number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entrant {
    /// Team name.
    pub name: String,
    /// Seed number (1 is the strongest), if the file gives one.
    pub seed: Option<u32>,
}

/// A team's line in the standings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    /// 1-based; teams that cannot be separated share it. Provisional until the bracket is finished.
    pub place: u32,
    /// Team name.
    pub team: String,
    /// Seed (1-based).
    pub seed: u32,
    /// Matches won (a draw that advanced a better seed is not a win).
    pub wins: u32,
    /// Matches drawn.
    pub draws: u32,
    /// Matches lost.
    pub losses: u32,
    /// Round robin: 2 per win, 1 per draw. Elimination formats: 0.
    pub points: u32,
    /// Round robin: points in matches among the teams level on points.
    pub head_to_head: u32,
    /// Sum of the team's sustained users over its matches.
    pub total_users: u64,
    /// Elimination formats: the match that knocked the team out; `None` while it is alive, and for
    /// the champion.
    pub eliminated_in: Option<MatchId>,
}

/// The standings of a bracket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standings {
    /// True when every match has been decided; places are final then.
    pub finished: bool,
    /// Champion, when known.
    pub champion: Option<String>,
    /// Every team, by place, then seed.
    pub rows: Vec<Standing>,
}

/// Why a bracket could not be created or a result not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BracketError {
    /// The format name is not one of ours.
    #[error("unknown bracket format `{0}`: use single, double or round-robin")]
    UnknownFormat(String),
    /// A bracket needs a team.
    #[error("a bracket needs at least one team")]
    NoTeams,
    /// A team name is empty or only spaces.
    #[error("team names cannot be empty")]
    EmptyName,
    /// The same team twice.
    #[error("team `{0}` is listed twice")]
    DuplicateTeam(String),
    /// Two teams with one seed number.
    #[error("seed {seed} is given to both `{first}` and `{second}`")]
    DuplicateSeed {
        /// The seed number.
        seed: u32,
        /// The team listed first.
        first: String,
        /// The team listed second.
        second: String,
    },
    /// No match of that name.
    #[error("no match `{0}` in this bracket")]
    UnknownMatch(MatchId),
    /// The match's teams are not known yet.
    #[error("match `{0}` cannot be played yet: its teams are not known")]
    NotReady(MatchId),
    /// The match is a bye or an unneeded reset: there is nothing to play.
    #[error("match `{0}` is not played: {1}")]
    NothingToPlay(MatchId, &'static str),
    /// The match already has a result.
    #[error("match `{0}` already has a result")]
    AlreadyRecorded(MatchId),
    /// The result names other teams than the match's.
    #[error(
        "match `{id}` is {} vs {}, but the result is for {}",
        expected[0],
        expected[1],
        got.join(", ")
    )]
    WrongTeams {
        /// The match.
        id: MatchId,
        /// Its teams.
        expected: [String; 2],
        /// The teams the result names.
        got: Vec<String>,
    },
    /// The winner is not one of the match's teams.
    #[error("match `{id}`: winner `{winner}` did not play in it")]
    WrongWinner {
        /// The match.
        id: MatchId,
        /// The named winner.
        winner: String,
    },
}

/// Teams in seed order from a teams file: teams with a seed number first, by number; the rest after
/// them in file order.
pub fn seed_order(entrants: &[Entrant]) -> Result<Vec<String>, BracketError> {
    let mut by_seed: BTreeMap<u32, &str> = BTreeMap::new();
    for e in entrants {
        if let Some(seed) = e.seed
            && let Some(first) = by_seed.insert(seed, &e.name)
        {
            return Err(BracketError::DuplicateSeed {
                seed,
                first: first.to_string(),
                second: e.name.clone(),
            });
        }
    }
    let mut order: Vec<String> = by_seed.values().map(|n| n.to_string()).collect();
    order.extend(
        entrants
            .iter()
            .filter(|e| e.seed.is_none())
            .map(|e| e.name.clone()),
    );
    Ok(order)
}

/// Teams in seed order from a qualifying match: its ranking (equal ranks by name, as the verdict
/// lists them).
pub fn seed_order_from_ranking(qualifying: &MatchVerdict) -> Vec<String> {
    qualifying.ranking.iter().map(|r| r.team.clone()).collect()
}

/// A bracket in progress. Serialized into `bracket.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bracket {
    format: Format,
    /// Team names in seed order: `teams[0]` is seed 1.
    teams: Vec<String>,
    /// In dependency order: every match's sources refer to earlier matches only.
    matches: Vec<Match>,
}

/// A slot's team as far as results go so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Team index (seed - 1).
    Team(usize),
    /// A bye, or the loser of a bye.
    Empty,
    /// Not decided yet.
    Pending,
}

/// A match's state in team indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Waiting,
    Ready(usize, usize),
    /// Played or walked over: winner and loser slots.
    Decided {
        winner: Slot,
        loser: Slot,
        played: bool,
    },
    NotNeeded,
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
            Format::Single => elimination(n, "R", Stage::Round),
            Format::Double => double(n),
            Format::RoundRobin => round_robin(n),
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

    fn index(&self, id: &MatchId) -> Option<usize> {
        self.matches.iter().position(|m| &m.id == id)
    }

    /// Every match's state, computed in dependency order.
    pub(crate) fn states(&self) -> Vec<State> {
        let mut states: Vec<State> = Vec::with_capacity(self.matches.len());
        for m in &self.matches {
            let resolve = |src: &Source| -> Slot {
                match src {
                    Source::Seed(s) => Slot::Team(*s as usize - 1),
                    Source::Bye => Slot::Empty,
                    Source::WinnerOf(id) | Source::LoserOf(id) => {
                        let i = self
                            .index(id)
                            .expect("sources refer to matches of the bracket");
                        match states[i] {
                            State::Decided { winner, loser, .. } => {
                                if matches!(src, Source::WinnerOf(_)) {
                                    winner
                                } else {
                                    loser
                                }
                            }
                            State::NotNeeded => Slot::Empty,
                            State::Waiting | State::Ready(..) => Slot::Pending,
                        }
                    }
                }
            };
            let state = if m.stage == Stage::Reset && self.reset_not_needed(&states) {
                State::NotNeeded
            } else {
                match (resolve(&m.slots[0]), resolve(&m.slots[1])) {
                    (Slot::Pending, _) | (_, Slot::Pending) => State::Waiting,
                    (Slot::Empty, Slot::Empty) => State::Decided {
                        winner: Slot::Empty,
                        loser: Slot::Empty,
                        played: false,
                    },
                    (Slot::Team(t), Slot::Empty) | (Slot::Empty, Slot::Team(t)) => State::Decided {
                        winner: Slot::Team(t),
                        loser: Slot::Empty,
                        played: false,
                    },
                    (Slot::Team(a), Slot::Team(b)) => match &m.result {
                        None => State::Ready(a, b),
                        Some(r) => {
                            let a_wins = match &r.outcome {
                                Outcome::Won { winner } => *winner == self.teams[a],
                                // A draw advances the better seed.
                                Outcome::Draw | Outcome::Void => a < b,
                            };
                            let (w, l) = if a_wins { (a, b) } else { (b, a) };
                            State::Decided {
                                winner: Slot::Team(w),
                                loser: Slot::Team(l),
                                played: true,
                            }
                        }
                    },
                }
            };
            states.push(state);
        }
        states
    }

    /// True when the grand final is decided and won by the winners-bracket champion (its first
    /// slot), so the reset is not played.
    fn reset_not_needed(&self, states: &[State]) -> bool {
        let Some(gf) = self
            .matches
            .iter()
            .position(|m| m.stage == Stage::GrandFinal)
        else {
            return false;
        };
        let wb_champion = match &self.matches[gf].slots[0] {
            Source::WinnerOf(id) => self.index(id).map(|i| states[i]),
            _ => None,
        };
        match (states[gf], wb_champion) {
            (
                State::Decided { winner, .. },
                Some(State::Decided {
                    winner: champion, ..
                }),
            ) => winner == champion,
            _ => false,
        }
    }

    fn status_of(&self, state: State) -> MatchStatus {
        let name = |slot: Slot| match slot {
            Slot::Team(t) => Some(self.teams[t].clone()),
            _ => None,
        };
        match state {
            State::Waiting => MatchStatus::Waiting,
            State::Ready(a, b) => MatchStatus::Ready {
                teams: [self.teams[a].clone(), self.teams[b].clone()],
            },
            State::Decided {
                winner,
                loser,
                played: true,
            } => MatchStatus::Played {
                winner: name(winner).unwrap_or_default(),
                loser: name(loser).unwrap_or_default(),
            },
            State::Decided { winner, .. } => MatchStatus::Bye {
                advanced: name(winner),
            },
            State::NotNeeded => MatchStatus::NotNeeded,
        }
    }

    /// Where match `id` stands.
    pub fn status(&self, id: &MatchId) -> Result<MatchStatus, BracketError> {
        let i = self
            .index(id)
            .ok_or_else(|| BracketError::UnknownMatch(id.clone()))?;
        Ok(self.status_of(self.states()[i]))
    }

    /// Matches whose teams are known and that have no result yet, in the order to play them: by
    /// depth (how many matches lead up to it), then winners before losers bracket, then bracket
    /// order.
    pub fn next_matches(&self) -> Vec<NextMatch> {
        let states = self.states();
        let depth = self.depths();
        let mut ready: Vec<(u32, usize)> = states
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, State::Ready(..)))
            .map(|(i, _)| (depth[i], i))
            .collect();
        ready.sort();
        ready
            .into_iter()
            .map(|(_, i)| {
                let State::Ready(a, b) = states[i] else {
                    unreachable!("filtered on Ready")
                };
                NextMatch {
                    id: self.matches[i].id.clone(),
                    stage: self.matches[i].stage,
                    teams: [self.teams[a].clone(), self.teams[b].clone()],
                }
            })
            .collect()
    }

    /// How many matches lead up to each match (1 for a first-round match; a round robin's round).
    pub(crate) fn depths(&self) -> Vec<u32> {
        let mut depth: Vec<u32> = Vec::with_capacity(self.matches.len());
        for m in &self.matches {
            let d = match m.stage {
                Stage::RoundRobin(r) => r,
                _ => {
                    1 + m
                        .slots
                        .iter()
                        .filter_map(|s| match s {
                            Source::WinnerOf(id) | Source::LoserOf(id) => self.index(id),
                            _ => None,
                        })
                        .map(|i| depth[i])
                        .max()
                        .unwrap_or(0)
                }
            };
            depth.push(d);
        }
        depth
    }

    /// Records the result of match `id`. A void result leaves the match pending (its reason is
    /// kept) so that it is played again.
    pub fn record(&mut self, id: &MatchId, result: MatchResult) -> Result<(), BracketError> {
        let i = self
            .index(id)
            .ok_or_else(|| BracketError::UnknownMatch(id.clone()))?;
        if self.matches[i].result.is_some() {
            return Err(BracketError::AlreadyRecorded(id.clone()));
        }
        let (a, b) = match self.states()[i] {
            State::Ready(a, b) => (a, b),
            State::Waiting => return Err(BracketError::NotReady(id.clone())),
            State::NotNeeded => {
                return Err(BracketError::NothingToPlay(
                    id.clone(),
                    "the winners-bracket champion won the grand final",
                ));
            }
            State::Decided { .. } => {
                return Err(BracketError::NothingToPlay(
                    id.clone(),
                    "a bye advanced the other team",
                ));
            }
        };
        let expected = [self.teams[a].clone(), self.teams[b].clone()];
        let got: BTreeSet<&str> = result.scores.iter().map(|s| s.team.as_str()).collect();
        let want: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
        if got != want || result.scores.len() != 2 {
            return Err(BracketError::WrongTeams {
                id: id.clone(),
                expected,
                got: result.scores.iter().map(|s| s.team.clone()).collect(),
            });
        }
        let m = &mut self.matches[i];
        match &result.outcome {
            Outcome::Void => m.voids.push(result.reason),
            Outcome::Won { winner } if !want.contains(winner.as_str()) => {
                return Err(BracketError::WrongWinner {
                    id: id.clone(),
                    winner: winner.clone(),
                });
            }
            Outcome::Won { .. } | Outcome::Draw => m.result = Some(result),
        }
        Ok(())
    }

    /// True when every match that will be played has a result.
    pub fn is_finished(&self) -> bool {
        self.states()
            .iter()
            .all(|s| matches!(s, State::Decided { .. } | State::NotNeeded))
    }

    /// The champion, once decided (a round robin whose top place is shared has none).
    pub fn champion(&self) -> Option<String> {
        self.standings().champion
    }

    /// The standings so far (final when [`is_finished`](Self::is_finished)).
    pub fn standings(&self) -> Standings {
        self.standings_from(&self.states())
    }

    fn standings_from(&self, states: &[State]) -> Standings {
        let n = self.teams.len();
        let mut rows: Vec<Standing> = self
            .teams
            .iter()
            .enumerate()
            .map(|(i, t)| Standing {
                place: 1,
                team: t.clone(),
                seed: i as u32 + 1,
                wins: 0,
                draws: 0,
                losses: 0,
                points: 0,
                head_to_head: 0,
                total_users: 0,
                eliminated_in: None,
            })
            .collect();
        let finished = states
            .iter()
            .all(|s| matches!(s, State::Decided { .. } | State::NotNeeded));
        let depth = self.depths();
        // Matches each team came out of as the loser (a draw's worse seed included): one knocks a
        // team out of single elimination, two out of double.
        let lives = if self.format == Format::Double { 2 } else { 1 };
        let mut knocks = vec![0u32; n];
        let mut out_at: Vec<Option<u32>> = vec![None; n];
        // Round-robin points each team took off each opponent, for head to head.
        let mut taken: BTreeMap<(usize, usize), u32> = BTreeMap::new();
        for (i, (m, s)) in self.matches.iter().zip(states).enumerate() {
            let (
                State::Decided {
                    winner: Slot::Team(w),
                    loser: Slot::Team(l),
                    played: true,
                },
                Some(r),
            ) = (*s, &m.result)
            else {
                continue;
            };
            for t in [w, l] {
                rows[t].total_users += u64::from(r.users_of(&self.teams[t]).unwrap_or(0));
            }
            if r.outcome == Outcome::Draw {
                for (t, o) in [(w, l), (l, w)] {
                    rows[t].draws += 1;
                    rows[t].points += 1;
                    *taken.entry((t, o)).or_default() += 1;
                }
            } else {
                rows[w].wins += 1;
                rows[w].points += 2;
                rows[l].losses += 1;
                *taken.entry((w, l)).or_default() += 2;
            }
            knocks[l] += 1;
            if self.format != Format::RoundRobin && knocks[l] == lives {
                out_at[l] = Some(depth[i]);
                rows[l].eliminated_in = Some(m.id.clone());
            }
        }
        let champion = if self.format == Format::RoundRobin {
            let points: Vec<u32> = rows.iter().map(|r| r.points).collect();
            for (&(t, o), &p) in &taken {
                if points[t] == points[o] {
                    rows[t].head_to_head += p;
                }
            }
            let keys: Vec<_> = rows
                .iter()
                .map(|r| (r.points, r.head_to_head, r.total_users))
                .collect();
            for (i, r) in rows.iter_mut().enumerate() {
                r.place = 1 + keys.iter().filter(|k| **k > keys[i]).count() as u32;
            }
            let firsts: Vec<&Standing> = rows.iter().filter(|r| r.place == 1).collect();
            match firsts.as_slice() {
                [one] if finished => Some(one.team.clone()),
                _ => None,
            }
        } else {
            for r in &mut rows {
                r.points = 0;
            }
            let champion = match self.elimination_champion(states) {
                Slot::Team(t) => Some(t),
                _ => None,
            };
            // Progress: eliminated teams by the depth they went out at; teams still in above
            // them; the champion above everyone.
            let progress: Vec<u32> = (0..n)
                .map(|t| match out_at[t] {
                    Some(d) => d,
                    None if champion == Some(t) => u32::MAX,
                    None => u32::MAX - 1,
                })
                .collect();
            for (t, r) in rows.iter_mut().enumerate() {
                r.place = 1 + progress.iter().filter(|p| **p > progress[t]).count() as u32;
            }
            champion.map(|t| self.teams[t].clone())
        };
        rows.sort_by_key(|r| (r.place, r.seed));
        Standings {
            finished,
            champion,
            rows,
        }
    }

    /// The winner of the last match that is played (the final, the grand final or its reset).
    fn elimination_champion(&self, states: &[State]) -> Slot {
        match states {
            [] => Slot::Team(0),
            [.., before, State::NotNeeded] => winner_slot(Some(before)),
            [.., last] => winner_slot(Some(last)),
        }
    }
}

fn winner_slot(state: Option<&State>) -> Slot {
    match state {
        Some(State::Decided { winner, .. }) => *winner,
        _ => Slot::Pending,
    }
}

/// Seed numbers in bracket order for `size` slots (a power of two): `[1, 8, 4, 5, 2, 7, 3, 6]` for
/// 8, so that the top two seeds can only meet in the final and every first-round pair adds up to
/// `size + 1`.
fn bracket_order(size: u32) -> Vec<u32> {
    let mut order = vec![1];
    while (order.len() as u32) < size {
        let next = order.len() as u32 * 2 + 1;
        order = order.iter().flat_map(|&s| [s, next - s]).collect();
    }
    order
}

fn id(prefix: &str, round: u32, n: usize) -> MatchId {
    MatchId(format!("{prefix}{round}-{}", n + 1))
}

/// A single-elimination tree for `n` teams (a winners bracket too). The last match is the final.
fn elimination(n: u32, prefix: &str, stage: fn(u32) -> Stage) -> Vec<Match> {
    let size = n.next_power_of_two();
    let mut matches = Vec::new();
    if size < 2 {
        return matches;
    }
    let order = bracket_order(size);
    let seed = |s: u32| if s <= n { Source::Seed(s) } else { Source::Bye };
    let mut prev: Vec<MatchId> = Vec::new();
    for (j, pair) in order.chunks(2).enumerate() {
        let m = new_match(id(prefix, 1, j), stage(1), seed(pair[0]), seed(pair[1]));
        prev.push(m.id.clone());
        matches.push(m);
    }
    let mut round = 1;
    while prev.len() > 1 {
        round += 1;
        let mut next = Vec::new();
        for (j, pair) in prev.chunks(2).enumerate() {
            let m = new_match(
                id(prefix, round, j),
                stage(round),
                Source::WinnerOf(pair[0].clone()),
                Source::WinnerOf(pair[1].clone()),
            );
            next.push(m.id.clone());
            matches.push(m);
        }
        prev = next;
    }
    matches
}

fn new_match(id: MatchId, stage: Stage, a: Source, b: Source) -> Match {
    Match {
        id,
        stage,
        slots: [a, b],
        result: None,
        voids: Vec::new(),
    }
}

/// Double elimination: winners bracket, losers bracket, grand final and its reset.
fn double(n: u32) -> Vec<Match> {
    let mut matches = elimination(n, "W", Stage::Winners);
    if matches.is_empty() {
        return matches;
    }
    // Winners-bracket match ids by round.
    let mut wb: Vec<Vec<MatchId>> = Vec::new();
    for m in &matches {
        let Stage::Winners(r) = m.stage else {
            continue;
        };
        if wb.len() < r as usize {
            wb.push(Vec::new());
        }
        wb[r as usize - 1].push(m.id.clone());
    }
    let rounds = wb.len();
    let loser = |id: &MatchId| Source::LoserOf(id.clone());
    let mut lb_round = 0;
    let mut push_round = |matches: &mut Vec<Match>, pairs: Vec<(Source, Source)>| {
        lb_round += 1;
        let ids: Vec<MatchId> = pairs
            .into_iter()
            .enumerate()
            .map(|(j, (a, b))| {
                let m = new_match(id("L", lb_round, j), Stage::Losers(lb_round), a, b);
                let id = m.id.clone();
                matches.push(m);
                id
            })
            .collect();
        ids
    };
    // The losers-bracket champion's source.
    let lb_champion = if rounds == 1 {
        loser(&wb[0][0])
    } else {
        // Round 1: the first round's losers, paired.
        let mut survivors = push_round(
            &mut matches,
            wb[0]
                .chunks(2)
                .map(|p| (loser(&p[0]), loser(&p[1])))
                .collect(),
        );
        for (w, drop_ins) in wb.iter().enumerate().skip(1) {
            // Drop-in round: survivors meet this round's winners-bracket losers, in reverse order
            // every other round so that teams that just met do not meet again at once.
            let reverse = w % 2 == 1;
            let pairs = survivors
                .iter()
                .enumerate()
                .map(|(j, s)| {
                    let d = if reverse {
                        &drop_ins[drop_ins.len() - 1 - j]
                    } else {
                        &drop_ins[j]
                    };
                    (Source::WinnerOf(s.clone()), loser(d))
                })
                .collect();
            survivors = push_round(&mut matches, pairs);
            if survivors.len() > 1 {
                let pairs = survivors
                    .chunks(2)
                    .map(|p| {
                        (
                            Source::WinnerOf(p[0].clone()),
                            Source::WinnerOf(p[1].clone()),
                        )
                    })
                    .collect();
                survivors = push_round(&mut matches, pairs);
            }
        }
        Source::WinnerOf(survivors[0].clone())
    };
    let wb_final = wb[rounds - 1][0].clone();
    let gf = MatchId("GF1".into());
    matches.push(new_match(
        gf.clone(),
        Stage::GrandFinal,
        Source::WinnerOf(wb_final),
        lb_champion,
    ));
    // The reset: the grand final's teams again, listed as its winner and loser so that both slots
    // resolve from it; played only when the losers-bracket champion won the first.
    matches.push(new_match(
        MatchId("GF2".into()),
        Stage::Reset,
        Source::WinnerOf(gf.clone()),
        Source::LoserOf(gf),
    ));
    matches
}

/// Round robin by the circle method: seed 1 stays put, the others rotate; with an odd count a bye
/// takes the last place and its partner sits the round out.
fn round_robin(n: u32) -> Vec<Match> {
    let mut ring: Vec<Option<u32>> = (1..=n).map(Some).collect();
    if n % 2 == 1 {
        ring.push(None);
    }
    let size = ring.len();
    let mut matches = Vec::new();
    for round in 1..size as u32 {
        let mut j = 0;
        for i in 0..size / 2 {
            if let (Some(a), Some(b)) = (ring[i], ring[size - 1 - i]) {
                let (a, b) = (a.min(b), a.max(b));
                matches.push(new_match(
                    id("RR", round, j),
                    Stage::RoundRobin(round),
                    Source::Seed(a),
                    Source::Seed(b),
                ));
                j += 1;
            }
        }
        ring[1..].rotate_right(1);
    }
    matches
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

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

    fn with(b: &Bracket, id: &str, outcome: Outcome) -> MatchResult {
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

    fn play(b: &mut Bracket, id: &str, winner: &str) {
        let r = won(b, id, winner);
        b.record(&id.into(), r).unwrap();
    }

    fn next(b: &Bracket) -> Vec<(String, [String; 2])> {
        b.next_matches()
            .into_iter()
            .map(|m| (m.id.0, m.teams))
            .collect()
    }

    fn pair(a: &str, b: &str) -> [String; 2] {
        [a.to_string(), b.to_string()]
    }

    fn places(b: &Bracket) -> Vec<(u32, String)> {
        b.standings()
            .rows
            .into_iter()
            .map(|r| (r.place, r.team))
            .collect()
    }

    fn place_list(v: &[(u32, &str)]) -> Vec<(u32, String)> {
        v.iter().map(|(p, t)| (*p, t.to_string())).collect()
    }

    #[test]
    fn seeds_are_placed_so_the_top_two_meet_last() {
        assert_eq!(bracket_order(2), vec![1, 2]);
        assert_eq!(bracket_order(4), vec![1, 4, 2, 3]);
        assert_eq!(bracket_order(8), vec![1, 8, 4, 5, 2, 7, 3, 6]);
        for size in [2, 4, 8, 16, 32] {
            let order = bracket_order(size);
            assert!(order.chunks(2).all(|p| p[0] + p[1] == size + 1));
            // 1 in the first half, 2 in the second.
            let half = size as usize / 2;
            assert!(order[..half].contains(&1) && order[half..].contains(&2));
        }
    }

    #[test]
    fn single_elimination_of_four() {
        let mut b = Bracket::new(Format::Single, names(4)).unwrap();
        assert_eq!(
            next(&b),
            vec![
                ("R1-1".into(), pair("alpha", "delta")),
                ("R1-2".into(), pair("bravo", "charlie")),
            ]
        );
        assert_eq!(b.status(&"R2-1".into()).unwrap(), MatchStatus::Waiting);
        play(&mut b, "R1-1", "alpha");
        play(&mut b, "R1-2", "charlie");
        assert!(!b.is_finished());
        assert_eq!(next(&b), vec![("R2-1".into(), pair("alpha", "charlie"))]);
        play(&mut b, "R2-1", "charlie");
        assert!(b.is_finished());
        assert_eq!(b.champion().as_deref(), Some("charlie"));
        assert!(b.next_matches().is_empty());
        assert_eq!(
            places(&b),
            place_list(&[(1, "charlie"), (2, "alpha"), (3, "bravo"), (3, "delta")])
        );
        let s = b.standings();
        assert_eq!(s.rows[0].wins, 2);
        assert_eq!(s.rows[1].eliminated_in, Some("R2-1".into()));
    }

    #[test]
    fn top_seeds_get_the_byes_and_advance_without_a_match() {
        let mut b = Bracket::new(Format::Single, names(6)).unwrap();
        // 8 slots: 1 v bye, 4 v 5, 2 v bye, 3 v 6.
        assert_eq!(
            b.status(&"R1-1".into()).unwrap(),
            MatchStatus::Bye {
                advanced: Some("alpha".into())
            }
        );
        assert_eq!(
            next(&b),
            vec![
                ("R1-2".into(), pair("delta", "echo")),
                ("R1-4".into(), pair("charlie", "foxtrot")),
            ]
        );
        let err = b.record(&"R1-1".into(), won(&b, "R1-2", "delta"));
        assert!(
            matches!(err, Err(BracketError::NothingToPlay(..))),
            "{err:?}"
        );
        play(&mut b, "R1-2", "echo");
        // First-round matches before second-round ones.
        assert_eq!(
            next(&b),
            vec![
                ("R1-4".into(), pair("charlie", "foxtrot")),
                ("R2-1".into(), pair("alpha", "echo")),
            ]
        );
        play(&mut b, "R1-4", "charlie");
        play(&mut b, "R2-1", "alpha");
        play(&mut b, "R2-2", "bravo");
        play(&mut b, "R3-1", "alpha");
        assert!(b.is_finished());
        assert_eq!(
            places(&b),
            place_list(&[
                (1, "alpha"),
                (2, "bravo"),
                (3, "charlie"),
                (3, "echo"),
                (5, "delta"),
                (5, "foxtrot"),
            ])
        );
        assert_eq!(
            b.matches().iter().filter(|m| m.result.is_some()).count(),
            5,
            "n - 1 matches played"
        );
    }

    #[test]
    fn record_validates_match_teams_and_state() {
        let mut b = Bracket::new(Format::Single, names(4)).unwrap();
        let r = won(&b, "R1-1", "alpha");
        assert_eq!(
            b.record(&"R9-9".into(), r.clone()),
            Err(BracketError::UnknownMatch("R9-9".into()))
        );
        assert_eq!(
            b.record(&"R2-1".into(), r.clone()),
            Err(BracketError::NotReady("R2-1".into()))
        );
        let other = won(&b, "R1-2", "bravo");
        match b.record(&"R1-1".into(), other) {
            Err(e @ BracketError::WrongTeams { .. }) => assert_eq!(
                e.to_string(),
                "match `R1-1` is alpha vs delta, but the result is for bravo, charlie"
            ),
            other => panic!("{other:?}"),
        }
        let mut bad = r.clone();
        bad.outcome = Outcome::Won {
            winner: "bravo".into(),
        };
        assert_eq!(
            b.record(&"R1-1".into(), bad),
            Err(BracketError::WrongWinner {
                id: "R1-1".into(),
                winner: "bravo".into()
            })
        );
        b.record(&"R1-1".into(), r.clone()).unwrap();
        assert_eq!(
            b.record(&"R1-1".into(), r),
            Err(BracketError::AlreadyRecorded("R1-1".into()))
        );
    }

    #[test]
    fn a_void_match_stays_pending_and_is_replayed() {
        let mut b = Bracket::new(Format::Single, names(2)).unwrap();
        let void = MatchResult {
            outcome: Outcome::Void,
            reason: "void: the load generator may have been the bottleneck".into(),
            ..won(&b, "R1-1", "alpha")
        };
        b.record(&"R1-1".into(), void.clone()).unwrap();
        b.record(&"R1-1".into(), void).unwrap();
        assert_eq!(next(&b), vec![("R1-1".into(), pair("alpha", "bravo"))]);
        assert_eq!(b.matches()[0].voids.len(), 2);
        assert!(b.matches()[0].result.is_none());
        assert!(!b.is_finished());
        play(&mut b, "R1-1", "bravo");
        assert_eq!(b.champion().as_deref(), Some("bravo"));
    }

    #[test]
    fn a_draw_advances_the_better_seed() {
        let mut b = Bracket::new(Format::Single, names(2)).unwrap();
        let r = with(&b, "R1-1", Outcome::Draw);
        b.record(&"R1-1".into(), r).unwrap();
        assert_eq!(b.champion().as_deref(), Some("alpha"));
        let s = b.standings();
        assert_eq!((s.rows[0].draws, s.rows[1].draws), (1, 1));
        assert_eq!(s.rows[1].eliminated_in, Some("R1-1".into()));
    }

    /// Plays a double-elimination bracket of four where bravo loses its first match and then wins
    /// everything; `reset_winner` takes the bracket reset.
    fn double_of_four(reset_winner: Option<&str>) -> Bracket {
        let mut b = Bracket::new(Format::Double, names(4)).unwrap();
        assert_eq!(
            next(&b),
            vec![
                ("W1-1".into(), pair("alpha", "delta")),
                ("W1-2".into(), pair("bravo", "charlie")),
            ]
        );
        play(&mut b, "W1-1", "alpha");
        play(&mut b, "W1-2", "charlie");
        assert_eq!(
            next(&b),
            vec![
                ("W2-1".into(), pair("alpha", "charlie")),
                ("L1-1".into(), pair("delta", "bravo")),
            ]
        );
        play(&mut b, "W2-1", "alpha");
        play(&mut b, "L1-1", "bravo");
        // Losers-bracket final: its survivor against the winners-bracket final's loser.
        assert_eq!(next(&b), vec![("L2-1".into(), pair("bravo", "charlie"))]);
        play(&mut b, "L2-1", "bravo");
        assert_eq!(next(&b), vec![("GF1".into(), pair("alpha", "bravo"))]);
        match reset_winner {
            None => play(&mut b, "GF1", "alpha"),
            Some(w) => {
                play(&mut b, "GF1", "bravo");
                assert!(!b.is_finished(), "both have lost once: the reset is played");
                assert_eq!(next(&b), vec![("GF2".into(), pair("bravo", "alpha"))]);
                play(&mut b, "GF2", w);
            }
        }
        b
    }

    #[test]
    fn double_elimination_without_reset() {
        let b = double_of_four(None);
        assert!(b.is_finished());
        assert_eq!(b.status(&"GF2".into()).unwrap(), MatchStatus::NotNeeded);
        assert_eq!(b.champion().as_deref(), Some("alpha"));
        assert_eq!(
            places(&b),
            place_list(&[(1, "alpha"), (2, "bravo"), (3, "charlie"), (4, "delta")])
        );
        let played = b.matches().iter().filter(|m| m.result.is_some()).count();
        assert_eq!(played, 2 * 4 - 2);
    }

    #[test]
    fn double_elimination_with_reset() {
        let b = double_of_four(Some("bravo"));
        assert!(b.is_finished());
        assert_eq!(b.champion().as_deref(), Some("bravo"));
        assert_eq!(
            places(&b),
            place_list(&[(1, "bravo"), (2, "alpha"), (3, "charlie"), (4, "delta")])
        );
        let s = b.standings();
        assert_eq!(s.rows[1].eliminated_in, Some("GF2".into()));
        assert_eq!((s.rows[0].wins, s.rows[0].losses), (4, 1));
        let b = double_of_four(Some("alpha"));
        assert_eq!(b.champion().as_deref(), Some("alpha"));
    }

    #[test]
    fn double_elimination_of_eight_places_by_losers_bracket_round() {
        // The better seed always wins.
        let mut b = Bracket::new(Format::Double, names(8)).unwrap();
        while let Some(m) = b.next_matches().into_iter().next() {
            let seed = |t: &String| b.teams().iter().position(|x| x == t).unwrap();
            let w = m.teams.iter().min_by_key(|t| seed(t)).unwrap().clone();
            play(&mut b, &m.id.0, &w);
        }
        let s = b.standings();
        let got: Vec<(u32, &str)> = s.rows.iter().map(|r| (r.place, r.team.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (1, "alpha"),
                (2, "bravo"),
                (3, "charlie"),
                (4, "delta"),
                (5, "echo"),
                (5, "foxtrot"),
                (7, "golf"),
                (7, "hotel"),
            ]
        );
        assert_eq!(
            b.matches().iter().filter(|m| m.result.is_some()).count(),
            14
        );
        // Losers-bracket rounds: 2, 2, 1, 1 matches.
        let per_round: Vec<usize> = (1..=4)
            .map(|r| {
                b.matches()
                    .iter()
                    .filter(|m| m.stage == Stage::Losers(r))
                    .count()
            })
            .collect();
        assert_eq!(per_round, vec![2, 2, 1, 1]);
        // The second round's drop-ins come in reverse order, so L2-1 does not pair W2-1's loser
        // with a team from its own half.
        let l21 = b.matches().iter().find(|m| m.id.0 == "L2-1").unwrap();
        assert_eq!(
            l21.slots,
            [
                Source::WinnerOf("L1-1".into()),
                Source::LoserOf("W2-2".into())
            ]
        );
    }

    #[test]
    fn double_elimination_byes_reach_the_losers_bracket() {
        // 3 teams: alpha has a bye, so the losers bracket's first match is a bye too.
        let mut b = Bracket::new(Format::Double, names(3)).unwrap();
        assert_eq!(next(&b), vec![("W1-2".into(), pair("bravo", "charlie"))]);
        play(&mut b, "W1-2", "bravo");
        assert_eq!(
            b.status(&"L1-1".into()).unwrap(),
            MatchStatus::Bye {
                advanced: Some("charlie".into())
            }
        );
        assert_eq!(next(&b), vec![("W2-1".into(), pair("alpha", "bravo"))]);
        play(&mut b, "W2-1", "alpha");
        assert_eq!(next(&b), vec![("L2-1".into(), pair("charlie", "bravo"))]);
        play(&mut b, "L2-1", "charlie");
        play(&mut b, "GF1", "alpha");
        assert!(b.is_finished());
        assert_eq!(
            places(&b),
            place_list(&[(1, "alpha"), (2, "charlie"), (3, "bravo")])
        );
    }

    #[test]
    fn double_elimination_of_two_is_a_rematch_final() {
        let mut b = Bracket::new(Format::Double, names(2)).unwrap();
        play(&mut b, "W1-1", "bravo");
        assert_eq!(next(&b), vec![("GF1".into(), pair("bravo", "alpha"))]);
        play(&mut b, "GF1", "alpha");
        play(&mut b, "GF2", "alpha");
        assert_eq!(b.champion().as_deref(), Some("alpha"));
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
    fn round_robin_schedules_everyone_once_per_round() {
        for n in 2..=9 {
            let b = Bracket::new(Format::RoundRobin, names(n)).unwrap();
            assert_eq!(b.matches().len(), n * (n - 1) / 2, "{n} teams");
            let mut pairs = BTreeSet::new();
            let mut per_round: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
            for m in b.matches() {
                let [Source::Seed(a), Source::Seed(c)] = m.slots.clone() else {
                    panic!("round robin slots are seeds");
                };
                assert!(pairs.insert((a, c)), "{a} v {c} twice");
                let Stage::RoundRobin(r) = m.stage else {
                    panic!()
                };
                let teams = per_round.entry(r).or_default();
                assert!(!teams.contains(&a) && !teams.contains(&c), "round {r}");
                teams.extend([a, c]);
            }
            let rounds = if n % 2 == 0 { n - 1 } else { n };
            assert_eq!(per_round.len(), rounds);
            // All matches are ready from the start, in round order.
            let ids: Vec<String> = b.next_matches().into_iter().map(|m| m.id.0).collect();
            assert_eq!(ids.len(), b.matches().len());
            assert_eq!(ids[0], "RR1-1");
        }
    }

    #[test]
    fn round_robin_standings_points_then_head_to_head_then_users() {
        // 4 teams. alpha beats everyone. bravo, charlie and delta each beat one other
        // (bravo > charlie > delta > bravo) and have 2 points each, 2 of them head to head: total
        // users decides, and delta's wins were big ones.
        let mut b = Bracket::new(Format::RoundRobin, names(4)).unwrap();
        let results = [
            ("alpha", "bravo", "alpha"),
            ("alpha", "charlie", "alpha"),
            ("alpha", "delta", "alpha"),
            ("bravo", "charlie", "bravo"),
            ("charlie", "delta", "charlie"),
            ("bravo", "delta", "delta"),
        ];
        for m in b.next_matches() {
            let (_, _, w) = results
                .iter()
                .find(|(x, y, _)| m.teams == pair(x, y) || m.teams == pair(y, x))
                .unwrap();
            let mut r = won(&b, &m.id.0, w);
            // delta's wins were big ones.
            for s in &mut r.scores {
                if s.team == "delta" {
                    s.sustained_users += 500;
                }
            }
            b.record(&m.id, r).unwrap();
        }
        assert!(b.is_finished());
        let s = b.standings();
        let rows: Vec<(u32, &str, u32, u32)> = s
            .rows
            .iter()
            .map(|r| (r.place, r.team.as_str(), r.points, r.head_to_head))
            .collect();
        assert_eq!(
            rows,
            vec![
                (1, "alpha", 6, 0),
                (2, "delta", 2, 2),
                (3, "bravo", 2, 2),
                (3, "charlie", 2, 2),
            ]
        );
        assert_eq!(s.champion.as_deref(), Some("alpha"));
    }

    #[test]
    fn round_robin_head_to_head_separates_teams_level_on_points() {
        // 5 teams; alpha beats everyone. bravo beats charlie and delta, loses to echo: 4 points.
        // charlie beats delta and echo: 4 points, and sustains far more users than anyone. delta
        // beats echo: 2 points; echo 2 points. Head to head puts bravo above charlie and delta above
        // echo, whatever the users.
        let beats = [
            ("bravo", "charlie"),
            ("bravo", "delta"),
            ("echo", "bravo"),
            ("charlie", "delta"),
            ("charlie", "echo"),
            ("delta", "echo"),
        ];
        let mut b = Bracket::new(Format::RoundRobin, names(5)).unwrap();
        for m in b.next_matches() {
            let t = &m.teams;
            let w = if t.contains(&"alpha".to_string()) {
                "alpha"
            } else {
                beats
                    .iter()
                    .find(|(w, l)| t.contains(&w.to_string()) && t.contains(&l.to_string()))
                    .unwrap()
                    .0
            };
            let mut r = won(&b, &m.id.0, w);
            for s in &mut r.scores {
                if s.team == "charlie" {
                    s.sustained_users += 5000;
                }
            }
            b.record(&m.id, r).unwrap();
        }
        let rows: Vec<(u32, String, u32, u32)> = b
            .standings()
            .rows
            .into_iter()
            .map(|r| (r.place, r.team, r.points, r.head_to_head))
            .collect();
        let expect = |p, t: &str, pts, h2h| (p, t.to_string(), pts, h2h);
        assert_eq!(
            rows,
            vec![
                expect(1, "alpha", 8, 0),
                expect(2, "bravo", 4, 2),
                expect(3, "charlie", 4, 0),
                expect(4, "delta", 2, 2),
                expect(5, "echo", 2, 0),
            ]
        );
    }

    #[test]
    fn round_robin_draws_are_a_point_each() {
        let mut b = Bracket::new(Format::RoundRobin, names(3)).unwrap();
        for m in b.next_matches() {
            let r = if m.teams.contains(&"alpha".to_string()) {
                with(&b, &m.id.0, Outcome::Draw)
            } else {
                won(&b, &m.id.0, "bravo")
            };
            b.record(&m.id, r).unwrap();
        }
        let rows: Vec<(u32, String, u32, u32)> = b
            .standings()
            .rows
            .into_iter()
            .map(|r| (r.place, r.team, r.points, r.draws))
            .collect();
        assert_eq!(
            rows,
            vec![
                (1, "bravo".to_string(), 3, 1),
                (2, "alpha".to_string(), 2, 2),
                (3, "charlie".to_string(), 1, 1)
            ]
        );
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
    fn seeding_from_a_teams_file() {
        let e = |name: &str, seed: Option<u32>| Entrant {
            name: name.into(),
            seed,
        };
        assert_eq!(
            seed_order(&[e("x", None), e("y", Some(2)), e("z", None), e("w", Some(1))]).unwrap(),
            vec!["w", "y", "x", "z"]
        );
        assert_eq!(
            seed_order(&[e("x", None), e("y", None)]).unwrap(),
            vec!["x", "y"]
        );
        assert_eq!(
            seed_order(&[e("x", Some(1)), e("y", Some(1))]),
            Err(BracketError::DuplicateSeed {
                seed: 1,
                first: "x".into(),
                second: "y".into()
            })
        );
    }

    #[test]
    fn formats_parse_by_name() {
        for f in [Format::Single, Format::Double, Format::RoundRobin] {
            assert_eq!(f.name().parse::<Format>(), Ok(f));
            assert_eq!(
                serde_json::to_string(&f).unwrap(),
                format!("\"{}\"", f.name())
            );
        }
        assert_eq!(
            "swiss".parse::<Format>().unwrap_err().to_string(),
            "unknown bracket format `swiss`: use single, double or round-robin"
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
