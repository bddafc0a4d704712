//! The bracket's vocabulary, as `bracket.json`, the journal and the views spell it: formats, match
//! names, where a slot's team comes from, results, statuses, standings rows and errors. Plain data
//! and its conversions; which match is ready and who advanced is `state`'s, how places are ranked
//! `standings`'s.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::score::verdict::MatchVerdict;

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

#[cfg(test)]
mod tests {
    use super::Format;

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
}
