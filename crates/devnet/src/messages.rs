//! The signed messages the TokenNetwork contract verifies for the operations the devnet
//! performs: a withdraw (both participants sign it) and the closer's counter-signature of a
//! balance proof. The byte layouts follow `TokenNetwork.sol` of raiden-contracts 0.50.2
//! (`recoverAddressFromWithdrawMessage`, `recoverAddressFromBalanceProofCounterSignature`);
//! both are signed the EIP-191 way, the prefix carrying the message length (200 and 277).

use alloy::primitives::{Address, B256, U256};

/// `MessageTypeId.BalanceProof` in `MessageType.sol`.
pub const MESSAGE_TYPE_BALANCE_PROOF: u8 = 1;
/// `MessageTypeId.Withdraw` in `MessageType.sol`.
pub const MESSAGE_TYPE_WITHDRAW: u8 = 3;
/// Length of a withdraw message: 20 + 32 + 32 + 32 + 20 + 32 + 32.
pub const WITHDRAW_MESSAGE_LENGTH: usize = 200;
/// Length of a balance-proof counter-signature message: 20 + 6 × 32 + 65.
pub const COUNTER_SIGNATURE_MESSAGE_LENGTH: usize = 277;
/// The signature Raiden puts in place of the partner's when closing without a balance proof.
pub const EMPTY_SIGNATURE: [u8; 65] = [0; 65];

/// The withdraw message: `token_network ‖ chain_id ‖ 3 ‖ channel_identifier ‖ participant ‖
/// total_withdraw ‖ withdrawable_until` (addresses 20 bytes, numbers 32 bytes big-endian).
pub fn withdraw_message(
    token_network: Address,
    chain_id: u64,
    channel_identifier: U256,
    participant: Address,
    total_withdraw: U256,
    withdrawable_until: U256,
) -> Vec<u8> {
    let mut message = Vec::with_capacity(WITHDRAW_MESSAGE_LENGTH);
    message.extend_from_slice(token_network.as_slice());
    message.extend_from_slice(&U256::from(chain_id).to_be_bytes::<32>());
    message.extend_from_slice(&U256::from(MESSAGE_TYPE_WITHDRAW).to_be_bytes::<32>());
    message.extend_from_slice(&channel_identifier.to_be_bytes::<32>());
    message.extend_from_slice(participant.as_slice());
    message.extend_from_slice(&total_withdraw.to_be_bytes::<32>());
    message.extend_from_slice(&withdrawable_until.to_be_bytes::<32>());
    message
}

/// The balance-proof counter-signature message the closer signs: `token_network ‖ chain_id ‖
/// 1 ‖ channel_identifier ‖ balance_hash ‖ nonce ‖ additional_hash ‖ partner_signature`.
pub fn balance_proof_counter_message(
    token_network: Address,
    chain_id: u64,
    channel_identifier: U256,
    balance_hash: B256,
    nonce: U256,
    additional_hash: B256,
    partner_signature: &[u8; 65],
) -> Vec<u8> {
    let mut message = Vec::with_capacity(COUNTER_SIGNATURE_MESSAGE_LENGTH);
    message.extend_from_slice(token_network.as_slice());
    message.extend_from_slice(&U256::from(chain_id).to_be_bytes::<32>());
    message.extend_from_slice(&U256::from(MESSAGE_TYPE_BALANCE_PROOF).to_be_bytes::<32>());
    message.extend_from_slice(&channel_identifier.to_be_bytes::<32>());
    message.extend_from_slice(balance_hash.as_slice());
    message.extend_from_slice(&nonce.to_be_bytes::<32>());
    message.extend_from_slice(additional_hash.as_slice());
    message.extend_from_slice(partner_signature);
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::address;

    const TOKEN_NETWORK: Address = address!("1111111111111111111111111111111111111111");
    const PARTICIPANT: Address = address!("2222222222222222222222222222222222222222");

    #[test]
    fn a_withdraw_message_is_200_bytes_in_contract_order() {
        let message =
            withdraw_message(TOKEN_NETWORK, 31337, U256::from(7), PARTICIPANT, U256::from(5), U256::from(9));
        assert_eq!(message.len(), WITHDRAW_MESSAGE_LENGTH);
        assert_eq!(&message[..20], TOKEN_NETWORK.as_slice());
        assert_eq!(message[20 + 31], (31337 % 256) as u8);
        assert_eq!(message[52 + 31], MESSAGE_TYPE_WITHDRAW);
        assert_eq!(message[84 + 31], 7);
        assert_eq!(&message[116..136], PARTICIPANT.as_slice());
        assert_eq!(message[136 + 31], 5);
        assert_eq!(message[199], 9);
    }

    #[test]
    fn a_counter_signature_message_is_277_bytes_ending_with_the_partner_signature() {
        let partner_signature = [0xab; 65];
        let message = balance_proof_counter_message(
            TOKEN_NETWORK,
            1,
            U256::from(3),
            B256::repeat_byte(0x11),
            U256::from(4),
            B256::repeat_byte(0x22),
            &partner_signature,
        );
        assert_eq!(message.len(), COUNTER_SIGNATURE_MESSAGE_LENGTH);
        assert_eq!(message[52 + 31], MESSAGE_TYPE_BALANCE_PROOF);
        assert_eq!(&message[116..148], B256::repeat_byte(0x11).as_slice());
        assert_eq!(message[148 + 31], 4);
        assert_eq!(&message[212..], &partner_signature[..]);
    }
}
