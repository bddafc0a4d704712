//! Uploads that were never posted in a message: a quota per user, and a sweeper that deletes them
//! after a while. An upload is a file in the blob store and a record in the chat store; until a
//! `file` chat message names it, nothing else refers to it, and before these limits a client could
//! upload without end and nothing was ever deleted. The limits themselves
//! ([`UnpostedLimits`](crate::limit::UnpostedLimits)) are in `limit`, below `config`, which assembles them.

use std::time::Duration;

use crate::blob::{BlobKey, Namespace};
use crate::error::ApiError;
use crate::limit::Held;
use crate::state::AppState;
use crate::store::UnixMillis;

/// Records looked at per sweep step.
const SWEEP_BATCH: usize = 100;

/// Reads what `owner` holds unposted (nothing is read when no cap is set).
pub async fn held_by(state: &AppState, owner: &str) -> Result<Held, ApiError> {
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
