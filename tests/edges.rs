//! The edges of a run, through the real binary: stopping it from outside (SIGTERM, SIGHUP, twice),
//! and refusing a target that is not a chat server before any load starts.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::NodeServer;
use stampede::report::RunSummary;

/// A scenario that keeps 10 users chatting for `secs` seconds.
fn chatting(dir: &Path, secs: u32) -> std::path::PathBuf {
    let path = dir.join("chat.toml");
    std::fs::write(
        &path,
        format!(
            r#"
name = "chat"
seed = 3
[[phase]]
kind = "constant"
users = 10
duration = "{secs}s"
[rooms]
assignment = "groups"
users_per_room = 5
[timeouts]
delivery = "8s"
[[flow]]
steps = ["register", "enter_room", "connect", "join_room",
         {{ send_messages = {{ interval = "100ms" }} }}, "hold"]
"#
        ),
    )
    .unwrap();
    path
}

fn start_run(scenario: &Path, target: &str, out: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["run", "--no-tui", "--scenario"])
        .arg(scenario)
        .args(["--target", target, "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Sends `signal` (`TERM`, `HUP`, `INT`) to a process this test started.
fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait(child: Child, within: Duration) -> Output {
    let started = Instant::now();
    let mut child = child;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if started.elapsed() > within {
            let _ = child.kill();
            panic!("stampede did not end within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn every_result_file(dir: &Path) -> RunSummary {
    for file in [
        "summary.json",
        "summary.txt",
        "levels.csv",
        "timeline.csv",
        "failures.csv",
        "latency.hlog",
        "report.html",
    ] {
        assert!(
            dir.join(file).exists(),
            "{file} missing in {}",
            dir.display()
        );
    }
    RunSummary::load(&dir.join("summary.json")).unwrap()
}

/// SIGTERM (what `timeout`, `docker stop` and Kubernetes send) stops the run in order: the load
/// stops, the last messages are judged, every file is written, marked partial with the reason.
#[test]
fn sigterm_mid_run_writes_every_result_file() {
    let server = NodeServer::start(&["--drop", "0.05"]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let run = start_run(&chatting(tmp.path(), 60), &server.url, &out);
    std::thread::sleep(Duration::from_secs(3));
    signal(&run, "TERM");
    let output = wait(run, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SIGTERM: stopping the load"), "{stderr}");
    let s = every_result_file(&out);
    assert!(s.partial);
    let reason = s.stop_reason.unwrap_or_default();
    assert!(reason.contains("SIGTERM"), "{reason}");
    assert!(s.duration_secs < 20.0, "stopped long before its 60 s");
    // Everything sent up to the stop was judged: drops found, nothing left unjudged.
    assert!(s.messages.sent > 0);
    assert!(s.messages.missing > 0, "5 % of deliveries were dropped");
    assert_eq!(s.messages.unjudged, 0);
}

/// SIGHUP stops in order like the first Ctrl-C; a second signal (here SIGTERM) ends the wait for
/// deliveries at once: what was still awaited is counted as unjudged, and the files are written.
#[test]
fn a_second_signal_cuts_the_drain_and_reports_what_was_not_judged() {
    // Every delivery takes 5 s, so after the first stop most of the last 5 s of messages are
    // still awaited when the second signal comes.
    let server = NodeServer::start(&["--delay-ms", "5000"]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let run = start_run(&chatting(tmp.path(), 60), &server.url, &out);
    std::thread::sleep(Duration::from_secs(3));
    signal(&run, "HUP");
    std::thread::sleep(Duration::from_millis(700));
    let cut_at = Instant::now();
    signal(&run, "TERM");
    let output = wait(run, Duration::from_secs(20));
    assert!(
        cut_at.elapsed() < Duration::from_secs(8),
        "a second signal stops at once, not after the 8 s delivery deadline"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SIGHUP: stopping the load"), "{stderr}");
    assert!(
        stderr.contains("SIGTERM again: stopping at once"),
        "{stderr}"
    );
    let s = every_result_file(&out);
    assert!(s.partial);
    assert!(s.messages.unjudged > 0, "{:?}", s.messages);
    assert_eq!(
        s.levels.iter().map(|l| l.unjudged).sum::<u64>(),
        s.messages.unjudged
            + s.messages.echoes_unjudged
            + s.receipts.unjudged
            + s.reactions.unjudged
    );
    let reason = s.stop_reason.unwrap_or_default();
    assert!(
        reason.contains("SIGHUP") && reason.contains("unjudged"),
        "{reason}"
    );
    // Unjudged deliveries are not counted as delivered or missing.
    assert_eq!(
        s.messages.deliveries_expected,
        s.messages.delivered + s.messages.missing
    );
    let text = std::fs::read_to_string(out.join("summary.txt")).unwrap();
    assert!(text.contains("UNJUDGED"), "{text}");
    let levels = std::fs::read_to_string(out.join("levels.csv")).unwrap();
    assert!(levels.lines().next().unwrap().contains(",unjudged,"));
}

fn refused(server_flags: &[&str], expect: &[&str]) {
    let server = NodeServer::start(server_flags);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let run = start_run(&chatting(tmp.path(), 5), &server.url, &out);
    let output = wait(run, Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    for needle in expect {
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    }
    assert!(stderr.contains("Fix --target"), "{stderr}");
    assert!(!out.exists(), "refused before any load: nothing written");
}

/// Something that answers HTTP but is not the chat server is refused before any load, saying what
/// answered: a 404 page, or a 200 that is not the protocol's JSON.
#[test]
fn a_target_whose_health_check_is_wrong_is_refused_before_any_load() {
    refused(
        &[
            "--health-status",
            "404",
            "--health-body",
            "<h1>Not Found</h1>\u{1b}[2J",
        ],
        &[
            "/health answered (HTTP 404 Not Found",
            "Server: wrong-service/1.0",
            "<h1>Not Found</h1>\\u{1b}[2J",
        ],
    );
    refused(
        &["--health-body", "all good"],
        &[
            "answered without a JSON object (HTTP 200 OK",
            "\"all good\"",
        ],
    );
}

/// In a match every team is checked before any load starts; the team that is not a chat server
/// is named, with the flag to fix.
#[test]
fn a_match_checks_every_team_before_any_load() {
    let good = NodeServer::start(&[]);
    let wrong = NodeServer::start(&["--health-status", "404"]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("match");
    let output = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["match", "--no-tui", "--scenario"])
        .arg(chatting(tmp.path(), 5))
        .args(["--team", &format!("good={}", good.url)])
        .args(["--team", &format!("wrong={}", wrong.url)])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("team wrong ("), "{stderr}");
    assert!(stderr.contains("HTTP 404"), "{stderr}");
    assert!(stderr.contains("--team wrong=URL"), "{stderr}");
    assert!(!stderr.contains("team good"), "{stderr}");
    assert!(!out.exists(), "nothing ran, nothing was written");
}
