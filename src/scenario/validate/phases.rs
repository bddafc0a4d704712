//! `[[phase]]`: each load shape's keys and values, the rule that the user count only rises, unique
//! phase names, and the run's totals (users started, length) against the plan's limits. The numbers
//! a shape adds up to come from `arithmetic`; turning phases into arrivals is `scenario::lower`'s.

use std::collections::HashMap;
use std::time::Duration;

use super::arithmetic::{arrival_rate_count, phase_effect, ramp_targets};
use super::{MAX_PLANNED_USERS, MAX_RUN_DURATION, Problems, positive};
use crate::scenario::duration::format_duration;
use crate::scenario::model::PhaseFile;
use crate::scenario::{Phase, Shape};

/// Level length of an arrival-rate phase that does not set `level_every`: short enough to show a
/// trend in a minute-long phase, long enough for a level's percentiles to mean something.
const DEFAULT_LEVEL_EVERY: Duration = Duration::from_secs(10);
/// The shapes a phase may have, as problems list them.
const PHASE_KINDS: &str = "ramp, constant, arrival_rate";

/// Every `[[phase]]`, in order. The users started so far are carried from one phase to the next,
/// because what a phase may ask for depends on what ran before it.
pub(super) fn phases(files: &[PhaseFile], p: &mut Problems) -> Vec<Phase> {
    if files.is_empty() {
        p.push(
            "phase",
            r#"at least one [[phase]] is required, e.g. [[phase]] with kind = "constant", users = 10, duration = "1m""#,
        );
        return Vec::new();
    }
    let mut phases = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    // Users started once the previous phases are done, and where that number was set.
    let mut users: u64 = 0;
    let mut total = Duration::ZERO;
    for (i, file) in files.iter().enumerate() {
        let path = format!("phase[{i}]");
        let Some(shape) = shape(file, &path, users, p) else {
            continue;
        };
        let (after, length) = phase_effect(&shape, users);
        if after > MAX_PLANNED_USERS {
            p.push(
                path.clone(),
                format!(
                    "the plan would start {after} users by the end of this phase; the limit is \
                     {MAX_PLANNED_USERS} per run"
                ),
            );
        }
        users = after;
        total = total.saturating_add(length);
        let name = match &file.name {
            Some(name) if name.trim().is_empty() => {
                p.push(format!("{path}.name"), "must not be empty");
                continue;
            }
            Some(name) => name.trim().to_owned(),
            // The kind names an unnamed phase; when a kind repeats, the position tells them apart.
            None if files.iter().filter(|f| f.kind == file.kind).count() > 1 => {
                format!("{}-{}", shape.kind(), i + 1)
            }
            None => shape.kind().to_owned(),
        };
        if let Some(first) = names.insert(name.clone(), i) {
            p.push(
                format!("{path}.name"),
                format!("{name:?} is already used by phase[{first}]; phase names must be unique"),
            );
        }
        phases.push(Phase { name, shape });
    }
    // Only when every phase is valid: otherwise the broken one may be the phase meant to start the
    // users, and this problem would point at the wrong place.
    if users == 0 && phases.len() == files.len() {
        p.push(
            "phase",
            "the phases start no users; raise a user count above 0",
        );
    }
    if total > MAX_RUN_DURATION {
        p.push(
            "phase",
            format!(
                "the phases last {} in all; the limit is {}",
                format_duration(total),
                format_duration(MAX_RUN_DURATION)
            ),
        );
    }
    phases
}

/// One phase's shape, or `None` once the reason is reported. `users_before` is what earlier phases
/// started: counts are absolute and a VU runs until the run ends (nothing stops VUs early), so a
/// phase can keep or raise the count, never lower it.
///
/// A key that belongs to another kind is refused rather than ignored: `users = 500` on a ramp
/// would do nothing, and the file's author would believe the ramp stops at 500.
fn shape(file: &PhaseFile, path: &str, users_before: u64, p: &mut Problems) -> Option<Shape> {
    let Some(kind) = &file.kind else {
        p.push(
            format!("{path}.kind"),
            format!("missing; allowed: {PHASE_KINDS}"),
        );
        return None;
    };
    let below_running = |users: u64| {
        format!(
            "{users} is below the {users_before} users already started by earlier phases; stopping \
             users is not supported, so a phase can only keep or raise the user count"
        )
    };
    match kind.as_str() {
        "ramp" => {
            let ctx =
                "by a ramp (it takes start_users, step_users, step_every, max_users, hold, spread)";
            p.not_used(path, "users", file.users.is_some(), ctx);
            p.not_used(path, "duration", file.duration.is_some(), ctx);
            p.not_used(path, "rate", file.rate.is_some(), ctx);
            p.not_used(path, "level_every", file.level_every.is_some(), ctx);
            let needs = "a ramp needs step_users, step_every and max_users";
            let step_users = p.required(file.step_users, format!("{path}.step_users"), needs);
            let step_every_raw = p.required(file.step_every, format!("{path}.step_every"), needs);
            let max_users = p.required(file.max_users, format!("{path}.max_users"), needs);
            let step_every = positive(step_every_raw, format!("{path}.step_every"), p);
            if step_users == Some(0) {
                p.push(format!("{path}.step_users"), "must be at least 1, got 0");
            }
            let (step_users, step_every, max_users) = (step_users?, step_every?, max_users?);
            if step_users == 0 {
                return None;
            }
            if u64::from(max_users) < users_before {
                p.push(format!("{path}.max_users"), below_running(max_users.into()));
                return None;
            }
            // By default the first step adds one step's worth to what is already running, so a ramp
            // after a constant phase climbs on from it rather than repeating its level.
            let start_users = match file.start_users {
                Some(start) if u64::from(start) < users_before => {
                    p.push(format!("{path}.start_users"), below_running(start.into()));
                    return None;
                }
                Some(start) if start > max_users => {
                    p.push(
                        format!("{path}.start_users"),
                        format!("{start} is above max_users = {max_users}"),
                    );
                    return None;
                }
                Some(start) => start,
                None => (users_before as u32)
                    .saturating_add(step_users)
                    .min(max_users),
            };
            // Unless told otherwise the top step lasts as long as every other step.
            let hold = match file.hold {
                None => step_every,
                Some(hold) => positive(Some(hold), format!("{path}.hold"), p)?,
            };
            let spread = file.spread.map_or(Duration::ZERO, |d| d.0);
            // A step's users must all have started before the next step (or, for the top step,
            // before the phase ends): the plan's arrivals stay in time order, and each level closes
            // with exactly its target started, which is what the level is judged at.
            let several_steps = ramp_targets(start_users, step_users, max_users).len() > 1;
            if several_steps && spread > step_every {
                p.push(
                    format!("{path}.spread"),
                    format!(
                        "{} is longer than step_every = {}; each step's users must all have started \
                         before the next step",
                        format_duration(spread),
                        format_duration(step_every)
                    ),
                );
                return None;
            }
            if spread > hold {
                p.push(
                    format!("{path}.spread"),
                    format!(
                        "{} is longer than hold = {}; the top step's users must all have started \
                         before the phase ends",
                        format_duration(spread),
                        format_duration(hold)
                    ),
                );
                return None;
            }
            Some(Shape::Ramp {
                start_users,
                step_users,
                step_every,
                max_users,
                hold,
                spread,
            })
        }
        "constant" => {
            let ctx = "by a constant phase (it takes users, duration, spread)";
            p.not_used(path, "start_users", file.start_users.is_some(), ctx);
            p.not_used(path, "step_users", file.step_users.is_some(), ctx);
            p.not_used(path, "step_every", file.step_every.is_some(), ctx);
            p.not_used(path, "max_users", file.max_users.is_some(), ctx);
            p.not_used(path, "hold", file.hold.is_some(), ctx);
            p.not_used(path, "rate", file.rate.is_some(), ctx);
            p.not_used(path, "level_every", file.level_every.is_some(), ctx);
            let duration = p.required(
                file.duration,
                format!("{path}.duration"),
                r#"a constant phase needs a duration, e.g. duration = "2m""#,
            );
            let duration = positive(duration, format!("{path}.duration"), p)?;
            // Omitting `users` keeps what earlier phases started: a plain hold.
            let users = file.users.unwrap_or(users_before as u32);
            if u64::from(users) < users_before {
                p.push(format!("{path}.users"), below_running(users.into()));
                return None;
            }
            // As for a ramp: every new user starts inside the phase.
            let spread = file.spread.map_or(Duration::ZERO, |d| d.0);
            if spread > duration {
                p.push(
                    format!("{path}.spread"),
                    format!(
                        "{} is longer than duration = {}",
                        format_duration(spread),
                        format_duration(duration)
                    ),
                );
                return None;
            }
            Some(Shape::Constant {
                users,
                duration,
                spread,
            })
        }
        "arrival_rate" => {
            let ctx = "by an arrival_rate phase (it takes rate, duration, level_every)";
            p.not_used(path, "start_users", file.start_users.is_some(), ctx);
            p.not_used(path, "step_users", file.step_users.is_some(), ctx);
            p.not_used(path, "step_every", file.step_every.is_some(), ctx);
            p.not_used(path, "max_users", file.max_users.is_some(), ctx);
            p.not_used(path, "hold", file.hold.is_some(), ctx);
            p.not_used(path, "spread", file.spread.is_some(), ctx);
            p.not_used(path, "users", file.users.is_some(), ctx);
            let needs = r#"an arrival_rate phase needs rate (new users per second) and duration, e.g. rate = 10.0, duration = "1m""#;
            let rate = p.required(file.rate, format!("{path}.rate"), needs);
            let duration = p.required(file.duration, format!("{path}.duration"), needs);
            let duration = positive(duration, format!("{path}.duration"), p);
            // Arrival instants divide by the rate: zero, negative, NaN or infinite rates have none.
            if let Some(rate) = rate
                && !(rate.is_finite() && rate > 0.0)
            {
                p.push(
                    format!("{path}.rate"),
                    format!("must be a number of new users per second above 0, got {rate}"),
                );
                return None;
            }
            let (rate, duration) = (rate?, duration?);
            let level_every = match file.level_every {
                // A phase shorter than the default is one level.
                None => DEFAULT_LEVEL_EVERY.min(duration),
                Some(d) => positive(Some(d), format!("{path}.level_every"), p)?,
            };
            let count = arrival_rate_count(rate, duration);
            if count > MAX_PLANNED_USERS {
                p.push(
                    format!("{path}.rate"),
                    format!(
                        "{rate}/s for {} starts {count} users; the limit is {MAX_PLANNED_USERS} per run",
                        format_duration(duration)
                    ),
                );
                return None;
            }
            Some(Shape::ArrivalRate {
                rate,
                duration,
                level_every,
            })
        }
        other => {
            p.push(
                format!("{path}.kind"),
                format!("unknown kind {other:?}; allowed: {PHASE_KINDS}"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::Scenario;
    use crate::scenario::validate::tests::{BASE, FILE, assert_error, with};

    #[test]
    fn ranges_say_what_is_allowed() {
        assert_error(
            &with("step_users = 10", "step_users = 0"),
            "phase[0].step_users",
            &["at least 1, got 0"],
        );
        assert_error(
            &with(r#""30s""#, r#""0s""#),
            "phase[0].step_every",
            &["longer than 0s"],
        );
        assert_error(
            &with("max_users = 100", "max_users = 100\nspread = \"40s\""),
            "phase[0].spread",
            &["longer than step_every = 30s"],
        );
    }

    #[test]
    fn closed_sets_list_their_members() {
        assert_error(
            &with(r#"kind = "ramp""#, r#"kind = "rmp""#),
            "phase[0].kind",
            &[
                r#"unknown kind "rmp""#,
                "allowed: ramp, constant, arrival_rate",
            ],
        );
        assert_error(
            &with("kind = \"ramp\"\n", ""),
            "phase[0].kind",
            &["missing", "allowed: ramp, constant, arrival_rate"],
        );
    }

    #[test]
    fn keys_of_another_kind_are_refused_with_the_right_ones() {
        assert_error(
            &with("max_users = 100", "max_users = 100\nusers = 5"),
            "phase[0].users",
            &[
                "not used by a ramp",
                "start_users, step_users, step_every, max_users, hold, spread",
            ],
        );
        assert_error(
            &with("max_users = 100\n", ""),
            "phase[0].max_users",
            &[
                "missing",
                "a ramp needs step_users, step_every and max_users",
            ],
        );
    }

    #[test]
    fn at_least_one_phase_is_required() {
        let no_phase = format!("[[flow]]{}", BASE.split("[[flow]]").nth(1).unwrap());
        assert_error(&no_phase, "phase", &["at least one [[phase]] is required"]);
    }

    #[test]
    fn phases_cannot_lower_the_user_count() {
        let text =
            format!("{BASE}\n[[phase]]\nkind = \"constant\"\nusers = 50\nduration = \"1m\"\n");
        assert_error(
            &text.replace(
                "[[flow]]",
                "[[phase]]\nkind = \"constant\"\nusers = 50\nduration = \"1m\"\n[[flow]]",
            ),
            "phase[1].users",
            &[
                "50 is below the 100 users already started",
                "stopping users is not supported",
            ],
        );
        // Keeping the count, or omitting `users` to hold what is running, is fine.
        let hold = with(
            "[[flow]]",
            "[[phase]]\nkind = \"constant\"\nduration = \"1m\"\n[[flow]]",
        );
        let s = Scenario::from_toml(&hold, FILE).unwrap();
        assert_eq!(s.phases[1].name, "constant");
    }
}
