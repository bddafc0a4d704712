//! `ScoringRules`: the limits a user level must stay within and the tie-break order, loadable from
//! TOML.
//!
//! Owns the numbers and their validation only; applying them to a run is
//! [`score`](fn@super::score::score).
//! Every default is a named constant here with the reason for its value, and `docs/scoring.md` plus
//! `docs/scoring-rules.toml` repeat them for people (a test keeps that file equal to the defaults).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Default [`ScoringRules::max_vu_failure_ratio`]: 1 %. Zero would let one unlucky VU (a connection
/// dropped on the generator's side of the network) decide a match; one in a hundred keeps that noise
/// out while still breaking a level where failures become systematic. At the first level of the
/// competition profile (100 users) it tolerates exactly one failed VU.
pub const DEFAULT_MAX_VU_FAILURE_RATIO: f64 = 0.01;

/// Default [`ScoringRules::max_request_failure_ratio`]: 1 %, the usual 99 % success objective (k6's
/// documentation uses `http_req_failed: rate<0.01` as its example threshold). Lost chat messages count
/// here, because every expected delivery is a request.
pub const DEFAULT_MAX_REQUEST_FAILURE_RATIO: f64 = 0.01;

/// Default [`ScoringRules::delivery_p99_slo_ms`]: 1 s. People in a conversation notice a message that
/// takes longer than about a second to appear; Centrifugo holds p99 200 ms at 500k messages/s on 40
/// cores, so one second leaves the competition's 2-vCPU instances five times that headroom. It sits
/// well below the scenario's delivery deadline (10 s in `ktb-2024`), so the SLO judges slowness and the
/// deadline judges loss.
pub const DEFAULT_DELIVERY_P99_SLO_MS: f64 = 1000.0;

/// The percentile the delivery SLO is stated at. A level's delivery p99 counts every *expected*
/// delivery, a missing one as infinitely late, so more than 1 % missing breaks the SLO.
pub const DELIVERY_PERCENTILE: u64 = 99;

/// The rules a match is scored by. Every field has a default, so an empty TOML file is valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoringRules {
    /// Largest share of VUs that may fail during a level for it to hold: VUs failed in the level
    /// divided by VUs active in it (still running at its end plus those that failed during it).
    pub max_vu_failure_ratio: f64,
    /// Largest share of requests that may fail during a level: failed divided by all requests
    /// completed in the level, where every expected message delivery counts as a request (a delivered
    /// message is a success, a missing one a failure).
    pub max_request_failure_ratio: f64,
    /// Delivery p99 limit of a level, milliseconds. Missing deliveries count as infinitely late, and a
    /// level that sent chat messages but measured no delivery at all breaks it.
    pub delivery_p99_slo_ms: f64,
    /// Optional p99 limit on every other request of a level, milliseconds; off by default because the
    /// competition judged requests by success and failure only (its 30 s step timeout already fails
    /// slow requests).
    pub request_p99_slo_ms: Option<f64>,
    /// Whether read receipts and reaction updates count as requests of their level: each expected
    /// one told in time a success, each missing one a failure, in the request failure ratio and the
    /// request tie-breaks. Off by default: the competition never checked them, so a server that
    /// thins them on purpose is not judged for it unless the organizers say so.
    pub count_receipts: bool,
    /// Optional p99 limit on read receipts of a level, milliseconds, over every expected receipt (a
    /// missing one counting as infinitely late). Off by default, like `count_receipts`.
    pub receipt_p99_slo_ms: Option<f64>,
    /// When true (the default), the sustained level is the last of the unbroken run of levels from
    /// the first one: a server that broke at 500 users and recovered at 1,000 did not sustain 1,000.
    /// When false, it is the highest level that held, wherever it is.
    pub require_contiguous: bool,
    /// Whether a level the run cut short (interrupted before its planned end) can count as held.
    /// Off by default: failures that would have come later in the level were never observed.
    pub count_incomplete_levels: bool,
    /// Whether a match is void when the load generator reported itself as a possible bottleneck
    /// during any team's run. A void match has no winner and can be replayed.
    pub void_on_generator_bottleneck: bool,
    /// Whether a match is void when a team's run was interrupted (`partial`): it did not play the
    /// whole plan, so the teams were not compared at every level.
    pub void_on_partial_run: bool,
    /// How teams that sustained the same number of users are ordered, most important first. Each
    /// criterion is compared at the highest user level every tied team completed, then one level
    /// lower, and so on. Criteria left out are not used; each may appear once.
    pub tie_break: Vec<TieBreak>,
}

impl Default for ScoringRules {
    fn default() -> Self {
        ScoringRules {
            max_vu_failure_ratio: DEFAULT_MAX_VU_FAILURE_RATIO,
            max_request_failure_ratio: DEFAULT_MAX_REQUEST_FAILURE_RATIO,
            delivery_p99_slo_ms: DEFAULT_DELIVERY_P99_SLO_MS,
            request_p99_slo_ms: None,
            count_receipts: false,
            receipt_p99_slo_ms: None,
            require_contiguous: true,
            count_incomplete_levels: false,
            void_on_generator_bottleneck: true,
            void_on_partial_run: true,
            tie_break: TieBreak::DEFAULT_ORDER.to_vec(),
        }
    }
}

/// One tie-break criterion, compared at a user level every tied team completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TieBreak {
    /// VUs failed so far at the end of the level (cumulative, as the competition counted them);
    /// fewer is better.
    VusFailed,
    /// Failed requests during the level, lost deliveries included; fewer is better.
    RequestsFailed,
    /// Successful requests during the level, deliveries included; more is better.
    RequestsOk,
    /// VUs started so far without any failure, at the end of the level; more is better. Not in the
    /// default order: under one plan it mirrors `vus_failed`.
    VusPassed,
    /// Delivery p99 of the level, missing deliveries counted as infinitely late; lower is better.
    DeliveryP99,
    /// p99 of every other request during the level; lower is better.
    RequestP99,
}

impl TieBreak {
    /// The default order: the competition's "successes and failures at the same number of users"
    /// first (failures before successes, VUs before requests), then latency, which the competition
    /// never published but which separates otherwise equal servers.
    pub const DEFAULT_ORDER: [TieBreak; 5] = [
        TieBreak::VusFailed,
        TieBreak::RequestsFailed,
        TieBreak::RequestsOk,
        TieBreak::DeliveryP99,
        TieBreak::RequestP99,
    ];

    /// The snake_case name used in rules files.
    pub fn name(self) -> &'static str {
        match self {
            TieBreak::VusFailed => "vus_failed",
            TieBreak::RequestsFailed => "requests_failed",
            TieBreak::RequestsOk => "requests_ok",
            TieBreak::VusPassed => "vus_passed",
            TieBreak::DeliveryP99 => "delivery_p99",
            TieBreak::RequestP99 => "request_p99",
        }
    }

    /// True when a larger value is better.
    pub fn higher_is_better(self) -> bool {
        matches!(self, TieBreak::RequestsOk | TieBreak::VusPassed)
    }

    /// What the criterion measures, in the words of a verdict: "failures", "successes" or "latency".
    pub fn family(self) -> &'static str {
        match self {
            TieBreak::VusFailed | TieBreak::RequestsFailed => "failures",
            TieBreak::RequestsOk | TieBreak::VusPassed => "successes",
            TieBreak::DeliveryP99 | TieBreak::RequestP99 => "latency",
        }
    }
}

impl fmt::Display for TieBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a rules file was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RulesError {
    /// Not valid TOML, an unknown field, or a value of the wrong type (the message names the field
    /// and, for unknown ones, lists the known fields).
    #[error("scoring rules: {0}")]
    Toml(String),
    /// A value outside what the field allows.
    #[error("scoring rules: `{field}` is {value}, but it must be {allowed}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is allowed, in words.
        allowed: &'static str,
    },
}

impl ScoringRules {
    /// Parses and validates a rules file. Missing fields take their defaults.
    pub fn from_toml_str(text: &str) -> Result<ScoringRules, RulesError> {
        let rules: ScoringRules =
            toml::from_str(text).map_err(|e| RulesError::Toml(e.to_string().trim().to_string()))?;
        rules.validate()?;
        Ok(rules)
    }

    /// The rules as a TOML document (every field, `request_p99_slo_ms` only when set).
    pub fn to_toml_string(&self) -> String {
        toml::to_string(self).expect("scoring rules are plain numbers, booleans and names")
    }

    /// Checks every value; the first offending field is reported.
    pub fn validate(&self) -> Result<(), RulesError> {
        ratio("max_vu_failure_ratio", self.max_vu_failure_ratio)?;
        ratio("max_request_failure_ratio", self.max_request_failure_ratio)?;
        millis("delivery_p99_slo_ms", self.delivery_p99_slo_ms)?;
        if let Some(ms) = self.request_p99_slo_ms {
            millis("request_p99_slo_ms", ms)?;
        }
        if let Some(ms) = self.receipt_p99_slo_ms {
            millis("receipt_p99_slo_ms", ms)?;
        }
        let mut seen = BTreeSet::new();
        for t in &self.tie_break {
            if !seen.insert(*t) {
                return Err(RulesError::Invalid {
                    field: "tie_break",
                    value: format!("a list naming `{t}` twice"),
                    allowed: "a list naming each criterion at most once",
                });
            }
        }
        Ok(())
    }
}

fn ratio(field: &'static str, value: f64) -> Result<(), RulesError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(RulesError::Invalid {
            field,
            value: value.to_string(),
            allowed: "a ratio from 0.0 to 1.0 (0.01 is 1 %)",
        })
    }
}

fn millis(field: &'static str, value: f64) -> Result<(), RulesError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(RulesError::Invalid {
            field,
            value: value.to_string(),
            allowed: "a positive number of milliseconds",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(
            ScoringRules::from_toml_str("").unwrap(),
            ScoringRules::default()
        );
    }

    #[test]
    fn sample_rules_file_states_the_defaults() {
        // docs/scoring-rules.toml documents every field with its default value; keep it true.
        let text = include_str!("../../docs/scoring-rules.toml");
        let rules = ScoringRules::from_toml_str(text).unwrap();
        assert_eq!(rules, ScoringRules::default());
        for field in [
            "max_vu_failure_ratio",
            "max_request_failure_ratio",
            "delivery_p99_slo_ms",
            "request_p99_slo_ms",
            "count_receipts",
            "receipt_p99_slo_ms",
            "require_contiguous",
            "count_incomplete_levels",
            "void_on_generator_bottleneck",
            "void_on_partial_run",
            "tie_break",
        ] {
            assert!(text.contains(field), "{field} is not described");
        }
    }

    #[test]
    fn the_strict_sample_judges_receipts_and_request_latency() {
        let text = include_str!("../../docs/scoring-strict.toml");
        let rules = ScoringRules::from_toml_str(text).unwrap();
        assert_eq!(
            rules,
            ScoringRules {
                count_receipts: true,
                receipt_p99_slo_ms: Some(2000.0),
                request_p99_slo_ms: Some(2000.0),
                ..ScoringRules::default()
            }
        );
    }

    #[test]
    fn fields_override_defaults_and_integers_are_accepted() {
        let rules = ScoringRules::from_toml_str(
            "max_vu_failure_ratio = 0.05\ndelivery_p99_slo_ms = 500\nrequest_p99_slo_ms = 2000\n\
             require_contiguous = false\ntie_break = [\"delivery_p99\", \"vus_passed\"]\n",
        )
        .unwrap();
        assert_eq!(rules.max_vu_failure_ratio, 0.05);
        assert_eq!(rules.delivery_p99_slo_ms, 500.0);
        assert_eq!(rules.request_p99_slo_ms, Some(2000.0));
        assert!(!rules.require_contiguous);
        assert_eq!(
            rules.tie_break,
            vec![TieBreak::DeliveryP99, TieBreak::VusPassed]
        );
        assert_eq!(
            rules.max_request_failure_ratio,
            DEFAULT_MAX_REQUEST_FAILURE_RATIO
        );
    }

    #[test]
    fn unknown_field_names_it_and_the_known_ones() {
        let err = ScoringRules::from_toml_str("max_vu_failure = 0.1").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("max_vu_failure"), "{text}");
        assert!(text.contains("max_vu_failure_ratio"), "{text}");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let err = ScoringRules::from_toml_str("require_contiguous = \"yes\"").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("require_contiguous"), "{text}");
        assert!(text.contains("bool"), "{text}");
    }

    #[test]
    fn unknown_tie_break_lists_the_criteria() {
        let err = ScoringRules::from_toml_str("tie_break = [\"speed\"]").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("speed"), "{text}");
        assert!(text.contains("delivery_p99"), "{text}");
    }

    #[test]
    fn out_of_range_values_name_field_and_allowed_range() {
        let cases = [
            (
                "max_vu_failure_ratio = 1.5",
                "max_vu_failure_ratio",
                "0.0 to 1.0",
            ),
            (
                "max_request_failure_ratio = -0.1",
                "max_request_failure_ratio",
                "0.0 to 1.0",
            ),
            ("delivery_p99_slo_ms = 0", "delivery_p99_slo_ms", "positive"),
            ("request_p99_slo_ms = -5", "request_p99_slo_ms", "positive"),
            (
                "max_vu_failure_ratio = nan",
                "max_vu_failure_ratio",
                "0.0 to 1.0",
            ),
            (
                "delivery_p99_slo_ms = inf",
                "delivery_p99_slo_ms",
                "positive",
            ),
            (
                "tie_break = [\"vus_failed\", \"vus_failed\"]",
                "tie_break",
                "at most once",
            ),
        ];
        for (text, field, allowed) in cases {
            match ScoringRules::from_toml_str(text) {
                Err(RulesError::Invalid {
                    field: f,
                    allowed: a,
                    ..
                }) => {
                    assert_eq!(f, field, "{text}");
                    assert!(a.contains(allowed), "{text}: {a}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn toml_round_trip() {
        let mut rules = ScoringRules {
            request_p99_slo_ms: Some(750.0),
            ..ScoringRules::default()
        };
        rules.tie_break.reverse();
        let back = ScoringRules::from_toml_str(&rules.to_toml_string()).unwrap();
        assert_eq!(back, rules);
        let default = ScoringRules::default();
        assert_eq!(
            ScoringRules::from_toml_str(&default.to_toml_string()).unwrap(),
            default
        );
    }
}
