"""Hybrid search on a real KB of a few dozen passages, embedded with the real model: which
mode runs and why, what the vectors add, filters and facets over the fused set, paging, and
the same through the CLI and the HTTP API."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from indexer.library import ingest
from kb.embed.fill import embed_missing
from kb.embed.model import get_embedder
from kb.facade import KB
from kb.search.types import SearchRequest
from web.cli import main as kb_main

DOCS = {
    "estonia.md": "# Elections\n\nEstonia lets citizens cast their ballots online in national elections "
                  "since 2005, with a digital identity card.\n\nThe electoral commission audits every "
                  "electronic ballot box after the count.",
    "kenya.txt": "Kenya's mobile money service changed how rural households pay school fees and receive "
                 "transfers from relatives in the cities.\n\nThe central bank supervises the operators.",
    "korea.txt": "The Republic of Korea runs a single e-procurement system through which every public agency "
                 "buys goods and services, with bids submitted and evaluated online.",
    "chile.txt": "Chile publishes government datasets on a national open data portal; developers build "
                 "applications on the budget and transport data.",
    "india.txt": "India's biometric identity programme enrolled over a billion residents; the number is used "
                 "to deliver subsidies directly to bank accounts.",
    "rwanda.txt": "Rwanda trains civil servants in digital skills through a national capacity building "
                  "programme run with universities.\n\nTraining covers cybersecurity and data protection.",
    "brazil.txt": "Brazil's voters use electronic voting machines in every municipality; results are "
                  "announced hours after the polls close.",
    "fiji.txt": "Fiji extended broadband to outer islands by submarine cable, lowering the price of "
                "internet access for schools and clinics.",
}
QUERY = "how do people vote over the internet"  # no word of the Estonian passage


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hybrid")
    docs = root / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    home = root / "home"
    with KB({"home": str(home), "embeddings": True, "embed_threads": 1}) as kb:
        summary = ingest([docs], kb, workers=1)
    assert summary["failed"] == 0 and summary["embed"]["embedded"] == summary["passages"]
    return home


def _kb(home: Path, **settings) -> KB:
    return KB({"home": str(home), "embeddings": True, "embed_threads": 1, "search_cache_size": 0, **settings})


def _search(home: Path, q: str = QUERY, **kw):
    with _kb(home) as kb:
        return kb.search(SearchRequest(q=q, max_per_document=0, **kw))


def test_hybrid_finds_what_the_words_miss(home):
    bm25 = _search(home, mode="bm25")
    hybrid = _search(home)
    assert (bm25.mode, hybrid.mode, hybrid.mode_reason) == ("bm25", "hybrid", "")
    assert not any("Estonia" in h.text for h in bm25.hits)  # no word in common
    assert any("Estonia" in h.text for h in hybrid.hits[:3])  # beside the words' two matches
    assert "Brazil" in hybrid.hits[0].text  # the words and the meaning agree on it
    assert hybrid.total >= len(hybrid.hits) > 0
    assert [h.score for h in hybrid.hits] == sorted((h.score for h in hybrid.hits), reverse=True)


def test_bm25_mode_is_exactly_the_service_without_vectors(home):
    with KB({"home": str(home), "embeddings": False, "search_cache_size": 0}) as kb:
        plain = kb.search(SearchRequest(q="electronic voting elections", max_per_document=0))
    asked = _search(home, q="electronic voting elections", mode="bm25")
    assert plain.mode == "bm25" and plain.mode_reason == "embeddings are off (setting embeddings)"
    assert [(h.passage_id, h.score, h.snippet) for h in asked.hits] == \
        [(h.passage_id, h.score, h.snippet) for h in plain.hits]
    assert (asked.total, asked.facets) == (plain.total, plain.facets)


def test_filters_hold_for_the_dense_candidates_and_facets_count_the_fused_set(home):
    res = _search(home, filters={"type": ["txt"]})
    assert res.mode == "hybrid" and res.hits
    assert all(h.format == "txt" for h in res.hits)  # the Estonian passage (md) is filtered out
    assert dict(res.facets["type"]) == {"txt": res.total}
    everything = _search(home, per_page=100)
    assert dict(everything.facets["type"]) == {"md": 2, "txt": everything.total - 2} or \
        sum(dict(everything.facets["type"]).values()) == everything.total
    assert everything.total == len(everything.hits)  # union of BM25 matches and dense candidates


def test_paging_by_cursor_shows_every_fused_match_once(home):
    first = _search(home, per_page=3)
    seen = [h.passage_id for h in first.hits]
    cursor = first.next_cursor
    with _kb(home) as kb:
        while cursor:
            page = kb.search(SearchRequest(q=QUERY, max_per_document=0, per_page=3, cursor=cursor))
            seen += [h.passage_id for h in page.hits]
            cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == first.total


@pytest.mark.parametrize("kw,reason", [
    ({"q": '"cast their ballots"'}, "a query with operators, quotes, fields or wildcards runs as bm25"),
    ({"sort": "date"}, "hybrid ranks by relevance; this search is sorted by date"),
    ({"q": ""}, "no query words to embed"),
])
def test_structured_queries_and_other_orders_run_as_bm25_and_say_why(home, kw, reason):
    res = _search(home, **{"q": QUERY, **kw})
    assert (res.mode, res.mode_reason) == ("bm25", reason)


def test_until_every_passage_has_a_vector_bm25_runs_and_says_so(home, tmp_path):
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "peru.txt").write_text("Peru digitised land titles for smallholder farmers.", encoding="utf-8")
    with _kb(copy) as kb:
        ingest([extra], kb, workers=1, embed=False)
        res = kb.search(SearchRequest(q=QUERY))
        assert res.mode == "bm25"
        assert res.mode_reason.startswith("hybrid is not available yet: ")
        assert "passages have vectors; embedding is not finished" in res.mode_reason
        embed_missing(kb.catalog, get_embedder(1))
        assert kb.search(SearchRequest(q=QUERY)).mode == "hybrid"


def test_the_setting_makes_bm25_the_default(home):
    with _kb(home, search_mode="bm25") as kb:
        assert kb.search(SearchRequest(q=QUERY)).mode == "bm25"
        assert kb.search(SearchRequest(q=QUERY, mode="hybrid")).mode == "hybrid"


def test_cli_search_and_batch_take_mode(home, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KB_EMBEDDINGS", "1")  # test homes default to off (tests/conftest.py)
    assert kb_main(["--home", str(home), "search", QUERY, "--format", "json", "--mode", "hybrid"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mode"] == "hybrid" and any("Estonia" in r["text"] for r in data["results"][:3])
    queries = tmp_path / "q.tsv"
    queries.write_text(f"1\t{QUERY}\n", encoding="utf-8")
    for mode, first_is_estonia in (("hybrid", True), ("bm25", False)):
        assert kb_main(["--home", str(home), "search", "--batch", str(queries), "--mode", mode,
                        "--by", "document", "--text"]) == 0
        row = json.loads(capsys.readouterr().out.splitlines()[0])
        assert any("Estonia" in r["text"] for r in row["results"][:3]) is first_is_estonia, mode
    with pytest.raises(SystemExit):  # argparse refuses the choice with a one-line message
        kb_main(["--home", str(home), "search", QUERY, "--mode", "dense"])
    assert "invalid choice: 'dense'" in capsys.readouterr().err


def test_api_mode_parameter(home):
    from web import create_app

    client = create_app({"home": str(home), "embeddings": True, "embed_threads": 1}).test_client()
    body = client.get("/api/v1/search", query_string={"q": QUERY, "mode": "hybrid"}).get_json()
    assert body["mode"] == "hybrid" and any("Estonia" in r["text"] for r in body["results"][:3])
    body = client.get("/api/v1/search", query_string={"q": QUERY, "mode": "bm25"}).get_json()
    assert body["mode"] == "bm25" and body["mode_reason"] == "bm25 was asked for"
    bad = client.get("/api/v1/search", query_string={"q": QUERY, "mode": "dense"})
    assert bad.status_code == 400 and "mode: must be one of bm25, hybrid" in bad.get_data(as_text=True)
    page = client.get("/search", query_string={"q": QUERY}).get_data(as_text=True)
    assert '<option value="hybrid" selected>' in page and "Estonia" in page


@pytest.mark.parametrize("cache", [0, 16])
def test_a_search_reads_the_vectors_state_once(home, cache):
    with _kb(home, search_cache_size=cache) as kb:
        statements: list[str] = []
        kb.index.dense._connect().set_trace_callback(statements.append)
        res = kb.search(SearchRequest(q=QUERY, max_per_document=0, per_page=3))
        assert res.mode == "hybrid"
        assert sum("FROM meta" in s for s in statements) == 1


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_a_search_reads_the_curation_version_once(home, mode):
    """Entity names are resolved per phrase of the query; the curation version that keys the
    registry is read once a request, not once a phrase."""
    with _kb(home, search_cache_size=16) as kb:
        statements: list[str] = []
        kb.catalog.db.set_trace_callback(statements.append)
        res = kb.search(SearchRequest(q="voters in Brazil and Estonia use digital identity", mode=mode))
        assert res.mode == mode and res.hits
        assert sum("MAX(seq)" in s for s in statements) == 1
        kb.catalog.db.set_trace_callback(None)
        # and the version is still read afresh by the next request: curation shows at once
        statements.clear()
        kb.catalog.db.set_trace_callback(statements.append)
        kb.search(SearchRequest(q="Kenya mobile money", mode=mode))
        assert sum("MAX(seq)" in s for s in statements) == 1
