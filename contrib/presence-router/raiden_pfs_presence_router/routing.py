"""Who receives which presence: the two presence-router callbacks, as pure functions of the known
PFS user ids and this homeserver's name.

Synapse calls `get_users_for_states` for every presence change it handles (local changes, and
remote ones arriving over federation) and `get_interested_users` when it builds presence for a
sync or for `send_local_online_presence_to`. The rules, and the Synapse code that forces each
(matrix-synapse 1.163, synapse/handlers/presence.py and synapse/federation/sender/__init__.py):

* A PFS user on this homeserver receives every state: local users' and remote users' alike.
* A PFS user on another homeserver receives only states of this homeserver's users. Synapse turns
  each entry into an `m.presence` EDU to that user's server, and the federation sender asserts that
  every state it sends is local.
* Every PFS user's key is present in the result, even with an empty set: Synapse looks up the
  syncing user's key (`_filter_all_presence_updates_for_user`) and would raise KeyError.
* Every PFS user is interested in all presence (`PRESENCE_ALL_USERS`). For a local PFS user that
  is what its sync returns; for a remote one it is what `send_local_online_presence_to` collects
  (Synapse calls `get_interested_users` with the remote user there, despite the callback's docs
  saying "local users only"; an empty set would make that snapshot empty). The states then pass
  through `get_users_for_states`, which keeps only local ones for a remote PFS user.
"""

from __future__ import annotations

from collections.abc import Iterable

from synapse.module_api import PRESENCE_ALL_USERS, UserPresenceState


def domain_of(user_id: str) -> str:
    """The server name part of a Matrix user id (everything after the first colon), as Synapse's
    `get_domain_from_id` and `is_mine_id` read it; "" for an id without a colon."""
    _, _, domain = user_id.partition(":")
    return domain


class PresenceRouting:
    """The routing rules for one homeserver and a changing set of PFS user ids.

    Invariant: `pfs_user_ids` only ever holds ids that were validated as Matrix user ids.
    """

    def __init__(self, server_name: str, pfs_user_ids: Iterable[str] = ()) -> None:
        self.server_name = server_name
        self.pfs_user_ids: frozenset[str] = frozenset(pfs_user_ids)

    def is_local(self, user_id: str) -> bool:
        """Whether `user_id` belongs to this homeserver."""
        return domain_of(user_id) == self.server_name

    def users_for_states(self, states: Iterable[UserPresenceState]) -> dict[str, set[UserPresenceState]]:
        """`get_users_for_states`: every PFS user id mapped to the states it must receive."""
        states = list(states)
        local_states: set[UserPresenceState] | None = None
        result: dict[str, set[UserPresenceState]] = {}
        for pfs_user_id in self.pfs_user_ids:
            if self.is_local(pfs_user_id):
                result[pfs_user_id] = set(states)
            else:
                if local_states is None:
                    local_states = {state for state in states if self.is_local(state.user_id)}
                result[pfs_user_id] = set(local_states)
        return result

    def interested_users(self, user_id: str) -> set[str] | str:
        """`get_interested_users`: all presence for a PFS user, nothing extra for anyone else."""
        if user_id in self.pfs_user_ids:
            return PRESENCE_ALL_USERS
        return set()

    async def get_users_for_states(self, states: Iterable[UserPresenceState]) -> dict[str, set[UserPresenceState]]:
        """The async callback Synapse registers; see `users_for_states`."""
        return self.users_for_states(states)

    async def get_interested_users(self, user_id: str) -> set[str] | str:
        """The async callback Synapse registers; see `interested_users`."""
        return self.interested_users(user_id)
