//! `stampede run` end to end against the real reference server, in process: a time-scaled ramp with
//! exact users per level and every delivery verified, results that validate against the checked-in
//! schema, a server stopped in the middle of a run, and bad input refused with exit code 2.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use reference_server::ServerConfig;
use serde_json::Value;
use stampede::engine::EngineOptions;
use stampede::engine::Target;
use stampede::metrics::{FailureKind, Snapshot};
use stampede::runner::{self, Destination, Written};
use stampede::scenario::{LowerOptions, Scenario};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// 10 users, +10 every 2 s (1 s at time scale 0.5), up to 40, holding; rooms of 5; users chat
/// every 400 ms (200 ms scaled) until the end, so every level carries deliveries.
const RAMP: &str = r#"
name = "ramp-test"
seed = 3
[[phase]]
kind = "ramp"
start_users = 10
step_users = 10
step_every = "2s"
max_users = 40
hold = "3s"
[rooms]
assignment = "groups"
users_per_room = 5
[timeouts]
step = "10s"
delivery = "2s"
[[flow]]
name = "chat"
steps = ["register", "health", "enter_room", "connect", "join_room",
         { fetch_history = { pages = 1 } },
         { send_messages = { interval = "400ms" } }]
[[threshold]]
metric = "delivery_missing"
max = 0
"#;

/// 10 members in rooms of 5 who connect, join and then `send_messages` with these parameters.
fn reading(send_messages: &str) -> String {
    format!(
        r#"
name = "reading-test"
seed = 5
[[phase]]
kind = "constant"
users = 10
duration = "3s"
spread = "0s"
[rooms]
assignment = "groups"
users_per_room = 5
[timeouts]
step = "10s"
delivery = "2s"
[[flow]]
name = "chat"
steps = ["register", "enter_room", "connect", "join_room",
         {{ send_messages = {send_messages} }}, "hold"]
"#
    )
}

async fn reference_server() -> reference_server::RunningServer {
    common::capacity::capped_server(ServerConfig::default().max_connections).await
}

async fn run(
    scenario: &str,
    time_scale: f64,
    url: String,
    out: &Path,
    interrupt: CancellationToken,
) -> Written {
    let plan = Scenario::from_toml(scenario, "test.toml")
        .unwrap()
        .lower(&LowerOptions {
            time_scale,
            ..LowerOptions::default()
        });
    let dest = Destination {
        target: Target {
            name: "reference".into(),
            url,
        },
        team: None,
        dir: out.to_path_buf(),
    };
    let (tx, _rx) = watch::channel(Snapshot::default());
    runner::execute(
        Arc::new(plan),
        &[dest],
        EngineOptions::default(),
        interrupt,
        tx,
    )
    .await
    .expect("run completes")
    .remove(0)
}

/// Plays `scenario` to its end against a fresh reference server. Returns the server, still running
/// for what it counted, and what was written, in a directory that lives as long as it is held.
async fn play_to_end(
    scenario: &str,
    time_scale: f64,
) -> (reference_server::RunningServer, Written, tempfile::TempDir) {
    let server = reference_server().await;
    let out = tempfile::tempdir().unwrap();
    let w = run(
        scenario,
        time_scale,
        server.url(),
        out.path(),
        CancellationToken::new(),
    )
    .await;
    (server, w, out)
}

fn schema_check(summary: &Path) {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(common::repo().join("schema/run-summary.schema.json")).unwrap(),
    )
    .unwrap();
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    compiler.add_resource("urn:summary", schema).unwrap();
    let index = compiler.compile("urn:summary", &mut schemas).unwrap();
    if let Err(e) = schemas.validate(&doc, index) {
        panic!("{} does not match the schema: {e:#}", summary.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_scaled_ramp_counts_exact_users_and_verifies_every_delivery() {
    let (server, w, _out) = play_to_end(RAMP, 0.5).await;
    let s = &w.summary;
    let failures: Vec<_> = s
        .failures
        .iter()
        .map(|f| (f.kind, f.op, f.count, &f.samples))
        .collect();
    assert_eq!(s.users.failed, 0, "{failures:#?}");
    assert!(!s.partial);

    // Exactly 10, 20, 30, 40 users at the ends of the four levels, all connected.
    let started: Vec<u64> = s.levels.iter().map(|l| l.users_started).collect();
    assert_eq!(started, [10, 20, 30, 40]);
    let targets: Vec<u32> = s.levels.iter().map(|l| l.target_users).collect();
    assert_eq!(targets, [10, 20, 30, 40]);
    for l in &s.levels {
        assert_eq!(
            l.users_connected,
            u64::from(l.target_users),
            "level {}",
            l.index
        );
        assert_eq!(l.vus_failed, 0);
        assert!(l.deliveries > 0, "level {} carried no deliveries", l.index);
    }
    // Every expected delivery arrived; none lost, doubled or reordered.
    assert!(s.messages.delivered > 500, "{:?}", s.messages);
    assert_eq!(s.messages.delivered, s.messages.deliveries_expected);
    assert_eq!(
        (
            s.messages.missing,
            s.messages.duplicate,
            s.messages.reordered
        ),
        (0, 0, 0)
    );
    assert!(s.thresholds.iter().all(|t| t.passed));

    // Every file is there, and the JSON is what the schema promises.
    for path in w.files.paths() {
        assert!(path.exists(), "{} missing", path.display());
    }
    schema_check(&w.files.summary_json);
    let levels_csv = std::fs::read_to_string(&w.files.levels_csv).unwrap();
    assert_eq!(levels_csv.lines().count(), 5, "header + 4 levels");
    let _ = server.shutdown().await;
}

/// Runs `scenario` against the reference server; every user must pass and every message arrive.
/// Returns the messages sent and the server's count of markMessagesAsRead events (it counts them,
/// with chatMessage, as message-send events).
async fn messages_and_reads(scenario: &str) -> (u64, u64) {
    let (server, w, _out) = play_to_end(scenario, 1.0).await;
    let s = &w.summary;
    assert_eq!(s.users.failed, 0, "{:#?}", s.failures);
    assert_eq!(s.messages.delivered, s.messages.deliveries_expected);
    let events = server
        .state()
        .overload
        .started(reference_server::overload::RequestKind::MessageSend);
    let _ = server.shutdown().await;
    (s.messages.sent, events - s.messages.sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_can_mark_what_arrived_as_read_before_each_message() {
    // Members mark what arrived as read before each message they send.
    let (sent, reads) = messages_and_reads(&reading(
        r#"{ count = 4, interval = "300ms", mark_read = true }"#,
    ))
    .await;
    assert_eq!(sent, 40);
    // Each member has something unread before each of its 4 messages (at least the others' join
    // notices before the first), so about 40 receipts came on top of the 40 messages.
    assert!(reads >= 30, "{reads} marks for {sent} messages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_can_read_along_between_messages() {
    // Members read along: between their messages (1 s apart) they mark what arrived as read every
    // 200 ms, as a client with the room open does.
    let (sent, reads) = messages_and_reads(&reading(
        r#"{ count = 2, interval = "1s", read_every = "200ms" }"#,
    ))
    .await;
    assert_eq!(sent, 20);
    // In the second between its two messages each member finds something unread (the others'
    // first messages, join notices) at least once, and marks it read at most once per 200 ms tick.
    assert!(
        (10..=50).contains(&reads),
        "{reads} read-along marks by 10 members over 5 ticks each"
    );
}

/// The reference server with overload control off tells every member every read receipt and
/// reaction: none is missing or told twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_receipt_and_reaction_arrives_from_the_reference_server_with_control_off() {
    let files = tempfile::tempdir().unwrap();
    let server = reference_server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        kdf: reference_server::KdfParams::MINIMAL,
        files_dir: files.path().to_path_buf(),
        overload: reference_server::overload::OverloadSettings {
            pinned_off: true,
            ..Default::default()
        },
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let scenario = reading(r#"{ count = 4, interval = "300ms", mark_read = true }"#).replace(
        r#""hold"]"#,
        r#"{ react = { reaction = "👍" } }, "mark_read", "hold"]"#,
    );
    let out = tempfile::tempdir().unwrap();
    let w = run(
        &scenario,
        1.0,
        server.url(),
        out.path(),
        CancellationToken::new(),
    )
    .await;
    let s = &w.summary;
    assert_eq!(s.users.failed, 0, "{:#?}", s.failures);
    assert!(s.receipts.marks >= 30, "{:?}", s.receipts);
    // Each mark is expected at the other members that had joined by then: up to 4.
    assert!(
        s.receipts.expected > s.receipts.marks * 3,
        "{:?}",
        s.receipts
    );
    assert_eq!(s.receipts.delivered, s.receipts.expected);
    assert_eq!(
        (
            s.receipts.missing,
            s.receipts.duplicate,
            s.receipts.unjudged
        ),
        (0, 0, 0),
        "{:#?}",
        s.failures
    );
    assert_eq!(s.reactions.expected, 10 * 4, "{:?}", s.reactions);
    assert_eq!(s.reactions.missing, 0);
    assert!(s.latency_of(stampede::metrics::Op::Receipt).is_some());
    let _ = server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stopped_mid_run_is_counted_by_kind_and_results_are_written() {
    let server = reference_server().await;
    let url = server.url();
    let out = tempfile::tempdir().unwrap();
    let killer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let _ = server.shutdown().await;
    });
    let w = run(RAMP, 0.5, url, out.path(), CancellationToken::new()).await;
    killer.await.unwrap();
    let s = &w.summary;
    assert!(
        s.users.failed > 0,
        "users must fail when the server goes away"
    );
    let kinds: Vec<FailureKind> = s.failures.iter().map(|f| f.kind).collect();
    // Connected users see their socket closed; users arriving later find nobody listening.
    assert!(
        kinds.contains(&FailureKind::UnexpectedDisconnect),
        "{kinds:?}"
    );
    assert!(kinds.contains(&FailureKind::ConnectRefused), "{kinds:?}");
    for f in &s.failures {
        assert!(!f.samples.is_empty(), "{:?} has no sample message", f.kind);
    }
    // The levels after the stop record the failures; the run still wrote everything.
    assert!(s.levels.last().unwrap().vus_failed > 0);
    for path in w.files.paths() {
        assert!(path.exists(), "{} missing", path.display());
    }
    schema_check(&w.files.summary_json);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_writes_partial_results() {
    let server = reference_server().await;
    let out = tempfile::tempdir().unwrap();
    let interrupt = CancellationToken::new();
    let stopper = interrupt.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stopper.cancel();
    });
    let w = run(RAMP, 0.5, server.url(), out.path(), interrupt).await;
    let s = &w.summary;
    assert!(s.partial);
    assert!(s.stop_reason.is_some());
    assert!(s.duration_secs < s.planned_duration_secs);
    let last = s.levels.last().unwrap();
    assert!(last.incomplete);
    assert_eq!(s.users.failed, 0, "stopping is not failing");
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(&w.files.summary_json).unwrap()).unwrap();
    assert_eq!(on_disk["partial"], true);
    let _ = server.shutdown().await;
}

#[test]
fn run_with_a_broken_scenario_exits_2_naming_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    std::fs::write(
        &file,
        RAMP.replace("step_every = \"2s\"", "step_every = \"2\""),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args([
            "run",
            "--no-tui",
            "--target",
            "http://127.0.0.1:9",
            "--scenario",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.toml"), "{err}");
    assert!(err.contains("step_every"), "{err}");
    assert!(
        err.contains("30s"),
        "the message shows the allowed form: {err}"
    );
}

#[test]
fn run_against_nothing_exits_2_saying_the_target_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let out = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["run", "--no-tui", "--scenario"])
        .arg(common::repo().join("scenarios/smoke.toml"))
        .args(["--target", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("failed the check before the run"), "{err}");
    assert!(err.contains("Fix --target"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_spread_over_several_source_addresses() {
    let server = reference_server().await;
    let plan = Scenario::from_toml(RAMP, "test.toml")
        .unwrap()
        .lower(&LowerOptions {
            time_scale: 0.25,
            max_users: Some(20),
            ..LowerOptions::default()
        });
    let out = tempfile::tempdir().unwrap();
    let dest = Destination {
        target: Target {
            name: "reference".into(),
            url: server.url(),
        },
        team: None,
        dir: out.path().to_path_buf(),
    };
    let options = EngineOptions {
        source_ips: vec!["127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap()],
        ..EngineOptions::default()
    };
    let (tx, mut rx) = watch::channel(Snapshot::default());
    let watcher = tokio::spawn(async move {
        // While users are connected, the server sees sockets from both source addresses.
        let mut seen = std::collections::BTreeSet::new();
        while rx.changed().await.is_ok() {
            let connected = rx.borrow().teams.first().map_or(0, |t| t.gauges.connected);
            if connected == 20 {
                let ss = Command::new("ss")
                    .args(["-tnH", "state", "established"])
                    .output();
                if let Ok(out) = ss {
                    for line in String::from_utf8_lossy(&out.stdout).lines() {
                        for ip in ["127.0.0.1", "127.0.0.2"] {
                            if line
                                .split_whitespace()
                                .nth(2)
                                .is_some_and(|l| l.starts_with(ip))
                            {
                                seen.insert(ip);
                            }
                        }
                    }
                }
            }
        }
        seen
    });
    let w = runner::execute(
        Arc::new(plan),
        &[dest],
        options,
        CancellationToken::new(),
        tx,
    )
    .await
    .unwrap()
    .remove(0);
    assert_eq!(w.summary.users.failed, 0, "{:?}", w.summary.failures);
    assert_eq!(w.summary.users.peak_connected, 20);
    let seen = watcher.await.unwrap();
    assert!(
        seen.contains("127.0.0.2"),
        "no connection from 127.0.0.2: {seen:?}"
    );
    let _ = server.shutdown().await;
}

/// A `resync` from the server (the reference server's extension: room events it skipped) is
/// counted in the results and fails no one. Sent here by the same gateway call the Redis bus makes
/// when it skips events, to every member of every room while the members hold their sockets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_from_the_server_is_counted_and_fails_no_one() {
    use reference_server::gateway::bus::Local;

    let server = reference_server().await;
    let state = server.state().clone();
    let told = tokio::spawn(async move {
        // Everyone has joined (10 members), then each room's members are told once.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while state.gateway.map_sizes().members < 10 {
            assert!(std::time::Instant::now() < deadline, "members never joined");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let page = state
            .store
            .list_rooms(&protocol::rest::RoomListQuery::default())
            .await
            .unwrap();
        let mut told = 0;
        for room in &page.rooms {
            told += state.gateway.resync(&room.id, 7);
        }
        told
    });
    let out = tempfile::tempdir().unwrap();
    let w = run(
        &reading(r#"{ count = 2, interval = "300ms" }"#),
        1.0,
        server.url(),
        out.path(),
        CancellationToken::new(),
    )
    .await;
    let told = told.await.unwrap();
    let s = &w.summary;
    assert_eq!(told, 10);
    assert_eq!(s.messages.resyncs, told, "{:?}", s.messages);
    assert_eq!(s.users.failed, 0, "{:#?}", s.failures);
    assert_eq!(s.messages.delivered, s.messages.deliveries_expected);
    schema_check(&w.files.summary_json);
    let _ = server.shutdown().await;
}
