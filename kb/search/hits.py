"""From matched passages to the hits a caller sees: result order, one page, Hit objects.

The engine (kb.search.engine) gives every matching doc number and its score. Here they are
put in the requested order (relevance, newest first, title), the requested page is taken
after capping the passages shown per document, and each passage on it becomes a Hit built
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
    if sort in ("date", "added"):
        # Newest first; unknown dates last; then relevance.
        order = sorted(range(len(docs)), key=lambda i: (key[i] == "", _neg(key[i]), -scores[i], docs[i]))
    else:
        order = sorted(range(len(docs)), key=lambda i: (key[i] == "", key[i], docs[i]))
    return np.asarray(order, dtype=np.int64)


def page_of(docs: np.ndarray, scores: np.ndarray, sort: str, cols: Columns, offset: int,
            per_page: int, cap: int) -> tuple[list[int], int | None]:
    """Walk the ordered results applying the per-document cap; return the indices on the
    requested page and the offset of the next page (None at the end). Offsets count
    results after capping, so pages never overlap."""
    n = len(docs)
    if n == 0:
        return [], None
    want = offset + per_page
    k = min(n, max(want * 4, 64)) if sort == "relevance" and cap == 0 else n
    while True:
        if sort == "relevance" and k < n:
            part = np.argpartition(-scores, k - 1)[:k]
            order = part[np.lexsort((docs[part], -scores[part]))]
        else:
            order = result_order(docs, scores, sort, cols)
        picked: list[int] = []
        per_doc: dict[int, int] = {}
        pos = 0
        more = False
        for i in order:
            if cap:
                dk = int(cols.doc_key[docs[i]])
                c = per_doc.get(dk, 0)
                if c >= cap:
                    continue
                per_doc[dk] = c + 1
            if pos >= want:
                more = True
                break
            if pos >= offset:
                picked.append(int(i))
            pos += 1
        if more or k >= n:
            return picked, (want if more else None)
        k = min(n, k * 4)


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
        entities={k: decode_list(f.get(k)) for k in ENTITY_FIELDS if f.get(k)}, added=f.get("added"))


def _neg(s: str) -> tuple[int, ...]:
    # Descending order on strings: compare negated code points.
    return tuple(-ord(c) for c in s)
