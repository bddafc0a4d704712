//! A Redis Cluster master is SIGKILLed in the middle of a `stampede` run over two instances and never
//! comes back: its replica is promoted and has no replica of its own. Every send gets an answer
//! (the echo or an `error` event) within the step budget, the rooms on the moved slots work again
//! without a restart, nothing acknowledged is lost or duplicated, the run's levels show failures
//! where the outage was and none before or after it, a `--redis-durability strict` instance refuses
//! fast on the socket and over REST (storing nothing), and the others say they are degraded on
//! `/health` and `/metrics`.

mod spread;
use spread as multi;

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use multi::rs::redis::RedisCluster;
use reference_server::StoreConfig;
use reference_server::store::redis::{Durability, RedisTarget};
use serde_json::{Value, json};
use stampede::report::summary::LevelRow;

/// Eight levels of 4 s (8 s scaled by 0.5), 5 users up to 12, so the run is judged level by level:
/// two before the kill at 9 s, one or two during the outage, and several after the recovery.
const LONG: &str = r#"
name = "master-lost"
seed = 11
[[phase]]
kind = "ramp"
start_users = 5
step_users = 1
step_every = "8s"
max_users = 12
hold = "4s"
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

/// The client's step budget (the scenario's `timeouts.step`): every send is answered within it.
const STEP_BUDGET: Duration = Duration::from_secs(10);

/// The scenario's delivery deadline (`timeouts.delivery`; server budgets are not time-scaled).
const DELIVERY: Duration = Duration::from_secs(3);

/// When the probe room's master is killed, after the run's start: inside its third level.
const KILL_AT: Duration = Duration::from_secs(9);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_lost_for_good_does_not_take_its_rooms_down() {
    let mut cluster = RedisCluster::start();
    let prefix = format!("t{:08x}", rand::random::<u32>());
    let mut servers = Vec::new();
    for durability in [
        Durability::Available,
        Durability::Available,
        Durability::Strict,
    ] {
        let target = RedisTarget::parse(&cluster.url()).unwrap();
        let prefix = prefix.clone();
        servers.push(
            multi::rs::start_with(move |c| {
                c.store = StoreConfig::Redis(target);
                c.redis.prefix = prefix;
                c.redis.durability = durability;
            })
            .await,
        );
    }
    let urls: Vec<String> = servers[..2].iter().map(|s| s.server.url()).collect();

    // A sender on instance 0, a reader on instance 1, and a member on the strict instance 2.
    let alice = servers[0].user("Alice").await;
    let bob = servers[1].user("Bob").await;
    let carol = servers[2].user("Carol").await;
    let room = servers[0].create_room(&alice, "probe", None).await;
    for (server, user) in [(&servers[1], &bob), (&servers[2], &carol)] {
        assert_eq!(server.join_room(user, &room.id, None).await.status(), 200);
    }
    let mut sa = servers[0].joined(&alice, &room.id).await;
    let mut sb = servers[1].joined(&bob, &room.id).await;
    let mut sc = servers[2].joined(&carol, &room.id).await;

    let out = tempfile::tempdir().unwrap();
    let out_path = out.path().to_path_buf();
    let run = tokio::spawn(async move { multi::run_spread(LONG, &urls, &out_path).await });

    let room_key = format!("{prefix}:{{r:{}}}", room.id);
    let slot = cluster.slot_of(&room_key);
    let started = Instant::now();
    let mut sent: VecDeque<Instant> = VecDeque::new();
    let mut sends = 0u32;
    let mut echoes: HashMap<String, Instant> = HashMap::new();
    let mut errors = 0u32;
    let mut slowest = Duration::ZERO;
    let mut delivered: HashSet<String> = HashSet::new();
    let mut killed = None;
    let mut promoted_at = None;
    let mut last_check = Instant::now();
    let mut k = 0;
    // One answer per send, in order (a session handles its events one at a time).
    let mut take = |events: Vec<(String, Value)>,
                    sent: &mut VecDeque<Instant>,
                    echoes: &mut HashMap<String, Instant>,
                    errors: &mut u32| {
        for (name, payload) in events {
            let answer = match name.as_str() {
                "message" => match payload["content"].as_str() {
                    Some(c) if c.starts_with("probe-") => {
                        echoes.insert(c.to_owned(), Instant::now());
                        true
                    }
                    _ => false,
                },
                "error" => {
                    *errors += 1;
                    true
                }
                _ => false,
            };
            if answer && let Some(at) = sent.pop_front() {
                slowest = slowest.max(at.elapsed());
            }
        }
    };
    // Send every 50 ms for 30 s: the master of the probe room's slot dies at 9 s for good.
    while started.elapsed() < Duration::from_secs(30) {
        if killed.is_none() && started.elapsed() > KILL_AT {
            killed = Some((cluster.kill_master_of(&room_key), Instant::now()));
        }
        if killed.is_some()
            && promoted_at.is_none()
            && last_check.elapsed() > Duration::from_millis(200)
        {
            last_check = Instant::now();
            if cluster.live_master_of_slot(slot).is_some() {
                promoted_at = Some(Instant::now());
            }
        }
        k += 1;
        sa.emit(
            "chatMessage",
            &json!({"room": room.id, "type": "text", "content": format!("probe-{k}")}),
        )
        .await;
        sends += 1;
        sent.push_back(Instant::now());
        let events = sa.drain(Duration::from_millis(50)).await;
        take(events, &mut sent, &mut echoes, &mut errors);
        for (name, p) in sb.drain(Duration::from_millis(1)).await {
            if name == "message"
                && let Some(c) = p["content"].as_str()
            {
                delivered.insert(c.to_owned());
            }
        }
    }
    // The last answers.
    let deadline = Instant::now() + STEP_BUDGET;
    while !sent.is_empty() && Instant::now() < deadline {
        let events = sa.drain(Duration::from_millis(200)).await;
        take(events, &mut sent, &mut echoes, &mut errors);
    }
    for (name, p) in sb.drain(Duration::from_millis(500)).await {
        if name == "message"
            && let Some(c) = p["content"].as_str()
        {
            delivered.insert(c.to_owned());
        }
    }
    let (dead, killed_at) = killed.expect("the master was killed");
    let promoted_at = promoted_at.expect("the replica was promoted");
    let promotion = promoted_at - killed_at;

    // Recovered: the first echo after the promotion, and everything after it acknowledged.
    let recovered_at = echoes
        .values()
        .filter(|&&t| t > killed_at)
        .min()
        .copied()
        .expect("no send was acknowledged after the kill");
    let answered = echoes.len() as u32 + errors;
    eprintln!(
        "promotion {promotion:?} after the kill; first echo {:?} after the kill; sends {sends}, \
         echoed {}, errors {errors}, slowest answer {slowest:?}",
        recovered_at - killed_at,
        echoes.len()
    );
    assert_eq!(
        answered,
        sends,
        "every send gets an answer (echo or error): {} echoes, {errors} errors of {sends}",
        echoes.len()
    );
    assert!(
        slowest < STEP_BUDGET,
        "an answer took {slowest:?}, over the step budget"
    );
    assert!(
        recovered_at - promoted_at < Duration::from_secs(5),
        "sends were acknowledged again only {:?} after the promotion",
        recovered_at.saturating_duration_since(promoted_at)
    );
    // Live delivery to the other instance resumed: every probe acknowledged 5 s after the
    // promotion reached Bob.
    let late: Vec<&String> = echoes
        .iter()
        .filter(|&(_, &t)| t > promoted_at + Duration::from_secs(5))
        .map(|(c, _)| c)
        .collect();
    assert!(
        late.len() > 100,
        "too few sends after the recovery: {}",
        late.len()
    );
    let undelivered: Vec<&&String> = late.iter().filter(|c| !delivered.contains(**c)).collect();
    assert!(
        undelivered.is_empty(),
        "{} acknowledged probes never reached the other instance",
        undelivered.len()
    );

    // Degraded, and saying so: the promoted master has no replica.
    let health = servers[0].health().await;
    assert_eq!(health["redis"]["degraded"], true, "{health}");
    assert_eq!(health["redis"]["durability"], "available", "{health}");
    assert!(
        health["redis"]["shortfalls"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["connected"] == 0 && s["wanted"] == 1)),
        "{health}"
    );
    let metrics = servers[0].metrics().await;
    assert!(metrics.contains("chat_redis_degraded 1"), "{metrics}");
    assert!(
        metrics.contains("chat_redis_shard_replicas_missing{slot="),
        "{metrics}"
    );

    // Strict refuses at once, naming the shortfall, and stores nothing.
    sc.drain(Duration::from_millis(10)).await;
    let asked = Instant::now();
    sc.emit(
        "chatMessage",
        &json!({"room": room.id, "type": "text", "content": "strict-probe"}),
    )
    .await;
    let refusal = sc.expect("error").await;
    assert!(
        asked.elapsed() < Duration::from_millis(500),
        "strict took {:?} to refuse",
        asked.elapsed()
    );
    assert!(
        refusal["message"]
            .as_str()
            .is_some_and(|m| m.contains("0 of the 1 replica")),
        "{refusal}"
    );

    // Joins too: a join is a room write (the participant, then `roomUpdate` or the join notice).
    // Strict refuses it fast over REST and on the socket and stores nothing; an available instance
    // lets the next user in.
    let dave = servers[2].user("Dave").await;
    let asked = Instant::now();
    let response = servers[2].join_room(&dave, &room.id, None).await;
    let took = asked.elapsed();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    eprintln!("strict REST join refused in {took:?}: {status} {body}");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "STORE_UNDERREPLICATED", "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("0 of the 1 replica")),
        "{body}"
    );
    assert!(
        took < Duration::from_secs(1),
        "strict took {took:?} to refuse a REST join"
    );
    // The socket's joinRoom the same way: `joinRoomError` before the participant is stored.
    let frank = servers[2].user("Frank").await;
    let mut sf = servers[2].socket(&frank).await;
    let asked = Instant::now();
    sf.emit("joinRoom", &room.id).await;
    let refusal = sf.expect("joinRoomError").await;
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "strict took {took:?} to refuse a socket join"
    );
    assert!(
        refusal["message"]
            .as_str()
            .is_some_and(|m| m.contains("0 of the 1 replica")),
        "{refusal}"
    );
    let erin = servers[0].user("Erin").await;
    let joined = servers[0].join_room(&erin, &room.id, None).await;
    assert_eq!(joined.status(), 200, "an available instance refused a join");
    let participants = servers[1]
        .server
        .state()
        .store
        .room(&room.id)
        .await
        .unwrap()
        .expect("the room exists")
        .participants;
    for refused in [&dave, &frank] {
        assert!(
            !participants.contains(&refused.id),
            "a refused join was stored: {participants:?}"
        );
    }
    assert!(participants.contains(&erin.id), "{participants:?}");

    // Nothing acknowledged lost, nothing stored twice, the refused message not stored.
    let history = servers[1]
        .server
        .state()
        .store
        .messages_before(&room.id, None, 100_000)
        .await
        .unwrap();
    let mut stored: HashMap<String, u32> = HashMap::new();
    for m in history.messages {
        *stored.entry(m.content).or_default() += 1;
    }
    let missing: Vec<&String> = echoes.keys().filter(|c| !stored.contains_key(*c)).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    let twice: Vec<(&String, &u32)> = stored.iter().filter(|&(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "stored twice: {twice:?}");
    assert!(!stored.contains_key("strict-probe"));

    // The run, level by level: failures in the levels the outage overlapped, none in the levels that
    // ended before the kill, none in those that started once the recovery's last deliveries were
    // due (the delivery deadline after the first echo, and a second for the runs' clocks).
    let w = run.await.unwrap();
    let levels = &w.summary.levels;
    let at = |t: Instant| (t - started).as_secs_f64();
    let (kill_t, recovered_t) = (at(killed_at), at(recovered_at));
    let quiet_from = recovered_t + DELIVERY.as_secs_f64() + 1.0;
    let failed = |l: &&LevelRow| l.failures.values().sum::<u64>();
    for l in levels {
        eprintln!(
            "level {} ({} users) {:.1}..{:.1} s: {:?}",
            l.index, l.target_users, l.start_secs, l.end_secs, l.failures
        );
    }
    eprintln!(
        "kill at {kill_t:.1} s, first echo at {recovered_t:.1} s, quiet from {quiet_from:.1} s"
    );
    let before: Vec<_> = levels.iter().filter(|l| l.end_secs <= kill_t).collect();
    let during: Vec<_> = levels
        .iter()
        .filter(|l| l.end_secs > kill_t && l.start_secs < recovered_t)
        .collect();
    let after: Vec<_> = levels
        .iter()
        .filter(|l| l.start_secs >= quiet_from)
        .collect();
    assert!(
        before.len() >= 2 && after.len() >= 2,
        "the levels do not frame the outage: {} before it, {} after it",
        before.len(),
        after.len()
    );
    assert!(
        during.iter().map(failed).sum::<u64>() > 0,
        "a dead master went unnoticed by the levels it happened in"
    );
    for l in before.iter().chain(&after) {
        assert_eq!(
            failed(l),
            0,
            "level {} ({:.1}..{:.1} s) has failures outside the outage: {:?}",
            l.index,
            l.start_secs,
            l.end_secs,
            l.failures
        );
    }

    // Much later the machine is replaced: the node comes back as the new master's replica, and the
    // degraded mark clears by itself although nothing is written to that shard any more.
    cluster.nodes[dead].restart();
    let back = Instant::now();
    let cleared = loop {
        let health = servers[0].health().await;
        if health["redis"]["degraded"] == false {
            break Some(back.elapsed());
        }
        if back.elapsed() > Duration::from_secs(20) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    eprintln!("degraded mark cleared {cleared:?} after the node came back");
    assert!(
        cleared.is_some(),
        "still degraded 20 s after the replica came back"
    );
    for server in servers {
        let _ = server.server.shutdown().await;
    }
}
