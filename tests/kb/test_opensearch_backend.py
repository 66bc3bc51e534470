"""The OpenSearch backend against the real two-node cluster (KB_OPENSEARCH_URL, started by
`make test`): facets against brute force, cursor paging, sorts, highlights, writes,
rebuild with an alias switch, spelling, more-like-this, and the error when no node answers.

Each module run uses its own index prefix and deletes its indexes at the end."""
from __future__ import annotations

import random
import socket
import uuid
from collections import Counter
from dataclasses import replace

import pytest

from kb import settings as kb_settings
from kb.errors import BackendUnavailableError, IndexError_, InvalidInputError
from kb.search.opensearch import OpenSearchBackend
from kb.search.service import SearchService
from kb.search.types import FACET_FIELDS, PassageRecord, SearchRequest

COUNTRIES = ["KOR", "KAZ", "FRA", "BRA", "KEN", "IND", "CHL"]
TOPICS = ["open-data", "broadband", "e-procurement", "digital-identity", "cybersecurity"]
WORDS = ["government", "portal", "citizens", "broadband", "procurement", "identity", "rural", "services", "data", "open", "mobile", "strategy", "capacity", "framework", "privacy", "agency", "ministry", "online", "tenders"]


def records(n: int, seed: int = 7) -> list[PassageRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        doc = f"doc{i % 40:02d}"
        lang = rng.choice(["en", "en", "en", "fr", "es"])
        out.append(PassageRecord(
            f"{doc}:{i}", doc, i, " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 25))), lang=lang,
            title=f"Forum report {doc}", heading_path=[f"Part {i % 3}"],
            format=rng.choice(["pdf", "pptx", "docx"]), year=2008 + i % 7,
            date=f"{2008 + i % 7}-0{1 + i % 9}-1{i % 10}",
            country=rng.sample(COUNTRIES, rng.randint(0, 2)),
            topic=rng.sample(TOPICS, rng.randint(1, 2)), page_start=1 + i % 30, page_end=1 + i % 30))
    return out


def cluster_settings(urls: list[str], prefix: str, **extra) -> dict:
    return kb_settings.load({"opensearch_url": ",".join(urls), "opensearch_index": prefix,
                             "search_backend": "opensearch", **extra})


def cluster_service(settings) -> SearchService:
    return SearchService(OpenSearchBackend(settings), settings)


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return records(600)


@pytest.fixture(scope="module")
def index(opensearch_urls, corpus):
    ix = cluster_service(cluster_settings(opensearch_urls, f"kbtest-{uuid.uuid4().hex[:8]}"))
    assert ix.index_passages(corpus) == len(corpus)
    yield ix
    ix.backend.client.indices.delete(index=f"{ix.backend.names.alias}-*")
    ix.close()


def field_of(r: PassageRecord, name: str):
    """A facet's value in a record (the `type` facet is the record's format)."""
    return getattr(r, "format" if name == "type" else name)


def brute_facets(recs: list[PassageRecord], limit: int) -> dict[str, list[tuple[str, int]]]:
    out = {}
    for name in FACET_FIELDS:
        counts: Counter = Counter()
        for r in recs:
            value = field_of(r, name)
            values = value if isinstance(value, list) else ([] if value in (None, "") else [value])
            counts.update(str(v) for v in values)
        ranked = sorted(counts.items(), key=lambda vc: (-vc[1], vc[0]))
        out[name] = ranked[:limit] if limit else ranked
    return out


def words_of(rec: PassageRecord) -> set[str]:
    return set(rec.text.split())


@pytest.mark.parametrize("filters", [{}, {"country": ["KOR"]}, {"topic": ["broadband", "open-data"],
                                                                "year": ["2010"]}])
def test_facets_are_exact_against_brute_force(index, corpus, filters):
    result = index.search(SearchRequest(q="", filters=filters, facet_limit=0, per_page=5))

    def keep(r: PassageRecord) -> bool:
        for name, values in filters.items():
            value = field_of(r, name)
            have = value if isinstance(value, list) else [str(value)]
            if not set(have) & set(values):
                return False
        return True

    expected = [r for r in corpus if keep(r)]
    assert result.total == len(expected)
    assert result.facets == brute_facets(expected, 0)


def test_words_must_all_match_and_totals_are_exact(index, corpus):
    result = index.search(SearchRequest(q="rural tenders", per_page=10, max_per_document=0))
    expected = [r for r in corpus if {"rural", "tenders"} <= words_of(r)]
    assert expected and result.total == len(expected)
    assert {h.passage_id for h in result.hits} <= {r.id for r in expected}


def test_cursor_paging_reaches_every_hit_exactly_once(index, corpus):
    request = SearchRequest(q="government", per_page=7, max_per_document=0, facets=False)
    seen, result, pages = [], index.search(request), 0
    while True:
        seen.extend(h.passage_id for h in result.hits)
        pages += 1
        if not result.next_cursor or pages > 200:
            break
        request.cursor = result.next_cursor
        result = index.search(request)
    expected = {r.id for r in corpus if "government" in words_of(r)}
    assert len(seen) == len(set(seen)) == len(expected)
    assert set(seen) == expected


def test_a_cursor_of_another_query_is_refused(index):
    first = index.search(SearchRequest(q="government", per_page=3))
    with pytest.raises(InvalidInputError):
        index.search(SearchRequest(q="broadband", per_page=3, cursor=first.next_cursor))
    with pytest.raises(InvalidInputError):
        index.search(SearchRequest(q="government", per_page=3, cursor="not-a-cursor"))


def test_sorts_by_date_and_title(index, corpus):
    by_date = list(index.iter_all(SearchRequest(q="strategy", sort="date")))
    dates = [next(r.date for r in corpus if r.id == h.passage_id) for h in by_date]
    assert dates == sorted(dates, reverse=True)
    by_title = [h.title for h in index.iter_all(SearchRequest(q="strategy", sort="title"))]
    assert by_title == sorted(by_title)
    with pytest.raises(InvalidInputError):
        index.search(SearchRequest(q="strategy", sort="colour"))


def test_filters_queries_and_operators(index, corpus):
    def count(q: str) -> int:
        return index.search(SearchRequest(q=q, per_page=1, facets=False)).total

    assert count("country:KOR") == sum("KOR" in r.country for r in corpus)
    assert count("country:kor") == count("country:KOR")  # ids match case-insensitively
    assert count("year:[2009 TO 2011]") == sum(2009 <= r.year <= 2011 for r in corpus)
    assert count("year:>=2012") == sum(r.year >= 2012 for r in corpus)
    assert count("rural OR tenders") == sum(bool({"rural", "tenders"} & words_of(r)) for r in corpus)
    assert count("rural -tenders") == sum("rural" in words_of(r) and "tenders" not in words_of(r)
                                          for r in corpus)
    assert count("-rural") == sum("rural" not in words_of(r) for r in corpus)
    with pytest.raises(InvalidInputError):
        count("year:abc")


def test_highlights_are_escaped_with_mark_only(opensearch_urls):
    ix = cluster_service(cluster_settings(opensearch_urls, f"kbtest-{uuid.uuid4().hex[:8]}"))
    try:
        ix.index_passages([PassageRecord("h:0", "h", 0, 'Broadband <script>alert("x")</script> & rural <b>access</b>',
                                          lang="en", title="t")])
        hit = ix.search(SearchRequest(q="broadband access")).hits[0]
        assert "<mark>Broadband</mark>" in hit.snippet and "<mark>access</mark>" in hit.snippet
        stripped = hit.snippet.replace("<mark>", "").replace("</mark>", "")
        assert "<" not in stripped and "&lt;script&gt;" in stripped and "&amp;" in stripped
    finally:
        ix.backend.client.indices.delete(index=f"{ix.backend.names.alias}-*")


def test_writes_replace_documents_and_a_bad_item_fails_the_batch(opensearch_urls):
    ix = cluster_service(cluster_settings(opensearch_urls, f"kbtest-{uuid.uuid4().hex[:8]}"))
    try:
        recs = records(30)
        ix.index_passages(recs)
        before = ix.build_id()
        # doc00 now has one passage; doc01 is deleted
        ix.update_documents(["doc01"], [replace(recs[0], id="doc00:new", text="renewed text")])
        counts = ix.doc_ids()
        assert counts["doc00"] == 1 and "doc01" not in counts
        assert ix.build_id() != before
        bad = replace(recs[5], page_start="page five")  # not an integer: the cluster refuses it
        with pytest.raises(IndexError_) as err:
            ix.index_passages([recs[4], bad])
        assert "1 of 2 passages not indexed" in str(err.value) and "\n" not in str(err.value)
    finally:
        ix.backend.client.indices.delete(index=f"{ix.backend.names.alias}-*")


def test_rebuild_switches_the_alias_to_a_new_index(opensearch_urls):
    ix = cluster_service(cluster_settings(opensearch_urls, f"kbtest-{uuid.uuid4().hex[:8]}"))
    try:
        ix.index_passages(records(20))
        old = ix.stats()["index"]
        assert ix.rebuild(records(50, seed=3)) == 50
        stats = ix.stats()
        assert stats["index"] != old and stats["passages"] == 50
        assert not ix.backend.client.indices.exists(index=old)
        assert not ix.needs_rebuild()
        assert ix.search(SearchRequest(q="")).total == 50
    finally:
        ix.backend.client.indices.delete(index=f"{ix.backend.names.alias}-*")


def test_spelling_and_more_like_this(index, corpus):
    result = index.search(SearchRequest(q="goverment", per_page=3))
    assert result.corrected_query == "government"
    assert result.total == sum("government" in words_of(r) for r in corpus)
    similar = index.more_like(corpus[0].id, limit=5)
    assert similar and corpus[0].id not in {h.passage_id for h in similar}
    assert all(words_of(corpus[0]) & set(h.text.split()) for h in similar)


def test_stats_show_no_secrets(opensearch_urls):
    secret = "s3cret-pw"
    urls = [u.replace("http://", f"http://kb:{secret}@") for u in opensearch_urls]
    ix = cluster_service(cluster_settings(urls, f"kbtest-{uuid.uuid4().hex[:8]}",
                                          opensearch_password=secret))
    try:
        stats = ix.stats()
        assert secret not in repr(stats) and stats["nodes"] >= 2
    finally:
        ix.backend.client.indices.delete(index=f"{ix.backend.names.alias}-*")


def test_no_node_answering_is_backend_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ix = cluster_service(cluster_settings([f"http://127.0.0.1:{port}"], "kbtest-down"))
    with pytest.raises(BackendUnavailableError) as err:
        ix.search(SearchRequest(q="broadband"))
    assert "search backend unavailable" in str(err.value) and str(port) not in str(err.value)


@pytest.mark.slow
def test_no_ten_thousand_hit_window(opensearch_urls):
    """Exact totals, exports and cursors past 10,000 hits (the cap Aleph's users meet)."""
    ix = cluster_service(cluster_settings(opensearch_urls, f"kbtest-{uuid.uuid4().hex[:8]}"))
    n = 10_050
    try:
        ix.index_passages(PassageRecord(f"w{i // 50}:{i}", f"w{i // 50}", i, f"window passage {i}", lang="en",
                                        title="t") for i in range(n))
        request = SearchRequest(q="window", per_page=100, max_per_document=0, facets=False,
                                highlight=False)
        first = ix.search(request)
        assert first.total == n
        assert sum(1 for _ in ix.iter_all(request)) == n
        seen, result = 0, first
        for _ in range(n // 100 + 2):  # bounded: one page more than needed
            seen += len(result.hits)
            if not result.next_cursor:
                break
            request.cursor = result.next_cursor
            result = ix.search(request)
        assert seen == n and result.next_cursor is None
    finally:
        ix.backend.client.indices.delete(index=f"{ix.backend.names.alias}-*")
