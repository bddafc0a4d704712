//! The wire timestamp.
//!
//! The original service serializes JavaScript `Date`s, which JSON renders as ISO 8601 strings with
//! milliseconds (`2024-12-01T09:30:00.000Z`). Servers written against the protocol sometimes send epoch
//! milliseconds instead; [`Timestamp`] accepts both on input and keeps what it was given, so a load
//! generator can compare and echo timestamps without caring which form a team chose.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A timestamp exactly as it appeared on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timestamp(String);

impl Timestamp {
    /// Wraps a string already in wire form.
    pub fn new(s: impl Into<String>) -> Self {
        Timestamp(s.into())
    }

    /// The wire form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when no timestamp was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Timestamp {
    fn from(s: String) -> Self {
        Timestamp(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Text(String),
            Int(i64),
            Float(f64),
            Null(()),
        }
        Ok(match Wire::deserialize(d)? {
            Wire::Text(s) => Timestamp(s),
            Wire::Int(n) => Timestamp(n.to_string()),
            Wire::Float(n) => Timestamp(format!("{n}")),
            Wire::Null(()) => Timestamp(String::new()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_strings_numbers_and_null() {
        let t: Timestamp = serde_json::from_str(r#""2024-12-01T09:30:00.000Z""#).unwrap();
        assert_eq!(t.as_str(), "2024-12-01T09:30:00.000Z");
        let t: Timestamp = serde_json::from_str("1733045400000").unwrap();
        assert_eq!(t.as_str(), "1733045400000");
        let t: Timestamp = serde_json::from_str("null").unwrap();
        assert!(t.is_empty());
        assert_eq!(
            serde_json::to_string(&Timestamp::new("x")).unwrap(),
            r#""x""#
        );
    }
}
