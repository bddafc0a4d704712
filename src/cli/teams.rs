//! Teams as the command line takes them: `--team NAME=URL` flags for a match, a teams file for a
//! bracket. Every error names the flag or the file, the field (`team[2].target`) and what is
//! allowed.
//!
//! A teams file:
//!
//! ```toml
//! title = "KTB 2024 final"          # optional: the bracket's name
//!
//! [[team]]
//! name = "alpha"                    # 1 to 32 ASCII letters, digits, - or _
//! target = "http://127.0.0.1:5001"  # the server's base URL
//! seed = 1                          # optional; teams without one follow, in file order
//! ```

use std::path::Path;

use serde::Deserialize;

use super::exit::CliError;
use super::target::parse_target;
use crate::contest::TeamEntry;
use crate::contest::teams::check_team_name;
use crate::scenario::error::{line_column, tidy_serde_message};

/// What a teams file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamsFile {
    /// The bracket's name, if the file gives one.
    pub title: Option<String>,
    /// The teams in file order.
    pub teams: Vec<TeamEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    title: Option<String>,
    #[serde(default)]
    team: Vec<RawTeam>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTeam {
    name: String,
    target: String,
    seed: Option<u32>,
}

/// Reads and checks a teams file: at least two teams, valid distinct names, base URLs, distinct
/// seed numbers of 1 or more.
pub fn load_teams_file(path: &Path) -> Result<TeamsFile, CliError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Input(format!("{file}: cannot read the teams file: {e}")))?;
    parse_teams_file(&text, &file)
}

/// [`load_teams_file`] on text already read; `file` names it in errors.
pub fn parse_teams_file(text: &str, file: &str) -> Result<TeamsFile, CliError> {
    let deserializer = toml::Deserializer::parse(text).map_err(|e| {
        let (line, column) = line_column(text, e.span().map_or(0, |s| s.start));
        CliError::Input(format!(
            "{file}:{line}:{column}: TOML syntax error: {}",
            e.message().trim().replace('\n', "; ")
        ))
    })?;
    let raw: RawFile = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner();
        let mut message = tidy_serde_message(inner.message());
        if path == "team" && message.contains("expected an array") {
            message.push_str(" (write [[team]] with double brackets, one table per team)");
        }
        let at = match inner.span().map(|s| line_column(text, s.start)) {
            Some((line, column)) => format!("{file}:{line}:{column}"),
            None => file.to_string(),
        };
        let field = if path == "." {
            String::new()
        } else {
            format!("{path}: ")
        };
        CliError::Input(format!("{at}: {field}{message}"))
    })?;
    let bad =
        |field: String, message: String| CliError::Input(format!("{file}: {field}: {message}"));
    if raw.team.len() < 2 {
        return Err(CliError::Input(format!(
            "{file}: lists {} team(s); a bracket needs at least 2, one [[team]] table each with \
             `name` and `target` (and optionally `seed`)",
            raw.team.len()
        )));
    }
    let mut teams: Vec<TeamEntry> = Vec::new();
    for (i, t) in raw.team.into_iter().enumerate() {
        check_team_name(&t.name).map_err(|m| bad(format!("team[{i}].name"), m))?;
        if let Some(j) = teams.iter().position(|o| o.name == t.name) {
            return Err(bad(
                format!("team[{i}].name"),
                format!(
                    "{:?} is already the name of team[{j}]; names must be unique",
                    t.name
                ),
            ));
        }
        let target = parse_target(&t.target).map_err(|m| bad(format!("team[{i}].target"), m))?;
        match t.seed {
            Some(0) => {
                return Err(bad(
                    format!("team[{i}].seed"),
                    "is 0; seeds count from 1 (the strongest team)".into(),
                ));
            }
            Some(seed) => {
                if let Some(j) = teams.iter().position(|o| o.seed == Some(seed)) {
                    return Err(bad(
                        format!("team[{i}].seed"),
                        format!(
                            "seed {seed} is already given to team[{j}] ({})",
                            teams[j].name
                        ),
                    ));
                }
            }
            None => {}
        }
        teams.push(TeamEntry {
            seed: t.seed,
            ..TeamEntry::new(t.name, target.to_engine().url)
        });
    }
    Ok(TeamsFile {
        title: raw.title.filter(|t| !t.trim().is_empty()),
        teams,
    })
}

/// Parses `--team NAME=URL` flags: at least two, valid distinct names, base URLs.
pub fn parse_team_specs(specs: &[String]) -> Result<Vec<TeamEntry>, CliError> {
    let bad = |message: String| CliError::flag("--team", message);
    let mut teams: Vec<TeamEntry> = Vec::new();
    for spec in specs {
        let Some((name, url)) = spec.split_once('=') else {
            return Err(bad(format!(
                "{spec:?} is not NAME=URL; write e.g. --team alpha=http://127.0.0.1:5001"
            )));
        };
        let name = name.trim();
        check_team_name(name).map_err(bad)?;
        if teams.iter().any(|t| t.name == name) {
            return Err(bad(format!(
                "team {name:?} is given twice; names must be unique"
            )));
        }
        let target = parse_target(url).map_err(|m| bad(format!("team {name}: {m}")))?;
        teams.push(TeamEntry::new(name, target.to_engine().url));
    }
    if teams.len() < 2 {
        return Err(bad(format!(
            "a match needs at least 2 teams, got {}; give --team NAME=URL once per team",
            teams.len()
        )));
    }
    Ok(teams)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse_teams_file(text, "teams.toml")
            .unwrap_err()
            .to_string()
    }

    const GOOD: &str = r#"
title = "Cup"
[[team]]
name = "alpha"
target = "http://127.0.0.1:5001"
seed = 2
[[team]]
name = "bravo"
target = "http://127.0.0.1:5002/"
"#;

    #[test]
    fn a_good_file() {
        let f = parse_teams_file(GOOD, "teams.toml").unwrap();
        assert_eq!(f.title.as_deref(), Some("Cup"));
        assert_eq!(f.teams.len(), 2);
        assert_eq!(f.teams[0].seed, Some(2));
        assert_eq!(f.teams[1].target.url, "http://127.0.0.1:5002");
        assert_eq!(f.teams[1].target.name, "bravo");
    }

    #[test]
    fn bad_files_name_the_file_the_field_and_what_is_allowed() {
        let e = err(&GOOD.replace("target = \"http://127.0.0.1:5001\"", "targt = \"x\""));
        assert!(e.starts_with("teams.toml:"), "{e}");
        assert!(
            e.contains("unknown key \"targt\"; allowed: name, target, seed"),
            "{e}"
        );
        let e = err(&GOOD.replace("\"alpha\"", "\"al pha\""));
        assert!(
            e.starts_with("teams.toml: team[0].name: team name \"al pha\" contains ' '"),
            "{e}"
        );
        let e = err(&GOOD.replace("\"bravo\"", "\"alpha\""));
        assert!(
            e.contains("team[1].name: \"alpha\" is already the name of team[0]"),
            "{e}"
        );
        let e = err(&GOOD.replace("http://127.0.0.1:5002/", "127.0.0.1:5002"));
        assert!(
            e.starts_with("teams.toml: team[1].target: \"127.0.0.1:5002\" has no scheme"),
            "{e}"
        );
        let e = err(&GOOD.replace("seed = 2", "seed = 0"));
        assert!(e.contains("team[0].seed: is 0; seeds count from 1"), "{e}");
        let e = err(&format!("{GOOD}seed = 2\n"));
        assert!(
            e.contains("team[1].seed: seed 2 is already given to team[0] (alpha)"),
            "{e}"
        );
        let e = err(&GOOD.replace("seed = 2", "seed = \"first\""));
        assert!(e.contains("team[0].seed"), "{e}");
        let e = err("[[team]]\nname = \"a\"\ntarget = \"http://a:1\"\n");
        assert!(
            e.contains("lists 1 team(s); a bracket needs at least 2"),
            "{e}"
        );
        let e = err("[team]\nname = \"a\"\n");
        assert!(e.contains("double brackets"), "{e}");
        let e = err("[[team]\n");
        assert!(e.starts_with("teams.toml:1:"), "{e}");
        assert!(e.contains("TOML syntax error"), "{e}");
    }

    #[test]
    fn team_specs() {
        let specs = |list: &[&str]| {
            parse_team_specs(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        let t = specs(&["a=http://127.0.0.1:1", "b=http://127.0.0.1:2/"]).unwrap();
        assert_eq!(t[1].target.url, "http://127.0.0.1:2");
        let e = |list: &[&str]| specs(list).unwrap_err().to_string();
        assert!(e(&["a"]).starts_with("--team: \"a\" is not NAME=URL"));
        assert!(e(&["a=http://x:1"]).contains("at least 2 teams, got 1"));
        assert!(e(&["a=http://x:1", "a=http://y:1"]).contains("given twice"));
        assert!(e(&["a b=http://x:1", "c=http://y:1"]).contains("contains ' '"));
        assert!(e(&["a=x:1", "c=http://y:1"]).starts_with("--team: team a: \"x:1\" has no scheme"));
    }
}
