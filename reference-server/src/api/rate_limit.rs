//! The original's per-IP limit on `GET /api/rooms` (express-rate-limit: 60 requests per minute, fixed
//! window, 429 `{success:false,error:{code:'TOO_MANY_REQUESTS'}}`). Off unless configured: a load test
//! sends every request from one IP and would hit it at once.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use crate::AppState;
use crate::error::ApiError;
use crate::peer::Peer;

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

/// Route middleware enforcing the room-list limit, when one is configured.
pub async fn limit_room_list(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(limiter) = &state.room_list_limiter {
        let (parts, body) = request.into_parts();
        let peer = Peer::of(&parts);
        if !limiter.check(&peer.ip, Instant::now()) {
            return ApiError::TooManyRequests.into_response();
        }
        return next.run(Request::from_parts(parts, body)).await;
    }
    next.run(request).await
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
