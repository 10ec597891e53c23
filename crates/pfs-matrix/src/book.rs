//! Applying presence events to a [`PresenceBook`]: what the PFS's single writer does with
//! [`MatrixEvent::PresenceChanged`] and [`MatrixEvent::HomeserverUnreachable`].
//!
//! The client itself owns no PFS state; this function is the one way its presence events are
//! meant to reach the book, used by the server's writer and by this crate's end-to-end tests.

use std::time::SystemTime;

use pfs_core::presence::{AddressReachability, PresenceBook, ReachabilityChange, UserPresence};

use crate::events::MatrixEvent;

/// Applies `event` to `book` at time `now` and returns the reachability changes it caused.
/// Events other than presence and unreachable homeservers change nothing.
///
/// The capabilities of a user that is online or unavailable become its address's (the
/// reference takes them from a user having the address's best presence).
///
/// A [`UserPresence::ServerError`] of a user the book does not know is not added: its identity
/// is unverified (its profile could not be read), and adding it could change nothing anyone sees
/// — the lowest presence never decides the reachability of an address that has another user,
/// and an address with only such users is unknown, as one never seen — while users claiming any
/// address, on any homeserver, would grow the book without bound. A known user's `server_error`
/// is recorded.
pub fn apply_presence(
    book: &mut PresenceBook,
    event: &MatrixEvent,
    now: SystemTime,
) -> Vec<ReachabilityChange> {
    match event {
        MatrixEvent::PresenceChanged(changed) => {
            let known = || book.user_ids(&changed.address).any(|user_id| user_id == changed.user_id);
            if changed.presence == UserPresence::ServerError && !known() {
                return Vec::new();
            }
            let change = book.set_presence(
                &changed.user_id,
                changed.address,
                changed.presence,
                changed.displayname.clone(),
                now,
            );
            let reachable = changed.presence.reachability() == AddressReachability::Reachable;
            if let (true, Some(capabilities)) = (reachable, &changed.capabilities) {
                book.set_capabilities(changed.address, capabilities.clone());
            }
            change.into_iter().collect()
        }
        MatrixEvent::HomeserverUnreachable { server_name } => book.mark_server_unknown(server_name, now),
        MatrixEvent::ToDeviceUpdates(_) | MatrixEvent::ToDeviceDropped(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use pfs_core::Address;

    use super::*;
    use crate::events::PresenceChanged;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn changed(presence: UserPresence) -> MatrixEvent {
        MatrixEvent::PresenceChanged(PresenceChanged {
            user_id: format!("@{}:b.server", Address::from_bytes([1; 20]).to_lower_hex()),
            address: Address::from_bytes([1; 20]),
            presence,
            displayname: Some("0xsig".into()),
            capabilities: Some("mxc://raiden.network/cap?Mediate=1".into()),
        })
    }

    #[test]
    fn online_user_makes_its_address_reachable_with_capabilities() {
        let mut book = PresenceBook::new(at(0));
        let changes = apply_presence(&mut book, &changed(UserPresence::Online), at(1));
        assert_eq!(changes[0].reachability, AddressReachability::Reachable);
        let metadata = book.metadata(&Address::from_bytes([1; 20])).unwrap();
        assert_eq!(metadata.capabilities, "mxc://raiden.network/cap?Mediate=1");
    }

    #[test]
    fn server_error_of_an_unknown_user_is_not_added_and_of_a_known_one_is() {
        let mut book = PresenceBook::new(at(0));
        let address = Address::from_bytes([1; 20]);
        for index in 0..100 {
            let event = MatrixEvent::PresenceChanged(PresenceChanged {
                user_id: format!("@{}:down{index}.server", address.to_lower_hex()),
                address,
                presence: UserPresence::ServerError,
                displayname: None,
                capabilities: None,
            });
            assert!(apply_presence(&mut book, &event, at(1)).is_empty());
        }
        assert_eq!(book.user_ids(&address).count(), 0);
        apply_presence(&mut book, &changed(UserPresence::Online), at(2));
        let MatrixEvent::PresenceChanged(mut known) = changed(UserPresence::ServerError) else {
            unreachable!()
        };
        known.displayname = None;
        let changes = apply_presence(&mut book, &MatrixEvent::PresenceChanged(known), at(3));
        assert_eq!(changes[0].reachability, AddressReachability::Unknown);
        assert_eq!(book.user_ids(&address).count(), 1);
    }

    #[test]
    fn unreachable_homeserver_makes_its_addresses_unknown() {
        let mut book = PresenceBook::new(at(0));
        apply_presence(&mut book, &changed(UserPresence::Online), at(1));
        let event = MatrixEvent::HomeserverUnreachable { server_name: "b.server".into() };
        let changes = apply_presence(&mut book, &event, at(2));
        assert_eq!(changes[0].reachability, AddressReachability::Unknown);
    }
}
