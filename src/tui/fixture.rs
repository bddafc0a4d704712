//! Hand-built, deterministic runs for the render tests: one team, a three-team match, a bracket.
//! Figures follow simple formulas of time so snapshots are stable and still look like a real ramp.

use std::collections::BTreeMap;
use std::time::Duration;

use super::app::App;
use crate::base::summary::{LevelRow, RequestTotals, TimelineRow};
use crate::metrics::snapshot::{GeneratorSnapshot, OpStat, Percentiles, TeamSnapshot};
use crate::metrics::{FailureKind, GaugeValues, Op, Snapshot};
use crate::view::bracket::{BracketView, MatchState, MatchView, RoundView, StandingRow};

/// Seconds per level of the fixture's ramp (the competition's 30 s).
const LEVEL_SECS: u32 = 30;
/// Users added per level.
const STEP_USERS: u32 = 100;
/// Levels in the plan.
const LEVELS: u32 = 11;

/// How a fixture team copes with the load.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// Team name.
    pub name: &'static str,
    /// Share of users that fail.
    pub failing: f64,
    /// Latency multiplier.
    pub slowness: f64,
}

/// A team that barely fails.
pub const ALPHA: Profile = Profile {
    name: "alpha",
    failing: 0.004,
    slowness: 1.0,
};
/// A team that fails a little more and is slower.
pub const BRAVO: Profile = Profile {
    name: "bravo",
    failing: 0.02,
    slowness: 1.8,
};
/// A team in trouble.
pub const CHARLIE: Profile = Profile {
    name: "charlie-with-a-long-team-name",
    failing: 0.12,
    slowness: 4.0,
};

/// Target users at second `t`.
fn target(t: u32) -> u32 {
    ((t / LEVEL_SECS).min(LEVELS - 1) + 1) * STEP_USERS
}

/// Users started by second `t` (each level's users start over its first 10 s).
fn started(t: u32) -> u64 {
    let level = (t / LEVEL_SECS).min(LEVELS - 1);
    let into = (t - level * LEVEL_SECS).min(10);
    u64::from(level * STEP_USERS + STEP_USERS * into / 10)
}

fn failed(p: Profile, t: u32) -> u64 {
    (started(t) as f64 * p.failing).floor() as u64
}

fn row(p: Profile, t: u32) -> TimelineRow {
    let s = started(t);
    let f = failed(p, t);
    let connected = s - f;
    let wobble = f64::from(t % 7);
    let mut failures = BTreeMap::new();
    if f > failed(p, t.saturating_sub(1)) {
        failures.insert("timeout".to_owned(), f - failed(p, t.saturating_sub(1)));
    }
    TimelineRow {
        t_secs: f64::from(t),
        level: (t / LEVEL_SECS).min(LEVELS - 1),
        target_users: target(t),
        active_users: connected,
        connected_users: connected,
        vus_failed: f,
        requests_ok: connected * 3,
        requests_failed: f - failed(p, t.saturating_sub(1)),
        messages_sent: connected / 2,
        messages_delivered: connected * 2,
        failures,
        delivery_p50_ms: (4.0 + wobble) * p.slowness,
        delivery_p95_ms: (12.0 + f64::from(t) / 4.0) * p.slowness,
        delivery_p99_ms: (20.0 + f64::from(t) / 2.0 + wobble * 2.0) * p.slowness,
        request_p99_ms: (30.0 + f64::from(t) / 3.0) * p.slowness,
        scheduler_lag_ms: 1.0 + wobble / 4.0,
        cpu_percent: 35.0 + f64::from(t % 10) * 4.0,
    }
}

/// The operations a competition VU runs, with a base latency in ms.
const OPS: [(Op, f64); 12] = [
    (Op::Register, 48.0),
    (Op::Login, 41.0),
    (Op::ListRooms, 6.5),
    (Op::EnterRoom, 9.0),
    (Op::WsConnect, 2.1),
    (Op::SioConnect, 3.4),
    (Op::JoinRoom, 5.2),
    (Op::History, 11.0),
    (Op::SendAck, 4.4),
    (Op::Delivery, 6.0),
    (Op::React, 4.9),
    (Op::Upload, 23.0),
];

fn team(p: Profile, t: u32) -> TeamSnapshot {
    let history: Vec<TimelineRow> = (1..=t).map(|s| row(p, s)).collect();
    let f = failed(p, t);
    let s = started(t);
    let sum = |get: fn(&TimelineRow) -> u64| history.iter().map(get).sum::<u64>();
    let last = history.last().cloned().unwrap_or_default();
    let mut failures = Vec::new();
    if f > 0 {
        failures.push((FailureKind::Timeout, f - f / 4));
        failures.push((FailureKind::HttpStatus, f / 4));
    }
    if p.failing > 0.05 {
        failures.push((FailureKind::UnexpectedDisconnect, f / 2 + 1));
        failures.push((FailureKind::DeliveryMissing, f * 3));
    }
    failures.retain(|(_, n)| *n > 0);
    failures.sort_by_key(|(k, _)| *k);
    let missing = failures
        .iter()
        .find(|(k, _)| *k == FailureKind::DeliveryMissing)
        .map_or(0, |(_, n)| *n);
    let ops = OPS
        .iter()
        .map(|&(op, base)| {
            let base = base * p.slowness;
            let grow = 1.0 + f64::from(t) / 120.0;
            OpStat {
                op,
                total: Percentiles {
                    count: s * 2 + 17,
                    p50_ms: base,
                    p95_ms: base * 2.5,
                    p99_ms: base * 4.0 * grow,
                },
                recent: Percentiles {
                    count: u64::from(t % 7 != 3 || op == Op::Delivery),
                    p50_ms: base,
                    p95_ms: base * 2.5,
                    p99_ms: base * (3.0 + f64::from(t % 9) / 3.0) * grow,
                },
            }
        })
        .collect();
    let levels = (0..t / LEVEL_SECS)
        .map(|l| {
            let end = (l + 1) * LEVEL_SECS;
            let r = row(p, end);
            LevelRow {
                index: l,
                phase: "ramp".into(),
                target_users: target(end - 1),
                start_secs: f64::from(l * LEVEL_SECS),
                end_secs: f64::from(end),
                incomplete: false,
                users_started: started(end),
                users_active: r.active_users,
                users_connected: r.connected_users,
                vus_passed: started(end) - failed(p, end),
                vus_failed: failed(p, end),
                vus_failed_in_level: failed(p, end) - failed(p, l * LEVEL_SECS),
                requests: RequestTotals {
                    ok: r.requests_ok * 30,
                    failed: failed(p, end) - failed(p, l * LEVEL_SECS),
                },
                messages_sent: r.messages_sent * 30,
                deliveries: r.messages_delivered * 30,
                deliveries_missing: 0,
                delivery_p50_ms: r.delivery_p50_ms,
                delivery_p95_ms: r.delivery_p95_ms,
                delivery_p99_ms: r.delivery_p99_ms,
                request_p99_ms: r.request_p99_ms,
                failures: BTreeMap::new(),
                delivery_histogram: String::new(),
                deliveries_late: u64::from(l) * 2,
                // The level that just ended still awaits its last messages' deliveries.
                pending: if l + 1 == t / LEVEL_SECS { 37 } else { 0 },
                ..LevelRow::default()
            }
        })
        .collect();
    TeamSnapshot {
        name: p.name.to_owned(),
        target: format!("http://{}.example:5000", p.name),
        gauges: GaugeValues {
            started: s,
            active: s - f,
            connected: s - f,
            failed: f,
            peak_connected: s - f,
        },
        requests: RequestTotals {
            ok: sum(|r| r.requests_ok),
            failed: sum(|r| r.requests_failed),
        },
        messages_sent: sum(|r| r.messages_sent),
        delivered: sum(|r| r.messages_delivered),
        missing,
        late: 0,
        pending: 0,
        unjudged: 0,
        receipts: crate::base::summary::ReceiptTotals {
            missing: u64::from(t / 20),
            ..Default::default()
        },
        reactions: Default::default(),
        messages_per_sec: last.messages_sent as f64,
        deliveries_per_sec: last.messages_delivered as f64,
        failures,
        delivery: Percentiles {
            count: last.messages_delivered,
            p50_ms: last.delivery_p50_ms,
            p95_ms: last.delivery_p95_ms,
            p99_ms: last.delivery_p99_ms,
        },
        ops,
        history,
        levels,
    }
}

/// The snapshot of a run of `teams` at second `t`.
pub fn snapshot(teams: &[Profile], t: u32) -> Snapshot {
    Snapshot {
        elapsed: Duration::from_millis(u64::from(t) * 1000 + 250),
        planned: Duration::from_secs(u64::from(LEVEL_SECS * LEVELS)),
        level: (t / LEVEL_SECS).min(LEVELS - 1),
        levels: LEVELS,
        target_users: target(t),
        phase: "ramp".into(),
        teams: teams.iter().map(|p| team(*p, t)).collect(),
        generator: GeneratorSnapshot {
            cpu_percent: 62.5,
            cores: 2,
            scheduler_lag_ms: 3.2,
            rss_bytes: 184 * 1024 * 1024,
            bottleneck: false,
        },
        draining: false,
        done: false,
    }
}

/// An app that has watched `teams` from the start up to second `t`, one snapshot a second (so the
/// per-step trends are built the way the live loop builds them).
pub fn app(title: &str, teams: &[Profile], t: u32) -> App {
    let mut app = App::new(title);
    for s in 1..=t {
        app.ingest(snapshot(teams, s));
    }
    app
}

/// An eight-team bracket in its semi-finals: quarter-finals scored, one semi-final scored, the other
/// being played, the final waiting for it.
pub fn bracket() -> BracketView {
    let done = |a: &str, b: &str, winner: usize, sa: &str, sb: &str, note: &str| MatchView {
        teams: vec![Some(a.to_owned()), Some(b.to_owned())],
        state: MatchState::Finished {
            winner: Some(winner),
            scores: vec![sa.to_owned(), sb.to_owned()],
            note: note.to_owned(),
        },
    };
    let standing = |rank, team: &str, played, won, best: &str, alive| StandingRow {
        rank,
        team: team.to_owned(),
        played,
        won,
        lost: played - won,
        best: best.to_owned(),
        alive,
    };
    BracketView {
        title: "KTB 2024 final".into(),
        rounds: vec![
            RoundView {
                name: "Quarter-finals".into(),
                matches: vec![
                    done("alpha", "hotel", 0, "3,250", "2,100", "held 1,150 more"),
                    done("delta", "echo", 1, "2,400", "2,950", "held 550 more"),
                    done("bravo", "golf", 0, "3,100", "1,800", "held 1,300 more"),
                    done("charlie", "foxtrot", 0, "2,700", "2,650", "held 50 more"),
                ],
            },
            RoundView {
                name: "Semi-finals".into(),
                matches: vec![
                    done("alpha", "echo", 0, "3,320", "2,990", "held 330 more"),
                    MatchView {
                        teams: vec![Some("bravo".into()), Some("charlie".into())],
                        state: MatchState::Playing,
                    },
                ],
            },
            RoundView {
                name: "Final".into(),
                matches: vec![MatchView {
                    teams: vec![Some("alpha".into()), None],
                    state: MatchState::Waiting,
                }],
            },
        ],
        standings: vec![
            standing(1, "alpha", 2, 2, "3,320 users at 3,400", true),
            standing(2, "bravo", 1, 1, "3,100 users at 3,200", true),
            standing(2, "charlie", 1, 1, "2,700 users at 3,000", true),
            standing(4, "echo", 2, 1, "2,990 users at 3,200", false),
            standing(5, "foxtrot", 1, 0, "2,650 users at 3,000", false),
            standing(6, "delta", 1, 0, "2,400 users at 2,600", false),
            standing(7, "hotel", 1, 0, "2,100 users at 2,400", false),
            standing(8, "golf", 1, 0, "1,800 users at 2,000", false),
        ],
        tree: true,
        finished: false,
    }
}

/// An eight-team double-elimination bracket played by the real bracket rules up to its tenth match,
/// which is in play: the team with the larger capacity wins each match, by the difference.
pub fn double_elimination() -> BracketView {
    use crate::score::{Bracket, Format, MatchResult, MatchScore, Outcome};
    let capacity = |team: &str| {
        let i = [
            "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
        ]
        .iter()
        .position(|t| *t == team)
        .expect("a fixture team") as u32;
        3_300 - 150 * i
    };
    let teams = [
        "alpha", "hotel", "delta", "echo", "bravo", "golf", "charlie", "foxtrot",
    ]
    .map(String::from)
    .to_vec();
    let mut bracket = Bracket::new(Format::Double, teams).expect("eight teams");
    for _ in 0..9 {
        let next = bracket.next_matches().remove(0);
        let [a, b] = next.teams.clone();
        let (winner, loser) = if capacity(&a) >= capacity(&b) {
            (a, b)
        } else {
            (b, a)
        };
        let result = MatchResult {
            outcome: Outcome::Won {
                winner: winner.clone(),
            },
            scores: vec![
                MatchScore {
                    sustained_users: capacity(&winner),
                    team: winner.clone(),
                },
                MatchScore {
                    sustained_users: capacity(&loser),
                    team: loser,
                },
            ],
            reason: format!("{winner} wins"),
        };
        bracket.record(&next.id, result).expect("a ready match");
    }
    let playing = bracket.next_matches().remove(0).id;
    crate::view::bracket::bracket_view("KTB 2024 final", &bracket, Some(&playing))
}
