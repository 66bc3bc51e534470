"""Index lifecycle: atomic batches, rebuild, schema versions, locks, fresh searchers, budget."""
from __future__ import annotations

from pathlib import Path

import pytest

from kb import settings as settings_mod
from kb.errors import BusyError, IndexError_
from kb.search.types import PassageRecord, SearchRequest
from kb.search.whoosh import schema as schema_mod
from tests.kb.search.searchkit import open_index
from tests.records import passage_record


def rec(doc: str, i: int, text: str, **kw) -> PassageRecord:
    return passage_record(doc, i, text, **{"title": doc, **kw})


def settings(tmp_path: Path, **kw) -> dict:
    return settings_mod.load({"home": str(tmp_path), **kw})


def snapshot(ix) -> tuple:
    r = ix.search(SearchRequest(q="", per_page=100, max_per_document=0, facet_limit=0))
    return r.total, sorted(h.passage_id for h in r.hits), r.facets, ix.doc_ids()


def test_failed_batch_leaves_index_exactly_as_before(tmp_path):
    ix = open_index(tmp_path / "ix", settings(tmp_path))
    ix.index_passages([rec("a", 0, "alpha one"), rec("a", 1, "alpha two"), rec("b", 0, "beta")])
    before = snapshot(ix)

    def poisoned():
        yield rec("a", 0, "replacement of a")  # would delete a's old passages
        yield rec("c", 0, "gamma")
        raise RuntimeError("extraction blew up mid-batch")

    with pytest.raises(RuntimeError):
        ix.index_passages(poisoned())
    assert snapshot(ix) == before
    assert ix.search(SearchRequest(q="gamma")).total == 0
    # The writer lock was released: the next batch goes through.
    ix.index_passages([rec("c", 0, "gamma")])
    assert ix.search(SearchRequest(q="gamma")).total == 1
    ix.close()


def test_update_replaces_all_passages_of_a_document(tmp_path):
    ix = open_index(tmp_path / "ix", settings(tmp_path))
    ix.index_passages([rec("a", i, f"old text {i}") for i in range(5)])
    ix.index_passages([rec("a", 0, "new text")])
    assert ix.doc_ids() == {"a": 1}
    assert ix.search(SearchRequest(q="old")).total == 0
    ix.update_documents(["a"], [rec("b", 0, "other")])
    assert ix.doc_ids() == {"b": 1}
    ix.delete_document("b")
    assert ix.doc_ids() == {}
    ix.close()


def test_rebuild_from_records_swaps_atomically(tmp_path):
    ix = open_index(tmp_path / "ix", settings(tmp_path))
    ix.index_passages([rec("old", 0, "stale words")])
    before_id = ix.build_id()
    n = ix.rebuild(rec(d, i, f"fresh {d} {i}") for d in ("x", "y") for i in range(3))
    assert n == 6
    assert ix.doc_ids() == {"x": 3, "y": 3}
    assert ix.search(SearchRequest(q="stale")).total == 0
    assert ix.build_id() != before_id
    assert len(list((tmp_path / "ix").glob("gen-*"))) == 1  # the old generation is gone

    def broken():
        yield rec("z", 0, "never")
        raise RuntimeError("catalog read failed")

    with pytest.raises(RuntimeError):
        ix.rebuild(broken())
    assert ix.doc_ids() == {"x": 3, "y": 3}  # a failed rebuild leaves the live index alone
    assert len(list((tmp_path / "ix").glob("gen-*"))) == 1
    ix.close()


def test_other_process_sees_rebuild_and_commits(tmp_path):
    path = tmp_path / "ix"
    writer_side = open_index(path, settings(tmp_path))
    reader_side = open_index(path, settings(tmp_path))
    assert reader_side.search(SearchRequest(q="fresh")).total == 0
    writer_side.index_passages([rec("a", 0, "fresh news")])
    assert reader_side.search(SearchRequest(q="fresh")).total == 1  # searcher refreshed
    writer_side.rebuild([rec("b", 0, "fresh rebuilt"), rec("b", 1, "fresh again")])
    assert reader_side.search(SearchRequest(q="fresh")).total == 2  # followed the swap
    writer_side.close()
    reader_side.close()


def test_schema_version_mismatch_needs_rebuild(tmp_path, monkeypatch):
    ix = open_index(tmp_path / "ix", settings(tmp_path))
    ix.index_passages([rec("a", 0, "text")])
    assert not ix.needs_rebuild()
    ix.close()
    monkeypatch.setattr("kb.search.whoosh.backend.SCHEMA_VERSION", schema_mod.SCHEMA_VERSION + 1)
    ix2 = open_index(tmp_path / "ix", settings(tmp_path))
    assert ix2.needs_rebuild()
    with pytest.raises(IndexError_, match="reindex"):
        ix2.search(SearchRequest(q="text"))
    ix2.rebuild([rec("a", 0, "text")])
    assert not ix2.needs_rebuild()
    assert ix2.search(SearchRequest(q="text")).total == 1
    ix2.close()


def test_corrupt_index_needs_rebuild(tmp_path):
    ix = open_index(tmp_path / "ix", settings(tmp_path))
    ix.index_passages([rec("a", 0, "text")])
    ix.close()
    live = tmp_path / "ix" / (tmp_path / "ix" / "CURRENT").read_text().strip()
    for f in live.glob("*.toc"):
        f.write_bytes(b"garbage")
    ix2 = open_index(tmp_path / "ix", settings(tmp_path))
    assert ix2.needs_rebuild()
    ix2.close()


def test_lock_contention_becomes_busy_error(tmp_path):
    ix = open_index(tmp_path / "ix", settings(tmp_path, lock_timeout=0.2))
    other = open_index(tmp_path / "ix", settings(tmp_path))
    held = other.backend._ix.writer()
    try:
        with pytest.raises(BusyError, match="locked"):
            ix.index_passages([rec("a", 0, "text")])
    finally:
        held.cancel()
    ix.index_passages([rec("a", 0, "text")])
    ix.close()
    other.close()


def test_time_budget_truncates(tmp_path):
    ix = open_index(tmp_path / "ix", settings(tmp_path))
    ix.index_passages([rec(f"d{i}", 0, "common word") for i in range(1100)])
    ix.settings["query_time_budget"] = 0.0  # below the declared minimum, to force the cut
    r = ix.search(SearchRequest(q="common"))
    assert r.truncated and r.total < 1100  # holds what was found in time
    ix.settings["query_time_budget"] = 5.0
    r = ix.search(SearchRequest(q="common"))
    assert not r.truncated and r.total == 1100
    ix.close()


def test_hits_after_a_commit_show_the_new_text_not_a_cached_one(tmp_path):
    """Stored passages are cached per searcher (kb.search.whoosh.hits.PassageCache): a commit
    that replaces a document's passages must show their new text and snippet, and a caller
    changing a hit's lists changes nothing the next search returns."""
    ix = open_index(tmp_path / "ix", settings(tmp_path))
    ix.update_documents([], [rec("d", 0, "Broadband for rural schools"),
                             rec("e", 0, "Broadband in cities", topic=["broadband"])])
    first = {h.doc_id: h for h in ix.search(SearchRequest(q="broadband")).hits}
    assert first["d"].snippet == "<mark>Broadband</mark> for rural schools"
    first["e"].entities["topic"].append("mutated")
    first["e"].heading_path.append("mutated")
    same = {h.doc_id: h for h in ix.search(SearchRequest(q="broadband", correct=False)).hits}
    assert same["e"].entities == {"topic": ["broadband"]} and same["e"].heading_path == []
    ix.update_documents(["d"], [rec("d", 0, "Fibre broadband for rural clinics and schools")])
    again = {h.doc_id: h for h in ix.search(SearchRequest(q="broadband")).hits}
    assert again["d"].text == "Fibre broadband for rural clinics and schools"
    assert again["d"].snippet == "Fibre <mark>broadband</mark> for rural clinics and schools"
    assert again["e"].text == "Broadband in cities"
    ix.close()
