//! [`Bulkhead`]: a concurrency cap for one kind of work (KakaoTalk's per-type thread caps). A unit of
//! work holds a [`Permit`] while it runs; when all are taken, up to `queue` more may wait (each at
//! most `max_wait`) and anything beyond fails at once, so a flood of one kind can neither queue
//! without bound nor take the capacity of the others.
//!
//! The limit can change while permits are out: growing adds permits at once; shrinking forgets idle
//! permits now and the rest as they are returned (a debt), so the cap converges without revoking work
//! that already started.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

/// Why a bulkhead refused a unit of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every permit taken and the wait queue full: failed without waiting.
    Full,
    /// Waited `max_wait` in the queue without getting a permit.
    TimedOut,
}

/// One kind's concurrency cap.
#[derive(Debug)]
pub struct Bulkhead {
    sem: Arc<Semaphore>,
    /// The configured limit; changed only under this lock.
    limit: Mutex<usize>,
    /// Permits to forget as they come back, after a shrink found them in use.
    debt: AtomicUsize,
    waiting: AtomicUsize,
    refused: AtomicU64,
}

/// A running unit of work; returns its slot when dropped.
#[derive(Debug)]
pub struct Permit {
    permit: Option<OwnedSemaphorePermit>,
    bulkhead: Arc<Bulkhead>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let owed = self
            .bulkhead
            .debt
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| d.checked_sub(1));
        if owed.is_ok() {
            // The limit shrank while this permit was out: it leaves circulation.
            permit.forget();
        }
    }
}

impl Bulkhead {
    /// A bulkhead of `limit` permits.
    pub fn new(limit: usize) -> Arc<Bulkhead> {
        Arc::new(Bulkhead {
            sem: Arc::new(Semaphore::new(limit)),
            limit: Mutex::new(limit),
            debt: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
        })
    }

    /// Takes a permit: at once if one is free, else by waiting in the queue when it has room.
    pub async fn acquire(
        self: &Arc<Self>,
        queue: usize,
        max_wait: Duration,
    ) -> Result<Permit, Refusal> {
        match Arc::clone(&self.sem).try_acquire_owned() {
            Ok(permit) => return Ok(self.wrap(permit)),
            Err(TryAcquireError::Closed) => unreachable!("bulkhead semaphores are never closed"),
            Err(TryAcquireError::NoPermits) => {}
        }
        // Claim a place in the queue, or fail fast when it is full.
        let claimed = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                (w < queue).then_some(w + 1)
            });
        if claimed.is_err() || max_wait.is_zero() {
            if claimed.is_ok() {
                self.waiting.fetch_sub(1, Ordering::AcqRel);
            }
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::Full);
        }
        let waited = tokio::time::timeout(max_wait, Arc::clone(&self.sem).acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match waited {
            Ok(Ok(permit)) => Ok(self.wrap(permit)),
            Ok(Err(_)) => unreachable!("bulkhead semaphores are never closed"),
            Err(_) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(Refusal::TimedOut)
            }
        }
    }

    fn wrap(self: &Arc<Self>, permit: OwnedSemaphorePermit) -> Permit {
        Permit {
            permit: Some(permit),
            bulkhead: Arc::clone(self),
        }
    }

    /// Changes the limit. Work already running keeps its permits.
    pub fn resize(&self, new: usize) {
        let mut limit = self.limit.lock().unwrap_or_else(PoisonError::into_inner);
        let old = *limit;
        if new > old {
            let mut grow = new - old;
            // Cancel outstanding debt first: those permits may now stay in circulation.
            while grow > 0 {
                let paid = self
                    .debt
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| d.checked_sub(1));
                if paid.is_err() {
                    break;
                }
                grow -= 1;
            }
            self.sem.add_permits(grow);
        } else if new < old {
            let shrink = old - new;
            let forgotten = self.sem.forget_permits(shrink);
            self.debt.fetch_add(shrink - forgotten, Ordering::AcqRel);
        }
        *limit = new;
    }

    /// The configured limit.
    pub fn limit(&self) -> usize {
        *self.limit.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Units waiting for a permit now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    /// Units refused so far (queue full or waited too long).
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Permits free now (for tests and metrics).
    pub fn available(&self) -> usize {
        self.sem.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_WAIT: Duration = Duration::ZERO;

    #[tokio::test]
    async fn overflow_fails_fast_and_permits_return_on_drop() {
        let b = Bulkhead::new(2);
        let p1 = b.acquire(0, NO_WAIT).await.unwrap();
        let _p2 = b.acquire(0, NO_WAIT).await.unwrap();
        assert_eq!(b.acquire(0, NO_WAIT).await.unwrap_err(), Refusal::Full);
        assert_eq!(b.refused(), 1);
        drop(p1);
        assert!(b.acquire(0, NO_WAIT).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_queue_is_bounded_and_waits_at_most_max_wait() {
        let b = Bulkhead::new(1);
        let held = b.acquire(0, NO_WAIT).await.unwrap();
        let wait = Duration::from_secs(2);
        // One place in the queue: the first waiter takes it, the second fails at once.
        let (b1, b2) = (Arc::clone(&b), Arc::clone(&b));
        let first = tokio::spawn(async move { b1.acquire(1, wait).await.map(drop) });
        tokio::task::yield_now().await;
        assert_eq!(b.waiting(), 1);
        assert_eq!(b2.acquire(1, wait).await.unwrap_err(), Refusal::Full);
        // The waiter gets the permit as soon as it is returned.
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop(held);
        assert_eq!(first.await.unwrap(), Ok(()));
        assert_eq!(b.waiting(), 0);
        // A waiter that never gets one gives up after max_wait.
        let _held = b.acquire(0, NO_WAIT).await.unwrap();
        let started = tokio::time::Instant::now();
        assert_eq!(b.acquire(1, wait).await.unwrap_err(), Refusal::TimedOut);
        assert_eq!(started.elapsed(), wait);
        assert_eq!(b.refused(), 2);
    }

    #[tokio::test]
    async fn shrinking_takes_effect_as_running_work_finishes() {
        let b = Bulkhead::new(3);
        let held: Vec<_> = [(); 3].iter().map(|_| b.wrap_try()).collect();
        b.resize(1);
        assert_eq!(b.limit(), 1);
        drop(held); // two are forgotten as they return, one stays
        assert_eq!(b.available(), 1);
        let _one = b.acquire(0, NO_WAIT).await.unwrap();
        assert!(b.acquire(0, NO_WAIT).await.is_err());
        b.resize(4);
        assert_eq!(b.available(), 3);
    }

    #[tokio::test]
    async fn growing_while_in_debt_cancels_the_debt_first() {
        let b = Bulkhead::new(2);
        let held: Vec<_> = [(); 2].iter().map(|_| b.wrap_try()).collect();
        b.resize(1); // both in use: one permit owed
        b.resize(2); // the debt is cancelled instead of adding a permit
        assert_eq!(b.available(), 0);
        drop(held);
        assert_eq!(b.available(), 2);
    }

    impl Bulkhead {
        fn wrap_try(self: &Arc<Self>) -> Permit {
            self.wrap(Arc::clone(&self.sem).try_acquire_owned().unwrap())
        }
    }
}
