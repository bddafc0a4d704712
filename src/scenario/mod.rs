//! Scenario files (TOML): the model, validation with precise errors, and lowering into a
//! [`LoadPlan`](crate::engine::plan::LoadPlan). This module knows nothing of flags or the engine's
//! timing; it turns a file into a plan, or into errors that name the file, field and allowed values.
//!
//! # Layout
//! - [`duration`]: `"30s"`, `"500ms"`, `"1m30s"` parsing and formatting.
//! - [`model`]: the file as written (serde, `deny_unknown_fields`).
//! - [`validate`]: file → [`Scenario`], collecting every problem with its field path; one file per
//!   part of a scenario (phases and their arithmetic, flows, step order, settings, thresholds).
//! - [`lower`]: [`Scenario`] + [`LowerOptions`] → one `LoadPlan` (time scale, user cap, seeded flow
//!   choice).
//! - [`error`]: [`ScenarioError`] and its one-line-per-problem rendering.
//!
//! The file format is documented by the files in `scenarios/` (each commented for organizers) and by
//! the field docs in [`model`].

pub mod duration;
pub mod error;
pub mod lower;
pub mod model;
pub mod validate;

use std::path::Path;
use std::time::Duration;

pub use error::{Problem, ScenarioError};
pub use lower::LowerOptions;

use crate::engine::plan::{Conduct, Flow};
use duration::format_duration;

/// A validated scenario: every value checked, every default filled in, durations as written (not
/// yet time-scaled). [`Scenario::lower`] turns it into the plan the engine runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Name used in result paths and reports.
    pub name: String,
    /// One line for people reading results.
    pub description: Option<String>,
    /// Seed from the file, if it sets one.
    pub seed: Option<u64>,
    /// Load phases, run one after the other; users are cumulative.
    pub phases: Vec<Phase>,
    /// VU flows with unscaled think times and message intervals.
    pub flows: Vec<Flow>,
    /// Rooms, messages, step budget, verification and thresholds: handed to the plan unchanged.
    pub conduct: Conduct,
}

/// One load phase.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// Name in reports.
    pub name: String,
    /// What the phase does to the user count.
    pub shape: Shape,
}

/// The load shape of a phase. User counts are absolute (users started since the run began), so
/// phases can keep or raise the count but never lower it: stopping VUs early is not supported.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Start at `start_users`, add `step_users` every `step_every` up to `max_users`, stay there for
    /// `hold` (counted from the step that reaches `max_users`).
    Ramp {
        /// Users once the first step has started.
        start_users: u32,
        /// Users added at each further step (the last step may add fewer, to land on `max_users`).
        step_users: u32,
        /// Time between steps.
        step_every: Duration,
        /// Users of the top step.
        max_users: u32,
        /// Time at `max_users`.
        hold: Duration,
        /// Window over which each step's new users start, evenly spaced; zero starts them together.
        spread: Duration,
    },
    /// Raise the count to `users` (spread over `spread`) and keep it for `duration`.
    Constant {
        /// Users during the phase.
        users: u32,
        /// Phase length.
        duration: Duration,
        /// Window over which the new users start.
        spread: Duration,
    },
    /// Start `rate` new users per second for `duration`, reported as levels of `level_every`.
    ArrivalRate {
        /// New users per second (before time scaling).
        rate: f64,
        /// Phase length.
        duration: Duration,
        /// Length of each reported level.
        level_every: Duration,
    },
}

impl Shape {
    /// The `kind` this shape is written as.
    pub fn kind(&self) -> &'static str {
        match self {
            Shape::Ramp { .. } => "ramp",
            Shape::Constant { .. } => "constant",
            Shape::ArrivalRate { .. } => "arrival_rate",
        }
    }
}

impl std::fmt::Display for Shape {
    /// One line in the file's own terms, e.g. `ramp: 100 users, +100 every 30s up to 3000, hold 2m`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::Ramp {
                start_users,
                step_users,
                step_every,
                max_users,
                hold,
                spread,
            } => {
                write!(
                    f,
                    "ramp: {start_users} users, +{step_users} every {} up to {max_users}, hold {}",
                    format_duration(*step_every),
                    format_duration(*hold)
                )?;
                if !spread.is_zero() {
                    write!(f, ", each step spread over {}", format_duration(*spread))?;
                }
                Ok(())
            }
            Shape::Constant {
                users,
                duration,
                spread,
            } => {
                write!(
                    f,
                    "constant: {users} users for {}",
                    format_duration(*duration)
                )?;
                if !spread.is_zero() {
                    write!(f, ", new users spread over {}", format_duration(*spread))?;
                }
                Ok(())
            }
            Shape::ArrivalRate {
                rate,
                duration,
                level_every,
            } => write!(
                f,
                "arrival_rate: {rate} new users/s for {}, levels every {}",
                format_duration(*duration),
                format_duration(*level_every)
            ),
        }
    }
}

impl Scenario {
    /// Reads and validates a scenario file. Errors name `path` as given.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            file: file.clone(),
            source,
        })?;
        Scenario::from_toml(&text, &file)
    }

    /// Parses and validates scenario text. `file` names it in errors, and its stem is the default
    /// scenario name.
    pub fn from_toml(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let raw = validate::read_toml(text, file)?;
        let default_name = Path::new(file)
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".to_owned());
        validate::validate(raw, &default_name).map_err(|problems| ScenarioError::Invalid {
            file: file.to_owned(),
            problems,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shipped scenario must load, validate and lower; a broken example is a broken product.
    #[test]
    fn every_file_in_scenarios_validates_and_lowers() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("scenarios/ exists") {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|ext| ext != "toml") {
                continue;
            }
            let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
            let plan = scenario.lower(&LowerOptions::default());
            assert!(!plan.arrivals.is_empty(), "{}", path.display());
            assert_eq!(plan.levels.last().unwrap().end, plan.duration);
            seen += 1;
        }
        assert!(seen >= 4, "expected the shipped scenarios, found {seen}");
    }
}
