//! Round robin: everyone meets everyone once, in rounds laid out by the circle method, and ranked by
//! points, head to head, then total users. Which matches are ready is `state`'s (all of them, from
//! the start); the tally of wins and draws is `standings`'s.

use std::collections::BTreeMap;

use super::model::{Match, Source, Stage, Standing};
use super::{match_id, new_match};

/// Round robin by the circle method: seed 1 stays put, the others rotate; with an odd count a bye
/// takes the last place and its partner sits the round out.
///
/// A round is a set of matches in which every team plays at most once: the teams sit on a ring,
/// the i-th from the start meets the i-th from the end, then everyone but seed 1 moves one place
/// on. After `size - 1` rotations every pair has faced each other exactly once. Rounds are what
/// `next_matches` orders by, so no team gets far ahead of the others in matches played.
pub(super) fn round_robin(n: u32) -> Vec<Match> {
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
                // The better seed in the first slot, as in the elimination formats.
                let (a, b) = (a.min(b), a.max(b));
                matches.push(new_match(
                    match_id("RR", round, j),
                    Stage::RoundRobin(round),
                    Source::Seed(a),
                    Source::Seed(b),
                ));
                j += 1;
            }
        }
        // Seed 1 (the ring's first place) is the pivot; rotating everyone else is what makes
        // each round's pairs new.
        ring[1..].rotate_right(1);
    }
    matches
}

/// Round-robin places: points, then head to head (points taken in the matches among the teams level
/// on points), then total sustained users; teams equal on all three share a place. Returns the
/// champion: the one team alone in first place once every match is played.
///
/// `rows` are in team order (index = seed − 1) with points, wins and users tallied; `taken[(t, o)]`
/// is the points team `t` took off opponent `o`. Head to head counts only the points taken off
/// teams that finished level on points, so it separates exactly the teams points could not; it is
/// pairwise, so three teams that beat each other in a circle stay level and users decide.
pub(super) fn rank(
    rows: &mut [Standing],
    taken: &BTreeMap<(usize, usize), u32>,
    finished: bool,
) -> Option<String> {
    let points: Vec<u32> = rows.iter().map(|r| r.points).collect();
    for (&(t, o), &p) in taken {
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
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use crate::score::bracket::tests::{names, pair, with, won};
    use crate::score::bracket::{Bracket, Format, Outcome, Source, Stage};

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
}
