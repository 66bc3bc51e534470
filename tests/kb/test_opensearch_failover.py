"""Failover and outage on the local two-node cluster (scripts/opensearch.py):

- the node that is not the cluster manager is killed mid-run: every search keeps answering
  with the same totals (replicas on the surviving node, the client fails over);
- the whole cluster is stopped: searches raise the backend-unavailable error (503 in the web
  layer), ingest keeps the catalog and leaves its documents unindexed; once the cluster is
  back, the next sync catches up.

Both end by restarting the cluster with `scripts/opensearch.py up` (same ports), so the tests
after them find it as before. Bounded: a few hundred passages, 40 searches, 4 minutes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from indexer.library import sync as sync_index
from kb.errors import BackendUnavailableError
from kb.facade import KB
from kb.search.types import SearchRequest
from tests.kb.test_opensearch_backend import cluster_service, cluster_settings, records
from tests.opensearch_cluster import SCRIPT, cluster_script
from tests.web.apikit import add_document

pytestmark = pytest.mark.slow
QUERIES = ["government", "rural tenders", "country:KOR", "broadband OR privacy"]


def same_ports(state: dict | None) -> dict[str, str]:
    """The environment that brings a stopped cluster back on its ports (`down` forgets them)."""
    env = dict(os.environ)
    if state:
        env["KB_OPENSEARCH_PORT"] = str(state["nodes"][0]["http"])
    return env


@pytest.fixture
def local_cluster(opensearch_urls):
    script = cluster_script()
    state = script.read_state()
    if not state or [f"http://127.0.0.1:{n['http']}" for n in state["nodes"]] != opensearch_urls:
        pytest.skip("KB_OPENSEARCH_URL names a cluster scripts/opensearch.py did not start here")
    yield script, state
    done = subprocess.run([sys.executable, str(SCRIPT), "up"], check=False, capture_output=True,
                          text=True, timeout=300, env=same_ports(state))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == ",".join(opensearch_urls)


def test_killing_the_non_manager_node_loses_no_search(local_cluster, opensearch_urls):
    script, state = local_cluster
    ix = cluster_service(cluster_settings(opensearch_urls, f"kbtest-{uuid.uuid4().hex[:8]}"))
    try:
        ix.index_passages(records(400))
        health = ix.backend.client.cluster.health(wait_for_status="green")
        assert health["status"] == "green"  # every shard has its replica on the other node
        expected = {q: ix.search(SearchRequest(q=q, facets=False)).total for q in QUERIES}
        manager = ix.backend.client.cat.cluster_manager(format="json")[0]["node"]
        victim = next(n for n in state["nodes"] if n["name"] != manager)
        deadline = time.monotonic() + 120
        for i in range(40):
            if i == 10:
                os.kill(victim["pid"], signal.SIGKILL)
            q = QUERIES[i % len(QUERIES)]
            assert ix.search(SearchRequest(q=q, facets=False)).total == expected[q], (i, q)
            assert time.monotonic() < deadline
        # SIGKILL is asynchronous: a JVM releasing its heap may take a moment to be gone
        gone_by = time.monotonic() + 30
        while script.pid_alive(victim["pid"]) and time.monotonic() < gone_by:
            time.sleep(0.2)
        assert not script.pid_alive(victim["pid"])
        assert ix.doc_ids() and sum(ix.doc_ids().values()) == 400  # nothing lost
    finally:
        ix.backend.client.indices.delete(index=f"{ix.backend.names.alias}-*")
        ix.close()


def test_outage_then_catch_up(local_cluster, opensearch_urls, tmp_path):
    _script, _state = local_cluster
    prefix = f"kbtest-{uuid.uuid4().hex[:8]}"
    settings = {"home": str(tmp_path / "home"), **cluster_settings(opensearch_urls, prefix)}
    settings = {k: settings[k] for k in ("home", "search_backend", "opensearch_url", "opensearch_index")}
    with KB(settings) as kb:
        add_document(kb, "before", "Before the outage", ["Broadband for rural schools."])
    state = cluster_script().read_state()
    subprocess.run([sys.executable, str(SCRIPT), "down"], check=True, capture_output=True, timeout=120)
    with KB(settings) as kb:
        with pytest.raises(BackendUnavailableError):
            kb.search(SearchRequest(q="broadband"))
        # ingest during the outage: the catalog keeps the document, unindexed
        with pytest.raises(BackendUnavailableError):
            add_document(kb, "during", "During the outage", ["Broadband for rural clinics."])
        assert kb.catalog.pending_index_work()[0] == ["during"]
    subprocess.run([sys.executable, str(SCRIPT), "up"], check=True, capture_output=True, timeout=300,
                   env=same_ports(state))
    with KB(settings) as kb:
        assert sync_index(kb)["indexed"] == 1
        assert kb.catalog.pending_index_work() == ([], [])
        assert kb.search(SearchRequest(q="broadband rural")).total == 2
        kb.index.backend.client.indices.delete(index=f"{prefix}-passages-*")
