"""Shared fixtures: homeservers that are always stopped, and measured figures printed at the end.

Set RAIDEN_PFS_LONG_MEASUREMENTS=1 to run the long measurements (more samples, a bigger burst);
the default run keeps the whole suite to a few minutes.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import Homeserver, HomeserverOptions, free_port

LONG_MEASUREMENTS = os.environ.get("RAIDEN_PFS_LONG_MEASUREMENTS") == "1"

#: name -> list of samples in seconds, or a single figure; printed by pytest_terminal_summary.
_MEASUREMENTS: dict[str, list[float]] = {}


def record(name: str, *samples: float) -> None:
    """Adds samples (seconds) to a named measurement shown in the summary."""
    _MEASUREMENTS.setdefault(name, []).extend(samples)


def percentile(samples: list[float], fraction: float) -> float:
    """The `fraction` quantile of `samples` (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def pytest_terminal_summary(terminalreporter) -> None:
    if not _MEASUREMENTS:
        return
    terminalreporter.section("presence measurements (seconds)")
    for name, samples in _MEASUREMENTS.items():
        if len(samples) == 1:
            terminalreporter.write_line(f"{name}: {samples[0]:.3f}")
        else:
            terminalreporter.write_line(
                f"{name}: n={len(samples)} p50={statistics.median(samples):.3f} "
                f"p95={percentile(samples, 0.95):.3f} max={max(samples):.3f}"
            )


class Homeservers:
    """Starts homeservers in a temporary directory and stops every one of them in `stop_all`."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.started: list[Homeserver] = []

    def create(self, name: str, **options) -> Homeserver:
        """Writes the config of a new homeserver (testing mode, fresh ports) without starting it."""
        options.setdefault("testing", True)
        homeserver = Homeserver(
            HomeserverOptions(
                data_dir=self.base / name,
                client_port=options.pop("client_port", free_port()),
                federation_port=options.pop("federation_port", free_port()),
                **options,
            )
        )
        self.started.append(homeserver)
        return homeserver

    def start(self, name: str, **options) -> Homeserver:
        """`create` and start; returns once it answers."""
        homeserver = self.create(name, **options)
        homeserver.start()
        return homeserver

    def start_all(self, *homeservers: Homeserver) -> None:
        """Starts created homeservers in parallel; returns once all answer."""
        with ThreadPoolExecutor(len(homeservers)) as pool:
            for result in [pool.submit(homeserver.start) for homeserver in homeservers]:
                result.result()

    def stop_all(self) -> None:
        for homeserver in self.started:
            homeserver.stop()


@pytest.fixture(scope="module")
def homeservers(tmp_path_factory) -> Iterator[Homeservers]:
    pool = Homeservers(tmp_path_factory.mktemp("homeservers"))
    try:
        yield pool
    finally:
        pool.stop_all()


def reserve_federation_port() -> tuple[int, str]:
    """A federation port and the server name a homeserver on it will have."""
    port = free_port()
    return port, f"127.0.0.1:{port}"
