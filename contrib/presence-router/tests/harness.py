"""Real Synapse homeservers and a minimal Matrix client for the integration tests.

`Homeserver` runs one Synapse process on 127.0.0.1 from a config written by
contrib/synapse/make_config.py; `MatrixUser` registers, sets presence and long-polls /sync;
`PresenceWatcher` records every presence event a user's /sync delivers, with its arrival time, so
tests can wait for a state and measure latency. Only the standard library is used on the client
side, so what the tests exercise is Synapse's HTTP API, not a client library's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO_ROOT / "contrib" / "synapse"))

from make_config import HomeserverOptions, write_homeserver

#: Starts Synapse after asking Linux (prctl PR_SET_PDEATHSIG = 1) for SIGTERM when the thread that
#: launched it ends, so a test run that is killed leaves no homeserver behind. It runs in the new
#: process itself, so nothing runs between fork and exec in the test process (which has threads).
LINUX_LAUNCHER = (
    "import ctypes, os, signal, sys; "
    "ctypes.CDLL(None).prctl(1, signal.SIGTERM); "
    "os.getppid() == 1 and sys.exit('parent gone'); "
    "os.execv(sys.executable, [sys.executable, '-m', 'synapse.app.homeserver', *sys.argv[1:]])"
)
#: How long a homeserver may take to answer its first request.
START_TIMEOUT_SECONDS = 60.0
#: Long-poll timeout of the watcher's /sync, in milliseconds; also bounds how long stop() waits.
SYNC_TIMEOUT_MS = 2000
#: Filter for the PFS-like sync: presence only, no room timelines or account data.
SYNC_FILTER = json.dumps(
    {"room": {"rooms": [], "account_data": {"not_types": ["*"]}}, "account_data": {"not_types": ["*"]}}
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def reserve_federation_port() -> tuple[int, str]:
    """A free federation port and the server name a homeserver listening there will have."""
    port = free_port()
    return port, f"127.0.0.1:{port}"


class MatrixError(Exception):
    """A non-2xx answer from the homeserver, with its status and body."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:500]}")
        self.status = status


def request_json(method: str, url: str, body: Any = None, token: str | None = None, timeout: float = 30.0) -> Any:
    """One HTTP request with an optional JSON body and bearer token; returns the parsed answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raise MatrixError(error.code, error.read().decode(errors="replace")) from None


class Homeserver:
    """One Synapse process. Started by `start()`, stopped by `stop()` (terminate, then kill)."""

    def __init__(self, options: HomeserverOptions) -> None:
        self.options = options
        self.config_path = write_homeserver(options)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def server_name(self) -> str:
        return self.options.effective_server_name

    @property
    def client_url(self) -> str:
        return f"http://127.0.0.1:{self.options.client_port}"

    @property
    def log_path(self) -> Path:
        return self.options.data_dir / "homeserver.log"

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    def start(self) -> None:
        """Starts the process and returns once both listeners answer; see `wait_until_ready`."""
        self.launch()
        self.wait_until_ready()

    def launch(self) -> None:
        """Starts the process without waiting for it. Call from the main thread: on Linux the
        process is sent SIGTERM when the thread that launched it ends (so a killed test run leaves
        no homeserver behind)."""
        assert self.process is None, "already running"
        with (self.options.data_dir / "process-output.log").open("ab") as output:
            start = ["-c", LINUX_LAUNCHER] if sys.platform == "linux" else ["-m", "synapse.app.homeserver"]
            self.process = subprocess.Popen(
                [sys.executable, *start, "-c", str(self.config_path)],
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.options.data_dir,
            )

    def wait_until_ready(self) -> None:
        """Returns once both listeners answer.

        Raises RuntimeError with the end of the log if the process exits or does not answer within
        START_TIMEOUT_SECONDS.
        """
        assert self.process is not None, "not launched"
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"{self.server_name} exited at start:\n{self.log_tail()}")
            if self._answers():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.server_name} did not answer within {START_TIMEOUT_SECONDS} s:\n{self.log_tail()}")

    def _answers(self) -> bool:
        try:
            request_json("GET", f"{self.client_url}/_matrix/client/versions", timeout=2)
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            url = f"https://127.0.0.1:{self.options.federation_port}/_matrix/key/v2/server"
            with urllib.request.urlopen(url, timeout=2, context=context) as response:
                return response.status == 200
        except (OSError, MatrixError):
            return False

    def stop(self) -> None:
        """Stops the process (SIGTERM, then SIGKILL after 10 s); a no-op if it is not running."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        text = ""
        for path in (self.options.data_dir / "process-output.log", self.log_path):
            if path.exists():
                text += f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
        return text

    def register(self, localpart: str, password: str = "password") -> MatrixUser:
        """Registers `localpart` with open registration (the config's testing mode)."""
        answer = request_json(
            "POST",
            f"{self.client_url}/_matrix/client/v3/register",
            {
                "username": localpart,
                "password": password,
                "auth": {"type": "m.login.dummy"},
                "initial_device_display_name": "test",
            },
        )
        return MatrixUser(self, answer["user_id"], answer["access_token"])

    def register_admin(self, localpart: str, password: str = "password") -> MatrixUser:
        """Registers a server admin through the shared-secret admin API."""
        secret = yaml.safe_load(self.config_path.read_text())["registration_shared_secret"]
        url = f"{self.client_url}/_synapse/admin/v1/register"
        nonce = request_json("GET", url)["nonce"]
        mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), localpart.encode(), password.encode(), b"admin"]))
        answer = request_json(
            "POST",
            url,
            {"nonce": nonce, "username": localpart, "password": password, "admin": True, "mac": mac.hexdigest()},
        )
        return MatrixUser(self, answer["user_id"], answer["access_token"])


@dataclass
class MatrixUser:
    """A registered user with an access token on `homeserver`."""

    homeserver: Homeserver
    user_id: str
    access_token: str

    def set_presence(self, state: str) -> None:
        """PUT /presence/{user}/status; `state` is online, unavailable or offline."""
        quoted = urllib.parse.quote(self.user_id)
        request_json(
            "PUT",
            f"{self.homeserver.client_url}/_matrix/client/v3/presence/{quoted}/status",
            {"presence": state},
            token=self.access_token,
        )

    def federation_destination(self, destination: str) -> dict[str, Any]:
        """The admin API's record of `destination` (retry_last_ts, retry_interval, failure_ts, ...);
        needs a server admin."""
        quoted = urllib.parse.quote(destination)
        url = f"{self.homeserver.client_url}/_synapse/admin/v1/federation/destinations/{quoted}"
        return request_json("GET", url, token=self.access_token)

    def sync(self, since: str | None, timeout_ms: int) -> dict[str, Any]:
        """One /sync with the presence-only filter; `set_presence=online`, like the PFS."""
        query = {"timeout": str(timeout_ms), "filter": SYNC_FILTER}
        if since is not None:
            query["since"] = since
        url = f"{self.homeserver.client_url}/_matrix/client/v3/sync?{urllib.parse.urlencode(query)}"
        return request_json("GET", url, token=self.access_token, timeout=timeout_ms / 1000 + 30)


@dataclass(frozen=True)
class PresenceEvent:
    """One presence event as a /sync delivered it."""

    arrived: float  # time.monotonic() when the /sync answer was read
    user_id: str
    presence: str


class PresenceWatcher:
    """Long-polls a user's /sync in a thread and records every presence event.

    Survives its homeserver going away: failed syncs are retried every 0.2 s, with the last
    `since` token, until `stop()`.
    """

    def __init__(self, user: MatrixUser) -> None:
        self.user = user
        self.events: list[PresenceEvent] = []
        self._condition = threading.Condition()
        self._stopping = threading.Event()
        self._since: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"sync {user.user_id}", daemon=True)

    def start(self) -> PresenceWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=SYNC_TIMEOUT_MS / 1000 + 35)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                answer = self.user.sync(self._since, SYNC_TIMEOUT_MS)
            except (OSError, MatrixError):
                self._stopping.wait(0.2)
                continue
            arrived = time.monotonic()
            self._since = answer["next_batch"]
            new_events = [
                PresenceEvent(arrived, event["sender"], event["content"]["presence"])
                for event in answer.get("presence", {}).get("events", [])
            ]
            if new_events:
                with self._condition:
                    self.events.extend(new_events)
                    self._condition.notify_all()

    def latest_states(self) -> dict[str, str]:
        """The last presence seen for each user."""
        with self._condition:
            return {event.user_id: event.presence for event in self.events}

    def states_since(self, user_id: str, after: float) -> list[str]:
        """The presence states seen for `user_id` at or after monotonic time `after`, in order."""
        with self._condition:
            return [event.presence for event in self.events if event.arrived >= after and event.user_id == user_id]

    def wait_for(self, user_id: str, presence: str, *, after: float, timeout: float) -> PresenceEvent:
        """The first event at or after monotonic time `after` saying `user_id` is `presence`.

        Raises AssertionError naming what was seen if none arrives within `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                for event in self.events:
                    if event.arrived >= after and event.user_id == user_id and event.presence == presence:
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(e.user_id, e.presence) for e in self.events if e.user_id == user_id]
                    raise AssertionError(
                        f"{self.user.user_id} saw no {presence!r} for {user_id} within {timeout} s; saw {seen}"
                    )
                self._condition.wait(remaining)

    def wait_until(self, predicate, *, timeout: float) -> float:
        """Waits until `predicate(latest_states())` holds; returns the monotonic time it first did.

        Raises AssertionError if it does not hold within `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                states = {event.user_id: event.presence for event in self.events}
                if predicate(states):
                    return self.events[-1].arrived if self.events else time.monotonic()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"condition not met within {timeout} s")
                self._condition.wait(remaining)
