//! What a bracket view shows of a [`Bracket`]: rounds of matches with their teams and
//! results, the match in play, and the standings, as a [`BracketView`]. The scoreboard draws what it
//! is given; this is where the bracket's state is put into its words.

use super::bracket::{BracketView, MatchState, MatchView, RoundView, StandingRow};
use crate::score::bracket::{Source, Stage};
use crate::score::words::int;
use crate::score::{Bracket, MatchId, MatchStatus, Outcome};

/// The view of `bracket` with `playing` marked as the match in play.
pub fn bracket_view(title: &str, bracket: &Bracket, playing: Option<&MatchId>) -> BracketView {
    let matches = bracket.matches();
    let status = |id: &MatchId| bracket.status(id).unwrap_or(MatchStatus::Waiting);
    let statuses: Vec<MatchStatus> = matches.iter().map(|m| status(&m.id)).collect();
    let status_of = |id: &MatchId| {
        matches
            .iter()
            .position(|m| &m.id == id)
            .map(|i| statuses[i].clone())
    };
    let team_of = |src: &Source| -> Option<String> {
        match src {
            Source::Seed(s) => bracket.teams().get(*s as usize - 1).cloned(),
            Source::Bye => None,
            Source::WinnerOf(id) => match status_of(id)? {
                MatchStatus::Played { winner, .. } => Some(winner),
                MatchStatus::Bye { advanced } => advanced,
                _ => None,
            },
            Source::LoserOf(id) => match status_of(id)? {
                MatchStatus::Played { loser, .. } => Some(loser),
                _ => None,
            },
        }
    };
    let last_round = matches
        .iter()
        .filter_map(|m| match m.stage {
            Stage::Round(r) => Some(r),
            _ => None,
        })
        .max()
        .unwrap_or(0);

    let mut rounds: Vec<(Stage, RoundView)> = Vec::new();
    for (m, st) in matches.iter().zip(&statuses) {
        let teams: Vec<Option<String>> = m.slots.iter().map(team_of).collect();
        let index_of = |name: &str| teams.iter().position(|t| t.as_deref() == Some(name));
        let state = if playing == Some(&m.id) {
            MatchState::Playing
        } else {
            match st {
                MatchStatus::Played { winner, .. } => {
                    let result = m.result.as_ref();
                    let draw = result.is_some_and(|r| r.outcome == Outcome::Draw);
                    let scores: Vec<String> = teams
                        .iter()
                        .map(|t| {
                            t.as_deref()
                                .and_then(|t| result.and_then(|r| r.users_of(t)))
                                .map(|u| int(u64::from(u)))
                                .unwrap_or_default()
                        })
                        .collect();
                    MatchState::Finished {
                        winner: if draw { None } else { index_of(winner) },
                        scores,
                        note: result.map(note).unwrap_or_default(),
                    }
                }
                MatchStatus::Bye { advanced } => MatchState::Finished {
                    winner: advanced.as_deref().and_then(index_of),
                    scores: Vec::new(),
                    note: "bye".into(),
                },
                MatchStatus::NotNeeded => MatchState::Finished {
                    winner: None,
                    scores: Vec::new(),
                    note: "not needed".into(),
                },
                MatchStatus::Waiting | MatchStatus::Ready { .. } => MatchState::Waiting,
            }
        };
        let view = MatchView { teams, state };
        match rounds.iter_mut().find(|(s, _)| *s == m.stage) {
            Some((_, round)) => round.matches.push(view),
            None => rounds.push((
                m.stage,
                RoundView {
                    name: round_name(m.stage, last_round),
                    matches: vec![view],
                },
            )),
        }
    }

    let standings = bracket.standings();
    let best = |team: &str| {
        matches
            .iter()
            .filter_map(|m| m.result.as_ref()?.users_of(team))
            .max()
    };
    let rows = standings
        .rows
        .iter()
        .map(|r| StandingRow {
            rank: r.place,
            team: r.team.clone(),
            played: r.wins + r.draws + r.losses,
            won: r.wins,
            lost: r.losses,
            best: best(&r.team)
                .map(|u| format!("{} users", int(u64::from(u))))
                .unwrap_or_default(),
            alive: !standings.finished && r.eliminated_in.is_none(),
        })
        .collect();
    BracketView {
        title: title.to_string(),
        rounds: rounds.into_iter().map(|(_, r)| r).collect(),
        tree: matches.iter().all(|m| matches!(m.stage, Stage::Round(_))),
        standings: rows,
        finished: standings.finished,
    }
}

/// `Final`, `Semi-finals`, `Quarter-finals`, `Round 1`, `Winners 2`, `Losers 1`, `Grand final`, ….
fn round_name(stage: Stage, last_round: u32) -> String {
    match stage {
        Stage::Round(r) if r == last_round => "Final".into(),
        Stage::Round(r) if r + 1 == last_round => "Semi-finals".into(),
        Stage::Round(r) if r + 2 == last_round => "Quarter-finals".into(),
        Stage::Round(r) | Stage::RoundRobin(r) => format!("Round {r}"),
        Stage::Winners(r) => format!("Winners {r}"),
        Stage::Losers(r) => format!("Losers {r}"),
        Stage::GrandFinal => "Grand final".into(),
        Stage::Reset => "Reset".into(),
    }
}

/// A few words on a result: `held 1,150 more`, `tie-break`, `draw`, `forfeit`.
fn note(result: &crate::score::MatchResult) -> String {
    if result.outcome == Outcome::Draw {
        return "draw".into();
    }
    if result.reason.contains(" by forfeit") {
        return "forfeit".into();
    }
    let users: Vec<u32> = result.scores.iter().map(|s| s.sustained_users).collect();
    match users.as_slice() {
        [a, b] if a != b => format!("held {} more", int(u64::from(a.abs_diff(*b)))),
        _ => "tie-break".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::{Format, MatchResult, MatchScore};

    fn won(b: &mut Bracket, id: &str, winner: &str, loser: &str, wu: u32, lu: u32) {
        b.record(
            &id.into(),
            MatchResult {
                outcome: Outcome::Won {
                    winner: winner.into(),
                },
                scores: vec![
                    MatchScore {
                        team: winner.into(),
                        sustained_users: wu,
                    },
                    MatchScore {
                        team: loser.into(),
                        sustained_users: lu,
                    },
                ],
                reason: format!("{winner} wins"),
            },
        )
        .unwrap();
    }

    #[test]
    fn a_single_elimination_bracket_in_play() {
        let teams = ["a", "b", "c"].map(String::from).to_vec();
        let mut b = Bracket::new(Format::Single, teams).unwrap();
        // 3 teams: seed 1 has a bye, 2 v 3 plays.
        won(&mut b, "R1-2", "c", "b", 40, 20);
        let v = bracket_view("Cup", &b, Some(&"R2-1".into()));
        assert_eq!(v.title, "Cup");
        assert!(v.tree, "single elimination is drawn as a tree");
        let names: Vec<&str> = v.rounds.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["Semi-finals", "Final"]);
        let bye = &v.rounds[0].matches[0];
        assert_eq!(bye.teams, [Some("a".to_string()), None]);
        assert!(
            matches!(&bye.state, MatchState::Finished { winner: Some(0), note, .. } if note == "bye")
        );
        let played = &v.rounds[0].matches[1];
        assert_eq!(played.teams, [Some("b".to_string()), Some("c".to_string())]);
        assert_eq!(
            played.state,
            MatchState::Finished {
                winner: Some(1),
                scores: vec!["20".into(), "40".into()],
                note: "held 20 more".into(),
            }
        );
        let fin = &v.rounds[1].matches[0];
        assert_eq!(fin.teams, [Some("a".to_string()), Some("c".to_string())]);
        assert_eq!(fin.state, MatchState::Playing);
        assert_eq!(v.playing(), Some((1, 0)));
        assert!(!v.finished);
        let b_row = v.standings.iter().find(|r| r.team == "b").unwrap();
        assert_eq!((b_row.played, b_row.lost, b_row.alive), (1, 1, false));
        assert_eq!(b_row.best, "20 users");

        won(&mut b, "R2-1", "a", "c", 60, 40);
        let v = bracket_view("Cup", &b, None);
        assert!(v.finished);
        assert_eq!(v.standings[0].team, "a");
        assert!(v.standings.iter().all(|r| !r.alive));
    }

    #[test]
    fn double_elimination_rounds_are_named_by_part() {
        let teams = ["a", "b", "c", "d"].map(String::from).to_vec();
        let b = Bracket::new(Format::Double, teams).unwrap();
        let v = bracket_view("", &b, None);
        let names: Vec<&str> = v.rounds.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Winners 1",
                "Winners 2",
                "Losers 1",
                "Losers 2",
                "Grand final",
                "Reset"
            ]
        );
        assert!(!v.tree, "losers come from other rounds than the one before");
        let robin = Bracket::new(Format::RoundRobin, b.teams().to_vec()).unwrap();
        assert!(!bracket_view("", &robin, None).tree);
    }
}
