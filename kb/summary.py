"""Per-entity summaries kept beside the mentions: what the entity and country pages count.

Three tables, each a sum over documents, so adding or removing one document's mentions
updates them exactly without rescanning anything:

- ``entity_docs(type, entity_id, doc_id, mentions, passages)``: one row per entity and
  document (totals, documents list, timeline, the order passages are shown in);
- ``entity_names(type, entity_id, name, mentions)``: mentions per stored name (mention
  counts per entity, and which name a page shows when the tagger stored several);
- ``entity_pairs(type, entity_id, other_type, other_id, passages)``: passages holding both
  entities (the co-mention lists), only for the type pairs a page shows (PAIR_TYPES):
  country-country and person-person pairs alone were 60% of the work and no page lists them.

:class:`kb.store.Catalog` calls :func:`remove` and :func:`add` inside the transaction that
writes the mentions (put_document, replace_mentions, delete_document), so a reader sees the
summaries and the mentions change together. Computing them on the first page visit instead
cost about a second for a country in 12k of 100k passages.
"""
from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable

from kb.model import ENTITY_TYPES

# The co-mention lists the pages show: entity_page lists country, org, person and topic
# (not its own type, except organisations, which list related organisations); a country
# lists org, person and topic. Regions are listed by no page, but a region's own page (API)
# lists the four.
LISTED = ("country", "org", "person", "topic")
PAIR_TYPES: frozenset[tuple[str, str]] = frozenset(
    (t, o) for t in ENTITY_TYPES for o in LISTED if o != t or t == "org")

DDL = """
CREATE TABLE entity_docs (
    type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    mentions INTEGER NOT NULL,
    passages INTEGER NOT NULL,
    PRIMARY KEY (type, entity_id, doc_id)
) WITHOUT ROWID;
CREATE INDEX entity_docs_doc ON entity_docs(doc_id);
CREATE TABLE entity_names (
    type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    name TEXT NOT NULL,
    mentions INTEGER NOT NULL,
    PRIMARY KEY (type, entity_id, name)
) WITHOUT ROWID;
CREATE TABLE entity_pairs (
    type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    other_type TEXT NOT NULL,
    other_id TEXT NOT NULL,
    passages INTEGER NOT NULL,
    PRIMARY KEY (type, entity_id, other_type, other_id)
) WITHOUT ROWID;
"""

Row = tuple[str, str, str, str]  # passage id, type, entity id, name
Tally = tuple[dict[tuple[str, str], tuple[int, int]], Counter, Counter]


def tally(rows: Iterable[Row]) -> Tally:
    """One document's contribution: {(type, id): (mentions, passages)}, Counter of
    (type, id, name) -> mentions, Counter of (type, id, other type, other id) -> passages."""
    mentions: Counter = Counter()
    names: Counter = Counter()
    in_passage: dict[str, set[tuple[str, str]]] = {}
    for pid, type_, eid, name in rows:
        mentions[(type_, eid)] += 1
        names[(type_, eid, name)] += 1
        in_passage.setdefault(pid, set()).add((type_, eid))
    passages: Counter = Counter()
    pairs: Counter = Counter()
    for ents in in_passage.values():
        passages.update(ents)
        if len(ents) > 1:
            pairs.update((a[0], a[1], b[0], b[1]) for a in ents for b in ents
                         if a != b and (a[0], b[0]) in PAIR_TYPES)
    return {k: (n, passages[k]) for k, n in mentions.items()}, names, pairs


def _doc_rows(db: sqlite3.Connection, doc_id: str) -> list[Row]:
    return db.execute("SELECT passage_id, type, entity_id, name FROM mentions WHERE doc_id = ?",
                      (doc_id,)).fetchall()


def add(db: sqlite3.Connection, doc_id: str, rows: Iterable[Row]) -> None:
    """Count one document's mentions in (call after removing its previous ones)."""
    docs, names, pairs = tally(rows)
    db.executemany("INSERT INTO entity_docs (type, entity_id, doc_id, mentions, passages) VALUES (?, ?, ?, ?, ?)",
                   [(t, e, doc_id, n, p) for (t, e), (n, p) in docs.items()])
    db.executemany("INSERT INTO entity_names (type, entity_id, name, mentions) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT DO UPDATE SET mentions = mentions + excluded.mentions",
                   [(*k, n) for k, n in names.items()])
    db.executemany("INSERT INTO entity_pairs (type, entity_id, other_type, other_id, passages) "
                   "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET passages = passages + excluded.passages",
                   [(*k, n) for k, n in pairs.items()])


def remove(db: sqlite3.Connection, doc_id: str) -> None:
    """Take one document's mentions out (call before they are deleted or replaced)."""
    if db.execute("SELECT 1 FROM entity_docs WHERE doc_id = ? LIMIT 1", (doc_id,)).fetchone() is None:
        return  # a new document, or one without mentions: nothing was counted
    _, names, pairs = tally(_doc_rows(db, doc_id))
    db.execute("DELETE FROM entity_docs WHERE doc_id = ?", (doc_id,))
    db.executemany("UPDATE entity_names SET mentions = mentions - ? WHERE type = ? AND entity_id = ? AND name = ?",
                   [(n, *k) for k, n in names.items()])
    db.executemany("DELETE FROM entity_names WHERE type = ? AND entity_id = ? AND name = ? AND mentions <= 0",
                   list(names))
    db.executemany("UPDATE entity_pairs SET passages = passages - ? "
                   "WHERE type = ? AND entity_id = ? AND other_type = ? AND other_id = ?",
                   [(n, *k) for k, n in pairs.items()])
    db.executemany("DELETE FROM entity_pairs WHERE type = ? AND entity_id = ? AND other_type = ? AND other_id = ? "
                   "AND passages <= 0", list(pairs))


def compute(db: sqlite3.Connection) -> Tally:
    """The three summaries of the whole catalog, from the mentions alone (one document at a
    time, summed in memory: about 10 s at 1M mentions)."""
    docs: dict[tuple[str, str], tuple[int, int]] = {}
    names: Counter = Counter()
    pairs: Counter = Counter()
    for (doc_id,) in db.execute("SELECT id FROM documents").fetchall():
        d, n, p = tally(_doc_rows(db, doc_id))
        docs.update({(t, e, doc_id): v for (t, e), v in d.items()})
        names.update(n)
        pairs.update(p)
    return docs, names, pairs


def stored(db: sqlite3.Connection) -> Tally:
    """The summaries as the tables hold them, in compute()'s shape (for checks and tests)."""
    return ({(t, e, d): (n, p) for t, e, d, n, p in db.execute("SELECT * FROM entity_docs")},
            Counter({(t, e, name): n for t, e, name, n in db.execute("SELECT * FROM entity_names")}),
            Counter({(t, e, ot, o): n for t, e, ot, o, n in db.execute("SELECT * FROM entity_pairs")}))


def rebuild(db: sqlite3.Connection) -> None:
    """Replace the summaries with ones computed from the mentions (the schema migration that
    adds them, and `kb reindex`). The caller holds the transaction."""
    docs, names, pairs = compute(db)
    for table in ("entity_docs", "entity_names", "entity_pairs"):
        db.execute(f"DELETE FROM {table}")
    db.executemany("INSERT INTO entity_docs VALUES (?, ?, ?, ?, ?)", [(*k, *v) for k, v in docs.items()])
    db.executemany("INSERT INTO entity_names VALUES (?, ?, ?, ?)", [(*k, n) for k, n in names.items()])
    db.executemany("INSERT INTO entity_pairs VALUES (?, ?, ?, ?, ?)", [(*k, n) for k, n in pairs.items()])
