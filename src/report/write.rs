//! [`write_run`]: every result file of a run, into one directory.
//!
//! Each file is rendered into a temporary name beside it, flushed to disk, then renamed over the
//! final name, so a crash or an error mid-write never leaves a truncated file and never destroys the
//! previous version of it. Files are written in order of importance (`summary.json` first, then the
//! text and CSV files, the interval log, and `report.html` last) and the first error stops the rest, naming the file and the OS error.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write as _};
use std::path::{Path, PathBuf};

use super::csv::{write_failures, write_levels, write_timeline};
use super::error::ReportError;
use super::hlog::{HlogError, parse_started_at, write_hlog};
use super::html::{REPORT_HTML, run_page};
use super::json::write_json;
use super::text::render_text;
use crate::base::hist::HlogEntry;
use crate::base::summary::RunSummary;

/// The run summary, the file everything else can be recomputed from.
pub const SUMMARY_JSON: &str = "summary.json";
/// The text summary, as printed at the end of the run.
pub const SUMMARY_TXT: &str = "summary.txt";
/// One row per user level.
pub const LEVELS_CSV: &str = "levels.csv";
/// One row per second.
pub const TIMELINE_CSV: &str = "timeline.csv";
/// One row per (failure kind, operation).
pub const FAILURES_CSV: &str = "failures.csv";
/// HdrHistogram interval log of latency per operation.
pub const LATENCY_HLOG: &str = "latency.hlog";
/// The run as a self-contained page.
pub const RUN_REPORT_HTML: &str = REPORT_HTML;

/// Where [`write_run`] put each file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFiles {
    /// [`SUMMARY_JSON`].
    pub summary_json: PathBuf,
    /// [`SUMMARY_TXT`].
    pub summary_txt: PathBuf,
    /// [`LEVELS_CSV`].
    pub levels_csv: PathBuf,
    /// [`TIMELINE_CSV`].
    pub timeline_csv: PathBuf,
    /// [`FAILURES_CSV`].
    pub failures_csv: PathBuf,
    /// [`LATENCY_HLOG`].
    pub latency_hlog: PathBuf,
    /// [`RUN_REPORT_HTML`].
    pub report_html: PathBuf,
}

impl WrittenFiles {
    /// Every path, in the order written.
    pub fn paths(&self) -> [&Path; 7] {
        [
            &self.summary_json,
            &self.summary_txt,
            &self.levels_csv,
            &self.timeline_csv,
            &self.failures_csv,
            &self.latency_hlog,
            &self.report_html,
        ]
    }
}

/// Writes every result file of `summary` (and its interval histograms `hlog`) into `dir`, creating
/// it if missing. Existing files of the same names are replaced whole or not at all.
pub fn write_run(
    dir: &Path,
    summary: &RunSummary,
    hlog: &[HlogEntry],
) -> Result<WrittenFiles, ReportError> {
    fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let files = WrittenFiles {
        summary_json: dir.join(SUMMARY_JSON),
        summary_txt: dir.join(SUMMARY_TXT),
        levels_csv: dir.join(LEVELS_CSV),
        timeline_csv: dir.join(TIMELINE_CSV),
        failures_csv: dir.join(FAILURES_CSV),
        latency_hlog: dir.join(LATENCY_HLOG),
        report_html: dir.join(RUN_REPORT_HTML),
    };
    write_atomic(&files.summary_json, |w| Ok(write_json(w, summary)?))?;
    write_atomic(&files.summary_txt, |w| {
        Ok(w.write_all(render_text(summary).as_bytes())?)
    })?;
    write_atomic(&files.levels_csv, |w| Ok(write_levels(w, summary)?))?;
    write_atomic(&files.timeline_csv, |w| Ok(write_timeline(w, summary)?))?;
    write_atomic(&files.failures_csv, |w| Ok(write_failures(w, summary)?))?;
    write_atomic(&files.latency_hlog, |w| {
        let started = parse_started_at(&summary.started_at).ok_or_else(|| {
            Fail::Encode(format!(
                "started_at `{}` is not an RFC 3339 time, so the log has no start",
                summary.started_at
            ))
        })?;
        Ok(write_hlog(w, started, hlog)?)
    })?;
    write_atomic(&files.report_html, |w| {
        Ok(w.write_all(run_page(summary, hlog).as_bytes())?)
    })?;
    Ok(files)
}

/// Writes `bytes` to `path` the way [`write_run`] writes each result file: into a temporary name
/// beside it, synced, then renamed over `path`, so readers see the old file or the new one, whole.
/// Match, bracket and standings files use it too.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    write_atomic(path, |w| Ok(w.write_all(bytes)?))
}

/// Why rendering one file failed: the OS, or a value its format cannot hold.
enum Fail {
    Io(io::Error),
    Encode(String),
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Self {
        Fail::Io(e)
    }
}

impl From<serde_json::Error> for Fail {
    fn from(e: serde_json::Error) -> Self {
        if e.is_io() {
            Fail::Io(e.into())
        } else {
            Fail::Encode(e.to_string())
        }
    }
}

impl From<::csv::Error> for Fail {
    fn from(e: ::csv::Error) -> Self {
        if e.is_io_error() {
            match e.into_kind() {
                ::csv::ErrorKind::Io(e) => Fail::Io(e),
                other => Fail::Encode(format!("{other:?}")),
            }
        } else {
            Fail::Encode(e.to_string())
        }
    }
}

impl From<HlogError> for Fail {
    fn from(e: HlogError) -> Self {
        match e {
            HlogError::Io(e) => Fail::Io(e),
            other => Fail::Encode(other.to_string()),
        }
    }
}

/// Renders into `.<name>.<pid>.tmp` beside `path`, syncs it, and renames it over `path`. The
/// temporary file is removed on any failure. The pid keeps two processes writing the same directory
/// from sharing a temporary file; the last rename wins, whole.
fn write_atomic(
    path: &Path,
    render: impl FnOnce(&mut BufWriter<File>) -> Result<(), Fail>,
) -> Result<(), ReportError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut w = BufWriter::new(File::create(&tmp)?);
        render(&mut w)?;
        let file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok(())
    })();
    result.map_err(|fail| {
        // Best effort: the error that matters is the one being reported.
        let _ = fs::remove_file(&tmp);
        match fail {
            Fail::Io(source) => ReportError::Write {
                path: path.to_path_buf(),
                source,
            },
            Fail::Encode(message) => ReportError::Encode {
                path: path.to_path_buf(),
                message,
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_every_file_into_a_new_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("results/run-1");
        let s = fixture::summary();
        let files = write_run(&dir, &s, &fixture::hlog()).unwrap();

        assert_eq!(
            names(&dir),
            [
                FAILURES_CSV,
                LATENCY_HLOG,
                LEVELS_CSV,
                RUN_REPORT_HTML,
                SUMMARY_JSON,
                SUMMARY_TXT,
                TIMELINE_CSV
            ],
            "exactly the result files, no temporaries left"
        );
        assert!(files.paths().iter().all(|p| p.starts_with(&dir)));
        assert_eq!(RunSummary::load(&files.summary_json).unwrap(), s);
        assert_eq!(
            fs::read_to_string(&files.summary_txt).unwrap(),
            render_text(&s)
        );
        let levels = fs::read_to_string(&files.levels_csv).unwrap();
        assert_eq!(levels.lines().count(), 1 + s.levels.len());
        let timeline = fs::read_to_string(&files.timeline_csv).unwrap();
        assert_eq!(timeline.lines().count(), 1 + s.timeline.len());
        let failures = fs::read_to_string(&files.failures_csv).unwrap();
        assert!(failures.starts_with("kind,op,count,samples\n"));
        let hlog = fs::read(&files.latency_hlog).unwrap();
        let intervals = IntervalLogIterator::new(&hlog)
            .filter(|e| matches!(e, Ok(LogEntry::Interval(_))))
            .count();
        assert_eq!(intervals, fixture::hlog().len());
        let html = fs::read_to_string(&files.report_html).unwrap();
        assert_eq!(html, run_page(&s, &fixture::hlog()));
    }

    #[test]
    fn rewriting_replaces_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = fixture::summary();
        write_run(dir.path(), &s, &[]).unwrap();
        s.seed = 7;
        let files = write_run(dir.path(), &s, &[]).unwrap();
        assert_eq!(RunSummary::load(&files.summary_json).unwrap().seed, 7);
        assert_eq!(names(dir.path()).len(), 7);
    }

    #[test]
    fn a_failed_write_keeps_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let s = fixture::summary();
        let files = write_run(dir.path(), &s, &fixture::hlog()).unwrap();
        let before = fs::read(&files.latency_hlog).unwrap();

        let mut broken = fixture::hlog();
        broken.last_mut().unwrap().encoded = "not a histogram".into();
        let err = write_run(dir.path(), &s, &broken).unwrap_err();
        assert!(matches!(err, ReportError::Encode { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("latency.hlog"), "{msg}");
        assert!(msg.contains("does not decode"), "{msg}");
        // The log was half written when the bad entry came up; none of that reached the old file.
        assert_eq!(fs::read(&files.latency_hlog).unwrap(), before);
        assert_eq!(names(dir.path()).len(), 7, "temporary removed");
    }

    #[test]
    fn errors_name_the_file_and_the_os_error() {
        let tmp = tempfile::tempdir().unwrap();
        let s = fixture::summary();

        // The results directory is a regular file.
        let not_dir = tmp.path().join("taken");
        fs::write(&not_dir, "x").unwrap();
        let err = write_run(&not_dir, &s, &[]).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ReportError::CreateDir { .. }));
        assert!(msg.contains("taken") && msg.contains("exists"), "{msg}");

        // A directory stands where levels.csv should go: the rename fails, earlier files stay.
        let dir = tmp.path().join("run");
        fs::create_dir_all(dir.join(LEVELS_CSV)).unwrap();
        let err = write_run(&dir, &s, &[]).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ReportError::Write { .. }));
        assert!(
            msg.starts_with("cannot write ") && msg.contains("levels.csv"),
            "{msg}"
        );
        assert!(
            msg.contains("directory"),
            "the OS error is in the message: {msg}"
        );
        assert!(dir.join(SUMMARY_JSON).is_file());
        assert!(
            !dir.join(TIMELINE_CSV).exists(),
            "stopped at the first error"
        );
        assert_eq!(names(&dir), [LEVELS_CSV, SUMMARY_JSON, SUMMARY_TXT]);
    }

    #[test]
    fn a_summary_without_a_start_time_cannot_have_a_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = fixture::summary();
        s.started_at = "sometime".into();
        let err = write_run(dir.path(), &s, &fixture::hlog()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("latency.hlog") && msg.contains("sometime"),
            "{msg}"
        );
        assert!(dir.path().join(FAILURES_CSV).is_file());
    }
}
