//! Lowering: a validated [`Scenario`] plus run options becomes one [`LoadPlan`].
//!
//! The plan is built in the file's own time first (so every step instant is exact), then every
//! load-shape offset is multiplied by the time scale in one place. Scaling is monotone and shared
//! boundaries are scaled once, so arrivals stay sorted and levels stay gap-free after it.
//!
//! What the time scale touches: step_every, hold, duration, spread, level_every (the arrival instants
//! and level spans they produce), think times and message intervals. What it does not: the step
//! timeout and the delivery deadline. Those describe how fast the *server* must answer, which does
//! not change when the load shape is compressed; scaling them would fail a healthy server in a
//! 10× faster rehearsal.

use std::time::Duration;

use rand::SeedableRng;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::StdRng;

use super::validate::{arrival_rate_count, arrival_rate_offset, ramp_targets};
use super::{Scenario, Shape};
use crate::engine::plan::{Arrival, Flow, LevelSpan, LoadPlan, Step};

/// Seed used when neither the command line nor the scenario sets one, so an unseeded scenario still
/// lowers to the same plan every time.
pub const DEFAULT_SEED: u64 = 1;

/// Run options that change the plan. The command line fills these (flag > env > default); the
/// scenario file supplies the seed when the command line does not.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LowerOptions {
    /// Factor applied to the load shape, think times and message intervals; in `(0, 100]`,
    /// 1.0 = real time, 0.1 = ten times faster.
    pub time_scale: f64,
    /// Cap on the users of every phase: a ramp stops at this many and then holds.
    pub max_users: Option<u32>,
    /// Seed overriding the scenario's.
    pub seed: Option<u64>,
}

impl Default for LowerOptions {
    fn default() -> Self {
        LowerOptions {
            time_scale: 1.0,
            max_users: None,
            seed: None,
        }
    }
}

/// A level before scaling.
struct Level {
    target_users: u32,
    start: Duration,
    end: Duration,
    phase: usize,
}

impl Scenario {
    /// Lowers the scenario into the plan the engine runs. Pure and deterministic: the same scenario
    /// and options always give the same plan.
    pub fn lower(&self, options: &LowerOptions) -> LoadPlan {
        let scale = options.time_scale;
        debug_assert!(
            scale > 0.0 && scale.is_finite(),
            "time scale is validated before lowering"
        );
        let cap = options.max_users.unwrap_or(u32::MAX);
        let seed = options.seed.or(self.seed).unwrap_or(DEFAULT_SEED);

        let mut starts: Vec<Duration> = Vec::new();
        let mut levels: Vec<Level> = Vec::new();
        let mut t = Duration::ZERO;
        for (index, phase) in self.phases.iter().enumerate() {
            t = lower_phase(&phase.shape, index, cap, t, &mut starts, &mut levels);
        }

        let scaled = |d: Duration| scale_duration(d, scale);
        let duration = scaled(t);
        let mut spans: Vec<LevelSpan> = Vec::with_capacity(levels.len());
        for level in &levels {
            let (start, end) = (scaled(level.start), scaled(level.end));
            // A scale small enough to round a span to nothing leaves no time "within" it; its users
            // arrive at the same instant as the next span's and are counted there.
            if start == end {
                continue;
            }
            spans.push(LevelSpan {
                index: spans.len() as u32,
                target_users: level.target_users,
                start,
                end,
                phase: self.phases[level.phase].name.clone(),
            });
        }
        if let Some(last) = spans.last_mut() {
            last.end = duration;
        }

        let flows = self
            .flows
            .iter()
            .map(|flow| scale_flow(flow, scale))
            .collect();
        let flow_of = flow_chooser(&self.flows, seed);
        let arrivals = starts
            .iter()
            .zip(flow_of.take(starts.len()))
            .enumerate()
            .map(|(vu, (&at, flow))| Arrival {
                at: scaled(at),
                vu: vu as u32,
                flow,
            })
            .collect::<Vec<_>>();
        debug_assert!(arrivals.windows(2).all(|w| w[0].at <= w[1].at));

        LoadPlan {
            scenario: self.name.clone(),
            seed,
            time_scale: scale,
            arrivals,
            levels: spans,
            duration,
            flows,
            conduct: self.conduct.clone(),
            segment: None,
        }
    }
}

/// Appends one phase's arrival instants and levels (unscaled), starting at `t` with `starts.len()`
/// users already started; returns the phase's end.
fn lower_phase(
    shape: &Shape,
    phase: usize,
    cap: u32,
    t: Duration,
    starts: &mut Vec<Duration>,
    levels: &mut Vec<Level>,
) -> Duration {
    let running = starts.len() as u32;
    match *shape {
        Shape::Ramp {
            start_users,
            step_users,
            step_every,
            max_users,
            hold,
            spread,
        } => {
            // Capping the top also caps every step on the way: the ramp stops at `cap`, then holds.
            let targets = ramp_targets(start_users.min(cap), step_users, max_users.min(cap));
            let mut end = t;
            for (k, &target) in targets.iter().enumerate() {
                let at = t + step_every * k as u32;
                arrive(starts, target, at, spread);
                end = if k + 1 == targets.len() {
                    at + hold
                } else {
                    at + step_every
                };
                levels.push(Level {
                    target_users: target.max(running),
                    start: at,
                    end,
                    phase,
                });
            }
            end
        }
        Shape::Constant {
            users,
            duration,
            spread,
        } => {
            let target = users.min(cap).max(running);
            arrive(starts, target, t, spread);
            levels.push(Level {
                target_users: target,
                start: t,
                end: t + duration,
                phase,
            });
            t + duration
        }
        Shape::ArrivalRate {
            rate,
            duration,
            level_every,
        } => {
            let room = u64::from(cap.saturating_sub(running));
            let count = arrival_rate_count(rate, duration).min(room);
            starts
                .extend((0..count).map(|i| t + Duration::from_nanos(arrival_rate_offset(i, rate))));
            // Each level reports the users started by its end (arrivals are sorted, so a binary
            // search finds how many are before that instant).
            let end = t + duration;
            let mut start = t;
            while start < end {
                let level_end = (start + level_every).min(end);
                let started = starts.partition_point(|&at| at < level_end) as u32;
                levels.push(Level {
                    target_users: started,
                    start,
                    end: level_end,
                    phase,
                });
                start = level_end;
            }
            end
        }
    }
}

/// Starts enough users at `at` to reach `target`, spaced evenly over `spread` (all at `at` when the
/// spread is zero). The last one starts before `at + spread`, so from then on exactly `target` users
/// have started.
fn arrive(starts: &mut Vec<Duration>, target: u32, at: Duration, spread: Duration) {
    let new = u64::from(target).saturating_sub(starts.len() as u64);
    let window = spread.as_nanos() as u64;
    starts.extend((0..new).map(|j| {
        // u128 so window × j cannot overflow for any run the validator allows.
        at + Duration::from_nanos((u128::from(window) * u128::from(j) / u128::from(new)) as u64)
    }));
}

/// `d × scale`, rounded to the nanosecond.
fn scale_duration(d: Duration, scale: f64) -> Duration {
    if scale == 1.0 {
        return d;
    }
    Duration::from_nanos((d.as_nanos() as f64 * scale).round() as u64)
}

/// The flow with its think times and message intervals scaled.
fn scale_flow(flow: &Flow, scale: f64) -> Flow {
    let steps = flow
        .steps
        .iter()
        .map(|step| match step {
            Step::Think { min, max } => Step::Think {
                min: scale_duration(*min, scale),
                max: scale_duration(*max, scale),
            },
            Step::SendMessages {
                count,
                interval,
                mark_read,
                read_every,
            } => Step::SendMessages {
                count: *count,
                interval: scale_duration(*interval, scale),
                mark_read: *mark_read,
                read_every: read_every.map(|d| scale_duration(d, scale)),
            },
            other => other.clone(),
        })
        .collect();
    Flow {
        name: flow.name.clone(),
        weight: flow.weight,
        steps,
    }
}

/// The flow of each VU in arrival order: a weighted draw from one `StdRng` seeded with `seed`, so the
/// same seed always gives the same assignment.
fn flow_chooser(flows: &[Flow], seed: u64) -> impl Iterator<Item = u16> {
    let mut rng = StdRng::seed_from_u64(seed);
    let weights = WeightedIndex::new(flows.iter().map(|f| f.weight))
        .expect("validation guarantees at least one flow, weights >= 1 and a sum that fits u32");
    std::iter::repeat_with(move || weights.sample(&mut rng) as u16)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::engine::plan::LoadPlan;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn scenario(text: &str) -> Scenario {
        Scenario::from_toml(text, "test.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    fn ktb() -> Scenario {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ktb-2024.toml");
        Scenario::load(&path).unwrap()
    }

    /// Users started strictly before `t`.
    fn started_before(plan: &LoadPlan, t: Duration) -> usize {
        plan.arrivals.partition_point(|a| a.at < t)
    }

    /// Invariants every plan must keep, whatever the shape.
    #[track_caller]
    fn check_invariants(plan: &LoadPlan) {
        assert!(
            plan.arrivals.windows(2).all(|w| w[0].at <= w[1].at),
            "sorted"
        );
        for (i, a) in plan.arrivals.iter().enumerate() {
            assert_eq!(a.vu as usize, i);
            assert!((a.flow as usize) < plan.flows.len());
        }
        assert_eq!(plan.levels.first().unwrap().start, Duration::ZERO);
        assert_eq!(plan.levels.last().unwrap().end, plan.duration);
        for (i, level) in plan.levels.iter().enumerate() {
            assert_eq!(level.index as usize, i);
            assert!(level.start < level.end, "{level:?}");
            if i > 0 {
                assert_eq!(plan.levels[i - 1].end, level.start, "no gaps");
            }
            // By the end of every level, exactly its target has started.
            assert_eq!(
                started_before(plan, level.end),
                level.target_users as usize,
                "{level:?}"
            );
        }
    }

    #[test]
    fn ktb_2024_is_the_competition_profile() {
        let plan = ktb().lower(&LowerOptions::default());
        check_invariants(&plan);
        assert_eq!(plan.scenario, "ktb-2024");
        assert_eq!(plan.seed, 2024);
        assert_eq!(plan.arrivals.len(), 3000);
        assert_eq!(plan.levels.len(), 30);
        for (k, level) in plan.levels.iter().enumerate() {
            let start = secs(30.0 * k as f64);
            assert_eq!(level.target_users, 100 * (k as u32 + 1));
            assert_eq!(level.start, start);
            assert_eq!(level.phase, "ramp");
            // Each step's 100 users start together at the step instant, none before, none after.
            assert_eq!(started_before(&plan, start), 100 * k);
            assert_eq!(
                plan.arrivals.iter().filter(|a| a.at == start).count(),
                100,
                "step {k}"
            );
        }
        for level in &plan.levels[..29] {
            assert_eq!(level.end - level.start, secs(30.0));
        }
        // 3,000 users are reached at 14m30s and held for 2 minutes.
        assert_eq!(plan.levels[29].start, secs(870.0));
        assert_eq!(plan.duration, secs(990.0));
        assert_eq!(plan.conduct.step_timeout, secs(30.0));
        assert_eq!(plan.conduct.verify.delivery_deadline, secs(10.0));
        assert_eq!(plan.flows.len(), 1);
        assert_eq!(plan.flows[0].steps.len(), 15);
        assert_eq!(plan.flows[0].steps.last(), Some(&Step::Hold));
    }

    #[test]
    fn time_scale_compresses_the_shape_but_not_the_server_budgets() {
        let s = scenario(
            r#"
            [[phase]]
            kind = "ramp"
            start_users = 10
            step_users = 10
            step_every = "30s"
            max_users = 30
            hold = "1m"
            spread = "10s"
            [timeouts]
            step = "30s"
            delivery = "10s"
            [[flow]]
            steps = ["register", "enter_room", "connect", "join_room",
                     { send_messages = { count = 2, interval = "2s" } },
                     { think = { min = "1s", max = "3s" } }, "hold"]
            "#,
        );
        let plan = s.lower(&LowerOptions {
            time_scale: 0.1,
            ..LowerOptions::default()
        });
        check_invariants(&plan);
        assert_eq!(plan.time_scale, 0.1);
        assert_eq!(plan.duration, secs(12.0)); // (2 × 30 s + 60 s) × 0.1
        let bounds: Vec<_> = plan.levels.iter().map(|l| (l.start, l.end)).collect();
        assert_eq!(
            bounds,
            [
                (secs(0.0), secs(3.0)),
                (secs(3.0), secs(6.0)),
                (secs(6.0), secs(12.0))
            ]
        );
        // The 10 s spread became 1 s: step 2's users start at 3.0, 3.1, … 3.9 s.
        let step2: Vec<_> = plan.arrivals[10..20].iter().map(|a| a.at).collect();
        assert_eq!(
            step2,
            (0..10)
                .map(|j| secs(3.0 + 0.1 * j as f64))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            plan.flows[0].steps[4],
            Step::SendMessages {
                count: Some(2),
                interval: secs(0.2),
                mark_read: false,
                read_every: None,
            }
        );
        assert_eq!(
            plan.flows[0].steps[5],
            Step::Think {
                min: secs(0.1),
                max: secs(0.3)
            }
        );
        assert_eq!(plan.conduct.step_timeout, secs(30.0), "not scaled");
        assert_eq!(
            plan.conduct.verify.delivery_deadline,
            secs(10.0),
            "not scaled"
        );
    }

    #[test]
    fn max_users_stops_the_ramp_and_holds() {
        let plan = ktb().lower(&LowerOptions {
            max_users: Some(450),
            ..LowerOptions::default()
        });
        check_invariants(&plan);
        let targets: Vec<_> = plan.levels.iter().map(|l| l.target_users).collect();
        assert_eq!(targets, [100, 200, 300, 400, 450]);
        assert_eq!(plan.arrivals.len(), 450);
        assert_eq!(plan.levels[4].start, secs(120.0));
        assert_eq!(
            plan.duration,
            secs(240.0),
            "then holds for the scenario's 2 minutes"
        );
    }

    #[test]
    fn constant_phase_spreads_its_users() {
        let plan = scenario(
            r#"
            [[phase]]
            kind = "constant"
            users = 10
            duration = "1m"
            spread = "10s"
            [[flow]]
            steps = ["health"]
            "#,
        )
        .lower(&LowerOptions::default());
        check_invariants(&plan);
        let at: Vec<_> = plan.arrivals.iter().map(|a| a.at).collect();
        assert_eq!(at, (0..10).map(|j| secs(j as f64)).collect::<Vec<_>>());
        assert_eq!(plan.levels.len(), 1);
        assert_eq!(plan.levels[0].target_users, 10);
        assert_eq!(plan.duration, secs(60.0));
    }

    #[test]
    fn arrival_rate_phase_counts_users_started_per_level() {
        let plan = scenario(
            r#"
            [[phase]]
            kind = "arrival_rate"
            rate = 2.0
            duration = "5s"
            level_every = "2s"
            [[flow]]
            steps = ["health"]
            "#,
        )
        .lower(&LowerOptions::default());
        check_invariants(&plan);
        let at: Vec<_> = plan.arrivals.iter().map(|a| a.at).collect();
        assert_eq!(
            at,
            (0..10).map(|i| secs(0.5 * i as f64)).collect::<Vec<_>>()
        );
        let levels: Vec<_> = plan
            .levels
            .iter()
            .map(|l| (l.start, l.end, l.target_users))
            .collect();
        assert_eq!(
            levels,
            [
                (secs(0.0), secs(2.0), 4),
                (secs(2.0), secs(4.0), 8),
                (secs(4.0), secs(5.0), 10)
            ]
        );
        // Scaled by 0.5, the same ten users arrive twice as fast.
        let fast = scenario(
            r#"
            [[phase]]
            kind = "arrival_rate"
            rate = 2.0
            duration = "5s"
            [[flow]]
            steps = ["health"]
            "#,
        )
        .lower(&LowerOptions {
            time_scale: 0.5,
            ..LowerOptions::default()
        });
        check_invariants(&fast);
        assert_eq!(fast.arrivals.len(), 10);
        assert_eq!(fast.arrivals[9].at, secs(2.25));
        assert_eq!(fast.duration, secs(2.5));
    }

    const MULTI: &str = r#"
        [[phase]]
        name = "warmup"
        kind = "ramp"
        start_users = 10
        step_users = 10
        step_every = "10s"
        max_users = 30
        hold = "10s"
        [[phase]]
        name = "plateau"
        kind = "constant"
        users = 50
        duration = "20s"
        [[phase]]
        name = "climb"
        kind = "ramp"
        step_users = 25
        step_every = "5s"
        max_users = 100
        [[phase]]
        name = "trickle"
        kind = "arrival_rate"
        rate = 1.0
        duration = "5s"
        [[flow]]
        steps = ["health"]
    "#;

    #[test]
    fn phases_run_in_sequence_with_cumulative_users() {
        let plan = scenario(MULTI).lower(&LowerOptions::default());
        check_invariants(&plan);
        let levels: Vec<_> = plan
            .levels
            .iter()
            .map(|l| (l.phase.as_str(), l.start, l.end, l.target_users))
            .collect();
        assert_eq!(
            levels,
            [
                ("warmup", secs(0.0), secs(10.0), 10),
                ("warmup", secs(10.0), secs(20.0), 20),
                ("warmup", secs(20.0), secs(30.0), 30),
                ("plateau", secs(30.0), secs(50.0), 50),
                // An unset start_users adds one step to what is running: 50 + 25.
                ("climb", secs(50.0), secs(55.0), 75),
                ("climb", secs(55.0), secs(60.0), 100),
                ("trickle", secs(60.0), secs(65.0), 105),
            ]
        );
        assert_eq!(plan.arrivals.len(), 105);
        assert_eq!(plan.arrivals[30].at, secs(30.0));
        assert_eq!(plan.arrivals[104].at, secs(64.0));
        assert_eq!(plan.duration, secs(65.0));
    }

    #[test]
    fn max_users_caps_every_phase() {
        let plan = scenario(MULTI).lower(&LowerOptions {
            max_users: Some(40),
            ..LowerOptions::default()
        });
        check_invariants(&plan);
        let targets: Vec<_> = plan.levels.iter().map(|l| l.target_users).collect();
        // The climb is capped to one step at 40, held for step_every (its default hold).
        assert_eq!(targets, [10, 20, 30, 40, 40, 40]);
        assert_eq!(plan.arrivals.len(), 40);
        assert_eq!(plan.duration, secs(60.0));
    }

    #[test]
    fn flow_choice_is_weighted_and_deterministic_by_seed() {
        let text = r#"
            seed = 5
            [[phase]]
            kind = "constant"
            users = 4000
            duration = "1m"
            [[flow]]
            name = "talker"
            weight = 3
            steps = ["health"]
            [[flow]]
            name = "lurker"
            weight = 1
            steps = ["health"]
        "#;
        let s = scenario(text);
        let a = s.lower(&LowerOptions::default());
        let b = s.lower(&LowerOptions::default());
        assert_eq!(a, b, "same seed, same plan");
        assert_eq!(a.seed, 5, "the file's seed");
        let talkers = a.arrivals.iter().filter(|x| x.flow == 0).count();
        assert!(
            (2850..3150).contains(&talkers),
            "{talkers} of 4000 at weight 3:1"
        );

        let c = s.lower(&LowerOptions {
            seed: Some(6),
            ..LowerOptions::default()
        });
        assert_eq!(c.seed, 6, "the command line's seed wins");
        assert_ne!(a.arrivals, c.arrivals, "another seed, another assignment");
        let d = s.lower(&LowerOptions {
            seed: Some(6),
            ..LowerOptions::default()
        });
        assert_eq!(c, d);

        let unseeded = scenario(&text.replace("seed = 5", ""));
        assert_eq!(unseeded.lower(&LowerOptions::default()).seed, DEFAULT_SEED);
    }

    #[test]
    fn tiny_time_scales_keep_the_plan_consistent() {
        let plan = ktb().lower(&LowerOptions {
            time_scale: 1e-11,
            ..LowerOptions::default()
        });
        check_invariants(&plan);
        assert_eq!(plan.arrivals.len(), 3000);
        assert!(
            plan.levels.len() < 30,
            "spans rounded to nothing are dropped"
        );
    }
}
