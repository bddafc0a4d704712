//! What runs beside the server for overload control, started once by [`start`]: the level sampler
//! (scheduler lag and busy workers), the listener for other instances' notices (hot marks, config
//! revisions), and the config file watcher. Each stops with the server's shutdown token.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::store::redis::{RedisSettings, Timeouts};

use super::{
    Coordination, Notice, Overload, OverloadSettings, RedisCoordination, coord, levels, watch,
};

/// Starts what runs beside the server: Redis coordination when configured (under the store's key
/// prefix, with its timeouts; and the newest config other instances agreed on), the level sampler,
/// the listener for other instances' notices, and the config file watcher, on `tracker`; they stop
/// with `stop`. The gateway runs the flush of owed pushes ([`Overload::owed_due`]).
pub async fn start(
    overload: &Arc<Overload>,
    settings: &OverloadSettings,
    redis: &RedisSettings,
    tracker: &TaskTracker,
    stop: &CancellationToken,
) -> Result<(), coord::CoordError> {
    if let Some(target) = &settings.redis {
        let timeouts = Timeouts {
            connect: redis.timeout,
            response: redis.timeout,
        };
        let coord = RedisCoordination::connect(target, &redis.prefix, timeouts).await?;
        if let Some((revision, toml)) = coord.latest_config().await? {
            overload.apply_notice(revision, &toml).await;
        }
        overload.set_coordination(Arc::new(coord));
    }
    tracker.spawn(sample_levels(Arc::clone(overload), stop.clone()));
    tracker.spawn(listen(Arc::clone(overload), stop.clone()));
    if let Some(path) = &settings.file {
        tracker.spawn(watch::watch(
            Arc::clone(overload),
            path.clone(),
            stop.clone(),
        ));
    }
    Ok(())
}

/// Samples the scheduler lag — how late this task wakes from a sleep — and feeds the level; and
/// records the share of each interval the runtime's workers were busy.
async fn sample_levels(overload: Arc<Overload>, stop: CancellationToken) {
    let runtime = tokio::runtime::Handle::current().metrics();
    let busy = || -> Duration {
        (0..runtime.num_workers())
            .map(|w| runtime.worker_total_busy_duration(w))
            .sum()
    };
    let mut last = (Instant::now(), busy());
    loop {
        let every = overload.live.load().config.levels.sample_every;
        let asked = Instant::now();
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let now = Instant::now();
        overload.sample(now.duration_since(asked).saturating_sub(every), now);
        let total = busy();
        overload.observe_busy_ratio(levels::busy_ratio(
            total.saturating_sub(last.1),
            now.duration_since(last.0),
            runtime.num_workers(),
        ));
        last = (now, total);
    }
}

/// Applies other instances' notices: hot marks and config revisions. After missing notices (a slow
/// subscriber), it resynchronizes from the newest stored config.
async fn listen(overload: Arc<Overload>, stop: CancellationToken) {
    let mut notices = overload.coordination().subscribe();
    loop {
        let notice = tokio::select! {
            () = stop.cancelled() => return,
            notice = notices.recv() => notice,
        };
        match notice {
            Ok(Notice::Hot { room, ttl_ms }) => {
                overload.mark_hot_locally(&room, Duration::from_millis(ttl_ms));
            }
            Ok(Notice::Config { revision, toml }) => overload.apply_notice(revision, &toml).await,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "overload notices missed; resynchronizing the config"
                );
                if let Ok(Some((revision, toml))) = overload.coordination().latest_config().await {
                    overload.apply_notice(revision, &toml).await;
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}
