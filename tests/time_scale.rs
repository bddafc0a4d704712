//! A rehearsal at `--time-scale 0.05` must judge like the real thing. Deliveries that arrive after
//! their level ended belong to the level they were sent in, so a server that delays a share of
//! every level's messages breaks the first level at any time scale, and the verdict of a match does
//! not depend on how long a level happened to last.
//!
//! Two chat servers on the real npm `socket.io` package play each match: one healthy, one delaying
//! 5 % of chat deliveries by more than a level lasts.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::NodeServer;
use serde_json::Value;

/// 20 users, +20 every 4 s up to 60, hold 4 s (levels of 4 s; 0.2 s at `--time-scale 0.05`).
/// Rooms of 10; everyone chats every second until the end.
const RAMP: &str = r#"
name = "three-levels"
seed = 5
[[phase]]
kind = "ramp"
start_users = 20
step_users = 20
step_every = "4s"
max_users = 60
hold = "4s"
[rooms]
assignment = "groups"
users_per_room = 10
[[flow]]
steps = ["register", "enter_room", "connect", "join_room",
         { send_messages = { interval = "1s" } }, "hold"]
"#;

/// How late the delaying server is: longer than a level at either time scale.
const DELAY_MS: &str = "5000";

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The matches here load two cores with four servers and two generators each: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The default rules, except that a busy test machine (a generator reporting scheduler lag) does
/// not void the match: what is tested is which level the delays break.
const RULES: &str = "void_on_generator_bottleneck = false\n";

/// Plays `scenario` as a match of a healthy server against one that delays 5 % of deliveries by
/// `delay_ms`, and returns the match directory.
fn play(scenario: &Path, extra: &[&str], delay_ms: &str, out: PathBuf) -> PathBuf {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let rules = out.with_extension("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let good = NodeServer::start(&[]);
    let late = NodeServer::start(&["--delay-ms", delay_ms, "--delay-share", "0.05"]);
    let output = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["match", "--no-tui", "--scenario"])
        .arg(scenario)
        .args(extra)
        .arg("--rules")
        .arg(&rules)
        .args(["--team", &format!("good={}", good.url)])
        .args(["--team", &format!("late={}", late.url)])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// A team in a verdict: its name, its score, and the first level that broke with the rules it broke.
type Ranked = (String, u64, Option<(u64, Vec<String>)>);

/// What a verdict decided: the winner, and each team as [`Ranked`], in rank order.
fn decided(m: &Value) -> (Value, Vec<Ranked>) {
    let teams = m["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let score = &r["score"];
            let broke = score["levels"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["ok"] == false)
                .map(|l| {
                    let rules = l["broken_rules"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|b| b["rule"].as_str().unwrap().to_owned())
                        .collect();
                    (l["index"].as_u64().unwrap(), rules)
                });
            (
                r["team"].as_str().unwrap().to_owned(),
                score["sustained_users"].as_u64().unwrap(),
                broke,
            )
        })
        .collect();
    (m["winner"].clone(), teams)
}

/// Every level of the delaying team shows its share of late deliveries, and its p99 at the delay.
fn each_level_shows_the_delay(dir: &Path, delay_ms: f64) {
    let s = json(&dir.join("late/summary.json"));
    for l in s["levels"].as_array().unwrap() {
        let deliveries = l["deliveries"].as_f64().unwrap();
        let late = l["deliveries_late"].as_f64().unwrap();
        assert!(
            deliveries >= 200.0,
            "level {}: {deliveries} deliveries",
            l["index"]
        );
        let share = late / deliveries;
        assert!(
            (0.02..0.10).contains(&share),
            "level {}: {late} of {deliveries} late",
            l["index"]
        );
        let p99 = l["delivery_p99_ms"].as_f64().unwrap();
        assert!(p99 >= delay_ms, "level {}: p99 {p99} ms", l["index"]);
    }
    let good = json(&dir.join("good/summary.json"));
    for l in good["levels"].as_array().unwrap() {
        assert_eq!(l["deliveries_late"], 0, "good, level {}", l["index"]);
    }
}

#[test]
fn a_match_gives_the_same_verdict_at_real_time_and_at_a_twentieth() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("ramp.toml");
    std::fs::write(&scenario, RAMP).unwrap();
    let real = play(&scenario, &[], DELAY_MS, tmp.path().join("real"));
    let fast = play(
        &scenario,
        &["--time-scale", "0.05"],
        DELAY_MS,
        tmp.path().join("fast"),
    );
    let delay: f64 = DELAY_MS.parse().unwrap();
    each_level_shows_the_delay(&real, delay);
    each_level_shows_the_delay(&fast, delay);
    let (real_m, fast_m) = (
        json(&real.join("match.json")),
        json(&fast.join("match.json")),
    );
    let verdict = decided(&real_m);
    assert_eq!(
        verdict,
        decided(&fast_m),
        "{}\nvs\n{}",
        real_m["reason"],
        fast_m["reason"]
    );
    assert_eq!(verdict.0, "good");
    assert_eq!(
        verdict.1,
        vec![
            ("good".to_owned(), 60, None),
            (
                "late".to_owned(),
                0,
                Some((0, vec!["delivery_p99".to_owned()]))
            ),
        ]
    );
}

/// The organizers' rehearsal of the competition profile: levels of 1.5 s, a server delaying 5 % of
/// deliveries by 1.5 s. It breaks its first level, as it would at real time.
#[test]
fn the_delaying_team_breaks_at_its_first_level_in_a_rehearsal_of_the_competition() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = play(
        &common::repo().join("scenarios/ktb-2024.toml"),
        &["--time-scale", "0.05", "--max-users", "300"],
        "1500",
        tmp.path().join("rehearsal"),
    );
    let m = json(&dir.join("match.json"));
    let (winner, teams) = decided(&m);
    assert_eq!(winner, "good", "{}", m["reason"]);
    assert_eq!(teams[1].0, "late");
    assert_eq!(teams[1].1, 0, "{}", m["reason"]);
    assert_eq!(
        teams[1].2,
        Some((0, vec!["delivery_p99".to_owned()])),
        "{}",
        m["reason"]
    );
    assert_eq!(teams[0].1, 300, "{}", m["reason"]);
}
