//! The state machine: every match's state derived, in dependency order, from the results recorded
//! so far (waiting, ready, decided by a result or a bye, or a reset not needed); the matches to play
//! next; recording a result. Owns no layout (`single`, `double`, `round_robin`) and no ranking
//! (`standings`).

use std::collections::BTreeSet;

use super::Bracket;
use super::model::{
    BracketError, MatchId, MatchResult, MatchStatus, NextMatch, Outcome, Source, Stage,
};

/// A slot's team as far as results go so far. `Empty` is how byes travel: the loser of a match
/// with a bye is `Empty` too, so in double elimination a bye in the winners bracket becomes a bye
/// in the losers bracket, and the team facing it advances there without a match as well.
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
    /// A slot is still `Pending`.
    Waiting,
    /// Both teams known (slot order), no result yet.
    Ready(usize, usize),
    /// Played or walked over: winner and loser slots.
    Decided {
        winner: Slot,
        loser: Slot,
        played: bool,
    },
    /// The bracket reset, when the winners-bracket champion won the grand final.
    NotNeeded,
}

impl Bracket {
    /// Every match's state, computed in dependency order.
    ///
    /// States are derived, never stored: the bracket keeps only results, so a state cannot
    /// disagree with them, and replaying the journal's results rebuilds every state exactly.
    /// Matches are listed so that every source names an earlier match, so one pass suffices.
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
                            // Nothing follows the reset; an unplayed one sends nobody on.
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
                    // Two byes meet (the losers of two bye matches, in a losers bracket):
                    // nobody advances, and the match after it gets a bye in turn.
                    (Slot::Empty, Slot::Empty) => State::Decided {
                        winner: Slot::Empty,
                        loser: Slot::Empty,
                        played: false,
                    },
                    // A bye: the team advances without a match; its "loser" is `Empty`.
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
                                // A draw advances the better seed: replaying equal figures
                                // would draw again. `record` never keeps a void result; the
                                // arm is there to be exhaustive.
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
    /// slot), so the reset is not played: the losers-bracket champion now has its second loss. Had
    /// the losers-bracket champion won, both teams would have lost once, and the reset decides.
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

    /// The public view of a state: team names instead of indexes.
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
    /// Playing by depth keeps a bracket even: no team waits long while another plays match after
    /// match, and a losers-bracket match is played as soon as the round feeding it is.
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
        // The result must name exactly this match's teams: a result from another match (or a
        // journal from another bracket) is refused rather than advancing the wrong team.
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
            // A void match stays ready and is played again; its reasons are kept for the record.
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
}

#[cfg(test)]
mod tests {
    use crate::score::bracket::tests::{names, next, pair, play, with, won};
    use crate::score::bracket::{Bracket, BracketError, Format, MatchResult, Outcome};

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
}
