//! One suite for every [`BlobStore`]: the local directory and S3, the latter against an in-process
//! S3-compatible server (`s3s` + `s3s-fs` on a free loopback port). Then the whole server with its
//! files on S3: upload, download, delete over REST.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use reference_server::blob::local::LocalBlobStore;
use reference_server::blob::s3::{S3BlobStore, S3Settings};
use reference_server::blob::{Blob, BlobError, BlobKey, BlobStore, ByteStream, Namespace};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

const KEY_ID: &str = "stampede-test";
const SECRET: &str = "stampede-test-secret";

/// An S3-compatible server on 127.0.0.1 storing into a temp dir, with bucket `chat` already there.
struct S3Server {
    settings: S3Settings,
    _root: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn s3_server() -> S3Server {
    let root = tempfile::tempdir().unwrap();
    // s3s-fs maps a bucket to a directory.
    std::fs::create_dir(root.path().join("chat")).unwrap();
    let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(KEY_ID, SECRET));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let http = ConnBuilder::new(TokioExecutor::new());
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let conn = http
                .serve_connection(TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
    S3Server {
        settings: S3Settings {
            bucket: "chat".into(),
            prefix: "test".into(),
            endpoint: Some(format!("http://{addr}")),
            region: "us-east-1".into(),
            access_key_id: Some(KEY_ID.into()),
            secret_access_key: Some(SECRET.into()),
        },
        _root: root,
        task,
    }
}

fn body(chunks: Vec<std::io::Result<Bytes>>) -> ByteStream<'static> {
    Box::pin(stream::iter(chunks))
}

async fn read_all(blob: Blob) -> Vec<u8> {
    let mut out = Vec::new();
    let mut body = blob.body;
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

async fn conformance(store: Arc<dyn BlobStore>) {
    // Round trip in several chunks.
    let key = BlobKey::new(Namespace::Files, "1_a.txt").unwrap();
    let n = store
        .put(
            &key,
            body(vec![
                Ok(Bytes::from_static(b"hel")),
                Ok(Bytes::from_static(b"lo")),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(n, 5);
    let blob = store.get(&key).await.unwrap();
    assert_eq!(blob.len, 5);
    assert_eq!(read_all(blob).await, b"hello");
    // Namespaces are apart.
    let other = BlobKey::new(Namespace::ProfileImages, "1_a.txt").unwrap();
    assert!(matches!(
        store.get(&other).await,
        Err(BlobError::NotFound(_))
    ));
    // Replacing.
    store
        .put(&key, body(vec![Ok(Bytes::from_static(b"bye"))]))
        .await
        .unwrap();
    assert_eq!(read_all(store.get(&key).await.unwrap()).await, b"bye");
    // Deleting, twice.
    store.delete(&key).await.unwrap();
    store.delete(&key).await.unwrap();
    assert!(matches!(store.get(&key).await, Err(BlobError::NotFound(_))));

    // A failed upload leaves nothing behind, small or large (the large one is multipart on S3).
    for size in [7usize, 9 * 1024 * 1024] {
        let key = BlobKey::new(Namespace::ProfileImages, "x.png").unwrap();
        let err = store
            .put(
                &key,
                body(vec![
                    Ok(Bytes::from(vec![1u8; size])),
                    Err(std::io::Error::other("too large")),
                ]),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, BlobError::Aborted(_)), "{err:?}");
        assert!(matches!(store.get(&key).await, Err(BlobError::NotFound(_))));
    }

    // A large body arrives whole.
    let key = BlobKey::new(Namespace::Files, "big.bin").unwrap();
    let chunk: Vec<u8> = (0..=255u8).cycle().take(1024 * 1024).collect();
    let chunks: Vec<std::io::Result<Bytes>> =
        (0..10).map(|_| Ok(Bytes::from(chunk.clone()))).collect();
    assert_eq!(
        store.put(&key, body(chunks)).await.unwrap(),
        10 * 1024 * 1024
    );
    let blob = store.get(&key).await.unwrap();
    assert_eq!(blob.len, 10 * 1024 * 1024);
    let all = read_all(blob).await;
    assert!(all.chunks(chunk.len()).all(|c| c == chunk.as_slice()));
}

#[tokio::test]
async fn local_blob_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance(Arc::new(LocalBlobStore::open(dir.path()).await.unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_blob_store_conforms() {
    let s3 = s3_server().await;
    conformance(Arc::new(S3BlobStore::open(&s3.settings).await.unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_s3_credentials_are_refused_at_start_naming_the_bucket() {
    let s3 = s3_server().await;
    let files = tempfile::tempdir().unwrap();
    let mut config = common::test_config(files.path());
    config.s3 = Some(S3Settings {
        secret_access_key: Some("wrong".into()),
        ..s3.settings.clone()
    });
    let err = reference_server::start(config)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("s3://chat/test"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_keeps_files_on_s3() {
    let s3 = s3_server().await;
    let settings = s3.settings.clone();
    let t = common::start_with(move |c| c.s3 = Some(settings)).await;
    let alice = t.user("Alice").await;
    let part = reqwest::multipart::Part::bytes(b"\x89PNG\r\n\x1a\nhello".to_vec())
        .file_name("cat.png")
        .mime_str("image/png")
        .unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    let response = t
        .post("/api/files/upload", &alice)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let uploaded: serde_json::Value = response.json().await.unwrap();
    let name = uploaded["file"]["filename"].as_str().unwrap().to_owned();
    let id = uploaded["file"]["_id"].as_str().unwrap().to_owned();
    // The object is in the bucket, under the prefix.
    let object = s3._root.path().join(format!("chat/test/files/{name}"));
    assert!(object.exists(), "{} missing", object.display());
    let download = t
        .get(&format!("/api/files/download/{name}"), &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(
        &download.bytes().await.unwrap()[..],
        b"\x89PNG\r\n\x1a\nhello"
    );
    let deleted = t
        .http
        .delete(t.url(&format!("/api/files/{id}")))
        .header("x-auth-token", &alice.token)
        .header("x-session-id", &alice.session_id)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    assert!(!object.exists());
}
