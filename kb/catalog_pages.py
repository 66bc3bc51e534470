"""The catalog's read model for the pages (a mixin of kb.store.Catalog): the SQL behind
entity pages, dossiers, the home page's figures and the document view. kb.queries decides
what a page shows (ranking, excerpts, caching); the statements live here.

Counts come from the entity summaries (kb.summary: per entity and document, per name, per
pair of entities); the mentions table is read only for the few passages a page shows.
Joins use CROSS JOIN, which makes SQLite keep the written order: left to itself (no ANALYZE
statistics) the planner put the larger table outside."""
from __future__ import annotations

import json
import sqlite3
from typing import Any


def _marks(items: Any) -> str:
    return ",".join("?" * len(items))


class PageReads:
    db: sqlite3.Connection  # the Catalog's

    def change_stamp(self) -> tuple:
        """Changes whenever documents, mentions, runs or curation change; O(1) queries only
        (MAX(rowid) is a b-tree edge). The change counter (Catalog.changes) catches what the
        rowids miss: mentions replaced by as many new ones, a document replaced in place."""
        return tuple(self.db.execute(
            "SELECT (SELECT MAX(rowid) FROM mentions), (SELECT MAX(rowid) FROM documents), "
            "(SELECT MAX(rowid) FROM passages), (SELECT MAX(id) FROM runs), (SELECT MAX(seq) FROM curation), "
            "(SELECT COUNT(*) FROM documents), (SELECT value FROM meta WHERE key = 'changes')").fetchone())

    def corpus_figures(self) -> dict[str, Any]:
        """Documents, passages, distinct entities per type and documents per year."""
        one = lambda sql: self.db.execute(sql).fetchone()[0]
        return {
            "documents": one("SELECT COUNT(*) FROM documents"),
            "passages": one("SELECT COUNT(*) FROM passages"),
            "entities": {r[0]: r[1] for r in self.db.execute(
                "SELECT type, COUNT(DISTINCT entity_id) FROM entity_names GROUP BY type")},
            "years": [(r[0], r[1]) for r in self.db.execute(
                "SELECT year, COUNT(*) FROM documents WHERE year IS NOT NULL GROUP BY year ORDER BY year")],
        }

    # -- one entity -----------------------------------------------------------
    def entity_name(self, type_: str, entity_id: str) -> str | None:
        """The name stored with the entity's mentions: one index seek (MAX(name) over a
        frequent entity's mentions would read all of them)."""
        row = self.db.execute("SELECT name FROM mentions WHERE type = ? AND entity_id = ? LIMIT 1",
                              (type_, entity_id)).fetchone()
        return row[0] if row else None

    def entity_names(self, type_: str, ids: list[str]) -> list[tuple[str, str]]:
        """(id, name) for every name the entities of `ids` were stored under."""
        if not ids:
            return []
        return [(r[0], r[1]) for r in self.db.execute(
            f"SELECT entity_id, name FROM entity_names WHERE type = ? AND entity_id IN ({_marks(ids)})",
            (type_, *ids))]

    def entity_totals(self, type_: str, entity_id: str) -> dict[str, int]:
        # a passage belongs to one document, so the per-document passage counts add up
        row = self.db.execute(
            "SELECT COALESCE(SUM(mentions), 0), COUNT(*), COALESCE(SUM(passages), 0) FROM entity_docs "
            "WHERE type = ? AND entity_id = ?", (type_, entity_id)).fetchone()
        return {"mentions": row[0], "documents": row[1], "passages": row[2]}

    def entity_mention_total(self, type_: str, entity_id: str) -> int:
        return int(self.db.execute("SELECT COALESCE(SUM(mentions), 0) FROM entity_names WHERE type = ? "
                                   "AND entity_id = ?", (type_, entity_id)).fetchone()[0])

    def mention_counts(self, type_: str) -> dict[str, int]:
        """entity id -> number of mentions, for every entity of a type."""
        return {r[0]: r[1] for r in self.db.execute(
            "SELECT entity_id, SUM(mentions) FROM entity_names WHERE type = ? GROUP BY entity_id", (type_,))}

    def documents_for(self, type_: str, entity_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The documents mentioning the entity most (ties by title, then id)."""
        return [dict(r) for r in self.db.execute(
            "SELECT d.id, d.title, d.year, d.format, d.page_count, e.mentions AS mentions "
            "FROM entity_docs e CROSS JOIN documents d ON d.id = e.doc_id "
            "WHERE e.type = ? AND e.entity_id = ? "
            "ORDER BY e.mentions DESC, d.title COLLATE NOCASE, d.id LIMIT ?", (type_, entity_id, limit))]

    def timeline(self, type_: str, entity_id: str) -> list[dict[str, Any]]:
        """Per document year: documents and passages mentioning the entity."""
        return [dict(r) for r in self.db.execute(
            "SELECT d.year AS year, COUNT(*) AS documents, SUM(e.passages) AS passages "
            "FROM entity_docs e CROSS JOIN documents d ON d.id = e.doc_id "
            "WHERE e.type = ? AND e.entity_id = ? AND d.year IS NOT NULL "
            "GROUP BY d.year ORDER BY d.year", (type_, entity_id))]

    def entity_pairs(self, type_: str, entity_id: str) -> list[tuple[str, str, int]]:
        """(other type, other id, shared passages) from the pair summaries."""
        return [(r[0], r[1], r[2]) for r in self.db.execute(
            "SELECT other_type, other_id, passages FROM entity_pairs WHERE type = ? AND entity_id = ?",
            (type_, entity_id))]

    def shares_a_passage_named(self, type_: str, entity_id: str, other: str, other_id: str, name: str,
                               from_this_side: bool) -> bool:
        """Whether `other_id` is named `name` in a passage that also mentions the entity,
        read from the entity's mentions (from_this_side) or the other's: the side with fewer.
        The other side is looked up by document, entity and passage in mentions_doc."""
        if from_this_side:
            sql = ("SELECT 1 FROM mentions e CROSS JOIN mentions o INDEXED BY mentions_doc "
                   "ON o.doc_id = e.doc_id AND o.type = ? AND o.entity_id = ? AND o.passage_id = e.passage_id "
                   "WHERE e.type = ? AND e.entity_id = ? AND o.name = ? LIMIT 1")
            args: tuple = (other, other_id, type_, entity_id, name)
        else:
            sql = ("SELECT 1 FROM mentions o WHERE o.type = ? AND o.entity_id = ? AND o.name = ? AND EXISTS "
                   "(SELECT 1 FROM mentions e INDEXED BY mentions_doc WHERE e.doc_id = o.doc_id AND e.type = ? "
                   "AND e.entity_id = ? AND e.passage_id = o.passage_id) LIMIT 1")
            args = (other, other_id, name, type_, entity_id)
        return self.db.execute(sql, args).fetchone() is not None

    def entity_documents_newest_first(self, type_: str, entity_id: str) -> list[str]:
        """The entity's documents, newest first, then by title and id."""
        return [r[0] for r in self.db.execute(
            "SELECT e.doc_id FROM entity_docs e CROSS JOIN documents d ON d.id = e.doc_id "
            "WHERE e.type = ? AND e.entity_id = ? ORDER BY d.year DESC, d.title COLLATE NOCASE, d.id",
            (type_, entity_id))]

    def entity_passages_in(self, type_: str, entity_id: str, docs: list[str],
                           topic: str | None = None) -> list[tuple[str, int, str]]:
        """(doc id, ordinal, passage id) of the entity's passages in these documents (with
        `topic` too, if given). mentions_doc (doc_id, type, entity_id, passage_id, start)
        finds them without reading the documents' other mentions."""
        sql = ("SELECT DISTINCT m.doc_id, p.ordinal, m.passage_id FROM mentions m INDEXED BY mentions_doc "
               + ("CROSS JOIN mentions o INDEXED BY mentions_doc ON o.doc_id = m.doc_id AND o.type = 'topic' "
                  "AND o.entity_id = ? AND o.passage_id = m.passage_id " if topic is not None else "")
               + "CROSS JOIN passages p ON p.id = m.passage_id "
               f"WHERE m.doc_id IN ({_marks(docs)}) AND m.type = ? AND m.entity_id = ?")
        args = (*([topic] if topic is not None else []), *docs, type_, entity_id)
        return [(r[0], r[1], r[2]) for r in self.db.execute(sql, args)]

    def first_mentions(self, type_: str, entity_id: str, passage_ids: list[str]) -> dict[str, int]:
        """passage id -> offset of the entity's first mention in it."""
        return {r[0]: r[1] for r in self.db.execute(
            f"SELECT passage_id, MIN(start) FROM mentions WHERE passage_id IN ({_marks(passage_ids)}) "
            "AND +type = ? AND +entity_id = ? GROUP BY passage_id", (*passage_ids, type_, entity_id))}

    def topic_documents(self, topic_ids: list[str]) -> list[tuple[str, str]]:
        """(topic id, doc id) for every document tagged with one of the topics."""
        return [(r[0], r[1]) for r in self.db.execute(
            f"SELECT entity_id, doc_id FROM entity_docs WHERE type = 'topic' AND entity_id IN ({_marks(topic_ids)})",
            list(topic_ids))]

    # -- passages and documents ---------------------------------------------------
    def passages_with_documents(self, passage_ids: list[str]) -> list[dict[str, Any]]:
        """The passages (heading path decoded) with their document's title, year and format."""
        rows = []
        for r in self.db.execute(
                "SELECT p.id, p.doc_id, p.ordinal, p.text, p.heading_path, p.page_start, p.page_end, "
                f"d.title, d.year, d.format FROM passages p JOIN documents d ON d.id = p.doc_id "
                f"WHERE p.id IN ({_marks(passage_ids)})", passage_ids):
            row = dict(r)
            row["heading_path"] = json.loads(row["heading_path"] or "[]")
            rows.append(row)
        return rows

    def passages_between(self, doc_id: str, first: int, last: int) -> list[dict[str, Any]]:
        """A document's passages with ordinal in [first, last], in order."""
        out = []
        for r in self.db.execute("SELECT * FROM passages WHERE doc_id = ? AND ordinal BETWEEN ? AND ? "
                                 "ORDER BY ordinal", (doc_id, first, last)):
            d = dict(r)
            d["heading_path"] = json.loads(d["heading_path"] or "[]")
            d["ocr"] = bool(d["ocr"])
            out.append(d)
        return out

    def mentions_between(self, doc_id: str, first: int, last: int) -> list[tuple]:
        """(passage id, type, entity id, name, text, start, end) of those passages' mentions,
        by offset (the longer first at one offset)."""
        return [tuple(r) for r in self.db.execute(
            "SELECT m.passage_id, m.type, m.entity_id, m.name, m.text, m.start, m.end "
            "FROM passages p CROSS JOIN mentions m ON m.passage_id = p.id "
            "WHERE p.doc_id = ? AND p.ordinal BETWEEN ? AND ? ORDER BY m.start, m.end DESC",
            (doc_id, first, last))]

    def passage_count(self, doc_id: str) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM passages WHERE doc_id = ?", (doc_id,)).fetchone()[0])

    def document_entity_counts(self, doc_id: str) -> list[tuple[str, str, str, int]]:
        """(type, id, name, mentions) of the entities a document mentions, most first."""
        return [(r[0], r[1], r[2], r[3]) for r in self.db.execute(
            "SELECT type, entity_id, MAX(name), COUNT(*) AS n FROM mentions WHERE doc_id = ? "
            "GROUP BY type, entity_id ORDER BY n DESC, entity_id", (doc_id,))]
