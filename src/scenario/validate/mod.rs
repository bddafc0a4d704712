//! From [`ScenarioFile`] to [`Scenario`]: fill defaults, check every value, check the protocol order
//! of each flow. All problems are collected (not just the first) so an organizer fixes a file in one
//! pass; each names its field path and what is allowed.

use std::collections::HashMap;
use std::time::Duration;

use super::duration::{DurationValue, format_duration};
use super::error::{Problem, ScenarioError, line_column, tidy_serde_message};
use super::model::{
    FlowFile, MessagesFile, PhaseFile, RoomsFile, ScenarioFile, StepFile, ThresholdFile,
    TimeoutsFile, VerifyFile,
};
use super::{Phase, Scenario, Shape};
use crate::base::kinds::Op;
use crate::engine::plan::{Flow, MessageSpec, RoomAssignment, RoomPolicy, Step, Threshold, Verify};

/// Most VUs one plan may start. VU indexes are `u32` and the plan holds one arrival per VU; far
/// beyond what one load machine can hold open (about 20,000 files per process here).
pub const MAX_PLANNED_USERS: u64 = 1_000_000;

/// Longest run one plan may describe; anything longer is surely a typo in a duration.
pub const MAX_RUN_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Largest `messages.size`: Socket.IO's default max payload is 1 MB, and the event envelope needs
/// some of it.
pub const MAX_MESSAGE_SIZE: u32 = 900_000;

/// Largest profile image the protocol accepts (5 MB).
const MAX_PROFILE_IMAGE: u32 = 5 * 1024 * 1024;

/// Defaults, as the competition ran.
const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_DELIVERY_DEADLINE: Duration = Duration::from_secs(10);
/// Added to the delivery deadline for receipts and reaction updates by default: how long a server
/// may take to converge on pushes it thinned under load (the reference server's `converge_within`).
const RECEIPT_CONVERGENCE: Duration = Duration::from_secs(10);
/// Default bound above which a delivery counts as late: the default delivery SLO of the scoring
/// rules (`delivery_p99_slo_ms`), so levels.csv shows how many deliveries broke it.
const DEFAULT_LATE_AFTER: Duration = Duration::from_secs(1);
const DEFAULT_USERS_PER_ROOM: u32 = 10;
const DEFAULT_PAGE_SIZE: u32 = 10;
const DEFAULT_LEVEL_EVERY: Duration = Duration::from_secs(10);
const DEFAULT_SEND_INTERVAL: Duration = Duration::from_secs(1);
const MIN_READ_EVERY: Duration = Duration::from_millis(100);
const MAX_READ_EVERY: Duration = Duration::from_secs(3600);

const PHASE_KINDS: &str = "ramp, constant, arrival_rate";
const ASSIGNMENTS: &str = "groups, shared";
const METRICS: &str = "vu_failure_ratio, request_failure_ratio, latency, delivery_missing, \
                       receipt_missing, reaction_missing";
const AIS: [&str; 2] = ["wayneAI", "consultingAI"];

/// Parses TOML text into the file model, turning syntax and type errors into [`ScenarioError`]s with
/// line, column and field path.
pub fn read_toml(text: &str, file: &str) -> Result<ScenarioFile, ScenarioError> {
    let deserializer = toml::Deserializer::parse(text).map_err(|e| {
        let (line, column) = line_column(text, e.span().map_or(0, |s| s.start));
        ScenarioError::Syntax {
            file: file.to_owned(),
            line,
            column,
            message: e.message().trim().replace('\n', "; "),
        }
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner();
        let mut message = tidy_serde_message(inner.message());
        if ["phase", "flow", "threshold"].contains(&path.as_str())
            && message.contains("expected an array")
        {
            message.push_str(&format!(
                " (write [[{path}]] with double brackets: a file may have several)"
            ));
        }
        ScenarioError::Invalid {
            file: file.to_owned(),
            problems: vec![Problem {
                path: if path == "." { String::new() } else { path },
                message,
                location: inner.span().map(|s| line_column(text, s.start)),
            }],
        }
    })
}

/// Collects problems while validating.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem::at(path, message));
    }

    /// `key` must be absent in this context; says which keys the context takes instead.
    fn not_used(&mut self, path: &str, key: &str, set: bool, context: &str) {
        if set {
            self.push(format!("{path}.{key}"), format!("not used {context}"));
        }
    }

    fn required<T>(&mut self, value: Option<T>, path: String, hint: &str) -> Option<T> {
        if value.is_none() {
            self.push(path, format!("missing; {hint}"));
        }
        value
    }
}

/// Validates a parsed file. `default_name` is used when the file has no `name`.
pub fn validate(file: ScenarioFile, default_name: &str) -> Result<Scenario, Vec<Problem>> {
    let mut p = Problems::default();

    let name = match file.name {
        Some(name) if name.trim().is_empty() => {
            p.push("name", "must not be empty (it names the results directory)");
            String::new()
        }
        Some(name) => name.trim().to_owned(),
        None => default_name.to_owned(),
    };

    let phases = phases(&file.phase, &mut p);
    let flows = flows(&file.flow, &mut p);
    let rooms = rooms(&file.rooms, &mut p);
    let messages = messages(&file.messages, &mut p);
    let (step_timeout, verify) = timeouts(&file.timeouts, &file.verify, &mut p);
    let thresholds = file
        .threshold
        .iter()
        .enumerate()
        .filter_map(|(i, t)| threshold(t, &format!("threshold[{i}]"), &mut p))
        .collect();

    if !p.0.is_empty() {
        return Err(p.0);
    }
    Ok(Scenario {
        name,
        description: file.description,
        seed: file.seed,
        phases,
        flows,
        rooms,
        messages,
        step_timeout,
        verify,
        thresholds,
    })
}

fn positive(d: Option<DurationValue>, path: String, p: &mut Problems) -> Option<Duration> {
    let d = d?.0;
    if d.is_zero() {
        p.push(path, "must be longer than 0s");
        return None;
    }
    Some(d)
}

fn phases(files: &[PhaseFile], p: &mut Problems) -> Vec<Phase> {
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

/// Users started after the phase and its length, given the users started before it.
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
    let mut targets = vec![start.min(max)];
    let mut level = start.min(max);
    while level < max {
        level = level.saturating_add(step.max(1)).min(max);
        targets.push(level);
    }
    targets
}

/// Offset of the `i`-th arrival of an arrival-rate phase, in nanoseconds from the phase start.
pub(crate) fn arrival_rate_offset(i: u64, rate: f64) -> u64 {
    (i as f64 * 1e9 / rate).round() as u64
}

/// Number of arrivals of an arrival-rate phase: every `i` whose offset falls inside the phase.
pub(crate) fn arrival_rate_count(rate: f64, duration: Duration) -> u64 {
    let end = duration.as_nanos() as f64;
    // Start near the exact answer and correct for rounding, so huge rates cost nothing here.
    let estimate = (end * rate / 1e9).ceil();
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
            // By default the first step adds one step's worth to what is already running.
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
            let hold = match file.hold {
                None => step_every,
                Some(hold) => positive(Some(hold), format!("{path}.hold"), p)?,
            };
            let spread = file.spread.map_or(Duration::ZERO, |d| d.0);
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

fn rooms(file: &RoomsFile, p: &mut Problems) -> RoomPolicy {
    let assignment = match file.assignment.as_deref().unwrap_or("groups") {
        "groups" => {
            p.not_used(
                "rooms",
                "rooms",
                file.rooms.is_some(),
                "with assignment = \"groups\" (it takes users_per_room)",
            );
            let size = file.users_per_room.unwrap_or(DEFAULT_USERS_PER_ROOM);
            if size < 2 {
                p.push(
                    "rooms.users_per_room",
                    format!(
                        "must be at least 2, got {size} (a room needs someone to deliver messages to)"
                    ),
                );
            }
            RoomAssignment::Groups { size }
        }
        "shared" => {
            p.not_used(
                "rooms",
                "users_per_room",
                file.users_per_room.is_some(),
                "with assignment = \"shared\" (it takes rooms)",
            );
            let rooms = p
                .required(
                    file.rooms,
                    "rooms.rooms".to_owned(),
                    "shared assignment needs the number of rooms, e.g. rooms = 20",
                )
                .unwrap_or(1);
            if rooms == 0 {
                p.push("rooms.rooms", "must be at least 1, got 0");
            }
            RoomAssignment::Shared { rooms }
        }
        other => {
            p.push(
                "rooms.assignment",
                format!("unknown assignment {other:?}; allowed: {ASSIGNMENTS}"),
            );
            RoomAssignment::Groups {
                size: DEFAULT_USERS_PER_ROOM,
            }
        }
    };
    let hot_room_share = file.hot_room_share.unwrap_or(0.0);
    check_ratio(hot_room_share, "rooms.hot_room_share", p);
    if file.password.as_deref() == Some("") {
        p.push(
            "rooms.password",
            "must not be empty; omit it for rooms without a password",
        );
    }
    RoomPolicy {
        assignment,
        hot_room_share,
        password: file.password.clone(),
    }
}

fn check_ratio(value: f64, path: &str, p: &mut Problems) {
    if !(0.0..=1.0).contains(&value) {
        p.push(
            path,
            format!("must be a ratio from 0.0 to 1.0 (0.01 = 1 %), got {value}"),
        );
    }
}

fn messages(file: &MessagesFile, p: &mut Problems) -> MessageSpec {
    let text = file.text.clone().unwrap_or_else(|| "hello".to_owned());
    if text.trim().is_empty() {
        p.push(
            "messages.text",
            "must not be empty (the server ignores empty messages)",
        );
    }
    let size = file.size.unwrap_or(0);
    if size > MAX_MESSAGE_SIZE {
        p.push(
            "messages.size",
            format!(
                "must be at most {MAX_MESSAGE_SIZE} bytes (Socket.IO's default max payload is 1 MB), \
                 got {size}"
            ),
        );
    }
    MessageSpec { text, size }
}

/// The step budget and the verification settings: `[timeouts]` and `[verify]`.
fn timeouts(file: &TimeoutsFile, verify: &VerifyFile, p: &mut Problems) -> (Duration, Verify) {
    let mut duration = |d: Option<DurationValue>, default: Duration, path: &str| match d {
        None => default,
        Some(d) => positive(Some(d), path.to_owned(), p).unwrap_or_default(),
    };
    let step = duration(file.step, DEFAULT_STEP_TIMEOUT, "timeouts.step");
    let delivery = duration(
        file.delivery,
        DEFAULT_DELIVERY_DEADLINE,
        "timeouts.delivery",
    );
    // Receipts may be merged and delayed on purpose: they get the delivery deadline plus the
    // convergence time the protocol documents for owed pushes.
    let receipt = duration(
        file.receipt,
        delivery + RECEIPT_CONVERGENCE,
        "timeouts.receipt",
    );
    let late_after = duration(verify.late_after, DEFAULT_LATE_AFTER, "verify.late_after");
    (
        step,
        Verify {
            delivery_deadline: delivery,
            receipt_deadline: receipt,
            late_after,
            fails_vu: verify.delivery_fails_vu.unwrap_or(false),
        },
    )
}

fn threshold(file: &ThresholdFile, path: &str, p: &mut Problems) -> Option<Threshold> {
    let Some(metric) = &file.metric else {
        p.push(
            format!("{path}.metric"),
            format!("missing; allowed: {METRICS}"),
        );
        return None;
    };
    let ratio_or_count = "(it takes max)";
    match metric.as_str() {
        "vu_failure_ratio"
        | "request_failure_ratio"
        | "delivery_missing"
        | "receipt_missing"
        | "reaction_missing" => {
            let ctx = format!("by metric = {metric:?} {ratio_or_count}");
            p.not_used(path, "op", file.op.is_some(), &ctx);
            p.not_used(path, "percentile", file.percentile.is_some(), &ctx);
            p.not_used(path, "max_ms", file.max_ms.is_some(), &ctx);
            let max = p.required(
                file.max,
                format!("{path}.max"),
                &format!("metric = {metric:?} needs max"),
            )?;
            if metric.ends_with("_missing") {
                if !(max >= 0.0 && max.fract() == 0.0 && max <= u64::MAX as f64) {
                    p.push(
                        format!("{path}.max"),
                        format!("must be a whole number (a count), 0 or more, got {max}"),
                    );
                    return None;
                }
                let max = max as u64;
                return Some(match metric.as_str() {
                    "delivery_missing" => Threshold::DeliveryMissing { max },
                    "receipt_missing" => Threshold::ReceiptMissing { max },
                    _ => Threshold::ReactionMissing { max },
                });
            }
            check_ratio(max, &format!("{path}.max"), p);
            Some(if metric == "vu_failure_ratio" {
                Threshold::VuFailureRatio { max }
            } else {
                Threshold::RequestFailureRatio { max }
            })
        }
        "latency" => {
            p.not_used(
                path,
                "max",
                file.max.is_some(),
                "by metric = \"latency\" (it takes op, percentile, max_ms)",
            );
            let needs = r#"a latency threshold needs op, percentile and max_ms, e.g. op = "delivery", percentile = 99.0, max_ms = 200"#;
            let op = p.required(file.op.as_ref(), format!("{path}.op"), needs);
            let percentile = p.required(file.percentile, format!("{path}.percentile"), needs);
            let max_ms = p.required(file.max_ms, format!("{path}.max_ms"), needs);
            if let Some(op) = op
                && Op::from_name(op).is_none()
            {
                let names: Vec<&str> = Op::ALL.iter().map(|op| op.name()).collect();
                p.push(
                    format!("{path}.op"),
                    format!("unknown operation {op:?}; allowed: {}", names.join(", ")),
                );
            }
            if let Some(pct) = percentile
                && !(pct > 0.0 && pct <= 100.0)
            {
                p.push(
                    format!("{path}.percentile"),
                    format!("must be above 0 and at most 100 (e.g. 99.0), got {pct}"),
                );
            }
            if let Some(ms) = max_ms
                && !(ms.is_finite() && ms > 0.0)
            {
                p.push(
                    format!("{path}.max_ms"),
                    format!("must be a number of milliseconds above 0, got {ms}"),
                );
            }
            Some(Threshold::Latency {
                op: op?.clone(),
                percentile: percentile?,
                max_ms: max_ms?,
            })
        }
        other => {
            p.push(
                format!("{path}.metric"),
                format!("unknown metric {other:?}; allowed: {METRICS}"),
            );
            None
        }
    }
}

fn flows(files: &[FlowFile], p: &mut Problems) -> Vec<Flow> {
    if files.is_empty() {
        p.push(
            "flow",
            r#"at least one [[flow]] is required, e.g. [[flow]] with steps = [{ register = { login = true } }, "enter_room", "connect", "join_room", "hold"]"#,
        );
        return Vec::new();
    }
    if files.len() > usize::from(u16::MAX) + 1 {
        p.push("flow", "at most 65536 flows are supported");
        return Vec::new();
    }
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut total_weight: u64 = 0;
    let mut flows = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let path = format!("flow[{i}]");
        let name = file
            .name
            .as_deref()
            .map(str::trim)
            .map_or_else(|| format!("flow{i}"), str::to_owned);
        if name.is_empty() {
            p.push(format!("{path}.name"), "must not be empty");
        } else if let Some(first) = names.insert(name.clone(), i) {
            p.push(
                format!("{path}.name"),
                format!("{name:?} is already used by flow[{first}]; flow names must be unique"),
            );
        }
        let weight = file.weight.unwrap_or(1);
        if weight == 0 {
            p.push(
                format!("{path}.weight"),
                "must be at least 1, got 0 (remove a flow nobody should run)",
            );
        }
        total_weight += u64::from(weight);
        if file.steps.is_empty() {
            p.push(
                format!("{path}.steps"),
                "must list at least one step; allowed steps: register, health, list_rooms, enter_room, connect, get_room, join_room, fetch_history, send_messages, react, mark_read, upload_file, profile_image, ai_mention, think, hold, leave_room",
            );
        }
        let steps = file
            .steps
            .iter()
            .enumerate()
            .filter_map(|(j, step)| step_params(step, &format!("{path}.steps[{j}]"), p))
            .collect();
        check_order(&file.steps, &path, p);
        flows.push(Flow {
            name,
            weight,
            steps,
        });
    }
    if total_weight > u64::from(u32::MAX) {
        p.push(
            "flow",
            format!("the weights add up to {total_weight}; keep the sum below 4294967296"),
        );
    }
    flows
}

/// Mime families the protocol's upload accepts, with their size limits.
fn upload_limit(mime: &str) -> Option<u32> {
    const MB: u32 = 1024 * 1024;
    let family = mime.split('/').next().unwrap_or("");
    match (family, mime) {
        ("image", _) => Some(10 * MB),
        ("video", _) => Some(50 * MB),
        ("audio", _) => Some(20 * MB),
        (
            _,
            "application/pdf"
            | "application/msword"
            | "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ) => Some(20 * MB),
        _ => None,
    }
}

/// Checks one step's parameters and converts it, unscaled, to the plan's [`Step`].
fn step_params(step: &StepFile, path: &str, p: &mut Problems) -> Option<Step> {
    let name = step.name();
    let at = |field: &str| format!("{path}.{name}.{field}");
    Some(match step {
        StepFile::Register { login } => Step::Register {
            login: login.unwrap_or(true),
        },
        StepFile::Health => Step::Health,
        StepFile::ListRooms { page_size } => {
            let page_size = page_size.unwrap_or(DEFAULT_PAGE_SIZE);
            if !(1..=50).contains(&page_size) {
                p.push(
                    at("page_size"),
                    format!("must be from 1 to 50 (the server's largest page), got {page_size}"),
                );
            }
            Step::ListRooms { page_size }
        }
        StepFile::EnterRoom => Step::EnterRoom,
        StepFile::Connect => Step::Connect,
        StepFile::GetRoom => Step::GetRoom,
        StepFile::JoinRoom => Step::JoinRoom,
        StepFile::FetchHistory { pages } => {
            let pages = pages.unwrap_or(1);
            if pages == 0 {
                p.push(at("pages"), "must be at least 1, got 0");
            }
            Step::FetchHistory { pages }
        }
        StepFile::SendMessages {
            count,
            interval,
            mark_read,
            read_every,
        } => {
            if *count == Some(0) {
                p.push(
                    at("count"),
                    "must be at least 1, got 0 (omit count to send until the run ends)",
                );
            }
            let interval = interval.map_or(DEFAULT_SEND_INTERVAL, |d| d.0);
            if count.is_none() && interval.is_zero() {
                p.push(
                    at("interval"),
                    "must be longer than 0s when count is omitted (sending until the run ends)",
                );
            }
            let read_every = read_every.map(|d| d.0);
            if let Some(every) = read_every
                && !(MIN_READ_EVERY..=MAX_READ_EVERY).contains(&every)
            {
                p.push(
                    at("read_every"),
                    format!(
                        "must be from {} to {}, got {} (omit it to mark nothing read between messages)",
                        super::format_duration(MIN_READ_EVERY),
                        super::format_duration(MAX_READ_EVERY),
                        super::format_duration(every)
                    ),
                );
            }
            Step::SendMessages {
                count: *count,
                interval,
                mark_read: mark_read.unwrap_or(false),
                read_every,
            }
        }
        StepFile::React { reaction } => {
            let reaction = reaction.clone().unwrap_or_else(|| "👍".to_owned());
            if reaction.trim().is_empty() {
                p.push(at("reaction"), r#"must not be empty, e.g. reaction = "👍""#);
            }
            Step::React { reaction }
        }
        StepFile::MarkRead => Step::MarkRead,
        StepFile::UploadFile { bytes, mime } => {
            let bytes = bytes.unwrap_or(10 * 1024);
            let mime = mime.clone().unwrap_or_else(|| "image/png".to_owned());
            match upload_limit(&mime) {
                None => p.push(
                    at("mime"),
                    format!(
                        "{mime:?} is not a type the server accepts; allowed: image/*, video/*, audio/*, \
                         application/pdf, application/msword, \
                         application/vnd.openxmlformats-officedocument.wordprocessingml.document"
                    ),
                ),
                Some(limit) if bytes == 0 || bytes > limit => p.push(
                    at("bytes"),
                    format!("must be from 1 to {limit} for {mime}, got {bytes}"),
                ),
                Some(_) => {}
            }
            Step::UploadFile { bytes, mime }
        }
        StepFile::ProfileImage { bytes } => {
            let bytes = bytes.unwrap_or(4096);
            if bytes == 0 || bytes > MAX_PROFILE_IMAGE {
                p.push(
                    at("bytes"),
                    format!("must be from 1 to {MAX_PROFILE_IMAGE} (5 MB), got {bytes}"),
                );
            }
            Step::ProfileImage { bytes }
        }
        StepFile::AiMention { ai } => {
            let ai = ai.clone().unwrap_or_else(|| AIS[0].to_owned());
            if !AIS.contains(&ai.as_str()) {
                p.push(
                    at("ai"),
                    format!("unknown AI {ai:?}; allowed: {}", AIS.join(", ")),
                );
            }
            Step::AiMention { ai }
        }
        StepFile::Think { min, max } => {
            let Some(min) = min else {
                p.push(
                    at("min"),
                    r#"missing; write e.g. { think = { min = "1s", max = "3s" } }"#,
                );
                return None;
            };
            let max = max.unwrap_or(*min);
            if max.0 < min.0 {
                p.push(
                    at("max"),
                    format!(
                        "{} is shorter than min = {}",
                        format_duration(max.0),
                        format_duration(min.0)
                    ),
                );
            }
            Step::Think {
                min: min.0,
                max: max.0,
            }
        }
        StepFile::Hold => Step::Hold,
        StepFile::LeaveRoom => Step::LeaveRoom,
    })
}

/// Checks that a flow's steps follow the protocol's session order:
/// `register → enter_room → connect → join_room → room steps`, `hold` last, and an endless
/// `send_messages` followed by nothing but `hold`. A missing prerequisite is reported once, at the
/// first step that needs it.
fn check_order(steps: &[StepFile], flow: &str, p: &mut Problems) {
    const ORDER: &str = "the session order is register → enter_room → connect → join_room";
    let mut authed = false;
    let mut entered = false;
    let mut connected = false;
    let mut joined = false;
    let mut endless_send: Option<usize> = None;
    let last = steps.len().saturating_sub(1);
    for (i, step) in steps.iter().enumerate() {
        let path = format!("{flow}.steps[{i}]");
        let name = step.name();
        if let Some(send) = endless_send
            && !matches!(step, StepFile::Hold)
        {
            p.push(
                path.clone(),
                format!(
                    "{name} can never run: steps[{send}] is send_messages without count, which sends \
                     until the run ends; give it a count or make it the last step (only hold may follow it)"
                ),
            );
            endless_send = None; // once is enough
        }
        let mut need = |ok: &mut bool, what: &str, why: &str| {
            if !*ok {
                p.push(
                    path.clone(),
                    format!("{name} needs {what} first ({why}); {ORDER}"),
                );
                *ok = true; // report each missing prerequisite once
            }
        };
        match step {
            StepFile::Register { .. } => {
                if authed {
                    p.push(
                        path.clone(),
                        "register may appear only once per flow (each VU is one user)",
                    );
                }
                authed = true;
            }
            StepFile::Health | StepFile::Think { .. } => {}
            StepFile::ListRooms { .. } | StepFile::ProfileImage { .. } => {
                need(&mut authed, "register", "the server requires a login");
            }
            StepFile::EnterRoom => {
                need(&mut authed, "register", "the server requires a login");
                if entered {
                    p.push(
                        path.clone(),
                        "enter_room may appear only once per flow (each VU has one room)",
                    );
                }
                entered = true;
            }
            StepFile::GetRoom => {
                need(&mut entered, "enter_room", "it reads the VU's room");
            }
            StepFile::Connect => {
                need(
                    &mut authed,
                    "register",
                    "the socket authenticates with the login's token",
                );
                if connected {
                    p.push(
                        path.clone(),
                        "connect may appear only once per flow: a second socket of the same user \
                         triggers the server's duplicate-login handling",
                    );
                }
                connected = true;
            }
            StepFile::JoinRoom => {
                need(
                    &mut entered,
                    "enter_room",
                    "the VU must be a member of the room",
                );
                need(&mut connected, "connect", "joinRoom is a socket event");
                if joined {
                    p.push(
                        path.clone(),
                        "join_room: the VU is already in its room (leave_room first to join again)",
                    );
                }
                joined = true;
            }
            StepFile::FetchHistory { .. }
            | StepFile::SendMessages { .. }
            | StepFile::React { .. }
            | StepFile::MarkRead
            | StepFile::UploadFile { .. }
            | StepFile::AiMention { .. }
            | StepFile::LeaveRoom => {
                need(&mut entered, "enter_room", "it acts in the VU's room");
                need(&mut connected, "connect", "it runs on the socket");
                need(&mut joined, "join_room", "the socket must be in the room");
                match step {
                    StepFile::LeaveRoom => joined = false,
                    StepFile::SendMessages { count: None, .. } => endless_send = Some(i),
                    _ => {}
                }
            }
            StepFile::Hold => {
                need(&mut connected, "connect", "hold keeps the socket open");
                if i != last {
                    p.push(
                        path.clone(),
                        format!(
                            "hold must be the last step (it keeps the session until the run ends), \
                             but {} step(s) follow it",
                            last - i
                        ),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Scenario, ScenarioError};
    use super::{DEFAULT_SEND_INTERVAL, Step};

    const FILE: &str = "scenarios/x.toml";

    /// A valid scenario to break one piece of at a time.
    const BASE: &str = r#"
[[phase]]
kind = "ramp"
start_users = 10
step_users = 10
step_every = "30s"
max_users = 100

[[flow]]
steps = ["register", "enter_room", "connect", "join_room", { send_messages = { count = 3 } }, "hold"]
"#;

    fn with(from: &str, to: &str) -> String {
        assert!(BASE.contains(from), "BASE has no {from:?}");
        BASE.replacen(from, to, 1)
    }

    fn error(text: &str) -> String {
        match Scenario::from_toml(text, FILE) {
            Ok(s) => panic!("expected an error, got {s:#?}"),
            Err(e) => e.to_string(),
        }
    }

    /// The error names the file, the field path, and every `needle` (what is allowed).
    #[track_caller]
    fn assert_error(text: &str, path: &str, needles: &[&str]) {
        let err = error(text);
        let line = err
            .lines()
            .find(|line| line.contains(&format!(": {path}: ")))
            .unwrap_or_else(|| panic!("no problem at {path} in:\n{err}"));
        assert!(line.starts_with(FILE), "{line}");
        for needle in needles {
            assert!(line.contains(needle), "{needle:?} not in: {line}");
        }
    }

    #[test]
    fn send_messages_may_mark_what_arrived_as_read() {
        let step = |params: &str| {
            let text = with("{ count = 3 }", params);
            Scenario::from_toml(&text, FILE).unwrap().flows[0].steps[4].clone()
        };
        assert_eq!(
            step("{ count = 3, mark_read = true }"),
            Step::SendMessages {
                count: Some(3),
                interval: DEFAULT_SEND_INTERVAL,
                mark_read: true,
                read_every: None,
            }
        );
        assert_eq!(
            step("{ count = 3 }"),
            Step::SendMessages {
                count: Some(3),
                interval: DEFAULT_SEND_INTERVAL,
                mark_read: false,
                read_every: None,
            }
        );
        assert_eq!(
            step(r#"{ count = 3, read_every = "1s" }"#),
            Step::SendMessages {
                count: Some(3),
                interval: DEFAULT_SEND_INTERVAL,
                mark_read: false,
                read_every: Some(std::time::Duration::from_secs(1)),
            }
        );
        assert_error(
            &with("{ count = 3 }", r#"{ count = 3, read_every = "10ms" }"#),
            "flow[0].steps[4].send_messages.read_every",
            &["must be from 100ms to 1h, got 10ms"],
        );
    }

    #[test]
    fn base_is_valid() {
        let s = Scenario::from_toml(BASE, FILE).unwrap();
        assert_eq!(s.name, "x", "the name defaults to the file stem");
    }

    #[test]
    fn duration_errors_show_examples_and_location() {
        let err = error(&with(r#""30s""#, r#""30""#));
        assert_eq!(
            err,
            r#"scenarios/x.toml:6:14: phase[0].step_every: "30" is not a duration (write e.g. "30s", "500ms", "2m", "1h", "1.5s")"#
        );
        assert_error(
            &with(r#""30s""#, "30"),
            "phase[0].step_every",
            &["30 is not a duration", "strings with a unit", r#""500ms""#],
        );
        assert_error(
            &with("count = 3", r#"count = 3, interval = "1 sec""#),
            "flow[0].steps[4].send_messages.interval",
            &[r#""1 sec" is not a duration"#, r#""2m""#],
        );
    }

    #[test]
    fn unknown_step_lists_allowed_steps() {
        assert_error(
            &with(r#""join_room""#, r#""joinroom""#),
            "flow[0].steps[3]",
            &[
                r#"unknown step "joinroom""#,
                "allowed: register, health, list_rooms,",
                "hold",
            ],
        );
    }

    #[test]
    fn unknown_keys_list_allowed_keys() {
        assert_error(
            &with("step_every", "stepevery"),
            "phase[0].stepevery",
            &[
                r#"unknown key "stepevery""#,
                "allowed: name, kind, start_users",
            ],
        );
        assert_error(
            &with("count = 3", "cnt = 3"),
            "flow[0].steps[4].send_messages.cnt",
            &[r#"unknown key "cnt""#, "allowed: count, interval"],
        );
        assert_error(
            &format!("{BASE}\n[rooms]\nsize = 3\n"),
            "rooms.size",
            &["allowed: assignment, users_per_room, rooms, hot_room_share, password"],
        );
        assert_error(
            &format!("colour = 1\n{BASE}"),
            "colour",
            &["allowed: name, description, seed, phase, rooms"],
        );
    }

    #[test]
    fn toml_syntax_errors_have_line_and_column() {
        let err = error(&with("[[phase]]", "[[phase]\n"));
        assert!(
            err.starts_with("scenarios/x.toml:2:9: TOML syntax error:"),
            "{err}"
        );
        let err = error(&with("[[phase]]", "[phase]"));
        assert!(err.contains("scenarios/x.toml:2:1: phase:"), "{err}");
        assert!(
            err.contains("write [[phase]] with double brackets"),
            "{err}"
        );
    }

    #[test]
    fn type_errors_say_what_is_expected() {
        assert_error(
            &with("max_users = 100", r#"max_users = "100""#),
            "phase[0].max_users",
            &["expected a whole number"],
        );
        assert_error(
            &with("max_users = 100", "max_users = -5"),
            "phase[0].max_users",
            &["-5", "expected a whole number from 0"],
        );
    }

    #[test]
    fn ranges_say_what_is_allowed() {
        assert_error(
            &format!("{BASE}\n[rooms]\nusers_per_room = 1\n"),
            "rooms.users_per_room",
            &["must be at least 2, got 1"],
        );
        assert_error(
            &format!("{BASE}\n[rooms]\nhot_room_share = 1.5\n"),
            "rooms.hot_room_share",
            &["ratio from 0.0 to 1.0", "got 1.5"],
        );
        assert_error(
            &with(
                r#""register", "enter_room""#,
                r#""register", { list_rooms = { page_size = 60 } }, "enter_room""#,
            ),
            "flow[0].steps[1].list_rooms.page_size",
            &["from 1 to 50", "got 60"],
        );
        assert_error(
            &format!("{BASE}\n[[threshold]]\nmetric = \"vu_failure_ratio\"\nmax = 2\n"),
            "threshold[0].max",
            &["ratio from 0.0 to 1.0", "got 2"],
        );
        assert_error(
            &format!("{BASE}\n[[threshold]]\nmetric = \"delivery_missing\"\nmax = 0.5\n"),
            "threshold[0].max",
            &["whole number (a count)"],
        );
        assert_error(
            &format!(
                "{BASE}\n[[threshold]]\nmetric = \"latency\"\nop = \"delivery\"\npercentile = 101.0\nmax_ms = 200\n"
            ),
            "threshold[0].percentile",
            &["at most 100", "got 101"],
        );
        assert_error(
            &format!("{BASE}\n[messages]\ntext = \"  \"\n"),
            "messages.text",
            &["must not be empty"],
        );
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
        assert_error(
            &format!("{BASE}\n[rooms]\nassignment = \"random\"\n"),
            "rooms.assignment",
            &[r#"unknown assignment "random""#, "allowed: groups, shared"],
        );
        assert_error(
            &format!("{BASE}\n[[threshold]]\nmetric = \"p99\"\nmax = 1\n"),
            "threshold[0].metric",
            &[
                "allowed: vu_failure_ratio, request_failure_ratio, latency, delivery_missing, receipt_missing, reaction_missing",
            ],
        );
        assert_error(
            &format!(
                "{BASE}\n[[threshold]]\nmetric = \"latency\"\nop = \"deliver\"\npercentile = 99.0\nmax_ms = 200\n"
            ),
            "threshold[0].op",
            &[
                r#"unknown operation "deliver""#,
                "allowed: register, login,",
                "delivery",
                "hold",
            ],
        );
        assert_error(
            &with(r#""hold""#, r#"{ ai_mention = { ai = "gpt" } }, "hold""#),
            "flow[0].steps[5].ai_mention.ai",
            &["allowed: wayneAI, consultingAI"],
        );
        assert_error(
            &with(
                r#""hold""#,
                r#"{ upload_file = { mime = "text/html" } }, "hold""#,
            ),
            "flow[0].steps[5].upload_file.mime",
            &["image/*", "application/pdf"],
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
        assert_error(
            &format!("{BASE}\n[rooms]\nassignment = \"shared\"\n"),
            "rooms.rooms",
            &["missing", "rooms = 20"],
        );
    }

    #[test]
    fn protocol_order_is_checked() {
        assert_error(
            &with(r#""connect", "join_room""#, r#""join_room""#),
            "flow[0].steps[2]",
            &[
                "join_room needs connect first",
                "register → enter_room → connect → join_room",
            ],
        );
        assert_error(
            &with(r#""register", "enter_room""#, r#""enter_room""#),
            "flow[0].steps[0]",
            &["enter_room needs register first"],
        );
        assert_error(
            &with(r#""join_room", { send"#, r#"{ send"#),
            "flow[0].steps[3]",
            &["send_messages needs join_room first"],
        );
        assert_error(
            &with(r#""hold"]"#, r#""hold", "health"]"#),
            "flow[0].steps[5]",
            &["hold must be the last step", "1 step(s) follow it"],
        );
        assert_error(
            &with("{ count = 3 }", r#"{ interval = "2s" }"#)
                .replace(r#""hold""#, r#""mark_read", "hold""#),
            "flow[0].steps[5]",
            &[
                "mark_read can never run",
                "send_messages without count",
                "only hold may follow",
            ],
        );
        assert_error(
            &with(r#""connect","#, r#""connect", "connect","#),
            "flow[0].steps[3]",
            &["connect may appear only once", "duplicate-login"],
        );
        assert_error(
            &with(
                r#"{ send_messages = { count = 3 } }"#,
                r#"{ think = { max = "1s" } }"#,
            ),
            "flow[0].steps[4].think.min",
            &["missing", r#"{ think = { min = "1s", max = "3s" } }"#],
        );
        // An endless send as the last step, and leave/join cycles, are fine.
        Scenario::from_toml(
            &with("{ count = 3 } }, \"hold\"", "{ interval = \"2s\" } }"),
            FILE,
        )
        .unwrap();
        Scenario::from_toml(
            &with(r#""hold""#, r#""leave_room", "join_room", "hold""#),
            FILE,
        )
        .unwrap();
    }

    #[test]
    fn weights_names_and_presence() {
        assert_error(
            &with("[[flow]]", "[[flow]]\nweight = 0"),
            "flow[0].weight",
            &["must be at least 1, got 0"],
        );
        let two_flows = format!("{BASE}\n[[flow]]\nname = \"flow0\"\nsteps = [\"health\"]\n");
        assert_error(
            &two_flows,
            "flow[1].name",
            &[r#""flow0" is already used by flow[0]"#],
        );
        let no_flow = BASE.split("[[flow]]").next().unwrap();
        assert_error(no_flow, "flow", &["at least one [[flow]] is required"]);
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

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = with("step_users = 10", "step_users = 0")
            .replace(r#""connect", "join_room""#, r#""join_room""#)
            + "\n[rooms]\nusers_per_room = 1\n";
        let err = Scenario::from_toml(&text, FILE).unwrap_err();
        let ScenarioError::Invalid { problems, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(problems.len(), 3, "{err}");
        assert_eq!(err.to_string().lines().count(), 3);
        assert!(err.to_string().lines().all(|line| line.starts_with(FILE)));
    }

    #[test]
    fn unreadable_file_is_named() {
        let err =
            Scenario::load(std::path::Path::new("scenarios/does-not-exist.toml")).unwrap_err();
        assert!(matches!(err, ScenarioError::Read { .. }));
        assert!(
            err.to_string()
                .starts_with("scenarios/does-not-exist.toml: cannot read"),
            "{err}"
        );
    }
}
