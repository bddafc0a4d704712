//! Teams as matches and brackets play them: a name that is safe as a directory name, and a target.
//!
//! Parsing `--team NAME=URL` and teams files is the command line's; this module owns only what a
//! team is and which names are allowed, so a bracket resumed from its saved setup is held to the
//! same rule as one started from flags.

use serde::{Deserialize, Serialize};

use crate::engine::Target;

/// Longest team name. Names head CSV columns and the scoreboard's columns, and name directories.
pub const MAX_TEAM_NAME: usize = 32;

/// What a team name may contain, for error messages.
pub const TEAM_NAME_RULE: &str = "1 to 32 ASCII letters, digits, `-` or `_`, starting with a \
                                  letter or digit (a team's results go in a directory of that name)";

/// One team of a match or bracket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamEntry {
    /// The team's name, checked by [`check_team_name`].
    pub name: String,
    /// Its server; `target.name` is the team name.
    pub target: Target,
    /// Seed number from a teams file (1 is the strongest), if it gives one.
    pub seed: Option<u32>,
}

impl TeamEntry {
    /// A team named `name` at base URL `url` (without the trailing slash).
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> TeamEntry {
        let name = name.into();
        TeamEntry {
            target: Target {
                name: name.clone(),
                url: url.into(),
            },
            name,
            seed: None,
        }
    }
}

/// A team as `setup.json` and `match.json` record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedTeam {
    /// Team name.
    pub name: String,
    /// Base URL of its server.
    pub target: String,
    /// Seed number from the teams file, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u32>,
}

impl From<&TeamEntry> for SavedTeam {
    fn from(t: &TeamEntry) -> SavedTeam {
        SavedTeam {
            name: t.name.clone(),
            target: t.target.url.clone(),
            seed: t.seed,
        }
    }
}

impl From<&SavedTeam> for TeamEntry {
    fn from(t: &SavedTeam) -> TeamEntry {
        TeamEntry {
            seed: t.seed,
            ..TeamEntry::new(t.name.clone(), t.target.clone())
        }
    }
}

/// Checks a team name against [`TEAM_NAME_RULE`]. `Err` says what is wrong, quoting the name.
pub fn check_team_name(name: &str) -> Result<(), String> {
    let bad = |what: String| Err(format!("team name {name:?} {what}; use {TEAM_NAME_RULE}"));
    if name.is_empty() {
        return Err(format!("a team name is empty; use {TEAM_NAME_RULE}"));
    }
    if name.len() > MAX_TEAM_NAME {
        return bad(format!(
            "is {} characters long, more than {MAX_TEAM_NAME}",
            name.chars().count()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
    {
        return bad(format!("contains {c:?}"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return bad("does not start with a letter or digit".into());
    }
    Ok(())
}

/// Checks every name and that no name is used twice.
pub fn check_teams(teams: &[TeamEntry]) -> Result<(), String> {
    for (i, t) in teams.iter().enumerate() {
        check_team_name(&t.name)?;
        if teams[..i].iter().any(|o| o.name == t.name) {
            return Err(format!("team {:?} is listed twice", t.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_directory_names() {
        for ok in ["alpha", "Team-7", "a_b", "9lives", &"x".repeat(32)] {
            assert_eq!(check_team_name(ok), Ok(()), "{ok}");
        }
        for (bad, needle) in [
            ("", "is empty"),
            ("a b", "contains ' '"),
            ("a/b", "contains '/'"),
            ("..", "contains '.'"),
            ("match.json", "contains '.'"),
            ("-x", "does not start with a letter or digit"),
            ("_x", "does not start with a letter or digit"),
            ("é", "contains 'é'"),
            (&"x".repeat(33), "33 characters long"),
        ] {
            let err = check_team_name(bad).unwrap_err();
            assert!(err.contains(needle), "{bad:?}: {err}");
            assert!(err.contains("ASCII letters, digits"), "{err}");
        }
        let twice = [
            TeamEntry::new("a", "http://x:1"),
            TeamEntry::new("a", "http://y:1"),
        ];
        assert_eq!(
            check_teams(&twice).unwrap_err(),
            "team \"a\" is listed twice"
        );
    }
}
