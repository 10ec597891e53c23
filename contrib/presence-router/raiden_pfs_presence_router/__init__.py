"""A Synapse presence router for Raiden Pathfinding Services (PFS).

It routes the presence of every user of this homeserver to the Matrix users of one or more PFSes,
wherever those users live, so a PFS with a single Matrix client on one homeserver sees every
Raiden node's presence without sharing a room with it.

Key design decision: route by federation, not by login. The original PFS logged a client into
every homeserver and the RSB router routed to that *local* user. Here each homeserver routes to the
PFS's *real* user id (local or remote): Synapse sends remote entries as `m.presence` EDUs to the
PFS's homeserver, whose own copy of this router makes the PFS user interested in all presence.
Because presence EDUs that fail are dropped, not retried, the router re-pushes the online snapshot
periodically.

Modules: `config` (validated settings), `routing` (the two callbacks as pure rules), `info`
(PFS `/api/v1/info` parsing), `module` (the Synapse module: timers, snapshots).
"""

from .config import RouterConfig, parse_config
from .module import PresenceRouter
from .routing import PresenceRouting

__all__ = ["PresenceRouter", "PresenceRouting", "RouterConfig", "parse_config"]
