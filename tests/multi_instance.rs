//! A real `stampede` run against three reference-server instances on one Redis Cluster: one team's
//! users are spread over the instances (VU `i` on instance `i mod 3`, REST and socket), so every
//! room has members on several instances, and every delivery the engine verifies crosses between
//! them.

mod spread;

use reference_server::overload::RequestKind;
use spread::rs::redis::RedisCluster;
use spread::{SPREAD, instances, run_spread};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_team_spread_over_three_instances_gets_every_delivery() {
    let cluster = RedisCluster::start();
    let (servers, _) = instances(&cluster, 3).await;
    let urls: Vec<String> = servers.iter().map(|s| s.server.url()).collect();
    let out = tempfile::tempdir().unwrap();
    let w = run_spread(SPREAD, &urls, out.path()).await;
    let s = &w.summary;
    let failures: Vec<_> = s
        .failures
        .iter()
        .map(|f| (f.kind, f.op, f.count, &f.samples))
        .collect();
    assert_eq!(s.users.failed, 0, "{failures:#?}");
    // Users really were on every instance: each one served sign-ups and chat messages.
    for server in &servers {
        let load = &server.server.state().overload;
        assert!(
            load.started(RequestKind::Auth) > 0,
            "an instance without users"
        );
        assert!(
            load.started(RequestKind::MessageSend) > 0,
            "an instance without chat"
        );
    }
    assert!(s.messages.delivered > 200, "{:?}", s.messages);
    assert_eq!(s.messages.delivered, s.messages.deliveries_expected);
    assert_eq!(
        (
            s.messages.missing,
            s.messages.duplicate,
            s.messages.reordered
        ),
        (0, 0, 0)
    );
    for server in servers {
        let _ = server.server.shutdown().await;
    }
}
