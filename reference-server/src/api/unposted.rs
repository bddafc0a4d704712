//! Uploads that were never posted in a message: a quota per user, and a sweeper that deletes them
//! after a while. An upload is a file in the blob store and a record in the chat store; until a
//! `file` chat message names it, nothing else refers to it, and before these limits a client could
//! upload without end and nothing was ever deleted.

use std::time::Duration;

use crate::blob::{BlobKey, Namespace};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::UnixMillis;

const MIB: u64 = 1024 * 1024;

/// Bytes a multipart body carries beyond its file (boundaries, part headers): the slack given
/// when a declared `Content-Length` is checked against the quota before the body is read.
const FORM_SLACK: u64 = 64 * 1024;

/// Records looked at per sweep step.
const SWEEP_BATCH: usize = 100;

/// Limits on uploads not posted in any message yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpostedLimits {
    /// Bytes of one user's unposted uploads; `None`: no cap.
    pub bytes: Option<u64>,
    /// Unposted uploads one user may hold; `None`: no cap.
    pub files: Option<usize>,
    /// Age at which an unposted upload is deleted, file and record; `None`: kept for ever.
    pub ttl: Option<Duration>,
}

impl UnpostedLimits {
    /// The defaults: 200 MiB and 50 files per user (four of the largest video, or dozens of
    /// photos, waiting to be posted), deleted after an hour (a client posts an upload right after
    /// it finished).
    pub const DEFAULT: UnpostedLimits = UnpostedLimits {
        bytes: Some(200 * MIB),
        files: Some(50),
        ttl: Some(Duration::from_secs(3600)),
    };
}

/// What one user holds unposted now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    /// Uploads.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
}

impl Held {
    /// Reads what `owner` holds (nothing is read when no cap is set).
    pub async fn of(state: &AppState, owner: &str) -> Result<Held, ApiError> {
        let limits = state.config.unposted;
        if limits.bytes.is_none() && limits.files.is_none() {
            return Ok(Held::default());
        }
        let files = state.store.unposted_files(owner).await?;
        Ok(Held {
            files: files.len(),
            bytes: files.iter().map(|f| f.size).sum(),
        })
    }
}

impl UnpostedLimits {
    /// Refuses one more upload of `adding` bytes (its file) when `held` plus it would pass a cap.
    /// Before the body is read, `adding` is the declared body length less `FORM_SLACK` (64 KiB of
    /// form framing).
    pub fn admit(&self, held: Held, adding: u64) -> Result<(), ApiError> {
        if let Some(cap) = self.files
            && held.files >= cap
        {
            return Err(ApiError::UploadQuota(format!(
                "You have {} uploads not yet posted in a message, the most allowed \
                 (--unposted-upload-files {cap}); post or delete one, or wait until unposted \
                 uploads expire",
                held.files
            )));
        }
        if let Some(cap) = self.bytes
            && held.bytes.saturating_add(adding) > cap
        {
            return Err(ApiError::UploadQuota(format!(
                "This upload would bring your files not yet posted in a message to {} bytes, \
                 over the {cap} allowed (--unposted-upload-bytes); post or delete some first",
                held.bytes.saturating_add(adding)
            )));
        }
        Ok(())
    }

    /// The declared body length as file bytes for [`admit`](Self::admit) before reading.
    pub fn declared(content_length: Option<u64>) -> u64 {
        content_length.map_or(0, |n| n.saturating_sub(FORM_SLACK))
    }
}

/// Deletes unposted uploads older than the TTL, every `ttl / 4` (at most every minute), until
/// `stop`. Each is deleted only if still unposted, in one step with the check (a file posted
/// meanwhile stays), then its blob. Instances sharing a store may sweep at once: every step is
/// idempotent.
pub async fn sweep(state: AppState, stop: tokio_util::sync::CancellationToken) {
    let Some(ttl) = state.config.unposted.ttl else {
        return;
    };
    let every = (ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(60));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(e) = sweep_once(&state, ttl).await {
            tracing::warn!(error = %e, "sweeping unposted uploads failed; next try in {every:?}");
        }
    }
}

/// One sweep: deletes every unposted upload older than `ttl`; how many were deleted.
pub async fn sweep_once(state: &AppState, ttl: Duration) -> Result<usize, ApiError> {
    let before = UnixMillis(UnixMillis::now().0 - ttl.as_millis() as i64);
    let mut deleted = 0;
    loop {
        let old = state.store.unposted_before(before, SWEEP_BATCH).await?;
        if old.is_empty() {
            break;
        }
        let mut progressed = false;
        for file in old {
            let Some(file) = state.store.delete_unposted_file(&file.id).await? else {
                continue;
            };
            progressed = true;
            deleted += 1;
            if let Ok(key) = BlobKey::new(Namespace::Files, &file.filename)
                && let Err(e) = state.blobs.delete(&key).await
            {
                tracing::warn!(file = %file.filename, error = %e, "an expired upload's blob stayed");
            }
        }
        if !progressed {
            break;
        }
    }
    if deleted > 0 {
        tracing::info!(deleted, "unposted uploads expired");
    }
    Ok(deleted)
}
