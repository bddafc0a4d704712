//! The plain progress display (indicatif), used when the terminal scoreboard is off.
//!
//! It is a view like any other: it reads [`Snapshot`]s from the engine's watch channel at a bounded
//! rate and never touches the engine. On a terminal it draws one bar for the run plus one line per
//! team; when stderr is not a terminal (CI logs, pipes) it prints a plain status line every few
//! seconds instead, so long runs still show signs of life.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::watch;

use crate::metrics::Snapshot;
use crate::metrics::snapshot::TeamSnapshot;

/// How often the display refreshes.
const REFRESH: Duration = Duration::from_millis(250);

/// How often a plain status line is printed when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// One line describing a team's progress.
pub fn team_line(t: &TeamSnapshot) -> String {
    let failures: u64 = t.failures.iter().map(|(_, n)| n).sum();
    let mut line = format!(
        "{:<16} connected {:>6}  passed {:>6}  failed {:>5}  req ok {:>8} failed {:>6}  {:>7.1} msg/s  delivery p99 {:>7.1} ms  missing {}  receipts missing {}  failures {}",
        truncate(&t.name, 16),
        t.gauges.connected,
        t.passed(),
        t.gauges.failed,
        t.requests.ok,
        t.requests.failed,
        t.messages_per_sec,
        t.delivery.p99_ms,
        t.missing,
        t.receipts.missing + t.reactions.missing,
        failures,
    );
    if t.unjudged > 0 {
        line.push_str(&format!("  UNJUDGED {}", t.unjudged));
    }
    line
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).chain(std::iter::once('…')).collect()
    }
}

/// The run-level line: level, target users, time.
pub fn run_line(s: &Snapshot) -> String {
    let mut line = format!(
        "level {}/{} ({}) · {} users · {:.0}s of {:.0}s",
        (s.level + 1).min(s.levels.max(1)),
        s.levels.max(1),
        if s.phase.is_empty() { "-" } else { &s.phase },
        s.target_users,
        s.elapsed.as_secs_f64(),
        s.planned.as_secs_f64(),
    );
    if s.draining && !s.done {
        let outstanding: u64 = s.teams.iter().map(|t| t.pending).sum();
        line.push_str(&format!(
            " · load stopped, draining: {outstanding} deliveries and receipts outstanding"
        ));
    }
    if s.generator.bottleneck {
        line.push_str(" · ⚠ generator may be the bottleneck");
    }
    line
}

/// Shows progress until the run's last snapshot (`done`) arrives or the channel closes.
pub async fn show(mut rx: watch::Receiver<Snapshot>) {
    if std::io::stderr().is_terminal() {
        bars(&mut rx).await;
    } else {
        plain(&mut rx).await;
    }
}

async fn bars(rx: &mut watch::Receiver<Snapshot>) {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4));
    let style = ProgressStyle::with_template("{bar:30.cyan/blue} {pos:>3}% {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let run = multi.add(ProgressBar::new(100).with_style(style));
    let mut teams: Vec<ProgressBar> = Vec::new();
    loop {
        let snap = rx.borrow_and_update().clone();
        let pct = if snap.planned.is_zero() {
            0
        } else {
            ((snap.elapsed.as_secs_f64() / snap.planned.as_secs_f64()) * 100.0).min(100.0) as u64
        };
        run.set_position(pct);
        run.set_message(run_line(&snap));
        while teams.len() < snap.teams.len() {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("  {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            teams.push(bar);
        }
        for (bar, t) in teams.iter().zip(&snap.teams) {
            bar.set_message(team_line(t));
        }
        if snap.done || wait(rx).await.is_err() {
            break;
        }
    }
    for bar in teams {
        bar.finish();
    }
    run.finish();
}

async fn plain(rx: &mut watch::Receiver<Snapshot>) {
    let mut last = tokio::time::Instant::now();
    let mut draining = false;
    loop {
        if wait(rx).await.is_err() {
            break;
        }
        let snap = rx.borrow_and_update().clone();
        if snap.done {
            break;
        }
        // The start of the drain is news: say it at once rather than at the next status line.
        let drain_started = snap.draining && !draining;
        draining = snap.draining;
        if drain_started || last.elapsed() >= PLAIN_EVERY {
            last = tokio::time::Instant::now();
            eprintln!("{}", run_line(&snap));
            for t in &snap.teams {
                eprintln!("  {}", team_line(t));
            }
        }
    }
}

/// Writes every snapshot (at most one per refresh interval, and always the last) to stdout as one JSON
/// line, until the run's last snapshot: the live progress of a worker process, read by the process
/// that started it.
pub async fn json_lines(mut rx: watch::Receiver<Snapshot>) {
    use std::io::Write as _;
    loop {
        let ended = wait(&mut rx).await.is_err();
        let snap = rx.borrow_and_update().clone();
        if let Ok(line) = serde_json::to_string(&snap) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
        if ended || snap.done {
            break;
        }
    }
}

/// Waits for a new snapshot, at most one per [`REFRESH`]. Errors when the engine is gone.
async fn wait(rx: &mut watch::Receiver<Snapshot>) -> Result<(), watch::error::RecvError> {
    tokio::time::sleep(REFRESH).await;
    rx.changed().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_the_figures() {
        let mut s = Snapshot {
            level: 2,
            levels: 30,
            target_users: 300,
            phase: "ramp".into(),
            elapsed: Duration::from_secs(65),
            planned: Duration::from_secs(900),
            ..Snapshot::default()
        };
        assert_eq!(run_line(&s), "level 3/30 (ramp) · 300 users · 65s of 900s");
        s.generator.bottleneck = true;
        assert!(run_line(&s).contains("bottleneck"));
        let t = TeamSnapshot {
            name: "a-very-long-team-name-indeed".into(),
            ..TeamSnapshot::default()
        };
        let line = team_line(&t);
        assert!(line.starts_with("a-very-long-tea…"));
        assert!(line.contains("delivery p99"));
        assert!(!line.contains("UNJUDGED"));
        let cut = TeamSnapshot {
            unjudged: 12,
            pending: 40,
            ..t
        };
        assert!(team_line(&cut).ends_with("UNJUDGED 12"));
        s.draining = true;
        s.teams = vec![cut];
        assert!(
            run_line(&s).contains("draining: 40 deliveries and receipts outstanding"),
            "{}",
            run_line(&s)
        );
    }
}
