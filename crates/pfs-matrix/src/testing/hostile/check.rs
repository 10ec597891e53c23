//! Checking a client's batch against a rendered answer and the rules (see the module docs).

use std::collections::HashMap;

use pfs_core::matrix_identity;
use pfs_core::presence::UserPresence;
use pfs_core::{Address, PrivateKey};

use super::World;
use super::render::{PresenceMeta, RenderedAnswer, ToDeviceMeta};
use crate::events::{DropReason, MatrixEvent, SyncBatch, ToDeviceRejection};

/// The limits a check applies, as the client was configured.
#[derive(Debug, Clone)]
pub struct Limits {
    /// [`crate::MatrixConfig::max_body_chars`].
    pub max_body_chars: usize,
    /// [`crate::MatrixConfig::rate_limit_bytes`].
    pub rate_limit_bytes: u64,
}

/// Byte budget used per sender address in the current window, as the check simulates it.
pub type BudgetUsed = HashMap<Address, u64>;

/// The name of a drop reason, as the expectation names it.
fn drop_name(reason: &DropReason) -> &'static str {
    match reason {
        DropReason::NotTextMessage => "not_text",
        DropReason::UnverifiedSender(_) => "unverified_sender",
        DropReason::ProfileUnavailable => "profile_unavailable",
        DropReason::TooLarge { .. } => "too_large",
        DropReason::RateLimited => "rate_limited",
    }
}

/// Checks `batch`, the client's reading of `answer`, against the rules (see the module docs);
/// `used` is the byte budget spent so far in the window and is updated.
///
/// # Errors
/// A description of the first difference.
pub fn check_batch(
    world: &World,
    limits: &Limits,
    answer: &RenderedAnswer,
    batch: &SyncBatch,
    used: &mut BudgetUsed,
) -> Result<(), String> {
    if batch.sync_token != answer.next_batch {
        return Err(format!("token {:?} for next_batch {:?}", batch.sync_token, answer.next_batch));
    }
    let mut presence = Vec::new();
    let mut to_device = Vec::new();
    for event in &batch.events {
        match event {
            MatrixEvent::PresenceChanged(changed) => presence.push(changed),
            MatrixEvent::ToDeviceUpdates(_) | MatrixEvent::ToDeviceDropped(_) => to_device.push(event),
            MatrixEvent::HomeserverUnreachable { server_name } => {
                return Err(format!("a /sync answer made {server_name:?} unreachable"));
            }
        }
    }
    check_presence(answer, &presence)?;
    let readable: Vec<_> =
        answer.to_device.iter().filter(|(_, meta)| !matches!(meta, ToDeviceMeta::Skipped)).collect();
    if readable.len() != to_device.len() {
        return Err(format!("{} readable to-device events gave {} outputs", readable.len(), to_device.len()));
    }
    for (index, ((raw, meta), output)) in readable.into_iter().zip(to_device).enumerate() {
        check_to_device(world, limits, meta, output, used)
            .map_err(|problem| format!("to-device event {index} ({}): {problem}", abbreviate(raw)))?;
    }
    Ok(())
}

/// Checks what must hold of any batch, whatever answer it was read from: presence only of
/// verified users (or `server_error` without a displayname), updates only from verified senders
/// and signed by them.
///
/// # Errors
/// A description of the first violation.
pub fn check_safety(world: &World, batch: &SyncBatch) -> Result<(), String> {
    for event in &batch.events {
        match event {
            MatrixEvent::PresenceChanged(changed) if changed.presence == UserPresence::ServerError => {
                if changed.displayname.is_some() {
                    return Err(format!("server_error with a displayname: {changed:?}"));
                }
            }
            MatrixEvent::PresenceChanged(changed) => {
                let key = world.identity(&changed.user_id);
                let displayname = changed.displayname.as_deref().unwrap_or_default();
                let proven = matrix_identity::validate_displayname(&changed.user_id, displayname);
                if key.map(PrivateKey::address) != Some(changed.address) || proven != Ok(changed.address) {
                    return Err(format!("presence of an unverified user: {changed:?}"));
                }
            }
            MatrixEvent::ToDeviceUpdates(updates) => {
                let key = world.identity(&updates.sender_user_id);
                if key.map(PrivateKey::address) != Some(updates.sender_address) {
                    return Err(format!("updates from an unverified sender: {}", describe(event)));
                }
                if let Some(update) = updates
                    .results
                    .iter()
                    .flatten()
                    .find(|update| update.updating_participant() != updates.sender_address)
                {
                    return Err(format!(
                        "an update of {} accepted from {}",
                        update.updating_participant(),
                        updates.sender_address
                    ));
                }
            }
            MatrixEvent::ToDeviceDropped(_) => {}
            MatrixEvent::HomeserverUnreachable { server_name } => {
                return Err(format!("a /sync answer made {server_name:?} unreachable"));
            }
        }
    }
    Ok(())
}

fn abbreviate(text: &str) -> String {
    if text.len() <= 300 {
        text.to_owned()
    } else {
        format!("{}… ({} bytes)", &text[..text.floor_char_boundary(300)], text.len())
    }
}

fn check_presence(
    answer: &RenderedAnswer,
    outputs: &[&crate::events::PresenceChanged],
) -> Result<(), String> {
    let expected: Vec<&PresenceMeta> = answer
        .presence
        .iter()
        .map(|(_, meta)| meta)
        .filter(|meta| !matches!(meta, PresenceMeta::Nothing))
        .collect();
    if expected.len() != outputs.len() {
        return Err(format!(
            "expected {} presence changes, got {}: {outputs:?}",
            expected.len(),
            outputs.len()
        ));
    }
    for (meta, changed) in expected.into_iter().zip(outputs) {
        match meta {
            PresenceMeta::Changed(user_id, address, state) => {
                let displayname = changed.displayname.as_deref().unwrap_or_default();
                let proven = matrix_identity::validate_displayname(&changed.user_id, displayname);
                if (&changed.user_id, changed.address, changed.presence) != (user_id, *address, *state)
                    || proven != Ok(*address)
                {
                    return Err(format!("expected {user_id} {address} {state}, got {changed:?}"));
                }
            }
            PresenceMeta::ServerError(user_id) => {
                if &changed.user_id != user_id
                    || changed.presence != UserPresence::ServerError
                    || changed.displayname.is_some()
                {
                    return Err(format!("expected server_error for {user_id}, got {changed:?}"));
                }
            }
            PresenceMeta::Nothing => unreachable!("filtered out"),
        }
    }
    Ok(())
}

fn check_to_device(
    world: &World,
    limits: &Limits,
    meta: &ToDeviceMeta,
    output: &MatrixEvent,
    used: &mut BudgetUsed,
) -> Result<(), String> {
    let ToDeviceMeta::Event { event_type, sender, text, valid_lines } = meta else {
        return Err("a skipped event was read".to_owned());
    };
    let expect_drop = |expected: &str| -> Result<(), String> {
        match output {
            MatrixEvent::ToDeviceDropped(dropped)
                if drop_name(&dropped.reason) == expected && &dropped.sender_user_id == sender =>
            {
                Ok(())
            }
            other => Err(format!("expected a drop ({expected}), got {}", describe(other))),
        }
    };
    let Some(body) = text.as_ref().filter(|_| event_type == "m.room.message") else {
        return expect_drop("not_text");
    };
    let Some(key) = world.identity(sender) else {
        let failing = world.is_failing(sender);
        return expect_drop(if failing { "profile_unavailable" } else { "unverified_sender" });
    };
    if body.chars().count() > limits.max_body_chars {
        return expect_drop("too_large");
    }
    let spent = used.entry(key.address()).or_insert(0);
    match spent.checked_add(body.len() as u64) {
        Some(total) if total <= limits.rate_limit_bytes => *spent = total,
        _ => return expect_drop("rate_limited"),
    }
    let MatrixEvent::ToDeviceUpdates(updates) = output else {
        return Err(format!("expected updates, got {}", describe(output)));
    };
    if &updates.sender_user_id != sender || updates.sender_address != key.address() {
        return Err(format!("updates attributed to {} {}", updates.sender_user_id, updates.sender_address));
    }
    let lines: Vec<&str> = body.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    if lines.len() != updates.results.len() {
        return Err(format!("{} lines gave {} results", lines.len(), updates.results.len()));
    }
    for (line, result) in lines.iter().zip(&updates.results) {
        let valid = valid_lines.contains(*line);
        match result {
            Ok(update) if valid && update.updating_participant() == key.address() => {}
            Err(rejection) if !valid => {
                if let ToDeviceRejection::SignerNotSender { signer, sender } = rejection
                    && (signer == sender || *sender != key.address())
                {
                    return Err(format!("inconsistent rejection {rejection:?}"));
                }
            }
            Ok(update) => {
                return Err(format!(
                    "line accepted as an update of {}: {}",
                    update.updating_participant(),
                    abbreviate(line)
                ));
            }
            Err(rejection) => return Err(format!("valid line refused ({rejection}): {}", abbreviate(line))),
        }
    }
    Ok(())
}

fn describe(event: &MatrixEvent) -> String {
    match event {
        MatrixEvent::ToDeviceDropped(dropped) => {
            format!("drop {} from {}", dropped.reason, abbreviate(&dropped.sender_user_id))
        }
        MatrixEvent::ToDeviceUpdates(updates) => {
            format!("{} results from {}", updates.results.len(), updates.sender_user_id)
        }
        other => format!("{other:?}"),
    }
}
