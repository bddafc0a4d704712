//! `stampede demo`, the README's first command, end to end: a match of two embedded reference servers
//! in which the one capped at 60 sockets must lose where its cap bites, then the single-server demo.
//! One test, so the two demos never compete for the cores.

use std::process::Command;

use serde_json::Value;

#[test]
fn the_demo_match_is_won_by_the_uncapped_server_and_the_single_demo_passes() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("demo");
    let run = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["demo", "--no-tui", "--time-scale", "0.5", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("alpha wins"), "{stdout}");

    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("match.json")).unwrap()).unwrap();
    assert_eq!(file["winner"], "alpha", "{file:#}");
    // Beta's cap bites from the 80-user level on; users who arrive late in a level may reach the
    // socket step in the next one, so either of the top two levels may be where it broke.
    let reason = file["reason"].as_str().unwrap();
    assert!(
        reason.contains("beta's 80-user level broke")
            || reason.contains("beta's 100-user level broke"),
        "{reason}"
    );
    for team in ["alpha", "beta"] {
        assert!(
            dir.join(team).join("summary.json").exists(),
            "{team} results missing"
        );
    }

    let run = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args([
            "demo",
            "--single",
            "--no-tui",
            "--time-scale",
            "0.5",
            "--out",
        ])
        .arg(out.path().join("single"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Thresholds: 3 of 3 held"), "{stdout}");
}
