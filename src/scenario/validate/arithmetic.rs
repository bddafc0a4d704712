//! The shape arithmetic that validation and lowering share: the user level of each ramp step, the
//! instant and count of an arrival-rate phase's arrivals, and what a phase does to the user count
//! and the run's length. Validation uses it to check the totals a file adds up to; lowering
//! (`scenario::lower`) uses the same functions to build the plan, so the two can never disagree
//! about how many users a phase starts. Owns no checks and no error messages.

use std::time::Duration;

use super::MAX_PLANNED_USERS;
use crate::scenario::Shape;

/// Users started after the phase and its length, given the users started before it.
///
/// Ramp and constant counts are absolute (users started since the run began), so the phase ends at
/// its own count; an arrival rate counts *new* users, so it adds to what is running.
pub(crate) fn phase_effect(shape: &Shape, users_before: u64) -> (u64, Duration) {
    match *shape {
        Shape::Ramp {
            start_users,
            step_users,
            step_every,
            max_users,
            hold,
            ..
        } => {
            // One `step_every` per step below the top, then `hold` at the top. `ramp_targets` has at
            // least one step, so `steps - 1` cannot wrap.
            let steps = ramp_targets(start_users, step_users, max_users).len() as u32;
            (
                u64::from(max_users),
                step_every.saturating_mul(steps - 1).saturating_add(hold),
            )
        }
        Shape::Constant {
            users, duration, ..
        } => (u64::from(users), duration),
        Shape::ArrivalRate { rate, duration, .. } => (
            users_before.saturating_add(arrival_rate_count(rate, duration)),
            duration,
        ),
    }
}

/// The user level of each ramp step: `start`, `start + step`, … capped at `max` (the last step may be
/// smaller, so the ramp lands exactly on `max`).
pub(crate) fn ramp_targets(start: u32, step: u32, max: u32) -> Vec<u32> {
    // `step.max(1)`: validation refuses a zero step, but lowering calls this with capped values
    // too, and the loop must end whatever it is given.
    let mut targets = vec![start.min(max)];
    let mut level = start.min(max);
    while level < max {
        level = level.saturating_add(step.max(1)).min(max);
        targets.push(level);
    }
    targets
}

/// Offset of the `i`-th arrival of an arrival-rate phase, in nanoseconds from the phase start.
/// Computed from `i` rather than by adding `1 / rate` again and again, so rounding does not pile up
/// over a long phase and every caller places arrival `i` at the same instant.
pub(crate) fn arrival_rate_offset(i: u64, rate: f64) -> u64 {
    (i as f64 * 1e9 / rate).round() as u64
}

/// Number of arrivals of an arrival-rate phase: every `i` whose offset falls inside the phase.
pub(crate) fn arrival_rate_count(rate: f64, duration: Duration) -> u64 {
    let end = duration.as_nanos() as f64;
    // Start near the exact answer and correct for rounding, so huge rates cost nothing here.
    let estimate = (end * rate / 1e9).ceil();
    // Far above the limit only "too many" matters: validation refuses the phase whatever the exact
    // count, so the correction below is skipped.
    if estimate > (MAX_PLANNED_USERS * 2) as f64 {
        return estimate as u64;
    }
    let end = duration.as_nanos() as u64;
    let mut n = estimate as u64;
    while n > 0 && arrival_rate_offset(n - 1, rate) >= end {
        n -= 1;
    }
    while arrival_rate_offset(n, rate) < end {
        n += 1;
    }
    n
}
