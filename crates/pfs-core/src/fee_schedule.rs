//! A mediator's fee schedule for one channel: the data nodes announce in `PFSFeeUpdate`.
//!
//! This module owns the schedule's shape, its invariants and its JSON; the fee arithmetic that
//! evaluates it lives in [`crate::fees`]. The JSON is the one Raiden's `MessageSerializer` writes:
//! integers as decimal strings, the penalty as a list of `[x, y]` pairs (read also from numbers,
//! and from `0x` hex strings for the pairs, as raiden.rs writes them).

use std::sync::Arc;

use alloy_primitives::U256;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::TokenAmount;
use crate::integer;

/// Most points accepted in an imbalance penalty. Raiden's clients send at most 21; the bound keeps
/// a hostile schedule from making every fee evaluation slow.
pub const MAX_IMBALANCE_PENALTY_POINTS: usize = 256;

/// How a mediator charges for forwarding through one of its channels.
///
/// `fee(balance, amount) = flat + proportional/10^6 · |amount| + P(balance + amount) − P(balance)`,
/// where `P` is the [`ImbalancePenalty`] (see `spec/PROTOCOL.md` §3). Cloning is cheap: the
/// penalty points are shared.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FeeSchedule {
    /// Whether the mediator caps its total fee at zero from below (no negative fees).
    pub cap_fees: bool,
    /// Flat fee per mediation through this channel, in token units.
    #[serde(with = "integer::as_decimal_string")]
    pub flat: TokenAmount,
    /// Proportional fee in parts per million of the amount moved through this channel.
    #[serde(with = "integer::as_decimal_string")]
    pub proportional: U256,
    /// Piecewise-linear penalty on the mediator's balance in this channel; `None` when the node
    /// announced `null` or `[]`.
    #[serde(default, deserialize_with = "deserialize_penalty")]
    pub imbalance_penalty: Option<ImbalancePenalty>,
}

impl Default for FeeSchedule {
    /// The schedule assumed before a node announces one: capped, no fees at all.
    fn default() -> Self {
        Self { cap_fees: true, flat: U256::ZERO, proportional: U256::ZERO, imbalance_penalty: None }
    }
}

/// The points `(balance, penalty)` of a piecewise-linear imbalance penalty.
///
/// Invariants, checked by [`ImbalancePenalty::new`]: at least one point, at most
/// [`MAX_IMBALANCE_PENALTY_POINTS`], balances strictly increasing. The function is defined only
/// on `[first balance, last balance]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImbalancePenalty(Arc<[(TokenAmount, TokenAmount)]>);

/// Why a list of points is not a valid imbalance penalty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImbalancePenaltyError {
    /// No points (callers map `[]` to "no penalty" before constructing one).
    #[error("an imbalance penalty needs at least one point")]
    Empty,
    /// More points than [`MAX_IMBALANCE_PENALTY_POINTS`].
    #[error("an imbalance penalty has at most {MAX_IMBALANCE_PENALTY_POINTS} points, got {0}")]
    TooManyPoints(usize),
    /// The balances are not strictly increasing (Python's `Interpolate` raises on this).
    #[error("imbalance penalty balances must be strictly increasing (point {0})")]
    NotIncreasing(usize),
}

impl ImbalancePenalty {
    /// Checks the invariants and wraps the points.
    ///
    /// # Errors
    /// [`ImbalancePenaltyError`] naming the violated invariant.
    pub fn new(points: Vec<(TokenAmount, TokenAmount)>) -> Result<Self, ImbalancePenaltyError> {
        if points.is_empty() {
            return Err(ImbalancePenaltyError::Empty);
        }
        if points.len() > MAX_IMBALANCE_PENALTY_POINTS {
            return Err(ImbalancePenaltyError::TooManyPoints(points.len()));
        }
        if let Some(index) = points.windows(2).position(|pair| pair[0].0 >= pair[1].0) {
            return Err(ImbalancePenaltyError::NotIncreasing(index + 1));
        }
        Ok(Self(points.into()))
    }

    /// The points, balances strictly increasing.
    pub fn points(&self) -> &[(TokenAmount, TokenAmount)] {
        &self.0
    }
}

impl Serialize for ImbalancePenalty {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut sequence = serializer.serialize_seq(Some(self.0.len()))?;
        for (x, y) in self.0.iter() {
            sequence.serialize_element(&[x.to_string(), y.to_string()])?;
        }
        sequence.end()
    }
}

/// One `[x, y]` pair as it appears on the wire.
#[derive(Deserialize)]
struct WirePoint(
    #[serde(with = "integer::as_decimal_string_or_hex")] TokenAmount,
    #[serde(with = "integer::as_decimal_string_or_hex")] TokenAmount,
);

fn deserialize_penalty<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<ImbalancePenalty>, D::Error> {
    let Some(points) = Option::<Vec<WirePoint>>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if points.is_empty() {
        return Ok(None);
    }
    let points = points.into_iter().map(|WirePoint(x, y)| (x, y)).collect();
    ImbalancePenalty::new(points).map(Some).map_err(D::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_json_round_trips() {
        let json = r#"{"cap_fees":true,"flat":"100","proportional":"1996","imbalance_penalty":[["0","20"],["50","15"],["1000","20"]]}"#;
        let schedule: FeeSchedule = serde_json::from_str(json).unwrap();
        assert_eq!(schedule.flat, U256::from(100));
        assert_eq!(schedule.imbalance_penalty.as_ref().unwrap().points().len(), 3);
        assert_eq!(serde_json::to_string(&schedule).unwrap(), json);
    }

    #[test]
    fn numbers_and_hex_points_are_accepted() {
        let json =
            r#"{"cap_fees":false,"flat":1,"proportional":2,"imbalance_penalty":[["0x0","0x14"],[80,"15"]]}"#;
        let schedule: FeeSchedule = serde_json::from_str(json).unwrap();
        assert_eq!(
            schedule.imbalance_penalty.unwrap().points(),
            &[(U256::ZERO, U256::from(20)), (U256::from(80), U256::from(15))]
        );
    }

    #[test]
    fn empty_penalty_means_none() {
        let json = r#"{"cap_fees":true,"flat":"0","proportional":"0","imbalance_penalty":[]}"#;
        assert_eq!(serde_json::from_str::<FeeSchedule>(json).unwrap(), FeeSchedule::default());
    }

    #[test]
    fn non_increasing_penalty_is_rejected() {
        let json =
            r#"{"cap_fees":true,"flat":"0","proportional":"0","imbalance_penalty":[["5","0"],["5","1"]]}"#;
        assert!(serde_json::from_str::<FeeSchedule>(json).is_err());
    }

    #[test]
    fn oversized_penalty_is_rejected() {
        let points: Vec<_> =
            (0..=MAX_IMBALANCE_PENALTY_POINTS).map(|x| (U256::from(x), U256::ZERO)).collect();
        assert_eq!(
            ImbalancePenalty::new(points),
            Err(ImbalancePenaltyError::TooManyPoints(MAX_IMBALANCE_PENALTY_POINTS + 1))
        );
    }

    #[test]
    fn negative_flat_is_rejected() {
        let json = r#"{"cap_fees":true,"flat":"-1","proportional":"0","imbalance_penalty":null}"#;
        assert!(serde_json::from_str::<FeeSchedule>(json).is_err());
    }
}
