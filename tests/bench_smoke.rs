//! The comparison benchmark's harness (`benches/compare.py`) still works: its `--smoke` mode runs 20
//! stampede users against an in-process reference server and checks every figure it computes came
//! out (users held, memory, CPU per 1,000 messages, messages received). Needs `python3` (standard
//! library only); k6 and Artillery are not needed. The benchmark itself is never run by tests.

use std::process::Command;

use reference_server::{KdfParams, ServerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_harness_smoke() {
    let dir = tempfile::tempdir().unwrap();
    let server = reference_server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        kdf: KdfParams::MINIMAL,
        files_dir: dir.path().join("files"),
        ..ServerConfig::default()
    })
    .await
    .expect("reference server starts");
    let url = server.url();
    let json = dir.path().join("compare.json");
    let root = env!("CARGO_MANIFEST_DIR");
    let output = tokio::task::spawn_blocking({
        let json = json.clone();
        move || {
            Command::new("python3")
                .arg(format!("{root}/benches/compare.py"))
                .arg("--smoke")
                .args(["--stampede", env!("CARGO_BIN_EXE_stampede")])
                .args(["--target", &url])
                .arg("--json")
                .arg(&json)
                .output()
                .expect("python3 runs (the harness needs it)")
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("smoke: ok"),
        "harness smoke failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let row = &result["rows"][0];
    assert_eq!(row["tool"], "stampede");
    assert_eq!(row["held"], 20);
    assert!(row["kib_per_user"].as_f64().unwrap() > 0.0, "{row}");
    assert!(row["cpu_ms_per_1k"].as_f64().unwrap() > 0.0, "{row}");
    assert!(row["received"].as_u64().unwrap() > 0, "{row}");
    server.shutdown().await.unwrap();
}
