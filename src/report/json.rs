//! `summary.json`: the [`RunSummary`] itself, pretty-printed, and reading it back.
//!
//! This is the file scoring, matches and brackets are computed from, so reading checks
//! `schema_version` before anything else: a summary from a layout this build cannot read gets an
//! error that names both versions instead of a confusing "missing field" deep inside. Older layouts
//! this build still reads ([`OLDEST_READABLE`] up) load with their missing fields at zero.
//!
//! Archived summaries may be stored gzip-compressed as `summary.json.gz` (a ramp to thousands of
//! users makes a summary of a megabyte, mostly per-level and per-second rows, which gzip halves).
//! Reading accepts either: a `.gz` path is decompressed, and a `summary.json` that is missing is
//! looked for as `summary.json.gz` beside it, so files that name `a/summary.json` (`match.json`,
//! the bracket journal) still find a compressed copy. Runs themselves always write plain JSON.

use std::ffi::OsString;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::ReportError;
use crate::base::summary::{OLDEST_READABLE, RunSummary, SCHEMA_VERSION};

/// Writes `summary` as pretty JSON followed by a newline.
pub fn write_json<W: io::Write>(out: &mut W, summary: &RunSummary) -> serde_json::Result<()> {
    serde_json::to_writer_pretty(&mut *out, summary)?;
    out.write_all(b"\n").map_err(serde_json::Error::io)
}

/// Just enough of a summary to check its layout version before parsing the rest.
#[derive(Deserialize)]
struct VersionProbe {
    schema_version: Option<u64>,
}

impl RunSummary {
    /// Reads a `summary.json` written by [`write_json`]. Errors name `path`; a file of a version
    /// outside [`OLDEST_READABLE`]..=[`SCHEMA_VERSION`] is refused with both versions in the message.
    ///
    /// `path` may name a gzip file (`….json.gz`); a plain path that does not exist is read from
    /// `<path>.gz` when that exists (see the module docs). Errors name the file actually read.
    pub fn load(path: &Path) -> Result<RunSummary, ReportError> {
        let (text, read) = read_json_or_gz(path)?;
        RunSummary::from_json(&text, &read)
    }

    /// Parses the text of a `summary.json`; `path` is only used to name it in errors.
    pub fn from_json(text: &str, path: &Path) -> Result<RunSummary, ReportError> {
        // A probe that fails (not JSON, not an object) falls through to the full parse, whose error
        // carries the line and column.
        if let Ok(VersionProbe {
            schema_version: Some(found),
        }) = serde_json::from_str(text)
            && !(u64::from(OLDEST_READABLE)..=u64::from(SCHEMA_VERSION)).contains(&found)
        {
            return Err(ReportError::SchemaVersion {
                path: path.to_path_buf(),
                found,
                expected: SCHEMA_VERSION,
            });
        }
        serde_json::from_str(text).map_err(|source| ReportError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// The text of `path`, or of its gzip-compressed `<path>.gz` if only that exists, with the path
/// that was read.
fn read_json_or_gz(path: &Path) -> Result<(String, PathBuf), ReportError> {
    let read_error = |path: &Path, source| ReportError::Read {
        path: path.to_path_buf(),
        source,
    };
    if is_gz(path) {
        return read_gz(path)
            .map(|text| (text, path.to_path_buf()))
            .map_err(|e| read_error(path, e));
    }
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((text, path.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut gz = OsString::from(path.as_os_str());
            gz.push(".gz");
            let gz = PathBuf::from(gz);
            match read_gz(&gz) {
                Ok(text) => Ok((text, gz)),
                // Neither exists: the error names the file the caller asked for.
                Err(g) if g.kind() == io::ErrorKind::NotFound => Err(read_error(path, e)),
                Err(g) => Err(read_error(&gz, g)),
            }
        }
        Err(e) => Err(read_error(path, e)),
    }
}

fn is_gz(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Decompresses a whole gzip file (every member, as `gzip -d` does) into text.
fn read_gz(path: &Path) -> io::Result<String> {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(io::BufReader::new(std::fs::File::open(path)?))
        .read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn json_of(s: &RunSummary) -> String {
        let mut buf = Vec::new();
        write_json(&mut buf, s).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        let s = fixture::summary();
        let text = json_of(&s);
        assert!(
            text.starts_with("{\n  \"schema_version\": 2,"),
            "{text:.60}"
        );
        assert!(text.ends_with("}\n"));
        std::fs::write(&path, &text).unwrap();
        assert_eq!(RunSummary::load(&path).unwrap(), s);
    }

    fn gzip(text: &str) -> Vec<u8> {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(text.as_bytes()).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn reads_a_gzipped_summary_by_either_name() {
        let dir = tempfile::tempdir().unwrap();
        let s = fixture::summary();
        let gz = dir.path().join("summary.json.gz");
        std::fs::write(&gz, gzip(&json_of(&s))).unwrap();
        assert_eq!(RunSummary::load(&gz).unwrap(), s);
        // The name a match file records finds the compressed copy beside it.
        assert_eq!(
            RunSummary::load(&dir.path().join("summary.json")).unwrap(),
            s
        );
    }

    #[test]
    fn the_plain_file_wins_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("summary.json");
        let mut other = fixture::summary();
        other.seed += 1;
        std::fs::write(&plain, json_of(&fixture::summary())).unwrap();
        std::fs::write(dir.path().join("summary.json.gz"), gzip(&json_of(&other))).unwrap();
        assert_eq!(RunSummary::load(&plain).unwrap(), fixture::summary());

        let missing = dir.path().join("missing/summary.json");
        let err = RunSummary::load(&missing).unwrap_err().to_string();
        assert!(err.starts_with("cannot read "), "{err}");
        assert!(err.contains("missing/summary.json:"), "{err}");

        // A broken archive is named, not the plain name it was found under.
        let broken = dir.path().join("broken");
        std::fs::create_dir(&broken).unwrap();
        std::fs::write(broken.join("summary.json.gz"), b"not gzip").unwrap();
        let err = RunSummary::load(&broken.join("summary.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("summary.json.gz"), "{err}");

        // Parse errors name the compressed file too.
        let bad = dir.path().join("bad.json.gz");
        std::fs::write(&bad, gzip("{\"schema_version\": 1,")).unwrap();
        let err = RunSummary::load(&bad).unwrap_err();
        assert!(matches!(err, ReportError::Parse { .. }), "{err}");
        assert!(err.to_string().contains("bad.json.gz"), "{err}");
    }

    #[test]
    fn snake_case_names_on_the_wire() {
        let text = json_of(&fixture::summary());
        for needle in [
            "\"op\": \"join_room\"",
            "\"kind\": \"delivery_missing\"",
            "\"metric\": \"vu_failure_ratio\"",
            "\"actual\": null",
            "\"peak_connected\": 292",
        ] {
            assert!(text.contains(needle), "missing {needle}");
        }
    }

    #[test]
    fn another_schema_version_names_both_versions() {
        let mut value = serde_json::to_value(fixture::summary()).unwrap();
        value["schema_version"] = 7.into();
        // A field this build does not know about must not hide the version mismatch.
        value["latency"] = "reshaped in v7".into();
        let path = Path::new("/results/old/summary.json");
        let err = RunSummary::from_json(&value.to_string(), path).unwrap_err();
        assert!(matches!(
            err,
            ReportError::SchemaVersion {
                found: 7,
                expected: SCHEMA_VERSION,
                ..
            }
        ));
        let msg = err.to_string();
        assert!(msg.contains("/results/old/summary.json"), "{msg}");
        assert!(msg.contains("schema_version 7"), "{msg}");
        assert!(
            msg.ends_with(&format!(
                "reads schema_version {OLDEST_READABLE} to {SCHEMA_VERSION}"
            )),
            "{msg}"
        );
    }

    #[test]
    fn version_1_files_still_load_with_the_newer_counts_at_zero() {
        let mut value = serde_json::to_value(fixture::summary()).unwrap();
        value["schema_version"] = 1.into();
        let doc = value.as_object_mut().unwrap();
        for added in ["receipts", "reactions", "verify"] {
            doc.remove(added);
        }
        for added in ["late", "unjudged", "echoes_unjudged"] {
            doc["messages"].as_object_mut().unwrap().remove(added);
        }
        for level in doc["levels"].as_array_mut().unwrap() {
            let level = level.as_object_mut().unwrap();
            level.retain(|k, _| {
                !(k.starts_with("receipt")
                    || k.starts_with("reaction")
                    || ["deliveries_late", "unjudged", "pending"].contains(&k.as_str()))
            });
        }
        let s = RunSummary::from_json(&value.to_string(), Path::new("v1/summary.json")).unwrap();
        assert_eq!(s.schema_version, 1);
        assert_eq!(s.receipts, Default::default());
        assert_eq!(s.messages.late, 0);
        assert_eq!(s.levels[2].deliveries_late, 0);
        assert_eq!(
            s.levels[2].deliveries,
            fixture::summary().levels[2].deliveries
        );
    }

    #[test]
    fn broken_documents_are_named() {
        let path = Path::new("runs/a/summary.json");
        let err = RunSummary::from_json("{\"schema_version\": 1,", path).unwrap_err();
        assert!(matches!(err, ReportError::Parse { .. }));
        assert!(
            err.to_string()
                .starts_with("runs/a/summary.json is not a valid run summary")
        );

        let mut value = serde_json::to_value(fixture::summary()).unwrap();
        value.as_object_mut().unwrap().remove("schema_version");
        let err = RunSummary::from_json(&value.to_string(), path).unwrap_err();
        assert!(
            err.to_string().contains("missing field `schema_version`"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.json");
        let err = RunSummary::load(&missing).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("cannot read ") && msg.contains("nope.json"),
            "{msg}"
        );
    }
}
