//! Scenario errors: every one names the file, and where it can, the line, the field path
//! (`phase[1].step_every`) and what is allowed there.

use std::fmt;

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{file}: cannot read the scenario: {source}")]
    Read {
        /// The file as the user named it.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{file}:{line}:{column}: TOML syntax error: {message}")]
    Syntax {
        /// The file as the user named it.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What the TOML parser expected.
        message: String,
    },
    /// The file is valid TOML but not a valid scenario. Holds every problem found, in file order
    /// where known.
    #[error("{}", render_problems(file, problems))]
    Invalid {
        /// The file as the user named it.
        file: String,
        /// At least one problem.
        problems: Vec<Problem>,
    },
}

impl ScenarioError {
    /// The problems of an [`ScenarioError::Invalid`] error (empty for the other kinds).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ScenarioError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

/// One thing wrong with a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Field path such as `flow[0].steps[3]` or `rooms.users_per_room`; empty for the whole file.
    pub path: String,
    /// What is wrong and what is allowed instead.
    pub message: String,
    /// 1-based line and column when the problem was found while reading the TOML.
    pub location: Option<(usize, usize)>,
}

impl Problem {
    /// A problem found after reading, at a field path.
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            message: message.into(),
            location: None,
        }
    }
}

/// One line per problem, each naming the file so every line stands alone (and editors can jump to
/// `file:line:column`).
fn render_problems(file: &str, problems: &[Problem]) -> String {
    let mut out = String::new();
    for (i, problem) in problems.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&ProblemLine { file, problem }.to_string());
    }
    out
}

struct ProblemLine<'a> {
    file: &'a str,
    problem: &'a Problem,
}

impl fmt::Display for ProblemLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file)?;
        if let Some((line, column)) = self.problem.location {
            write!(f, ":{line}:{column}")?;
        }
        if !self.problem.path.is_empty() {
            write!(f, ": {}", self.problem.path)?;
        }
        write!(f, ": {}", self.problem.message)
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    // Step back to a char boundary so slicing cannot panic on a span inside a multi-byte char.
    let offset = (0..=offset)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Rewrites serde's generic wording into the scenario format's terms: `"unknown field `x`, expected
/// one of `a`, `b`"` becomes `unknown key "x"; allowed: a, b`, Rust type names become plain words.
pub(crate) fn tidy_serde_message(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once('`')
    {
        let allowed = expected
            .trim_start_matches(", ")
            .trim_start_matches("expected one of ")
            .trim_start_matches("expected ")
            .replace('`', "")
            // serde writes two choices as "`a` or `b`" and more as "one of `a`, `b`, `c`".
            .replace(" or ", ", ");
        return if allowed == "there are no fields" {
            format!("unknown key {field:?}; this table takes no keys")
        } else {
            format!("unknown key {field:?}; allowed: {allowed}")
        };
    }
    message
        .replace(
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        )
        .replace("expected u64", "expected a whole number, 0 or more")
        .replace("expected f64", "expected a number")
        .replace("expected a sequence", "expected an array [ … ]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // 'é' is two bytes; the '=' after it is the 4th character of line 2.
        assert_eq!(line_column(text, 10), (2, 4));
        assert_eq!(line_column(text, 9999), (3, 1));
    }

    #[test]
    fn serde_wording_becomes_scenario_wording() {
        assert_eq!(
            tidy_serde_message("unknown field `stepevery`, expected one of `name`, `kind`"),
            r#"unknown key "stepevery"; allowed: name, kind"#
        );
        assert_eq!(
            tidy_serde_message("unknown field `x`, expected `login`"),
            r#"unknown key "x"; allowed: login"#
        );
        assert_eq!(
            tidy_serde_message("unknown field `cnt`, expected `count` or `interval`"),
            r#"unknown key "cnt"; allowed: count, interval"#
        );
        assert_eq!(
            tidy_serde_message("unknown field `x`, there are no fields"),
            r#"unknown key "x"; this table takes no keys"#
        );
        assert_eq!(
            tidy_serde_message(r#"invalid type: string "10", expected u32"#),
            r#"invalid type: string "10", expected a whole number from 0 to 4294967295"#
        );
    }
}
