//! The reference server against the real npm `socket.io-client` v4 (`tests/compat/` in the repository
//! root): polling with upgrade and websocket-only clients, messages, history, reactions, receipts,
//! acks, the AI stream and a refused bad token.
//!
//! Needs Node.js 20+ and `npm ci --prefix tests/compat`. Missing either is a failure with
//! instructions, never a skip: a compatibility claim nobody checked is worse than none.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

fn compat_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("compat")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_socket_io_client_v4() {
    let dir = compat_dir();
    let node = std::process::Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "`node` (Node.js 20+) was not found on PATH. Install it, then run `npm ci --prefix tests/compat` \
         from the repository root (the project's test script does both)."
    );
    assert!(
        dir.join("node_modules").join("socket.io-client").is_dir(),
        "{} has no node_modules/socket.io-client: run `npm ci --prefix tests/compat` from the repository \
         root (the project's test script does this before `cargo test`).",
        dir.display()
    );

    let t = common::start().await;
    let run = tokio::process::Command::new("node")
        .arg(dir.join("compat.mjs"))
        .arg(t.server.url())
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("compat script finished within 90 s")
        .expect("node started");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "socket.io-client compatibility failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}
