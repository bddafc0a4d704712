//! `stampede report DIR` (every page of a results directory written again) and `stampede compare A B`
//! (two runs or two matches side by side). Both read saved results only: nothing runs, nothing is
//! re-judged. The comparison itself is [`report::compare`](crate::report::compare); this reads the
//! directories, pairs what is compared and turns the findings into an exit code.

use std::path::{Path, PathBuf};

use super::args::{CompareArgs, ReportArgs};
use super::exit::{CliError, Exit};
use crate::base::summary::RunSummary;
use crate::contest::files::{MATCH_JSON, MatchFile};
use crate::report::compare::{Comparison, Side, compare, render_text};
use crate::report::hlog::read_hlog;
use crate::report::html::compare::{Compared, compare_page};
use crate::report::write::{LATENCY_HLOG, SUMMARY_JSON, write_file_atomic};
use crate::score::{ScoringRules, score};

/// `stampede report`, resolved.
#[derive(Debug, Clone)]
pub struct ReportConfig {
    /// The results directory.
    pub dir: PathBuf,
}

impl ReportConfig {
    /// Resolves `stampede report` flags.
    pub fn resolve(args: ReportArgs) -> Result<ReportConfig, CliError> {
        Ok(ReportConfig { dir: args.dir })
    }
}

/// `stampede compare`, resolved.
#[derive(Debug, Clone)]
pub struct CompareConfig {
    /// The baseline's directory.
    pub a: PathBuf,
    /// The other directory.
    pub b: PathBuf,
    /// Where the HTML page goes, if anywhere.
    pub html: Option<PathBuf>,
    /// `--fail-if-worse`, in percent.
    pub fail_if_worse: Option<f64>,
}

impl CompareConfig {
    /// Resolves `stampede compare` flags: both directories exist, the margin is a percentage.
    pub fn resolve(args: CompareArgs) -> Result<CompareConfig, CliError> {
        for dir in [&args.a, &args.b] {
            if !dir.is_dir() {
                return Err(CliError::Input(format!(
                    "{} is not a directory (give two results directories written by `stampede \
                     run`, `match` or `merge`)",
                    dir.display()
                )));
            }
        }
        if let Some(pct) = args.fail_if_worse
            && !(pct.is_finite() && pct >= 0.0)
        {
            return Err(CliError::Flag {
                flag: "--fail-if-worse",
                message: format!("{pct} is not a percentage (give 0 or more, e.g. 10)"),
            });
        }
        Ok(CompareConfig {
            a: args.a,
            b: args.b,
            html: args.html,
            fail_if_worse: args.fail_if_worse,
        })
    }
}

/// Writes every page of the directory again and names them.
pub fn report(config: ReportConfig) -> Result<Exit, CliError> {
    let written = crate::contest::html::rebuild(&config.dir)?;
    for path in written {
        crate::outln!("wrote {}", path.display());
    }
    Ok(Exit::Ok)
}

/// What one directory holds for a comparison.
enum Holding {
    /// A run (or merged run).
    Run(Box<Side>),
    /// A match: one side per team that has results, with the match's scenario.
    Match(String, Vec<(String, Side)>),
}

/// Compares the two directories, prints the comparison and writes the page when asked; exit 1 when
/// `--fail-if-worse` found something.
pub fn compare_dirs(config: CompareConfig) -> Result<Exit, CliError> {
    let a = load(&config.a)?;
    let b = load(&config.b)?;
    let pairs: Vec<(Option<String>, Comparison)> = match (a, b) {
        (Holding::Run(a), Holding::Run(b)) => {
            let (a, b) = (*a, *b);
            same_scenario(&a.summary.scenario, &b.summary.scenario)?;
            vec![(None, compare(&a, &b))]
        }
        (Holding::Match(sa, ta), Holding::Match(sb, tb)) => {
            same_scenario(&sa, &sb)?;
            let pairs: Vec<_> = ta
                .iter()
                .filter_map(|(name, a)| {
                    let (_, b) = tb.iter().find(|(n, _)| n == name)?;
                    Some((Some(name.clone()), compare(a, b)))
                })
                .collect();
            if pairs.is_empty() {
                return Err(CliError::Input(format!(
                    "{} and {} have no team in common with results; a match is compared team by \
                     team",
                    config.a.display(),
                    config.b.display()
                )));
            }
            pairs
        }
        _ => {
            return Err(CliError::Input(format!(
                "{} and {} are not the same kind of result (one is a match, the other a run); \
                 compare two runs or two matches",
                config.a.display(),
                config.b.display()
            )));
        }
    };

    let worse: Vec<Vec<String>> = pairs
        .iter()
        .map(|(_, c)| {
            config
                .fail_if_worse
                .map(|pct| c.worse_than(pct))
                .unwrap_or_default()
        })
        .collect();
    for ((team, c), w) in pairs.iter().zip(&worse) {
        if let Some(team) = team {
            crate::outln!("== team {team}");
        }
        crate::out!("{}", render_text(c));
        if let Some(pct) = config.fail_if_worse {
            if w.is_empty() {
                crate::outln!("not worse than A by more than {pct} % beyond noise");
            } else {
                crate::outln!("worse than A by more than {pct} % beyond noise:");
                for finding in w {
                    crate::outln!("  {finding}");
                }
            }
        }
    }
    if let Some(path) = &config.html {
        let items: Vec<Compared<'_>> = pairs
            .iter()
            .zip(&worse)
            .map(|((team, c), w)| Compared {
                team: team.as_deref(),
                comparison: c,
                worse: config.fail_if_worse.map(|pct| (pct, w.as_slice())),
            })
            .collect();
        let page = compare_page(
            &config.a.display().to_string(),
            &config.b.display().to_string(),
            &items,
        );
        write_file_atomic(path, page.as_bytes())
            .map_err(|e| CliError::Contest(crate::contest::ContestError::Files(e)))?;
        crate::outln!("wrote {}", path.display());
    }
    Ok(if worse.iter().any(|w| !w.is_empty()) {
        Exit::ThresholdsBroken
    } else {
        Exit::Ok
    })
}

fn same_scenario(a: &str, b: &str) -> Result<(), CliError> {
    if a == b {
        Ok(())
    } else {
        Err(CliError::Input(format!(
            "A is a run of scenario {a:?} and B of {b:?}; only runs of the same scenario compare"
        )))
    }
}

/// Reads a run directory (`summary.json` or `summary.json.gz`, and `latency.hlog` when readable) or
/// a match directory (`match.json` and each team's run).
fn load(dir: &Path) -> Result<Holding, CliError> {
    if dir.join(MATCH_JSON).exists() {
        let file = MatchFile::load(&dir.join(MATCH_JSON)).map_err(bad_file)?;
        let mut sides = Vec::new();
        for team in &file.teams {
            let Some(rel) = &team.summary else { continue };
            let path = dir.join(rel);
            let run_dir = path.parent().unwrap_or(dir);
            let mut side = run_side(run_dir, &path, format!("{} ({})", dir.display(), team.name))?;
            side.sustained_users = Some(team.sustained_users);
            sides.push((team.name.clone(), side));
        }
        return Ok(Holding::Match(file.scenario, sides));
    }
    let summary = dir.join(SUMMARY_JSON);
    if summary.exists() || dir.join(format!("{SUMMARY_JSON}.gz")).exists() {
        return Ok(Holding::Run(Box::new(run_side(
            dir,
            &summary,
            dir.display().to_string(),
        )?)));
    }
    Err(CliError::Input(format!(
        "{} holds neither {SUMMARY_JSON} (a run) nor {MATCH_JSON} (a match); give a directory \
         `stampede run`, `match` or `merge` wrote",
        dir.display()
    )))
}

fn run_side(dir: &Path, summary: &Path, label: String) -> Result<Side, CliError> {
    let summary = RunSummary::load(summary).map_err(bad_file)?;
    // Without a readable interval log the comparison still runs; it says the noise is unknown.
    let intervals = std::fs::read(dir.join(LATENCY_HLOG))
        .ok()
        .and_then(|bytes| read_hlog(&bytes).ok())
        .unwrap_or_default();
    // A run is scored under the default competition rules; a match overrides this with the score
    // its own rules gave.
    let sustained_users = Some(score(&summary, &ScoringRules::default()).sustained_users);
    Ok(Side {
        label,
        summary,
        intervals,
        sustained_users,
    })
}

fn bad_file(e: impl std::fmt::Display) -> CliError {
    CliError::Input(e.to_string())
}
