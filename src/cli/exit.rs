//! Exit-code policy: which outcome and which error leave the process with which code. Scripts and CI
//! jobs branch on these, so they are part of the interface and never change meaning.

use std::process::ExitCode;

use crate::scenario::ScenarioError;

/// How the process ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: the command did what was asked; for a run, every threshold held.
    Ok,
    /// 1: the run finished (or was stopped) and at least one threshold was broken.
    ThresholdsBroken,
    /// 1: a match was void (replay it with the same command) or a bracket stopped before its end
    /// (resume it); nothing final was decided. The same code as a broken threshold: the command
    /// did its work and its outcome is not a pass.
    NotDecided,
    /// 2: bad input: a flag, an environment variable or the scenario cannot be used. Nothing ran.
    BadInput,
    /// 3: the input was fine but the run could not be carried out (engine or I/O failure).
    Failed,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::ThresholdsBroken | Exit::NotDecided => 1,
            Exit::BadInput => 2,
            Exit::Failed => 3,
        }
    }

    /// [`Exit::Ok`] when every threshold held, else [`Exit::ThresholdsBroken`].
    pub fn from_thresholds(all_held: bool) -> Exit {
        if all_held {
            Exit::Ok
        } else {
            Exit::ThresholdsBroken
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// Why a command failed. `main` prints it as `error: <message>` and exits with [`CliError::exit`].
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A flag (or its `STAMPEDE_*` variable) has a value that cannot be used.
    #[error("{flag}: {message}")]
    Flag {
        /// The flag, e.g. `--time-scale`.
        flag: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The scenario cannot be read or is invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The target does not answer at all (checked with `GET /health` before a run starts).
    #[error(
        "target {target} failed the check before the run: {reason}. Fix --target (the chat \
         server's base URL, e.g. http://127.0.0.1:5000), or start the server."
    )]
    Unreachable {
        /// The target URL.
        target: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// An input file (teams file, rules file) cannot be used; the message names the file and field.
    #[error("{0}")]
    Input(String),
    /// A match, bracket or rescore could not be carried out (its message names the team, file or
    /// directory).
    #[error(transparent)]
    Contest(#[from] crate::contest::ContestError),
    /// The run could not be carried out, or its results could not be written.
    #[error(transparent)]
    Run(#[from] crate::runner::RunnerError),
    /// Segments could not be merged (the message names the directory and why).
    #[error(transparent)]
    Merge(#[from] crate::merge::MergeError),
    /// Something the command needs from the machine failed (runtime, embedded server, …).
    #[error("{0}")]
    Environment(String),
}

impl CliError {
    /// The exit code this error leaves with.
    pub fn exit(&self) -> Exit {
        match self {
            CliError::Flag { .. }
            | CliError::Scenario(_)
            | CliError::Unreachable { .. }
            | CliError::Input(_) => Exit::BadInput,
            CliError::Contest(e) => contest_exit(e),
            CliError::Run(_) | CliError::Environment(_) => Exit::Failed,
            CliError::Merge(e) => match e {
                crate::merge::MergeError::Report(crate::report::ReportError::Write { .. })
                | crate::merge::MergeError::Report(crate::report::ReportError::CreateDir {
                    ..
                }) => Exit::Failed,
                _ => Exit::BadInput,
            },
        }
    }

    /// The message `main` prints after `error: `: a flag's error names the `STAMPEDE_*` variable
    /// its value came from, when it came from one (see [`env_origin`](super::origin::env_origin)).
    pub fn message(&self, argv: &[std::ffi::OsString]) -> String {
        match self {
            CliError::Flag { flag, message } => match super::origin::env_origin(flag, argv) {
                Some(var) => format!("{flag} (from {var}): {message}"),
                None => self.to_string(),
            },
            CliError::Unreachable { .. } => match super::origin::env_origin("--target", argv) {
                Some(var) => self
                    .to_string()
                    .replace("Fix --target", &format!("Fix {var} (--target)")),
                None => self.to_string(),
            },
            _ => self.to_string(),
        }
    }

    /// Shorthand for [`CliError::Flag`].
    pub fn flag(flag: &'static str, message: impl Into<String>) -> CliError {
        CliError::Flag {
            flag,
            message: message.into(),
        }
    }
}

/// Unreachable teams and unusable directories are bad input; failing runs and writes are not.
fn contest_exit(e: &crate::contest::ContestError) -> Exit {
    use crate::contest::ContestError;
    use crate::report::ReportError;
    match e {
        ContestError::Unreachable(_) | ContestError::Invalid { .. } => Exit::BadInput,
        ContestError::Files(
            ReportError::Read { .. }
            | ReportError::Parse { .. }
            | ReportError::SchemaVersion { .. },
        ) => Exit::BadInput,
        ContestError::Files(_) | ContestError::Run(_) => Exit::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(Exit::Ok.code(), 0);
        assert_eq!(Exit::ThresholdsBroken.code(), 1);
        assert_eq!(Exit::NotDecided.code(), 1);
        assert_eq!(Exit::BadInput.code(), 2);
        assert_eq!(Exit::Failed.code(), 3);
        assert_eq!(Exit::from_thresholds(true), Exit::Ok);
        assert_eq!(Exit::from_thresholds(false), Exit::ThresholdsBroken);
        assert_eq!(CliError::flag("--x", "bad").exit(), Exit::BadInput);
        assert_eq!(CliError::flag("--x", "bad").to_string(), "--x: bad");
    }
}
