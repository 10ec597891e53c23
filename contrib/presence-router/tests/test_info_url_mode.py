"""`pfs_info_urls` mode: a node homeserver D learns the PFS user id from the PFS's
`GET /api/v1/info` and from then on routes presence to it, starting with a snapshot of everyone
already online.

The PFS's HTTP API is played by a small HTTP server in the test that answers `/api/v1/info` with
the document the test sets (503 while it has none): raiden-pfs itself does not exist yet.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness import Homeserver, MatrixUser, PresenceWatcher, reserve_federation_port
from measurements import record

#: D's refresh period; the tests wait a few of these.
REFRESH_SECONDS = 1.0
PAYMENT_ADDRESS = "0x2A915FDA69746F515b46C520eD511401d5CCD5e2"


class InfoServer:
    """Serves `document` at /api/v1/info on 127.0.0.1 (503 while it is None)."""

    def __init__(self) -> None:
        self.document: dict | None = None
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                if self.path != "/api/v1/info" or server.document is None:
                    self.send_response(404 if self.path != "/api/v1/info" else 503)
                    self.end_headers()
                    return
                body = json.dumps(server.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *arguments) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stops answering: connections are refused from now on."""
        self._http.shutdown()
        self._http.server_close()


@dataclass
class InfoSetup:
    a: Homeserver
    d: Homeserver
    #: Hosts the PFS user whose id D can only learn by the payment-address convention.
    e: Homeserver
    pfs: MatrixUser
    watcher: PresenceWatcher
    with_user_id: InfoServer
    reference_shaped: InfoServer
    #: What the Raiden convention derives from `reference_shaped`'s answer.
    derived_pfs_id: str


@pytest.fixture(scope="module")
def setup(homeservers):
    port_a, name_a = reserve_federation_port()
    port_e, name_e = reserve_federation_port()
    derived_pfs_id = f"@{PAYMENT_ADDRESS.lower()}:{name_e}"
    with_user_id, reference_shaped = InfoServer(), InfoServer()
    a = homeservers.create("a", federation_port=port_a, pfs_user_ids=[f"@pfs:{name_a}"])
    e = homeservers.create("e", federation_port=port_e, pfs_user_ids=[derived_pfs_id])
    d = homeservers.create(
        "d",
        pfs_info_urls=[with_user_id.url, reference_shaped.url],
        refresh_seconds=REFRESH_SECONDS,
        repush_seconds=0,  # only learning a new id may deliver a snapshot here
    )
    homeservers.start_all(a, d, e)
    pfs = a.register("pfs")
    watcher = PresenceWatcher(pfs).start()
    try:
        yield InfoSetup(a, d, e, pfs, watcher, with_user_id, reference_shaped, derived_pfs_id)
    finally:
        watcher.stop()
        with_user_id.close()
        reference_shaped.close()


def test_router_picks_up_the_pfs_id_from_info_and_sends_who_is_online(setup):
    dave = setup.d.register("dave")
    dave.set_presence("online")
    time.sleep(3 * REFRESH_SECONDS)
    assert dave.user_id not in setup.watcher.latest_states(), "routed to the PFS before /info named it"
    assert setup.with_user_id.requests >= 2, "the router did not poll the info URL"

    published = time.monotonic()
    setup.with_user_id.document = {"matrix_user_id": setup.pfs.user_id, "payment_address": PAYMENT_ADDRESS}
    event = setup.watcher.wait_for(dave.user_id, "online", after=published, timeout=REFRESH_SECONDS + 10)
    record(f"info URL: id published → snapshot seen (refresh {REFRESH_SECONDS:g} s)", event.arrived - published)


def test_an_unreachable_info_url_keeps_the_last_known_id(setup):
    setup.with_user_id.document = {"matrix_user_id": setup.pfs.user_id}
    erin = setup.d.register("erin")
    sent = time.monotonic()
    erin.set_presence("online")
    setup.watcher.wait_for(erin.user_id, "online", after=sent, timeout=REFRESH_SECONDS + 10)

    requests_before = setup.with_user_id.requests
    setup.with_user_id.close()
    time.sleep(3 * REFRESH_SECONDS)
    assert setup.with_user_id.requests == requests_before
    sent = time.monotonic()
    erin.set_presence("unavailable")
    setup.watcher.wait_for(erin.user_id, "unavailable", after=sent, timeout=10)


def test_info_without_matrix_user_id_routes_to_the_payment_address_user(setup):
    localpart = setup.derived_pfs_id[1:].split(":")[0]
    derived_pfs = setup.e.register(localpart)
    assert derived_pfs.user_id == setup.derived_pfs_id
    frank = setup.d.register("frank")
    watcher = PresenceWatcher(derived_pfs).start()
    # raiden-services 2.0.1's /info: no matrix_user_id; matrix_server is E's URL.
    setup.reference_shaped.document = {
        "payment_address": PAYMENT_ADDRESS,
        "matrix_server": f"https://{setup.e.server_name}",
    }
    try:
        sent = time.monotonic()
        frank.set_presence("online")
        watcher.wait_for(frank.user_id, "online", after=sent, timeout=10)
    finally:
        watcher.stop()
