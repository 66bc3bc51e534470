"""From matched passages to the hits a caller sees: result order, one page, Hit objects.

The engine (kb.search.whoosh.engine) gives every matching doc number and its score. Here they are
put in the requested order (relevance, newest first, title), optionally grouped so that no
document fills a page (a grouping, never a loss: every match is on exactly one page), the
requested page is taken, and each passage on it becomes a Hit built
from its stored fields, with a snippet marking the query's words. Kept apart from
kb.search.whoosh.backend, which opens, writes and caches the index: this is what a change to
how results are presented touches.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from whoosh import query as wq

from kb.search.paging import group_by_document, relevance_order, top_by_relevance
from kb.search.snippets import make_snippet, match_spans, passage_words
from kb.search.types import Hit
from kb.search.whoosh.columns import Columns, decode_heading_path, decode_list
from kb.search.whoosh.compile import expanded_terms
from kb.search.whoosh.schema import ENTITY_FIELDS, TEXT_FIELDS, text_field_for


def result_order(docs: np.ndarray, scores: np.ndarray, sort: str, cols: Columns) -> np.ndarray:
    """Indices into docs in result order."""
    if sort == "relevance":
        return relevance_order(docs, scores)
    key = cols.sort_key(sort)[docs]
    if sort in ("date", "added"):
        # Newest first; unknown dates last; then relevance.
        order = sorted(range(len(docs)), key=lambda i: (key[i] == "", _neg(key[i]), -scores[i], docs[i]))
    else:
        order = sorted(range(len(docs)), key=lambda i: (key[i] == "", key[i], docs[i]))
    return np.asarray(order, dtype=np.int64)


def page_of(docs: np.ndarray, scores: np.ndarray, sort: str, cols: Columns, offset: int,
            per_page: int, cap: int) -> tuple[list[int], int | None]:
    """The indices into docs on the page starting at `offset` (in the order of
    :func:`paging_order`), and the offset of the next page (None at the end). Every match is on
    exactly one page, so paging to the end yields len(docs) hits, whatever the page size."""
    n = len(docs)
    end = offset + per_page
    if n == 0 or offset >= n:
        return [], None
    if sort == "relevance" and cap == 0 and end < n:
        order = top_by_relevance(docs, scores, end)
    else:
        order = paging_order(docs, scores, sort, cols, cap)
    return [int(i) for i in order[offset:end]], (end if end < n else None)


def paging_order(docs: np.ndarray, scores: np.ndarray, sort: str, cols: Columns, cap: int) -> np.ndarray:
    """Indices into docs in the order pages are cut from: result order, then, with a
    per-document cap, grouped by each passage's rank within its document."""
    order = result_order(docs, scores, sort, cols)
    if cap <= 0:
        return order
    return group_by_document(order, cols.doc_key[docs[order]], cap)


def highlight_terms(q: wq.Query | None, searcher: Any) -> dict[str, set[str]]:
    """The words to mark in snippets, by text field: the query's terms, with prefixes,
    wildcards and fuzzy terms expanded to the indexed words they match."""
    if q is None:
        return {}
    out: dict[str, set[str]] = {}
    for field, text in expanded_terms(q, searcher.reader()):
        if field in TEXT_FIELDS:
            out.setdefault(field, set()).add(text.decode("utf-8") if isinstance(text, bytes) else text)
    return out


@dataclass(frozen=True)
class StoredPassage:
    """What a hit needs of one passage, decoded once per searcher: its stored fields, the
    text field (language) its snippet is analysed with and the distinct words of its text."""
    fields: dict[str, Any]
    text: str
    field: str
    heading_path: tuple[str, ...]
    entities: tuple[tuple[str, tuple[str, ...]], ...]
    words: frozenset[str] | None


class PassageCache:
    """Stored passages of one searcher by doc number. Reading a passage's stored fields
    (decompress, unpickle) and listing its words were a third of an uncached request; both
    depend only on the index build, and a searcher is one build (a commit makes a new
    searcher, and with it a new cache). Bounded: emptied when full."""

    def __init__(self, searcher: Any, schema: Any, max_passages: int = 50_000, words: bool = True) -> None:
        self.searcher = searcher
        self.schema = schema
        self.max_passages = max_passages  # 0: nothing kept (an export reads each match once)
        self.words = words  # False: no snippets will be marked (exports)
        self.items: dict[int, StoredPassage] = {}

    def get(self, docnum: int) -> StoredPassage:
        p = self.items.get(docnum)
        if p is None:
            f = self.searcher.stored_fields(docnum)
            text = f.get("body") or ""
            field = text_field_for(f.get("lang"))
            p = StoredPassage(
                fields=f, text=text, field=field, heading_path=tuple(decode_heading_path(f.get("heading_path"))),
                entities=tuple((k, tuple(decode_list(f.get(k)))) for k in ENTITY_FIELDS if f.get(k)),
                words=passage_words(text, self.schema[field].analyzer) if self.words else None)
            if self.max_passages:
                if len(self.items) >= self.max_passages:
                    self.items = {}
                self.items[docnum] = p
        return p


def make_hit(passages: PassageCache, docnum: int, score: float, terms: dict[str, set[str]]) -> Hit:
    """The Hit of one passage, from its stored fields; `terms` are marked in the snippet with
    the analyzer of the passage's language field. Lists are fresh per hit: callers own them."""
    p = passages.get(docnum)
    f, text = p.fields, p.text
    spans = match_spans(text, passages.schema[p.field].analyzer, terms.get(p.field, set()), p.words)
    return Hit(
        passage_id=f["id"], doc_id=f["doc_id"], ordinal=int(f.get("ordinal") or 0), title=f.get("title") or "",
        path=f.get("path") or "", source_id=f.get("source_id"), format=f.get("type") or "",
        page_start=f.get("page_start"), page_end=f.get("page_end"),
        heading_path=list(p.heading_path), text=text,
        snippet=make_snippet(text, spans), score=round(score, 4), year=f.get("year"), lang=f.get("lang"),
        entities={k: list(v) for k, v in p.entities}, added=f.get("added"))


def light_hit(passages: PassageCache, docnum: int, score: float) -> Hit:
    """A hit with its ids and score only (BackendQuery.light): no snippet, text or lists."""
    f = passages.get(docnum).fields
    return Hit(passage_id=f["id"], doc_id=f["doc_id"], ordinal=int(f.get("ordinal") or 0), title="", path="",
               source_id=None, format="", page_start=None, page_end=None, heading_path=[], text="", snippet="",
               score=round(score, 4))


def _neg(s: str) -> tuple[int, ...]:
    # Descending order on strings: compare negated code points.
    return tuple(-ord(c) for c in s)
