"""Read-only SQL for the pages: entity co-mentions, documents and passages by entity, figures.

Every query goes through the catalog's indexes on ``mentions(type, entity_id)``,
``mentions(passage_id)`` and ``passages(doc_id, ordinal)``, and every list is bounded by a
LIMIT, so a page costs a few milliseconds even at 100k passages.
"""
from __future__ import annotations

import json
from typing import Any

from kb.store import Catalog


def _rows(cat: Catalog, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    return [dict(r) for r in cat.db.execute(sql, params)]


def figures(cat: Catalog) -> dict[str, Any]:
    one = lambda sql: cat.db.execute(sql).fetchone()[0]
    by_type = {r[0]: r[1] for r in cat.db.execute(
        "SELECT type, COUNT(DISTINCT entity_id) FROM mentions GROUP BY type")}
    years = [(r[0], r[1]) for r in cat.db.execute(
        "SELECT year, COUNT(*) FROM documents WHERE year IS NOT NULL GROUP BY year ORDER BY year")]
    return {
        "documents": one("SELECT COUNT(*) FROM documents"),
        "passages": one("SELECT COUNT(*) FROM passages"),
        "countries": by_type.get("country", 0),
        "regions": by_type.get("region", 0),
        "organisations": by_type.get("org", 0),
        "people": by_type.get("person", 0),
        "topics": by_type.get("topic", 0),
        "years": years,
    }


def entity_name(cat: Catalog, type_: str, entity_id: str) -> str | None:
    row = cat.db.execute("SELECT name FROM mentions WHERE type = ? AND entity_id = ? LIMIT 1",
                         (type_, entity_id)).fetchone()
    return row[0] if row else None


def entity_totals(cat: Catalog, type_: str, entity_id: str) -> dict[str, int]:
    row = cat.db.execute(
        "SELECT COUNT(*), COUNT(DISTINCT doc_id), COUNT(DISTINCT passage_id) FROM mentions "
        "WHERE type = ? AND entity_id = ?", (type_, entity_id)).fetchone()
    return {"mentions": row[0], "documents": row[1], "passages": row[2]}


def mention_counts(cat: Catalog, type_: str) -> dict[str, int]:
    """entity id -> number of passages mentioning it."""
    return {r[0]: r[1] for r in cat.db.execute(
        "SELECT entity_id, COUNT(DISTINCT passage_id) FROM mentions WHERE type = ? GROUP BY entity_id",
        (type_,))}


def documents_for(cat: Catalog, type_: str, entity_id: str, limit: int = 50) -> list[dict[str, Any]]:
    return _rows(cat,
                 "SELECT d.id, d.title, d.year, d.format, d.page_count, COUNT(*) AS mentions "
                 "FROM mentions m JOIN documents d ON d.id = m.doc_id "
                 "WHERE m.type = ? AND m.entity_id = ? GROUP BY d.id "
                 "ORDER BY mentions DESC, d.title COLLATE NOCASE LIMIT ?", (type_, entity_id, limit))


def co_mentions(cat: Catalog, type_: str, entity_id: str, other_types: tuple[str, ...],
                limit: int = 15) -> dict[str, list[dict[str, Any]]]:
    """Entities found in the same passages, per type: id, name, passages (shared)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for other in other_types:
        out[other] = _rows(cat,
                           "SELECT o.entity_id AS id, MAX(o.name) AS name, COUNT(DISTINCT o.passage_id) AS passages "
                           "FROM mentions m JOIN mentions o ON o.passage_id = m.passage_id "
                           "WHERE m.type = ? AND m.entity_id = ? AND o.type = ? "
                           "AND NOT (o.type = m.type AND o.entity_id = m.entity_id) "
                           "GROUP BY o.entity_id ORDER BY passages DESC, o.entity_id LIMIT ?",
                           (type_, entity_id, other, limit))
    return out


def timeline(cat: Catalog, type_: str, entity_id: str) -> list[dict[str, Any]]:
    """Per document year: documents and passages mentioning the entity."""
    return _rows(cat,
                 "SELECT d.year AS year, COUNT(DISTINCT d.id) AS documents, "
                 "COUNT(DISTINCT m.passage_id) AS passages "
                 "FROM mentions m JOIN documents d ON d.id = m.doc_id "
                 "WHERE m.type = ? AND m.entity_id = ? AND d.year IS NOT NULL "
                 "GROUP BY d.year ORDER BY d.year", (type_, entity_id))


# Where the entity first occurs in the passage, so a page can show the text around it.
_AT = ("(SELECT MIN(a.start) FROM mentions a WHERE a.passage_id = p.id AND a.type = ? "
       "AND a.entity_id = ?) AS at")


def excerpt(text: str, at: int | None, before: int = 160, after: int = 300) -> str:
    """The text around offset `at`, cut at word boundaries, with ellipses where cut."""
    if at is None or len(text) <= before + after:
        return text if len(text) <= before + after else text[:before + after].rsplit(" ", 1)[0] + " …"
    start = max(0, at - before)
    end = min(len(text), at + after)
    if start > 0:
        space = text.find(" ", start, at)
        start = space + 1 if space != -1 else start
    if end < len(text):
        space = text.rfind(" ", at, end)
        end = space if space != -1 else end
    return ("… " if start > 0 else "") + text[start:end] + (" …" if end < len(text) else "")


def _finish(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for r in rows:
        r["heading_path"] = json.loads(r["heading_path"] or "[]")
        r["excerpt"] = excerpt(r["text"], r.pop("at", None))
    return rows


def passages_for(cat: Catalog, type_: str, entity_id: str, limit: int = 20) -> list[dict[str, Any]]:
    return _finish(_rows(cat,
                         "SELECT p.id, p.doc_id, p.ordinal, p.text, p.heading_path, p.page_start, p.page_end, "
                         f"d.title, d.year, d.format, {_AT} FROM passages p JOIN documents d ON d.id = p.doc_id "
                         "WHERE p.id IN (SELECT DISTINCT passage_id FROM mentions WHERE type = ? AND entity_id = ?) "
                         "ORDER BY d.year DESC, d.title COLLATE NOCASE, p.ordinal LIMIT ?",
                         (type_, entity_id, type_, entity_id, limit)))


def passages_by_topic(cat: Catalog, type_: str, entity_id: str, per_topic: int = 5,
                      topics: int = 12) -> list[dict[str, Any]]:
    """The entity's passages grouped by the topics tagged in them (the "practices")."""
    groups = _rows(cat,
                   "SELECT t.entity_id AS id, MAX(t.name) AS name, COUNT(DISTINCT t.passage_id) AS passages "
                   "FROM mentions m JOIN mentions t ON t.passage_id = m.passage_id AND t.type = 'topic' "
                   "WHERE m.type = ? AND m.entity_id = ? GROUP BY t.entity_id "
                   "ORDER BY passages DESC, t.entity_id LIMIT ?", (type_, entity_id, topics))
    for g in groups:
        rows = _rows(cat,
                     "SELECT p.id, p.doc_id, p.ordinal, p.text, p.heading_path, p.page_start, p.page_end, "
                     f"d.title, d.year, d.format, {_AT} FROM passages p JOIN documents d ON d.id = p.doc_id "
                     "WHERE p.id IN (SELECT m.passage_id FROM mentions m JOIN mentions t "
                     "ON t.passage_id = m.passage_id AND t.type = 'topic' AND t.entity_id = ? "
                     "WHERE m.type = ? AND m.entity_id = ?) "
                     "ORDER BY d.year DESC, d.title COLLATE NOCASE, p.ordinal LIMIT ?",
                     (type_, entity_id, g["id"], type_, entity_id, per_topic))
        g["items"] = _finish(rows)
    return groups


def passages_with_mentions(cat: Catalog, doc_id: str) -> list[dict[str, Any]]:
    """A document's passages in order, each with its mentions sorted by offset."""
    passages = cat.passages(doc_id)
    by_passage: dict[str, list[dict[str, Any]]] = {}
    for r in cat.db.execute("SELECT passage_id, type, entity_id, name, text, start, end FROM mentions "
                            "WHERE doc_id = ? ORDER BY passage_id, start, end DESC", (doc_id,)):
        by_passage.setdefault(r[0], []).append(
            {"type": r[1], "id": r[2], "name": r[3], "text": r[4], "start": r[5], "end": r[6]})
    for p in passages:
        p["mentions"] = by_passage.get(p["id"], [])
    return passages


def document_entities(cat: Catalog, doc_id: str, limit: int = 20) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in cat.db.execute(
            "SELECT type, entity_id, MAX(name), COUNT(*) AS n FROM mentions WHERE doc_id = ? "
            "GROUP BY type, entity_id ORDER BY n DESC, entity_id", (doc_id,)):
        bucket = out.setdefault(r[0], [])
        if len(bucket) < limit:
            bucket.append({"id": r[1], "name": r[2], "mentions": r[3]})
    return out


def names_for(cat: Catalog, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(type, id) -> canonical name as stored with the mentions, in one query per type."""
    out: dict[tuple[str, str], str] = {}
    by_type: dict[str, list[str]] = {}
    for t, i in pairs:
        by_type.setdefault(t, []).append(i)
    for t, ids in by_type.items():
        for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            marks = ",".join("?" * len(chunk))
            for r in cat.db.execute(f"SELECT entity_id, MAX(name) FROM mentions WHERE type = ? "
                                    f"AND entity_id IN ({marks}) GROUP BY entity_id", (t, *chunk)):
                out[(t, r[0])] = r[1]
    return out
