import sqlite3

import pytest

from kb.errors import CatalogError
from kb.model import Document, Mention, Passage
from kb.records import passage_records
from kb.store import SCHEMA_VERSION, Catalog


def doc(doc_id="d1", sha="s1", **kw):
    return Document(doc_id, "pdf", sha256=sha, title="T", **kw)


def test_schema_migrates_to_the_current_version_and_refuses_a_newer_one(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    assert cat.schema_version() == SCHEMA_VERSION
    assert cat.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    cat.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    cat.close()
    with pytest.raises(CatalogError, match="newer"):
        Catalog(tmp_path / "c.sqlite")


def test_documents_passages_mentions_and_index_bookkeeping(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    p = Passage("d1", 0, "Korea and UNDESA", ["A"], 1, 1, 0, 16)
    with cat.transaction():
        cat.put_document(doc(year=2012), [p], [Mention("country", "KOR", "Republic of Korea", "Korea", 0, 5, p.id)])
        cat.add_path("d1", "/x/a.pdf", 1.0, 10)
        cat.add_path("d1", "/y/copy.pdf", 1.0, 10)
    assert cat.get_document("d1")["paths"] == ["/x/a.pdf", "/y/copy.pdf"]
    assert cat.pending_index_work() == (["d1"], [])
    recs = passage_records(cat, "d1")
    assert recs[0].country == ["KOR"] and recs[0].heading_path == ["A"] and recs[0].year == 2012
    cat.mark_indexed(["d1"])
    assert cat.pending_index_work() == ([], [])
    with cat.transaction():
        assert cat.remove_path("/x/a.pdf") is None  # one path left: the document stays
        assert cat.remove_path("/y/copy.pdf") == "d1"
    assert cat.get_document("d1") is None and cat.passage("d1-0") is None
    assert cat.mentions(doc_id="d1") == []
    assert cat.pending_index_work() == ([], ["d1"])


def test_a_failed_transaction_leaves_nothing(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    with pytest.raises(sqlite3.IntegrityError), cat.transaction():
        cat.put_document(doc(), [], [])
        cat.put_document(doc("d2", "s1"), [], [])  # same sha256: refused
    assert cat.count_documents() == 0


def test_failures_cache_and_curation_round_trip(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    cat.record_failure("/a.pdf", "s", "encrypted", "PDF is encrypted", None)
    cat.record_failure("/a.pdf", "s", "encrypted", "PDF is encrypted; a password is needed", None)
    assert [f["reason"] for f in cat.failures()] == ["PDF is encrypted; a password is needed"]
    cat.cache_put("s", "v1", {"blocks": [{"text": "é"}]})
    assert cat.cache_get("s", "v1") == {"blocks": [{"text": "é"}]}
    assert cat.cache_get("s", "v2") is None
    cat.add_curation("alias", "Seoul Gov", "org", "seoul")
    assert cat.curation()[0]["value"] == "Seoul Gov"
