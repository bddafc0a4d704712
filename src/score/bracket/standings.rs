//! Standings: every team's wins, draws, losses and users from the played matches, then places —
//! by how far a team got in the elimination formats, by points (ranked in `round_robin`) in a round
//! robin — and the champion. Reads the states `state` derives; records nothing.

use std::collections::BTreeMap;

use super::Bracket;
use super::model::{Format, Outcome, Standing, Standings};
use super::round_robin;
use super::state::{Slot, State};

impl Bracket {
    /// The champion, once decided (a round robin whose top place is shared has none).
    pub fn champion(&self) -> Option<String> {
        self.standings().champion
    }

    /// The standings so far (final when [`is_finished`](Self::is_finished)).
    pub fn standings(&self) -> Standings {
        self.standings_from(&self.states())
    }

    /// Standings from states already derived. Rows are built in team order (index = seed − 1), so
    /// the rankers can index them by team, and sorted by place only at the end.
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
        // Only matches played between two teams count: a bye is neither a win nor a loss, and has
        // no users to add.
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
            // Points are a round-robin measure: elimination formats rank by how far a team went.
            let points = u32::from(self.format == Format::RoundRobin);
            if r.outcome == Outcome::Draw {
                for (t, o) in [(w, l), (l, w)] {
                    rows[t].draws += 1;
                    rows[t].points += points;
                    *taken.entry((t, o)).or_default() += points;
                }
            } else {
                rows[w].wins += 1;
                rows[w].points += 2 * points;
                rows[l].losses += 1;
                *taken.entry((w, l)).or_default() += 2 * points;
            }
            knocks[l] += 1;
            if self.format != Format::RoundRobin && knocks[l] == lives {
                out_at[l] = Some(depth[i]);
                rows[l].eliminated_in = Some(m.id.clone());
            }
        }
        let champion = if self.format == Format::RoundRobin {
            round_robin::rank(&mut rows, &taken, finished)
        } else {
            self.rank_elimination(&mut rows, &out_at, states)
        };
        rows.sort_by_key(|r| (r.place, r.seed));
        Standings {
            finished,
            champion,
            rows,
        }
    }

    /// Elimination places in `rows` (team order), and the champion once decided. Teams that went
    /// out at the same depth share a place: the two semi-final losers are both third.
    fn rank_elimination(
        &self,
        rows: &mut [Standing],
        out_at: &[Option<u32>],
        states: &[State],
    ) -> Option<String> {
        let champion = match self.elimination_champion(states) {
            Slot::Team(t) => Some(t),
            _ => None,
        };
        // Progress: eliminated teams by the depth they went out at; teams still in above
        // them; the champion above everyone.
        let progress: Vec<u32> = (0..rows.len())
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
    }

    /// The winner of the last match that is played (the final, the grand final or its reset).
    fn elimination_champion(&self, states: &[State]) -> Slot {
        match states {
            // A bracket of one team has no match: seed 1 is the champion without playing.
            [] => Slot::Team(0),
            // The reset was not needed: the grand final's winner, the winners-bracket champion.
            [.., before, State::NotNeeded] => winner_slot(before),
            [.., last] => winner_slot(last),
        }
    }
}

fn winner_slot(state: &State) -> Slot {
    match state {
        State::Decided { winner, .. } => *winner,
        _ => Slot::Pending,
    }
}
