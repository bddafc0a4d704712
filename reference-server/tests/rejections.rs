//! Rejected uploads that a client can read: Node's own `fetch` (undici, the same stack as the
//! conformance suite's checks) sends an upload the server refuses, and must see the status and the
//! JSON message, not a reset connection.

mod common;

use std::process::Stdio;

/// Runs Node's `fetch` against `url`: a multipart upload of `size` bytes as `name` with `mime` (a
/// PNG's signature first when it says `image/png`), and `headers` (JSON). Answers `status body` or
/// `error <cause>`.
async fn node_upload(url: &str, size: usize, name: &str, mime: &str, headers: &str) -> String {
    const SCRIPT: &str = r#"
const [url, size, name, mime, headers] = process.argv.slice(1);
const bytes = new Uint8Array(Number(size));
if (mime === 'image/png') bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const form = new FormData();
form.append('file', new Blob([bytes], { type: mime }), name);
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

/// HTML uploaded as `evil.png` is refused for what it is; a real image is served with its checked
/// type and `nosniff`, so no browser second-guesses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_must_be_the_image_it_says() {
    let t = common::start().await;
    let user = t.user("Mallory").await;
    let form = |bytes: Vec<u8>| common::file_form("file", "evil.png", "image/png", bytes);
    let html = b"<html><script>alert(document.cookie)</script></html>".to_vec();
    let refused = t
        .post("/api/files/upload", &user)
        .multipart(form(html))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 415);
    let message = refused.text().await.unwrap();
    assert!(message.contains("not a image/png"), "{message}");

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(64, 0);
    let stored: serde_json::Value = t
        .post("/api/files/upload", &user)
        .multipart(form(png))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let name = stored["file"]["filename"].as_str().unwrap().to_owned();
    let served = t
        .get(&format!("/api/files/download/{name}"), &user)
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
}
