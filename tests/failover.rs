//! A Redis Cluster master dies in the middle of a `stampede` run over three instances: the run
//! records the failures, the servers recover by themselves once the replica has taken over (and the
//! dead node is back as its replica), and no message acknowledged to a client is missing afterwards.

mod spread;
use spread as multi;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use multi::rs::redis::RedisCluster;
use serde_json::json;

/// Like the multi-instance scenario, longer, so the run spans the failover.
const LONG: &str = r#"
name = "failover"
seed = 9
[[phase]]
kind = "ramp"
start_users = 6
step_users = 6
step_every = "4s"
max_users = 18
hold = "8s"
[rooms]
assignment = "groups"
users_per_room = 3
[timeouts]
step = "10s"
delivery = "3s"
[[flow]]
name = "chat"
steps = ["register", "health", "enter_room", "connect", "join_room",
         { send_messages = { interval = "400ms" } }]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_dies_mid_run_and_nothing_acknowledged_is_lost() {
    let mut cluster = RedisCluster::start();
    let (servers, prefix) = multi::instances(&cluster, 3).await;
    let urls: Vec<String> = servers.iter().map(|s| s.server.url()).collect();

    // A probe room with a sender on instance 0 and a reader on instance 1. A message counts as
    // acknowledged when the sender gets its own echo back.
    let alice = servers[0].user("Alice").await;
    let bob = servers[1].user("Bob").await;
    let room = servers[0].create_room(&alice, "probe", None).await;
    assert_eq!(
        servers[1].join_room(&bob, &room.id, None).await.status(),
        200
    );
    let mut sa = servers[0].joined(&alice, &room.id).await;
    let mut sb = servers[1].joined(&bob, &room.id).await;

    let out = tempfile::tempdir().unwrap();
    let out_path = out.path().to_path_buf();
    let run = tokio::spawn(async move { multi::run_spread(LONG, &urls, &out_path).await });

    let room_key = format!("{prefix}:{{r:{}}}", room.id);
    let started = Instant::now();
    let mut acked: HashSet<String> = HashSet::new();
    let mut killed = None;
    let mut restarted = false;
    let mut k = 0;
    // Probe for the length of the run (≈ 8 s at time scale 0.5), killing the probe room's master
    // after 2 s and bringing the dead node back (as a replica) after 6 s.
    while started.elapsed() < Duration::from_secs(9) {
        if killed.is_none() && started.elapsed() > Duration::from_secs(2) {
            killed = Some(cluster.kill_master_of(&room_key));
        }
        if let Some(i) = killed
            && !restarted
            && started.elapsed() > Duration::from_secs(6)
        {
            cluster.nodes[i].restart();
            restarted = true;
        }
        k += 1;
        let text = format!("probe-{k}");
        sa.emit(
            "chatMessage",
            &json!({"room": room.id, "type": "text", "content": text}),
        )
        .await;
        for (name, payload) in sa.drain(Duration::from_millis(30)).await {
            if name == "message"
                && let Some(c) = payload["content"].as_str()
                && c.starts_with("probe-")
            {
                acked.insert(c.to_owned());
            }
        }
    }
    let w = run.await.unwrap();
    let s = &w.summary;
    // The run saw the outage.
    assert!(
        s.users.failed > 0 || !s.failures.is_empty(),
        "a dead master went unnoticed: {:?}",
        s.messages
    );

    // Recovery, by itself: the probe crosses instances again.
    cluster.wait_healthy(Duration::from_secs(20));
    let deadline = Instant::now() + Duration::from_secs(20);
    let recovered = loop {
        k += 1;
        let text = format!("probe-{k}");
        sa.emit(
            "chatMessage",
            &json!({"room": room.id, "type": "text", "content": text}),
        )
        .await;
        let got = sb
            .drain(Duration::from_millis(300))
            .await
            .into_iter()
            .any(|(name, p)| name == "message" && p["content"] == text.as_str());
        for (name, payload) in sa.drain(Duration::from_millis(10)).await {
            if name == "message"
                && let Some(c) = payload["content"].as_str()
            {
                acked.insert(c.to_owned());
            }
        }
        if got || Instant::now() > deadline {
            break got;
        }
    };
    assert!(recovered, "the servers did not recover after the failover");
    // New users can sign up on every instance again.
    for server in &servers {
        server.user("Late").await;
    }

    // Every acknowledged probe message is in the room's history.
    let history = servers[2]
        .server
        .state()
        .store
        .messages_before(&room.id, None, 100_000)
        .await
        .unwrap();
    let stored: HashSet<String> = history.messages.into_iter().map(|m| m.content).collect();
    let missing: Vec<&String> = acked.iter().filter(|a| !stored.contains(*a)).collect();
    assert!(
        acked.len() > 20,
        "too few probes acknowledged: {}",
        acked.len()
    );
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    for server in servers {
        let _ = server.server.shutdown().await;
    }
}
