//! Segments: one plan split over several processes or machines, deterministically, so that the
//! segments together start exactly the plan's users at exactly the planned times.
//!
//! A plan is split **by room**: every member of a group room is in the same segment, so every
//! delivery in it is verified by the one process that holds both the sender and the member. Group
//! `n` goes to segment `n mod N`, which spreads each level's new rooms evenly. Shared rooms and the
//! hot room cannot be kept whole without putting all their members in one process; their members
//! are spread over the segments by VU index, and such a room spans segments: the segment of its
//! first member creates it, the others find it by name. Each segment verifies the messages whose
//! sender it holds for the members it holds, and counts copies of other segments' messages as
//! foreign (never as missing or unexpected).
//!
//! VU indexes, seeds and therefore every VU's choices are the plan's own, whichever segment runs
//! the VU; the plan's fingerprint ([`LoadPlan::fingerprint`]) tells whether two segments ran the
//! same plan.

use std::fmt;

use super::plan::{Arrival, LoadPlan};
use super::rooms::{RoomKey, assign};

/// The most segments a plan is split into.
pub const MAX_SEGMENTS: u32 = 10_000;

/// Segment `index` of `count` (0-based, as Kubernetes' `JOB_COMPLETION_INDEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Segment {
    /// This segment, `0..count`.
    pub index: u32,
    /// How many segments the plan is split into.
    pub count: u32,
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Segment {
    /// Parses `I/N`; the error says what is allowed.
    pub fn parse(text: &str) -> Result<Segment, String> {
        let allowed = format!(
            "write I/N: segment I (counted from 0) of N segments, 1 <= N <= {MAX_SEGMENTS}, e.g. 0/4"
        );
        let (i, n) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not I/N; {allowed}"))?;
        let index: u32 = i
            .trim()
            .parse()
            .map_err(|_| format!("{i:?} is not a segment number; {allowed}"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("{n:?} is not a number of segments; {allowed}"))?;
        if count == 0 || count > MAX_SEGMENTS {
            return Err(format!("{count} segments; {allowed}"));
        }
        if index >= count {
            return Err(format!(
                "segment {index} of {count} does not exist (segments are 0 to {}); {allowed}",
                count - 1
            ));
        }
        Ok(Segment { index, count })
    }

    /// Every segment of `count`.
    pub fn all(count: u32) -> impl Iterator<Item = Segment> {
        (0..count).map(move |index| Segment { index, count })
    }

    /// The segment VU `vu` of `plan` belongs to, out of `count`.
    pub fn of(plan: &LoadPlan, vu: u32, count: u32) -> u32 {
        match assign(&plan.conduct.rooms, plan.seed, vu) {
            RoomKey::Group(n) => n % count,
            RoomKey::Shared(_) | RoomKey::Hot => vu % count,
        }
    }

    /// True when this segment runs VU `vu` of `plan`.
    pub fn holds(&self, plan: &LoadPlan, vu: u32) -> bool {
        Segment::of(plan, vu, self.count) == self.index
    }

    /// True when this segment is the one that creates room `key` of `plan`: the segment of the
    /// room's first member (the lowest VU index the room policy sends there). A room nobody is sent
    /// to is nobody's.
    pub fn creates(&self, plan: &LoadPlan, key: RoomKey) -> bool {
        match key {
            RoomKey::Group(_) => true,
            RoomKey::Shared(_) | RoomKey::Hot => plan
                .arrivals
                .iter()
                .map(|a| a.vu)
                .filter(|&vu| assign(&plan.conduct.rooms, plan.seed, vu) == key)
                .min()
                .is_some_and(|first| self.holds(plan, first)),
        }
    }
}

impl LoadPlan {
    /// This plan as segment `segment` runs it: the same plan, which then starts only the VUs the
    /// segment holds (with their plan-wide indexes and times). Every segment keeps the whole list of
    /// arrivals, so it knows each shared room's first member and the plan's fingerprint.
    pub fn segment(&self, segment: Segment) -> LoadPlan {
        LoadPlan {
            segment: Some(segment),
            ..self.clone()
        }
    }

    /// True when this plan (or its segment) starts VU `vu`.
    pub fn holds(&self, vu: u32) -> bool {
        self.segment.is_none_or(|s| s.holds(self, vu))
    }

    /// The arrivals this plan (or its segment) starts, in time order.
    pub fn own_arrivals(&self) -> impl Iterator<Item = &Arrival> {
        self.arrivals.iter().filter(|a| self.holds(a.vu))
    }

    /// A short hex fingerprint of the whole plan, the same for each of its segments: what `merge`
    /// checks before it adds segments up. It covers everything the plan holds — arrivals, levels,
    /// flows, rooms, messages, budgets, deadlines, thresholds, seed and time scale — as this build
    /// of stampede prints it.
    pub fn fingerprint(&self) -> String {
        let whole = LoadPlan {
            segment: None,
            ..self.clone()
        };
        format!("{:016x}", super::receipts::id_hash(&format!("{whole:?}")))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::plan::{
        Arrival, Conduct, LevelSpan, MessageSpec, RoomAssignment, RoomPolicy, Verify,
    };

    fn plan(assignment: RoomAssignment, hot: f64, users: u32) -> LoadPlan {
        LoadPlan {
            scenario: "t".into(),
            seed: 9,
            time_scale: 1.0,
            arrivals: (0..users)
                .map(|vu| Arrival {
                    at: Duration::from_millis(u64::from(vu) * 10),
                    vu,
                    flow: 0,
                })
                .collect(),
            levels: vec![LevelSpan {
                index: 0,
                target_users: users,
                start: Duration::ZERO,
                end: Duration::from_secs(10),
                phase: "p".into(),
            }],
            duration: Duration::from_secs(10),
            flows: vec![],
            conduct: Conduct {
                rooms: RoomPolicy {
                    assignment,
                    hot_room_share: hot,
                    password: None,
                },
                messages: MessageSpec {
                    text: "x".into(),
                    size: 0,
                },
                step_timeout: Duration::from_secs(30),
                verify: Verify {
                    delivery_deadline: Duration::from_secs(10),
                    receipt_deadline: Duration::from_secs(20),
                    late_after: Duration::from_secs(1),
                    fails_vu: false,
                },
                thresholds: vec![],
            },
            segment: None,
        }
    }

    #[test]
    fn segments_parse_and_say_what_is_allowed() {
        assert_eq!(Segment::parse("0/4"), Ok(Segment { index: 0, count: 4 }));
        assert_eq!(
            Segment::parse(" 3 / 4 "),
            Ok(Segment { index: 3, count: 4 })
        );
        for (bad, needle) in [
            ("4/4", "does not exist (segments are 0 to 3)"),
            ("1/0", "0 segments"),
            ("a/2", "not a segment number"),
            ("2", "not I/N"),
            ("0/10001", "10001 segments"),
        ] {
            let err = Segment::parse(bad).unwrap_err();
            assert!(err.contains(needle), "{bad}: {err}");
            assert!(err.contains("write I/N"), "{err}");
        }
    }

    #[test]
    fn segments_together_start_exactly_the_plan_and_keep_group_rooms_whole() {
        let whole = plan(RoomAssignment::Groups { size: 10 }, 0.0, 1000);
        let parts: Vec<LoadPlan> = Segment::all(3).map(|s| whole.segment(s)).collect();
        let mut all: Vec<Arrival> = parts
            .iter()
            .flat_map(|p| p.own_arrivals().copied())
            .collect();
        all.sort_by_key(|a| a.vu);
        assert_eq!(
            all, whole.arrivals,
            "same users at the same times, once each"
        );
        for p in &parts {
            // Every room's members are all in this segment: 10 of each group, or none.
            let mut rooms = std::collections::HashMap::new();
            for a in p.own_arrivals() {
                *rooms
                    .entry(assign(&p.conduct.rooms, p.seed, a.vu))
                    .or_insert(0) += 1;
            }
            assert!(rooms.values().all(|&n| n == 10), "{rooms:?}");
            // Balanced: 100 rooms over 3 segments.
            let n = p.own_arrivals().count();
            assert!((330..=340).contains(&n), "{n}");
            assert_eq!(p.fingerprint(), whole.fingerprint());
            assert_eq!(p.levels, whole.levels);
        }
    }

    #[test]
    fn a_hot_room_spans_segments_and_one_segment_creates_it() {
        let whole = plan(RoomAssignment::Groups { size: 10 }, 0.2, 500);
        let parts: Vec<LoadPlan> = Segment::all(4).map(|s| whole.segment(s)).collect();
        let creators: Vec<u32> = Segment::all(4)
            .zip(&parts)
            .filter(|(s, p)| s.creates(p, RoomKey::Hot))
            .map(|(s, _)| s.index)
            .collect();
        assert_eq!(
            creators.len(),
            1,
            "exactly one segment creates the hot room"
        );
        for p in &parts {
            let hot = p
                .own_arrivals()
                .filter(|a| assign(&p.conduct.rooms, p.seed, a.vu) == RoomKey::Hot)
                .count();
            assert!(hot > 10, "every segment holds some of the hot room: {hot}");
        }
    }

    #[test]
    fn fingerprints_tell_plans_apart() {
        let a = plan(RoomAssignment::Groups { size: 10 }, 0.0, 100);
        let mut b = a.clone();
        b.seed = 10;
        let mut c = a.clone();
        c.conduct.verify.delivery_deadline = Duration::from_secs(11);
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_eq!(a.fingerprint(), a.clone().fingerprint());
        assert_eq!(a.fingerprint().len(), 16);
    }
}
