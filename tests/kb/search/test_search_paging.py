"""Paging reaches every hit exactly once (issue 16): by cursor and by page number, any page
size, every sort, with and without the per-document grouping, also when every score ties
(a filter-only search), and `total` equals what paging yields."""
from __future__ import annotations

import random

import numpy as np
import pytest

from kb import settings as settings_mod
from kb.search.paging import group_by_document
from kb.search.types import SearchRequest
from tests.kb.search.searchkit import open_index
from tests.kb.search.test_search_query import rec

DOCS = 9


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("paging")
    ix = open_index(home / "index", settings_mod.load({"home": str(home), "search_cache_size": 0}))
    rng = random.Random(16)
    # Documents of 1 to 16 passages (more than the 64 a first page once looked at), many with equal scores (same repeated words).
    recs = [rec(f"d{d}-{i}", "budget " * rng.randint(1, 3) + f"plan item{d}x{i}",
                year=rng.choice([2010, 2012, None]), title=rng.choice(["Alpha", "beta", "Gamma"]),
                country=["KOR"] if i % 2 else [])
            for d in range(DOCS) for i in range(rng.randint(1, 16))]
    ix.index_passages(recs)
    yield ix
    ix.close()


def _by_cursor(ix, **kw) -> tuple[list[str], set[int]]:
    seen, totals, cursor = [], set(), None
    for _ in range(500):
        r = ix.search(SearchRequest(cursor=cursor, facets=False, **kw))
        totals.add(r.total)
        seen += [h.passage_id for h in r.hits]
        cursor = r.next_cursor
        if not cursor:
            return seen, totals
    raise AssertionError("paging did not end")


def _by_page(ix, **kw) -> list[str]:
    seen, page = [], 1
    while True:
        r = ix.search(SearchRequest(page=page, facets=False, **kw))
        if not r.hits:
            return seen
        seen += [h.passage_id for h in r.hits]
        page += 1


@pytest.mark.parametrize("q,filters", [("budget", {}), ("", {}), ("", {"country": ["KOR"]}), ("plan", {})])
@pytest.mark.parametrize("sort", ["relevance", "date", "title"])
def test_every_hit_exactly_once(index, q, filters, sort):
    everything = [h.passage_id for h in index.iter_all(SearchRequest(q=q, filters=filters, sort=sort))]
    assert everything
    for cap in (0, 1, 3):
        for per_page in (1, 4, 7, 100):
            kw = {"q": q, "filters": filters, "sort": sort, "per_page": per_page, "max_per_document": cap}
            seen, totals = _by_cursor(index, **kw)
            assert len(seen) == len(set(seen)) == len(everything), (cap, per_page)
            assert set(seen) == set(everything)
            assert totals == {len(everything)}
            assert _by_page(index, **kw) == seen  # page numbers cut the same sequence
            if cap == 0:
                assert seen == everything  # no grouping: exactly the export's order


def test_grouping_puts_each_documents_best_passages_first(index):
    r = index.search(SearchRequest(q="budget", per_page=100, max_per_document=2, facets=False))
    docs = [h.doc_id for h in r.hits]
    head = docs[: sum(min(2, docs.count(d)) for d in set(docs))]
    # Before any document shows a third passage, every document has shown up to two.
    counts: dict[str, int] = {}
    for d in head:
        counts[d] = counts.get(d, 0) + 1
    assert max(counts.values()) <= 2 and set(counts) == set(docs)


def test_group_by_document_keeps_order_within_groups():
    order = np.array([5, 3, 9, 1, 7, 2, 8])
    keys = np.array([0, 0, 0, 1, 0, 1, 2])  # document of each position
    got = group_by_document(order, keys, 2).tolist()
    # tier 0: doc 0's first two (5, 3), doc 1's two (1, 2), doc 2 (8); tier 1: doc 0's (9, 7)
    assert got == [5, 3, 1, 2, 8, 9, 7]
    assert group_by_document(order, keys, 0).tolist() == order.tolist()
    assert group_by_document(np.array([], dtype=np.int64), np.array([], dtype=np.int64), 3).tolist() == []
