"""A live `kb serve` (gunicorn) on a free loopback port over a real KB home, for the tests
that drive the API with the clients researchers use (issue 16). The home holds the forum
report of corpus/ and, when ../shared is there, a bounded set of UN General Debate speeches
(more hits, several documents per query), ingested through the normal pipeline."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.common import stop_group
from tests.conftest import CORPUS, REPO, SHARED

REPORT = CORPUS / "forum-2012-final-report.md"
UNGD = SHARED / "texts" / "ungd-2024" / "txt"
SHARED_TEXTS = 12  # speeches added when ../shared is present: enough documents, still seconds to ingest


@dataclass
class Live:
    """A running server: its base URL, its home and a write token."""

    base: str
    home: Path
    token: str
    with_shared: bool

    def url(self, path: str) -> str:
        return self.base + path

    def get_json(self, path: str) -> dict:
        with urllib.request.urlopen(self.url(path), timeout=60) as r:
            return json.load(r)


def inputs() -> tuple[list[Path], bool]:
    """The report, plus the first SHARED_TEXTS speeches (sorted by name) when available."""
    paths = [REPORT]
    if UNGD.is_dir():
        paths += sorted(UNGD.glob("*.txt"))[:SHARED_TEXTS]
        return paths, True
    return paths, False


def build_home(home: Path) -> tuple[str, bool]:
    """Ingest the inputs into `home` and create a write token; returns (token, with_shared)."""
    from indexer.library import ingest
    from kb.auth import create_token
    from kb.facade import KB

    paths, with_shared = inputs()
    home.mkdir(parents=True, exist_ok=True)
    with KB({"home": str(home)}) as kb:
        summary = ingest(paths, kb, workers=1)
        assert not summary["failed"], summary["failures"][:3]
        _, token = create_token(kb.catalog, "clients")
    return token, with_shared


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(home: Path, token: str, with_shared: bool, **settings: str) -> Iterator[Live]:
    """`python -m kb serve` on 127.0.0.1 and a free port; stopped (its process group only)
    when the block ends. `settings` become KB_* environment variables."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update({"KB_HOME": str(home), "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1",
                # test homes do not embed (tests/conftest.py); a test turns it on as a setting
                "KB_EMBEDDINGS": "0"})
    env.update({f"KB_{k.upper()}": str(v) for k, v in settings.items()})
    log = (home / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "kb", "serve", "--port", str(port), "--workers", "2",
                             "--threads", "4"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    live = Live(f"http://127.0.0.1:{port}", home, token, with_shared)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if live.get_json("/api/v1/health")["status"] == "ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("kb serve did not come up: " + (home / "serve.log").read_text()[-2000:])
            time.sleep(0.3)
        yield live
    finally:
        stop_group(proc, timeout=20)
        log.close()


def copy_home(src: Path, dst: Path) -> Path:
    """A separate copy of a built home (a server whose writes must not reach another's)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("serve.log", "*.lock"))
    return dst
