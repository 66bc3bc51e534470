"""`kb ingest` and `kb stats` when the OpenSearch cluster does not answer: ingest fails with
one line and keeps the document in the catalog, unindexed; stats still shows the catalog."""
from __future__ import annotations

import io
import json
import socket
from contextlib import redirect_stderr, redirect_stdout

from tests.conftest import CORPUS
from web.cli import main


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def test_ingest_and_stats_with_the_cluster_down(tmp_path, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("KB_SEARCH_BACKEND", "opensearch")
    monkeypatch.setenv("KB_OPENSEARCH_URL", f"http://127.0.0.1:{port}")
    home = str(tmp_path / "home")
    rc, _out, err = run(["--home", home, "ingest", "--workers", "1", str(CORPUS / "forum-2012-final-report.md")])
    assert rc != 0
    lines = [line for line in err.splitlines() if line.startswith("kb: error")]
    assert lines == ["kb: error: search backend unavailable: no OpenSearch node answered"]
    rc, out, _err = run(["--home", home, "stats", "--format", "json"])
    assert rc == 0
    stats = json.loads(out)
    assert stats["documents"] == 1 and stats["unindexed"] == 1
    assert stats["index"]["status"] == "unavailable"
