"""From matched passages to the hits a caller sees: result order, one page, Hit objects.

The engine (kb.search.engine) gives every matching doc number and its score. Here they are
put in the requested order (relevance, newest first, title), optionally grouped so that no
document fills a page (a grouping, never a loss: every match is on exactly one page), the
requested page is taken, and each passage on it becomes a Hit built
from its stored fields, with a snippet marking the query's words. Kept apart from
kb.search.whoosh_backend, which opens, writes and caches the index: this is what a change to
how results are presented touches.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from whoosh import query as wq

from kb.search import query as qmod
from kb.search.facets import Columns, decode_heading_path, decode_list
from kb.search.schema import ENTITY_FIELDS, TEXT_FIELDS, text_field_for
from kb.search.snippets import make_snippet, match_spans
from kb.search.types import Hit


def result_order(docs: np.ndarray, scores: np.ndarray, sort: str, cols: Columns) -> np.ndarray:
    """Indices into docs in result order."""
    if sort == "relevance":
        return np.lexsort((docs, -scores))
    key = cols.sort_key(sort)[docs]
    if sort == "date":
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


def top_by_relevance(docs: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """The first k of result_order(..., "relevance") without sorting every match. Every match
    scoring at least the k-th best score is kept before sorting: a tie across the cut (all
    zeros for a filter-only search) is then broken by doc number as in the full order, so
    consecutive pages neither overlap nor skip."""
    kth = np.partition(scores, len(scores) - k)[len(scores) - k]
    cand = np.flatnonzero(scores >= kth)
    return cand[np.lexsort((docs[cand], -scores[cand]))][:k]


def paging_order(docs: np.ndarray, scores: np.ndarray, sort: str, cols: Columns, cap: int) -> np.ndarray:
    """Indices into docs in the order pages are cut from: result order, then, with a
    per-document cap, grouped by each passage's rank within its document."""
    order = result_order(docs, scores, sort, cols)
    if cap <= 0:
        return order
    return group_by_document(order, cols.doc_key[docs[order]], cap)


def group_by_document(order: np.ndarray, doc_keys: np.ndarray, cap: int) -> np.ndarray:
    """Reorder `order` (doc_keys: its passages' document keys) so that every document's first
    `cap` passages come first, then every document's next `cap`, and so on, each group in the
    original order. Nothing is dropped: a document's further passages move to later pages
    (the UI's first page shows many documents; an API client paging on still gets them all)."""
    n = len(order)
    if n == 0 or cap <= 0:
        return order
    # Narrow dtypes make numpy's stable sorts faster (int16: a radix sort): ~2x at 100k matches.
    keys = doc_keys.astype(np.int32) if doc_keys.max() < 2**31 and doc_keys.min() >= -(2**31) else doc_keys
    by_doc = np.argsort(keys, kind="stable")  # each document's passages, in result order
    sorted_keys = keys[by_doc]
    first = np.ones(n, dtype=bool)
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    run_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    rank = np.empty(n, dtype=np.int64)
    rank[by_doc] = np.arange(n) - run_start
    tier = rank // cap
    if tier.max() < 2**15:
        tier = tier.astype(np.int16)
    return order[np.argsort(tier, kind="stable")]


def highlight_terms(q: wq.Query | None, searcher: Any) -> dict[str, set[str]]:
    """The words to mark in snippets, by text field: the query's terms, with prefixes,
    wildcards and fuzzy terms expanded to the indexed words they match."""
    if q is None:
        return {}
    out: dict[str, set[str]] = {}
    for field, text in qmod.expanded_terms(q, searcher.reader()):
        if field in TEXT_FIELDS:
            out.setdefault(field, set()).add(text.decode("utf-8") if isinstance(text, bytes) else text)
    return out


def make_hit(searcher: Any, schema: Any, docnum: int, score: float, terms: dict[str, set[str]]) -> Hit:
    """The Hit of one passage, from its stored fields; `terms` are marked in the snippet with
    the analyzer of the passage's language field in `schema`."""
    f = searcher.stored_fields(docnum)
    text = f.get("body") or ""
    field = text_field_for(f.get("lang"))
    spans = match_spans(text, schema[field].analyzer, terms.get(field, set()))
    return Hit(
        passage_id=f["id"], doc_id=f["doc_id"], ordinal=int(f.get("ordinal") or 0), title=f.get("title") or "",
        path=f.get("path") or "", source_id=f.get("source_id"), format=f.get("type") or "",
        page_start=f.get("page_start"), page_end=f.get("page_end"),
        heading_path=decode_heading_path(f.get("heading_path")), text=text,
        snippet=make_snippet(text, spans), score=round(score, 4), year=f.get("year"), lang=f.get("lang"),
        entities={k: decode_list(f.get(k)) for k in ENTITY_FIELDS if f.get(k)})


def _neg(s: str) -> tuple[int, ...]:
    # Descending order on strings: compare negated code points.
    return tuple(-ord(c) for c in s)
