//! From [`ScenarioFile`] to [`Scenario`]: fill defaults, check every value, check the protocol order
//! of each flow. All problems are collected (not just the first) so an organizer fixes a file in one
//! pass; each names its field path and what is allowed.
//!
//! # Layout
//! - this file: [`read_toml`] (syntax and type errors, with line and column), [`validate`] (the file
//!   section by section), the plan's limits, and the helpers every section shares.
//! - `phases`: `[[phase]]`, each load shape's keys and the user count that only rises.
//! - `arithmetic`: ramp steps, arrival-rate instants and counts, a phase's effect; shared with
//!   lowering so both count users the same way.
//! - `flows`: `[[flow]]`, names, weights and each step's parameters.
//! - `order`: the protocol's session order of a flow's steps.
//! - `settings`: `[rooms]`, `[messages]`, `[timeouts]` and `[verify]`.
//! - `thresholds`: `[[threshold]]`.
//!
//! Not here: the file model (`scenario::model`), how problems are printed (`scenario::error`),
//! building the plan (`scenario::lower`).

mod arithmetic;
mod flows;
mod order;
mod phases;
mod settings;
mod thresholds;

use std::time::Duration;

use super::Scenario;
use super::duration::DurationValue;
use super::error::{Problem, ScenarioError, line_column, tidy_serde_message};
use super::model::ScenarioFile;
use crate::engine::plan::Conduct;

pub(crate) use arithmetic::{arrival_rate_count, arrival_rate_offset, ramp_targets};

/// Most VUs one plan may start. VU indexes are `u32` and the plan holds one arrival per VU; far
/// beyond what one load machine can hold open (about 20,000 files per process here).
pub const MAX_PLANNED_USERS: u64 = 1_000_000;

/// Longest run one plan may describe; anything longer is surely a typo in a duration.
pub const MAX_RUN_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Largest `messages.size`: Socket.IO's default max payload is 1 MB, and the event envelope needs
/// some of it.
pub const MAX_MESSAGE_SIZE: u32 = 900_000;

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
        // `[phase]` instead of `[[phase]]` is the likeliest slip in a file, and serde only says
        // "expected an array": name the fix for the three tables a file may repeat.
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
                // serde_path_to_error calls the file's root "."; a problem there has no field.
                path: if path == "." { String::new() } else { path },
                message,
                location: inner.span().map(|s| line_column(text, s.start)),
            }],
        }
    })
}

/// Collects problems while validating. Sections push here instead of returning at the first
/// problem, and carry on with a stand-in value, so one run of `validate` lists everything wrong
/// with a file: an organizer fixing a file before a match should not have to rerun once per typo.
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

    // Every section is checked even when an earlier one failed (see `Problems`); problems are
    // listed in this order, which is roughly the order of a file.
    let phases = phases::phases(&file.phase, &mut p);
    let flows = flows::flows(&file.flow, &mut p);
    let rooms = settings::rooms(&file.rooms, &mut p);
    let messages = settings::messages(&file.messages, &mut p);
    let (step_timeout, verify) = settings::timeouts(&file.timeouts, &file.verify, &mut p);
    let thresholds = file
        .threshold
        .iter()
        .enumerate()
        .filter_map(|(i, t)| thresholds::threshold(t, &format!("threshold[{i}]"), &mut p))
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
        conduct: Conduct {
            rooms,
            messages,
            step_timeout,
            verify,
            thresholds,
        },
    })
}

/// A duration that must be above zero: a zero step interval, phase length or timeout would make a
/// step or a level empty (or a deadline that nothing can meet). `None` when absent, so the caller
/// picks the default, or when zero, which is reported here.
fn positive(d: Option<DurationValue>, path: String, p: &mut Problems) -> Option<Duration> {
    let d = d?.0;
    if d.is_zero() {
        p.push(path, "must be longer than 0s");
        return None;
    }
    Some(d)
}

/// A ratio is written as a fraction (`0.01` is 1 %). The range check catches a percentage written
/// as a whole number (`max = 5` meaning 5 %), which would otherwise pass every run.
fn check_ratio(value: f64, path: &str, p: &mut Problems) {
    if !(0.0..=1.0).contains(&value) {
        p.push(
            path,
            format!("must be a ratio from 0.0 to 1.0 (0.01 = 1 %), got {value}"),
        );
    }
}

/// The fixture every section's tests break one piece of at a time, and the tests of what the whole
/// file shares: reading TOML, unknown keys, collecting every problem.
#[cfg(test)]
mod tests {
    use crate::scenario::{Scenario, ScenarioError};

    pub(super) const FILE: &str = "scenarios/x.toml";

    /// A valid scenario to break one piece of at a time.
    pub(super) const BASE: &str = r#"
[[phase]]
kind = "ramp"
start_users = 10
step_users = 10
step_every = "30s"
max_users = 100

[[flow]]
steps = ["register", "enter_room", "connect", "join_room", { send_messages = { count = 3 } }, "hold"]
"#;

    /// [`BASE`] with the first `from` replaced by `to`.
    pub(super) fn with(from: &str, to: &str) -> String {
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
    pub(super) fn assert_error(text: &str, path: &str, needles: &[&str]) {
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
