//! Who is ahead right now: the live order of a match's teams, computed from their snapshots.
//!
//! The match view shows a leader while the match is played, long before any result is scored. The
//! official verdict is the scoring module's (`score::judge` over saved summaries); this live rule is
//! deliberately the competition's own in miniature ("the team that serves more users without problems
//! wins") so the leader on screen rarely disagrees with it. It is a [`Ranker`]: the match command can
//! swap in one that calls the real scoring over live figures without the views changing.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::metrics::snapshot::TeamSnapshot;

/// A team's place in the live order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// Index of the team in the snapshot.
    pub team: usize,
    /// 1-based rank; teams that tie on every key share a rank.
    pub rank: usize,
}

/// Orders a match's teams, best first. Every team appears exactly once.
pub type Ranker = Arc<dyn Fn(&[TeamSnapshot]) -> Vec<Place> + Send + Sync>;

/// The default [`Ranker`]: [`live_order`].
pub fn default_ranker() -> Ranker {
    Arc::new(live_order)
}

/// Users a team holds: connected VUs, capped at the VUs started without any failure (a failed VU
/// still holding a socket does not count). At the current level this is "users served without
/// problems", the competition's measure.
pub fn held(t: &TeamSnapshot) -> u64 {
    t.gauges.connected.min(t.passed())
}

/// The live rule, key by key (the first difference decides):
/// 1. more users [`held`] (connected without failure) at the current level;
/// 2. fewer failed VUs;
/// 3. more deliveries verified;
/// 4. lower delivery p99 over the last interval (a team with no deliveries in it ranks last here).
///
/// Teams equal on all four share a rank.
pub fn live_order(teams: &[TeamSnapshot]) -> Vec<Place> {
    let mut order: Vec<usize> = (0..teams.len()).collect();
    order.sort_by(|&a, &b| compare(&teams[a], &teams[b]));
    let mut places: Vec<Place> = Vec::with_capacity(order.len());
    for (i, &team) in order.iter().enumerate() {
        let rank = match places.last() {
            Some(prev) if compare(&teams[prev.team], &teams[team]) == Ordering::Equal => prev.rank,
            _ => i + 1,
        };
        places.push(Place { team, rank });
    }
    places
}

/// `Less` when `a` is ahead of `b`.
fn compare(a: &TeamSnapshot, b: &TeamSnapshot) -> Ordering {
    held(b)
        .cmp(&held(a))
        .then(a.gauges.failed.cmp(&b.gauges.failed))
        .then(b.delivered.cmp(&a.delivered))
        .then(recent_p99(a).total_cmp(&recent_p99(b)))
}

/// Delivery p99 of the last interval; infinite when nothing was delivered in it, so silence never
/// beats a measured latency.
fn recent_p99(t: &TeamSnapshot) -> f64 {
    if t.delivery.count == 0 {
        f64::INFINITY
    } else {
        t.delivery.p99_ms
    }
}

/// The single team in first place, if there is one: `None` with fewer than two teams, or when the
/// first place is shared.
pub fn leader(places: &[Place]) -> Option<usize> {
    match places {
        [first, second, ..] if first.rank < second.rank => Some(first.team),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::GaugeValues;
    use crate::metrics::snapshot::Percentiles;

    fn team(connected: u64, started: u64, failed: u64, delivered: u64, p99: f64) -> TeamSnapshot {
        TeamSnapshot {
            gauges: GaugeValues {
                started,
                active: started - failed,
                connected,
                failed,
                peak_connected: connected,
            },
            delivered,
            delivery: Percentiles {
                count: u64::from(p99 > 0.0),
                p50_ms: p99 / 2.0,
                p95_ms: p99,
                p99_ms: p99,
            },
            ..TeamSnapshot::default()
        }
    }

    fn teams_in_order(teams: &[TeamSnapshot]) -> Vec<(usize, usize)> {
        live_order(teams)
            .into_iter()
            .map(|p| (p.team, p.rank))
            .collect()
    }

    #[test]
    fn more_users_held_wins() {
        let teams = [team(90, 100, 10, 5, 10.0), team(99, 100, 1, 1, 90.0)];
        assert_eq!(teams_in_order(&teams), [(1, 1), (0, 2)]);
        assert_eq!(leader(&live_order(&teams)), Some(1));
    }

    #[test]
    fn a_failed_vu_holding_a_socket_is_not_held() {
        // Team 0 has 100 sockets open but 20 of its VUs failed: it holds 80.
        let teams = [team(100, 100, 20, 0, 0.0), team(85, 100, 0, 0, 0.0)];
        assert_eq!(held(&teams[0]), 80);
        assert_eq!(teams_in_order(&teams), [(1, 1), (0, 2)]);
    }

    #[test]
    fn ties_break_on_failures_then_deliveries_then_p99() {
        // Same users held; fewer failed VUs wins.
        let a = team(80, 100, 5, 0, 0.0);
        let b = team(80, 100, 3, 0, 0.0);
        assert_eq!(teams_in_order(&[a, b]), [(1, 1), (0, 2)]);
        // Same failures; more deliveries wins.
        let a = team(80, 100, 3, 500, 20.0);
        let b = team(80, 100, 3, 400, 10.0);
        assert_eq!(teams_in_order(&[a, b]), [(0, 1), (1, 2)]);
        // Same deliveries; lower p99 wins, and no recent deliveries ranks behind any p99.
        let a = team(80, 100, 3, 500, 20.0);
        let b = team(80, 100, 3, 500, 10.0);
        let c = team(80, 100, 3, 500, 0.0);
        assert_eq!(teams_in_order(&[a, b, c]), [(1, 1), (0, 2), (2, 3)]);
    }

    #[test]
    fn full_ties_share_a_rank_and_have_no_leader() {
        let teams = [
            team(10, 10, 0, 0, 0.0),
            team(10, 10, 0, 0, 0.0),
            team(5, 10, 0, 0, 0.0),
        ];
        assert_eq!(teams_in_order(&teams), [(0, 1), (1, 1), (2, 3)]);
        assert_eq!(leader(&live_order(&teams)), None);
        assert_eq!(
            leader(&live_order(&teams[..1])),
            None,
            "one team is no match"
        );
        assert_eq!(leader(&[]), None);
    }
}
