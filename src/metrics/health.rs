//! The generator watching itself: CPU time, resident memory and scheduler lag.
//!
//! A load generator that is itself saturated reports the server as slow when it is not. Every run
//! records how busy the generator was, and [`HealthTracker::verdict`] says when the results may be
//! the generator's fault rather than the target's. CPU and memory come from `/proc/self` (Linux);
//! elsewhere they read as zero and only scheduler lag is judged.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Linux reports process CPU time in clock ticks of `USER_HZ`, which is 100 on every mainstream
/// kernel configuration (it is fixed by the ABI, independent of the kernel's internal `HZ`).
const USER_HZ: f64 = 100.0;

/// Scheduler lag above this p99 means timers (and so socket reads and latency timestamps) ran late.
pub const LAG_P99_LIMIT_MS: f64 = 50.0;

/// Share of one-second intervals at or above [`CPU_BUSY_SHARE`] of all cores that marks the generator
/// as a possible bottleneck.
pub const BUSY_INTERVALS_LIMIT: f64 = 0.10;

/// CPU use, as a share of all cores, that counts as a busy interval.
pub const CPU_BUSY_SHARE: f64 = 0.90;

/// Name prefix of the threads that run the load engine. When a process names its runtime threads with
/// it (the `stampede` binary does), only those threads' CPU time counts as the generator's, so a
/// server embedded in the same process (`stampede demo`, tests) is not mistaken for generator load.
pub const ENGINE_THREAD_PREFIX: &str = "stampede-";

/// CPU time and memory of this process, read from `/proc/self`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    /// User plus system CPU time.
    pub cpu: Duration,
    /// Resident set size, bytes.
    pub rss_bytes: u64,
    /// Peak resident set size, bytes.
    pub peak_rss_bytes: u64,
}

impl ProcessStats {
    /// Reads the current figures; zeros where `/proc` is unavailable.
    ///
    /// CPU time is that of the engine's threads ([`ENGINE_THREAD_PREFIX`]) when there are any, else of
    /// the whole process.
    pub fn read() -> ProcessStats {
        let mut stats = ProcessStats::default();
        let ticks = engine_thread_ticks().unwrap_or_else(|| {
            std::fs::read_to_string("/proc/self/stat")
                .ok()
                .and_then(|stat| cpu_ticks(&stat).map(|(_, t)| t))
                .unwrap_or(0)
        });
        stats.cpu = Duration::from_secs_f64(ticks as f64 / USER_HZ);
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            for line in status.lines() {
                let kib = |l: &str| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0)
                        * 1024
                };
                if line.starts_with("VmRSS:") {
                    stats.rss_bytes = kib(line);
                } else if line.starts_with("VmHWM:") {
                    stats.peak_rss_bytes = kib(line);
                }
            }
        }
        stats
    }
}

/// The command name and utime + stime (clock ticks) of a `/proc/.../stat` line.
fn cpu_ticks(stat: &str) -> Option<(&str, u64)> {
    // The command name is parenthesized and may itself contain spaces and parentheses.
    let open = stat.find('(')?;
    let (name, rest) = stat[open + 1..].rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the full line, 12 and 13 after ')'.
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Some((name, field(11) + field(12)))
}

/// CPU ticks of the threads named with [`ENGINE_THREAD_PREFIX`], or `None` when no thread is.
fn engine_thread_ticks() -> Option<u64> {
    let mut total = None;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        if let Some((name, ticks)) = cpu_ticks(&stat)
            && name.starts_with(ENGINE_THREAD_PREFIX)
        {
            *total.get_or_insert(0) += ticks;
        }
    }
    total
}

/// Cores this process may use.
pub fn available_cores() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1)
}

/// Accumulates the generator's health over a run.
#[derive(Debug)]
pub struct HealthTracker {
    cores: u32,
    last: ProcessStats,
    last_at: Instant,
    lag: Histogram<u64>,
    interval_lag_max: Duration,
    cpu_samples: Vec<f64>,
    peak_rss: u64,
}

/// Health figures of one closed interval.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct IntervalHealth {
    /// CPU use, percent of one core.
    pub cpu_percent: f64,
    /// Worst scheduler lag, ms.
    pub lag_ms: f64,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
}

/// The verdict over a whole run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthVerdict {
    /// Mean CPU, percent of one core.
    pub cpu_percent_mean: f64,
    /// Highest one-second CPU, percent of one core.
    pub cpu_percent_max: f64,
    /// Cores available.
    pub cores: u32,
    /// Scheduler lag p99, ms.
    pub lag_p99_ms: f64,
    /// Worst scheduler lag, ms.
    pub lag_max_ms: f64,
    /// Peak resident memory, bytes.
    pub peak_rss_bytes: u64,
    /// True when the generator may have limited the results.
    pub bottleneck: bool,
    /// Why, in words.
    pub warnings: Vec<String>,
}

impl Default for HealthTracker {
    fn default() -> Self {
        HealthTracker::new()
    }
}

impl HealthTracker {
    /// Starts tracking now.
    pub fn new() -> HealthTracker {
        let last = ProcessStats::read();
        HealthTracker {
            cores: available_cores(),
            last,
            last_at: Instant::now(),
            // Lag in microseconds; auto-resizing so it costs little until lag is large.
            lag: Histogram::new(3).expect("3 significant figures is a valid precision"),
            interval_lag_max: Duration::ZERO,
            cpu_samples: Vec::new(),
            peak_rss: last.peak_rss_bytes,
        }
    }

    /// Records how late a timer fired.
    pub fn record_lag(&mut self, lag: Duration) {
        let _ = self.lag.record(lag.as_micros() as u64);
        self.interval_lag_max = self.interval_lag_max.max(lag);
    }

    /// Closes an interval: CPU since the last call, worst lag since the last call, memory now.
    pub fn close_interval(&mut self) -> IntervalHealth {
        let now = Instant::now();
        let stats = ProcessStats::read();
        let wall = now.duration_since(self.last_at).as_secs_f64();
        let cpu = stats.cpu.saturating_sub(self.last.cpu).as_secs_f64();
        let cpu_percent = if wall > 0.0 { cpu / wall * 100.0 } else { 0.0 };
        self.cpu_samples.push(cpu_percent);
        self.peak_rss = self.peak_rss.max(stats.peak_rss_bytes).max(stats.rss_bytes);
        self.last = stats;
        self.last_at = now;
        let lag = std::mem::take(&mut self.interval_lag_max);
        IntervalHealth {
            cpu_percent,
            lag_ms: lag.as_secs_f64() * 1000.0,
            rss_bytes: stats.rss_bytes,
        }
    }

    /// Cores available.
    pub fn cores(&self) -> u32 {
        self.cores
    }

    /// True when the intervals so far already point at the generator.
    pub fn bottleneck_now(&self) -> bool {
        self.verdict().bottleneck
    }

    /// Judges the run so far.
    pub fn verdict(&self) -> HealthVerdict {
        let n = self.cpu_samples.len().max(1) as f64;
        let mean = self.cpu_samples.iter().sum::<f64>() / n;
        let max = self.cpu_samples.iter().copied().fold(0.0, f64::max);
        let busy_limit = self.cores as f64 * 100.0 * CPU_BUSY_SHARE;
        let busy = self
            .cpu_samples
            .iter()
            .filter(|&&c| c >= busy_limit)
            .count();
        let busy_share = busy as f64 / n;
        let lag_p99 = self.lag.value_at_quantile(0.99) as f64 / 1000.0;
        let lag_max = self.lag.max() as f64 / 1000.0;
        let mut warnings = Vec::new();
        if busy_share >= BUSY_INTERVALS_LIMIT && busy > 0 {
            warnings.push(format!(
                "generator CPU was at or above {:.0}% of {} core(s) in {busy} of {} seconds; \
                 latencies may include time waiting for the generator",
                CPU_BUSY_SHARE * 100.0,
                self.cores,
                self.cpu_samples.len()
            ));
        }
        if lag_p99 > LAG_P99_LIMIT_MS {
            warnings.push(format!(
                "generator scheduler lag p99 was {lag_p99:.1} ms (limit {LAG_P99_LIMIT_MS} ms); \
                 timestamps may be late"
            ));
        }
        HealthVerdict {
            cpu_percent_mean: mean,
            cpu_percent_max: max,
            cores: self.cores,
            lag_p99_ms: lag_p99,
            lag_max_ms: lag_max,
            peak_rss_bytes: self.peak_rss,
            bottleneck: !warnings.is_empty(),
            warnings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let s = ProcessStats::read();
        if cfg!(target_os = "linux") {
            assert!(s.rss_bytes > 0);
            assert!(s.peak_rss_bytes >= s.rss_bytes / 2);
        }
    }

    #[test]
    fn stat_lines_parse_with_odd_command_names() {
        let line = "42 (stampede-w (1)) S 1 2 3 4 5 6 7 8 9 10 150 50 0 0 20 0 1 0";
        assert_eq!(cpu_ticks(line), Some(("stampede-w (1)", 200)));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn named_engine_threads_are_found() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("{ENGINE_THREAD_PREFIX}probe"))
            .spawn(move || {
                let _ = rx.recv();
            })
            .unwrap();
        assert!(engine_thread_ticks().is_some(), "the named thread is found");
        tx.send(()).unwrap();
        thread.join().unwrap();
    }

    #[test]
    fn lag_above_the_limit_is_a_bottleneck() {
        let mut h = HealthTracker::new();
        for _ in 0..100 {
            h.record_lag(Duration::from_millis(1));
        }
        h.close_interval();
        assert!(!h.verdict().bottleneck);
        for _ in 0..10 {
            h.record_lag(Duration::from_millis(200));
        }
        let v = h.verdict();
        assert!(v.bottleneck, "{v:?}");
        assert!(v.warnings[0].contains("scheduler lag"));
    }

    #[test]
    fn busy_cpu_is_a_bottleneck() {
        let mut h = HealthTracker::new();
        let busy = h.cores as f64 * 100.0;
        h.cpu_samples = vec![busy, busy, 10.0, 10.0];
        let v = h.verdict();
        assert!(v.bottleneck);
        assert!(v.warnings[0].contains("CPU"));
        h.cpu_samples = vec![10.0; 20];
        assert!(!h.verdict().bottleneck);
    }
}
