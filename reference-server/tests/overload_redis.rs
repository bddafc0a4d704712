//! Overload coordination through a real Redis: hot marks with a TTL that every instance sees, config
//! revisions from one counter, and a change made on one instance taking effect on another.
//!
//! Each test starts its own `redis-server` on a free loopback port and kills exactly that process
//! when it ends (`scripts/test` installs Redis on a fresh machine).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{WAIT, eventually, start_with};
use reference_server::overload::{Coordination, Notice, OverloadConfig, RedisCoordination};
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

#[tokio::test]
async fn hot_marks_expire_with_their_ttl_and_every_instance_hears_them() {
    let redis = redis().await;
    let a = RedisCoordination::connect(&redis.url, "chat")
        .await
        .unwrap();
    let b = RedisCoordination::connect(&redis.url, "chat")
        .await
        .unwrap();
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
    let a = RedisCoordination::connect(&redis.url, "chat")
        .await
        .unwrap();
    let b = RedisCoordination::connect(&redis.url, "chat")
        .await
        .unwrap();
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
        c.overload.redis_url = Some(url.clone());
        c.overload.admin_token = Some("admin".into());
        c.overload.config =
            OverloadConfig::parse("[hot]\nbucket_size = 2\nrefill_per_sec = 0.01").unwrap();
    };
    let a = start_with(config).await;
    let b = start_with(config).await;

    let response = a
        .http
        .patch(a.url("/admin/overload"))
        .bearer_auth("admin")
        .body("hot.push_probability = 0.42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
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
