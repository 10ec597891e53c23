//! Group commit for the routes a path query returns: each answer's feedback rows must be stored
//! before the answer is sent (a client may report on them at once), and one SQLite commit per
//! request would cap path queries at the disk's `fsync` rate. Requests queue their rows here;
//! one task writes whatever is queued in one transaction and then answers them all.

use std::sync::Arc;

use pfs_store::{ReturnedRouteSet, Store};
use tokio::sync::{mpsc, oneshot};

/// Most answers written in one transaction.
pub const MAX_ROUTE_SETS_PER_COMMIT: usize = 256;
/// Capacity of the queue; requests wait (back-pressure) when it is full.
const QUEUE_CAPACITY: usize = 4096;

type Reply = oneshot::Sender<Result<(), Arc<pfs_store::StoreError>>>;

/// The queue of the recording task.
#[derive(Debug, Clone)]
pub(crate) struct RoutesRecorder {
    queue: mpsc::Sender<(ReturnedRouteSet, Reply)>,
}

/// Why an answer's routes were not stored.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RecordError {
    /// The transaction failed.
    #[error(transparent)]
    Store(Arc<pfs_store::StoreError>),
    /// The recording task is not running.
    #[error("the route recorder is not running")]
    Stopped,
}

impl RoutesRecorder {
    /// Starts the recording task on `store`; it ends when every handle is dropped.
    pub(crate) fn start(store: Store) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(run(store, receiver));
        Self { queue }
    }

    /// Stores `set` (in a transaction shared with the other queued sets); returns once committed.
    pub(crate) async fn record(&self, set: ReturnedRouteSet) -> Result<(), RecordError> {
        let (reply, answer) = oneshot::channel();
        self.queue.send((set, reply)).await.map_err(|_| RecordError::Stopped)?;
        answer.await.map_err(|_| RecordError::Stopped)?.map_err(RecordError::Store)
    }
}

async fn run(store: Store, mut receiver: mpsc::Receiver<(ReturnedRouteSet, Reply)>) {
    while let Some(first) = receiver.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_ROUTE_SETS_PER_COMMIT {
            match receiver.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let (sets, replies): (Vec<_>, Vec<_>) = group.into_iter().unzip();
        let result = store.save_returned_route_sets(&sets).await.map_err(Arc::new);
        if let Err(error) = &result {
            tracing::error!(%error, sets = sets.len(), "returned routes not stored");
        }
        for reply in replies {
            let _ = reply.send(result.clone());
        }
    }
}
