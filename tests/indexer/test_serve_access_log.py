"""`kb serve` logs each request to standard output only with --access-log (the log cost a fifth
of the search requests/s on 2 cores: python -m bench api --configs)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_and_get(home: Path, *flags: str) -> str:
    """Start kb serve on a free loopback port, GET /api/v1/health twice, stop it; its stdout."""
    port = _free_port()
    env = {**os.environ, "KB_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "kb", "serve", "--port", str(port), "--workers", "1",
                             "--threads", "2", *flags], env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                for _ in range(2):
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=10) as r:
                        assert r.status == 200
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("kb serve did not come up") from None
                time.sleep(0.3)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    return out


@pytest.mark.slow
def test_requests_are_logged_only_with_access_log(kb_home):
    quiet = _serve_and_get(kb_home)
    assert "kb: serving" in quiet and "/api/v1/health" not in quiet
    logged = _serve_and_get(kb_home, "--access-log")
    assert logged.count("GET /api/v1/health") == 2, logged[-500:]
