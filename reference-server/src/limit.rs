//! Limits per client: fixed-window request counting per key ([`RateLimiter`]: the room list's
//! optional per-IP limit, [`api::rate_limit`](crate::api::rate_limit), and the login limits), and
//! places held at once per peer address ([`PeerSlots`]: connections per peer in `serve`,
//! unauthenticated Engine.IO sessions per peer in the gateway), and what one user may hold in
//! uploads not yet posted ([`UnpostedLimits`], enforced by `api::unposted`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::ApiError;

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

/// Places held at once per peer address, with a cap. A [`PeerSlot`] gives its place back when
/// dropped, so a place cannot outlive what holds it.
#[derive(Debug, Default)]
pub struct PeerSlots(Mutex<HashMap<IpAddr, usize>>);

/// One place of one address in [`PeerSlots`].
#[derive(Debug)]
pub struct PeerSlot {
    slots: Arc<PeerSlots>,
    ip: IpAddr,
}

impl PeerSlots {
    /// A place for one more of `ip`, or `None` when it holds `cap` already (`cap` `None`: no cap,
    /// the place is still counted).
    pub fn take(self: &Arc<Self>, ip: IpAddr, cap: Option<NonZeroUsize>) -> Option<PeerSlot> {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = held.entry(ip).or_insert(0);
        if cap.is_some_and(|cap| *count >= cap.get()) {
            return None;
        }
        *count += 1;
        Some(PeerSlot {
            slots: Arc::clone(self),
            ip,
        })
    }

    /// Places `ip` holds now.
    pub fn held(&self, ip: IpAddr) -> usize {
        let held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(&ip).copied().unwrap_or(0)
    }

    /// Addresses holding a place (the map's size: it must come back to 0).
    pub fn addresses(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut held = self.slots.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = held.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.ip);
            }
        }
    }
}

const MIB: u64 = 1024 * 1024;

/// Bytes a multipart body carries beyond its file (boundaries, part headers): the slack given
/// when a declared `Content-Length` is checked against the quota before the body is read.
const FORM_SLACK: u64 = 64 * 1024;

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

/// What one user holds unposted now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    /// Uploads.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_holds_at_most_its_cap_and_gets_places_back() {
        let slots = Arc::new(PeerSlots::default());
        let ip: IpAddr = [127, 0, 0, 2].into();
        let other: IpAddr = [127, 0, 0, 3].into();
        let cap = NonZeroUsize::new(2);
        let a = slots.take(ip, cap).unwrap();
        let _b = slots.take(ip, cap).unwrap();
        assert!(slots.take(ip, cap).is_none());
        assert_eq!(slots.held(ip), 2);
        assert!(
            slots.take(other, cap).is_some(),
            "another address has its own cap"
        );
        drop(a);
        assert!(slots.take(ip, cap).is_some());
        assert!(slots.take(ip, None).is_some(), "no cap");
        drop(_b);
        assert_eq!(slots.addresses(), 0, "every place given back");
    }

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
