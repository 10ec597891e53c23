//! What a path query asks and answers: [`PathRequest`], [`Path`], the §2.4 [`PathError`]s with the
//! reference's exact texts, and the work bounds ([`SearchLimits`], [`Budget`]).

use std::fmt;
use std::time::Duration;

use alloy_primitives::{I256, U256};

use crate::address::Address;
use crate::ids::TokenAmount;

/// Default `diversity_penalty` (`DIVERSITY_PEN_DEFAULT`).
pub const DIVERSITY_PENALTY_DEFAULT: f64 = 5.0;
/// Default `fee_penalty` (`FEE_PEN_DEFAULT`): one token (10^18 units) of fee weighs like this many
/// extra hops.
pub const FEE_PENALTY_DEFAULT: f64 = 100.0;
/// Default `max_paths` (`DEFAULT_MAX_PATHS`).
pub const DEFAULT_MAX_PATHS: usize = 5;
/// Upper bound of `max_paths` (`MAX_PATHS_PER_REQUEST`).
pub const MAX_PATHS_PER_REQUEST: usize = 25;
/// The reference's answer when the search finds no valid path.
pub const NO_ROUTE_FOUND: &str = "No route between nodes found.";

/// A path query: routes for `value` from `source` to `target`.
#[derive(Debug, Clone, PartialEq)]
pub struct PathRequest {
    /// The payer.
    pub source: Address,
    /// The payee.
    pub target: Address,
    /// The amount the target must receive.
    pub value: TokenAmount,
    /// How many paths to return at most (the API bounds it by [`MAX_PATHS_PER_REQUEST`]).
    pub max_paths: usize,
    /// Weight added per earlier returned path using a channel.
    pub diversity_penalty: f64,
    /// Weight of one token (10^18 units) of fee.
    pub fee_penalty: f64,
}

impl PathRequest {
    /// A request with the reference's defaults for everything but the endpoints and value.
    pub fn new(source: Address, target: Address, value: TokenAmount) -> Self {
        Self {
            source,
            target,
            value,
            max_paths: DEFAULT_MAX_PATHS,
            diversity_penalty: DIVERSITY_PENALTY_DEFAULT,
            fee_penalty: FEE_PENALTY_DEFAULT,
        }
    }
}

/// One route and the fee its mediators will charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The nodes from source to target, no repetitions.
    pub nodes: Vec<Address>,
    /// Sum of the mediators' fees, computed backwards from the target; negative where uncapped
    /// schedules pay rebates.
    pub estimated_fee: I256,
}

/// A capacity list as Python prints a `list` of ints: `[90, 60]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacities(pub Vec<U256>);

impl fmt::Display for Capacities {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("[")?;
        for (index, capacity) in self.0.iter().enumerate() {
            if index > 0 {
                formatter.write_str(", ")?;
            }
            write!(formatter, "{capacity}")?;
        }
        formatter.write_str("]")
    }
}

/// Why a request is refused before searching (`check_path_request_errors`, §2.4, in this order).
/// `Display` is the reference's exact message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The source is not reachable.
    #[error("Source not online")]
    SourceNotOnline,
    /// The target is not reachable.
    #[error("Target not online")]
    TargetNotOnline,
    /// The source has no channel.
    #[error("No channel from source")]
    NoChannelFromSource,
    /// The target has no channel.
    #[error("No channel to target")]
    NoChannelToTarget,
    /// No channel of the source can carry the value (note the two spaces before the value).
    #[error(
        "Source does not have a channel with sufficient capacity (current capacities: {capacities} < requested amount:  {value})"
    )]
    SourceCapacity {
        /// Capacities of the source's out-edges, in channel order.
        capacities: Capacities,
        /// The requested value.
        value: TokenAmount,
    },
    /// No channel into the target can carry the value.
    #[error("Target does not have a channel with sufficient capacity ({capacities} < {value})")]
    TargetCapacity {
        /// Capacities of the target's in-edges, in channel order.
        capacities: Capacities,
        /// The requested value.
        value: TokenAmount,
    },
    /// Source and target are not connected at all.
    #[error("No route from source to target")]
    NoRoute,
}

/// Bounds on the work of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchLimits {
    /// Most candidate paths examined (validated) per request, over all returned paths.
    pub max_candidates: u64,
    /// Wall-clock budget per request. The core never reads a clock: the caller turns this into a
    /// [`Budget`]; it lives here so one value configures both.
    pub time_budget: Duration,
}

impl Default for SearchLimits {
    fn default() -> Self {
        Self { max_candidates: 10_000, time_budget: Duration::from_millis(200) }
    }
}

/// A deadline the search polls between units of work (candidates and shortest-path runs).
pub trait Budget {
    /// Whether the search must stop now and return what it found.
    fn exhausted(&self) -> bool;
}

/// No deadline.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unlimited;

impl Budget for Unlimited {
    fn exhausted(&self) -> bool {
        false
    }
}

impl<F: Fn() -> bool> Budget for F {
    fn exhausted(&self) -> bool {
        self()
    }
}

/// Why a search stopped before it had examined every candidate it would have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncation {
    /// [`SearchLimits::max_candidates`] was reached.
    Candidates,
    /// The [`Budget`] ran out.
    Deadline,
}

/// The answer of a search that passed the pre-checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routes {
    /// The valid paths, best first; empty means "No route between nodes found.".
    pub paths: Vec<Path>,
    /// Set when the search was cut short; `paths` are then the ones found so far.
    pub truncated: Option<Truncation>,
    /// Candidate paths examined.
    pub candidates_examined: u64,
    /// Edges whose fee weight was computed (each at most once per request).
    pub edges_weighed: u64,
    /// Entries taken from the shortest-path searches' priority queues: the search's work in a
    /// unit that machine load does not change.
    pub queue_pops: u64,
}
