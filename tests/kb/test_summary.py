"""The entity summaries (kb.summary) kept by the catalog: exact counts on a hand-made
example, kept in step by put_document / replace_mentions / delete_document, built by the
schema migration, and the change counter the page cache is keyed on."""
from __future__ import annotations

import pytest

from kb import queries, summary
from kb.model import Document, Mention, Passage
from kb.store import SCHEMA_VERSION, Catalog


def _doc(cat: Catalog, doc_id: str, texts: list[str], ents: list[list[tuple[str, str, str]]], year: int = 2012,
         replace: bool = False) -> None:
    """ents[i]: (type, id, name) mentioned in passage i, each at offset 0."""
    passages = [Passage(doc_id, i, t, [], None, None) for i, t in enumerate(texts)]
    mentions = [Mention(t, e, n, n, 0, 1, passages[i].id) for i, es in enumerate(ents) for t, e, n in es]
    with cat.transaction():
        if replace:
            cat.replace_mentions(doc_id, mentions)
        else:
            cat.put_document(Document(doc_id, "txt", sha256=doc_id * 8, title=doc_id, year=year),
                             passages, mentions)


KOR, KAZ = ("country", "KOR", "Korea"), ("country", "KAZ", "Kazakhstan")
UNDESA, BROADBAND = ("org", "undesa", "UNDESA"), ("topic", "broadband", "Broadband")


def _consistent(cat: Catalog) -> summary.Tally:
    got = summary.stored(cat.db)
    assert got == summary.compute(cat.db)
    return got


def test_counts_are_exact_on_a_small_example(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    # KOR twice in passage 0 (one passage, two mentions), with UNDESA; KOR and KAZ in passage 1
    _doc(cat, "d1", ["a", "b", "c"], [[KOR, KOR, UNDESA], [KOR, KAZ, BROADBAND], []])
    docs, names, pairs = _consistent(cat)
    assert docs[("country", "KOR", "d1")] == (3, 2)
    assert names[("country", "KOR", "Korea")] == 3
    assert pairs[("country", "KOR", "org", "undesa")] == 1 and pairs[("org", "undesa", "country", "KOR")] == 1
    assert pairs[("country", "KOR", "topic", "broadband")] == 1
    # no page lists country-country pairs: they are not kept
    assert ("country", "KOR", "country", "KAZ") not in pairs
    assert queries.entity_totals(cat, "country", "KOR") == {"mentions": 3, "documents": 1, "passages": 2}
    with pytest.raises(ValueError, match="not summarised"):
        queries.Neighbourhood(cat, "country", "KOR").co_mentions("country")


def test_replace_and_delete_take_a_documents_counts_out(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    _doc(cat, "d1", ["a", "b"], [[KOR, UNDESA], [KOR]])
    _doc(cat, "d2", ["a"], [[KOR, UNDESA, BROADBAND]], year=2014)
    assert _consistent(cat)[2][("country", "KOR", "org", "undesa")] == 2
    _doc(cat, "d1", ["a", "b"], [[KAZ], [KAZ, UNDESA]], replace=True)  # re-tagged: KOR is gone from d1
    docs, names, pairs = _consistent(cat)
    assert ("country", "KOR", "d1") not in docs and pairs[("country", "KOR", "org", "undesa")] == 1
    assert pairs[("country", "KAZ", "org", "undesa")] == 1
    # put_document over an existing id replaces its counts too
    _doc(cat, "d2", ["a"], [[KAZ]], year=2014)
    docs, names, pairs = _consistent(cat)
    assert ("country", "KOR", "Korea") not in names and ("country", "KOR", "org", "undesa") not in pairs
    with cat.transaction():
        cat.delete_document("d1")
        cat.delete_document("d2")
    assert _consistent(cat) == ({}, {}, {})


def test_the_change_counter_catches_mentions_replaced_in_place(tmp_path):
    """Replacing a document's mentions by as many others reuses their rowids: the old page
    cache stamp (MAX(rowid), COUNT) did not change, so a page stayed stale."""
    cat = Catalog(tmp_path / "c.sqlite")
    _doc(cat, "d1", ["a"], [[KOR]])
    before, changes = queries.stamp(cat), cat.changes()
    rowids = [r[0] for r in cat.db.execute("SELECT rowid FROM mentions")]
    _doc(cat, "d1", ["a"], [[KAZ]], replace=True)
    assert [r[0] for r in cat.db.execute("SELECT rowid FROM mentions")] == rowids
    assert cat.changes() == changes + 1 and queries.stamp(cat) != before
    with cat.transaction():
        cat.put_person("p", "P", {})
    assert cat.changes() == changes + 2


def test_migration_from_schema_2_builds_the_summaries(tmp_path):
    path = tmp_path / "c.sqlite"
    cat = Catalog(path)
    _doc(cat, "d1", ["a", "b"], [[KOR, UNDESA], [KAZ, BROADBAND]])
    _doc(cat, "d2", ["a"], [[KOR, BROADBAND]], year=2015)
    want = summary.stored(cat.db)
    with cat.transaction():  # back to what a version-2 catalog holds
        for table in ("entity_docs", "entity_names", "entity_pairs"):
            cat.db.execute(f"DROP TABLE {table}")
        cat.db.execute("DROP INDEX mentions_doc")
        cat.db.execute("CREATE INDEX mentions_doc ON mentions(doc_id)")
        cat.db.execute("DROP TABLE saved_searches")  # version 4
        cat.db.execute("DROP INDEX documents_ingested")
        cat.db.execute("DROP TABLE passage_vectors")  # version 5
    cat.db.execute("PRAGMA user_version = 2")
    cat.close()
    cat = Catalog(path)
    assert cat.schema_version() == SCHEMA_VERSION == 5
    assert summary.stored(cat.db) == want == summary.compute(cat.db)
    cols = [r[2] for r in cat.db.execute("PRAGMA index_info(mentions_doc)")]
    assert cols == ["doc_id", "type", "entity_id", "passage_id", "start"]


def test_rebuild_repairs_summaries_and_counts_as_a_change(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    _doc(cat, "d1", ["a", "b"], [[KOR, UNDESA], [KAZ, BROADBAND]])
    want = summary.stored(cat.db)
    cat.db.execute("UPDATE entity_pairs SET passages = 99")
    changes = cat.changes()
    cat.rebuild_summaries()
    assert summary.stored(cat.db) == want and cat.changes() == changes + 1
