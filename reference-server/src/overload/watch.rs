//! The watched config file: polled for changes (modification time and size, once a second — no
//! platform file-notification dependency, and a second is fast enough for a human editing a file).
//! A change is parsed and validated before it is applied; a bad file is refused with its error in
//! the log, in `GET /admin/overload` and in `/metrics`, and the running config stays.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use super::{Overload, OverloadConfig, Source};

/// How often the file is looked at.
pub const POLL: Duration = Duration::from_secs(1);

/// What identifies one version of the file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

async fn stamp(path: &Path) -> Option<Stamp> {
    let meta = tokio::fs::metadata(path).await.ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
    })
}

/// Polls `path` until `stop`, applying each valid new version.
pub async fn watch(overload: Arc<Overload>, path: PathBuf, stop: CancellationToken) {
    watch_every(overload, path, stop, POLL).await;
}

/// [`watch`] with a chosen poll interval (tests use a short one).
pub async fn watch_every(
    overload: Arc<Overload>,
    path: PathBuf,
    stop: CancellationToken,
    every: Duration,
) {
    // The version read at startup is already in force.
    let mut last = stamp(&path).await;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let now = stamp(&path).await;
        if now == last {
            continue;
        }
        last = now;
        if now.is_none() {
            tracing::warn!(path = %path.display(), "overload config file is gone; keeping the running config");
            continue;
        }
        let result = match tokio::fs::read_to_string(&path).await {
            Ok(text) => match OverloadConfig::parse(&text) {
                Ok(config) => overload
                    .change(config, Source::File)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        };
        match result {
            Ok(revision) => {
                overload.set_file_error(None);
                tracing::info!(path = %path.display(), revision, "overload config file applied");
            }
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "overload config file refused; the running config stays");
                overload.set_file_error(Some(error));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::overload::OverloadSettings;

    /// Waits (in real time: the file system's clock is real) until `check` holds.
    async fn until(mut check: impl FnMut() -> bool) -> bool {
        for _ in 0..200 {
            if check() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    #[tokio::test]
    async fn a_changed_file_is_applied_and_a_bad_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("overload.toml");
        std::fs::write(&path, "[hot]\npush_probability = 0.1\n").unwrap();
        let overload = Arc::new(Overload::new(&OverloadSettings::default()));
        let stop = CancellationToken::new();
        let task = tokio::spawn(watch_every(
            Arc::clone(&overload),
            path.clone(),
            stop.clone(),
            Duration::from_millis(10),
        ));
        tokio::time::sleep(Duration::from_millis(30)).await;

        std::fs::write(&path, "[hot]\npush_probability = 0.5\n").unwrap();
        assert!(until(|| overload.live().config.hot.push_probability == 0.5).await);
        assert_eq!(overload.live().revision, 1);
        assert_eq!(overload.live().source, Source::File);

        std::fs::write(&path, "[hot]\npush_probability = 5.0\n").unwrap();
        assert!(until(|| overload.file_error().is_some()).await);
        let error = overload.file_error().unwrap();
        assert!(error.contains("hot.push_probability = 5"), "{error}");
        assert_eq!(overload.live().config.hot.push_probability, 0.5);
        assert_eq!(overload.live().revision, 1);

        std::fs::write(&path, "[hot]\npush_probability = 0.25\n").unwrap();
        assert!(until(|| overload.file_error().is_none()).await);
        assert_eq!(overload.live().config.hot.push_probability, 0.25);
        stop.cancel();
        task.await.unwrap();
    }
}
