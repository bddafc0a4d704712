//! Re-judging a played match or a whole bracket offline, from the summaries saved in its directory.
//! No network, no engine: scoring is a pure function of saved [`RunSummary`] files.
//!
//! What was decided live is the record of the event and stays as it is: results go to new files
//! beside it (`rescored.json` and `rescored-levels.csv` for a match; `rescored-bracket.json`,
//! `rescored-bracket.txt` and `rescored-standings.csv` for a bracket), each saying which rules were
//! used and what changed. Running it again overwrites only those.

use std::collections::BTreeMap;
use std::path::Path;

use super::ContestError;
use super::files::{
    BracketFile, BracketRescoreNote, CONTEST_SCHEMA_VERSION, JOURNAL, MATCH_JSON, MatchFile,
    RESCORED_BRACKET_JSON, RESCORED_BRACKET_TXT, RESCORED_JSON, RESCORED_LEVELS_CSV,
    RESCORED_STANDINGS_CSV, RescoreNote,
};
use super::play::{verdict_of, write_match_files};
use super::tournament::{BracketSetup, bracket_file, journal_attempts, write_bracket_views};
use crate::base::summary::RunSummary;
use crate::score::journal::{Entry, Journal};
use crate::score::{self, MatchResult, ScoringRules};

/// Rules to re-judge with, and where they came from (for the files' notes).
#[derive(Debug, Clone)]
pub struct NewRules {
    /// The rules.
    pub rules: ScoringRules,
    /// Their file, as named.
    pub from: String,
}

/// What [`rescore`] found.
#[derive(Debug, Clone)]
pub enum Rescored {
    /// A match directory.
    Match {
        /// `match.json` as played.
        before: Box<MatchFile>,
        /// The match judged again (also written to `rescored.json`).
        after: Box<MatchFile>,
    },
    /// A bracket directory.
    Bracket {
        /// The bracket as journaled.
        before: Box<Journal>,
        /// The bracket rebuilt from the re-judged matches (also written to
        /// `rescored-bracket.json`).
        after: Box<BracketFile>,
        /// The rebuilt bracket (for drawing).
        bracket: Box<score::Bracket>,
    },
}

/// Re-judges the match or bracket in `dir` with `rules` (default: the rules it was played under)
/// and writes the `rescored*` files. A directory with a journal is a bracket; one with
/// `match.json` a match.
pub fn rescore(dir: &Path, rules: Option<NewRules>) -> Result<Rescored, ContestError> {
    if !dir.is_dir() {
        let what = if dir.exists() {
            "is not a directory"
        } else {
            "does not exist"
        };
        return Err(ContestError::Invalid {
            path: dir.to_path_buf(),
            message: format!(
                "{what}; give the directory a `stampede match` or `stampede bracket` wrote"
            ),
        });
    }
    if dir.join(JOURNAL).exists() {
        rescore_bracket(dir, rules)
    } else if dir.join(MATCH_JSON).exists() {
        rescore_match(dir, rules)
    } else {
        Err(ContestError::Invalid {
            path: dir.to_path_buf(),
            message: format!(
                "holds neither {MATCH_JSON} (a match) nor {JOURNAL} (a bracket); give the directory \
                 a `stampede match` or `stampede bracket` wrote"
            ),
        })
    }
}

fn rescore_match(dir: &Path, rules: Option<NewRules>) -> Result<Rescored, ContestError> {
    let before = load_match(dir)?;
    let (rules, rules_from) = match rules {
        Some(r) => (r.rules, r.from),
        None => (
            before.verdict.rules.clone(),
            format!("the rules in {MATCH_JSON}"),
        ),
    };
    let summaries = load_summaries(dir, &before)?;
    let named: Vec<(String, Option<RunSummary>)> = before
        .teams
        .iter()
        .map(|t| t.name.clone())
        .zip(summaries.iter().cloned())
        .collect();
    let verdict = verdict_of(&named, &rules);
    let changed = MatchResult::from_verdict(&verdict).outcome
        != MatchResult::from_verdict(&before.verdict).outcome;
    let after = before.rejudged(
        verdict,
        RescoreNote {
            from: MATCH_JSON.into(),
            rules_from,
            previous_reason: before.verdict.reason.clone(),
            changed,
        },
    );
    write_match_files(dir, &after, &summaries, RESCORED_JSON, RESCORED_LEVELS_CSV)?;
    Ok(Rescored::Match {
        before: Box::new(before),
        after: Box::new(after),
    })
}

/// Reads and checks `DIR/match.json`.
fn load_match(dir: &Path) -> Result<MatchFile, ContestError> {
    let path = dir.join(MATCH_JSON);
    let file = MatchFile::load(&path)?;
    if file.schema_version != CONTEST_SCHEMA_VERSION {
        return Err(ContestError::Invalid {
            path,
            message: format!(
                "schema_version {}, but this build reads {CONTEST_SCHEMA_VERSION}",
                file.schema_version
            ),
        });
    }
    Ok(file)
}

/// Every team's saved summary, in team order (`None` for a team that never ran).
fn load_summaries(dir: &Path, file: &MatchFile) -> Result<Vec<Option<RunSummary>>, ContestError> {
    file.teams
        .iter()
        .map(|t| match &t.summary {
            Some(rel) => Ok(Some(RunSummary::load(&dir.join(rel))?)),
            None => Ok(None),
        })
        .collect()
}

fn rescore_bracket(dir: &Path, rules: Option<NewRules>) -> Result<Rescored, ContestError> {
    let setup = BracketSetup::load(dir)?;
    let journal_path = dir.join(JOURNAL);
    let bytes =
        std::fs::read(&journal_path).map_err(|source| crate::report::ReportError::Read {
            path: journal_path.clone(),
            source,
        })?;
    let journal = Journal::replay(&String::from_utf8_lossy(&bytes))
        .map_err(|e| ContestError::Invalid {
            path: journal_path.clone(),
            message: e.to_string(),
        })?
        .journal;
    let (rules, rules_from) = match rules {
        Some(r) => (r.rules, r.from),
        None => (journal.rules().clone(), format!("the rules in {JOURNAL}")),
    };
    // Judge every saved attempt first, so a missing or broken file is an error naming it rather
    // than a match silently kept as it was.
    let mut results: BTreeMap<String, MatchResult> = BTreeMap::new();
    for entry in journal.entries() {
        let (Entry::MatchFinished { dir: Some(rel), .. } | Entry::MatchVoid { dir: Some(rel), .. }) =
            entry
        else {
            continue;
        };
        let mdir = dir.join(rel);
        let file = load_match(&mdir)?;
        let summaries = load_summaries(&mdir, &file)?;
        let named: Vec<(String, Option<RunSummary>)> = file
            .teams
            .iter()
            .map(|t| t.name.clone())
            .zip(summaries)
            .collect();
        results.insert(
            rel.clone(),
            MatchResult::from_verdict(&verdict_of(&named, &rules)),
        );
    }
    // Forfeits (no directory) are kept as they were: there is nothing to re-judge.
    let rescored = journal.rescore(|entry| match entry {
        Entry::MatchFinished { dir: Some(rel), .. } | Entry::MatchVoid { dir: Some(rel), .. } => {
            results.get(rel).cloned()
        }
        _ => None,
    });
    let plan = setup.plan().map_err(|e| ContestError::Invalid {
        path: dir.join(super::files::SETUP_JSON),
        message: e.to_string(),
    })?;
    let mut file = bracket_file(
        &setup,
        &plan,
        &journal,
        &rescored.bracket,
        &rules,
        &journal_attempts(&journal),
        None,
    );
    file.rescored = Some(BracketRescoreNote {
        rules_from,
        changed: rescored.changed.clone(),
        diverged_at: rescored.diverged_at.clone(),
    });
    write_bracket_views(
        dir,
        [
            RESCORED_BRACKET_JSON,
            RESCORED_BRACKET_TXT,
            RESCORED_STANDINGS_CSV,
        ],
        &file,
        &rescored.bracket,
        None,
    )?;
    Ok(Rescored::Bracket {
        before: Box::new(journal),
        after: Box::new(file),
        bracket: Box::new(rescored.bracket),
    })
}

#[cfg(test)]
mod tests {
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::contest::Mode;
    use crate::contest::files::{BRACKET_JSON, STANDINGS_CSV};
    use crate::contest::play::{MatchSetup, play_match};
    use crate::contest::teams::TeamEntry;
    use crate::contest::testkit::{Scripted, play_to_end, smoke_plan, smoke_setup};
    use crate::score::{Decision, Format, Outcome};

    /// Everything breaks (20 ms deliveries against a 1 ms SLO) and nothing separates equals.
    fn everything_ties() -> NewRules {
        NewRules {
            rules: ScoringRules::from_toml_str("delivery_p99_slo_ms = 1\ntie_break = []").unwrap(),
            from: "strict.toml".into(),
        }
    }

    #[tokio::test]
    async fn a_match_rescored_with_its_own_rules_is_unchanged_and_with_others_is_not() {
        let tmp = tempfile::tempdir().unwrap();
        let mut exec = Scripted::with(&[("a", 20), ("b", 40)]);
        let setup = MatchSetup {
            plan: smoke_plan(),
            teams: vec![
                TeamEntry::new("a", "http://a:1"),
                TeamEntry::new("b", "http://b:1"),
            ],
            mode: Mode::Sequential,
            rules: ScoringRules::default(),
        };
        let played = play_match(&setup, tmp.path(), &mut exec, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(exec.runs, [vec!["a"], vec!["b"]], "one run per team");
        assert_eq!(played.verdict().winner.as_deref(), Some("b"));
        let live = std::fs::read(tmp.path().join(MATCH_JSON)).unwrap();

        let Rescored::Match { before, after } = rescore(tmp.path(), None).unwrap() else {
            panic!("a match directory")
        };
        assert_eq!(after.verdict, before.verdict, "same rules, same verdict");
        let note = after.rescored.as_ref().unwrap();
        assert!(!note.changed);
        assert_eq!(note.rules_from, "the rules in match.json");

        let Rescored::Match { after, .. } = rescore(tmp.path(), Some(everything_ties())).unwrap()
        else {
            panic!("a match directory")
        };
        assert_eq!(after.verdict.winner, None);
        assert_eq!(after.verdict.decision, Decision::Tie { users: 0 });
        assert!(after.rescored.as_ref().unwrap().changed);
        assert_eq!(after.teams[1].sustained_users, 0);
        let on_disk = MatchFile::load(&tmp.path().join(RESCORED_JSON)).unwrap();
        assert_eq!(on_disk, *after);
        assert!(tmp.path().join(RESCORED_LEVELS_CSV).exists());
        assert_eq!(
            std::fs::read(tmp.path().join(MATCH_JSON)).unwrap(),
            live,
            "what was decided live is left as it was"
        );
    }

    #[tokio::test]
    async fn a_match_whose_summaries_were_gzipped_rescores_the_same() {
        let tmp = tempfile::tempdir().unwrap();
        let mut exec = Scripted::with(&[("a", 20), ("b", 40)]);
        let setup = MatchSetup {
            plan: smoke_plan(),
            teams: vec![
                TeamEntry::new("a", "http://a:1"),
                TeamEntry::new("b", "http://b:1"),
            ],
            mode: Mode::Concurrent,
            rules: ScoringRules::default(),
        };
        play_match(&setup, tmp.path(), &mut exec, &CancellationToken::new())
            .await
            .unwrap();
        let judge = || match rescore(tmp.path(), Some(everything_ties())).unwrap() {
            Rescored::Match { after, .. } => (after.verdict, after.teams),
            Rescored::Bracket { .. } => panic!("a match directory"),
        };
        let plain = judge();

        // Archived as benches/results keeps them: `match.json` still names `a/summary.json`.
        for team in ["a", "b"] {
            let json = tmp.path().join(team).join("summary.json");
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            std::io::Write::write_all(&mut gz, &std::fs::read(&json).unwrap()).unwrap();
            std::fs::write(json.with_extension("json.gz"), gz.finish().unwrap()).unwrap();
            std::fs::remove_file(json).unwrap();
        }
        assert_eq!(judge(), plain);
    }

    #[tokio::test]
    async fn a_bracket_rescored_reports_changes_and_where_it_diverges() {
        let tmp = tempfile::tempdir().unwrap();
        let mut exec = Scripted::with(&[("a", 20), ("b", 40), ("c", 60), ("d", 80)]);
        // The first attempt of R1-1 is void.
        exec.unhealthy_runs = 1;
        let setup = smoke_setup("Cup", &["a", "b", "c", "d"], Format::Single);
        play_to_end(tmp.path(), setup, &mut exec).await;
        let live_standings = std::fs::read(tmp.path().join(STANDINGS_CSV)).unwrap();

        let Rescored::Bracket { before, after, .. } = rescore(tmp.path(), None).unwrap() else {
            panic!("a bracket directory")
        };
        let note = after.rescored.as_ref().unwrap();
        assert!(note.changed.is_empty(), "{:?}", note.changed);
        assert_eq!(note.diverged_at, None);
        assert_eq!(after.standings, before.bracket().standings().rows);
        assert_eq!(
            std::fs::read(tmp.path().join(RESCORED_STANDINGS_CSV)).unwrap(),
            live_standings
        );

        // Counting the unhealthy attempt: it stands, and its replay is not re-judged.
        let lenient = NewRules {
            rules: ScoringRules::from_toml_str("void_on_generator_bottleneck = false").unwrap(),
            from: "lenient.toml".into(),
        };
        let Rescored::Bracket { after, .. } = rescore(tmp.path(), Some(lenient)).unwrap() else {
            panic!("a bracket directory")
        };
        let note = after.rescored.as_ref().unwrap();
        assert_eq!(note.changed.len(), 1);
        assert_eq!(note.changed[0].before, Outcome::Void);
        assert_eq!(note.diverged_at, None);
        assert_eq!(after.champion.as_deref(), Some("d"));

        // Everything a draw: better seeds advance, so the final journaled (d v c) was never due.
        let Rescored::Bracket { after, .. } = rescore(tmp.path(), Some(everything_ties())).unwrap()
        else {
            panic!("a bracket directory")
        };
        let note = after.rescored.as_ref().unwrap();
        assert_eq!(note.diverged_at, Some("R2-1".into()));
        assert_eq!(note.rules_from, "strict.toml");
        assert!(!after.finished);
        let file: BracketFile = serde_json::from_str(
            &std::fs::read_to_string(tmp.path().join(RESCORED_BRACKET_JSON)).unwrap(),
        )
        .unwrap();
        assert_eq!(file, *after);
        assert!(tmp.path().join(BRACKET_JSON).exists());
    }

    #[test]
    fn a_directory_that_does_not_exist_is_named_as_such() {
        let tmp = tempfile::tempdir().unwrap();
        let err = rescore(&tmp.path().join("nope"), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope: does not exist"), "{err}");
        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = rescore(&file, None).unwrap_err().to_string();
        assert!(err.contains("file: is not a directory"), "{err}");
    }

    #[test]
    fn a_directory_with_neither_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let err = rescore(tmp.path(), None).unwrap_err().to_string();
        assert!(err.contains("holds neither match.json"), "{err}");
    }
}
