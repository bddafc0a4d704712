//! Where Redis is and how to talk to it: [`RedisTarget`] (parsed from `--store`), and [`RedisConn`],
//! one cloneable handle over either a standalone server (a `ConnectionManager`, which reconnects by
//! itself) or a Cluster (a `ClusterConnection`, which follows slot moves and failovers by itself).
//!
//! Both speak RESP3 so pub/sub pushes arrive on the same multiplexed connection as replies and are
//! handed to a push sender; both resubscribe by themselves after a reconnect. Commands time out after
//! a short response timeout: while Redis is gone, requests fail fast instead of piling up.

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, IntoConnectionInfo, Pipeline, ProtocolVersion, PushInfo, RedisFuture, Value};
use tokio::sync::mpsc::UnboundedSender;

/// Where the Redis backend is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// One server: `redis://host:port[/db]` (or `rediss://` for TLS).
    Standalone(String),
    /// A Redis Cluster, given by one or more seed nodes as `redis://host:port`.
    Cluster(Vec<String>),
}

impl RedisTarget {
    /// Parses `redis://…`, `rediss://…` or `redis+cluster://host:port,host:port`.
    pub fn parse(text: &str) -> Result<RedisTarget, String> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("redis+cluster://") {
            let nodes: Vec<String> = rest
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(|n| {
                    let n = n.trim_end_matches('/');
                    if n.contains('/') || !n.contains(':') {
                        return Err(format!(
                            "cluster node {n:?} must be host:port, as in \
                             redis+cluster://10.0.0.1:7000,10.0.0.2:7000"
                        ));
                    }
                    Ok(format!("redis://{n}"))
                })
                .collect::<Result<_, _>>()?;
            if nodes.is_empty() {
                return Err("redis+cluster:// needs at least one host:port".into());
            }
            return Ok(RedisTarget::Cluster(nodes));
        }
        if text.starts_with("redis://") || text.starts_with("rediss://") {
            text.into_connection_info()
                .map_err(|e| format!("{text:?} is not a valid Redis URL: {e}"))?;
            return Ok(RedisTarget::Standalone(text.to_owned()));
        }
        Err(format!(
            "{text:?} is not a store: use memory, redis://host:port or \
             redis+cluster://host:port,host:port"
        ))
    }

    /// True for a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, RedisTarget::Cluster(_))
    }
}

impl fmt::Display for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisTarget::Standalone(url) => f.write_str(url),
            RedisTarget::Cluster(nodes) => {
                let hosts: Vec<&str> = nodes
                    .iter()
                    .map(|n| n.trim_start_matches("redis://"))
                    .collect();
                write!(f, "redis+cluster://{}", hosts.join(","))
            }
        }
    }
}

/// A cloneable, multiplexed, self-healing connection to standalone Redis or a Cluster.
#[derive(Clone)]
pub enum RedisConn {
    /// Standalone server.
    Single(ConnectionManager),
    /// Cluster.
    Cluster(ClusterConnection),
}

/// Timeouts of a [`RedisConn`].
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Connecting to one node.
    pub connect: Duration,
    /// Waiting for one reply (a cluster request, retries included, gets twice this).
    pub response: Duration,
}

impl RedisConn {
    /// Connects (and checks the connection with a first round trip). Pushes (pub/sub messages,
    /// subscription confirmations, disconnection notices) go to `pushes`.
    pub async fn connect(
        target: &RedisTarget,
        timeouts: Timeouts,
        pushes: UnboundedSender<PushInfo>,
    ) -> redis::RedisResult<RedisConn> {
        let conn = match target {
            RedisTarget::Standalone(url) => {
                let info = url.as_str().into_connection_info()?;
                let settings = info
                    .redis_settings()
                    .clone()
                    .set_protocol(ProtocolVersion::RESP3);
                let client = redis::Client::open(info.set_redis_settings(settings))?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeouts.connect))
                    .set_response_timeout(Some(timeouts.response))
                    // Reconnect attempts while Redis is away: quick at first, then every second.
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_secs(1))
                    .set_number_of_retries(2)
                    .set_push_sender(pushes)
                    .set_automatic_resubscription();
                RedisConn::Single(client.get_connection_manager_with_config(config).await?)
            }
            RedisTarget::Cluster(nodes) => {
                let client = ClusterClientBuilder::new(nodes.clone())
                    .use_protocol(ProtocolVersion::RESP3)
                    .connection_timeout(timeouts.connect)
                    .response_timeout(timeouts.response)
                    // A request may wait out a failover's redirections, but not forever.
                    .overall_response_timeout(Some(timeouts.response * 2))
                    .retries(3)
                    .push_sender(pushes)
                    .build()?;
                RedisConn::Cluster(client.get_async_connection().await?)
            }
        };
        let mut check = conn.clone();
        redis::cmd("PING").exec_async(&mut check).await?;
        Ok(conn)
    }

    /// True for a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, RedisConn::Cluster(_))
    }

    /// Sends `cmd` to the master serving `key`'s slot (a keyless command such as `WAIT` that must
    /// reach the node the caller just wrote to). Standalone: the one server.
    pub async fn to_master_of(&self, key: &str, cmd: Cmd) -> redis::RedisResult<Value> {
        match self {
            RedisConn::Single(c) => cmd.query_async(&mut c.clone()).await,
            RedisConn::Cluster(c) => {
                let route = Route::with_key(key, SlotAddr::Master);
                c.clone()
                    .route_command(
                        cmd,
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                    )
                    .await
            }
        }
    }

    /// Subscribes to a room channel: sharded on a cluster (the channel lives on the room's shard),
    /// plain on a standalone server.
    pub async fn subscribe(&self, channel: &str) -> redis::RedisResult<()> {
        match self {
            RedisConn::Single(c) => c.clone().subscribe(channel).await,
            RedisConn::Cluster(c) => c.clone().ssubscribe(channel).await,
        }
    }

    /// Undoes [`subscribe`](Self::subscribe).
    pub async fn unsubscribe(&self, channel: &str) -> redis::RedisResult<()> {
        match self {
            RedisConn::Single(c) => c.clone().unsubscribe(channel).await,
            RedisConn::Cluster(c) => c.clone().sunsubscribe(channel).await,
        }
    }

    /// The publish command matching [`subscribe`](Self::subscribe).
    pub fn publish_command(&self) -> &'static str {
        match self {
            RedisConn::Single(_) => "PUBLISH",
            RedisConn::Cluster(_) => "SPUBLISH",
        }
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConn::Single(c) => c.req_packed_command(cmd),
            RedisConn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            RedisConn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConn::Single(c) => c.get_db(),
            RedisConn::Cluster(c) => c.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_clear_errors() {
        assert_eq!(
            RedisTarget::parse("redis://127.0.0.1:6379").unwrap(),
            RedisTarget::Standalone("redis://127.0.0.1:6379".into())
        );
        let cluster = RedisTarget::parse("redis+cluster://10.0.0.1:7000, 10.0.0.2:7001").unwrap();
        assert_eq!(
            cluster,
            RedisTarget::Cluster(vec![
                "redis://10.0.0.1:7000".into(),
                "redis://10.0.0.2:7001".into()
            ])
        );
        assert_eq!(
            cluster.to_string(),
            "redis+cluster://10.0.0.1:7000,10.0.0.2:7001"
        );
        let err = RedisTarget::parse("redis+cluster://").unwrap_err();
        assert!(err.contains("at least one host:port"), "{err}");
        let err = RedisTarget::parse("redis+cluster://h").unwrap_err();
        assert!(err.contains("host:port"), "{err}");
        let err = RedisTarget::parse("mongodb://x").unwrap_err();
        assert!(err.contains("redis+cluster://"), "{err}");
    }
}
