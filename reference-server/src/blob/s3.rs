//! [`BlobStore`] on S3 or any S3-compatible service (MinIO, Ceph, s3s), through the `object_store`
//! crate: `<prefix>/<namespace>/<name>` in one bucket.
//!
//! Small bodies are sent in one `PUT`; a body larger than `SINGLE_PUT_MAX` switches to a multipart
//! upload, which is aborted on any error, so a failed upload never leaves an object behind (S3 never
//! shows a half-written object either way).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayloadMut, WriteMultipart};

use super::{Blob, BlobError, BlobKey, BlobStore, ByteStream};

/// Largest body sent in a single `PUT`; larger ones go up in parts of this size.
const SINGLE_PUT_MAX: usize = 8 * 1024 * 1024;

/// Where the bucket is and how to sign requests.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix inside the bucket (empty: none).
    pub prefix: String,
    /// Endpoint URL for S3-compatible services (`http://127.0.0.1:9000`); `None` for AWS.
    pub endpoint: Option<String>,
    /// Region (`us-east-1` when unsure: most S3-compatible services ignore it).
    pub region: String,
    /// Access key id; `None` uses the environment's credentials (instance profile, …).
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
}

impl std::fmt::Debug for S3Settings {
    // The secret never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl S3Settings {
    /// `s3://bucket[/prefix]` with the rest from flags.
    pub fn parse_url(url: &str) -> Result<(String, String), String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{url:?} is not an s3:// URL"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("{url:?} has no bucket; use s3://bucket[/prefix]"));
        }
        Ok((bucket.to_owned(), prefix.trim_matches('/').to_owned()))
    }

    /// `s3://bucket[/prefix]` at the endpoint, for messages.
    pub fn describe(&self) -> String {
        let mut s = format!("s3://{}", self.bucket);
        if !self.prefix.is_empty() {
            s.push('/');
            s.push_str(&self.prefix);
        }
        if let Some(e) = &self.endpoint {
            s.push_str(&format!(" at {e}"));
        }
        s
    }
}

/// Blobs as objects in an S3 bucket.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    store: Arc<AmazonS3>,
    prefix: String,
}

fn io(e: object_store::Error) -> std::io::Error {
    std::io::Error::other(e)
}

impl S3BlobStore {
    /// Builds the client and checks that the bucket answers (a missing object is an answer).
    pub async fn open(settings: &S3Settings) -> Result<Self, BlobError> {
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region);
        if let Some(endpoint) = &settings.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                // S3-compatible services address buckets by path, not by host name.
                .with_virtual_hosted_style_request(false);
        }
        if let (Some(id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret);
        }
        let store = S3BlobStore {
            store: Arc::new(builder.build().map_err(io)?),
            prefix: settings.prefix.clone(),
        };
        match store.store.head(&Path::from("stampede-probe")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(store),
            Err(e) => Err(BlobError::Backend(io(e))),
        }
    }

    fn path(&self, key: &BlobKey) -> Path {
        // BlobKey names are one safe path component, so the object name cannot escape the prefix.
        let name = format!("{}/{}", key.namespace().as_str(), key.name());
        if self.prefix.is_empty() {
            Path::from(name)
        } else {
            Path::from(format!("{}/{name}", self.prefix))
        }
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &BlobKey, mut body: ByteStream<'_>) -> Result<u64, BlobError> {
        let path = self.path(key);
        let mut buffered = PutPayloadMut::new();
        let mut written = 0u64;
        // Small bodies (nearly all chat files) go up in one request.
        while buffered.content_length() <= SINGLE_PUT_MAX {
            match body.next().await {
                Some(chunk) => {
                    let chunk = chunk.map_err(BlobError::Aborted)?;
                    written += chunk.len() as u64;
                    buffered.push(chunk);
                }
                None => {
                    self.store.put(&path, buffered.freeze()).await.map_err(io)?;
                    return Ok(written);
                }
            }
        }
        let upload = self.store.put_multipart(&path).await.map_err(io)?;
        let mut parts = WriteMultipart::new_with_chunk_size(upload, SINGLE_PUT_MAX);
        for chunk in buffered.freeze() {
            parts.put(chunk);
        }
        while let Some(chunk) = body.next().await {
            let chunk: Bytes = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    let _ = parts.abort().await;
                    return Err(BlobError::Aborted(e));
                }
            };
            written += chunk.len() as u64;
            parts.put(chunk);
        }
        parts.finish().await.map_err(io)?;
        Ok(written)
    }

    async fn get(&self, key: &BlobKey) -> Result<Blob, BlobError> {
        let got = match self.store.get(&self.path(key)).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(BlobError::NotFound(key.clone()));
            }
            Err(e) => return Err(BlobError::Backend(io(e))),
        };
        let len = got.meta.size;
        Ok(Blob {
            len,
            body: Box::pin(got.into_stream().map_err(io)),
        })
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(BlobError::Backend(io(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_bucket_and_prefix() {
        assert_eq!(
            S3Settings::parse_url("s3://chat").unwrap(),
            ("chat".into(), String::new())
        );
        assert_eq!(
            S3Settings::parse_url("s3://chat/prod/a/").unwrap(),
            ("chat".into(), "prod/a".into())
        );
        assert!(
            S3Settings::parse_url("s3://")
                .unwrap_err()
                .contains("no bucket")
        );
    }
}
