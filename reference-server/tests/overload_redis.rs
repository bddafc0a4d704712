//! Overload coordination through a real Redis: hot marks with a TTL that every instance sees, config
//! revisions from one counter, and a change made on one instance taking effect on another; on a
//! Redis Cluster too, after the master holding the coordination slot died for good.
//!
//! Each test starts its own `redis-server` (or six, for the cluster) on free loopback ports and kills
//! exactly those processes when it ends (`scripts/test` installs Redis on a fresh machine).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::redis::RedisCluster;
use common::{TestServer, WAIT, eventually, start_with};
use reference_server::overload::{Coordination, Notice, OverloadConfig, RedisCoordination};
use reference_server::store::redis::{RedisTarget, Timeouts};
use reference_server::{ServerConfig, StoreConfig};
use serde_json::Value;

/// A `redis-server` child process, killed on drop.
struct Redis {
    child: Child,
    url: String,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn redis() -> Redis {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server must be installed (scripts/test installs it)");
    let redis = Redis {
        child,
        url: format!("redis://127.0.0.1:{port}/"),
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "redis-server did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    redis
}

/// Coordination on the standalone server at `url`, under the prefix `chat`.
async fn coordination(url: &str) -> RedisCoordination {
    let timeouts = Timeouts {
        connect: Duration::from_secs(1),
        response: Duration::from_secs(1),
    };
    RedisCoordination::connect(&RedisTarget::Standalone(url.to_owned()), "chat", timeouts)
        .await
        .unwrap()
}

#[tokio::test]
async fn hot_marks_expire_with_their_ttl_and_every_instance_hears_them() {
    let redis = redis().await;
    let a = coordination(&redis.url).await;
    let b = coordination(&redis.url).await;
    let mut heard = b.subscribe();
    a.mark_hot("room-1", Duration::from_millis(300))
        .await
        .unwrap();
    assert!(b.is_hot("room-1").await.unwrap());
    assert!(!b.is_hot("room-2").await.unwrap());
    let notice = tokio::time::timeout(WAIT, heard.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        notice,
        Notice::Hot {
            room: "room-1".into(),
            ttl_ms: 300
        }
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!a.is_hot("room-1").await.unwrap(), "the TTL ended the mark");
}

#[tokio::test]
async fn config_revisions_are_global_and_the_latest_is_kept() {
    let redis = redis().await;
    let a = coordination(&redis.url).await;
    let b = coordination(&redis.url).await;
    assert_eq!(b.latest_config().await.unwrap(), None);
    let mut heard = b.subscribe();
    assert_eq!(a.publish_config("enabled = false\n").await.unwrap(), 1);
    assert_eq!(b.publish_config("enabled = true\n").await.unwrap(), 2);
    assert_eq!(
        a.latest_config().await.unwrap(),
        Some((2, "enabled = true\n".to_owned()))
    );
    let first = tokio::time::timeout(WAIT, heard.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first,
        Notice::Config {
            revision: 1,
            toml: "enabled = false\n".into()
        }
    );
}

#[tokio::test]
async fn a_change_on_one_instance_takes_effect_on_the_other_and_hot_rooms_are_shared() {
    let redis = redis().await;
    let url = redis.url.clone();
    let config = |c: &mut reference_server::ServerConfig| {
        c.overload.redis = Some(RedisTarget::Standalone(url.clone()));
        c.overload.admin_token = Some("admin".into());
        c.overload.config =
            OverloadConfig::parse("[hot]\nbucket_size = 2\nrefill_per_sec = 0.01").unwrap();
    };
    let a = start_with(config).await;
    let b = start_with(config).await;

    let (status, body) = patch(&a, "hot.push_probability = 0.42").await;
    assert_eq!(status, 200);
    assert_eq!(body["revision"], 1);
    assert_eq!(body["coordination"], "redis");
    let b_overload = &b.server.state().overload;
    assert!(
        eventually(WAIT, || b_overload.live().revision == 1).await,
        "revision 1 never reached instance b"
    );
    assert_eq!(b_overload.live().config.hot.push_probability, 0.42);
    // Both instances kept the bucket settings they were given with the change.
    assert_eq!(b_overload.live().config.hot.bucket_size, 2);

    // A room that runs dry on a is hot on b too.
    let a_overload = &a.server.state().overload;
    for _ in 0..3 {
        a_overload.room_activity("shared-room");
    }
    assert!(a_overload.is_hot("shared-room"));
    assert!(
        eventually(WAIT, || b_overload.is_hot("shared-room")).await,
        "b never heard of the hot room"
    );
    assert!(
        b_overload
            .coordination()
            .is_hot("shared-room")
            .await
            .unwrap()
    );

    // An instance that starts later picks up the newest revision.
    let c = start_with(config).await;
    assert_eq!(c.server.state().overload.live().revision, 1);
    assert_eq!(
        c.server.state().overload.live().config.hot.push_probability,
        0.42
    );
}

/// `PATCH /admin/overload` with `body` on `server`: the status and the answer.
async fn patch(server: &TestServer, body: &'static str) -> (u16, Value) {
    let response = server
        .http
        .patch(server.url("/admin/overload"))
        .bearer_auth("admin")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// `GET /admin/overload` on `server`.
async fn admin_get(server: &TestServer) -> Value {
    server
        .http
        .get(server.url("/admin/overload"))
        .bearer_auth("admin")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls `server`'s admin GET every 50 ms until `check` holds or `limit` passes; how long it took.
async fn admin_until(
    server: &TestServer,
    limit: Duration,
    check: impl Fn(&Value) -> bool,
) -> Option<Duration> {
    let asked = Instant::now();
    while asked.elapsed() < limit {
        if check(&admin_get(server).await) {
            return Some(asked.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// The Redis Cluster master holding the coordination slot (the config keys and the notices
/// channel) is SIGKILLed and never comes back. Once its replica is promoted, a change made on one
/// instance reaches the other within seconds and a hot mark set on one is heard by the other,
/// without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordination_on_a_cluster_recovers_when_its_master_is_lost_for_good() {
    let mut cluster = RedisCluster::start();
    let target = RedisTarget::parse(&cluster.url()).unwrap();
    let prefix = format!("t{:08x}", rand::random::<u32>());
    let config = |c: &mut ServerConfig| {
        c.store = StoreConfig::Redis(target.clone());
        c.redis.prefix = prefix.clone();
        c.overload.redis = Some(target.clone());
        c.overload.admin_token = Some("admin".into());
        c.overload.config =
            OverloadConfig::parse("[hot]\nbucket_size = 2\nrefill_per_sec = 0.01").unwrap();
    };
    let a = start_with(config).await;
    let b = start_with(config).await;

    // Working before the kill.
    let (status, body) = patch(&a, "hot.push_probability = 0.42").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["revision"], 1);
    assert_eq!(body["coordination"], "redis");
    assert!(
        admin_until(&b, WAIT, |v| v["revision"] == 1)
            .await
            .is_some(),
        "revision 1 never reached instance b"
    );

    // The master of the coordination slot dies for good; wait for its replica's promotion.
    let key = format!("{{{prefix}:overload}}:revision");
    let slot = cluster.slot_of(&key);
    let dead = cluster.kill_master_of(&key);
    let killed = Instant::now();
    let promoted = tokio::task::block_in_place(|| {
        while cluster.live_master_of_slot(slot).is_none() {
            assert!(
                killed.elapsed() < Duration::from_secs(20),
                "slot {slot} got no master"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        cluster.wait_state_ok(Duration::from_secs(20));
        killed.elapsed()
    });
    assert!(!cluster.nodes[dead].alive());

    // A change on a: accepted (the first tries may still meet the old slot map), and applied by b.
    let asked = Instant::now();
    let accepted = loop {
        let (status, body) = patch(&a, "hot.push_probability = 0.17").await;
        if status == 200 {
            break body;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "a still refuses changes {:?} after the promotion: {status} {body}",
            asked.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let patched = asked.elapsed();
    assert_eq!(accepted["revision"], 2, "{accepted}");
    let applied = admin_until(&b, WAIT, |v| {
        v["revision"] == 2 && v["config"]["hot"]["push_probability"] == 0.17
    })
    .await;

    // A room that runs dry on a is hot on b, and the other way round.
    let (a_overload, b_overload) = (&a.server.state().overload, &b.server.state().overload);
    for _ in 0..3 {
        a_overload.room_activity("after-the-failover");
        b_overload.room_activity("the-other-way");
    }
    let marked = Instant::now();
    let heard_b = eventually(WAIT, || b_overload.is_hot("after-the-failover")).await;
    let heard_a = eventually(WAIT, || a_overload.is_hot("the-other-way")).await;
    eprintln!(
        "promotion {promoted:?} after the kill; change accepted {patched:?} after it, applied on \
         the other instance {applied:?} later; hot marks heard after {:?}",
        marked.elapsed()
    );
    let seen = admin_get(&b).await;
    assert!(
        applied.is_some(),
        "instance b never applied revision 2: it runs revision {} from {}",
        seen["revision"],
        seen["source"]
    );
    assert!(heard_b, "b never heard of a's hot room after the failover");
    assert!(heard_a, "a never heard of b's hot room after the failover");
    for server in [a, b] {
        let _ = server.server.shutdown().await;
    }
}
