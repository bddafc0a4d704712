//! `latency.hlog`: the run's per-second latency histograms as an HdrHistogram interval log, for
//! `HistogramLogProcessor`, HdrHistogram plotters and the `hdrhistogram` crate's
//! `IntervalLogIterator`.
//!
//! Layout: a `#[Histogram log format version 1.3]` comment, `#[StartTime: …]` and `#[BaseTime: …]`
//! both set to the run's start (so interval timestamps are seconds since the run started), a
//! `#[MaxValueDivisor: 1000.000]` line, then one line per (interval, operation) that recorded
//! anything: `Tag=<op>,<start>,<length>,<max ms>,<histogram>`. Values inside the histograms are
//! microseconds (V2 + DEFLATE, base64); only the max column is scaled to ms. Every line is tagged,
//! so the Java processor needs `-tag <op>` (e.g. `-tag delivery`) to pick an operation.

use std::io;
use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, IntervalLogWriterError, LogEntry, Tag,
};

use crate::base::hist::{HlogEntry, decode_hist};
use crate::base::kinds::Op;

/// Values are µs; dividing the max column by this makes it ms, like the rest of the reports.
const MAX_VALUE_DIVISOR: f64 = 1000.0;

/// Failure to produce the interval log.
#[derive(Debug, thiserror::Error)]
pub enum HlogError {
    /// Writing failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// An entry's histogram is not valid V2 + DEFLATE base64.
    #[error("the {op} histogram of the interval at {start_secs} s does not decode")]
    Decode {
        /// The entry's operation name.
        op: &'static str,
        /// The entry's start.
        start_secs: f64,
    },
    /// An entry's start or length is negative or not a number.
    #[error("the {op} interval at {start_secs} s lasting {length_secs} s is not a valid interval")]
    BadInterval {
        /// The entry's operation name.
        op: &'static str,
        /// The entry's start.
        start_secs: f64,
        /// The entry's length.
        length_secs: f64,
    },
    /// Re-encoding a histogram failed.
    #[error("cannot encode a histogram: {0}")]
    Serialize(String),
    /// A log being read back does not parse (the message says where).
    #[error("not an interval log written by stampede: {0}")]
    Parse(String),
}

/// The instant an RFC 3339 `started_at` names, if it parses.
pub fn parse_started_at(started_at: &str) -> Option<SystemTime> {
    let t = time::OffsetDateTime::parse(started_at, &time::format_description::well_known::Rfc3339)
        .ok()?;
    Some(t.into())
}

/// Writes `entries` as an interval log whose timestamps count from `started_at`. Entries are written
/// in order of start, and within an interval in report order of operation.
pub fn write_hlog<W: io::Write>(
    out: &mut W,
    started_at: SystemTime,
    entries: &[HlogEntry],
) -> Result<(), HlogError> {
    let mut order: Vec<&HlogEntry> = entries.iter().collect();
    order.sort_by(|a, b| a.start_secs.total_cmp(&b.start_secs).then(a.op.cmp(&b.op)));

    let mut serializer = V2DeflateSerializer::new();
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment("[Histogram log format version 1.3]")
        .add_comment(&format!(
            "[Logged with stampede {}: latency per operation in microseconds, tag = operation, \
             max column in ms]",
            env!("CARGO_PKG_VERSION")
        ))
        .with_start_time(started_at)
        .with_base_time(started_at)
        .with_max_value_divisor(MAX_VALUE_DIVISOR)
        .begin_log_with(out, &mut serializer)?;

    for e in order {
        let op = e.op.name();
        let bad = || HlogError::BadInterval {
            op,
            start_secs: e.start_secs,
            length_secs: e.length_secs,
        };
        let start = Duration::try_from_secs_f64(e.start_secs).map_err(|_| bad())?;
        let length = Duration::try_from_secs_f64(e.length_secs).map_err(|_| bad())?;
        let hist = decode_hist(&e.encoded).ok_or(HlogError::Decode {
            op,
            start_secs: e.start_secs,
        })?;
        // Op names are snake_case, so they never hold the characters a tag may not.
        let tag = Tag::new(op);
        log.write_histogram(&hist, start, length, tag)
            .map_err(|err| match err {
                IntervalLogWriterError::IoError(e) => HlogError::Io(e),
                IntervalLogWriterError::SerializeError(e) => HlogError::Serialize(format!("{e:?}")),
            })?;
    }
    Ok(())
}

/// Reads back what [`write_hlog`] wrote: one entry per tagged interval, its start and length in
/// seconds since the run started. Untagged intervals and tags that name no operation of this
/// build are refused: they are not this tool's.
pub fn read_hlog(bytes: &[u8]) -> Result<Vec<HlogEntry>, HlogError> {
    let mut entries = Vec::new();
    for entry in IntervalLogIterator::new(bytes) {
        let entry = entry.map_err(|e| HlogError::Parse(format!("{e:?}")))?;
        let LogEntry::Interval(h) = entry else {
            continue;
        };
        let tag = h.tag().map(|t| t.as_str().to_owned()).unwrap_or_default();
        let op = Op::from_name(&tag)
            .ok_or_else(|| HlogError::Parse(format!("interval tagged {tag:?}")))?;
        entries.push(HlogEntry {
            start_secs: h.start_timestamp().as_secs_f64(),
            length_secs: h.duration().as_secs_f64(),
            op,
            max_ms: h.max(),
            encoded: h.encoded_histogram().to_owned(),
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::kinds::Op;
    use crate::report::fixture;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    fn started() -> SystemTime {
        parse_started_at("2024-12-06T09:30:00.250Z").unwrap()
    }

    #[test]
    fn started_at_parses_rfc3339() {
        let t = started().duration_since(SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(t.as_millis(), 1_733_477_400_250);
        assert_eq!(parse_started_at("yesterday"), None);
    }

    #[test]
    fn reads_back_with_interval_log_iterator() {
        // Written out of order: the log must still be sorted by start, then operation.
        let mut entries = fixture::hlog();
        entries.reverse();
        let mut buf = Vec::new();
        write_hlog(&mut buf, started(), &entries).unwrap();
        let text = String::from_utf8(buf.clone()).unwrap();
        assert!(
            text.starts_with("#[Histogram log format version 1.3]\n"),
            "{text}"
        );
        assert!(text.contains("#[MaxValueDivisor: 1000.000]\n"));

        let mut start_time = None;
        let mut base_time = None;
        let mut intervals = Vec::new();
        for e in IntervalLogIterator::new(&buf) {
            match e.unwrap() {
                LogEntry::StartTime(t) => start_time = Some(t),
                LogEntry::BaseTime(t) => base_time = Some(t),
                LogEntry::Interval(h) => intervals.push((
                    h.tag().map(|t| t.as_str().to_string()),
                    h.start_timestamp(),
                    h.duration(),
                    h.max(),
                    h.encoded_histogram().to_string(),
                )),
            }
        }
        let epoch = |d: Duration| SystemTime::UNIX_EPOCH + d;
        assert_eq!(start_time.map(epoch), Some(started()));
        assert_eq!(base_time.map(epoch), Some(started()));

        let mut expected = fixture::hlog();
        expected.sort_by(|a, b| a.start_secs.total_cmp(&b.start_secs).then(a.op.cmp(&b.op)));
        assert_eq!(intervals.len(), expected.len());
        for ((tag, start, length, max, encoded), e) in intervals.iter().zip(&expected) {
            assert_eq!(tag.as_deref(), Some(e.op.name()));
            assert_eq!(start.as_secs_f64(), e.start_secs);
            assert_eq!(length.as_secs_f64(), e.length_secs);
            assert!((max - e.max_ms).abs() < 0.001, "max {max} vs {}", e.max_ms);
            let got = decode_hist(encoded).unwrap();
            let want = decode_hist(&e.encoded).unwrap();
            assert_eq!(got.len(), want.len());
            assert_eq!(got.max(), want.max());
            assert_eq!(got.value_at_quantile(0.99), want.value_at_quantile(0.99));
        }
        // Within one interval, operations keep their report order.
        assert_eq!(intervals[0].0.as_deref(), Some(Op::Login.name()));
        assert_eq!(intervals[1].0.as_deref(), Some(Op::Delivery.name()));
    }

    #[test]
    fn what_is_written_reads_back() {
        let entries = fixture::hlog();
        let mut buf = Vec::new();
        write_hlog(&mut buf, started(), &entries).unwrap();
        let mut back = read_hlog(&buf).unwrap();
        let mut expected = entries.clone();
        expected.sort_by(|a, b| a.start_secs.total_cmp(&b.start_secs).then(a.op.cmp(&b.op)));
        back.sort_by(|a, b| a.start_secs.total_cmp(&b.start_secs).then(a.op.cmp(&b.op)));
        assert_eq!(back.len(), expected.len());
        for (b, e) in back.iter().zip(&expected) {
            assert_eq!(
                (b.op, b.start_secs, b.length_secs),
                (e.op, e.start_secs, e.length_secs)
            );
            assert_eq!(
                decode_hist(&b.encoded).unwrap(),
                decode_hist(&e.encoded).unwrap()
            );
        }
        assert!(read_hlog(b"Tag=gremlins,0.0,1.0,1.0,HISTFAAAAA==\n").is_err());
    }

    #[test]
    fn an_empty_run_is_a_valid_log() {
        let mut buf = Vec::new();
        write_hlog(&mut buf, started(), &[]).unwrap();
        let entries: Vec<_> = IntervalLogIterator::new(&buf).map(Result::unwrap).collect();
        assert_eq!(entries.len(), 2, "StartTime and BaseTime only");
    }

    #[test]
    fn broken_entries_are_refused() {
        let mut entries = fixture::hlog();
        entries[1].encoded = "garbage".into();
        let err = write_hlog(&mut Vec::new(), started(), &entries).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the delivery histogram of the interval at 0 s does not decode"
        );

        let mut entries = fixture::hlog();
        entries[0].length_secs = f64::NAN;
        let err = write_hlog(&mut Vec::new(), started(), &entries).unwrap_err();
        assert!(matches!(err, HlogError::BadInterval { .. }), "{err}");
    }
}
