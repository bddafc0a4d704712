//! Fixed-window request counting per client key: the room list's optional per-IP limit
//! ([`api::rate_limit`](crate::api::rate_limit)) and any other door that needs one.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Windows kept before stale ones are pruned (each is a few dozen bytes).
const PRUNE_AT: usize = 10_000;

/// Fixed-window request counter per client key.
#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// Allows `limit` requests per `window` per key.
    pub fn new(limit: NonZeroU32, window: Duration) -> Self {
        RateLimiter {
            limit: limit.get(),
            window,
            windows: Mutex::default(),
        }
    }

    /// Counts one request of `key` at `now`; false when it is over the limit.
    pub fn check(&self, key: &str, now: Instant) -> bool {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() >= PRUNE_AT {
            windows.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let slot = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(slot.0) >= self.window {
            *slot = (now, 0);
        }
        slot.1 += 1;
        slot.1 <= self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_window_per_key() {
        let limiter = RateLimiter::new(NonZeroU32::new(2).unwrap(), Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(limiter.check("a", t0));
        assert!(limiter.check("a", t0));
        assert!(!limiter.check("a", t0 + Duration::from_secs(59)));
        assert!(limiter.check("b", t0));
        assert!(limiter.check("a", t0 + Duration::from_secs(60)));
    }
}
