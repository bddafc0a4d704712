#![allow(dead_code)]
//! Shared by the multi-instance and failover tests: reference-server instances on one Redis Cluster
//! and a `stampede` run with one team spread over them.

#[path = "../../reference-server/tests/common/mod.rs"]
#[allow(unused_imports)]
pub mod rs;

use std::sync::Arc;

use self::rs::redis::RedisCluster;
use reference_server::StoreConfig;
use reference_server::store::redis::RedisTarget;
use stampede::engine::{EngineOptions, Target};
use stampede::metrics::Snapshot;
use stampede::runner::{self, Destination, Written};
use stampede::scenario::{LowerOptions, Scenario};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// 6 users, +6 every 2 s (1 s scaled), up to 18, holding; rooms of 3 consecutive users, so a room's
/// members sit on three different instances; everyone chats every 400 ms (200 ms scaled).
pub const SPREAD: &str = r#"
name = "multi-instance"
seed = 5
[[phase]]
kind = "ramp"
start_users = 6
step_users = 6
step_every = "2s"
max_users = 18
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
         { fetch_history = { pages = 1 } },
         { send_messages = { interval = "400ms" } }]
"#;

/// `n` instances on the cluster under one fresh prefix, sharing the token secret.
pub async fn instances(cluster: &RedisCluster, n: usize) -> (Vec<rs::TestServer>, String) {
    let prefix = format!("t{:08x}", rand::random::<u32>());
    let mut servers = Vec::new();
    for _ in 0..n {
        let target = RedisTarget::parse(&cluster.url()).unwrap();
        let prefix = prefix.clone();
        servers.push(
            rs::start_with(move |c| {
                c.store = StoreConfig::Redis(target);
                c.redis.prefix = prefix;
            })
            .await,
        );
    }
    (servers, prefix)
}

/// Runs `scenario` (time scale 0.5) with one team spread over `urls`.
pub async fn run_spread(scenario: &str, urls: &[String], out: &std::path::Path) -> Written {
    let plan = Scenario::from_toml(scenario, "spread.toml")
        .unwrap()
        .lower(&LowerOptions {
            time_scale: 0.5,
            ..LowerOptions::default()
        });
    let dest = Destination {
        target: Target {
            name: "reference x3".into(),
            url: urls.join(","),
        },
        team: None,
        dir: out.to_path_buf(),
    };
    let (tx, _rx) = watch::channel(Snapshot::default());
    runner::execute(
        Arc::new(plan),
        &[dest],
        EngineOptions::default(),
        CancellationToken::new(),
        tx,
    )
    .await
    .expect("run completes")
    .remove(0)
}
