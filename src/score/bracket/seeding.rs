//! Seeding: the teams in seed order, from a teams file (numbered seeds first) or from a qualifying
//! match's ranking. Where each seed is placed in a bracket is the layouts' (`single`: 1 and 2 can
//! only meet in the final).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::BracketError;
use crate::score::verdict::MatchVerdict;

/// A team in the teams file: a name and an optional seed number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entrant {
    /// Team name.
    pub name: String,
    /// Seed number (1 is the strongest), if the file gives one.
    pub seed: Option<u32>,
}

/// Teams in seed order from a teams file: teams with a seed number first, by number; the rest after
/// them in file order.
pub fn seed_order(entrants: &[Entrant]) -> Result<Vec<String>, BracketError> {
    let mut by_seed: BTreeMap<u32, &str> = BTreeMap::new();
    for e in entrants {
        if let Some(seed) = e.seed
            && let Some(first) = by_seed.insert(seed, &e.name)
        {
            return Err(BracketError::DuplicateSeed {
                seed,
                first: first.to_string(),
                second: e.name.clone(),
            });
        }
    }
    // Seed numbers only order the teams: gaps (1, 2, 5) are fine, and unnumbered teams follow in
    // the order the organizer wrote them.
    let mut order: Vec<String> = by_seed.values().map(|n| n.to_string()).collect();
    order.extend(
        entrants
            .iter()
            .filter(|e| e.seed.is_none())
            .map(|e| e.name.clone()),
    );
    Ok(order)
}

/// Teams in seed order from a qualifying match: its ranking (equal ranks by name, as the verdict
/// lists them).
pub fn seed_order_from_ranking(qualifying: &MatchVerdict) -> Vec<String> {
    qualifying.ranking.iter().map(|r| r.team.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_from_a_teams_file() {
        let e = |name: &str, seed: Option<u32>| Entrant {
            name: name.into(),
            seed,
        };
        assert_eq!(
            seed_order(&[e("x", None), e("y", Some(2)), e("z", None), e("w", Some(1))]).unwrap(),
            vec!["w", "y", "x", "z"]
        );
        assert_eq!(
            seed_order(&[e("x", None), e("y", None)]).unwrap(),
            vec!["x", "y"]
        );
        assert_eq!(
            seed_order(&[e("x", Some(1)), e("y", Some(1))]),
            Err(BracketError::DuplicateSeed {
                seed: 1,
                first: "x".into(),
                second: "y".into()
            })
        );
    }
}
