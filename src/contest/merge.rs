//! A match played in segments, merged: each team's segment results merged as a run's are
//! ([`crate::merge`]), then judged once, on the whole load, with the rules the segments were played
//! under, into a match directory like any other.

use std::path::{Path, PathBuf};

use super::files::{LEVELS_CSV, MATCH_JSON, MatchFile, PlanInfo};
use super::play::{verdict_of, write_match_files};
use super::teams::SavedTeam;
use super::{ContestError, PlayedMatch};
use crate::base::summary::RunSummary;
use crate::merge::{MergeError, check_segments, load_segment, merge_runs};
use crate::report::write_run;

/// Why segments of a match could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MatchMergeError {
    /// A team's segments could not be merged (the message names the directory).
    #[error(transparent)]
    Merge(#[from] MergeError),
    /// A match file could not be read or written.
    #[error(transparent)]
    Contest(#[from] ContestError),
    /// The segments are not of one match.
    #[error("{}: {reason}", dir.display())]
    Mismatch {
        /// The segment directory that does not fit.
        dir: PathBuf,
        /// How.
        reason: String,
    },
}

/// True when `dir` holds a match (its `match.json`), rather than a run.
pub fn is_match_dir(dir: &Path) -> bool {
    dir.join(MATCH_JSON).exists()
}

/// Merges the segment match directories `dirs` into the match directory `out` and judges it.
/// Nothing is written unless every team's segments merge.
pub fn merge_matches(
    out: &Path,
    dirs: &[PathBuf],
    allow_missing: bool,
) -> Result<PlayedMatch, MatchMergeError> {
    let files = dirs
        .iter()
        .map(|d| MatchFile::load(&d.join(MATCH_JSON)).map_err(ContestError::from))
        .collect::<Result<Vec<_>, _>>()?;
    let first = files.first().ok_or(MergeError::Nothing)?;
    let names: Vec<&str> = first.teams.iter().map(|t| t.name.as_str()).collect();
    for (dir, f) in dirs.iter().zip(&files) {
        let these: Vec<&str> = f.teams.iter().map(|t| t.name.as_str()).collect();
        if these != names || f.mode != first.mode {
            return Err(MatchMergeError::Mismatch {
                dir: dir.clone(),
                reason: format!(
                    "a segment of another match (teams {these:?}, {} mode; the first has {names:?}, \
                     {} mode)",
                    f.mode.name(),
                    first.mode.name()
                ),
            });
        }
    }
    // Every team's segments merged first, so that nothing is written when one does not merge.
    let mut merged = Vec::new();
    for team in &first.teams {
        let runs = dirs
            .iter()
            .map(|d| load_segment(&d.join(&team.name)))
            .collect::<Result<Vec<_>, _>>()?;
        let (runs, missing) = check_segments(runs, allow_missing)?;
        merged.push(merge_runs(&runs, &missing));
    }
    let mut summaries: Vec<Option<RunSummary>> = Vec::new();
    for (team, (summary, hlog)) in first.teams.iter().zip(merged) {
        write_run(&out.join(&team.name), &summary, &hlog).map_err(ContestError::from)?;
        summaries.push(Some(summary));
    }
    let named: Vec<(String, Option<RunSummary>)> = first
        .teams
        .iter()
        .map(|t| t.name.clone())
        .zip(summaries.iter().cloned())
        .collect();
    let verdict = verdict_of(&named, &first.verdict.rules);
    let interrupted =
        files.iter().any(|f| f.interrupted) || summaries.iter().flatten().any(|s| s.partial);
    let teams: Vec<(SavedTeam, Option<RunSummary>)> = first
        .teams
        .iter()
        .map(|t| SavedTeam {
            name: t.name.clone(),
            target: t.target.clone(),
            seed: None,
        })
        .zip(summaries.iter().cloned())
        .collect();
    let file = MatchFile::new(
        PlanInfo {
            scenario: first.scenario.clone(),
            seed: first.seed,
            time_scale: first.time_scale,
        },
        first.mode,
        interrupted,
        &teams,
        verdict,
    );
    write_match_files(out, &file, &summaries, MATCH_JSON, LEVELS_CSV)?;
    super::html::write_match_report(out, &file, &summaries).map_err(ContestError::from)?;
    Ok(PlayedMatch { file, summaries })
}
