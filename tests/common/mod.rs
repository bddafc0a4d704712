//! Helpers shared by integration tests: plans built in code and external servers started on loopback.

#![allow(dead_code)]

// Reference servers started in-process; the tests that use them need the `demo` feature.
#[cfg(feature = "demo")]
pub mod capacity;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use stampede::engine::plan::{
    Arrival, Conduct, Flow, LevelSpan, LoadPlan, MessageSpec, RoomAssignment, RoomPolicy, Step,
    Verify,
};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A chat server on the real npm `socket.io` package (tests/node-server), stopped on drop.
pub struct NodeServer {
    child: Child,
    // Held open: the server exits when its stdin closes, so it never outlives the test process.
    _stdin: ChildStdin,
    /// Base URL.
    pub url: String,
}

impl NodeServer {
    /// Starts it on a free loopback port with extra flags (fault injection).
    pub fn start(flags: &[&str]) -> NodeServer {
        let dir = repo().join("tests/node-server");
        assert!(
            dir.join("node_modules/socket.io").exists(),
            "tests/node-server/node_modules is missing: run scripts/test (it runs `npm ci` there) \
             or `npm ci --prefix tests/node-server`"
        );
        let mut child = Command::new("node")
            .arg("server.mjs")
            .args(["--port", "0"])
            .args(flags)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node must be installed (scripts/test installs it)");
        let stdin = child.stdin.take().expect("piped");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("node server prints its port");
        let port: u16 = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from node server: {line:?}"));
        NodeServer {
            child,
            _stdin: stdin,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

/// What the Node server injected so far (`GET /faults`), each a count of (event, member) copies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Faults {
    /// Chat deliveries dropped.
    pub dropped: u64,
    /// Chat deliveries sent twice.
    pub duplicated: u64,
    /// Chat deliveries delayed.
    pub delayed: u64,
    /// `messagesRead` copies dropped.
    pub dropped_reads: u64,
    /// `messageReactionUpdate` copies dropped.
    pub dropped_reactions: u64,
}

impl NodeServer {
    /// What the server injected so far.
    pub async fn faults(&self) -> Faults {
        reqwest::get(format!("{}/faults", self.url))
            .await
            .expect("node server answers")
            .json()
            .await
            .expect("faults are JSON")
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The competition's VU flow, sending `messages` messages every `interval`, then holding.
pub fn full_flow(messages: u32, interval: Duration) -> Vec<Step> {
    vec![
        Step::Register { login: true },
        Step::Health,
        Step::ListRooms { page_size: 10 },
        Step::EnterRoom,
        Step::Connect,
        Step::GetRoom,
        Step::JoinRoom,
        Step::FetchHistory { pages: 1 },
        Step::SendMessages {
            count: Some(messages),
            interval,
            mark_read: false,
            read_every: None,
        },
        Step::React {
            reaction: "👍".into(),
        },
        Step::MarkRead,
        Step::UploadFile {
            bytes: 2048,
            mime: "image/png".into(),
        },
        Step::ProfileImage { bytes: 1024 },
        Step::AiMention {
            ai: "wayneAI".into(),
        },
        Step::Hold,
    ]
}

/// A ramp of `levels` levels adding `step` users every `every`, then holding `hold`, running `steps`.
pub fn ramp_plan(
    step: u32,
    levels: u32,
    every: Duration,
    hold: Duration,
    steps: Vec<Step>,
) -> LoadPlan {
    let mut arrivals = Vec::new();
    let mut spans = Vec::new();
    for l in 0..levels {
        let start = every * l;
        for i in 0..step {
            arrivals.push(Arrival {
                at: start,
                vu: l * step + i,
                flow: 0,
            });
        }
        let end = if l + 1 == levels {
            start + hold
        } else {
            start + every
        };
        spans.push(LevelSpan {
            index: l,
            target_users: (l + 1) * step,
            start,
            end,
            phase: "ramp".into(),
        });
    }
    let duration = spans.last().map(|s| s.end).unwrap_or_default();
    LoadPlan {
        scenario: "test".into(),
        seed: 7,
        time_scale: 1.0,
        arrivals,
        levels: spans,
        duration,
        flows: vec![Flow {
            name: "chat".into(),
            weight: 1,
            steps,
        }],
        conduct: Conduct {
            rooms: RoomPolicy {
                assignment: RoomAssignment::Groups { size: 5 },
                hot_room_share: 0.0,
                password: None,
            },
            messages: MessageSpec {
                text: "hello".into(),
                size: 0,
            },
            step_timeout: Duration::from_secs(10),
            verify: Verify {
                delivery_deadline: Duration::from_secs(2),
                receipt_deadline: Duration::from_secs(4),
                late_after: Duration::from_secs(1),
                fails_vu: false,
            },
            thresholds: vec![],
        },
        segment: None,
    }
}
