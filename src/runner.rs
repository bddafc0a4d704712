//! From a plan to results on disk: runs the engine against one or more targets, turns each team's
//! measurements into a [`RunSummary`], judges thresholds, and writes every result file.
//!
//! This is the layer `run`, `demo` and `match` share; it knows about files but not about the terminal.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::engine::plan::LoadPlan;
use crate::engine::{self, EngineError, EngineOptions, RunOutcome, Target};
use crate::metrics::{Snapshot, TeamResult};
use crate::report::summary::{RunSummary, SCHEMA_VERSION, ToolInfo};
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
    let targets: Vec<Target> = destinations.iter().map(|d| d.target.clone()).collect();
    let outcome = engine::run(Arc::clone(&plan), &targets, options, interrupt, snapshots).await?;
    let mut written = Vec::new();
    for (dest, result) in destinations.iter().zip(&outcome.teams) {
        let mut summary = assemble(result, &plan, &outcome, dest.team.as_deref());
        summary.thresholds = evaluate(&plan.thresholds, &summary);
        let files = write_run(&dest.dir, &summary, &result.hlog)?;
        written.push(Written { summary, files });
    }
    Ok(written)
}

/// How long [`check_reachable`] waits for a target.
pub const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks that something answers `GET /health` at `target` before a run starts, so a wrong URL is
/// reported as such instead of as a run of connection errors. Any HTTP answer, even an error status,
/// counts as reachable: judging it is the run's job. `Err` holds what the connection attempt said.
pub async fn check_reachable(target: &Target) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(PREFLIGHT_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    match client.get(format!("{}/health", target.url)).send().await {
        Ok(_) => Ok(()),
        Err(e) => Err(crate::client::Failure::http("GET /health", &e).message),
    }
}

/// What every summary says about how latency was measured.
pub const MEASUREMENT_NOTES: [&str; 3] = [
    "Latencies are recorded in microseconds into HdrHistograms (3 significant digits) and reported in milliseconds.",
    "Paced chat messages are timed from their intended send time, not from when the generator got to send them, so \
     a slow server or a busy generator cannot hide latency (coordinated omission corrected). send_ack is the sender's \
     own copy coming back; delivery is each other member's copy.",
    "Every message carries a marker; each member that had joined the room before the send must receive it exactly \
     once, in the sender's order, within the delivery deadline, or a delivery_missing, delivery_duplicate or \
     delivery_reordered finding is counted. Messages sent within the deadline before the run ended are not judged.",
];

/// Builds the summary of one team's run. Thresholds are left empty for the caller to evaluate.
pub fn assemble(
    result: &TeamResult,
    plan: &LoadPlan,
    outcome: &RunOutcome,
    team: Option<&str>,
) -> RunSummary {
    let mut users = result.users.clone();
    users.planned = plan.arrivals.len() as u64;
    RunSummary {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo {
            name: "stampede".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        scenario: plan.scenario.clone(),
        target: result.info.target.clone(),
        team: team.map(str::to_owned),
        seed: plan.seed,
        time_scale: plan.time_scale,
        started_at: rfc3339(outcome.started_at),
        duration_secs: round3(outcome.elapsed.as_secs_f64()),
        planned_duration_secs: round3(plan.duration.as_secs_f64()),
        partial: outcome.interrupted,
        stop_reason: outcome
            .interrupted
            .then(|| "interrupted before the end of the plan".to_string()),
        users,
        requests: result.requests.clone(),
        messages: result.messages.clone(),
        latency: result.latency.clone(),
        levels: result.levels.clone(),
        timeline: result.timeline.clone(),
        failures: result.failures.clone(),
        generator: result.generator.clone(),
        thresholds: Vec::new(),
        measurement_notes: MEASUREMENT_NOTES.iter().map(|s| s.to_string()).collect(),
    }
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
    fn rfc3339_is_utc_with_millis() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_733_045_400_123);
        assert_eq!(rfc3339(t), "2024-12-01T09:30:00.123Z");
    }
}
