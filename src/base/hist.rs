//! The histogram codec every layer shares: latency histograms in microseconds, their base64
//! encoding (HdrHistogram V2 + DEFLATE, as interval logs use), and one interval's histogram of one
//! operation for the interval log. Summaries carry encoded histograms so percentiles can be
//! recomputed, merged and rescored offline; this module is the one place that knows the format.

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};

use super::kinds::Op;

/// A latency histogram in microseconds with 3 significant figures, growing only as far as the
/// largest value recorded.
pub type Hist = Histogram<u64>;

/// An empty [`Hist`].
pub fn new_hist() -> Hist {
    Histogram::new(3).expect("3 significant figures is a valid precision")
}

/// Microseconds as milliseconds.
pub fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// Encodes a histogram as HdrHistogram V2 + DEFLATE in base64, the form interval logs use.
pub fn encode_hist(h: &Hist) -> String {
    let mut bytes = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut bytes) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(bytes),
        Err(_) => String::new(),
    }
}

/// Decodes what [`encode_hist`] produced.
pub fn decode_hist(s: &str) -> Option<Hist> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .ok()
}

/// One interval's histogram of one operation, for the HdrHistogram interval log.
#[derive(Debug, Clone, PartialEq)]
pub struct HlogEntry {
    /// Interval start, seconds since the run started.
    pub start_secs: f64,
    /// Interval length, seconds.
    pub length_secs: f64,
    /// Operation (the log's tag).
    pub op: Op,
    /// Largest value, ms (the log's max column).
    pub max_ms: f64,
    /// Encoded histogram (V2 + DEFLATE, base64).
    pub encoded: String,
}
