//! Single elimination, and the winners bracket of double elimination: seeds placed so that the top
//! seeds meet as late as possible, byes for the top seeds when the team count is not a power of
//! two, each round's winners paired in order. Lays out matches only; playing them is `state`'s.

use super::model::{Match, MatchId, Source, Stage};
use super::{match_id, new_match};

/// Seed numbers in bracket order for `size` slots (a power of two): `[1, 8, 4, 5, 2, 7, 3, 6]` for
/// 8, so that the top two seeds can only meet in the final and every first-round pair adds up to
/// `size + 1`.
///
/// Built by doubling: each seed `s` of the order for half the slots becomes the pair
/// `(s, next - s)`, where `next` is one more than the new slot count. A seed keeps its half (and
/// quarter, …) of the bracket, so the strongest seeds are spread as far apart as the tree allows.
fn bracket_order(size: u32) -> Vec<u32> {
    let mut order = vec![1];
    while (order.len() as u32) < size {
        let next = order.len() as u32 * 2 + 1;
        order = order.iter().flat_map(|&s| [s, next - s]).collect();
    }
    order
}

/// A single-elimination tree for `n` teams (a winners bracket too). The last match is the final.
///
/// The tree has `n.next_power_of_two()` first-round slots; the seeds above `n` are byes. Because
/// seed `s` is paired with `size + 1 - s`, the byes (the highest numbers) face the top seeds, and
/// as there are fewer byes than first-round matches no two byes meet. One team needs no match.
pub(super) fn elimination(n: u32, prefix: &str, stage: fn(u32) -> Stage) -> Vec<Match> {
    let size = n.next_power_of_two();
    let mut matches = Vec::new();
    if size < 2 {
        return matches;
    }
    let order = bracket_order(size);
    let seed = |s: u32| if s <= n { Source::Seed(s) } else { Source::Bye };
    let mut prev: Vec<MatchId> = Vec::new();
    for (j, pair) in order.chunks(2).enumerate() {
        let m = new_match(
            match_id(prefix, 1, j),
            stage(1),
            seed(pair[0]),
            seed(pair[1]),
        );
        prev.push(m.id.clone());
        matches.push(m);
    }
    let mut round = 1;
    while prev.len() > 1 {
        round += 1;
        let mut next = Vec::new();
        for (j, pair) in prev.chunks(2).enumerate() {
            let m = new_match(
                match_id(prefix, round, j),
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

#[cfg(test)]
mod tests {
    use super::bracket_order;
    use crate::score::bracket::tests::{names, next, pair, place_list, places, play, won};
    use crate::score::bracket::{Bracket, BracketError, Format, MatchStatus};

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
}
