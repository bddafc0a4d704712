//! `stampede bracket` end to end: four in-process reference servers whose capacity differs by
//! configuration (20, 40, 60 and 80 sockets) play a single-elimination bracket at a time-scaled
//! ramp, and the standings follow capacity. The same bracket is then played again, stopped by
//! SIGTERM in the middle of its second match, and resumed with `stampede bracket --resume`: the finished match is not played again (its directory is untouched,
//! the journal holds it once) and the standings are the same as without the interruption. Finally
//! the bracket is re-scored offline.
//!
//! Formats other than single elimination, void replays, forfeits and torn journals are covered by
//! the unit tests of `contest::tournament`, which script the runs.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::capacity::{TIME_SCALE, both, capped_server, scenario_file, stampede};
use reference_server::RunningServer;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Team names and socket caps, weakest first: file order seeds alpha first, so the bracket has to
/// overturn its seeding (1 v 4 is alpha v delta).
const TEAMS: [(&str, usize); 4] = [("alpha", 20), ("bravo", 40), ("charlie", 60), ("delta", 80)];

async fn servers() -> Vec<RunningServer> {
    let mut out = Vec::new();
    for (_, cap) in TEAMS {
        out.push(capped_server(cap).await);
    }
    out
}

fn teams_toml(servers: &[RunningServer]) -> String {
    let mut text = String::from("title = \"Capacity cup\"\n");
    for ((name, _), server) in TEAMS.iter().zip(servers) {
        text.push_str(&format!(
            "\n[[team]]\nname = \"{name}\"\ntarget = \"{}\"\n",
            server.url()
        ));
    }
    text
}

/// `standings.csv` as (place, team, wins, draws, losses, eliminated_in): the places and results,
/// without `total_users` (users sustained are measured from real runs; what must not change is who
/// finished where and how).
fn standings(dir: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("standings.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("place,team,seed,wins,draws,losses,points,head_to_head,total_users,eliminated_in")
    );
    lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            [c[0], c[1], c[3], c[4], c[5], c[9]]
                .map(String::from)
                .to_vec()
        })
        .collect()
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every file under `dir` with its modification time.
fn stamps(dir: &Path) -> BTreeMap<String, SystemTime> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.display().to_string(),
                    e.metadata().unwrap().modified().unwrap(),
                );
            }
        }
    }
    out
}

fn journal_lines(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("journal.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standings_follow_capacity_and_an_interrupted_bracket_resumes_to_the_same_standings() {
    let servers = servers().await;
    let tmp = tempfile::tempdir().unwrap();
    let scenario = scenario_file(tmp.path());
    let teams = tmp.path().join("teams.toml");
    std::fs::write(&teams, teams_toml(&servers)).unwrap();

    // 1. Uninterrupted, with the binary.
    let whole = tmp.path().join("whole");
    let started = std::time::Instant::now();
    let out = stampede(&[
        "bracket",
        "--no-tui",
        "--teams",
        teams.to_str().unwrap(),
        "--scenario",
        scenario.to_str().unwrap(),
        "--time-scale",
        TIME_SCALE,
        "--void-retries",
        "3",
        "--out",
        whole.to_str().unwrap(),
    ])
    .await;
    eprintln!("uninterrupted bracket: {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("champion: delta"), "{stdout}");
    assert!(stdout.contains("▶ R1-1: alpha vs delta"), "{stdout}");
    let expected = [
        ["1", "delta", "2", "0", "0", ""],
        ["2", "charlie", "1", "0", "1", "R2-1"],
        ["3", "alpha", "0", "0", "1", "R1-1"],
        ["3", "bravo", "0", "0", "1", "R1-2"],
    ]
    .map(|r| r.map(String::from).to_vec())
    .to_vec();
    assert_eq!(standings(&whole), expected, "standings follow capacity");
    let b = json(&whole.join("bracket.json"));
    assert_eq!(b["finished"], true);
    assert_eq!(b["champion"], "delta");
    assert_eq!(b["title"], "Capacity cup");
    assert_eq!(b["seeding"], "file_order");
    let r21 = &b["matches"][2];
    assert_eq!(r21["id"], "R2-1");
    assert_eq!(r21["result"]["scores"][0]["sustained_users"], 80);
    assert_eq!(r21["result"]["scores"][1]["sustained_users"], 60);
    assert!(
        r21["result"]["reason"]
            .as_str()
            .unwrap()
            .contains("charlie's 70-user level broke"),
        "{}",
        r21["result"]["reason"]
    );
    let drawing = std::fs::read_to_string(whole.join("bracket.txt")).unwrap();
    assert!(drawing.starts_with("Capacity cup\n"), "{drawing}");
    assert!(drawing.contains("delta  R2-1 80–60"), "{drawing}");
    for id in ["R1-1", "R1-2", "R2-1"] {
        let m = whole.join("matches").join(id);
        assert!(
            m.join("match.json").exists() && m.join("levels.csv").exists(),
            "{id}"
        );
    }
    assert!(whole.join("matches/R1-1/delta/summary.json").exists());

    // 2. The same bracket with the binary, stopped by SIGTERM (what `timeout`, `docker stop` and
    //    Kubernetes send) one second into its second match.
    let cut = tmp.path().join("cut");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args([
            "bracket",
            "--no-tui",
            "--teams",
            teams.to_str().unwrap(),
            "--scenario",
            scenario.to_str().unwrap(),
            "--time-scale",
            TIME_SCALE,
            "--void-retries",
            "3",
            "--out",
            cut.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap().to_string();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = stdout.next_line().await.unwrap() {
        if line.contains("▶ R1-2") {
            break;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut rest = String::new();
    while let Some(line) = stdout.next_line().await.unwrap() {
        rest.push_str(&line);
        rest.push('\n');
    }
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SIGTERM: stopping the match in play"),
        "{stderr}\n{rest}"
    );
    assert!(
        stderr.contains(&format!("stampede bracket --resume {}", cut.display()))
            || rest.contains(&format!("stampede bracket --resume {}", cut.display())),
        "says how to resume:\n{stderr}\n{rest}"
    );
    let lines = journal_lines(&cut);
    assert_eq!(
        lines.len(),
        2,
        "created + R1-1; the cut-off match is not journaled"
    );
    assert_eq!(lines[1]["match"], "R1-1");
    assert_eq!(
        json(&cut.join("matches/R1-2/match.json"))["interrupted"],
        true
    );
    assert_eq!(json(&cut.join("bracket.json"))["finished"], false);
    let finished_match = stamps(&cut.join("matches/R1-1"));

    // 3. Resumed with the binary.
    let started = std::time::Instant::now();
    let out = stampede(&["bracket", "--no-tui", "--resume", cut.to_str().unwrap()]).await;
    eprintln!("resumed bracket: {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("resuming: 1 match(es) already decided are kept"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("▶ R1-1"),
        "R1-1 is not played again:\n{stdout}"
    );
    assert!(stdout.contains("▶ R1-2"), "{stdout}");
    assert_eq!(standings(&cut), standings(&whole), "the same standings");
    assert_eq!(
        stamps(&cut.join("matches/R1-1")),
        finished_match,
        "R1-1 untouched"
    );
    let lines = journal_lines(&cut);
    assert_eq!(lines.iter().filter(|l| l["match"] == "R1-1").count(), 1);
    assert_eq!(lines.len(), 4);
    assert_eq!(
        json(&cut.join("matches/R1-2/match.json"))["interrupted"],
        false
    );

    // 4. Re-scored offline with the rules it was played under: nothing changes.
    for s in servers {
        let _ = s.shutdown().await;
    }
    let out = stampede(&["rescore", cut.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no match outcome changed"));
    assert_eq!(
        std::fs::read(cut.join("rescored-standings.csv")).unwrap(),
        std::fs::read(cut.join("standings.csv")).unwrap()
    );
}
