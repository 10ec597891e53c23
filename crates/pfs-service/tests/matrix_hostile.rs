//! Hostile `/sync` answers all the way into a real [`Service`] on a temporary SQLite store: read
//! by the Matrix client's own reading ([`SyncReader`], the processor the sync loop runs, with the
//! profiles of a [`World`]'s actors), then applied by the single writer as the client's batches
//! are. The service follows a line of three honest nodes (channels 1: node 0 – node 1 and 2:
//! node 1 – node 2, all online); the attackers aim updates at those channels as well as at
//! random ones (forged signatures, genuine updates of an honest node resent by someone else,
//! tampered and out-of-range fields, updates of their own), and send presence under honest
//! addresses (impostors, replayed displaynames, users whose profile cannot be fetched).
//!
//! Every hostile answer carries one valid capacity update of node 0 (a higher nonce each time)
//! at a random place. After each batch: that update is applied, and nothing else moved — the
//! [`Fingerprint`] of the channels (stored and in the published graph), the deferred updates,
//! the honest nodes' reachability and metadata, the update counters — and the batch's sync token
//! is stored. The writer keeps taking commands afterwards.
//!
//! Cases: [`DEFAULT_CASES`] answers of up to 10 events of each kind, and 3 of 1,000 – 2,000 each;
//! or `PROPTEST_CASES`.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::time::Instant;

use common::{capacity_update, key, node, open_channels, open_store, token_network};
use pfs_core::presence::{AddressMetadata, AddressReachability};
use pfs_core::token_network::{CapacityReport, Channel, VerifiedUpdate};
use pfs_core::{Address, BlockTimeout, ChannelId, Message, Nonce, U256};
use pfs_matrix::testing::SyncReader;
use pfs_matrix::testing::hostile::{self, BudgetUsed, Limits, RenderedAnswer, Target, World};
use pfs_matrix::{HomeserverAddress, MatrixConfig, MatrixEvent};
use pfs_service::{Service, ServiceConfig, UpdateSource};
use pfs_store::Store;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Cases unless `PROPTEST_CASES` says otherwise.
const DEFAULT_CASES: u32 = 128;

const DEPOSIT: u64 = 1000;

/// The channels of the line: id, participants.
fn channels() -> [(ChannelId, [Address; 2]); 2] {
    [(ChannelId(U256::from(1)), [node(0), node(1)]), (ChannelId(U256::from(2)), [node(1), node(2)])]
}

fn targets() -> Vec<Target> {
    channels()
        .into_iter()
        .map(|(channel_id, participants)| Target {
            chain_id: 1337,
            token_network: token_network(),
            channel_id: channel_id.0,
            participants,
        })
        .collect()
}

fn matrix_config() -> MatrixConfig {
    let homeserver = HomeserverAddress::new("http://127.0.0.1:8008", Some(hostile::SERVER)).expect("valid");
    MatrixConfig::new(homeserver)
}

/// What hostile input must not move.
#[derive(Debug, Clone, PartialEq)]
struct Fingerprint {
    /// Every stored channel.
    stored: BTreeMap<ChannelId, Channel>,
    /// Both directions of every channel in the published graph.
    published: Vec<View>,
    /// The stored deferred updates.
    deferred: Vec<String>,
    /// The honest nodes' reachability and metadata, and how many users each has.
    presence: Vec<(Address, AddressReachability, Option<AddressMetadata>, usize)>,
    /// Updates counted as accepted or deferred, by source.
    counters: Vec<(UpdateSource, &'static str, u64)>,
}

/// One direction of a channel in the published graph.
#[derive(Debug, Clone, PartialEq)]
struct View {
    channel_id: ChannelId,
    from: Address,
    capacity: U256,
    capacity_partner: U256,
    /// Both participants' fee terms.
    fee_terms: String,
}

async fn fingerprint(service: &Service, store: &Store) -> Fingerprint {
    let loaded = store.load_state().await.expect("the state loads");
    let network = loaded.registry.token_network(&token_network()).expect("the token network is stored");
    let stored = network.channels().map(|channel| (channel.id, channel.clone())).collect();
    let deferred = loaded.registry.deferred().iter().map(|entry| format!("{entry:?}")).collect();
    let snapshot = service.snapshot();
    let graph = &snapshot.networks[&token_network()].graph;
    let published = channels()
        .into_iter()
        .flat_map(|(_, [a, b])| [(a, b), (b, a)])
        .map(|(from, to)| {
            let view = graph.view(&from, &to).expect("the channel is published");
            View {
                channel_id: view.channel_id,
                from,
                capacity: view.capacity,
                capacity_partner: view.capacity_partner,
                fee_terms: format!("{:?} {:?}", view.fee_schedule_sender, view.fee_schedule_receiver),
            }
        })
        .collect();
    let presence = (0..3)
        .map(|index| {
            let address = node(index);
            (
                address,
                snapshot.presence.reachability(&address),
                snapshot.presence.metadata(&address),
                snapshot.presence.user_ids(&address).count(),
            )
        })
        .collect();
    let counters = service
        .service_counters()
        .updates()
        .into_iter()
        .filter(|(_, reason, _)| matches!(*reason, "accepted" | "deferred"))
        .collect();
    Fingerprint { stored, published, deferred, presence, counters }
}

/// A service with the line's channels on a temporary store, the honest nodes online, and the
/// client's reading with the world's profiles.
struct Fixture {
    _directory: tempfile::TempDir,
    store: Store,
    service: Service,
    world: World,
    reader: SyncReader,
    config: MatrixConfig,
    started: Instant,
}

impl Fixture {
    async fn start() -> Self {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let store = open_store(&directory.path().join("pfs.db")).await;
        let service =
            Service::start(store.clone(), ServiceConfig::default()).await.expect("the service starts");
        open_channels(&service, &channels(), DEPOSIT).await;

        let world = World::new(vec![key(0), key(1), key(2)]).with_targets(targets());
        let config = matrix_config();
        let mut reader = SyncReader::new(world.own_user_id(), &config);
        world.install(&mut reader);
        let online: Vec<String> = (0..3)
            .map(|index| {
                serde_json::json!({"type": "m.presence", "sender": world.honest_user_id(index),
                    "content": {"presence": "online"}})
                .to_string()
            })
            .collect();
        let answer = RenderedAnswer {
            next_batch: "s0".to_owned(),
            presence: online.into_iter().map(|raw| (raw, hostile::PresenceMeta::Nothing)).collect(),
            to_device: Vec::new(),
            extras: Vec::new(),
        };
        let batch = reader.read(&answer.to_bytes(), Instant::now()).expect("the answer is read");
        assert_eq!(batch.events.len(), 3, "{:?}", batch.events);
        service.apply_matrix(batch).await.expect("queued");
        service.sync().await.expect("committed");
        for index in 0..3 {
            assert_eq!(
                service.snapshot().presence.reachability(&node(index)),
                AddressReachability::Reachable
            );
        }
        Self { _directory: directory, store, service, world, reader, config, started: Instant::now() }
    }
}

/// Node 0's capacity update of channel 1 with `nonce` (both nonces) and `capacity`, as a line.
fn designated_update(nonce: u64, capacity: u64) -> (String, CapacityReport) {
    let report = CapacityReport {
        updating_nonce: Nonce(nonce),
        other_nonce: Nonce(nonce),
        updating_capacity: U256::from(capacity),
        other_capacity: U256::from(DEPOSIT * 2 - capacity),
        reveal_timeout: BlockTimeout(U256::from(50)),
    };
    (capacity_update(nonce, capacity, DEPOSIT * 2 - capacity).to_json(), report)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

/// Reads `answer` (repeated to `repeat` events of each kind, if given) with node 0's valid
/// update of case `case` inserted at `position`, applies the batch, and checks that the update
/// and only it changed the service (see the module docs).
fn check_case(
    runtime: &tokio::runtime::Runtime,
    fixture: &mut Fixture,
    case: u64,
    (answer, position, capacity): (hostile::AnswerSpec, proptest::sample::Index, u64),
    repeat: Option<usize>,
) -> Result<(), TestCaseError> {
    let limits = Limits {
        max_body_chars: fixture.config.max_body_chars,
        rate_limit_bytes: fixture.config.rate_limit_bytes,
    };
    let mut rendered = answer.render(&fixture.world);
    if let Some(events) = repeat {
        rendered.repeat_events(events);
    }
    let (line, report) = designated_update(case, capacity);
    let index = position.index(rendered.to_device.len() + 1);
    rendered.insert_text(
        index,
        &fixture.world.honest_user_id(0),
        std::slice::from_ref(&line),
        std::slice::from_ref(&line),
    );
    // A window per case: the byte budget starts again.
    let now = fixture.started + fixture.config.rate_limit_window * case as u32;
    let batch = fixture
        .reader
        .read(&rendered.to_bytes(), now)
        .map_err(|error| TestCaseError::fail(format!("the answer was refused: {error}")))?;
    hostile::check_batch(&fixture.world, &limits, &rendered, &batch, &mut BudgetUsed::new())
        .map_err(TestCaseError::fail)?;
    // Node 0's byte budget may be spent by the answer's other bodies of node 0 before the
    // designated update comes: it is then dropped, as `check_batch` has just checked, and nothing
    // may change.
    let designated = Message::parse(&line).expect("the designated update parses");
    let delivered = batch.events.iter().any(|event| match event {
        MatrixEvent::ToDeviceUpdates(updates) => updates
            .results
            .iter()
            .any(|result| result.as_ref().is_ok_and(|update| *update.message() == designated)),
        _ => false,
    });
    let token = batch.sync_token.clone();
    runtime.block_on(async {
        let before = fingerprint(&fixture.service, &fixture.store).await;
        let token_before = fixture.store.sync_token().await.expect("the token reads");
        fixture.service.apply_matrix(batch).await.expect("queued");
        fixture
            .service
            .sync()
            .await
            .map_err(|error| TestCaseError::fail(format!("the writer stopped: {error}")))?;
        let mut after = fingerprint(&fixture.service, &fixture.store).await;

        let mut expected = before.clone();
        if delivered {
            let channel = expected.stored.get_mut(&ChannelId(U256::from(1))).expect("channel 1");
            let side = channel.side_index(&node(0)).expect("node 0 is a participant");
            channel.sides[side].capacity_report = Some(report);
            expected.published = published(&expected.stored, &before.published);
            let accepted = expected
                .counters
                .iter_mut()
                .find(|(source, reason, _)| *source == UpdateSource::Matrix && *reason == "accepted");
            match accepted {
                Some((_, _, count)) => *count += 1,
                None => expected.counters.push((UpdateSource::Matrix, "accepted", 1)),
            }
        }
        expected.counters.sort();
        after.counters.sort();
        prop_assert_eq!(after, expected);

        let stored_token = fixture.store.sync_token().await.expect("the token reads");
        if token.len() <= pfs_store::MAX_SYNC_TOKEN_BYTES {
            prop_assert_eq!(stored_token, Some(token));
        } else {
            prop_assert_eq!(stored_token, token_before);
        }
        Ok(())
    })
}

/// The published views `before` with the capacities of `stored`'s channels.
fn published(stored: &BTreeMap<ChannelId, Channel>, before: &[View]) -> Vec<View> {
    before
        .iter()
        .map(|view| {
            let channel = &stored[&view.channel_id];
            let side = channel.side_index(&view.from).expect("a participant");
            View {
                capacity: channel.capacity(side),
                capacity_partner: channel.capacity(1 - side),
                ..view.clone()
            }
        })
        .collect()
}

/// The writer still takes updates from the HTTP path after everything, and applies them.
fn writer_still_applies(runtime: &tokio::runtime::Runtime, fixture: Fixture, nonce: u64) {
    runtime.block_on(async {
        let (line, report) = designated_update(nonce, 7);
        let update = VerifiedUpdate::verify(Message::parse(&line).expect("parses")).expect("verifies");
        let results = fixture.service.apply_updates(vec![update]).await.expect("committed");
        assert!(results[0].is_ok(), "{results:?}");
        let after = fingerprint(&fixture.service, &fixture.store).await;
        let channel = &after.stored[&ChannelId(U256::from(1))];
        let side = channel.side_index(&node(0)).expect("node 0 is a participant");
        assert_eq!(channel.sides[side].capacity_report, Some(report));
        fixture.service.shutdown().await;
        fixture.store.close().await;
    });
}

#[test]
fn a_hostile_batch_changes_nothing_but_the_valid_update_it_carries() {
    let runtime = runtime();
    let fixture = RefCell::new(runtime.block_on(Fixture::start()));
    let case = Cell::new(0u64);
    let strategy = (hostile::answer(10, 5), any::<proptest::sample::Index>(), 0..=2 * DEPOSIT);
    hostile::runner(DEFAULT_CASES, file!())
        .run(&strategy, |input| {
            case.set(case.get() + 1);
            check_case(&runtime, &mut fixture.borrow_mut(), case.get(), input, None)
        })
        .unwrap();
    writer_still_applies(&runtime, fixture.into_inner(), case.get() + 1);
}

#[test]
fn a_batch_of_thousands_of_hostile_events_changes_nothing_but_the_valid_update_it_carries() {
    let runtime = runtime();
    let fixture = RefCell::new(runtime.block_on(Fixture::start()));
    let case = Cell::new(0u64);
    let strategy =
        ((hostile::answer(6, 3), any::<proptest::sample::Index>(), 0..=2 * DEPOSIT), 1000usize..2000);
    hostile::runner(3, file!())
        .run(&strategy, |(input, events)| {
            case.set(case.get() + 1);
            check_case(&runtime, &mut fixture.borrow_mut(), case.get(), input, Some(events))
        })
        .unwrap();
    writer_still_applies(&runtime, fixture.into_inner(), case.get() + 1);
}

#[test]
fn server_error_presence_of_users_never_verified_does_not_grow_the_presence_book() {
    let runtime = runtime();
    let mut fixture = runtime.block_on(Fixture::start());
    // Users claiming node 0's address on homeservers that do not answer.
    let claims: Vec<String> =
        (0..500).map(|index| format!("@{}:down{index}.example", node(0).to_lower_hex())).collect();
    for user_id in &claims {
        fixture.reader.fail_profile(user_id);
    }
    let answer = RenderedAnswer {
        next_batch: "s1".to_owned(),
        presence: claims
            .iter()
            .map(|user_id| {
                let raw = serde_json::json!({"type": "m.presence", "sender": user_id, "content": {"presence": "online"}});
                (raw.to_string(), hostile::PresenceMeta::ServerError(user_id.clone()))
            })
            .collect(),
        to_device: Vec::new(),
        extras: Vec::new(),
    };
    let batch = fixture.reader.read(&answer.to_bytes(), Instant::now()).expect("read");
    let server_errors =
        batch.events.iter().filter(|event| matches!(event, MatrixEvent::PresenceChanged(_))).count();
    assert_eq!(server_errors, 500, "each is reported as server_error, as the reference does");
    runtime.block_on(async {
        let before = fingerprint(&fixture.service, &fixture.store).await;
        fixture.service.apply_matrix(batch).await.expect("queued");
        fixture.service.sync().await.expect("committed");
        let after = fingerprint(&fixture.service, &fixture.store).await;
        assert_eq!(after, before, "node 0 keeps its one verified user, online");
        fixture.service.shutdown().await;
        fixture.store.close().await;
    });
}
