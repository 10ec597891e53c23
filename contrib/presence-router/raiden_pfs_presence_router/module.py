"""The Synapse module: wires the routing rules into Synapse and keeps the PFS user ids current.

It owns the moving parts around `PresenceRouting`: reading PFS info URLs every `refresh_seconds`,
announcing newly learnt PFS users with a presence snapshot, and re-pushing that snapshot to
remote PFS users every `repush_seconds`. Those timers run only on the main process
(`worker_name is None`), which is where `send_local_online_presence_to` may run by default (the
presence writer); the routing callbacks are registered on every process.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Collection

from synapse.module_api import ModuleApi

from .config import RouterConfig, parse_config
from .info import MAX_INFO_BYTES, InfoError, info_url, user_id_from_info
from .routing import PresenceRouting

logger = logging.getLogger(__name__)


class PresenceRouter:
    """Routes every local user's presence to the configured PFS users, local or remote.

    Configure it in homeserver.yaml under `modules:` as
    `raiden_pfs_presence_router.PresenceRouter`; the config keys are described in the README.
    """

    def __init__(self, config: RouterConfig, api: ModuleApi) -> None:
        self._config = config
        self._api = api
        self.routing = PresenceRouting(api.server_name, config.pfs_user_ids)
        #: The last user id each info URL answered; kept while the URL fails.
        self._user_id_by_url: dict[str, str] = {}
        self._refresh_running = False
        api.register_presence_router_callbacks(
            get_users_for_states=self.routing.get_users_for_states,
            get_interested_users=self.routing.get_interested_users,
        )
        if api.worker_name is not None:
            return
        api.delayed_background_call(0, self._start, desc="raiden_pfs_presence_router_start")
        if config.pfs_info_urls:
            api.looping_background_call(
                self.refresh, config.refresh_seconds * 1000, desc="raiden_pfs_presence_router_refresh"
            )
        if config.repush_seconds is not None:
            api.looping_background_call(
                self.repush, config.repush_seconds * 1000, desc="raiden_pfs_presence_router_repush"
            )

    @staticmethod
    def parse_config(config: object) -> RouterConfig:
        """Called by Synapse at start; see `config.parse_config` for the rules and errors."""
        return parse_config(config)

    async def _start(self) -> None:
        await self._announce(self._config.pfs_user_ids)
        if self._config.pfs_info_urls:
            await self.refresh()

    async def refresh(self) -> None:
        """Reads every info URL once and starts routing to any PFS user id not known before.

        A URL that fails (unreachable, non-2xx, unusable body) keeps its last known id; a URL
        that names a different id than before replaces it.
        """
        if self._refresh_running:
            return
        self._refresh_running = True
        try:
            for base_url in self._config.pfs_info_urls:
                user_id = await self._read_user_id(base_url)
                if user_id is not None:
                    self._user_id_by_url[base_url] = user_id
            known = self.routing.pfs_user_ids
            current = self._config.pfs_user_ids | frozenset(self._user_id_by_url.values())
            if current != known:
                logger.info("PFS user ids changed from %s to %s", sorted(known), sorted(current))
                self.routing.pfs_user_ids = current
                await self._announce(current - known)
        finally:
            self._refresh_running = False

    async def repush(self) -> None:
        """Pushes the current online presence of local users to every remote PFS user again.

        Presence EDUs that failed to send are dropped by Synapse, not retried; this heals such
        gaps. Local PFS users need no re-push: they read presence from this server directly.
        """
        remote = [user_id for user_id in self.routing.pfs_user_ids if not self.routing.is_local(user_id)]
        await self._announce(remote)

    async def _read_user_id(self, base_url: str) -> str | None:
        url = info_url(base_url)
        body = io.BytesIO()
        try:
            await self._api.http_client.get_file(url, body, max_size=MAX_INFO_BYTES)
            return user_id_from_info(
                body.getvalue(),
                derive_from_payment_address=self._config.derive_user_id_from_payment_address,
            )
        except InfoError as error:
            logger.warning("PFS info %s names no user id: %s", url, error)
        except Exception as error:  # noqa: BLE001 (any transport failure keeps the last known id)
            logger.warning("PFS info %s could not be read: %s", url, error)
        return None

    async def _announce(self, user_ids: Collection[str]) -> None:
        """Sends the current online presence snapshot to `user_ids`.

        A local PFS user that is not registered yet is skipped: Synapse cannot record a pending
        snapshot for it, and its first sync returns all presence anyway.
        """
        try:
            targets = [
                user_id
                for user_id in user_ids
                if not self.routing.is_local(user_id) or await self._api.check_user_exists(user_id)
            ]
            if targets:
                await self._api.send_local_online_presence_to(targets)
        except Exception:  # Logged; for remote PFS users the next re-push sends it again.
            logger.exception("Sending the presence snapshot to %s failed", sorted(user_ids))
