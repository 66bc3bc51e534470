"""GET /api/v1/search answers, query by query, against stored golden files: a change to the
request path (a speed-up, a refactor) must leave every hit, score, snippet, facet count,
total, cursor, suggestion and correction as it was (issue 15).

The KB: the forum report and the 192 UN General Debate 2024 speeches of corpus/, plus the
first ICEGOV_ROWS abstracts of the ICEGOV collection read from ../shared (the whole test is
skipped when it is absent: without it every score would differ). Ingested once per session
through the normal pipeline; searched through the Flask test client with the result cache
off (every request takes the uncached path), and a sample again with the cache on.

The same cases run on the OpenSearch backend (the home's passages reindexed into the test
cluster) against a golden file of their own, since its BM25 scores are OpenSearch's: a change
to that backend's request path (issue 15: response filtering, shard copy preference) must
leave its answers as they were, too.

When answers change on purpose (ranking, snippets, spelling), regenerate with
``KB_REGEN_GOLDEN=1 .venv/bin/pytest tests/web/test_search_golden.py``: the run rewrites
the golden files and fails, so a regeneration never passes unnoticed; review the diff, commit,
re-run without the switch.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.conftest import CORPUS, FIXTURES, SHARED

REGEN = "KB_REGEN_GOLDEN"
GOLDEN = FIXTURES / "search" / "golden-api.json"
GOLDEN_OPENSEARCH = FIXTURES / "search" / "golden-api-opensearch.json"
ICEGOV = SHARED / "texts" / "icegov" / "icegov-proceedings-all-editions.csv"
ICEGOV_ROWS = 150  # bounded: enough abstracts for a second collection, seconds to ingest

WORDS = (
    "government", "open data", "broadband", "cybersecurity", "climate change", "digital identity",
    "e-procurement", "capacity building", "sustainable development", "public administration", "health",
    "education", "youth", "peace", "security council", "nuclear weapons", "artificial intelligence",
    "e-government", "e-participation", "citizens", "interoperability", "cloud computing", "mobile",
    "privacy", "digital divide", "women", "refugees", "debt", "financing for development", "ocean",
    "migration", "terrorism", "human rights", "Gaza", "Ukraine", "Sudan", "Haiti", "Korea", "Africa",
    "Latin America", "small island developing states", "reform of the Security Council",
    "knowledge base", "portal", "services online", "e-services", "smart cities", "social media",
    "transparency", "corruption", "poverty", "food security", "water", "energy transition",
    "multilateralism", "pandemic", "vaccines", "trade", "agriculture", "innovation",
)
SYNTAX = (
    '"digital divide"', '"united nations"', '"open government data"', "broadband OR mobile",
    "citizens AND rural", "citizens NOT rural", "citizens -rural", "(mobile OR broadband) AND rural",
    "goverment~", "broad*", "cyber*", "title:cybersecurity", "heading:agenda", "country:KOR",
    "country:FRA climate", "org:undesa", "topic:open-data", "topic:e-participation", "region:africa",
    "year:2024", "year:[2010 TO 2014]", "year:>=2015 governance", "lang:en peace", "type:md",
    "who presented the knowledge base of CIO profiles?",
    "what did the speakers say about the reform of international financial institutions",
    "how can governments use e-government to reach rural citizens", "partnership~2", "e-gov*",
    "Republic of Korea", "UNDESA", "Costa Rica", "communique", "presenting", "governments",
)
MISSPELT = (
    "goverment", "broadbnd", "cybersecurty", "sustainble development", "educaton", "helth",
    "climat change", "goverment portals", "partnrship", "particpation", "tecnology", "refugess",
    "xqzvw", "digitl divide", "adminstration", "populaton", "innovaton", "transparancy",
    "kazakstan", "multilateralsm",
)
FILTERS = (
    {"country": "KOR"}, {"country": "USA"}, {"country": "FRA,DEU"}, {"region": "africa"},
    {"topic": "open-data"}, {"topic": "e-participation"}, {"topic": "cybersecurity"}, {"org": "un"},
    {"year": "2024"}, {"year": "2012"}, {"lang": "en"}, {"type": "txt"}, {"type": "csv"},
    {"collection": "UN General Debate 2024"}, {"country": "BRA", "topic": "digital-divide"},
)
FILTER_WORDS = ("government", "development", "digital", "", "peace", "data", "citizens")


def _cases() -> dict[str, dict[str, str]]:
    """Case name -> query string arguments: a few hundred requests over the query language,
    filters, sorts, paging, grouping, spelling and the output switches."""
    cases: dict[str, dict[str, str]] = {}
    for w in WORDS:
        cases[f"q {w}"] = {"q": w, "per_page": "10"}
    for w in WORDS[::3]:
        cases[f"page2 {w}"] = {"q": w, "per_page": "10", "page": "2"}
        cases[f"grouped {w}"] = {"q": w, "per_page": "10", "max_per_document": "3"}
    for w in WORDS[1::4]:
        cases[f"date {w}"] = {"q": w, "per_page": "10", "sort": "date"}
        cases[f"title {w}"] = {"q": w, "per_page": "10", "sort": "title"}
        cases[f"p5 allfacets {w}"] = {"q": w, "per_page": "5", "facet_limit": "0"}
    for w in WORDS[2::5]:
        cases[f"nohighlight {w}"] = {"q": w, "per_page": "10", "highlight": "0"}
        cases[f"p50 {w}"] = {"q": w, "per_page": "50"}
    for s in SYNTAX:
        cases[f"syntax {s}"] = {"q": s, "per_page": "10"}
    for s in MISSPELT:
        cases[f"misspelt {s}"] = {"q": s, "per_page": "10"}
        cases[f"misspelt nocorrect {s}"] = {"q": s, "per_page": "10", "correct": "0"}
    for i, flt in enumerate(FILTERS):
        for w in FILTER_WORDS[i % 3::3]:
            cases[f"filter {flt} {w}"] = {"q": w, "per_page": "10", **flt}
    cases["empty"] = {"per_page": "10"}
    cases["empty date"] = {"per_page": "10", "sort": "date"}
    cases["empty title p3"] = {"per_page": "10", "sort": "title", "page": "3"}
    return cases


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _answer(body: dict[str, Any]) -> dict[str, Any]:
    """What must not change: everything but the timing and the ingest clock; passage texts
    as digests (the snippets, kept whole, show the words around the matches)."""
    body = dict(body)
    body.pop("took_ms", None)
    # The golden KB has no vectors (test homes ingest without embedding): every answer is
    # BM25's, and says so; the mode fields are checked here, not stored.
    assert body.pop("mode") == "bm25", body.get("mode_reason")
    assert body.pop("mode_reason")
    results = []
    for hit in body.pop("results"):
        hit = dict(hit)
        hit.pop("added", None)
        hit["text"] = _digest(hit["text"])
        results.append(hit)
    body["results"] = results
    return body


@pytest.fixture(scope="module")
def golden_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not ICEGOV.is_file():
        pytest.skip(f"no ICEGOV collection at {ICEGOV} (../shared is absent; set KB_SHARED): "
                    "the golden answers are recorded over it")
    from indexer.library import ingest
    from kb.facade import KB

    tmp = tmp_path_factory.mktemp("golden")
    with ICEGOV.open(encoding="utf-8", newline="") as src:
        reader = csv.reader(src)
        rows = [next(reader) for _ in range(ICEGOV_ROWS + 1)]
    sample = tmp / "icegov-sample.csv"
    with sample.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(rows)
    home = tmp / "home"
    with KB({"home": str(home)}) as kb:
        summary = ingest([CORPUS / "forum-2012-final-report.md", CORPUS / "ungd-2024", sample], kb)
    assert summary["failed"] == 0, summary["failures"][:3]
    return home


@pytest.fixture(scope="module")
def opensearch_home(golden_home: Path, opensearch_urls: list[str]) -> Iterator[dict[str, Any]]:
    """The golden home's settings with its passages reindexed into the test cluster (an index
    prefix of its own, deleted afterwards)."""
    from indexer.library import reindex
    from kb.facade import KB

    settings = {"home": str(golden_home), "search_backend": "opensearch",
                "opensearch_url": ",".join(opensearch_urls),
                "opensearch_index": f"kbgolden-{uuid.uuid4().hex[:8]}"}
    with KB(settings) as kb:
        reindex(kb)
    yield settings
    with KB(settings) as kb:
        kb.index.backend.client.indices.delete(index=f"{settings['opensearch_index']}-passages-*")


def _write(path: Path, answers: dict[str, Any]) -> None:
    """One case a line (a change shows as the lines of its cases), keys sorted."""
    lines = [json.dumps({name: answers[name]}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))[1:-1]
             for name in sorted(answers)]
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")


def _answers(home: Path | dict[str, Any], cache_size: int, cases: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The answers of a KB home (a path: the default backend; a dict: its settings)."""
    from web import create_app

    settings = dict(home) if isinstance(home, dict) else {"home": str(home)}
    app = create_app({**settings, "search_cache_size": cache_size, "TESTING": True})
    client = app.test_client()
    out = {}
    for name, args in cases.items():
        resp = client.get("/api/v1/search?" + urlencode(args))
        assert resp.status_code == 200, (name, resp.get_data(as_text=True)[:300])
        out[name] = _answer(resp.get_json())
    return out


def _compare(got: dict[str, Any], golden: dict[str, Any], label: str) -> None:
    for name, answer in got.items():
        want = golden[name]
        if answer == want:
            continue
        for key in want:
            if key != "results" and answer.get(key) != want[key]:
                pytest.fail(f"{label} {name!r}: {key} is {answer.get(key)!r}, golden {want[key]!r}")
        for i, (a, w) in enumerate(zip(answer["results"], want["results"], strict=False)):
            for key in w:
                if a.get(key) != w[key]:
                    pytest.fail(f"{label} {name!r}: hit {i} {key} is {a.get(key)!r}, golden {w[key]!r}")
        pytest.fail(f"{label} {name!r}: {len(answer['results'])} hits, golden {len(want['results'])}")


def _check_against(path: Path, got: dict[str, Any]) -> None:
    if os.environ.get(REGEN, "") not in ("", "0"):
        _write(path, got)
        pytest.fail(f"{path.name} regenerated ({REGEN} is set): review the diff, then run without it")
    assert path.is_file(), f"{path} is missing: generate it once with {REGEN}=1 and review it"
    golden = json.loads(path.read_text(encoding="utf-8"))
    assert sorted(got) == sorted(golden), "the set of golden cases changed: regenerate"
    # The file records real variety, not a page of empty answers.
    assert sum(1 for a in golden.values() if a["total"] > 10) > 150
    assert sum(1 for a in golden.values() if a["suggestion"] or a["corrected_query"]) >= 15
    _compare(got, golden, "uncached")


@pytest.mark.slow
def test_api_search_answers_match_the_golden_file(golden_home):
    cases = _cases()
    assert len(cases) >= 250
    _check_against(GOLDEN, _answers(golden_home, 0, cases))


@pytest.mark.slow
def test_opensearch_answers_match_their_golden_file(opensearch_home):
    _check_against(GOLDEN_OPENSEARCH, _answers(opensearch_home, 0, _cases()))


@pytest.mark.slow
def test_cached_answers_match_the_golden_file_too(golden_home):
    if not GOLDEN.is_file():
        pytest.skip(f"{GOLDEN.name} not generated yet")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    sample = dict(list(_cases().items())[::7])
    # Twice through one app: the first fills the cache, the second is served from it.
    from web import create_app

    app = create_app({"home": str(golden_home), "search_cache_size": 1000, "TESTING": True})
    client = app.test_client()
    for round_ in ("filling", "cached"):
        got = {}
        for name, args in sample.items():
            resp = client.get("/api/v1/search?" + urlencode(args))
            assert resp.status_code == 200
            got[name] = _answer(resp.get_json())
        _compare(got, golden, round_)
