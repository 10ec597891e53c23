//! Turns `/sync` answers into [`MatrixEvent`]s: the identity checks, the to-device line reader and
//! the rate limiter, with what they remember between answers (profiles and verified
//! displaynames per user, each user's last presence, one sample user per remote homeserver).
//!
//! Processing is split in two so the rules stay free of I/O: [`Processor::profiles_to_fetch`]
//! says which profiles an answer needs, the caller fetches them ([`Processor::record_profile`]),
//! and [`Processor::process`] then decides everything synchronously. The rules are the
//! reference's (spec/REFERENCE-PFS.md §3.1, §3.5):
//! * presence of a user id not matching the Raiden pattern, of the PFS itself, or with a presence
//!   string Matrix does not define, is ignored;
//! * the displayname comes from the event if it has one, else from the profile, fetched when the
//!   user is new, when its last fetch failed, or when the user comes back online (which also
//!   refreshes the capabilities in the avatar URL, as the reference does on a reachability change);
//! * a profile that cannot be fetched gives [`UserPresence::ServerError`]; a displayname that does
//!   not verify drops the event;
//! * a to-device body is read only from a verified sender, within the size and byte-rate limits,
//!   one message per non-blank line; each message must verify and be signed by the sender.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use pfs_core::Address;
use pfs_core::matrix_identity::{self, MatrixIdentityError};
use pfs_core::messages::Message;
use pfs_core::presence::{AddressReachability, UserPresence};
use pfs_core::token_network::VerifiedUpdate;

use crate::client::MatrixConfig;
use crate::events::{
    DropReason, MatrixEvent, PresenceChanged, ToDeviceDropped, ToDeviceRejection, ToDeviceUpdates,
};
use crate::http::MatrixError;
use crate::rate_limit::ByteRateLimiter;
use crate::wire::{MessageContent, Profile, SyncResponse, ToDeviceEvent};

/// The to-device event type Raiden nodes send updates with.
const MESSAGE_EVENT_TYPE: &str = "m.room.message";
/// The only `msgtype` read.
const TEXT_MSGTYPE: &str = "m.text";

/// The limits the processor enforces.
#[derive(Debug, Clone)]
pub(crate) struct ProcessorLimits {
    pub max_body_chars: usize,
    pub max_known_users: usize,
}

#[derive(Debug, Default)]
struct UserRecord {
    displayname: Option<String>,
    avatar_url: Option<String>,
    /// A profile answer (possibly 404) was recorded.
    profile_fetched: bool,
    /// The last fetch failed for another reason than "no such profile".
    profile_failed: bool,
    /// The displayname last verified and its result.
    verified: Option<(String, Result<Address, MatrixIdentityError>)>,
    last_presence: Option<UserPresence>,
}

impl UserRecord {
    /// Verifies the current displayname, reusing the last result if it did not change.
    fn verify(&mut self, user_id: &str) -> Option<Result<Address, MatrixIdentityError>> {
        let displayname = self.displayname.as_ref()?;
        match &self.verified {
            Some((checked, result)) if checked == displayname => Some(result.clone()),
            _ => {
                let result = matrix_identity::validate_displayname(user_id, displayname);
                self.verified = Some((displayname.clone(), result.clone()));
                Some(result)
            }
        }
    }
}

/// Identity and rate state carried from one `/sync` answer to the next.
#[derive(Debug)]
pub(crate) struct Processor {
    own_user_id: String,
    own_server: String,
    limits: ProcessorLimits,
    users: HashMap<String, UserRecord>,
    limiter: ByteRateLimiter,
    /// One verified user per remote homeserver, to probe it through.
    remote_servers: BTreeMap<String, String>,
    /// Users reported as [`UserPresence::ServerError`], with the presence they last announced:
    /// their profile is fetched again until it verifies (or not), without waiting for news.
    unverified: BTreeMap<String, UserPresence>,
}

/// Profiles retried in one round at most.
const MAX_RETRIES_PER_ROUND: usize = 1_000;

/// Longest user id read, in bytes (the Matrix spec's limit): events of longer ones are ignored or
/// dropped as from a non-Raiden user.
const MAX_USER_ID_BYTES: usize = 255;

/// Longest displayname kept: a Raiden displayname (`0x` and 130 hex digits) has exactly this
/// length, so a longer one can never verify and is replaced by [`OVERLONG_DISPLAYNAME`].
const MAX_DISPLAYNAME_BYTES: usize = 132;

/// What a displayname longer than [`MAX_DISPLAYNAME_BYTES`] is kept as: short, and never a valid
/// signature, so it fails verification as the original would.
const OVERLONG_DISPLAYNAME: &str = "(overlong displayname)";

/// Longest avatar URL (capabilities) kept, in bytes (Synapse's limit); a longer one is ignored.
const MAX_AVATAR_URL_BYTES: usize = 1_000;

/// Most remote homeservers remembered for probing (each costs one probe per round); also never
/// more than the known users.
const MAX_PROBED_SERVERS: usize = 1_000;

/// The address in the Raiden user id `user_id`, if it is one of at most [`MAX_USER_ID_BYTES`].
fn raiden_user_id(user_id: &str) -> Result<Address, MatrixIdentityError> {
    if user_id.len() > MAX_USER_ID_BYTES {
        return Err(MatrixIdentityError::InvalidUserId(user_id.chars().take(80).collect()));
    }
    Ok(matrix_identity::parse_user_id(user_id)?.address)
}

/// `displayname`, or [`OVERLONG_DISPLAYNAME`] for one too long to verify.
fn bounded_displayname(displayname: Option<String>) -> Option<String> {
    displayname
        .map(|name| if name.len() > MAX_DISPLAYNAME_BYTES { OVERLONG_DISPLAYNAME.to_owned() } else { name })
}

/// `avatar_url` unless it is longer than [`MAX_AVATAR_URL_BYTES`].
fn bounded_avatar_url(avatar_url: Option<String>) -> Option<String> {
    avatar_url.filter(|url| url.len() <= MAX_AVATAR_URL_BYTES)
}

/// The server name of a user id: everything after the first `:`.
pub(crate) fn server_of(user_id: &str) -> Option<&str> {
    user_id.split_once(':').map(|(_, server)| server)
}

fn is_reachable(presence: Option<UserPresence>) -> bool {
    presence.is_some_and(|presence| presence.reachability() == AddressReachability::Reachable)
}

impl Processor {
    /// A processor for the PFS user `own_user_id` with `config`'s limits and byte budget.
    pub fn from_config(own_user_id: String, config: &MatrixConfig) -> Self {
        let limits = ProcessorLimits {
            max_body_chars: config.max_body_chars,
            max_known_users: config.max_known_users,
        };
        let limiter = ByteRateLimiter::new(config.rate_limit_bytes, config.rate_limit_window);
        Self::new(own_user_id, limits, limiter)
    }

    pub fn new(own_user_id: String, limits: ProcessorLimits, limiter: ByteRateLimiter) -> Self {
        let own_server = server_of(&own_user_id).unwrap_or_default().to_owned();
        Self {
            own_user_id,
            own_server,
            limits,
            users: HashMap::new(),
            limiter,
            remote_servers: BTreeMap::new(),
            unverified: BTreeMap::new(),
        }
    }

    /// The user ids whose profile `response` needs; with `presence_only`, to-device events are
    /// not looked at.
    pub fn profiles_to_fetch(&self, response: &SyncResponse, presence_only: bool) -> Vec<String> {
        let mut wanted: Vec<String> = Vec::new();
        // A set beside the list: a flood of new users must not cost a list search each.
        let mut seen: HashSet<&str> = HashSet::new();
        for event in &response.presence.events {
            let Some(presence) =
                self.relevant_presence(&event.event_type, &event.sender, &event.content.presence)
            else {
                continue;
            };
            if event.content.displayname.is_some() && event.content.avatar_url.is_some() {
                continue;
            }
            let needed = match self.users.get(&event.sender) {
                None => true,
                Some(record) => {
                    !record.profile_fetched
                        || record.profile_failed
                        || (is_reachable(Some(presence)) && !is_reachable(record.last_presence))
                }
            };
            if needed && seen.insert(&event.sender) {
                wanted.push(event.sender.clone());
            }
        }
        if !presence_only {
            for event in &response.to_device.events {
                let needed = raiden_user_id(&event.sender).is_ok()
                    && self.users.get(&event.sender).is_none_or(|record| {
                        record.displayname.is_none() && (!record.profile_fetched || record.profile_failed)
                    });
                if needed && seen.insert(&event.sender) {
                    wanted.push(event.sender.clone());
                }
            }
        }
        wanted
    }

    /// Records the answer to a profile fetch for `user_id`.
    pub fn record_profile(&mut self, user_id: &str, answer: Result<Profile, MatrixError>) {
        let record = self.record_mut(user_id);
        match answer {
            Ok(profile) => {
                record.displayname = bounded_displayname(profile.displayname);
                record.avatar_url = bounded_avatar_url(profile.avatar_url);
                record.profile_fetched = true;
                record.profile_failed = false;
            }
            // No such user or no profile: nothing can verify it.
            Err(error) if error.status() == Some(404) => {
                record.displayname = None;
                record.avatar_url = None;
                record.profile_fetched = true;
                record.profile_failed = false;
            }
            Err(error) => {
                tracing::debug!(%user_id, %error, "profile unavailable");
                record.profile_failed = true;
            }
        }
    }

    /// Records that `user_id`'s profile could not be fetched in time: as a failed fetch.
    pub fn record_profile_unavailable(&mut self, user_id: &str) {
        self.record_mut(user_id).profile_failed = true;
    }

    /// The events of `response`; with `presence_only` (a snapshot), to-device events are left
    /// for the incremental `/sync` that delivers them again.
    pub fn process(
        &mut self,
        response: &SyncResponse,
        presence_only: bool,
        now: Instant,
    ) -> Vec<MatrixEvent> {
        let mut events = Vec::new();
        for event in &response.presence.events {
            let Some(presence) =
                self.relevant_presence(&event.event_type, &event.sender, &event.content.presence)
            else {
                continue;
            };
            let (displayname, avatar_url) =
                (event.content.displayname.clone(), event.content.avatar_url.clone());
            if let Some(changed) = self.presence_event(&event.sender, presence, displayname, avatar_url) {
                events.push(MatrixEvent::PresenceChanged(changed));
            }
        }
        if !presence_only {
            for event in &response.to_device.events {
                events.push(self.read_to_device_event(event, now));
            }
        }
        self.trim_to_bounds();
        events
    }

    /// Forgets users (and pending retries) beyond [`ProcessorLimits::max_known_users`]; they are
    /// re-read from their profile when seen again. Called once an answer is processed, so that
    /// the users an answer names — among them the senders its to-device events are verified
    /// against — are all at hand while it is: between answers at most `max_known_users` are kept,
    /// within one at most that many plus the users it names.
    fn trim_to_bounds(&mut self) {
        let max = self.limits.max_known_users;
        let mut excess = self.users.len().saturating_sub(max);
        if excess > 0 {
            self.users.retain(|_, _| {
                let keep = excess == 0;
                excess = excess.saturating_sub(1);
                keep
            });
        }
        while self.unverified.len() > max {
            self.unverified.pop_last();
        }
    }

    /// Whether some user's profile could not be fetched when its presence arrived.
    pub fn has_unverified(&self) -> bool {
        !self.unverified.is_empty()
    }

    /// Users whose profile could not be fetched when their presence arrived, to fetch again.
    pub fn profiles_to_retry(&self) -> Vec<String> {
        self.unverified.keys().take(MAX_RETRIES_PER_ROUND).cloned().collect()
    }

    /// The presence events of users whose profile could not be fetched before, now that it was
    /// fetched again ([`Processor::record_profile`]); users whose profile still fails stay
    /// pending (and get no new event).
    pub fn process_retried(&mut self) -> Vec<MatrixEvent> {
        let fetched: Vec<(String, UserPresence)> = self
            .unverified
            .iter()
            .filter(|(user_id, _)| self.users.get(*user_id).is_some_and(|record| !record.profile_failed))
            .map(|(user_id, presence)| (user_id.clone(), *presence))
            .collect();
        let events = fetched
            .into_iter()
            .filter_map(|(user_id, presence)| {
                self.unverified.remove(&user_id);
                self.presence_event(&user_id, presence, None, None).map(MatrixEvent::PresenceChanged)
            })
            .collect();
        self.trim_to_bounds();
        events
    }

    /// Marks the users of `server_name` as of unknown presence, so they count as coming back
    /// (and get their profile re-read) when presence for them arrives again.
    pub fn mark_server_unknown(&mut self, server_name: &str) {
        for (user_id, record) in &mut self.users {
            if server_of(user_id) == Some(server_name) {
                record.last_presence = Some(UserPresence::Unknown);
            }
        }
    }

    /// How much is remembered between answers (for tests of the bounds).
    #[cfg(feature = "testing")]
    pub fn remembered(&self) -> crate::testing::Remembered {
        let length = |text: &Option<String>| text.as_ref().map_or(0, String::len);
        let users: usize = self
            .users
            .iter()
            .map(|(user_id, record)| {
                let verified = record.verified.as_ref().map_or(0, |(displayname, _)| displayname.len());
                user_id.len() + length(&record.displayname) + length(&record.avatar_url) + verified
            })
            .sum();
        let unverified: usize = self.unverified.keys().map(String::len).sum();
        let servers: usize = self.remote_servers.iter().map(|(server, user)| server.len() + user.len()).sum();
        crate::testing::Remembered {
            users: self.users.len(),
            unverified: self.unverified.len(),
            remote_servers: self.remote_servers.len(),
            text_bytes: users + unverified + servers,
        }
    }

    /// Each remote homeserver with a verified user, and that user.
    pub fn remote_servers(&self) -> Vec<(String, String)> {
        self.remote_servers.iter().map(|(server, user)| (server.clone(), user.clone())).collect()
    }

    /// The presence of a presence event worth looking at, or `None` to ignore it.
    fn relevant_presence(&self, event_type: &str, sender: &str, presence: &str) -> Option<UserPresence> {
        if event_type != "m.presence" || sender == self.own_user_id {
            return None;
        }
        raiden_user_id(sender).ok()?;
        match presence.parse() {
            Ok(presence) => Some(presence),
            Err(error) => {
                tracing::debug!(%sender, %error, "presence ignored");
                None
            }
        }
    }

    fn presence_event(
        &mut self,
        user_id: &str,
        presence: UserPresence,
        displayname: Option<String>,
        avatar_url: Option<String>,
    ) -> Option<PresenceChanged> {
        let claimed = raiden_user_id(user_id).ok()?;
        let (displayname, avatar_url) = (bounded_displayname(displayname), bounded_avatar_url(avatar_url));
        let record = self.record_mut(user_id);
        if displayname.is_some() {
            record.displayname = displayname;
        }
        if avatar_url.is_some() {
            record.avatar_url = avatar_url;
        }
        if record.displayname.is_none() && record.profile_failed {
            record.last_presence = Some(UserPresence::ServerError);
            self.unverified.insert(user_id.to_owned(), presence);
            return Some(PresenceChanged {
                user_id: user_id.to_owned(),
                address: claimed,
                presence: UserPresence::ServerError,
                displayname: None,
                capabilities: None,
            });
        }
        self.unverified.remove(user_id);
        let record = self.record_mut(user_id);
        let address = match record.verify(user_id)? {
            Ok(address) => address,
            Err(error) => {
                tracing::debug!(%user_id, %error, "presence of an unverified user ignored");
                return None;
            }
        };
        record.last_presence = Some(presence);
        let changed = PresenceChanged {
            user_id: user_id.to_owned(),
            address,
            presence,
            displayname: record.displayname.clone(),
            capabilities: record.avatar_url.clone(),
        };
        let max_servers = self.limits.max_known_users.min(MAX_PROBED_SERVERS);
        if let Some(server) = server_of(user_id).filter(|server| *server != self.own_server)
            && (self.remote_servers.len() < max_servers || self.remote_servers.contains_key(server))
        {
            self.remote_servers.entry(server.to_owned()).or_insert_with(|| user_id.to_owned());
        }
        Some(changed)
    }

    fn read_to_device_event(&mut self, event: &ToDeviceEvent, now: Instant) -> MatrixEvent {
        let dropped = |reason| {
            MatrixEvent::ToDeviceDropped(ToDeviceDropped { sender_user_id: event.sender.clone(), reason })
        };
        let body = match event.message_content() {
            Some(MessageContent { msgtype, body })
                if event.event_type == MESSAGE_EVENT_TYPE && msgtype == TEXT_MSGTYPE =>
            {
                body
            }
            _ => return dropped(DropReason::NotTextMessage),
        };
        let sender = match self.verified_sender(&event.sender) {
            Ok(address) => address,
            Err(reason) => return dropped(reason),
        };
        let max = self.limits.max_body_chars;
        // A body of more than 4 × max bytes has more than max characters whatever they are.
        if body.len() > max && (body.len() > max.saturating_mul(4) || body.chars().count() > max) {
            let chars = if body.len() > max.saturating_mul(4) { body.len() } else { body.chars().count() };
            return dropped(DropReason::TooLarge { chars, max });
        }
        if !self.limiter.admit(sender, body.len() as u64, now) {
            return dropped(DropReason::RateLimited);
        }
        let results = body
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(|line| read_update(line, sender))
            .collect();
        MatrixEvent::ToDeviceUpdates(ToDeviceUpdates {
            sender_user_id: event.sender.clone(),
            sender_address: sender,
            results,
        })
    }

    fn verified_sender(&mut self, user_id: &str) -> Result<Address, DropReason> {
        raiden_user_id(user_id)?;
        let record = self.record_mut(user_id);
        if record.displayname.is_none() && record.profile_failed {
            return Err(DropReason::ProfileUnavailable);
        }
        match record.verify(user_id) {
            Some(result) => Ok(result?),
            None => Err(DropReason::UnverifiedSender(MatrixIdentityError::InvalidDisplayname)),
        }
    }

    /// The record of `user_id`, created if new; the bound on known users is enforced after
    /// the answer ([`Processor::trim_to_bounds`]), not here, so that no user of the answer being
    /// processed is forgotten in the middle of it.
    fn record_mut(&mut self, user_id: &str) -> &mut UserRecord {
        self.users.entry(user_id.to_owned()).or_default()
    }
}

/// Reads one line of a to-device body from `sender`: parse, verify the signature, and check the
/// signer is the sender — the same validation `POST /api/v1/updates` applies, plus the sender
/// match.
pub fn read_update(line: &str, sender: Address) -> Result<VerifiedUpdate, ToDeviceRejection> {
    let update = VerifiedUpdate::verify(Message::parse(line)?)?;
    let signer = update.updating_participant();
    if signer == sender { Ok(update) } else { Err(ToDeviceRejection::SignerNotSender { signer, sender }) }
}

#[cfg(test)]
mod tests;
