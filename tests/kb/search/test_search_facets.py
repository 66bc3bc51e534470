"""Facet counts and filters against a brute-force count over the records themselves."""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from kb import settings as settings_mod
from kb.search.types import FACET_FIELDS, PassageRecord, SearchRequest
from tests.kb.search.searchkit import open_index

VALUES = {
    "country": ["KOR", "FRA", "KEN", "BRA", "IND"],
    "region": ["asia", "europe", "africa"],
    "org": ["undesa", "itu", "worldbank", "oecd"],
    "person": ["jane-doe", "ali-khan", "li-wei"],
    "topic": ["open-data", "e-participation", "broadband", "cloud"],
}
TYPES = ["pdf", "pptx", "docx"]
LANGS = ["en", "fr", "es"]


def make_records(n: int, seed: int) -> list[PassageRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        doc = f"doc{i // 4}"
        words = ["alpha"] if rng.random() < 0.4 else []
        words += rng.sample(["budget", "portal", "citizen", "service", "network"], 2)
        collection = rng.choice(["UN General Debate 2024", "ICEGOV", None])
        r = PassageRecord(f"{doc}-{i % 4}", doc, i % 4, " ".join(words), title=f"T{i // 4}", path=f"c/{doc}.pdf",
                          format=rng.choice(TYPES), year=rng.choice([2010, 2012, 2014, None]), lang=rng.choice(LANGS),
                          collection=[collection] if collection else [])
        for field, vals in VALUES.items():
            setattr(r, field, rng.sample(vals, rng.randint(0, 2)))
        out.append(r)
    return out


def facet_values(r: PassageRecord, facet: str) -> list[str]:
    if facet in VALUES:
        return getattr(r, facet)
    if facet == "collection":
        return r.collection
    if facet == "year":
        return [str(r.year)] if r.year is not None else []
    return [r.format if facet == "type" else getattr(r, facet)]


def brute(records: list[PassageRecord], word: str | None, filters: dict[str, list[str]]) -> tuple[int, dict]:
    hits = [r for r in records
            if (word is None or word in r.text.split())
            and all(set(facet_values(r, f)) & set(vs) for f, vs in filters.items())]
    counts = {f: Counter(v for r in hits for v in facet_values(r, f)) for f in FACET_FIELDS}
    return len(hits), counts


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("facets")
    records = make_records(400, seed=11)
    ix = open_index(Path(home) / "index", settings_mod.load({"home": str(home)}))
    # Several commits, so the index has several segments and the cache joins them.
    for start in range(0, len(records), 100):
        ix.index_passages(records[start:start + 100])
    yield ix, records
    ix.close()


FILTER_CASES = [
    {},
    {"country": ["KOR"]},
    {"country": ["KOR", "FRA"]},  # OR within a field
    {"country": ["KOR"], "topic": ["open-data"]},  # AND across fields
    {"type": ["pptx"], "year": ["2012", "2014"], "lang": ["fr"]},
    {"person": ["li-wei"], "org": ["itu", "oecd"], "region": ["asia"]},
]


@pytest.mark.parametrize("word", [None, "alpha", "budget"])
@pytest.mark.parametrize("filters", FILTER_CASES)
def test_every_facet_count_matches_brute_force(setup, word, filters):
    ix, records = setup
    r = ix.search(SearchRequest(q=word or "", filters=filters, facet_limit=0, per_page=5))
    total, expected = brute(records, word, filters)
    assert r.total == total
    for facet in FACET_FIELDS:
        assert dict(r.facets[facet]) == dict(expected[facet]), facet


def test_facets_follow_updates_and_deletes(setup, tmp_path):
    _, records = setup
    ix = open_index(tmp_path / "ix", settings_mod.load({"home": str(tmp_path)}))
    ix.index_passages(records[:80])
    ix.delete_document("doc3")
    changed = [replace(r, country=["KOR"]) for r in records[40:44]]  # doc10 re-tagged
    ix.index_passages(changed)
    now = [r for r in records[:80] if r.doc_id != "doc3" and r.doc_id != "doc10"] + changed
    res = ix.search(SearchRequest(q="", facet_limit=0, per_page=1))
    total, expected = brute(now, None, {})
    assert res.total == total
    assert dict(res.facets["country"]) == dict(expected["country"])
    assert ix.doc_ids() == dict(Counter(r.doc_id for r in now))
    ix.close()


def test_facet_limit_keeps_most_frequent(setup):
    ix, records = setup
    r = ix.search(SearchRequest(q="", facet_limit=2))
    _, expected = brute(records, None, {})
    top = sorted(expected["country"].items(), key=lambda kv: (-kv[1], kv[0]))[:2]
    assert r.facets["country"] == top
