//! `stampede match` and `stampede rescore` end to end: the binary plays two in-process reference
//! servers of different capacity against each other (concurrently and sequentially), the bigger one
//! wins for the reason of the level that decided it, every file of the match directory is there,
//! rescoring offline keeps or changes the verdict as the rules say, and an interrupted match is
//! void, says so, and is replayed with the same command.
//!
//! The matches run one at a time (they share two cores with their servers).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::capacity::{TIME_SCALE, both, capped_server, scenario_file, stampede};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Checks a decided match directory of `small` (20 users) against `big` (40 users).
fn check_match_dir(dir: &Path, mode: &str) {
    let m = json(&dir.join("match.json"));
    assert_eq!(m["mode"], mode);
    assert_eq!(m["winner"], "big", "{}", m["reason"]);
    assert_eq!(m["void"], Value::Null);
    let reason = m["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("big wins: sustained 40 users without problems vs small 20"),
        "{reason}"
    );
    assert!(reason.contains("small's 30-user level broke"), "{reason}");
    assert_eq!(m["decision"]["kind"], "sustained");
    assert_eq!(m["scenario"], "capacity");
    assert_eq!(m["seed"], 3);
    let teams = m["teams"].as_array().unwrap();
    assert_eq!(teams[0]["name"], "small");
    assert_eq!(teams[0]["sustained_users"], 20);
    assert_eq!(teams[1]["sustained_users"], 40);
    assert_eq!(teams[1]["rank"], 1);
    assert!(
        teams[0]["target"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert_eq!(teams[0]["headline"]["users_started"], 90);
    assert_eq!(m["ranking"][0]["team"], "big");
    assert!(m["ranking"][0]["score"]["levels"].as_array().unwrap().len() == 9);
    assert_eq!(m["rules"]["max_vu_failure_ratio"], 0.01);
    for team in ["small", "big"] {
        for file in [
            "summary.json",
            "summary.txt",
            "levels.csv",
            "timeline.csv",
            "latency.hlog",
            "report.html",
        ] {
            assert!(dir.join(team).join(file).exists(), "{team}/{file} missing");
        }
        let s = json(&dir.join(team).join("summary.json"));
        assert_eq!(s["team"], team);
        assert_eq!(s["seed"], 3, "every team runs the same seeded plan");
    }
    let levels = std::fs::read_to_string(dir.join("levels.csv")).unwrap();
    let rows: Vec<&str> = levels.lines().collect();
    assert_eq!(rows.len(), 10, "header + 9 levels:\n{levels}");
    assert!(
        rows[0].starts_with("index,phase,target_users,small_vus_passed,"),
        "{}",
        rows[0]
    );
    assert!(
        rows[0].ends_with(",big_delivery_p99_ms,big_ok"),
        "{}",
        rows[0]
    );
    // At 30 users small has broken, big has not.
    let row: Vec<&str> = rows[3].split(',').collect();
    assert_eq!(row[2], "30");
    assert_eq!((row[10], row[18]), ("false", "true"), "{}", rows[3]);
}

/// The small (20 users) and the big (40 users) server, and their match's scenario and directory.
struct SmallVsBig {
    small: reference_server::RunningServer,
    big: reference_server::RunningServer,
    scenario: PathBuf,
    dir: PathBuf,
}

impl SmallVsBig {
    /// Starts both servers; the scenario and the match directory go in `tmp`.
    async fn start(tmp: &Path) -> Self {
        Self {
            small: capped_server(20).await,
            big: capped_server(40).await,
            scenario: scenario_file(tmp),
            dir: tmp.join("match"),
        }
    }

    /// `stampede match` between the two, with `extra` flags, written to `dir`.
    fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = ["match", "--no-tui"].map(String::from).to_vec();
        args.extend(extra.iter().map(|a| a.to_string()));
        args.extend([
            "--scenario".into(),
            self.scenario.display().to_string(),
            "--team".into(),
            format!("small={}", self.small.url()),
            "--team".into(),
            format!("big={}", self.big.url()),
            "--time-scale".into(),
            TIME_SCALE.into(),
            "--out".into(),
            self.dir.display().to_string(),
        ]);
        args
    }

    /// Plays the match to its end; returns the command's output and how long it took.
    async fn play(&self, extra: &[&str]) -> (std::process::Output, Duration) {
        let args = self.args(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let started = std::time::Instant::now();
        let out = stampede(&args).await;
        (out, started.elapsed())
    }

    async fn stop(self) {
        let _ = self.small.shutdown().await;
        let _ = self.big.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bigger_server_wins_a_concurrent_match_and_rescoring_follows_the_rules() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let m = SmallVsBig::start(tmp.path()).await;
    let dir = m.dir.clone();
    let (out, took) = m.play(&[]).await;
    eprintln!("concurrent match: {took:?}");
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("\nbig wins: sustained 40 users"),
        "{stdout}"
    );
    assert!(
        stdout.contains("small: sustained 20 users without problems"),
        "{stdout}"
    );
    check_match_dir(&dir, "concurrent");
    let live = std::fs::read(dir.join("match.json")).unwrap();

    // Offline, with the servers gone.
    m.stop().await;
    let d = dir.to_str().unwrap();
    let out = stampede(&["rescore", d]).await;
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let r = json(&dir.join("rescored.json"));
    assert_eq!(r["rescored"]["changed"], false);
    assert_eq!(r["reason"], json(&dir.join("match.json"))["reason"]);

    // Stricter on failures, but both still break where they did: the verdict stands.
    let stricter = tmp.path().join("stricter.toml");
    std::fs::write(
        &stricter,
        "max_vu_failure_ratio = 0.0\nmax_request_failure_ratio = 0.0\n",
    )
    .unwrap();
    let out = stampede(&["rescore", d, "--rules", stricter.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("the outcome is unchanged"));
    let r = json(&dir.join("rescored.json"));
    assert_eq!(r["winner"], "big");
    assert_eq!(r["rules"]["max_vu_failure_ratio"], 0.0);

    // A 1 ms delivery SLO breaks every level, and without tie-breaks nothing separates the teams.
    let strict = tmp.path().join("strict.toml");
    std::fs::write(&strict, "delivery_p99_slo_ms = 1\ntie_break = []\n").unwrap();
    let out = stampede(&["rescore", d, "--rules", strict.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("THE OUTCOME CHANGED"), "{stdout}");
    let r = json(&dir.join("rescored.json"));
    assert_eq!(r["winner"], Value::Null);
    assert_eq!(r["decision"]["kind"], "tie");
    assert_eq!(r["rescored"]["changed"], true);
    assert_eq!(r["rescored"]["rules_from"], strict.to_str().unwrap());
    assert!(dir.join("rescored-levels.csv").exists());
    assert_eq!(
        std::fs::read(dir.join("match.json")).unwrap(),
        live,
        "match.json is the record"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bigger_server_wins_a_sequential_match() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let m = SmallVsBig::start(tmp.path()).await;
    let dir = m.dir.clone();
    let (out, took) = m.play(&["--mode", "sequential"]).await;
    eprintln!("sequential match: {took:?}");
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    check_match_dir(&dir, "sequential");
    // One run after the other: the second started after the first ended.
    let start = |team: &str| json(&dir.join(team).join("summary.json"))["started_at"].clone();
    assert!(start("small").as_str() < start("big").as_str());
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_match_is_void_says_so_and_is_replayed_with_the_same_command() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let teams = SmallVsBig::start(tmp.path()).await;
    let dir = teams.dir.clone();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(teams.args(&[]))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap().to_string();
    // The match has started (and its signal handler is in place) once it names its directory; it is
    // stopped with SIGTERM, as `docker stop` and Kubernetes stop a process.
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    while let Some(line) = stderr.next_line().await.unwrap() {
        if line.contains("results in") {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("VOID MATCH — nothing was decided."),
        "{stdout}"
    );
    assert!(
        stdout.contains("Replay it with the same command."),
        "{stdout}"
    );
    let m = json(&dir.join("match.json"));
    assert_eq!(m["interrupted"], true);
    assert_eq!(m["winner"], Value::Null);
    let reason = m["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("void: ") && reason.ends_with("; replay the match"),
        "{reason}"
    );

    let (out, _) = teams.play(&[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    check_match_dir(&dir, "concurrent");
    assert_eq!(json(&dir.join("match.json"))["interrupted"], false);
    teams.stop().await;
}
