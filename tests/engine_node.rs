//! The engine against a server it did not write: a chat server on the real npm `socket.io` v4
//! package, behaving well and misbehaving on purpose (losing, duplicating, delaying messages).

mod common;

use std::sync::Arc;
use std::time::Duration;

use stampede::base::summary::RunSummary;
use stampede::engine::plan::Step;
use stampede::engine::{self, EngineOptions, Target};
use stampede::metrics::{FailureKind, Op, Snapshot};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use common::{NodeServer, full_flow, ramp_plan};

/// Runs `plan` against `url` to its end and returns what was measured (in the summary model).
async fn run(url: &str, plan: stampede::engine::plan::LoadPlan) -> RunSummary {
    let (tx, _rx) = watch::channel(Snapshot::default());
    let target = Target {
        name: "node".into(),
        url: url.into(),
    };
    let outcome = engine::run(
        Arc::new(plan),
        &[target],
        EngineOptions::default(),
        CancellationToken::new(),
        tx,
    )
    .await
    .expect("run starts");
    assert!(!outcome.interrupted);
    outcome.teams.into_iter().next().unwrap().summary
}

fn failures(r: &RunSummary) -> Vec<String> {
    r.failures
        .iter()
        .map(|f| {
            format!(
                "{} {} x{}: {:?}",
                f.kind.name(),
                f.op.name(),
                f.count,
                f.samples
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_against_the_npm_socket_io_server() {
    let server = NodeServer::start(&[]);
    let plan = ramp_plan(
        10,
        2,
        Duration::from_secs(1),
        Duration::from_secs(4),
        full_flow(3, Duration::from_millis(200)),
    );
    let r = run(&server.url, plan).await;
    assert!(r.failures.is_empty(), "{:#?}", failures(&r));
    assert_eq!(r.users.started, 20);
    assert_eq!(r.users.failed, 0);
    assert_eq!(r.users.peak_connected, 20);
    // Exact users per level.
    assert_eq!(r.levels.len(), 2);
    assert_eq!(r.levels[0].users_started, 10);
    assert_eq!(r.levels[1].users_started, 20);
    assert_eq!(r.levels[1].users_connected, 20);
    // 20 users × (3 chat + 1 file + 1 AI mention) messages, all echoed; each reaches 4 others.
    assert_eq!(r.messages.sent, 100);
    assert_eq!(r.messages.echoed, 60 + 20);
    assert_eq!(r.messages.missing, 0);
    assert_eq!(r.messages.duplicate, 0);
    assert!(r.messages.delivered > 0);
    assert_eq!(r.messages.delivered, r.messages.deliveries_expected);
    for op in [
        Op::Register,
        Op::Login,
        Op::JoinRoom,
        Op::History,
        Op::SendAck,
        Op::Delivery,
        Op::React,
        Op::Upload,
        Op::FileMessage,
        Op::ProfileImage,
        Op::AiComplete,
        Op::AiFirstChunk,
        Op::WsConnect,
        Op::SioConnect,
    ] {
        assert!(
            r.latency.iter().any(|l| l.op == op),
            "no latency for {}",
            op.name()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_and_duplicated_messages_are_counted() {
    let server = NodeServer::start(&["--drop", "0.2", "--dup", "0.2"]);
    let flow = vec![
        Step::Register { login: true },
        Step::EnterRoom,
        Step::Connect,
        Step::JoinRoom,
        // Everyone is in the room before the first send, so every message has 4 expected receivers.
        Step::Think {
            min: Duration::from_millis(500),
            max: Duration::from_millis(500),
        },
        Step::SendMessages {
            count: Some(10),
            interval: Duration::from_millis(50),
            mark_read: false,
            read_every: None,
        },
        Step::Hold,
    ];
    let plan = ramp_plan(10, 1, Duration::from_secs(1), Duration::from_secs(5), flow);
    let r = run(&server.url, plan).await;
    // 10 users × 10 messages, each to 4 other members: 400 deliveries expected.
    assert_eq!(r.messages.sent, 100);
    assert_eq!(r.messages.deliveries_expected, 400, "{:#?}", failures(&r));
    assert!(r.messages.missing > 20, "missing {}", r.messages.missing);
    assert!(
        r.messages.duplicate > 10,
        "duplicate {}",
        r.messages.duplicate
    );
    assert_eq!(r.messages.delivered + r.messages.missing, 400);
    assert!(
        r.failures
            .iter()
            .any(|f| f.kind == FailureKind::DeliveryMissing && !f.samples.is_empty())
    );
    // Delivery findings do not fail VUs unless the scenario says so.
    assert_eq!(r.users.failed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_and_reordered_deliveries_are_measured() {
    let server = NodeServer::start(&["--delay-ms", "300", "--jitter-ms", "200"]);
    let flow = vec![
        Step::Register { login: false },
        Step::EnterRoom,
        Step::Connect,
        Step::JoinRoom,
        Step::SendMessages {
            count: Some(10),
            interval: Duration::from_millis(20),
            mark_read: false,
            read_every: None,
        },
        Step::Hold,
    ];
    let plan = ramp_plan(5, 1, Duration::from_secs(1), Duration::from_secs(4), flow);
    let r = run(&server.url, plan).await;
    let delivery = r
        .latency
        .iter()
        .find(|l| l.op == Op::Delivery)
        .expect("deliveries measured");
    assert!(delivery.min_ms >= 299.0, "min {}", delivery.min_ms);
    assert!(delivery.max_ms >= 400.0, "max {}", delivery.max_ms);
    assert_eq!(r.messages.missing, 0);
    assert!(
        r.messages.reordered > 0,
        "jitter of 200 ms over 20 ms sends must reorder"
    );
    // The sender's own echo is not delayed.
    let ack = r.latency.iter().find(|l| l.op == Op::SendAck).unwrap();
    assert!(ack.p50_ms < 300.0, "send ack p50 {}", ack.p50_ms);
}

/// A flow where everyone is in the room before the first send, so the server's room and the
/// engine's expected receivers are the same members, then `send` and a hold.
fn joined_then(send: Vec<Step>) -> Vec<Step> {
    let mut flow = vec![
        Step::Register { login: true },
        Step::EnterRoom,
        Step::Connect,
        Step::JoinRoom,
        Step::Think {
            min: Duration::from_millis(400),
            max: Duration::from_millis(400),
        },
    ];
    flow.extend(send);
    flow.push(Step::Hold);
    flow
}

/// Sending until the very end of a run shorter than the delivery deadline: the run waits for every
/// message before closing, so each dropped delivery is found, one for one, and nothing is left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_shorter_than_the_delivery_deadline_judges_every_message() {
    let server = NodeServer::start(&["--drop", "0.02"]);
    let flow = joined_then(vec![Step::SendMessages {
        count: None,
        interval: Duration::from_millis(20),
        mark_read: false,
        read_every: None,
    }]);
    // 1.5 s of load against a 2 s delivery deadline: every message is sent within the deadline
    // before the end of the plan.
    let plan = ramp_plan(
        10,
        1,
        Duration::from_secs(1),
        Duration::from_millis(1500),
        flow,
    );
    assert!(plan.duration < plan.conduct.verify.delivery_deadline);
    let r = run(&server.url, plan).await;
    let faults = server.faults().await;
    assert!(faults.dropped > 0, "{faults:?}");
    assert_eq!(r.messages.missing, faults.dropped, "{:#?}", failures(&r));
    assert_eq!(r.messages.unjudged, 0);
    assert_eq!(r.messages.echoes_unjudged, 0);
    assert_eq!(
        r.messages.delivered + r.messages.missing,
        r.messages.sent * 4,
        "every message to its 4 other members, judged"
    );
    assert_eq!(r.levels[0].deliveries_missing, faults.dropped);
}

/// Read receipts and reaction updates a server drops are found one for one; the rest arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_receipts_and_reaction_updates_are_counted_one_for_one() {
    let server = NodeServer::start(&["--drop-reads", "0.1", "--drop-reactions", "0.2"]);
    let flow = joined_then(vec![
        Step::SendMessages {
            count: Some(6),
            interval: Duration::from_millis(50),
            mark_read: true,
            read_every: None,
        },
        Step::React {
            reaction: "👍".into(),
        },
        Step::MarkRead,
    ]);
    let plan = ramp_plan(10, 1, Duration::from_secs(1), Duration::from_secs(2), flow);
    let r = run(&server.url, plan).await;
    let faults = server.faults().await;
    assert!(
        faults.dropped_reads > 0 && faults.dropped_reactions > 0,
        "{faults:?}"
    );
    assert_eq!(
        r.receipts.missing,
        faults.dropped_reads,
        "{:#?}",
        failures(&r)
    );
    assert_eq!(r.reactions.missing, faults.dropped_reactions);
    assert!(r.receipts.delivered > 0 && r.reactions.delivered > 0);
    assert_eq!(
        r.receipts.expected,
        r.receipts.delivered + r.receipts.missing
    );
    assert_eq!(r.receipts.duplicate, 0);
    assert_eq!((r.receipts.unjudged, r.reactions.unjudged), (0, 0));
    // Every member of a room of 5 is told about every other member's marks.
    assert_eq!(
        r.reactions.expected,
        10 * 4,
        "one reaction per user, seen by 4"
    );
    assert!(r.latency.iter().any(|l| l.op == Op::Receipt));
    // Receipt findings are not requests, and do not fail VUs by default.
    assert_eq!(r.users.failed, 0);
    assert_eq!(r.requests.failed, 0, "{:#?}", failures(&r));
}

/// A delivery that arrives in a later level belongs to the level its message was sent in: with
/// every copy delayed longer than a level, each level shows all its deliveries late and its p99 at
/// the delay, none of it moved into the next level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_belong_to_the_level_they_were_sent_in() {
    let server = NodeServer::start(&["--delay-ms", "1300", "--delay-share", "1"]);
    let flow = joined_then(vec![Step::SendMessages {
        count: None,
        interval: Duration::from_millis(100),
        mark_read: false,
        read_every: None,
    }]);
    let plan = ramp_plan(5, 2, Duration::from_secs(1), Duration::from_secs(1), flow);
    let r = run(&server.url, plan).await;
    assert_eq!(r.messages.missing, 0, "{:#?}", failures(&r));
    assert!(r.messages.delivered > 0);
    for l in &r.levels {
        assert!(l.messages_sent > 0, "level {} sent nothing", l.index);
        assert!(
            l.deliveries > 0,
            "level {}: its deliveries arrived later",
            l.index
        );
        assert_eq!(l.deliveries_late, l.deliveries, "level {}", l.index);
        assert!(
            l.delivery_p50_ms >= 1300.0,
            "level {}: {}",
            l.index,
            l.delivery_p50_ms
        );
        // Only this level's messages: a level's deliveries are its sends times their receivers.
        assert!(l.deliveries <= l.messages_sent * 4, "level {}", l.index);
    }
    assert_eq!(
        r.levels.iter().map(|l| l.deliveries).sum::<u64>(),
        r.messages.delivered
    );
    // The timeline keeps arrival time: the first second's arrivals hold none of them.
    assert_eq!(r.timeline[0].messages_delivered, 0);
}
