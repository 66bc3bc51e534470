"""Session fixtures for the live-server tests (tests/web/livekit.py): one KB home built once,
one server for the read-only client tests, and a server over a copy of that home for the
fuzzing run, whose token-protected writes must not change what the client tests read."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.livekit import Live, build_home, copy_home, serve


@pytest.fixture(scope="session")
def live_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, bool]:
    home = tmp_path_factory.mktemp("live") / "home"
    token, with_shared = build_home(home)
    return home, token, with_shared


@pytest.fixture(scope="session")
def live(live_home: tuple[Path, str, bool]) -> Iterator[Live]:
    home, token, with_shared = live_home
    # Exports are rate limited per client; the tests make many from one address.
    with serve(home, token, with_shared, export_rate_per_minute="100000") as server:
        yield server


@pytest.fixture(scope="session")
def live_writable(live_home: tuple[Path, str, bool], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    src, token, with_shared = live_home
    home = copy_home(src, tmp_path_factory.mktemp("live-writes") / "home")
    with serve(home, token, with_shared, export_rate_per_minute="100000") as server:
        yield server
