//! From a plan to results on disk: runs the engine against one or more targets, turns each team's
//! measurements into a [`RunSummary`], judges thresholds, and writes every result file.
//!
//! This is the layer `run`, `demo` and `match` share; it knows about files but not about the terminal.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::base::summary::{RunSummary, SegmentInfo, VerifySettings};
use crate::engine::plan::LoadPlan;
use crate::engine::{self, EngineError, EngineOptions, RunOutcome, Target};
use crate::metrics::{Snapshot, TeamResult};
use crate::report::{ReportError, WrittenFiles, evaluate, write_run};

/// One target of a run and where its results go.
#[derive(Debug, Clone)]
pub struct Destination {
    /// The target.
    pub target: Target,
    /// Team name to record in the summary (matches); `None` for a plain run.
    pub team: Option<String>,
    /// Results directory for this target.
    pub dir: PathBuf,
}

/// One target's results, written.
#[derive(Debug, Clone)]
pub struct Written {
    /// The summary, thresholds judged.
    pub summary: RunSummary,
    /// The files it was written to.
    pub files: WrittenFiles,
}

/// Why a run produced no results.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The engine could not start.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Results could not be written (the message names the file).
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The worker processes that were to carry out the run failed (the message says which).
    #[error("{0}")]
    Workers(String),
}

/// Runs `plan` against every destination's target at once and writes each one's results.
///
/// `interrupt` ends the run early; the results written then are marked partial. Snapshots for views go
/// out on `snapshots`.
pub async fn execute(
    plan: Arc<LoadPlan>,
    destinations: &[Destination],
    options: EngineOptions,
    interrupt: CancellationToken,
    snapshots: watch::Sender<Snapshot>,
) -> Result<Vec<Written>, RunnerError> {
    // A results directory that cannot be written is found now, not after a 15-minute ramp.
    for dest in destinations {
        ensure_writable(&dest.dir)?;
    }
    let targets: Vec<Target> = destinations.iter().map(|d| d.target.clone()).collect();
    let outcome = engine::run(Arc::clone(&plan), &targets, options, interrupt, snapshots).await?;
    let mut written = Vec::new();
    for (dest, result) in destinations.iter().zip(&outcome.teams) {
        let mut summary = assemble(result, &plan, &outcome, dest.team.as_deref());
        summary.thresholds = evaluate(&plan.conduct.thresholds, &summary);
        let files = write_run(&dest.dir, &summary, &result.hlog)?;
        written.push(Written { summary, files });
    }
    Ok(written)
}

/// Creates `dir` and proves a file can be written in it.
pub fn ensure_writable(dir: &std::path::Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let probe = dir.join(".stampede-write-check");
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|source| ReportError::Write {
            path: probe,
            source,
        })
}

/// A segment that starts later than this after its start time says so in its results.
pub const LATE_START: Duration = Duration::from_secs(1);

/// How long [`check_target`] waits for a target.
pub const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(10);

/// Most bytes of a wrong answer's body quoted in the error.
const QUOTED_BODY: usize = 120;

/// Checks, before a run starts, that every instance of `target` is a chat server: `GET /health` must
/// answer 2xx with a JSON object (the protocol's `{"status":"ok",…}`). A wrong URL or another
/// service is then reported as such, instead of as a run of connection errors or HTTP 404s. `Err`
/// says what answered (status, `Server` header, the first bytes of the body, control characters
/// escaped: it is the target's text) or what the connection attempt said.
pub async fn check_target(target: &Target) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(PREFLIGHT_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    for base in target.instances() {
        let url = format!("{base}/health");
        let context = format!("GET {url}");
        let mut resp = client
            .get(&url)
            .send()
            .await
            .map_err(|e| crate::client::Failure::http(&context, &e).message)?;
        let status = resp.status();
        let server = resp
            .headers()
            .get(reqwest::header::SERVER)
            .map(|v| format!(", Server: {}", quote(v.as_bytes(), QUOTED_BODY)))
            .unwrap_or_default();
        let mut body = Vec::new();
        while body.len() < 64 * 1024
            && let Ok(Some(chunk)) = resp.chunk().await
        {
            body.extend_from_slice(&chunk);
        }
        let json = serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| v.is_object());
        if status.is_success() && json {
            continue;
        }
        let what = if status.is_success() {
            "answered without a JSON object"
        } else {
            "answered"
        };
        return Err(format!(
            "{context} {what} (HTTP {status}{server}; body {}): this is not the chat server's \
             health check, which answers 2xx with JSON like {{\"status\":\"ok\"}}",
            if body.is_empty() {
                "empty".to_owned()
            } else {
                format!("\"{}\"", quote(&body, QUOTED_BODY))
            }
        ));
    }
    Ok(())
}

/// At most `max` bytes of a target's text, lossily decoded, with control characters escaped so it
/// cannot move the cursor or inject lines into a terminal or log.
pub fn quote(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(max)]);
    let mut out: String = text
        .chars()
        .flat_map(|c| {
            if c.is_control() || c == '"' || c == '\\' {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if bytes.len() > max {
        out.push('…');
    }
    out
}

/// What every summary says about how latency was measured.
pub const MEASUREMENT_NOTES: [&str; 5] = [
    "Latencies are recorded in microseconds into HdrHistograms (3 significant digits) and reported in milliseconds.",
    "Paced chat messages are timed from their intended send time, not from when the generator got to send them, so \
     a slow server or a busy generator cannot hide latency (coordinated omission corrected). send_ack is the sender's \
     own copy coming back; delivery is each other member's copy.",
    "Every message carries a marker; each member that had joined the room before the send must receive it exactly \
     once, in the sender's order, within the delivery deadline, or a delivery_missing, delivery_duplicate or \
     delivery_reordered finding is counted. A reordered copy is still delivered (and timed); it is not a failed \
     request. A delivery slower than verify.late_after_ms is counted as late.",
    "Read receipts and reaction updates are verified too: every other member that had joined must be told, by \
     messagesRead, every id a member marked as read, and must see each reaction in a messageReactionUpdate, within \
     the receipt deadline (receipt_missing, receipt_duplicate, reaction_missing). They are not requests.",
    "Every delivery, receipt and reaction update, and every finding about one, belongs to the level its message, \
     mark or reaction was sent in. When the load ends, the run keeps reading until everything awaited has arrived \
     or passed its deadline, so the last messages are judged like the first; only a run stopped twice leaves some \
     unjudged, counted apart and never as delivered or missing.",
];

/// Builds the summary of one team's run. Thresholds are left empty for the caller to evaluate.
pub fn assemble(
    result: &TeamResult,
    plan: &LoadPlan,
    outcome: &RunOutcome,
    team: Option<&str>,
) -> RunSummary {
    let mut s = result.summary.clone();
    s.users.planned = plan.own_arrivals().count() as u64;
    s.segment = plan.segment.map(|seg| {
        if outcome.started_late > LATE_START {
            s.generator.warnings.push(format!(
                "segment {seg} started {:.1} s after its start time: its first users arrived late",
                outcome.started_late.as_secs_f64()
            ));
        }
        SegmentInfo {
            index: seg.index,
            count: seg.count,
            start_at: rfc3339(outcome.started_at),
            started_late_ms: round3(outcome.started_late.as_secs_f64() * 1000.0),
            users_planned: s.users.planned,
            partial: outcome.interrupted || outcome.cut,
            stop_reason: None,
            generator: None,
        }
    });
    s.scenario = plan.scenario.clone();
    s.team = team.map(str::to_owned);
    s.seed = plan.seed;
    s.time_scale = plan.time_scale;
    s.started_at = rfc3339(outcome.started_at);
    s.duration_secs = round3(outcome.elapsed.as_secs_f64());
    s.planned_duration_secs = round3(plan.duration.as_secs_f64());
    s.partial = outcome.interrupted || outcome.cut;
    s.stop_reason = stop_reason(outcome, &s);
    s.verify = VerifySettings {
        delivery_deadline_ms: millis(plan.conduct.verify.delivery_deadline),
        receipt_deadline_ms: millis(plan.conduct.verify.receipt_deadline),
        late_after_ms: millis(plan.conduct.verify.late_after),
    };
    s.measurement_notes = MEASUREMENT_NOTES.iter().map(|n| n.to_string()).collect();
    s.plan_hash = plan.fingerprint();
    s
}

/// Why a run ended early, in words: who interrupted it, and whether its drain was cut.
fn stop_reason(outcome: &RunOutcome, result: &RunSummary) -> Option<String> {
    if !outcome.interrupted && !outcome.cut {
        return None;
    }
    let mut reason = match &outcome.interrupted_by {
        Some(by) => format!("interrupted ({by}) before the end of the plan"),
        None if outcome.interrupted => "interrupted before the end of the plan".to_owned(),
        None => "the plan ran to its end".to_owned(),
    };
    if outcome.cut {
        let m = &result.messages;
        let unjudged =
            m.unjudged + m.echoes_unjudged + result.receipts.unjudged + result.reactions.unjudged;
        reason.push_str(&format!(
            "; stopped again while draining, so {unjudged} awaited deliveries, echoes, receipts \
             and reaction updates were left unjudged"
        ));
    }
    Some(reason)
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Formats a wall-clock time as RFC 3339 UTC with milliseconds.
pub fn rfc3339(t: SystemTime) -> String {
    let since = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let dt = time::OffsetDateTime::UNIX_EPOCH + since;
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    dt.format(&fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritable_results_directories_are_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let err = ensure_writable(&file.join("results")).unwrap_err();
        assert!(err.to_string().contains("a-file"), "{err}");
        ensure_writable(&dir.path().join("fresh/nested")).unwrap();
        assert!(
            !dir.path()
                .join("fresh/nested/.stampede-write-check")
                .exists()
        );
    }

    #[test]
    fn rfc3339_is_utc_with_millis() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_733_045_400_123);
        assert_eq!(rfc3339(t), "2024-12-01T09:30:00.123Z");
    }
}
