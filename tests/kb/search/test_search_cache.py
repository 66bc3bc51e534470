"""The per-process search result cache: same answers, reused, and invalidated by every commit,
rebuild and commit from another process (another open index on the same folder)."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from kb import settings as settings_mod
from kb.search.types import PassageRecord, SearchRequest
from tests.kb.search.searchkit import open_index
from tests.records import passage_record


def rec(doc: str, i: int, text: str, **kw) -> PassageRecord:
    return passage_record(doc, i, text, **{"title": doc, "country": ["KOR"], **kw})


def settings(tmp_path: Path, **kw) -> dict:
    return settings_mod.load({"home": str(tmp_path), **kw}, environ={})


def comparable(result) -> dict:
    d = asdict(result)
    d.pop("took_ms")
    return d


def test_cached_result_is_identical_to_a_fresh_search_and_is_reused(tmp_path):
    ix = open_index(tmp_path / "ix", settings(tmp_path))
    off = open_index(tmp_path / "ix", settings(tmp_path, search_cache_size=0))
    ix.index_passages([rec("a", i, f"broadband policy for rural areas {i}") for i in range(30)]
                      + [rec("b", 0, "broadband and open data", country=["FRA"])])
    reqs = [SearchRequest(q="broadband"), SearchRequest(q="broadband", page=2, per_page=5),
            SearchRequest(q="broadband", filters={"country": ["FRA", "KOR"]}),
            SearchRequest(q="broadband", filters={"country": ["KOR", "FRA"]}),
            SearchRequest(q="broadband", max_per_document=0),
            SearchRequest(q="broadbnd"), SearchRequest(q="", sort="title")]
    first = [ix.search(r) for r in reqs]
    assert ix.result_cache.hits == 1  # the two country orders are one request
    again = [ix.search(r) for r in reqs]
    assert ix.result_cache.hits == 1 + len(reqs)
    fresh = [off.search(r) for r in reqs]
    assert len(off.result_cache) == 0
    for a, b, c in zip(first, again, fresh):
        assert comparable(a) == comparable(b) == comparable(c)
    # A caller changing its copy does not change the cached entry.
    again[0].hits[0].heading_path.append("changed")
    again[0].hits.clear()
    assert comparable(ix.search(reqs[0])) == comparable(first[0])
    # A cursor from a cached page leads to the same next page.
    nxt = SearchRequest(q="broadband", cursor=first[0].next_cursor)
    assert comparable(ix.search(nxt)) == comparable(off.search(nxt))
    ix.close()
    off.close()


def test_every_commit_invalidates_the_cache(tmp_path):
    ix = open_index(tmp_path / "ix", settings(tmp_path))
    ix.index_passages([rec("a", 0, "cybersecurity strategy")])
    req = SearchRequest(q="cybersecurity")
    assert ix.search(req).total == 1
    assert ix.search(req).total == 1 and ix.result_cache.hits == 1
    # A commit through this index object.
    ix.index_passages([rec("b", 0, "national cybersecurity agency")])
    assert ix.search(req).total == 2
    # A commit by another process (another index object on the same folder).
    other = open_index(tmp_path / "ix", settings(tmp_path))
    other.delete_document("a")
    assert [h.doc_id for h in ix.search(req).hits] == ["b"]
    # A rebuild swapping the generation folder.
    other.rebuild([rec("c", 0, "cybersecurity"), rec("d", 0, "cybersecurity law")])
    assert sorted(h.doc_id for h in ix.search(req).hits) == ["c", "d"]
    assert ix.result_cache.hits == 1
    other.close()
    ix.close()


def test_cache_is_bounded(tmp_path):
    ix = open_index(tmp_path / "ix", settings(tmp_path, search_cache_size=3))
    ix.index_passages([rec("a", 0, "one two three four five")])
    for word in ("one", "two", "three", "four", "five"):
        ix.search(SearchRequest(q=word))
    assert len(ix.result_cache) == 3
    ix.search(SearchRequest(q="five"))  # most recent: still there
    ix.search(SearchRequest(q="one"))  # least recent: was evicted
    assert ix.result_cache.hits == 1
    ix.close()
