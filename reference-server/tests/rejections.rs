//! Rejected uploads that a client can read: Node's own `fetch` (undici, the same stack as the
//! conformance suite's checks) sends an upload the server refuses, and must see the status and the
//! JSON message, not a reset connection.

mod common;

use std::process::Stdio;

/// Runs Node's `fetch` against `url`: a multipart upload of `size` bytes as `name` with `mime`, and
/// `headers` (JSON). Prints `status body` or `error <cause>`.
async fn node_upload(url: &str, size: usize, name: &str, mime: &str, headers: &str) -> String {
    const SCRIPT: &str = r#"
const [url, size, name, mime, headers] = process.argv.slice(1);
const form = new FormData();
form.append('file', new Blob([new Uint8Array(Number(size))], { type: mime }), name);
try {
  const r = await fetch(url, { method: 'POST', body: form, headers: JSON.parse(headers) });
  console.log(r.status, await r.text());
} catch (e) {
  console.log('error', e.cause?.code ?? e.message);
}
"#;
    let out = tokio::process::Command::new("node")
        .args(["--input-type=module", "-e", SCRIPT])
        .args([url, &size.to_string(), name, mime, headers])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .expect("`node` (Node.js 20+) runs; the project's test script installs it");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_without_credentials_reads_401() {
    let t = common::start().await;
    let url = t.url("/api/files/upload");
    // Several sizes: a small body may fit the socket buffers whatever the server does; a few MB
    // do not, and a server that answers before reading them resets the upload.
    for size in [1_000, 1_000_000, 4_000_000] {
        let seen = node_upload(&url, size, "a.png", "image/png", "{}").await;
        assert!(seen.starts_with("401 "), "{size} bytes: {seen}");
        assert!(seen.contains("Authentication required"), "{seen}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_or_mistyped_upload_reads_its_status() {
    let t = common::start().await;
    let user = t.user("Uploader").await;
    let url = t.url("/api/files/upload");
    let headers = serde_json::json!({
        "x-auth-token": user.token,
        "x-session-id": user.session_id,
    })
    .to_string();
    // Images may be 10 MB.
    let seen = node_upload(&url, 11 * 1024 * 1024, "big.png", "image/png", &headers).await;
    assert!(seen.starts_with("413 "), "{seen}");
    let seen = node_upload(
        &url,
        2_000_000,
        "run.exe",
        "application/x-msdownload",
        &headers,
    )
    .await;
    assert!(
        seen.starts_with("415 ") || seen.starts_with("400 "),
        "{seen}"
    );
}
