//! One run split over several processes, as on several machines: segments of one plan started at
//! one instant, merged into one result exactly as a single run would have written it; `--workers`
//! doing the same on one machine; and `stampede merge` refusing what it must not add up.
//!
//! Every process here is the real binary against the embedded reference server on loopback.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::capacity::{both, capped_server, run_into, stampede};
use stampede::base::hist::decode_hist;
use stampede::base::summary::RunSummary;
use tokio::sync::Mutex;

/// Every test here runs several stampede processes at once; two tests side by side on a small
/// machine can lag the generators enough for a match to be declared void (as in match_cmd.rs).
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// 30 users in rooms of 5 (and, with `hot`, a share of them in one hot room), everyone in before
/// anyone sends, four messages each, then holding.
fn scenario(dir: &Path, hot: f64) -> PathBuf {
    let path = dir.join(format!("split-{hot}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"
name = "split"
seed = 11
[[phase]]
kind = "ramp"
start_users = 10
step_users = 10
step_every = "2s"
max_users = 30
hold = "3s"
[rooms]
assignment = "groups"
users_per_room = 5
hot_room_share = {hot}
[timeouts]
delivery = "3s"
[[flow]]
steps = ["register", "enter_room", "connect", "join_room",
         {{ think = {{ min = "800ms", max = "800ms" }} }},
         {{ send_messages = {{ count = 4, interval = "200ms" }} }}, "hold"]
"#
        ),
    )
    .unwrap();
    path
}

fn load(dir: &Path) -> RunSummary {
    RunSummary::load(&dir.join("summary.json")).unwrap()
}

/// Unix seconds a little from now, for `--start-at`.
fn soon() -> String {
    let at = SystemTime::now() + Duration::from_secs(3);
    format!(
        "{:.3}",
        at.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    )
}

async fn segments(url: &str, scenario: &Path, count: u32, out: &Path) -> Vec<PathBuf> {
    let start = soon();
    let runs = (0..count).map(|i| {
        let dir = out.join(format!("segment-{i}"));
        let (scenario, start, url) = (scenario.to_owned(), start.clone(), url.to_owned());
        async move {
            let segment = format!("{i}/{count}");
            run_into(
                &url,
                &scenario,
                &dir,
                &["--segment", &segment, "--start-at", &start],
            )
            .await;
            dir
        }
    });
    futures_util::future::join_all(runs).await
}

fn delivery_count(s: &RunSummary) -> u64 {
    s.latency_of(stampede::metrics::Op::Delivery)
        .and_then(|l| decode_hist(&l.histogram))
        .map_or(0, |h| h.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_segments_merge_into_exactly_what_one_process_measures() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = capped_server(1000).await;
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario(tmp.path(), 0.0);

    // The whole plan in one process.
    let whole_dir = tmp.path().join("whole");
    run_into(&server.url(), &file, &whole_dir, &[]).await;
    let whole = load(&whole_dir);

    // The same plan as two segments, then merged.
    let dirs = segments(&server.url(), &file, 2, tmp.path()).await;
    let parts: Vec<RunSummary> = dirs.iter().map(|d| load(d)).collect();
    for (i, p) in parts.iter().enumerate() {
        let seg = p.segment.as_ref().expect("a segment says so");
        assert_eq!((seg.index, seg.count), (i as u32, 2));
        assert!(seg.started_late_ms < 1000.0, "{seg:?}");
        assert_eq!(p.plan_hash, whole.plan_hash, "same plan, same fingerprint");
        assert!(p.users.started > 0 && p.users.started < 30);
    }
    let merged_dir = tmp.path().join("merged");
    let mut args = vec!["merge", "--out", merged_dir.to_str().unwrap()];
    args.extend(dirs.iter().map(|d| d.to_str().unwrap()));
    let o = stampede(&args).await;
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let merged = load(&merged_dir);
    for file in [
        "summary.txt",
        "levels.csv",
        "timeline.csv",
        "failures.csv",
        "latency.hlog",
        "report.html",
    ] {
        assert!(merged_dir.join(file).exists(), "{file}");
    }

    // The plan's users, each started once, and the same deliveries expected and verified.
    assert_eq!(merged.users.planned, 30);
    assert_eq!(merged.users.started, whole.users.started);
    assert_eq!(merged.users.failed, 0, "{:#?}", merged.failures);
    assert_eq!(merged.messages.sent, whole.messages.sent);
    assert_eq!(merged.messages.sent, 30 * 4);
    assert_eq!(
        merged.messages.deliveries_expected,
        whole.messages.deliveries_expected
    );
    assert_eq!(merged.messages.deliveries_expected, 30 * 4 * 4);
    assert_eq!(
        merged.messages.delivered,
        merged.messages.deliveries_expected
    );
    assert_eq!(merged.messages.foreign, 0, "group rooms are never split");
    for (m, w) in merged.levels.iter().zip(&whole.levels) {
        assert_eq!(m.users_started, w.users_started, "level {}", m.index);
        assert_eq!(m.messages_sent, w.messages_sent, "level {}", m.index);
    }
    // Histograms are merged, not averaged: the merged one holds every segment's samples.
    assert_eq!(
        delivery_count(&merged),
        parts.iter().map(delivery_count).sum::<u64>()
    );
    assert_eq!(delivery_count(&merged), merged.messages.delivered);
    assert_eq!(merged.segments.len(), 2);
    assert!(merged.segments.iter().all(|s| s.generator.is_some()));
    assert!(!merged.partial);
    let _ = server.shutdown().await;
}

/// A hot room spans segments: it is created once (by the segment of its first member), every
/// segment's members talk in it, and copies of other segments' messages are counted as foreign,
/// never missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_room_spans_segments() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = capped_server(1000).await;
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario(tmp.path(), 0.5);
    let dirs = segments(&server.url(), &file, 2, tmp.path()).await;
    for d in &dirs {
        let s = load(d);
        assert_eq!(s.users.failed, 0, "{:#?}", s.failures);
        assert_eq!(s.messages.missing, 0);
        assert!(
            s.messages.foreign > 0,
            "the other segment's messages arrive"
        );
        assert_eq!(s.messages.delivered, s.messages.deliveries_expected);
    }
    let _ = server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_split_a_run_over_processes_and_merge_it() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = capped_server(1000).await;
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario(tmp.path(), 0.2);
    let out = tmp.path().join("out");
    let o = run_into(&server.url(), &file, &out, &["--workers", "2"]).await;
    assert!(String::from_utf8_lossy(&o.stdout).contains("results of 2 worker(s) merged"));
    let s = load(&out);
    assert_eq!(s.users.started, 30);
    assert_eq!(s.users.failed, 0, "{:#?}", s.failures);
    assert_eq!(s.messages.missing, 0);
    assert_eq!(s.segments.len(), 2);
    for i in 0..2 {
        let seg = load(&out.join("segments").join(i.to_string()));
        assert_eq!(seg.segment.unwrap().index, i);
    }
    let _ = server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_refuses_what_it_must_not_add_up_and_writes_nothing() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = capped_server(1000).await;
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario(tmp.path(), 0.0);
    let dirs = segments(&server.url(), &file, 2, tmp.path()).await;
    let out = tmp.path().join("merged");
    let refused = |args: Vec<String>, needle: &'static str| {
        let out = out.clone();
        async move {
            let mut all = vec![
                "merge".to_string(),
                "--out".into(),
                out.display().to_string(),
            ];
            all.extend(args);
            let refs: Vec<&str> = all.iter().map(String::as_str).collect();
            let o = stampede(&refs).await;
            assert_eq!(o.status.code(), Some(2), "{}", both(&o));
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains(needle), "{needle:?} not in {err}");
            assert!(!out.exists(), "nothing written");
        }
    };
    let d = |i: usize| dirs[i].display().to_string();
    refused(vec![d(0), d(0)], "segment 0 is given twice").await;
    refused(vec![d(1)], "segments [0] of 2 are missing").await;

    // Another plan (another seed) is not the same run.
    let other = tmp.path().join("other");
    let start = soon();
    let flags = ["--seed", "99", "--segment", "1/2", "--start-at", &start];
    run_into(&server.url(), &file, &other, &flags).await;
    refused(
        vec![d(0), other.display().to_string()],
        "are segments of different plans",
    )
    .await;

    // A whole run is not a segment; a corrupt summary says which file.
    let whole = tmp.path().join("whole");
    std::fs::create_dir_all(&whole).unwrap();
    let mut s = load(&dirs[0]);
    s.segment = None;
    std::fs::write(
        whole.join("summary.json"),
        serde_json::to_string(&s).unwrap(),
    )
    .unwrap();
    refused(vec![d(0), whole.display().to_string()], "not of a segment").await;
    let corrupt = tmp.path().join("corrupt");
    std::fs::create_dir_all(&corrupt).unwrap();
    std::fs::write(corrupt.join("summary.json"), "{\"schema_version\": 2, ").unwrap();
    refused(
        vec![d(0), corrupt.display().to_string()],
        "corrupt/summary.json",
    )
    .await;

    // With --allow-missing the rest is merged, marked partial.
    let o = stampede(&[
        "merge",
        "--allow-missing",
        "--out",
        out.to_str().unwrap(),
        &d(1),
    ])
    .await;
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", both(&o));
    let merged = load(&out);
    assert!(merged.partial);
    assert!(
        merged
            .stop_reason
            .as_deref()
            .unwrap_or_default()
            .contains("segments [0] are missing")
    );
    let _ = server.shutdown().await;
}

/// A match split over two workers is judged once, on the whole load: the bigger server wins by the
/// same margin as in one process (tests/match_cmd.rs), and each segment on its own decided nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_match_split_over_workers_is_judged_on_the_whole_load() {
    let _serial = ONE_AT_A_TIME.lock().await;
    use common::capacity::{TIME_SCALE, scenario_file};
    let small = capped_server(20).await;
    let big = capped_server(40).await;
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario_file(tmp.path());
    let out = tmp.path().join("match");
    let o = stampede(&[
        "match",
        "--no-tui",
        "--scenario",
        file.to_str().unwrap(),
        "--time-scale",
        TIME_SCALE,
        "--max-users",
        "50",
        "--team",
        &format!("small={}", small.url()),
        "--team",
        &format!("big={}", big.url()),
        "--workers",
        "2",
        "--out",
        out.to_str().unwrap(),
    ])
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("match.json")).unwrap()).unwrap();
    assert_eq!(m["winner"], "big", "{}", m["reason"]);
    assert_eq!(m["teams"][0]["sustained_users"], 20, "{}", m["reason"]);
    assert_eq!(m["teams"][1]["sustained_users"], 40, "{}", m["reason"]);
    for team in ["small", "big"] {
        let s = load(&out.join(team));
        assert_eq!(s.segments.len(), 2, "{team}");
        assert_eq!(s.users.started, 50, "{team}");
    }
    for i in 0..2 {
        let seg: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join("segments").join(i.to_string()).join("match.json"))
                .unwrap(),
        )
        .unwrap();
        assert!(
            seg["reason"]
                .as_str()
                .unwrap()
                .contains(&format!("segment {i}/2 of a split match")),
            "{}",
            seg["reason"]
        );
    }
    // The merged match directory is a match directory like any other: its page can be written
    // again from the files alone.
    let page = out.join("report.html");
    let _ = std::fs::remove_file(&page);
    let o = stampede(&["report", out.to_str().unwrap()]).await;
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let html = std::fs::read_to_string(&page).expect("report.html written again");
    assert!(html.contains("big") && html.contains("small"), "{html}");
    let _ = small.shutdown().await;
    let _ = big.shutdown().await;
}

/// A bracket whose runs are played by worker processes: each match's teams are merged into the
/// match directory and judged on the whole load, so the bracket goes as it would in one process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bracket_played_by_workers_follows_capacity() {
    let _serial = ONE_AT_A_TIME.lock().await;
    use common::capacity::{TIME_SCALE, scenario_file};
    let small = capped_server(20).await;
    let big = capped_server(40).await;
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario_file(tmp.path());
    let teams = tmp.path().join("teams.toml");
    std::fs::write(
        &teams,
        format!(
            "[[team]]\nname = \"small\"\ntarget = \"{}\"\n\n[[team]]\nname = \"big\"\ntarget = \"{}\"\n",
            small.url(),
            big.url()
        ),
    )
    .unwrap();
    let out = tmp.path().join("bracket");
    let o = stampede(&[
        "bracket",
        "--no-tui",
        "--teams",
        teams.to_str().unwrap(),
        "--scenario",
        file.to_str().unwrap(),
        "--time-scale",
        TIME_SCALE,
        "--max-users",
        "50",
        "--workers",
        "2",
        "--out",
        out.to_str().unwrap(),
    ])
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("champion: big"),
        "{}",
        both(&o)
    );
    let m = out.join("matches/R1-1");
    let merged = load(&m.join("big"));
    assert_eq!(merged.segments.len(), 2);
    assert_eq!(merged.team.as_deref(), Some("big"));
    assert!(m.join("segments/0/match.json").exists());
    let _ = small.shutdown().await;
    let _ = big.shutdown().await;
}

/// SIGTERM to a run split over workers stops every worker in order; their results are still
/// merged, marked partial with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_every_worker_and_the_merge_is_partial() {
    let _serial = ONE_AT_A_TIME.lock().await;
    use tokio::io::{AsyncBufReadExt, BufReader};
    let server = capped_server(1000).await;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("long.toml");
    std::fs::write(
        &file,
        "name = \"long\"\nseed = 4\n[[phase]]\nkind = \"constant\"\nusers = 20\nduration = \"60s\"\n\
         [rooms]\nassignment = \"groups\"\nusers_per_room = 5\n[[flow]]\nsteps = [\"register\", \
         \"enter_room\", \"connect\", \"join_room\", { send_messages = { interval = \"200ms\" } }]\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args([
            "run",
            "--no-tui",
            "--workers",
            "2",
            "--target",
            &server.url(),
        ])
        .arg("--scenario")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap().to_string();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    while let Some(line) = stderr.next_line().await.unwrap() {
        if line.contains("workers started") {
            break;
        }
    }
    // The workers wait for the common start time (3 s), then run a little.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let started = std::time::Instant::now();
    let o = child.wait_with_output().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "stopped in order, not at its end"
    );
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", both(&o));
    let s = load(&out);
    assert_eq!(s.segments.len(), 2);
    assert!(s.partial);
    let reason = s.stop_reason.unwrap_or_default();
    assert!(reason.contains("SIGTERM"), "{reason}");
    assert!(s.messages.sent > 0);
    assert_eq!(s.messages.unjudged, 0, "an orderly stop judges everything");
    let _ = server.shutdown().await;
}
