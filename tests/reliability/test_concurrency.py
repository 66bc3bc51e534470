"""Concurrency: searches keep being served while an ingest runs in another process; a
second ingest waits for the lock or refuses with a clear message; a searcher that stays
open (facade, Flask app, every gunicorn worker) sees newly committed documents."""
from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from kb.facade import KB
from kb.search.types import SearchRequest
from tests.conftest import REPO
from tests.reliability.conftest import kb_cmd, kb_env, run_kb
from tests.reliability.generators import good_docs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A home with a first batch ingested, and a second batch ready to ingest."""
    root = tmp_path_factory.mktemp("conc")
    first, second = root / "first", root / "second"
    markers1 = good_docs(first, n=6, tag="first")
    markers2 = good_docs(second, n=15, tag="second")
    home = root / "home"
    res = run_kb(home, "ingest", "--workers", "1", str(first))
    assert res.returncode == 0, res.stderr[-1500:]
    return home, first, second, markers1, markers2


def _wait_for_lock_holder(home: Path, pid: int, timeout: float = 60) -> None:
    lock = home / "ingest.lock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if lock.read_text().strip() == str(pid):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("the ingest never took the lock")


def test_searches_are_served_without_error_while_an_ingest_runs(base):
    from web import create_app

    home, _first, second, markers1, markers2 = base
    app = create_app({"home": str(home), "TESTING": True})
    client = app.test_client()
    errors: list[str] = []
    counts = {"api": 0, "facade": 0}
    stop = threading.Event()

    def api_loop():
        i = 0
        while not stop.is_set():
            marker = list(markers1.values())[i % len(markers1)]
            r = client.get(f"/api/v1/search?q={marker}&facets=true")
            if r.status_code != 200 or r.get_json()["total"] < 1:
                errors.append(f"api {r.status_code} {r.get_data(as_text=True)[:200]}")
            counts["api"] += 1
            i += 1

    def facade_loop():
        with KB({"home": str(home)}, readonly=True) as kb:  # one searcher kept open throughout
            while not stop.is_set():
                try:
                    res = kb.search(SearchRequest(q="Kazakhstan OR Chile", filters={}))
                    if res.total < 1:
                        errors.append("facade: the first batch vanished from results")
                except Exception as exc:  # noqa: BLE001 - any error is the finding
                    errors.append(f"facade {type(exc).__name__}: {exc}")
                counts["facade"] += 1

    threads = [threading.Thread(target=api_loop), threading.Thread(target=facade_loop)]
    for t in threads:
        t.start()
    try:
        res = run_kb(home, "ingest", "--workers", "1", str(second), timeout=240)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert res.returncode == 0, res.stderr[-1500:]
    assert not errors, errors[:5]
    assert counts["api"] >= 20 and counts["facade"] >= 20, counts
    # the long-lived searcher and app now see the second batch without a restart
    marker = next(iter(markers2.values()))
    r = client.get(f"/api/v1/search?q={marker}")
    assert r.get_json()["total"] >= 1


def test_a_second_ingest_refuses_with_a_clear_message_or_waits(base, tmp_path):
    home, first, _second, _markers1, _markers2 = base
    extra = tmp_path / "extra"
    good_docs(extra, n=3, tag="extra")
    holder = subprocess.Popen(kb_cmd("ingest", "--workers", "1", "--force", str(first)), cwd=REPO,
                              env=kb_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_lock_holder(home, holder.pid)
        refused = run_kb(home, "ingest", str(extra), KB_LOCK_TIMEOUT="0.5")
        assert refused.returncode == 1
        assert f"another ingest is running (pid {holder.pid})" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
        if holder.poll() is None:
            waiter = run_kb(home, "ingest", "--workers", "1", str(extra), KB_LOCK_TIMEOUT="120", timeout=240)
            assert waiter.returncode == 0, waiter.stderr[-1500:]
            assert holder.poll() is not None, "the waiting ingest ran before the first one released the lock"
    finally:
        holder.wait(120)
        holder.stderr.close()
    assert holder.returncode == 0
    with KB({"home": str(home)}) as kb:
        assert kb.search(SearchRequest(q="zqextra000marker")).total >= 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_gunicorn_worker_sees_new_documents_without_restart(base, tmp_path):
    home = base[0]
    port = _free_port()
    server = subprocess.Popen(kb_cmd("serve", "--port", str(port), "--workers", "2", "--threads", "2"), cwd=REPO,
                              env=kb_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api/v1/search?q=zqlatecomer000marker"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    before = json.load(r)["total"]
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise AssertionError("kb serve did not come up")
                time.sleep(0.3)
        assert before == 0
        # warm every worker's searcher on the old index (requests spread over both)
        for _ in range(12):
            urllib.request.urlopen(url, timeout=10).read()
        late = tmp_path / "late"
        good_docs(late, n=1, tag="latecomer")
        res = run_kb(home, "ingest", "--workers", "1", str(late))
        assert res.returncode == 0, res.stderr[-1500:]
        for _ in range(20):
            with urllib.request.urlopen(url, timeout=10) as r:
                assert json.load(r)["total"] >= 1, "a worker still serves the old index"
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
