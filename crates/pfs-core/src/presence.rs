//! Presence of Matrix users, aggregated into the reachability of Raiden addresses.
//!
//! A Raiden node may be logged in on several homeservers, each login a Matrix user id of its own,
//! so reachability is decided per address from all of its users: the address takes the *best*
//! presence any of its users has, in the order `online`, `unavailable`, `offline`, `unknown`,
//! `server_error` (spec/REFERENCE-PFS.md §3.5). `online` and `unavailable` make the address
//! reachable, `offline` unreachable, the rest unknown. Path search only routes through reachable
//! addresses.
//!
//! The book is fed by the Matrix client after it has verified the user's displayname signature
//! (see the Matrix identity rules); it never performs I/O itself. Times are passed in by the
//! caller, so the same sequence of calls always gives the same state.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use crate::address::Address;
use crate::matrix_identity::UNKNOWN_CAPABILITIES;

/// The presence of one Matrix user, as Matrix reports it plus the PFS's own two states.
///
/// The declaration order is the precedence used to aggregate several users of one address: a
/// smaller value wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UserPresence {
    /// The user is active.
    Online,
    /// The user is idle but connected.
    Unavailable,
    /// The user logged out or timed out.
    Offline,
    /// Nothing trustworthy is known (e.g. its homeserver is unreachable).
    Unknown,
    /// The user's profile could not be fetched, so its identity is unverified.
    ServerError,
}

/// Whether payments can be routed through an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressReachability {
    /// At least one of its users is online or unavailable.
    Reachable,
    /// Its best user presence is offline.
    Unreachable,
    /// Nothing is known, or only unknown / server-error presences.
    Unknown,
}

/// A presence string that is not one of Matrix's three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown presence state: {0:?}")]
pub struct UnknownPresence(pub String);

impl UserPresence {
    /// The reachability an address has when this is the best presence among its users.
    pub fn reachability(self) -> AddressReachability {
        match self {
            Self::Online | Self::Unavailable => AddressReachability::Reachable,
            Self::Offline => AddressReachability::Unreachable,
            Self::Unknown | Self::ServerError => AddressReachability::Unknown,
        }
    }
}

impl FromStr for UserPresence {
    type Err = UnknownPresence;

    /// Parses the `presence` field of an `m.presence` event (`online`, `unavailable`, `offline`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "online" => Ok(Self::Online),
            "unavailable" => Ok(Self::Unavailable),
            "offline" => Ok(Self::Offline),
            other => Err(UnknownPresence(other.chars().take(32).collect())),
        }
    }
}

impl fmt::Display for UserPresence {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Online => "online",
            Self::Unavailable => "unavailable",
            Self::Offline => "offline",
            Self::Unknown => "unknown",
            Self::ServerError => "server_error",
        })
    }
}

/// What the PFS tells clients about how to reach an address: `address_metadata` in `/paths` and
/// the body of `/address/<address>/metadata`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AddressMetadata {
    /// The Matrix user id to send messages to.
    pub user_id: String,
    /// The capabilities string (the user's avatar URL), `mxc://` when unknown.
    pub capabilities: String,
    /// The displayname: the address's signature of `user_id`, if known.
    pub displayname: Option<String>,
}

/// A change of an address's reachability, returned so the caller can publish it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReachabilityChange {
    /// The address whose reachability changed.
    pub address: Address,
    /// Its new reachability.
    pub reachability: AddressReachability,
}

#[derive(Debug, Clone)]
struct UserState {
    address: Address,
    presence: UserPresence,
    displayname: Option<String>,
}

#[derive(Debug, Clone)]
struct AddressState {
    /// Ordered, so "the first online user" is deterministic.
    user_ids: BTreeSet<String>,
    reachability: AddressReachability,
    changed_at: SystemTime,
    capabilities: Option<String>,
    seen_offline_at: Option<SystemTime>,
}

/// The most Matrix users kept per address. A node has one user per homeserver it logs in to,
/// and only the address's key can sign a user's displayname, so only the node itself could pass
/// this; without it, one key could sign any number of user ids on a homeserver of its own and
/// grow the book without bound. Further users of a full address are ignored.
pub const MAX_USERS_PER_ADDRESS: usize = 32;

/// Presence of every known Matrix user and the reachability of every known address.
///
/// Invariants: every user id belongs to exactly one address; an address has at most
/// [`MAX_USERS_PER_ADDRESS`] users; an address's stored reachability is always the aggregate of
/// its users' presences.
#[derive(Debug, Clone)]
pub struct PresenceBook {
    started_at: SystemTime,
    users: HashMap<String, UserState>,
    addresses: HashMap<Address, AddressState>,
}

impl PresenceBook {
    /// An empty book; `started_at` is what `seen_offline_since` counts from for addresses never
    /// seen offline.
    pub fn new(started_at: SystemTime) -> Self {
        Self { started_at, users: HashMap::new(), addresses: HashMap::new() }
    }

    /// Records the presence of a verified user of `address` at time `now`.
    ///
    /// A user id already known for another address keeps its first address: user ids embed the
    /// address, so a mismatch means the caller passed inconsistent input, which is ignored. A new
    /// user of an address that has [`MAX_USERS_PER_ADDRESS`] users already is ignored too.
    /// Returns the change of the address's reachability, if any.
    pub fn set_presence(
        &mut self,
        user_id: &str,
        address: Address,
        presence: UserPresence,
        displayname: Option<String>,
        now: SystemTime,
    ) -> Option<ReachabilityChange> {
        match self.users.get_mut(user_id) {
            Some(user) if user.address != address => return None,
            Some(user) => {
                if displayname.is_some() {
                    user.displayname = displayname;
                }
                if user.presence == presence {
                    return None;
                }
                user.presence = presence;
            }
            None => {
                let full = self
                    .addresses
                    .get(&address)
                    .is_some_and(|state| state.user_ids.len() >= MAX_USERS_PER_ADDRESS);
                if full {
                    return None;
                }
                self.users.insert(user_id.to_owned(), UserState { address, presence, displayname });
            }
        }
        let started_at = self.started_at;
        let entry = self.addresses.entry(address).or_insert_with(|| AddressState {
            user_ids: BTreeSet::new(),
            reachability: AddressReachability::Unknown,
            changed_at: started_at,
            capabilities: None,
            seen_offline_at: None,
        });
        entry.user_ids.insert(user_id.to_owned());
        self.recompute(address, now)
    }

    /// Marks every user on `server_name` (the part after the last `:` of the user id) as
    /// [`UserPresence::Unknown`], for a homeserver that stays unreachable: its users must not be
    /// left looking online. Returns the reachability changes this causes.
    pub fn mark_server_unknown(&mut self, server_name: &str, now: SystemTime) -> Vec<ReachabilityChange> {
        let affected: BTreeSet<Address> = self
            .users
            .iter_mut()
            .filter(|(user_id, _)| server_of(user_id) == Some(server_name))
            .map(|(_, user)| {
                user.presence = UserPresence::Unknown;
                user.address
            })
            .collect();
        affected.into_iter().filter_map(|address| self.recompute(address, now)).collect()
    }

    /// Stores the capabilities string (avatar URL) of an address, fetched by the caller when the
    /// address's reachability changed.
    pub fn set_capabilities(&mut self, address: Address, capabilities: String) {
        if let Some(state) = self.addresses.get_mut(&address) {
            state.capabilities = Some(capabilities);
        }
    }

    /// The reachability of an address; [`AddressReachability::Unknown`] if never seen.
    pub fn reachability(&self, address: &Address) -> AddressReachability {
        self.addresses.get(address).map_or(AddressReachability::Unknown, |state| state.reachability)
    }

    /// Every reachable address, in address order.
    pub fn reachable_addresses(&self) -> Vec<Address> {
        let mut reachable: Vec<Address> = self
            .addresses
            .iter()
            .filter(|(_, state)| state.reachability == AddressReachability::Reachable)
            .map(|(address, _)| *address)
            .collect();
        reachable.sort_unstable();
        reachable
    }

    /// The metadata of the first (in user-id order) online or unavailable user of `address`, or
    /// `None` if it has none.
    pub fn metadata(&self, address: &Address) -> Option<AddressMetadata> {
        let state = self.addresses.get(address)?;
        let (user_id, user) = state.user_ids.iter().find_map(|user_id| {
            let user = self.users.get(user_id)?;
            matches!(user.presence, UserPresence::Online | UserPresence::Unavailable)
                .then_some((user_id, user))
        })?;
        Some(AddressMetadata {
            user_id: user_id.clone(),
            capabilities: state.capabilities.clone().unwrap_or_else(|| UNKNOWN_CAPABILITIES.to_owned()),
            displayname: user.displayname.clone(),
        })
    }

    /// Time since the address last became offline, or since the book was started if it never
    /// was (the reference's `seen_offline_since`).
    pub fn seen_offline_since(&self, address: &Address, now: SystemTime) -> Duration {
        let since =
            self.addresses.get(address).and_then(|state| state.seen_offline_at).unwrap_or(self.started_at);
        now.duration_since(since).unwrap_or_default()
    }

    /// Time since the address's reachability last changed (its "uptime" while reachable).
    pub fn time_in_current_state(&self, address: &Address, now: SystemTime) -> Duration {
        let since = self.addresses.get(address).map_or(self.started_at, |state| state.changed_at);
        now.duration_since(since).unwrap_or_default()
    }

    /// How many known Matrix users have exactly `presence` (the reference's `online_nodes` in
    /// `_debug/stats` counts [`UserPresence::Online`] users, not addresses).
    pub fn count_users_with(&self, presence: UserPresence) -> usize {
        self.users.values().filter(|user| user.presence == presence).count()
    }

    /// The Matrix user ids known for an address, in order.
    pub fn user_ids(&self, address: &Address) -> impl Iterator<Item = &str> {
        self.addresses.get(address).into_iter().flat_map(|state| state.user_ids.iter().map(String::as_str))
    }

    fn recompute(&mut self, address: Address, now: SystemTime) -> Option<ReachabilityChange> {
        let state = self.addresses.get_mut(&address)?;
        let best = state
            .user_ids
            .iter()
            .filter_map(|user_id| self.users.get(user_id).map(|user| user.presence))
            .min()?;
        let reachability = best.reachability();
        if reachability == state.reachability {
            return None;
        }
        state.reachability = reachability;
        state.changed_at = now;
        if best == UserPresence::Offline {
            state.seen_offline_at = Some(now);
        }
        Some(ReachabilityChange { address, reachability })
    }
}

/// The server name of a user id: everything after the first `:` (server names may carry a port).
fn server_of(user_id: &str) -> Option<&str> {
    user_id.split_once(':').map(|(_, server)| server)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(byte: u8) -> Address {
        Address::from_bytes([byte; 20])
    }

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn user(byte: u8, server: &str) -> String {
        format!("@{}:{server}", address(byte).to_lower_hex())
    }

    #[test]
    fn an_address_keeps_at_most_its_user_limit_and_its_known_users_still_count() {
        let mut book = PresenceBook::new(at(0));
        let node = address(1);
        for index in 0..MAX_USERS_PER_ADDRESS + 10 {
            book.set_presence(&user(1, &format!("server{index}")), node, UserPresence::Offline, None, at(1));
        }
        assert_eq!(book.user_ids(&node).count(), MAX_USERS_PER_ADDRESS);
        let beyond = user(1, &format!("server{MAX_USERS_PER_ADDRESS}"));
        assert_eq!(book.set_presence(&beyond, node, UserPresence::Online, None, at(2)), None);
        assert_eq!(book.reachability(&node), AddressReachability::Unreachable);
        let change = book.set_presence(&user(1, "server0"), node, UserPresence::Online, None, at(3));
        assert_eq!(change.map(|change| change.reachability), Some(AddressReachability::Reachable));
    }

    #[test]
    fn online_and_unavailable_are_reachable_offline_is_not() {
        let mut book = PresenceBook::new(at(0));
        let node = address(1);
        let change = book.set_presence(&user(1, "a"), node, UserPresence::Online, None, at(1));
        assert_eq!(
            change,
            Some(ReachabilityChange { address: node, reachability: AddressReachability::Reachable })
        );
        assert_eq!(book.set_presence(&user(1, "a"), node, UserPresence::Unavailable, None, at(2)), None);
        assert_eq!(book.reachability(&node), AddressReachability::Reachable);
        book.set_presence(&user(1, "a"), node, UserPresence::Offline, None, at(3));
        assert_eq!(book.reachability(&node), AddressReachability::Unreachable);
    }

    #[test]
    fn unseen_address_is_unknown() {
        let book = PresenceBook::new(at(0));
        assert_eq!(book.reachability(&address(9)), AddressReachability::Unknown);
        assert!(book.metadata(&address(9)).is_none());
    }

    #[test]
    fn best_presence_across_homeservers_wins() {
        let mut book = PresenceBook::new(at(0));
        let node = address(1);
        book.set_presence(&user(1, "a"), node, UserPresence::Offline, None, at(1));
        book.set_presence(&user(1, "b"), node, UserPresence::Online, None, at(2));
        assert_eq!(book.reachability(&node), AddressReachability::Reachable);
        assert_eq!(book.metadata(&node).unwrap().user_id, user(1, "b"));
    }

    #[test]
    fn seen_offline_since_counts_from_last_offline_transition_or_start() {
        let mut book = PresenceBook::new(at(100));
        let node = address(1);
        assert_eq!(book.seen_offline_since(&node, at(130)), Duration::from_secs(30));
        book.set_presence(&user(1, "a"), node, UserPresence::Online, None, at(140));
        book.set_presence(&user(1, "a"), node, UserPresence::Offline, None, at(150));
        assert_eq!(book.seen_offline_since(&node, at(160)), Duration::from_secs(10));
    }

    #[test]
    fn metadata_carries_capabilities_and_displayname() {
        let mut book = PresenceBook::new(at(0));
        let node = address(1);
        book.set_presence(&user(1, "a"), node, UserPresence::Online, Some("0xsig".into()), at(1));
        assert_eq!(book.metadata(&node).unwrap().capabilities, UNKNOWN_CAPABILITIES);
        book.set_capabilities(node, "mxc://raiden.network/cap?Mediate=1".into());
        let metadata = book.metadata(&node).unwrap();
        assert_eq!(metadata.capabilities, "mxc://raiden.network/cap?Mediate=1");
        assert_eq!(metadata.displayname.as_deref(), Some("0xsig"));
    }

    #[test]
    fn unreachable_homeserver_makes_its_users_unknown() {
        let mut book = PresenceBook::new(at(0));
        book.set_presence(&user(1, "a:8448"), address(1), UserPresence::Online, None, at(1));
        book.set_presence(&user(2, "b"), address(2), UserPresence::Online, None, at(1));
        let changes = book.mark_server_unknown("a:8448", at(2));
        assert_eq!(
            changes,
            vec![ReachabilityChange { address: address(1), reachability: AddressReachability::Unknown }]
        );
        assert_eq!(book.reachable_addresses(), vec![address(2)]);
    }

    #[test]
    fn user_id_cannot_move_to_another_address() {
        let mut book = PresenceBook::new(at(0));
        book.set_presence(&user(1, "a"), address(1), UserPresence::Online, None, at(1));
        assert_eq!(book.set_presence(&user(1, "a"), address(2), UserPresence::Online, None, at(2)), None);
        assert_eq!(book.reachability(&address(2)), AddressReachability::Unknown);
    }

    #[test]
    fn presence_strings_parse_strictly() {
        assert_eq!("online".parse(), Ok(UserPresence::Online));
        assert!("busy".parse::<UserPresence>().is_err());
    }
}
