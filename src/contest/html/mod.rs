//! `report.html` of a match and of a bracket, drawn with the pieces of
//! [`report::html`](crate::report::html) from the models this module's neighbours write
//! (`match.json`'s [`MatchFile`] with each team's [`RunSummary`]; `bracket.json`'s [`BracketFile`]
//! with the bracket itself), and [`rebuild`], which writes every page of a results directory again
//! from its saved files (`stampede report DIR`).
//!
//! Pages are written where their files are: a match directory's next to `match.json` (each team's
//! run page is in the team's directory, written with its other results), a bracket's next to
//! `bracket.json`, rewritten with the other views after every match. Links between them are
//! relative, so a whole directory can be copied or mailed and still be browsed.
//!
//! - `match_page.rs`: the match page, [`match_page`].
//! - `bracket_page.rs`: the bracket page and its drawing, [`bracket_page`].

mod bracket_page;
mod match_page;

use std::path::{Path, PathBuf};

use super::ContestError;
use super::files::{
    BracketFile, JOURNAL, MATCH_JSON, MATCHES_DIR, MatchFile, QUALIFYING_DIR, SETUP_JSON,
};
use super::tournament::{BracketSetup, bracket_file, journal_attempts};
use crate::base::summary::RunSummary;
use crate::report::hlog::read_hlog;
use crate::report::html::{REPORT_HTML, run_page};
use crate::report::write::{LATENCY_HLOG, SUMMARY_JSON};
use crate::report::{ReportError, write_file_atomic};
use crate::score::journal::Journal;
use crate::score::{Bracket, MatchId};

pub use bracket_page::bracket_page;
pub use match_page::match_page;

/// Where a match page sits relative to a bracket's page, for its link back: `matches/<id>/` is two
/// levels below, `qualifying/` one.
fn bracket_above(dir: &Path) -> Option<usize> {
    let parent = dir.parent()?;
    if parent.join(SETUP_JSON).is_file() {
        return Some(1);
    }
    let grand = parent.parent()?;
    (parent.file_name()? == MATCHES_DIR && grand.join(SETUP_JSON).is_file()).then_some(2)
}

/// Writes `DIR/report.html` of a played match.
pub fn write_match_report(
    dir: &Path,
    file: &MatchFile,
    summaries: &[Option<RunSummary>],
) -> Result<PathBuf, ReportError> {
    let path = dir.join(REPORT_HTML);
    write_file_atomic(
        &path,
        match_page(file, summaries, bracket_above(dir)).as_bytes(),
    )?;
    Ok(path)
}

/// Writes `DIR/report.html` of a bracket as it stands (`playing`: the match in play, if any).
pub fn write_bracket_report(
    dir: &Path,
    file: &BracketFile,
    bracket: &Bracket,
    playing: Option<&MatchId>,
) -> Result<PathBuf, ReportError> {
    let path = dir.join(REPORT_HTML);
    write_file_atomic(&path, bracket_page(file, bracket, playing).as_bytes())?;
    Ok(path)
}

// ---------------------------------------------------------------------------------------------
// Rebuilding every page of a directory
// ---------------------------------------------------------------------------------------------

/// Writes every page of a results directory again from its saved files: a run directory's
/// (`summary.json`, `latency.hlog`), a match directory's (each team's run, then the match) or a
/// bracket directory's (every match attempt and the qualifying match, then the bracket). Returns the
/// pages written, in order.
pub fn rebuild(dir: &Path) -> Result<Vec<PathBuf>, ContestError> {
    if !dir.is_dir() {
        return Err(ContestError::Invalid {
            path: dir.to_path_buf(),
            message: if dir.exists() {
                "is not a directory".into()
            } else {
                "does not exist".into()
            },
        });
    }
    let mut written = Vec::new();
    if dir.join(JOURNAL).exists() {
        rebuild_bracket(dir, &mut written)?;
    } else if dir.join(MATCH_JSON).exists() {
        rebuild_match(dir, &mut written)?;
    } else if dir.join(SUMMARY_JSON).exists() || dir.join(format!("{SUMMARY_JSON}.gz")).exists() {
        written.push(rebuild_run(dir)?);
    } else {
        return Err(ContestError::Invalid {
            path: dir.to_path_buf(),
            message: format!(
                "holds neither {SUMMARY_JSON} (a run), {MATCH_JSON} (a match) nor {JOURNAL} (a \
                 bracket); give a directory `stampede run`, `match` or `bracket` wrote"
            ),
        });
    }
    Ok(written)
}

/// A run directory's page; without a readable `latency.hlog`, latency over time is drawn from the
/// summary's timeline only.
fn rebuild_run(dir: &Path) -> Result<PathBuf, ContestError> {
    let summary = RunSummary::load(&dir.join(SUMMARY_JSON))?;
    let intervals = std::fs::read(dir.join(LATENCY_HLOG))
        .ok()
        .and_then(|bytes| read_hlog(&bytes).ok())
        .unwrap_or_default();
    let path = dir.join(REPORT_HTML);
    write_file_atomic(&path, run_page(&summary, &intervals).as_bytes())?;
    Ok(path)
}

fn rebuild_match(dir: &Path, written: &mut Vec<PathBuf>) -> Result<(), ContestError> {
    let file = MatchFile::load(&dir.join(MATCH_JSON))?;
    let mut summaries = Vec::new();
    for t in &file.teams {
        match &t.summary {
            Some(rel) => {
                let path = dir.join(rel);
                let summary = RunSummary::load(&path)?;
                if let Some(team_dir) = path.parent() {
                    written.push(rebuild_run(team_dir)?);
                }
                summaries.push(Some(summary));
            }
            None => summaries.push(None),
        }
    }
    written.push(write_match_report(dir, &file, &summaries)?);
    Ok(())
}

fn rebuild_bracket(dir: &Path, written: &mut Vec<PathBuf>) -> Result<(), ContestError> {
    let setup = BracketSetup::load(dir)?;
    let journal_path = dir.join(JOURNAL);
    let bytes = std::fs::read(&journal_path).map_err(|source| ReportError::Read {
        path: journal_path.clone(),
        source,
    })?;
    let journal = Journal::replay(&String::from_utf8_lossy(&bytes))
        .map_err(|e| ContestError::Invalid {
            path: journal_path.clone(),
            message: e.to_string(),
        })?
        .journal;
    // The qualifying match and its replays, then every journaled attempt.
    let mut qualifying: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| ReportError::Read {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(QUALIFYING_DIR))
                && p.join(MATCH_JSON).is_file()
        })
        .collect();
    qualifying.sort();
    for q in qualifying {
        rebuild_match(&q, written)?;
    }
    let attempts = journal_attempts(&journal);
    for (_, rel) in &attempts {
        rebuild_match(&dir.join(rel), written)?;
    }
    let plan = setup.plan().map_err(|e| ContestError::Invalid {
        path: dir.join(SETUP_JSON),
        message: e.to_string(),
    })?;
    let file = bracket_file(
        &setup,
        &plan,
        &journal,
        journal.bracket(),
        journal.rules(),
        &attempts,
        None,
    );
    written.push(write_bracket_report(dir, &file, journal.bracket(), None)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::contest::files::Mode;
    use crate::contest::play::{MatchSetup, play_match};
    use crate::contest::teams::{SavedTeam, TeamEntry};
    use crate::contest::testkit::{Scripted, play_to_end, smoke_plan, smoke_setup};
    use crate::report::html::run::SCORING_SLO_MS;
    use crate::report::html::testkit::{HOSTILE, NEVER};
    use crate::score::{Format, ScoringRules};

    #[test]
    fn the_run_pages_slo_is_the_scoring_default() {
        assert_eq!(
            SCORING_SLO_MS,
            crate::score::rules::DEFAULT_DELIVERY_P99_SLO_MS
        );
    }

    #[tokio::test]
    async fn a_match_page_shows_the_verdict_both_teams_and_links() {
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
        let played = play_match(&setup, tmp.path(), &mut exec, &CancellationToken::new())
            .await
            .unwrap();
        let html = std::fs::read_to_string(tmp.path().join(REPORT_HTML)).unwrap();
        assert_eq!(html, match_page(&played.file, &played.summaries, None));
        assert!(
            html.contains("data-winner=\"b\""),
            "the winner is on the page"
        );
        assert!(
            html.contains(
                &crate::report::html::markup::escape(&played.verdict().reason).into_owned()
            )
        );
        assert!(html.contains("href=\"a/report.html\"") && html.contains("href=\"b/report.html\""));
        assert!(
            html.contains("class=\"decided\""),
            "the deciding level is marked"
        );
        assert!(
            html.contains("<th colspan=\"7\">a</th>") && html.contains("<th colspan=\"7\">b</th>")
        );

        let pages = rebuild(tmp.path()).unwrap();
        assert_eq!(pages.len(), 3, "{pages:?}");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join(REPORT_HTML)).unwrap(),
            html,
            "rebuilt the same"
        );
    }

    #[test]
    fn a_hostile_team_and_reason_are_text() {
        let mut s = crate::report::fixture::summary();
        s.team = Some(HOSTILE[0].into());
        let name = HOSTILE[2].to_string();
        let verdict = crate::score::judge(&[(name.clone(), s.clone())], &ScoringRules::default());
        let mut file = MatchFile::new(
            crate::contest::files::PlanInfo {
                scenario: HOSTILE[3].into(),
                seed: 1,
                time_scale: 1.0,
            },
            Mode::Concurrent,
            false,
            &[(
                SavedTeam {
                    name: name.clone(),
                    target: HOSTILE[1].into(),
                    seed: None,
                },
                Some(s.clone()),
            )],
            verdict,
        );
        file.verdict.reason = HOSTILE.join(" ");
        let html = match_page(&file, &[Some(s)], Some(2));
        for bad in NEVER {
            assert!(!html.contains(bad), "{bad} got through");
        }
        assert!(
            html.contains("%22%3E%3Cimg"),
            "a team's link is percent-encoded"
        );
    }

    #[tokio::test]
    async fn a_bracket_page_draws_every_match_and_links_its_reports() {
        let tmp = tempfile::tempdir().unwrap();
        let mut exec = Scripted::with(&[("a", 20), ("b", 40), ("c", 60)]);
        let setup = smoke_setup("Cup <b>", &["a", "b", "c"], Format::Single);
        play_to_end(tmp.path(), setup, &mut exec).await;
        let html = std::fs::read_to_string(tmp.path().join(REPORT_HTML)).unwrap();
        assert!(html.contains("data-champion=\"c\""), "c holds the most");
        assert!(html.contains("Cup &lt;b&gt;"));
        for id in ["R1-1", "R1-2", "R2-1"] {
            assert!(html.contains(&format!("data-match=\"{id}\"")), "{id}");
        }
        assert!(html.contains("href=\"matches/R2-1/report.html\""));
        assert!(html.contains("class=\"wire\""), "a tree has wires");
        let m = std::fs::read_to_string(tmp.path().join("matches/R2-1/report.html")).unwrap();
        assert!(
            m.contains("href=\"../../report.html\""),
            "a bracket's match links back"
        );
        let pages = rebuild(tmp.path()).unwrap();
        assert_eq!(pages.last().unwrap(), &tmp.path().join(REPORT_HTML));
        assert_eq!(
            pages.len(),
            2 * 3 + 1,
            "two matches of two teams, and the bracket"
        );
    }

    #[tokio::test]
    async fn double_elimination_and_round_robin_pages_draw_and_link_every_match() {
        for format in [Format::Double, Format::RoundRobin] {
            let tmp = tempfile::tempdir().unwrap();
            let mut exec = Scripted::with(&[("a", 20), ("b", 40), ("c", 60)]);
            let setup = smoke_setup("Cup", &["a", "b", "c"], format);
            play_to_end(tmp.path(), setup, &mut exec).await;
            let html = std::fs::read_to_string(tmp.path().join(REPORT_HTML)).unwrap();
            let name = format.name();
            assert!(html.contains("<svg"), "{name}: the bracket is drawn");
            assert!(
                html.contains("data-champion=\"c\""),
                "{name}: c holds the most"
            );
            let mut played = 0;
            for e in std::fs::read_dir(tmp.path().join("matches")).unwrap() {
                let id = e.unwrap().file_name().to_string_lossy().into_owned();
                assert!(
                    html.contains(&format!("data-match=\"{id}\"")),
                    "{name}: {id} drawn"
                );
                assert!(
                    html.contains(&format!("href=\"matches/{id}/report.html\"")),
                    "{name}: {id} linked"
                );
                played += 1;
            }
            // Round robin: everyone meets everyone once; double elimination needs more than two.
            assert!(played >= 3, "{name}: {played} matches");
        }
    }

    #[test]
    fn rebuilding_a_directory_that_is_not_one_says_what_it_is() {
        let tmp = tempfile::tempdir().unwrap();
        let err = rebuild(&tmp.path().join("nope")).unwrap_err().to_string();
        assert!(err.ends_with("nope: does not exist"), "{err}");
        let err = rebuild(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("holds neither summary.json"), "{err}");
    }
}
