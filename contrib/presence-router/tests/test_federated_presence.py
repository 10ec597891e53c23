"""Presence reaches a PFS user on homeserver A from A's own users and, across federation, from
homeservers B and C, with the router on every homeserver and no shared room.

Latency here is from the moment the client's `PUT /presence` is sent to the moment the PFS's
long-polling /sync answer with the change is read.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from harness import Homeserver, MatrixUser, PresenceWatcher, reserve_federation_port
from measurements import LONG_MEASUREMENTS, record

#: State changes per latency test: each round is online → unavailable → offline.
LATENCY_ROUNDS = 70 if LONG_MEASUREMENTS else 5
#: Users that go online at once in the burst test.
BURST_USERS = 2000 if LONG_MEASUREMENTS else 500
#: The most a single change may take to reach the PFS (the measured median is tens of ms).
DELIVERY_TIMEOUT = 10.0
STATES = ("online", "unavailable", "offline")


@dataclass
class Federation:
    a: Homeserver
    b: Homeserver
    pfs_user_ids: list[str]
    pfs: MatrixUser
    watcher: PresenceWatcher


@pytest.fixture(scope="module")
def federation(homeservers):
    port_a, name_a = reserve_federation_port()
    # A second PFS user on A, which logs in only in the burst test.
    pfs_user_ids = [f"@pfs:{name_a}", f"@pfs-late:{name_a}"]
    a = homeservers.create("a", federation_port=port_a, pfs_user_ids=pfs_user_ids)
    b = homeservers.create("b", pfs_user_ids=pfs_user_ids)
    homeservers.start_all(a, b)
    pfs = a.register("pfs")
    watcher = PresenceWatcher(pfs).start()
    try:
        yield Federation(a, b, pfs_user_ids, pfs, watcher)
    finally:
        watcher.stop()


def cycle_states(user: MatrixUser, watcher: PresenceWatcher, rounds: int) -> list[float]:
    """Sets each state in turn `rounds` times; returns each change's delivery latency."""
    latencies = []
    for _ in range(rounds):
        for state in STATES:
            sent = time.monotonic()
            user.set_presence(state)
            event = watcher.wait_for(user.user_id, state, after=sent, timeout=DELIVERY_TIMEOUT)
            latencies.append(event.arrived - sent)
    return latencies


def test_local_user_presence_changes_reach_the_pfs_on_the_same_homeserver(federation):
    alice = federation.a.register("alice")
    record("latency same homeserver", *cycle_states(alice, federation.watcher, LATENCY_ROUNDS))


def test_remote_user_presence_changes_reach_the_pfs_across_federation(federation):
    bob = federation.b.register("bob")
    record("latency across federation", *cycle_states(bob, federation.watcher, LATENCY_ROUNDS))


def test_a_homeserver_started_after_the_pfs_logged_in_delivers_at_once(federation, homeservers):
    c = homeservers.start("c", pfs_user_ids=federation.pfs_user_ids)
    carol = c.register("carol")
    sent = time.monotonic()
    carol.set_presence("online")
    event = federation.watcher.wait_for(carol.user_id, "online", after=sent, timeout=DELIVERY_TIMEOUT)
    record("latency from a homeserver started after the PFS", event.arrived - sent)


def test_a_burst_of_users_going_online_all_reach_the_pfs(federation):
    with ThreadPoolExecutor(8) as pool:
        users = list(pool.map(lambda index: federation.b.register(f"burst{index}"), range(BURST_USERS)))
        sent: dict[str, float] = {}

        def go_online(user: MatrixUser) -> None:
            user.set_presence("online")
            sent[user.user_id] = time.monotonic()

        started = time.monotonic()
        list(pool.map(go_online, users))
    all_sent = time.monotonic()
    user_ids = {user.user_id for user in users}
    converged = federation.watcher.wait_until(
        lambda states: all(states.get(user_id) == "online" for user_id in user_ids), timeout=60
    )
    first_seen: dict[str, float] = {}
    for event in federation.watcher.events:
        if event.user_id in user_ids and event.presence == "online" and event.arrived >= started:
            first_seen.setdefault(event.user_id, event.arrived)
    assert set(first_seen) == user_ids
    record(f"burst of {BURST_USERS}: time to send all PUTs", all_sent - started)
    record(f"burst of {BURST_USERS}: time until the PFS saw all online", converged - started)
    record(
        f"burst of {BURST_USERS}: per-user latency (PUT answered → seen)",
        *(max(0.0, first_seen[user_id] - sent[user_id]) for user_id in user_ids),
    )


def test_first_sync_of_a_pfs_that_logs_in_later_returns_everyone_online(federation):
    online_before = {
        user_id for user_id, state in federation.watcher.latest_states().items() if state in ("online", "unavailable")
    }
    assert len(online_before) >= 1
    late_pfs = federation.a.register("pfs-late")
    started = time.monotonic()
    answer = late_pfs.sync(since=None, timeout_ms=0)
    elapsed = time.monotonic() - started
    seen = {
        event["sender"]
        for event in answer["presence"]["events"]
        if event["content"]["presence"] in ("online", "unavailable")
    }
    assert online_before - {federation.pfs.user_id} <= seen
    record(f"first sync of a new PFS login ({len(seen)} users online)", elapsed)
