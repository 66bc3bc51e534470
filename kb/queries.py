"""What the pages read: entity co-mentions, documents and passages by entity, figures;
ranking, excerpts and a per-process cache keyed by the catalog's change stamp. The SQL is the
catalog's read model (kb.catalog_pages); nothing here runs SQL.

Counts come from the entity summaries (:mod:`kb.summary`: per entity and document, per
name, per pair of entities), which the catalog keeps up to date in the transaction that
writes the mentions. Grouping the mentions of a country in 12k of 100k passages on the first
visit cost about a second; the summaries answer in a few milliseconds.
"""
from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

from kb import summary
from kb.store import Catalog

_CACHE: dict[tuple, tuple[tuple, float, Any]] = {}
CACHE_TTL = 600.0  # seconds; a safety net behind the change stamp


def stamp(cat: Catalog) -> tuple:
    """Changes whenever documents, mentions, runs or curation change (Catalog.change_stamp):
    checking it costs far less than a whole-table GROUP BY."""
    return cat.change_stamp()


def cached(cat: Catalog, key: tuple, compute: Any) -> Any:
    """Whole-corpus aggregates (home page figures, the map) computed once per catalog change
    and process, not once per request."""
    import time

    full_key = (str(cat.path), *key)
    now = time.monotonic()
    current = stamp(cat)
    hit = _CACHE.get(full_key)
    if hit is not None and hit[0] == current and now - hit[1] < CACHE_TTL:
        return hit[2]
    value = compute()
    if len(_CACHE) > 256:
        _CACHE.clear()
    _CACHE[full_key] = (current, now, value)
    return value


def figures(cat: Catalog) -> dict[str, Any]:
    return cached(cat, ("figures",), lambda: _figures(cat))


def entity_counts(cat: Catalog, type_: str | None = None) -> list[dict[str, Any]]:
    """Catalog.entity_counts, cached per catalog change."""
    return cached(cat, ("entity_counts", type_), lambda: cat.entity_counts(type_))


def _figures(cat: Catalog) -> dict[str, Any]:
    raw = cat.corpus_figures()
    by_type, years = raw["entities"], raw["years"]
    return {
        "documents": raw["documents"],
        "passages": raw["passages"],
        "countries": by_type.get("country", 0),
        "regions": by_type.get("region", 0),
        "organisations": by_type.get("org", 0),
        "people": by_type.get("person", 0),
        "topics": by_type.get("topic", 0),
        "years": years,
    }


def entity_name(cat: Catalog, type_: str, entity_id: str) -> str | None:
    return cat.entity_name(type_, entity_id)


def entity_totals(cat: Catalog, type_: str, entity_id: str) -> dict[str, int]:
    return cat.entity_totals(type_, entity_id)


def mention_counts(cat: Catalog, type_: str) -> dict[str, int]:
    """entity id -> number of mentions, cached per catalog change."""
    return cached(cat, ("mention_counts", type_), lambda: cat.mention_counts(type_))


def top_entities(cat: Catalog, type_: str, limit: int = 24) -> list[dict[str, Any]]:
    """The most mentioned entities of a type (home page), from the index plus one name seek each."""
    counts = sorted(mention_counts(cat, type_).items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    names = names_for(cat, {(type_, i) for i, _ in counts})
    return [{"entity_id": i, "name": names.get((type_, i), i), "mentions": n} for i, n in counts]


def documents_for(cat: Catalog, type_: str, entity_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The documents mentioning the entity most (ties by title, then id)."""
    return cat.documents_for(type_, entity_id, limit)


def timeline(cat: Catalog, type_: str, entity_id: str) -> list[dict[str, Any]]:
    """Per document year: documents and passages mentioning the entity."""
    return cat.timeline(type_, entity_id)


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


class Neighbourhood:
    """What is tagged in the passages that mention one entity.

    Co-mention counts are read from the summaries (kb.summary.PAIR_TYPES says which type
    pairs are kept). The entity's passages are ranked newest document first, then title,
    document and position: the documents are ranked from the summary, and only as many are
    opened as the page shows passages from, a few at a time (FIRST_DOCS, doubling)."""

    FIRST_DOCS = 8

    def __init__(self, cat: Catalog, type_: str, entity_id: str) -> None:
        self.cat, self.type, self.id = cat, type_, entity_id
        self._counts: dict[str, list[dict[str, Any]]] | None = None
        self._docs: list[str] | None = None
        self._opened = 0  # how many of the ranked documents have been opened
        self._walked: list[str] = []  # their passages with the entity, in rank order

    @property
    def counts(self) -> dict[str, list[dict[str, Any]]]:
        """other type -> [{id, passages}] sorted by shared passages, then id."""
        if self._counts is None:
            self._counts = {}
            for t, eid, n in self.cat.entity_pairs(self.type, self.id):
                self._counts.setdefault(t, []).append({"id": eid, "passages": n})
            for rows in self._counts.values():
                rows.sort(key=lambda r: (-r["passages"], r["id"]))
        return self._counts

    def co_mentions(self, other: str, limit: int = 15) -> list[dict[str, Any]]:
        """Entities of type `other` in the same passages: id, name, passages (shared)."""
        if (self.type, other) not in summary.PAIR_TYPES:
            raise ValueError(f"co-mentions of a {self.type} with a {other} are not summarised "
                             "(kb.summary.PAIR_TYPES)")
        rows = self.counts.get(other, [])[:limit]
        names: dict[str, list[str]] = {}
        for eid, name in self.cat.entity_names(other, [r["id"] for r in rows]):
            names.setdefault(eid, []).append(name)
        return [{"id": r["id"], "passages": r["passages"],
                 "name": self._shared_name(other, r["id"], names.get(r["id"], []))} for r in rows]

    def _shared_name(self, other: str, other_id: str, names: list[str]) -> str | None:
        """The name the other entity has in the shared passages: the first, alphabetically
        (as MIN(name) sorted it), when the tagger stored it under several, as for people's
        names with and without accents. Only then are mentions read: each name but the last
        is tried in order until one occurs in a shared passage (the last needs no check: the
        pair shares a passage), reading from the side with fewer mentions."""
        names = sorted(names)  # code point order, as SQLite's BINARY order of UTF-8 text
        if len(names) <= 1:
            return names[0] if names else None
        mine = self.cat.entity_mention_total(self.type, self.id)
        theirs = self.cat.entity_mention_total(other, other_id)
        for name in names[:-1]:
            if self.cat.shares_a_passage_named(self.type, self.id, other, other_id, name, mine <= theirs):
                return name
        return names[-1]

    def ranked_docs(self) -> list[str]:
        """The entity's documents, newest first, then by title and id."""
        if self._docs is None:
            self._docs = self.cat.entity_documents_newest_first(self.type, self.id)
        return self._docs

    def _passages_in(self, docs: list[str], topic: str | None = None) -> list[str]:
        """The entity's passages in these documents (with `topic` too, if given), in the
        documents' order, then by position."""
        order = {d: i for i, d in enumerate(docs)}
        rows = self.cat.entity_passages_in(self.type, self.id, docs, topic)
        return [r[2] for r in sorted(rows, key=lambda r: (order[r[0]], r[1]))]

    def _open_more(self) -> bool:
        """Open the next few ranked documents; False when all are open."""
        docs = self.ranked_docs()
        if self._opened >= len(docs):
            return False
        step = max(self.FIRST_DOCS, self._opened)
        chunk = docs[self._opened:self._opened + step]
        self._opened += len(chunk)
        self._walked.extend(self._passages_in(chunk))
        return True

    def walk(self) -> Iterator[str]:
        """The entity's passage ids in rank order, opening documents as the caller goes on."""
        n = 0
        while n < len(self._walked) or self._open_more():
            while n < len(self._walked):
                yield self._walked[n]
                n += 1

    def _first_at(self, ids: list[str]) -> dict[str, int]:
        """passage id -> offset of the entity's first mention in it (for excerpts)."""
        return self.cat.first_mentions(self.type, self.id, ids)

    def fetch(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            first_at = self._first_at(chunk)
            for row in self.cat.passages_with_documents(chunk):
                row["excerpt"] = excerpt(row["text"], first_at.get(row["id"]))
                out[row["id"]] = row
        return out

    def passages(self, limit: int = 20) -> list[dict[str, Any]]:
        ids = list(islice(self.walk(), limit))
        rows = self.fetch(ids)
        return [rows[i] for i in ids if i in rows]

    def by_topic(self, per_topic: int = 5, topics: int = 12) -> list[dict[str, Any]]:
        """The "practices": the entity's passages grouped by the topics tagged in them, the
        first `per_topic` in rank order for each of the `topics` most shared topics. Each
        topic is looked for only in the documents that hold both it and the entity (the
        summary says which), in rank order, until it has its passages."""
        groups = self.co_mentions("topic", limit=topics) if self.type != "topic" else []
        need = {g["id"]: min(per_topic, g["passages"]) for g in groups}
        chosen: dict[str, list[str]] = {t: [] for t in need}
        shared: dict[str, list[str]] = {t: [] for t in need}
        if need:
            rank = {d: i for i, d in enumerate(self.ranked_docs())}
            for tid, doc in self.cat.topic_documents(list(need)):
                if doc in rank:
                    shared[tid].append(doc)
            for docs in shared.values():
                docs.sort(key=rank.__getitem__)
        for tid, docs in shared.items():
            start, step = 0, self.FIRST_DOCS
            while start < len(docs) and len(chosen[tid]) < need[tid]:
                found = self._passages_in(docs[start:start + step], topic=tid)
                chosen[tid].extend(found[:need[tid] - len(chosen[tid])])
                start, step = start + step, step * 2
        rows = self.fetch(sorted({pid for ids in chosen.values() for pid in ids}))
        for g in groups:
            g["items"] = [rows[pid] for pid in chosen[g["id"]] if pid in rows]
        return groups


def co_mentions(cat: Catalog, type_: str, entity_id: str, other_types: tuple[str, ...],
                limit: int = 15) -> dict[str, list[dict[str, Any]]]:
    """Entities found in the same passages, per type: id, name, passages (shared)."""
    n = Neighbourhood(cat, type_, entity_id)
    return {t: n.co_mentions(t, limit) for t in other_types}


def passages_for(cat: Catalog, type_: str, entity_id: str, limit: int = 20) -> list[dict[str, Any]]:
    return Neighbourhood(cat, type_, entity_id).passages(limit)


def passages_with_mentions(cat: Catalog, doc_id: str, first: int = 0,
                           last: int | None = None) -> list[dict[str, Any]]:
    """A document's passages with ordinal in [first, last], in order, each with its
    mentions sorted by offset."""
    hi = (1 << 62) if last is None else last
    passages = cat.passages_between(doc_id, first, hi)
    by_passage: dict[str, list[dict[str, Any]]] = {}
    for r in cat.mentions_between(doc_id, first, hi):
        by_passage.setdefault(r[0], []).append(
            {"type": r[1], "id": r[2], "name": r[3], "text": r[4], "start": r[5], "end": r[6]})
    for p in passages:
        p["mentions"] = by_passage.get(p["id"], [])
    return passages


def passage_count(cat: Catalog, doc_id: str) -> int:
    return cat.passage_count(doc_id)


def document_entities(cat: Catalog, doc_id: str, limit: int = 20) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in cat.document_entity_counts(doc_id):
        bucket = out.setdefault(r[0], [])
        if len(bucket) < limit:
            bucket.append({"id": r[1], "name": r[2], "mentions": r[3]})
    return out


def names_for(cat: Catalog, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(type, id) -> the name stored with its mentions: one index seek per id (MAX(name)
    over a frequent entity's mentions would read all of them)."""
    out: dict[tuple[str, str], str] = {}
    for t, i in pairs:
        name = cat.entity_name(t, i)
        if name is not None:
            out[(t, i)] = name
    return out
