//! Load levels: a utilization signal → level 0–3, with hysteresis. Pure: the caller measures the
//! signal and passes the time, so tests drive it sample by sample. The sampling task that feeds it
//! lives in [`Overload`](super::Overload).
//!
//! Rising needs the signal to ask for a higher level for `rise_after` (a second by default: one late
//! wake-up is not a surge), then goes straight to the level the signal asks for; falling needs the
//! signal to stay `exit_margin` below the threshold of the current level for `cool_down`, one level
//! at a time, so a signal hovering at a boundary does not flap between two levels.

use std::time::Duration;

use tokio::time::Instant;

use super::config::LevelsConfig;

/// Highest load level.
pub const MAX_LEVEL: u8 = 3;

/// Share of `elapsed` that `workers` worker threads spent busy, from the growth of their summed busy
/// time (0 to 1; 0 for an empty interval or no workers).
pub fn busy_ratio(busy: Duration, elapsed: Duration, workers: usize) -> f64 {
    let capacity = elapsed.as_secs_f64() * workers as f64;
    if capacity <= 0.0 {
        return 0.0;
    }
    (busy.as_secs_f64() / capacity).clamp(0.0, 1.0)
}

/// Utilization from the two signals: work in flight against capacity, and scheduler lag against the
/// lag that counts as full. The larger one wins.
pub fn utilization(in_flight: u64, capacity: u64, lag: Duration, lag_at_full: Duration) -> f64 {
    let busy = if capacity == 0 {
        0.0
    } else {
        in_flight as f64 / capacity as f64
    };
    let lagging = lag.as_secs_f64() / lag_at_full.as_secs_f64().max(f64::MIN_POSITIVE);
    busy.max(lagging)
}

/// The level state machine.
#[derive(Debug, Clone)]
pub struct LevelTracker {
    level: u8,
    /// Since when the signal has asked for a higher level.
    rising_since: Option<Instant>,
    /// Since when the signal has been low enough to leave the current level.
    calm_since: Option<Instant>,
}

impl Default for LevelTracker {
    fn default() -> Self {
        LevelTracker::new()
    }
}

impl LevelTracker {
    /// Starts at level 0.
    pub fn new() -> Self {
        LevelTracker {
            level: 0,
            rising_since: None,
            calm_since: None,
        }
    }

    /// The current level.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// Feeds one sample of `utilization` taken at `now`; returns the level after it.
    pub fn observe(&mut self, utilization: f64, now: Instant, config: &LevelsConfig) -> u8 {
        if let Some(forced) = config.force {
            self.level = forced.min(MAX_LEVEL);
            self.rising_since = None;
            self.calm_since = None;
            return self.level;
        }
        // The level the signal asks for right now, without hysteresis.
        let target = config.enter.iter().filter(|&&e| utilization >= e).count() as u8;
        if target > self.level {
            // Rising: once the signal has insisted for `rise_after`. Any calm period is over.
            self.calm_since = None;
            let since = *self.rising_since.get_or_insert(now);
            if now.duration_since(since) >= config.rise_after {
                self.level = target;
                self.rising_since = None;
            }
            return self.level;
        }
        self.rising_since = None;
        if target == self.level {
            self.calm_since = None;
            return self.level;
        }
        let threshold = config.enter[usize::from(self.level) - 1];
        if utilization > threshold - config.exit_margin {
            // Below the level's threshold but inside the margin: not calm yet.
            self.calm_since = None;
            return self.level;
        }
        let since = *self.calm_since.get_or_insert(now);
        if now.duration_since(since) >= config.cool_down {
            // One level down per cool-down: the next level must prove itself calm too.
            self.level -= 1;
            self.calm_since = None;
        }
        self.level
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LevelsConfig {
        LevelsConfig {
            enter: [0.5, 0.75, 0.95],
            exit_margin: 0.1,
            cool_down: Duration::from_secs(5),
            rise_after: Duration::ZERO,
            ..LevelsConfig::default()
        }
    }

    #[test]
    fn busy_ratio_is_busy_time_over_all_workers_time() {
        let s = Duration::from_secs;
        assert_eq!(busy_ratio(Duration::from_millis(500), s(1), 2), 0.25);
        assert_eq!(busy_ratio(s(2), s(1), 2), 1.0);
        // A worker's busy time can run ahead of the sampler's clock by a little: never above 1.
        assert_eq!(busy_ratio(s(3), s(1), 2), 1.0);
        assert_eq!(busy_ratio(s(1), Duration::ZERO, 2), 0.0);
        assert_eq!(busy_ratio(s(1), s(1), 0), 0.0);
    }

    #[test]
    fn utilization_takes_the_larger_signal() {
        let full = Duration::from_millis(200);
        assert_eq!(utilization(10, 100, Duration::ZERO, full), 0.1);
        assert_eq!(utilization(10, 100, Duration::from_millis(100), full), 0.5);
        assert_eq!(utilization(0, 0, Duration::from_millis(400), full), 2.0);
    }

    #[test]
    fn rises_at_once_to_the_level_the_signal_asks_for() {
        let c = config();
        let t = Instant::now();
        let mut levels = LevelTracker::new();
        assert_eq!(levels.observe(0.2, t, &c), 0);
        assert_eq!(levels.observe(0.5, t, &c), 1);
        assert_eq!(levels.observe(0.99, t, &c), 3);
        assert_eq!(levels.observe(3.0, t, &c), 3);
    }

    #[test]
    fn falls_one_level_per_cool_down_and_only_below_the_margin() {
        let c = config();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut levels = LevelTracker::new();
        assert_eq!(levels.observe(0.8, t0, &c), 2);
        // 0.7 is below level 2's threshold (0.75) but inside the margin (0.65): stays, for ever.
        for i in 1..=20 {
            assert_eq!(levels.observe(0.7, t0 + s(i), &c), 2);
        }
        // Calm from t0+21 s: still level 2 until the cool-down has passed...
        assert_eq!(levels.observe(0.1, t0 + s(21), &c), 2);
        assert_eq!(levels.observe(0.1, t0 + s(25), &c), 2);
        // ...then one level down, and the next level needs its own calm period.
        assert_eq!(levels.observe(0.1, t0 + s(26), &c), 1);
        assert_eq!(levels.observe(0.1, t0 + s(27), &c), 1);
        assert_eq!(levels.observe(0.1, t0 + s(31), &c), 1);
        assert_eq!(levels.observe(0.1, t0 + s(32), &c), 0);
    }

    #[test]
    fn a_spike_during_the_cool_down_restarts_it() {
        let c = config();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut levels = LevelTracker::new();
        assert_eq!(levels.observe(0.6, t0, &c), 1);
        assert_eq!(levels.observe(0.1, t0 + s(1), &c), 1);
        assert_eq!(levels.observe(0.45, t0 + s(4), &c), 1); // inside the margin: calm is broken
        assert_eq!(levels.observe(0.1, t0 + s(5), &c), 1);
        assert_eq!(levels.observe(0.1, t0 + s(9), &c), 1);
        assert_eq!(levels.observe(0.1, t0 + s(10), &c), 0);
    }

    #[test]
    fn rising_needs_the_signal_to_insist() {
        let c = LevelsConfig {
            rise_after: Duration::from_secs(1),
            ..config()
        };
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut levels = LevelTracker::new();
        // A single late wake-up, then calm: no level.
        assert_eq!(levels.observe(0.99, t0, &c), 0);
        assert_eq!(levels.observe(0.01, t0 + ms(250), &c), 0);
        assert_eq!(levels.observe(0.99, t0 + ms(1500), &c), 0);
        // Insisting for a second (at varying strength) rises to what the signal asks for then.
        assert_eq!(levels.observe(0.6, t0 + ms(2000), &c), 0);
        assert_eq!(levels.observe(0.8, t0 + ms(2500), &c), 2);
    }

    #[test]
    fn a_forced_level_overrides_the_signal() {
        let mut c = config();
        c.force = Some(3);
        let t = Instant::now();
        let mut levels = LevelTracker::new();
        assert_eq!(levels.observe(0.0, t, &c), 3);
        c.force = None;
        // Back to the signal, with the usual way down.
        assert_eq!(levels.observe(0.0, t, &c), 3);
        assert_eq!(levels.observe(0.0, t + Duration::from_secs(5), &c), 2);
    }
}
