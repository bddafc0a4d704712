//! Checks real `summary.json` output against the checked-in `schema/run-summary.schema.json`, and
//! that the schema is strict enough to catch real mistakes. Validation uses `boon` (draft 2020-12,
//! format assertions on, no network loader).

use serde_json::{Value, json};

use super::fixture;
use super::json::write_json;
use crate::base::kinds::{FailureKind, Op};
use crate::base::summary::{RunSummary, SCHEMA_VERSION};

const SCHEMA: &str = include_str!("../../schema/run-summary.schema.json");
const SCHEMA_URL: &str = "https://github.com/stampede-rs/stampede/schema/run-summary.schema.json";

struct Validator {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl Validator {
    fn new() -> Self {
        let schema: Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler.enable_format_assertions();
        compiler.add_resource(SCHEMA_URL, schema).unwrap();
        let index = compiler
            .compile(SCHEMA_URL, &mut schemas)
            .unwrap_or_else(|e| panic!("schema does not compile: {e:#}"));
        Validator { schemas, index }
    }

    fn check(&self, doc: &Value) -> Result<(), String> {
        self.schemas
            .validate(doc, self.index)
            .map_err(|e| format!("{e:#}"))
    }
}

/// The summary as `write_json` puts it on disk, parsed back.
fn on_disk(s: &RunSummary) -> Value {
    let mut buf = Vec::new();
    write_json(&mut buf, s).unwrap();
    serde_json::from_slice(&buf).unwrap()
}

#[test]
fn real_output_is_valid() {
    let v = Validator::new();
    let full = fixture::summary();
    v.check(&on_disk(&full)).unwrap();

    // The other shape of every optional part: nulls, empty lists, a complete run.
    let mut bare = full.clone();
    bare.team = None;
    bare.stop_reason = None;
    bare.partial = false;
    bare.latency.clear();
    bare.timeline.clear();
    bare.failures.clear();
    bare.thresholds.clear();
    bare.generator.warnings.clear();
    bare.measurement_notes.clear();
    bare.levels.truncate(1);
    bare.levels[0].delivery_histogram.clear();
    v.check(&on_disk(&bare)).unwrap();
}

#[test]
fn a_file_written_by_write_run_is_valid() {
    let v = Validator::new();
    let dir = tempfile::tempdir().unwrap();
    let files = super::write_run(dir.path(), &fixture::summary(), &fixture::hlog()).unwrap();
    let doc: Value = serde_json::from_slice(&std::fs::read(files.summary_json).unwrap()).unwrap();
    v.check(&doc).unwrap();
}

#[test]
fn broken_documents_are_rejected() {
    let v = Validator::new();
    let good = on_disk(&fixture::summary());
    type Breakage = (&'static str, fn(&mut Value));
    let breakages: [Breakage; 12] = [
        ("missing schema_version", |d| {
            d.as_object_mut().unwrap().remove("schema_version");
        }),
        ("another schema_version", |d| {
            d["schema_version"] = json!(SCHEMA_VERSION + 1)
        }),
        ("seed as a string", |d| d["seed"] = json!("42")),
        ("negative count", |d| d["users"]["failed"] = json!(-1)),
        ("fractional count", |d| d["requests"]["ok"] = json!(1.5)),
        ("unknown op", |d| d["latency"][0]["op"] = json!("teleport")),
        ("unknown failure kind", |d| {
            d["failures"][0]["kind"] = json!("gremlins")
        }),
        ("unknown kind in a level's failures", |d| {
            d["levels"][1]["failures"]["gremlins"] = json!(1)
        }),
        ("misspelt field", |d| {
            let m = d["messages"].as_object_mut().unwrap();
            let n = m.remove("delivered").unwrap();
            m.insert("delivred".into(), n);
        }),
        ("started_at not a date-time", |d| {
            d["started_at"] = json!("last tuesday")
        }),
        ("unknown threshold metric", |d| {
            d["thresholds"][0]["threshold"]["metric"] = json!("vibes")
        }),
        ("unmeasured threshold that passed", |d| {
            d["thresholds"][2]["passed"] = json!(true)
        }),
    ];
    for (what, break_it) in breakages {
        let mut doc = good.clone();
        break_it(&mut doc);
        assert_ne!(doc, good, "{what}: the breakage changed nothing");
        assert!(
            v.check(&doc).is_err(),
            "schema accepted a document with {what}"
        );
    }
}

/// The closed sets in the schema are the ones in the code, so a new operation or failure kind
/// cannot ship without the schema learning it.
#[test]
fn schema_enums_match_the_code() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let names = |def: &str| -> Vec<String> {
        schema["$defs"][def]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("$defs/{def} has no enum"))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let ops: Vec<String> = Op::ALL.iter().map(|o| o.name().to_string()).collect();
    let kinds: Vec<String> = FailureKind::ALL
        .iter()
        .map(|k| k.name().to_string())
        .collect();
    assert_eq!(names("op"), ops);
    assert_eq!(names("failure_kind"), kinds);
    assert_eq!(
        schema["properties"]["schema_version"]["const"],
        json!(SCHEMA_VERSION)
    );
}
