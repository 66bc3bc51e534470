"""Hybrid ranking: BM25 fused with the passages' vectors, policy of the search service.

Which mode runs (`mode_for`): hybrid when asked (request `mode`, else the `search_mode`
setting), embeddings are on, every passage of the catalog has a vector of the current model,
the order is relevance and the query is plain words (a query with operators, quotes, fields
or wildcards says exactly what must match: it runs as bm25). Otherwise bm25, and the result
says why.

A hybrid page (`hybrid_page`), backend-neutral, in two backend queries (bm25 makes one):
1. the DENSE_K passages nearest the query vector (kb.embed.dense; no backend query);
2. one backend query: BM25's top DEPTH under the request's filters (the service's own
   AND->OR retry), with the dense candidates as its union ids (BackendQuery.union_ids): the
   backend says which of them pass the same filters, so the dense side can never show a
   filtered-out passage, and counts the total and facets over the union (BM25's matches
   and those candidates);
3. fusion (kb.search.fusion); the fused list is the first positions of the result, BM25's
   further matches follow in BM25 order (each match once);
4. the page's hits by id, the query's words marked in their snippets (BackendQuery.mark:
   marked, not evaluated): the second backend query; a third only on a page past the fused
   positions (BM25's tail).
"""
from __future__ import annotations

from typing import Any, Protocol

from kb.errors import InvalidInputError
from kb.search import fusion, language
from kb.search.querytree import Or, ParsedQuery, Word
from kb.search.types import BackendPage, Hit, SearchRequest

# The search service (kb.search.service.SearchService) is passed in, not imported: it imports
# this module. Its _run, _backend_query, deadline, backend, settings and fusion are used.
SearchService = Any

MODES = ("bm25", "hybrid")
# BM25 candidates fused (a page deeper than this is BM25's order) and nearest passages by
# vector offered to the fusion, on result pages. 50 each: a result page's share of a hybrid
# search's cost is mostly making these candidates' hits (bench hybrid); the batch path
# (kb search --batch, the relevance figures) fuses as deep as its limit.
DEPTH = 50
DENSE_K = 50


class DenseView(Protocol):
    """One search's look at the vectors (kb.embed.dense.DenseView), taken once a request."""

    state: Any
    key: tuple[str, str]

    def top(self, text: str, k: int) -> list[tuple[str, float]]: ...

    def scores(self, text: str, passage_ids: list[str]) -> dict[str, float]: ...

    def doc_of(self, passage_id: str) -> str: ...


class Dense(Protocol):
    """What the service needs of the vectors (kb.embed.dense.DenseIndex)."""

    def view(self) -> DenseView: ...


def check_mode(mode: str | None) -> None:
    if mode not in (None, "", *MODES):
        raise InvalidInputError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")


def mode_for(service: SearchService, request: SearchRequest, q_text: str,
             view: DenseView | None) -> tuple[str, str]:
    """(mode that runs, why it is not hybrid; '' when hybrid runs). view: the request's look
    at the vectors (None: embeddings are off)."""
    asked = request.mode or str(service.settings.get("search_mode") or "hybrid")
    check_mode(asked)
    if asked == "bm25":
        return "bm25", "bm25 was asked for"
    if view is None:
        return "bm25", "embeddings are off (setting embeddings)"
    if request.sort != "relevance":
        return "bm25", f"hybrid ranks by relevance; this search is sorted by {request.sort}"
    if not q_text.strip():
        return "bm25", "no query words to embed"
    if not language.is_plain(q_text):
        return "bm25", "a query with operators, quotes, fields or wildcards runs as bm25"
    if not view.state.ready:
        return "bm25", f"hybrid is not available yet: {view.state.reason}"
    return "hybrid", ""


def _ids_query(ids: list[str]) -> ParsedQuery:
    return ParsedQuery(Or(tuple(Word(p, field="id") for p in ids)), "or", "")


def ranked(service: SearchService, view: DenseView, request: SearchRequest, q_text: str, depth: int,
           facets: bool = False, light: bool = False) -> tuple[ParsedQuery, BackendPage, list[tuple[str, float]]]:
    """The fused ranking from one backend query: (the parsed BM25 query; its page: BM25's top
    `depth` hits - ids and scores only when `light` -, union_total and, with `facets`, the
    union's facets; [(passage id, fused score)] best first). Dense candidates the backend
    does not find under the request's filters are left out."""
    near = view.top(q_text, max(DENSE_K, depth))
    bq = service._backend_query(request, None, 0, depth)
    bq.highlight, bq.max_per_document, bq.light = False, 0, light
    if not facets:
        bq.facet_fields = ()
    bq.union_ids = tuple(p for p, _s in near)
    parsed, bm25 = service._run(q_text, bq)
    found = set(bm25.union_found)
    allowed = [(p, s) for p, s in near if p in found]
    bm25_list = [(h.passage_id, h.score) for h in bm25.hits]
    exact = view.scores(q_text, list(dict.fromkeys([*(p for p, _s in bm25_list), *(p for p, _s in allowed)])))
    return parsed, bm25, fusion.fuse(bm25_list, allowed, exact, service.fusion)


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


def hybrid_page(service: SearchService, view: DenseView, request: SearchRequest, q_text: str, offset: int,
                per_page: int) -> BackendPage:
    # The candidates as ids and scores: the page's own hits are fetched whole below.
    parsed, bm25, fused = ranked(service, view, request, q_text, DEPTH, facets=True, light=True)
    hits = {h.passage_id: h for h in bm25.hits}
    fused = _group(fused, lambda p: hits[p].doc_id if p in hits else view.doc_of(p),
                   0 if request.doc_id else int(request.max_per_document or 0))
    positions = len(fused) + max(0, bm25.total - DEPTH)
    chosen = fused[offset:offset + per_page]
    tail: list[Hit] = []
    if len(chosen) < per_page and offset + len(chosen) >= len(fused) and bm25.total > DEPTH:
        shown = {p for p, _s in fused}
        tail_from = DEPTH + max(0, offset - len(fused))
        tq = service._backend_query(request, parsed, tail_from, per_page - len(chosen))
        tq.facet_fields, tq.highlight = (), bool(request.highlight)
        tq.deadline = service.deadline()
        tail = [h for h in service.backend.search(tq).hits if h.passage_id not in shown]
    found = _by_ids(service, request, parsed, [p for p, _s in chosen], bool(request.highlight))
    page = []
    for p, s in chosen:
        if p in found:  # a passage the index no longer holds is left out
            found[p].score = round(float(s), 6)
            page.append(found[p])
    next_offset = offset + per_page if offset + per_page < positions else None
    total = bm25.union_total if bm25.union_total is not None else bm25.total
    return BackendPage(total=total, hits=page + tail, facets=bm25.facets, next_offset=next_offset,
                       truncated=bm25.truncated)


def _by_ids(service: SearchService, request: SearchRequest, parsed: ParsedQuery, ids: list[str],
            highlight: bool) -> dict[str, Hit]:
    """These passages' hits under the request's filters, by id (snippets marked by the
    query words when `highlight`)."""
    if not ids:
        return {}
    sq = service._backend_query(request, _ids_query(ids), 0, len(ids))
    sq.facet_fields, sq.max_per_document, sq.highlight = (), 0, highlight
    sq.mark = parsed if highlight and parsed.root is not None else None
    sq.deadline = service.deadline()
    return {h.passage_id: h for h in service.backend.search(sq).hits}


def fused_hits(service: SearchService, view: DenseView, request: SearchRequest, q_text: str,
               limit: int) -> list[Hit]:
    """The first `limit` hits in fused order (kb search --batch)."""
    # Never fewer candidates a side than a result page fuses: a top 10 fused from BM25's top
    # 10 and the vectors' top 50 would be another ranking than the page's.
    parsed, bm25, fused = ranked(service, view, request, q_text, max(limit, DEPTH))
    hits = {h.passage_id: h for h in bm25.hits}
    top = fused[:limit]
    hits.update(_by_ids(service, request, parsed, [p for p, _s in top if p not in hits], False))
    out = []
    for p, s in top:
        if p in hits:
            h = hits[p]
            h.score = float(s)
            out.append(h)
    return out
