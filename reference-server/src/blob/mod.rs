//! File contents behind one async trait: uploaded chat files and profile images. Metadata (owner,
//! MIME type, which rooms may see a file) is in the [`ChatStore`](crate::store::ChatStore), not here.
//!
//! Keys are validated once, when a [`BlobKey`] is built, so no backend ever sees a path separator or
//! a `..`: path traversal is impossible by construction rather than checked per backend.

pub mod local;
pub mod s3;

use std::fmt;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;

/// A stream of body chunks; an `Err` item aborts the transfer.
pub type ByteStream<'a> = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send + 'a>>;

/// Which family of blobs a key belongs to; backends keep them apart (a directory, a key prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Namespace {
    /// Files uploaded for chat messages.
    Files,
    /// Users' profile images.
    ProfileImages,
}

impl Namespace {
    /// A path-safe name for the namespace (directory name, key prefix).
    pub fn as_str(self) -> &'static str {
        match self {
            Namespace::Files => "files",
            Namespace::ProfileImages => "profiles",
        }
    }
}

/// Longest blob name accepted.
pub const MAX_NAME_LEN: usize = 128;

/// A validated blob key: a namespace and a name of `[A-Za-z0-9._-]`, not starting with a dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobKey {
    namespace: Namespace,
    name: String,
}

/// Why a name cannot be a blob key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid file name {0:?}: use 1-128 of A-Z a-z 0-9 . _ - and do not start with a dot")]
pub struct InvalidName(pub String);

impl BlobKey {
    /// Validates `name` for `namespace`.
    pub fn new(namespace: Namespace, name: &str) -> Result<Self, InvalidName> {
        let ok = !name.is_empty()
            && name.len() <= MAX_NAME_LEN
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !ok {
            // Cap what is echoed back: the name came from a client.
            return Err(InvalidName(name.chars().take(64).collect()));
        }
        Ok(BlobKey {
            namespace,
            name: name.to_owned(),
        })
    }

    /// The namespace.
    pub fn namespace(&self) -> Namespace {
        self.namespace
    }

    /// The name within the namespace.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace.as_str(), self.name)
    }
}

/// A stored blob being read.
pub struct Blob {
    /// Length in bytes.
    pub len: u64,
    /// The contents.
    pub body: ByteStream<'static>,
}

/// Why a blob operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No blob under that key.
    #[error("blob {0} not found")]
    NotFound(BlobKey),
    /// The body stream failed or exceeded its limit; nothing was stored.
    #[error("upload aborted: {0}")]
    Aborted(std::io::Error),
    /// The backend failed.
    #[error("blob backend error: {0}")]
    Backend(#[from] std::io::Error),
}

/// Where file contents live, behind `Arc<dyn BlobStore>`.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores `body` under `key`, replacing any blob there, and returns the byte count. Readers never
    /// see a partial blob: on any error nothing is stored.
    async fn put(&self, key: &BlobKey, body: ByteStream<'_>) -> Result<u64, BlobError>;
    /// Opens a blob for reading.
    async fn get(&self, key: &BlobKey) -> Result<Blob, BlobError>;
    /// Deletes a blob; deleting a missing blob succeeds.
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_refuse_traversal_and_separators() {
        for bad in [
            "",
            ".",
            "..",
            "../etc/passwd",
            "a/b",
            "a\\b",
            ".hidden",
            "a b",
            "é.png",
            "a\0b",
            "%2e%2e",
        ] {
            assert!(BlobKey::new(Namespace::Files, bad).is_err(), "{bad:?}");
        }
        let long = "a".repeat(MAX_NAME_LEN + 1);
        assert!(BlobKey::new(Namespace::Files, &long).is_err());
        let key = BlobKey::new(Namespace::ProfileImages, "1733_ab12.png").unwrap();
        assert_eq!(key.to_string(), "profiles/1733_ab12.png");
    }
}
