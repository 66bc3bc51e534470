"""Hybrid ranking: BM25 fused with the passages' vectors, policy of the search service.

Which mode runs (`mode_for`): hybrid when asked (request `mode`, else the `search_mode`
setting), embeddings are on, every passage of the catalog has a vector of the current model,
the order is relevance and the query is plain words (a query with operators, quotes, fields
or wildcards says exactly what must match: it runs as bm25). Otherwise bm25, and the result
says why.

A hybrid page (`hybrid_page`), backend-neutral, in four backend queries:
1. BM25's top DEPTH under the request's filters (the service's own AND->OR retry);
2. the DENSE_K passages nearest the query vector (kb.embed.dense, exact dot products),
   kept only where they satisfy the same filters: the backend is asked for exactly those ids
   under the request's filters, so the dense side can never show a filtered-out passage;
3. fusion (kb.search.fusion); the fused list is the first positions of the result, BM25's
   further matches follow in BM25 order (each match once);
4. total and facets over the union (the query OR those dense ids, under the filters), and
   the page's hits (its ids, the query words optional so their snippets are marked).
Without filters step 2 asks the backend nothing: every passage passes.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Protocol

from kb.errors import InvalidInputError
from kb.search import fusion, language
from kb.search.querytree import AndMaybe, Or, ParsedQuery, Word
from kb.search.types import BackendPage, Hit, SearchRequest

# The search service (kb.search.service.SearchService) is passed in, not imported: it imports
# this module. Its _run, _backend_query, backend, settings, dense and fusion are used.
SearchService = Any

MODES = ("bm25", "hybrid")
# BM25 candidates fused (a page deeper than this is BM25's order) and nearest passages by
# vector offered to the fusion, on result pages. 50 each: a result page's share of a hybrid
# search's cost is mostly making these candidates' hits (bench hybrid); the batch path
# (kb search --batch, the relevance figures) fuses as deep as its limit.
DEPTH = 50
DENSE_K = 50


class Dense(Protocol):
    """What the service needs of the vectors (kb.embed.dense.DenseIndex)."""

    def state(self) -> Any: ...

    def cache_key(self) -> tuple[str, str]: ...

    def top(self, text: str, k: int) -> list[tuple[str, float]]: ...

    def scores(self, text: str, passage_ids: list[str]) -> dict[str, float]: ...

    def doc_of(self, passage_id: str) -> str: ...


def check_mode(mode: str | None) -> None:
    if mode not in (None, "", *MODES):
        raise InvalidInputError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")


def mode_for(service: SearchService, request: SearchRequest, q_text: str) -> tuple[str, str]:
    """(mode that runs, why it is not hybrid; '' when hybrid runs)."""
    asked = request.mode or str(service.settings.get("search_mode") or "hybrid")
    check_mode(asked)
    if asked == "bm25":
        return "bm25", "bm25 was asked for"
    dense = service.dense
    if dense is None:
        return "bm25", "embeddings are off (setting embeddings)"
    if request.sort != "relevance":
        return "bm25", f"hybrid ranks by relevance; this search is sorted by {request.sort}"
    if not q_text.strip():
        return "bm25", "no query words to embed"
    if not language.is_plain(q_text):
        return "bm25", "a query with operators, quotes, fields or wildcards runs as bm25"
    state = dense.state()
    if not state.ready:
        return "bm25", f"hybrid is not available yet: {state.reason}"
    return "hybrid", ""


def _ids_query(ids: list[str]) -> ParsedQuery:
    return ParsedQuery(Or(tuple(Word(p, field="id") for p in ids)), "or", "")


def ranked(service: SearchService, request: SearchRequest, q_text: str, depth: int,
           need_hits: bool = True) -> tuple[ParsedQuery, BackendPage, list[tuple[str, float]], dict[str, Hit], list[str]]:
    """The fused ranking: (parsed BM25 query, BM25 page, [(passage id, fused score)] best
    first, the hits at hand by id, the dense-only ids among the fused). Dense candidates are
    checked against the request's filters by the backend; without filters (and unless
    `need_hits`) that query is skipped: every passage passes, and a result page fetches its
    own hits anyway."""
    dense = service.dense
    assert dense is not None
    bq = service._backend_query(request, None, 0, depth)
    bq.facet_fields, bq.highlight, bq.max_per_document = (), False, 0
    parsed, bm25 = service._run(q_text, bq)
    near = dense.top(q_text, max(DENSE_K, depth))
    hits = {h.passage_id: h for h in bm25.hits}
    offered = [p for p, _s in near if p not in hits]
    if offered and (need_hits or request.filters or request.doc_id):
        fq = service._backend_query(request, _ids_query(offered), 0, len(offered))
        fq.facet_fields, fq.highlight, fq.max_per_document = (), False, 0
        fq.deadline = time.monotonic() + float(service.settings.get("query_time_budget", 2.0))
        for h in service.backend.search(fq).hits:
            hits[h.passage_id] = h
        allowed = [(p, s) for p, s in near if p in hits]
    else:
        allowed = near
    exact = dense.scores(q_text, list(dict.fromkeys([*hits, *(p for p, _s in allowed)])))
    bm25_list = [(h.passage_id, h.score) for h in bm25.hits]
    fused = fusion.fuse(bm25_list, allowed, exact, service.fusion)
    in_bm25 = {p for p, _s in bm25_list}
    return parsed, bm25, fused, hits, [p for p, _s in fused if p not in in_bm25]


def _group(items: list[tuple[str, float]], doc_of: Any, per_doc: int) -> list[tuple[str, float]]:
    """Each document's first N passages before any document's next N (the UI's grouping)."""
    if per_doc <= 0:
        return items
    seen: dict[str, int] = {}
    keyed = []
    for i, (p, s) in enumerate(items):
        d = doc_of(p)
        n = seen.get(d, 0)
        seen[d] = n + 1
        keyed.append((n // per_doc, i, p, s))
    return [(p, s) for _g, _i, p, s in sorted(keyed, key=lambda t: (t[0], t[1]))]


def hybrid_page(service: SearchService, request: SearchRequest, q_text: str, offset: int,
                per_page: int) -> BackendPage:
    parsed, bm25, fused, hits, dense_only = ranked(service, request, q_text, DEPTH, need_hits=False)
    fused = _group(fused, lambda p: hits[p].doc_id if p in hits else service.dense.doc_of(p),
                   0 if request.doc_id else int(request.max_per_document or 0))
    positions = len(fused) + max(0, bm25.total - DEPTH)
    chosen = fused[offset:offset + per_page]
    tail: list[Hit] = []
    if len(chosen) < per_page and offset + len(chosen) >= len(fused) and bm25.total > DEPTH:
        shown = {p for p, _s in fused}
        tail_from = DEPTH + max(0, offset - len(fused))
        tq = service._backend_query(request, parsed, tail_from, per_page - len(chosen))
        tq.facet_fields, tq.highlight = (), bool(request.highlight)
        tq.deadline = time.monotonic() + float(service.settings.get("query_time_budget", 2.0))
        tail = [h for h in service.backend.search(tq).hits if h.passage_id not in shown]
    # total and facets over the union of BM25's matches and the dense candidates shown
    root = parsed.root if not dense_only else (
        _ids_query(dense_only).root if parsed.root is None else Or((parsed.root, _ids_query(dense_only).root)))
    uq = service._backend_query(request, ParsedQuery(root, parsed.mode, parsed.text), 0, 1)
    uq.highlight, uq.max_per_document = False, 0
    uq.deadline = time.monotonic() + float(service.settings.get("query_time_budget", 2.0))
    union = service.backend.search(uq)
    page = _page_hits(service, request, parsed, chosen) + tail
    next_offset = offset + per_page if offset + per_page < positions else None
    return BackendPage(total=union.total, hits=page, facets=union.facets, next_offset=next_offset,
                       truncated=bm25.truncated or union.truncated)


def _page_hits(service: SearchService, request: SearchRequest, parsed: ParsedQuery,
               chosen: list[tuple[str, float]]) -> list[Hit]:
    """The page's hits in fused order with fused scores, fetched by id (snippets marked by
    the query words when asked); a passage the index no longer holds is left out."""
    if not chosen:
        return []
    ids = [p for p, _s in chosen]
    req = _ids_query(ids).root
    root = req if parsed.root is None or not request.highlight else AndMaybe(req, parsed.root)
    sq = service._backend_query(request, ParsedQuery(root, parsed.mode, parsed.text), 0, len(ids))
    sq.facet_fields, sq.max_per_document = (), 0
    sq.deadline = time.monotonic() + float(service.settings.get("query_time_budget", 2.0))
    found = {h.passage_id: h for h in service.backend.search(sq).hits}
    out = []
    for p, s in chosen:
        if p in found:
            found[p].score = round(float(s), 6)
            out.append(found[p])
    return out


def iter_ranked(service: SearchService, request: SearchRequest, q_text: str, limit: int) -> Iterator[Hit]:
    """The first `limit` hits in fused order (kb search --batch)."""
    # Never fewer candidates a side than a result page fuses: a top 10 fused from BM25's top
    # 10 and the vectors' top 50 would be another ranking than the page's.
    _parsed, _bm25, fused, hits, _dense_only = ranked(service, request, q_text, max(limit, DEPTH))
    for p, s in fused[:limit]:
        h = hits[p]
        h.score = float(s)
        yield h
