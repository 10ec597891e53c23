//! The undo records of recent blocks (table `chain_undo`): how to revert each chain event applied
//! in the last blocks, kept with the cursor so that a reorganisation reaching blocks processed
//! before a restart can still be reverted exactly (the chain follower's `UndoLog` is rebuilt from
//! them at start-up).
//!
//! An [`Undo`] is stored as one JSON text: `{"<kind>": {...}}` (externally tagged, because the
//! fee schedule's exact-integer parsing cannot run on serde's buffered content of an internally
//! tagged enum), amounts as decimal strings and addresses as lower-case hex. JSON rather than columns, because an undo holds a whole
//! channel (with both capacity reports and fee schedules) for closings and replacements, and the
//! table is small (only events of the last `recent_blocks` blocks) and read once at start-up.

use pfs_core::timestamp::NaiveTimestamp;
use pfs_core::token_network::{CapacityReport, Channel, Undo};
use pfs_core::{Address, BlockTimeout, ChannelId, FeeSchedule, Nonce, U256};
use serde::{Deserialize, Serialize};

/// An [`Undo`] other than `Undo::Nothing`, in its stored form.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum UndoRecord {
    RemoveTokenNetwork {
        token_network: String,
    },
    RemoveChannel {
        token_network: String,
        channel_id: String,
    },
    RestoreChannel {
        token_network: String,
        channel: ChannelRecord,
    },
    ReplaceChannel {
        token_network: String,
        opened: String,
        replaced: ChannelRecord,
    },
    RestoreTotals {
        token_network: String,
        channel_id: String,
        side: usize,
        total_deposit: String,
        total_withdraw: String,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelRecord {
    channel_id: String,
    sides: [SideRecord; 2],
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SideRecord {
    participant: String,
    total_deposit: String,
    total_withdraw: String,
    capacity_report: Option<ReportRecord>,
    fee_schedule: FeeSchedule,
    fee_timestamp_micros: i64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportRecord {
    updating_nonce: u64,
    other_nonce: u64,
    updating_capacity: String,
    other_capacity: String,
    reveal_timeout: String,
}

/// Why a stored undo record does not decode.
#[derive(Debug, thiserror::Error)]
pub enum UndoRecordError {
    /// Not the JSON of an undo record.
    #[error("not an undo record: {0}")]
    Json(#[from] serde_json::Error),
    /// A field holds an invalid value.
    #[error("field {0} is invalid")]
    Field(&'static str),
}

fn address(field: &'static str, text: &str) -> Result<Address, UndoRecordError> {
    Address::parse_any_case(text).map_err(|_| UndoRecordError::Field(field))
}

fn amount(field: &'static str, text: &str) -> Result<U256, UndoRecordError> {
    U256::from_str_radix(text, 10).map_err(|_| UndoRecordError::Field(field))
}

fn lower(address: &Address) -> String {
    address.to_lower_hex()
}

impl ChannelRecord {
    fn of(channel: &Channel) -> Self {
        let side = |index: usize| {
            let side = &channel.sides[index];
            SideRecord {
                participant: lower(&side.participant),
                total_deposit: side.total_deposit.to_string(),
                total_withdraw: side.total_withdraw.to_string(),
                capacity_report: side.capacity_report.as_ref().map(|report| ReportRecord {
                    updating_nonce: report.updating_nonce.0,
                    other_nonce: report.other_nonce.0,
                    updating_capacity: report.updating_capacity.to_string(),
                    other_capacity: report.other_capacity.to_string(),
                    reveal_timeout: report.reveal_timeout.0.to_string(),
                }),
                fee_schedule: side.fee_schedule.clone(),
                fee_timestamp_micros: side.fee_timestamp.unix_micros(),
            }
        };
        Self { channel_id: channel.id.0.to_string(), sides: [side(0), side(1)] }
    }

    fn channel(self) -> Result<Box<Channel>, UndoRecordError> {
        let [first, second] = self.sides;
        let participants =
            [address("participant", &first.participant)?, address("participant", &second.participant)?];
        if participants[0] >= participants[1] {
            return Err(UndoRecordError::Field("participant"));
        }
        let mut channel = Channel::new(
            ChannelId(amount("channel_id", &self.channel_id)?),
            participants[0],
            participants[1],
        );
        for (side, record) in channel.sides.iter_mut().zip([first, second]) {
            side.total_deposit = amount("total_deposit", &record.total_deposit)?;
            side.total_withdraw = amount("total_withdraw", &record.total_withdraw)?;
            side.capacity_report = match record.capacity_report {
                None => None,
                Some(report) => Some(CapacityReport {
                    updating_nonce: Nonce(report.updating_nonce),
                    other_nonce: Nonce(report.other_nonce),
                    updating_capacity: amount("updating_capacity", &report.updating_capacity)?,
                    other_capacity: amount("other_capacity", &report.other_capacity)?,
                    reveal_timeout: BlockTimeout(amount("reveal_timeout", &report.reveal_timeout)?),
                }),
            };
            side.fee_schedule = record.fee_schedule;
            side.fee_timestamp = NaiveTimestamp::from_unix_micros(record.fee_timestamp_micros)
                .ok_or(UndoRecordError::Field("fee_timestamp_micros"))?;
        }
        Ok(Box::new(channel))
    }
}

/// The stored form of `undo`; `None` for `Undo::Nothing`, which is never stored.
pub(crate) fn encode(undo: &Undo) -> Option<String> {
    let record = match undo {
        Undo::Nothing => return None,
        Undo::RemoveTokenNetwork(token_network) => {
            UndoRecord::RemoveTokenNetwork { token_network: lower(token_network) }
        }
        Undo::RemoveChannel { token_network, channel_id } => UndoRecord::RemoveChannel {
            token_network: lower(token_network),
            channel_id: channel_id.0.to_string(),
        },
        Undo::RestoreChannel { token_network, channel } => UndoRecord::RestoreChannel {
            token_network: lower(token_network),
            channel: ChannelRecord::of(channel),
        },
        Undo::ReplaceChannel { token_network, opened, replaced } => UndoRecord::ReplaceChannel {
            token_network: lower(token_network),
            opened: opened.0.to_string(),
            replaced: ChannelRecord::of(replaced),
        },
        Undo::RestoreTotals { token_network, channel_id, side, total_deposit, total_withdraw } => {
            UndoRecord::RestoreTotals {
                token_network: lower(token_network),
                channel_id: channel_id.0.to_string(),
                side: *side,
                total_deposit: total_deposit.to_string(),
                total_withdraw: total_withdraw.to_string(),
            }
        }
    };
    // Invariant: the record holds only strings, integers and a FeeSchedule, which always serialise.
    serde_json::to_string(&record).ok()
}

/// Decodes a stored undo record.
///
/// # Errors
/// [`UndoRecordError`] if the text is not a valid record.
pub(crate) fn decode(text: &str) -> Result<Undo, UndoRecordError> {
    let record: UndoRecord = serde_json::from_str(text)?;
    Ok(match record {
        UndoRecord::RemoveTokenNetwork { token_network } => {
            Undo::RemoveTokenNetwork(address("token_network", &token_network)?)
        }
        UndoRecord::RemoveChannel { token_network, channel_id } => Undo::RemoveChannel {
            token_network: address("token_network", &token_network)?,
            channel_id: ChannelId(amount("channel_id", &channel_id)?),
        },
        UndoRecord::RestoreChannel { token_network, channel } => Undo::RestoreChannel {
            token_network: address("token_network", &token_network)?,
            channel: channel.channel()?,
        },
        UndoRecord::ReplaceChannel { token_network, opened, replaced } => Undo::ReplaceChannel {
            token_network: address("token_network", &token_network)?,
            opened: ChannelId(amount("opened", &opened)?),
            replaced: replaced.channel()?,
        },
        UndoRecord::RestoreTotals { token_network, channel_id, side, total_deposit, total_withdraw } => {
            if side > 1 {
                return Err(UndoRecordError::Field("side"));
            }
            Undo::RestoreTotals {
                token_network: address("token_network", &token_network)?,
                channel_id: ChannelId(amount("channel_id", &channel_id)?),
                side,
                total_deposit: amount("total_deposit", &total_deposit)?,
                total_withdraw: amount("total_withdraw", &total_withdraw)?,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use pfs_core::fee_schedule::ImbalancePenalty;

    use super::*;

    const NETWORK: Address = Address::from_bytes([0x11; 20]);

    fn channel() -> Box<Channel> {
        let mut channel = Channel::new(
            ChannelId(U256::MAX),
            Address::from_bytes([0xbb; 20]),
            Address::from_bytes([0xaa; 20]),
        );
        channel.sides[0].total_deposit = U256::MAX;
        channel.sides[1].total_withdraw = U256::from(7);
        channel.sides[1].capacity_report = Some(CapacityReport {
            updating_nonce: Nonce(u64::MAX),
            other_nonce: Nonce(3),
            updating_capacity: U256::from(10),
            other_capacity: U256::MAX,
            reveal_timeout: BlockTimeout(U256::from(50)),
        });
        channel.sides[0].fee_schedule = FeeSchedule {
            cap_fees: false,
            flat: U256::from(5),
            proportional: U256::from(1_000),
            imbalance_penalty: Some(
                ImbalancePenalty::new(vec![(U256::ZERO, U256::from(10)), (U256::from(100), U256::ZERO)])
                    .expect("valid points"),
            ),
        };
        channel.sides[0].fee_timestamp =
            NaiveTimestamp::from_unix_micros(1_700_000_000_123_456).expect("in range");
        Box::new(channel)
    }

    #[test]
    fn every_undo_kind_decodes_to_itself() {
        let undos = [
            Undo::RemoveTokenNetwork(NETWORK),
            Undo::RemoveChannel { token_network: NETWORK, channel_id: ChannelId(U256::from(1)) },
            Undo::RestoreChannel { token_network: NETWORK, channel: channel() },
            Undo::ReplaceChannel {
                token_network: NETWORK,
                opened: ChannelId(U256::from(2)),
                replaced: channel(),
            },
            Undo::RestoreTotals {
                token_network: NETWORK,
                channel_id: ChannelId(U256::from(3)),
                side: 1,
                total_deposit: U256::MAX,
                total_withdraw: U256::ZERO,
            },
        ];
        for undo in undos {
            let text = encode(&undo).expect("stored");
            assert_eq!(decode(&text).expect("decodes"), undo, "{text}");
        }
    }

    #[test]
    fn nothing_is_not_stored() {
        assert_eq!(encode(&Undo::Nothing), None);
    }

    #[test]
    fn a_tampered_record_is_an_error() {
        let text = encode(&Undo::RemoveTokenNetwork(NETWORK)).expect("stored");
        assert!(decode(&text.replace("0x11", "0xzz")).is_err());
        assert!(decode(r#"{"restore_totals":{"token_network":"0x1111111111111111111111111111111111111111","channel_id":"1","side":2,"total_deposit":"0","total_withdraw":"0"}}"#).is_err());
        assert!(decode(r#"{"remove_token_network":{"token_network":"0x1111111111111111111111111111111111111111","extra":1}}"#).is_err());
    }
}
