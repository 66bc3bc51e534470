"""The page queries as they were before the entity summaries (kb.summary): every figure
grouped from the mentions table on request. Kept as the reference the summary-driven pages
must match; `legacy()` swaps them into kb.queries and kb.store for the length of a block.

One change from the originals: documents_for breaks ties of count and title by document
id, as the new query does (the old order among such ties was whatever SQLite produced).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from kb import queries
from kb.store import Catalog

_PS = "WITH ps AS (SELECT DISTINCT passage_id FROM mentions WHERE type = ? AND entity_id = ?) "


class LegacyNeighbourhood(queries.Neighbourhood):
    """Co-mentions from one grouped query over the entity's passages; all of its passages
    ranked at once; excerpts and the passage rows are built by the inherited fetch()."""

    def __init__(self, cat: Catalog, type_: str, entity_id: str) -> None:
        super().__init__(cat, type_, entity_id)
        self.old_counts: dict[str, list[dict[str, Any]]] = {}
        for t, eid, name, n in cat.db.execute(
                _PS + "SELECT o.type, o.entity_id, MIN(o.name), COUNT(DISTINCT o.passage_id) "
                "FROM ps CROSS JOIN mentions o ON o.passage_id = ps.passage_id "
                "GROUP BY o.type, o.entity_id", (type_, entity_id)):
            if (t, eid) != (type_, entity_id):
                self.old_counts.setdefault(t, []).append({"id": eid, "name": name, "passages": n})
        for rows in self.old_counts.values():
            rows.sort(key=lambda r: (-r["passages"], r["id"]))
        self._old_first_at = {r[0]: r[1] for r in cat.db.execute(
            "SELECT passage_id, MIN(start) FROM mentions WHERE type = ? AND entity_id = ? "
            "GROUP BY passage_id", (type_, entity_id))}
        self._rank = [r[0] for r in cat.db.execute(
            _PS + "SELECT p.id FROM ps CROSS JOIN passages p ON p.id = ps.passage_id "
            "JOIN documents d ON d.id = p.doc_id "
            "ORDER BY d.year DESC, d.title COLLATE NOCASE, p.doc_id, p.ordinal", (type_, entity_id))]

    def co_mentions(self, other: str, limit: int = 15) -> list[dict[str, Any]]:
        return [dict(r) for r in self.old_counts.get(other, [])[:limit]]

    def _first_at(self, ids: list[str]) -> dict[str, int]:
        return self._old_first_at

    def walk(self) -> Iterator[str]:
        yield from self._rank

    def by_topic(self, per_topic: int = 5, topics: int = 12) -> list[dict[str, Any]]:
        groups = self.co_mentions("topic", limit=topics) if self.type != "topic" else []
        wanted = {g["id"] for g in groups}
        chosen: dict[str, list[str]] = {t: [] for t in wanted}
        in_topic: dict[str, set[str]] = {}
        if wanted:
            for pid, tid in self.cat.db.execute(
                    _PS + "SELECT DISTINCT o.passage_id, o.entity_id FROM ps CROSS JOIN mentions o "
                    "ON o.passage_id = ps.passage_id WHERE +o.type = 'topic'", (self.type, self.id)):
                if tid in wanted:
                    in_topic.setdefault(pid, set()).add(tid)
        for pid in self._rank:
            for tid in in_topic.get(pid, ()):
                if len(chosen[tid]) < per_topic:
                    chosen[tid].append(pid)
        rows = self.fetch(sorted({pid for ids in chosen.values() for pid in ids}))
        for g in groups:
            g["items"] = [rows[pid] for pid in chosen[g["id"]] if pid in rows]
        return groups


def entity_totals(cat: Catalog, type_: str, entity_id: str) -> dict[str, int]:
    row = cat.db.execute(
        "SELECT COUNT(*), COUNT(DISTINCT doc_id), COUNT(DISTINCT passage_id) FROM mentions "
        "WHERE type = ? AND entity_id = ?", (type_, entity_id)).fetchone()
    return {"mentions": row[0], "documents": row[1], "passages": row[2]}


def mention_counts(cat: Catalog, type_: str) -> dict[str, int]:
    return {r[0]: r[1] for r in cat.db.execute(
        "SELECT entity_id, COUNT(*) FROM mentions WHERE type = ? GROUP BY entity_id", (type_,))}


def documents_for(cat: Catalog, type_: str, entity_id: str, limit: int = 50) -> list[dict[str, Any]]:
    return [dict(r) for r in cat.db.execute(
        "SELECT d.id, d.title, d.year, d.format, d.page_count, COUNT(*) AS mentions "
        "FROM mentions m JOIN documents d ON d.id = m.doc_id "
        "WHERE m.type = ? AND m.entity_id = ? GROUP BY d.id "
        "ORDER BY mentions DESC, d.title COLLATE NOCASE, d.id LIMIT ?", (type_, entity_id, limit))]


def timeline(cat: Catalog, type_: str, entity_id: str) -> list[dict[str, Any]]:
    return [dict(r) for r in cat.db.execute(
        "SELECT d.year AS year, COUNT(DISTINCT d.id) AS documents, COUNT(DISTINCT m.passage_id) AS passages "
        "FROM mentions m JOIN documents d ON d.id = m.doc_id "
        "WHERE m.type = ? AND m.entity_id = ? AND d.year IS NOT NULL "
        "GROUP BY d.year ORDER BY d.year", (type_, entity_id))]


def entity_counts(cat: Catalog, type_: str | None = None) -> list[dict[str, Any]]:
    sql = ("SELECT type, entity_id, MAX(name) AS name, COUNT(*) AS mentions, COUNT(DISTINCT doc_id) AS documents "
           "FROM mentions {} GROUP BY type, entity_id ORDER BY mentions DESC, entity_id")
    rows = cat.db.execute(sql.format("WHERE type = ?"), (type_,)) if type_ else cat.db.execute(sql.format(""))
    return [dict(r) for r in rows]


def entity_types(cat: Catalog) -> dict[str, int]:
    return {r[0]: r[1] for r in cat.db.execute("SELECT type, COUNT(DISTINCT entity_id) FROM mentions GROUP BY type")}


@contextmanager
def legacy() -> Iterator[None]:
    """kb.queries and Catalog.entity_counts as they were, for the length of the block
    (the page cache is emptied on the way in and out)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(queries, "Neighbourhood", LegacyNeighbourhood)
        for fn in (entity_totals, mention_counts, documents_for, timeline):
            mp.setattr(queries, fn.__name__, fn)
        mp.setattr(Catalog, "entity_counts", entity_counts)
        queries._CACHE.clear()
        try:
            yield
        finally:
            queries._CACHE.clear()
