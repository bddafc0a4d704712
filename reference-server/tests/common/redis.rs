//! Real `redis-server` processes for tests: a standalone server, or a 6-node cluster (3 masters + 3
//! replicas), each on free loopback ports with its own temporary directory.
//!
//! Every node runs under a tiny shell wrapper that reads its stdin: the test process holds the write
//! end, so when it exits for any reason (a panic, a `static` never dropped, a kill) the pipe closes and
//! the wrapper stops its node. `Drop` stops the nodes explicitly as well. Only the PIDs started here
//! are ever signalled.

#![allow(dead_code)] // Each test binary uses a different part of the harness.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// One `redis-server` process.
pub struct RedisNode {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The redis-server's own PID (not the wrapper's).
    pub pid: u32,
    wrapper: Child,
    stdin: Option<ChildStdin>,
    dir: tempfile::TempDir,
    cluster: bool,
}

/// Two free loopback ports `p` such that `p + 10000` (the cluster bus) is free as well.
fn free_port(cluster: bool) -> u16 {
    for _ in 0..200 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        if !cluster {
            return port;
        }
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair for a redis cluster node");
}

impl RedisNode {
    /// Starts a node on a free port and waits until it answers PING.
    pub fn start(cluster: bool) -> RedisNode {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port(cluster);
        Self::start_at(port, cluster, dir)
    }

    /// A standalone node that keeps its data across [`restart`](Self::restart) (AOF, fsync always).
    pub fn persistent() -> RedisNode {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".aof"), "").unwrap();
        Self::start_at(free_port(false), false, dir)
    }

    fn start_at(port: u16, cluster: bool, dir: tempfile::TempDir) -> RedisNode {
        let mut args: Vec<String> = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--protected-mode",
            "no",
            "--dir",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(dir.path().display().to_string());
        if dir.path().join(".aof").exists() {
            for a in ["--appendonly", "yes", "--appendfsync", "always"] {
                args.push(a.into());
            }
        }
        if cluster {
            for a in [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                // Failover within ~1-2 s of a master's death, so the failover test stays short.
                "--cluster-node-timeout",
                "1000",
            ] {
                args.push(a.into());
            }
        }
        // The wrapper prints redis-server's PID, then waits for its stdin to close.
        let mut wrapper = Command::new("bash")
            .arg("-c")
            .arg(r#"redis-server "$@" >"$DIR/redis.log" 2>&1 & r=$!; echo "$r"; read -r _; kill "$r" 2>/dev/null; wait "$r"; [ -e "$DIR/.keep" ] || rm -rf "$DIR""#)
            .arg("redis-wrapper")
            .args(&args)
            // The wrapper removes the directory itself: a node held in a `static` is never dropped.
            .env("DIR", dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("bash must be installed");
        let mut line = String::new();
        BufReader::new(wrapper.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let pid: u32 = line.trim().parse().expect("wrapper prints the redis pid");
        let stdin = wrapper.stdin.take();
        let node = RedisNode {
            port,
            pid,
            wrapper,
            stdin,
            dir,
            cluster,
        };
        node.wait_ready();
        node
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.cli(&["PING"]).is_some_and(|r| r.trim() == "PONG") {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
        panic!(
            "redis-server on port {} did not start (is redis-server installed? scripts/test \
             installs it):\n{log}",
            self.port
        );
    }

    /// Runs `redis-cli -p <port> args…`; `None` when it fails.
    pub fn cli(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// True until [`kill`](Self::kill).
    pub fn alive(&self) -> bool {
        Command::new("kill")
            .args(["-0", &self.pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server at once (SIGKILL), as a crash would. Its wrapper (and directory) stay until
    /// [`restart`](Self::restart) or drop.
    pub fn kill(&mut self) {
        let _ = Command::new("kill")
            .args(["-9", &self.pid.to_string()])
            .status();
    }

    /// Starts a killed node again on the same port and directory: a standalone node with the data it
    /// had persisted, a cluster node with its `nodes.conf` (it rejoins, as a replica if it lost its
    /// slots meanwhile).
    pub fn restart(&mut self) {
        self.kill();
        // The old wrapper must not remove the directory the new node reads.
        std::fs::write(self.dir.path().join(".keep"), "").unwrap();
        self.stdin.take();
        let _ = self.wrapper.wait();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        let fresh = Self::start_at(self.port, self.cluster, dir);
        let _ = std::fs::remove_file(fresh.dir.path().join(".keep"));
        *self = fresh;
    }
}

impl Drop for RedisNode {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"\n");
        }
        let _ = self.wrapper.wait();
    }
}

/// A standalone server.
pub fn standalone() -> RedisNode {
    RedisNode::start(false)
}

/// A 6-node cluster: 3 masters, each with one replica.
pub struct RedisCluster {
    /// Every node, masters first as `redis-cli --cluster create` assigned them.
    pub nodes: Vec<RedisNode>,
}

impl RedisCluster {
    /// Starts six nodes, joins them into a cluster and waits until every node reports it healthy.
    pub fn start() -> RedisCluster {
        let nodes: Vec<RedisNode> = (0..6).map(|_| RedisNode::start(true)).collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("redis-cli must be installed");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let cluster = RedisCluster { nodes };
        cluster.wait_healthy(Duration::from_secs(20));
        cluster
    }

    /// Waits until every live node says `cluster_state:ok` and agrees on 3 masters with a replica each.
    pub fn wait_healthy(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let ok = self.nodes.iter().filter(|n| n.alive()).all(|n| {
                n.cli(&["CLUSTER", "INFO"])
                    .is_some_and(|info| info.contains("cluster_state:ok"))
            });
            if ok && self.replicas_in_sync() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("redis cluster did not become healthy in {limit:?}");
    }

    /// Waits until every live node says `cluster_state:ok`, whether or not every master has a
    /// replica (after a node died for good, its promoted replica has none).
    pub fn wait_state_ok(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let ok = self.nodes.iter().filter(|n| n.alive()).all(|n| {
                n.cli(&["CLUSTER", "INFO"])
                    .is_some_and(|info| info.contains("cluster_state:ok"))
            });
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis cluster did not reach cluster_state:ok in {limit:?}");
    }

    fn replicas_in_sync(&self) -> bool {
        self.nodes.iter().filter(|n| n.alive()).all(|n| {
            n.cli(&["INFO", "replication"]).is_some_and(|info| {
                info.contains("role:master") && info.contains("connected_slaves:1")
                    || info.contains("master_link_status:up")
            })
        })
    }

    /// `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,…` over every node.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", hosts.join(","))
    }

    /// The hash slot of `key`.
    pub fn slot_of(&self, key: &str) -> u16 {
        self.nodes[0]
            .cli(&["CLUSTER", "KEYSLOT", key])
            .and_then(|s| s.trim().parse().ok())
            .expect("CLUSTER KEYSLOT")
    }

    /// Kills the master serving `key` and returns its index.
    pub fn kill_master_of(&mut self, key: &str) -> usize {
        let slot = self.slot_of(key);
        let i = self.master_of_slot(slot);
        self.nodes[i].kill();
        i
    }

    /// The index of the node currently serving `slot` as master.
    pub fn master_of_slot(&self, slot: u16) -> usize {
        self.live_master_of_slot(slot)
            .unwrap_or_else(|| panic!("no live master serves slot {slot}"))
    }

    /// The index of the live node that says it serves `slot` as master, if any (none between a
    /// master's death and its replica's promotion).
    pub fn live_master_of_slot(&self, slot: u16) -> Option<usize> {
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.alive() {
                continue;
            }
            let Some(info) = n.cli(&["ROLE"]) else {
                continue;
            };
            if !info.starts_with("master") {
                continue;
            }
            if let Some(slots) = n.cli(&["CLUSTER", "SHARDS"])
                && owns(&slots, n.port, slot)
            {
                return Some(i);
            }
        }
        None
    }
}

/// Whether the node on `port` is the master of `slot`, from `CLUSTER NODES` output.
fn owns(_shards: &str, port: u16, slot: u16) -> bool {
    let out = Command::new("redis-cli")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "CLUSTER",
            "NODES",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| l.contains("myself") && l.contains("master"))
        .any(|l| {
            l.split_whitespace().skip(8).any(|range| {
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                match (a.parse::<u16>(), b.parse::<u16>()) {
                    (Ok(a), Ok(b)) => (a..=b).contains(&slot),
                    _ => false,
                }
            })
        })
}
