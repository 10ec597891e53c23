//! Applying presence events to a [`PresenceBook`]: what the PFS's single writer does with
//! [`MatrixEvent::PresenceChanged`] and [`MatrixEvent::HomeserverUnreachable`].
//!
//! The client itself owns no PFS state; this function is the one way its presence events are
//! meant to reach the book, used by the server's writer and by this crate's end-to-end tests.

use std::time::SystemTime;

use pfs_core::presence::{AddressReachability, PresenceBook, ReachabilityChange};

use crate::events::MatrixEvent;

/// Applies `event` to `book` at time `now` and returns the reachability changes it caused.
/// Events other than presence and unreachable homeservers change nothing.
///
/// The capabilities of a user that is online or unavailable become its address's (the
/// reference takes them from a user having the address's best presence).
pub fn apply_presence(
    book: &mut PresenceBook,
    event: &MatrixEvent,
    now: SystemTime,
) -> Vec<ReachabilityChange> {
    match event {
        MatrixEvent::PresenceChanged(changed) => {
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

    use pfs_core::presence::UserPresence;

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
    fn unreachable_homeserver_makes_its_addresses_unknown() {
        let mut book = PresenceBook::new(at(0));
        apply_presence(&mut book, &changed(UserPresence::Online), at(1));
        let event = MatrixEvent::HomeserverUnreachable { server_name: "b.server".into() };
        let changes = apply_presence(&mut book, &event, at(2));
        assert_eq!(changes[0].reachability, AddressReachability::Unknown);
    }
}
