"""Shared fixtures: homeservers that are always stopped; measured figures printed at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import Homeserver, HomeserverOptions, free_port
from measurements import summary_lines


def pytest_terminal_summary(terminalreporter) -> None:
    lines = summary_lines()
    if lines:
        terminalreporter.section("presence measurements (seconds)")
        for line in lines:
            terminalreporter.write_line(line)


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
        """Starts created homeservers side by side; returns once all answer."""
        for homeserver in homeservers:
            homeserver.launch()
        for homeserver in homeservers:
            homeserver.wait_until_ready()

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
