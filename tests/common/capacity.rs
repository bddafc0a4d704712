//! Reference servers whose capacity differs by configuration, and a ramp that finds it: the
//! matches and brackets of the integration tests are decided by these caps.

use std::path::{Path, PathBuf};

use reference_server::{KdfParams, RunningServer, ServerConfig};

/// 10 users, +10 every 2 s up to 90, hold 2 s; every user signs up, joins a room of 5 and chats
/// every second until the end. At `--time-scale 0.2` a run takes about 4 s.
///
/// A server capped at N sockets (N a multiple of 10) holds every level up to N users; at the next
/// level the 10 new users are refused (VU failure ratio ≥ 10 %), so it sustains exactly N.
pub const CAPACITY_RAMP: &str = r#"
name = "capacity"
seed = 3
[[phase]]
kind = "ramp"
start_users = 10
step_users = 10
step_every = "2s"
max_users = 90
hold = "2s"
[rooms]
assignment = "groups"
users_per_room = 5
[timeouts]
step = "10s"
delivery = "2s"
[[flow]]
name = "chat"
steps = ["register", "enter_room", "connect", "join_room",
         { send_messages = { interval = "1s" } }]
"#;

/// Time scale the tests play the ramp at.
pub const TIME_SCALE: &str = "0.2";

/// A reference server on a free loopback port that holds at most `max_connections` sockets.
pub async fn capped_server(max_connections: usize) -> RunningServer {
    let files = tempfile::tempdir().unwrap().keep();
    reference_server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        kdf: KdfParams::MINIMAL,
        files_dir: files,
        max_connections,
        ..ServerConfig::default()
    })
    .await
    .expect("reference server starts")
}

/// Writes [`CAPACITY_RAMP`] into `dir` and returns its path.
pub fn scenario_file(dir: &Path) -> PathBuf {
    let path = dir.join("capacity.toml");
    std::fs::write(&path, CAPACITY_RAMP).unwrap();
    path
}

/// Runs the built binary with `args`, without any `STAMPEDE_*` variable of the caller's shell,
/// asynchronously (the servers under test run on the caller's runtime).
pub async fn stampede(args: &[&str]) -> std::process::Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_stampede"));
    cmd.args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("STAMPEDE_") {
            cmd.env_remove(key);
        }
    }
    cmd.output().await.expect("the binary runs")
}

/// `stampede run --no-tui` of `scenario` against `url` into `out`, with `extra` flags; the run must
/// end with exit code 0.
pub async fn run_into(
    url: &str,
    scenario: &Path,
    out: &Path,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "run",
        "--no-tui",
        "--target",
        url,
        "--scenario",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = stampede(&args).await;
    assert_eq!(o.status.code(), Some(0), "{extra:?}: {}", both(&o));
    o
}

/// stdout and stderr, for assertion messages.
pub fn both(out: &std::process::Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
