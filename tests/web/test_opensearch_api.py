"""The HTTP API on a KB home whose search backend is the OpenSearch cluster answers as the same
home on Whoosh does (same totals, same passages, same facets), and answers 503 in the one
problem+json shape when no node answers."""
from __future__ import annotations

import socket
import uuid

import pytest

from kb.facade import KB
from tests.web.apikit import add_document
from web import create_app

DOCS = [
    ("doc-seoul", "Seoul e-Government Forum 2012", [
        "Korea presented its broadband strategy for rural areas.",
        "The Republic of Korea shared e-procurement practice with Kazakhstan.",
        "Open data portals in Latin America were discussed by UNDESA.",
        "Cybersecurity and privacy frameworks need capacity building.",
    ], [(0, "country", "KOR", "Republic of Korea", "Korea"),
        (1, "country", "KAZ", "Kazakhstan", "Kazakhstan")]),
    ("doc-almaty", "Kazakhstan e-Procurement Slides", [
        "Kazakhstan built an e-procurement portal for public tenders.",
        "Broadband coverage grew in Almaty and Astana.",
    ], [(0, "country", "KAZ", "Kazakhstan", "Kazakhstan")]),
]


def build(home, overrides: dict) -> dict:
    settings = {"home": str(home), **overrides}
    with KB(settings) as kb:
        for doc_id, title, texts, mentions in DOCS:
            add_document(kb, doc_id, title, texts, mentions=mentions)
    return settings


@pytest.fixture
def homes(tmp_path, opensearch_urls):
    prefix = f"kbtest-{uuid.uuid4().hex[:8]}"
    cluster = build(tmp_path / "os", {"search_backend": "opensearch", "opensearch_index": prefix,
                                      "opensearch_url": ",".join(opensearch_urls)})
    whoosh = build(tmp_path / "wh", {})
    yield cluster, whoosh
    with KB(cluster) as kb:
        kb.index.backend.client.indices.delete(index=f"{prefix}-passages-*")


@pytest.mark.parametrize("query", ["q=broadband", "q=e-procurement&country=KAZ", "q=korea",
                                   "q=&per_page=10"])
def test_search_api_answers_as_the_whoosh_home(homes, query):
    cluster, whoosh = homes
    got = create_app(cluster).test_client().get(f"/api/v1/search?{query}")
    want = create_app(whoosh).test_client().get(f"/api/v1/search?{query}")
    assert got.status_code == want.status_code == 200
    a, b = got.get_json(), want.get_json()
    assert a["total"] == b["total"]
    assert {r["passage_id"] for r in a["results"]} == {r["passage_id"] for r in b["results"]}
    assert a["facets"]["country"] == b["facets"]["country"]


def test_unreachable_cluster_is_503_problem_json(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = {"home": str(tmp_path / "home"), "search_backend": "opensearch",
                "opensearch_url": f"http://127.0.0.1:{port}"}
    resp = create_app(settings).test_client().get("/api/v1/search?q=broadband")
    assert resp.status_code == 503
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["detail"] == "search backend unavailable" and str(port) not in resp.get_data(as_text=True)
