"""The routing rules, run through Synapse's own presence-router dispatcher with real presence states.

`synapse.events.presence_router.PresenceRouter` is the object Synapse's presence handler calls; it
runs the registered callbacks, drops results of the wrong type and merges them. Registering the
router's callbacks there exercises the same type checks as a running homeserver.
"""

import pytest
from synapse.api.presence import UserPresenceState
from synapse.events.presence_router import PresenceRouter as SynapseDispatcher
from synapse.module_api import PRESENCE_ALL_USERS
from twisted.internet import defer
from twisted.python.failure import Failure

from raiden_pfs_presence_router import PresenceRouting

HERE = "node.example.org"
LOCAL_PFS = "@pfs:node.example.org"
REMOTE_PFS = "@pfs:pfs.example.org"
OTHER_REMOTE_PFS = "@pfs2:127.0.0.1:8448"


def state(user_id: str, presence: str = "online") -> UserPresenceState:
    return UserPresenceState.default(user_id).copy_and_replace(state=presence)


def dispatcher_for(routing: PresenceRouting) -> SynapseDispatcher:
    # The dispatcher's constructor does not use the homeserver argument.
    dispatcher = SynapseDispatcher(None)
    dispatcher.register_presence_router_callbacks(
        get_users_for_states=routing.get_users_for_states,
        get_interested_users=routing.get_interested_users,
    )
    return dispatcher


def run(coroutine):
    """Runs a coroutine that never waits on the reactor and returns its result."""
    deferred = defer.ensureDeferred(coroutine)
    results = []
    deferred.addBoth(results.append)
    assert results, "the callback waited on the reactor"
    if isinstance(results[0], Failure):
        results[0].raiseException()
    return results[0]


LOCAL_ALICE = state("@alice:node.example.org")
LOCAL_BOB = state("@bob:node.example.org", "unavailable")
REMOTE_CAROL = state("@carol:other.example.org", "offline")
ALL_STATES = [LOCAL_ALICE, LOCAL_BOB, REMOTE_CAROL]


def test_local_pfs_user_receives_every_state():
    dispatcher = dispatcher_for(PresenceRouting(HERE, [LOCAL_PFS]))
    assert run(dispatcher.get_users_for_states(ALL_STATES)) == {LOCAL_PFS: set(ALL_STATES)}


def test_remote_pfs_user_receives_only_local_states():
    dispatcher = dispatcher_for(PresenceRouting(HERE, [REMOTE_PFS]))
    assert run(dispatcher.get_users_for_states(ALL_STATES)) == {REMOTE_PFS: {LOCAL_ALICE, LOCAL_BOB}}


def test_every_pfs_user_key_is_present_even_with_no_state_for_it():
    dispatcher = dispatcher_for(PresenceRouting(HERE, [LOCAL_PFS, REMOTE_PFS, OTHER_REMOTE_PFS]))
    assert run(dispatcher.get_users_for_states([REMOTE_CAROL])) == {
        LOCAL_PFS: {REMOTE_CAROL},
        REMOTE_PFS: set(),
        OTHER_REMOTE_PFS: set(),
    }
    assert run(dispatcher.get_users_for_states([])) == {LOCAL_PFS: set(), REMOTE_PFS: set(), OTHER_REMOTE_PFS: set()}


def test_a_server_name_with_a_port_is_matched_exactly():
    routing = PresenceRouting("127.0.0.1:8448", [LOCAL_PFS])
    on_this_server = state("@dave:127.0.0.1:8448")
    on_the_same_host_other_port = state("@erin:127.0.0.1:9448")
    assert routing.users_for_states([on_this_server, on_the_same_host_other_port]) == {LOCAL_PFS: {on_this_server}}


def test_pfs_users_are_interested_in_all_presence_and_no_one_else_in_anything():
    dispatcher = dispatcher_for(PresenceRouting(HERE, [LOCAL_PFS, REMOTE_PFS]))
    assert run(dispatcher.get_interested_users(LOCAL_PFS)) == PRESENCE_ALL_USERS
    assert run(dispatcher.get_interested_users(REMOTE_PFS)) == PRESENCE_ALL_USERS
    assert run(dispatcher.get_interested_users("@alice:node.example.org")) == set()


def test_no_pfs_user_routes_nothing():
    dispatcher = dispatcher_for(PresenceRouting(HERE))
    assert run(dispatcher.get_users_for_states(ALL_STATES)) == {}
    assert run(dispatcher.get_interested_users(LOCAL_PFS)) == set()


@pytest.mark.parametrize("pfs_user_ids", [[LOCAL_PFS], [REMOTE_PFS]])
def test_changing_the_known_ids_changes_the_routing_at_once(pfs_user_ids):
    routing = PresenceRouting(HERE)
    dispatcher = dispatcher_for(routing)
    routing.pfs_user_ids = frozenset(pfs_user_ids)
    assert set(run(dispatcher.get_users_for_states([LOCAL_ALICE]))) == set(pfs_user_ids)
