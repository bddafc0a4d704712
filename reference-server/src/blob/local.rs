//! [`BlobStore`] in a local directory: `<root>/files/<name>` and `<root>/profiles/<name>`.
//!
//! Writes go to a dot-prefixed temporary file in the same directory and are renamed into place once
//! complete, so a reader never sees half a file and a failed upload leaves nothing behind. Valid keys
//! never start with a dot, so temporary names cannot collide with them.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::{Blob, BlobError, BlobKey, BlobStore, ByteStream, Namespace};

/// Read chunk size when streaming a blob out: small, so thousands of concurrent downloads stay cheap.
const READ_CHUNK: usize = 16 * 1024;

/// Blobs as files under one root directory.
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    /// Uses (and creates) `root` and its namespace directories.
    pub async fn open(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        for ns in [Namespace::Files, Namespace::ProfileImages] {
            tokio::fs::create_dir_all(root.join(ns.as_str())).await?;
        }
        Ok(LocalBlobStore { root })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &BlobKey) -> PathBuf {
        // BlobKey guarantees a single path component, so this stays inside the namespace directory.
        self.root.join(key.namespace().as_str()).join(key.name())
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(&self, key: &BlobKey, mut body: ByteStream<'_>) -> Result<u64, BlobError> {
        let target = self.path(key);
        let tmp = self.root.join(key.namespace().as_str()).join(format!(
            ".tmp-{}-{:016x}",
            key.name(),
            rand::random::<u64>()
        ));
        let mut file = tokio::fs::File::create(&tmp).await?;
        let mut written = 0u64;
        let result: Result<(), BlobError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(BlobError::Aborted)?;
                file.write_all(&chunk).await?;
                written += chunk.len() as u64;
            }
            file.flush().await?;
            Ok(())
        }
        .await;
        drop(file);
        if let Err(e) = result {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        if let Err(e) = tokio::fs::rename(&tmp, &target).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e.into());
        }
        Ok(written)
    }

    async fn get(&self, key: &BlobKey) -> Result<Blob, BlobError> {
        let file = match tokio::fs::File::open(self.path(key)).await {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(BlobError::NotFound(key.clone()));
            }
            Err(e) => return Err(e.into()),
        };
        let len = file.metadata().await?.len();
        Ok(Blob {
            len,
            body: Box::pin(ReaderStream::with_capacity(file, READ_CHUNK)),
        })
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// What the store does on disk; what it does through the [`BlobStore`] interface is checked by the
/// conformance suite every store passes (tests/blob.rs).
#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use futures_util::stream;

    use super::*;

    fn body(chunks: Vec<std::io::Result<Bytes>>) -> ByteStream<'static> {
        Box::pin(stream::iter(chunks))
    }

    #[tokio::test]
    async fn a_blob_is_a_file_in_its_namespace_directory() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).await.unwrap();
        let key = BlobKey::new(Namespace::Files, "1_a.txt").unwrap();
        store
            .put(&key, body(vec![Ok(Bytes::from_static(b"hello"))]))
            .await
            .unwrap();
        let file = dir.path().join("files/1_a.txt");
        assert_eq!(std::fs::read(&file).unwrap(), b"hello");
        store.delete(&key).await.unwrap();
        assert!(!file.exists());
    }

    #[tokio::test]
    async fn a_failed_put_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).await.unwrap();
        let key = BlobKey::new(Namespace::ProfileImages, "x.png").unwrap();
        let err = store
            .put(
                &key,
                body(vec![
                    Ok(Bytes::from_static(b"partial")),
                    Err(std::io::Error::other("too large")),
                ]),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, BlobError::Aborted(_)));
        // Not even the partial file it was writing into.
        let left: Vec<_> = std::fs::read_dir(dir.path().join("profiles"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
