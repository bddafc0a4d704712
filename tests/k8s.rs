//! The Kubernetes deployment in `deploy/k8s`: every manifest is valid against the Kubernetes
//! schemas (`kubernetes-validate`, offline), the scenario its ConfigMap carries is valid, and the
//! Indexed Job, played here as its N pods would run — the manifest's own command and arguments,
//! each process with its `JOB_COMPLETION_INDEX` — followed by the merge Job's command, measures
//! what one process running the same plan measures.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::capacity::{both, capped_server, run_into};
use serde_json::Value;
use stampede::base::summary::RunSummary;

fn k8s() -> PathBuf {
    common::repo().join("deploy/k8s")
}

/// A manifest as JSON (through PyYAML, which `kubernetes-validate` brings).
fn manifest(name: &str) -> Value {
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(k8s().join(name))
        .output()
        .expect("python3 runs (scripts/test installs kubernetes-validate and PyYAML)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_manifest_is_valid_kubernetes() {
    let files: Vec<PathBuf> = std::fs::read_dir(k8s())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    assert!(files.len() >= 5, "{files:?}");
    let out = Command::new("kubernetes-validate")
        .arg("--strict")
        .args(&files)
        .output()
        .expect("kubernetes-validate is installed (scripts/test installs it from PyPI)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert_eq!(
        text.matches(" passed for resource ").count(),
        files.len(),
        "{text}"
    );
}

#[test]
fn the_scenario_of_the_config_map_is_valid() {
    let map = manifest("scenario-configmap.yaml");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("scenario.toml");
    std::fs::write(&file, map["data"]["scenario.toml"].as_str().unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .arg("validate")
        .arg(&file)
        .args(["--segment", "3/4"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("segment     3/4: "), "{text}");
}

/// The container's arguments as the pod `index` would get them: `$(VAR)` expanded from `env`, and
/// the image's paths (`stampede`, `/scenario`, `/results`) mapped onto this machine.
fn pod_args(args: &[Value], env: &[(&str, String)], root: &Path) -> Vec<String> {
    args.iter()
        .map(|a| {
            let mut a = a.as_str().unwrap().to_owned();
            for (name, value) in env {
                a = a.replace(&format!("$({name})"), value);
            }
            a.replace("/scenario/", &format!("{}/scenario/", root.display()))
                .replace("/results", &format!("{}/results", root.display()))
        })
        .collect()
}

const SCENARIO: &str = r#"
name = "k8s"
seed = 21
[[phase]]
kind = "ramp"
start_users = 12
step_users = 12
step_every = "2s"
max_users = 24
hold = "3s"
[rooms]
assignment = "groups"
users_per_room = 4
[timeouts]
delivery = "3s"
[[flow]]
steps = ["register", "enter_room", "connect", "join_room",
         { think = { min = "800ms", max = "800ms" } },
         { send_messages = { count = 3, interval = "200ms" } }, "hold"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_indexed_job_played_locally_merges_into_what_one_process_measures() {
    let server = capped_server(1000).await;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("scenario")).unwrap();
    std::fs::write(root.join("scenario/scenario.toml"), SCENARIO).unwrap();

    let job = manifest("segments-job.yaml");
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    let n = job["spec"]["completions"].as_u64().unwrap();
    assert_eq!(job["spec"]["parallelism"].as_u64(), Some(n));
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["command"][0], "stampede");
    let args = container["args"].as_array().unwrap();
    assert!(
        args.iter()
            .any(|a| a.as_str() == Some(&format!("$(JOB_COMPLETION_INDEX)/{n}"))),
        "the segment count in the arguments is the Job's completions: {args:?}"
    );
    let start_at = SystemTime::now() + Duration::from_secs(3);
    let start_at = format!(
        "{:.3}",
        start_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    );
    let pods: Vec<_> = (0..n)
        .map(|index| {
            let env = [
                ("TARGET", server.url()),
                ("START_AT", start_at.clone()),
                ("JOB_COMPLETION_INDEX", index.to_string()),
            ];
            let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_stampede"));
            cmd.args(pod_args(args, &env, root))
                .env("JOB_COMPLETION_INDEX", index.to_string());
            cmd.output()
        })
        .collect();
    for (index, out) in futures_util::future::join_all(pods)
        .await
        .into_iter()
        .enumerate()
    {
        let out = out.unwrap();
        assert_eq!(out.status.code(), Some(0), "pod {index}: {}", both(&out));
    }

    let merge = manifest("merge-job.yaml");
    let container = &merge["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["command"], serde_json::json!(["sh", "-c"]));
    let script = pod_args(container["args"].as_array().unwrap(), &[], root)[0].replacen(
        "stampede ",
        &format!("{} ", env!("CARGO_BIN_EXE_stampede")),
        1,
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "merge: {}", both(&out));
    let merged = RunSummary::load(&root.join("results/merged/summary.json")).unwrap();

    // The same plan in one process.
    let scenario = root.join("scenario/scenario.toml");
    let whole_dir = root.join("whole");
    run_into(&server.url(), &scenario, &whole_dir, &[]).await;
    let whole = RunSummary::load(&whole_dir.join("summary.json")).unwrap();

    assert_eq!(merged.segments.len(), n as usize);
    assert_eq!(merged.users.started, 24);
    assert_eq!(merged.users.started, whole.users.started);
    assert_eq!(merged.users.failed, 0, "{:#?}", merged.failures);
    assert_eq!(merged.messages.sent, whole.messages.sent);
    assert_eq!(
        merged.messages.deliveries_expected,
        whole.messages.deliveries_expected
    );
    assert_eq!(
        merged.messages.delivered,
        merged.messages.deliveries_expected
    );
    assert_eq!(whole.messages.delivered, whole.messages.deliveries_expected);
    let _ = server.shutdown().await;
}
