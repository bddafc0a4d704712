//! Double elimination: the winners bracket (`single`'s layout), the losers bracket fed by its
//! losers, the grand final and its reset. Lays out matches only; playing them is `state`'s.

use super::model::{Match, MatchId, Source, Stage};
use super::single::elimination;
use super::{match_id, new_match};

/// Double elimination: winners bracket, losers bracket, grand final and its reset.
///
/// How losers are routed: the first winners round's losers are paired among themselves (losers
/// round 1). After that, each later winners round sends its losers into a *drop-in* round, where
/// each meets one losers-bracket survivor; when more than one survivor is left, a pairing round
/// halves them before the next drop-in. The counts always match: each winners round has half the
/// matches of the one before, and the losers bracket halves its survivors between drop-ins. With
/// `r` winners rounds that is `2(r - 1)` losers rounds (8 teams: 2, 2, 1, 1 matches).
///
/// Byes need nothing special here: the loser of a bye match is `Empty` (see `state::Slot`), so a
/// losers-bracket match fed by one is a bye in turn.
pub(super) fn double(n: u32) -> Vec<Match> {
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
                let m = new_match(match_id("L", lb_round, j), Stage::Losers(lb_round), a, b);
                let id = m.id.clone();
                matches.push(m);
                id
            })
            .collect();
        ids
    };
    // The losers-bracket champion's source. With two teams there is no losers bracket: the first
    // match's loser goes straight to the grand final, a rematch.
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
            // every other round so that teams that just met do not meet again at once: a survivor
            // from the top half of the bracket meets a loser from the bottom half.
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
    // The grand final: the winners-bracket champion (unbeaten) in the first slot — the reset
    // depends on that slot — against the losers-bracket champion (one loss).
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

#[cfg(test)]
mod tests {
    use crate::score::bracket::tests::{names, next, pair, place_list, places, play};
    use crate::score::bracket::{Bracket, Format, MatchStatus, Source, Stage};

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
}
