//! The client's reading of `/sync` answers without a homeserver, for tests (feature `testing`):
//! the same parsing and [`Processor`] as the sync loop, with profiles answered from a table
//! instead of fetched. Tests of the PFS's robustness drive it with hostile `/sync` bodies and
//! hand its batches to a consumer, as the loop would.

use std::collections::HashMap;
use std::time::Instant;

use crate::client::MatrixConfig;
use crate::events::SyncBatch;
use crate::http::MatrixError;
use crate::processor::Processor;
use crate::wire::{Profile, SyncResponse};

/// What a profile fetch answers.
#[derive(Debug, Clone)]
enum ProfileAnswer {
    /// The profile.
    Found(Profile),
    /// The homeserver could not read it (502).
    Failing,
}

/// How much a [`SyncReader`] (that is, the client) remembers between answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remembered {
    /// Users with a profile or verification cached; at most [`MatrixConfig::max_known_users`].
    pub users: usize,
    /// Users reported as `server_error` whose profile is fetched again.
    pub unverified: usize,
    /// Remote homeservers remembered for probing.
    pub remote_servers: usize,
    /// The bytes of all the strings kept for them (user ids, displaynames, avatar URLs, server
    /// names).
    pub text_bytes: usize,
}

/// Reads `/sync` answers as the client's sync loop does: parse the body, fetch the profiles the
/// answer needs (here: from the table [`SyncReader::set_profile`] fills; a user not in it has no
/// profile, a 404), then process it into one [`SyncBatch`].
#[derive(Debug)]
pub struct SyncReader {
    processor: Processor,
    profiles: HashMap<String, ProfileAnswer>,
    fetches: usize,
}

impl SyncReader {
    /// A reader for the PFS user `own_user_id` with the limits and byte budget of `config`.
    pub fn new(own_user_id: &str, config: &MatrixConfig) -> Self {
        Self {
            processor: Processor::from_config(own_user_id.to_owned(), config),
            profiles: HashMap::new(),
            fetches: 0,
        }
    }

    /// Makes `user_id`'s profile answer with `displayname` and `avatar_url`.
    pub fn set_profile(&mut self, user_id: &str, displayname: Option<String>, avatar_url: Option<String>) {
        self.profiles.insert(user_id.to_owned(), ProfileAnswer::Found(Profile { displayname, avatar_url }));
    }

    /// Makes fetches of `user_id`'s profile fail with a 502, as when its homeserver does not
    /// answer.
    pub fn fail_profile(&mut self, user_id: &str) {
        self.profiles.insert(user_id.to_owned(), ProfileAnswer::Failing);
    }

    /// Reads one `/sync` answer at `now` (the byte budget's clock), as the sync loop does after a
    /// successful `/sync` (not a presence snapshot). The batch carries the answer's
    /// `next_batch` and no completion signal.
    ///
    /// # Errors
    /// The body is not a `/sync` answer; the loop would retry the same `/sync` after a backoff.
    pub fn read(&mut self, body: &[u8], now: Instant) -> Result<SyncBatch, serde_json::Error> {
        let response: SyncResponse = serde_json::from_slice(body)?;
        for user_id in self.processor.profiles_to_fetch(&response, false) {
            self.fetches += 1;
            let answer = match self.profiles.get(&user_id) {
                Some(ProfileAnswer::Found(profile)) => Ok(profile.clone()),
                Some(ProfileAnswer::Failing) => Err(status("profile", 502)),
                None => Err(status("profile", 404)),
            };
            self.processor.record_profile(&user_id, answer);
        }
        let events = self.processor.process(&response, false, now);
        Ok(SyncBatch::new(response.next_batch, events))
    }

    /// How many profile fetches the answers read so far needed.
    pub fn profile_fetches(&self) -> usize {
        self.fetches
    }

    /// How much the reader remembers between answers.
    pub fn remembered(&self) -> Remembered {
        self.processor.remembered()
    }
}

fn status(endpoint: &'static str, status: u16) -> MatrixError {
    MatrixError::Status { endpoint, status, errcode: None, message: None, retry_after: None }
}
