//! Hostile `/sync` answers as proptest strategies, and the rules the client's reading of them
//! must obey (feature `hostile`); shared by this crate's robustness tests and pfs-service's.
//!
//! A [`World`] holds the actors: honest nodes and the attacker (verified identities), and users
//! whose identity does not verify — an impostor using an honest node's address under another
//! user id with a displayname the attacker signed, a replayer of an honest node's displayname,
//! a user with a garbage displayname, one without a profile, users claiming honest addresses
//! whose profile cannot be fetched — plus arbitrary user ids. With [`World::with_targets`],
//! updates also aim at real channels of a service under test (signed by the attacker, by a
//! stranger, or genuinely by an honest node and resent by someone else). [`answer`] generates an [`AnswerSpec`]: presence and to-device
//! events from them with hostile contents (wrong types at every level, long strings, deep
//! nesting, lone surrogates, bodies of garbage lines and of updates that are forged, tampered,
//! signed by someone else or out of range), junk that is not an event at all, and hostile
//! top-level keys the client does not read. [`AnswerSpec::render`] writes it as raw JSON text
//! (so it can hold what a [`serde_json::Value`] cannot), remembering for every event what the
//! client must make of it; [`check_batch`] compares a batch with that, event by event and line
//! by line.
//!
//! What is expected, in short: presence only of verified users (or `server_error` for the users
//! whose profile fails); for every readable to-device event exactly one output, in order — a drop
//! with the first reason that applies (not text, unverified sender, profile unavailable, too
//! large, over budget), else one result per non-blank line, `Ok` exactly for the updates the
//! sender's own key signed and that were not tampered with.

use pfs_core::matrix_identity;
use pfs_core::{Address, PrivateKey, U256};

use super::SyncReader;

mod check;
mod render;
mod specs;
mod strategies;

pub use check::{BudgetUsed, Limits, check_batch, check_safety};
pub use render::{PresenceMeta, RenderedAnswer, ToDeviceMeta};
pub use specs::{
    AnswerSpec, BodySpec, ContentSpec, FeeValues, LineSpec, NameSpec, PresenceSpec, RawJson, Reencoding,
    Separator, Signer, Tamper, ToDeviceSpec, UpdateFields, Updating,
};
pub use strategies::{
    TWO_TO_256, answer, body, extras, line, presence, raw_json, sender, to_device, update_fields,
};

/// The server name of the PFS's homeserver in a [`World`].
pub const SERVER: &str = "pfs.server";
/// The avatar URL (capabilities) of verified actors.
pub const CAPABILITIES: &str = "mxc://raiden.network/cap?Receive=1&Mediate=1";

/// Who sends an event.
#[derive(Debug, Clone)]
pub enum Sender {
    /// An honest node (index modulo the number of honest nodes): a verified identity.
    Honest(usize),
    /// The attacker's own, verified identity; its updates are signed with its own key.
    Attacker,
    /// `@<honest node's address>:evil.server`, with a displayname the attacker signed.
    Impostor(usize),
    /// `@<honest node's address>.deadbeef:pfs.server`, replaying the honest node's displayname.
    Replayer(usize),
    /// The attacker's second key's user id, with a displayname that is not a signature.
    Garbage,
    /// A Raiden user id without a profile (404).
    Nobody,
    /// `@<honest node's address>:down.server`, whose profile cannot be fetched (502): its
    /// presence is reported as `server_error` under the address it claims.
    Failing(usize),
    /// The PFS itself.
    Own,
    /// Any string (a Raiden user id of nobody known, or not a Raiden user id at all).
    Arbitrary(String),
}

/// The actors of hostile answers.
#[derive(Debug)]
pub struct World {
    own: String,
    honest: Vec<PrivateKey>,
    attacker: PrivateKey,
    second: PrivateKey,
    garbage_displayname: String,
    nobody: String,
    targets: Vec<Target>,
    steady_honest: bool,
}

/// A channel the service knows, for updates aimed at it.
#[derive(Debug, Clone)]
pub struct Target {
    /// The chain id.
    pub chain_id: u64,
    /// The token network.
    pub token_network: Address,
    /// The channel id.
    pub channel_id: U256,
    /// Its participants.
    pub participants: [Address; 2],
}

fn fixed_key(byte: u8) -> PrivateKey {
    // Invariant: a 32-byte string of one small non-zero byte is a valid secp256k1 key.
    PrivateKey::from_bytes([byte; 32]).expect("a constant key")
}

impl World {
    /// A world whose honest nodes have `honest` keys (at least one); the attacker's keys and the
    /// other actors are fixed. The PFS is `@0x…0001:pfs.server`.
    ///
    /// # Panics
    /// If `honest` is empty.
    pub fn new(honest: Vec<PrivateKey>) -> Self {
        assert!(!honest.is_empty(), "a world needs an honest node");
        let mut own = [0; 20];
        own[19] = 1;
        Self {
            own: matrix_identity::user_id(&Address::from_bytes(own), SERVER),
            honest,
            attacker: fixed_key(0xa1),
            second: fixed_key(0xa2),
            garbage_displayname: format!("0x{}", "zz".repeat(65)),
            nobody: matrix_identity::user_id(&Address::from_bytes([0xa3; 20]), SERVER),
            targets: Vec::new(),
            steady_honest: false,
        }
    }

    /// This world with updates aimed at `targets` (real channels of a service under test) as
    /// well as at random ones. The honest nodes become steady: their presence events say
    /// `online` and their own updates never aim at a target, so that everything a hostile answer
    /// does to the targets is the attackers' doing.
    pub fn with_targets(mut self, targets: Vec<Target>) -> Self {
        self.targets = targets;
        self.steady_honest = true;
        self
    }

    /// The PFS's user id.
    pub fn own_user_id(&self) -> &str {
        &self.own
    }

    /// The key of honest node `index` (modulo their number).
    pub fn honest_key(&self, index: usize) -> &PrivateKey {
        &self.honest[index % self.honest.len()]
    }

    /// The user id of honest node `index`.
    pub fn honest_user_id(&self, index: usize) -> String {
        matrix_identity::user_id(&self.honest_key(index).address(), SERVER)
    }

    /// The attacker's own key.
    pub fn attacker_key(&self) -> &PrivateKey {
        &self.attacker
    }

    /// The user id `sender` sends as.
    pub fn user_id(&self, sender: &Sender) -> String {
        match sender {
            Sender::Honest(index) => self.honest_user_id(*index),
            Sender::Attacker => matrix_identity::user_id(&self.attacker.address(), SERVER),
            Sender::Impostor(index) => {
                matrix_identity::user_id(&self.honest_key(*index).address(), "evil.server")
            }
            Sender::Replayer(index) => {
                format!("@{}.deadbeef:{SERVER}", self.honest_key(*index).address().to_lower_hex())
            }
            Sender::Garbage => matrix_identity::user_id(&self.second.address(), SERVER),
            Sender::Nobody => self.nobody.clone(),
            Sender::Failing(index) => {
                matrix_identity::user_id(&self.honest_key(*index).address(), "down.server")
            }
            Sender::Own => self.own.clone(),
            Sender::Arbitrary(user_id) => user_id.clone(),
        }
    }

    /// The key a verified user id belongs to: honest nodes' and the attacker's.
    pub fn identity(&self, user_id: &str) -> Option<&PrivateKey> {
        let attacker = std::iter::once(&self.attacker);
        self.honest
            .iter()
            .chain(attacker)
            .find(|key| matrix_identity::user_id(&key.address(), SERVER) == user_id)
    }

    /// Whether `user_id` is a failing user's.
    fn is_failing(&self, user_id: &str) -> bool {
        (0..self.honest.len()).any(|index| self.user_id(&Sender::Failing(index)) == user_id)
    }

    /// Whether `sender` has a verified identity.
    fn is_verified(&self, sender: &Sender) -> bool {
        matches!(sender, Sender::Honest(_) | Sender::Attacker)
    }

    /// The key `sender` signs updates with: its own, or the attacker's for everyone else.
    fn signing_key(&self, sender: &Sender) -> &PrivateKey {
        match sender {
            Sender::Honest(index) => self.honest_key(*index),
            _ => &self.attacker,
        }
    }

    /// The displayname published in `sender`'s profile, if it has one.
    fn profile_displayname(&self, sender: &Sender) -> Option<String> {
        let user_id = self.user_id(sender);
        match sender {
            Sender::Honest(index) => Some(matrix_identity::displayname(self.honest_key(*index), &user_id)),
            Sender::Attacker => Some(matrix_identity::displayname(&self.attacker, &user_id)),
            Sender::Impostor(_) => Some(matrix_identity::displayname(&self.attacker, &user_id)),
            Sender::Replayer(index) => {
                Some(matrix_identity::displayname(self.honest_key(*index), &self.honest_user_id(*index)))
            }
            Sender::Garbage => Some(self.garbage_displayname.clone()),
            Sender::Nobody | Sender::Failing(_) | Sender::Own | Sender::Arbitrary(_) => None,
        }
    }

    /// Publishes the actors' profiles in `reader`: verified ones with their displayname and
    /// [`CAPABILITIES`], the impostors with theirs; the failing user's fetch fails.
    pub fn install(&self, reader: &mut SyncReader) {
        let mut senders: Vec<Sender> = (0..self.honest.len()).map(Sender::Honest).collect();
        senders.push(Sender::Attacker);
        senders.extend(
            (0..self.honest.len()).flat_map(|index| [Sender::Impostor(index), Sender::Replayer(index)]),
        );
        senders.push(Sender::Garbage);
        for sender in senders {
            reader.set_profile(
                &self.user_id(&sender),
                self.profile_displayname(&sender),
                Some(CAPABILITIES.to_owned()),
            );
        }
        for index in 0..self.honest.len() {
            reader.fail_profile(&self.user_id(&Sender::Failing(index)));
        }
    }
}

/// A proptest runner of `default_cases` cases unless `PROPTEST_CASES` says otherwise, keeping
/// failures in `proptest-regressions` files beside `source_file` (pass `file!()`).
pub fn runner(default_cases: u32, source_file: &'static str) -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
    let cases =
        std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(default_cases);
    TestRunner::new(Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        source_file: Some(source_file),
        ..Config::default()
    })
}
