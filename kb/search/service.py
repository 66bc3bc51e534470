"""The search service: the policy of kb's search, once, for every backend.

A request is checked (sort, page, page size, query length), its misspelt words corrected
(kb.search.spelling, with the backend's vocabulary), parsed into the neutral query tree
(kb.search.language, names of entities resolved), and handed to the backend
(kb.search.types.SearchBackend) with a deadline (the time budget) and the per-document cap.
A short keyword query that finds fewer than AND_FALLBACK_BELOW passages is run again with
any word allowed; a search that finds little gets a did-you-mean. Cursors bind an offset to
a hash of the query, and results are cached per index build and per `state` (the curation
version: an alias changes what a query resolves to without any index commit).

The CLI, the API, the UI, exports and benchmarks all search through this object; writes
and figures pass straight to the backend.
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from kb.errors import InvalidInputError
from kb.search import fusion, hybrid, language, spelling
from kb.search.cursor import decode_cursor, encode_cursor
from kb.search.querytree import ParsedQuery
from kb.search.result_cache import ResultCache, copy_result, request_key
from kb.search.types import (
    FACET_FIELDS,
    BackendPage,
    BackendQuery,
    Hit,
    PassageRecord,
    SearchBackend,
    SearchRequest,
    SearchResult,
)

Resolver = Callable[[str], list[tuple[str, str]]]

# A plain AND query with fewer hits than this is retried as OR (see docs/query-language.md).
AND_FALLBACK_BELOW = 3
SUGGEST_BELOW = 3
# A spelling correction runs only when it finds more than this many times the passages
# the query as typed finds (kb.search.spelling only proposes it).
CORRECT_FACTOR = 2
SORTS = ("relevance", "date", "title", "added")


class SearchService:
    def __init__(self, backend: SearchBackend, settings: Mapping[str, Any], resolver: Resolver | None = None,
                 state: Callable[[], Hashable] | None = None) -> None:
        self.backend = backend
        self.settings = dict(settings)
        self.resolver = resolver
        self.state = state
        self.result_cache = ResultCache(int(self.settings.get("search_cache_size", 0)))
        self.dense: hybrid.Dense | None = None  # the passages' vectors (kb.facade sets it)
        self.fusion = fusion.DEFAULT
        self._request = threading.local()  # the running request's state (request_state)

    # -- one request ------------------------------------------------------------------
    @contextmanager
    def _scope(self) -> Iterator[None]:
        """One request (nested calls join the outer one): `state` is read at most once in it."""
        r = self._request
        depth = getattr(r, "depth", 0)
        r.depth = depth + 1
        try:
            yield
        finally:
            r.depth = depth
            if not depth:
                r.__dict__.pop("state", None)

    def request_state(self) -> Hashable:
        """`state` (the curation version) as the running request first read it: its result-cache
        key and every entity resolution of its queries agree, for one catalog lookup. Outside a
        request, read afresh."""
        if self.state is None:
            return None
        r = self._request
        if not getattr(r, "depth", 0):
            return self.state()
        if "state" not in r.__dict__:
            r.state = self.state()
        return r.state

    # -- searching --------------------------------------------------------------------
    def search(self, request: SearchRequest) -> SearchResult:
        with self._scope():
            return self._cached_search(request)

    def _cached_search(self, request: SearchRequest) -> SearchResult:
        t0 = time.perf_counter()
        self.validate(request)
        # The vectors' state is read once a request: the cache key, the mode and the
        # ranking all see the same one.
        view = self.dense.view() if self.dense is not None else None
        if not self.result_cache.size:
            return self._search(request, t0, view)  # no cache: no build id to ask the backend for
        build = (self.backend.build_id(), self.request_state())
        if view is not None:  # finished embedding switches the mode: a new key
            build = (build, view.key)
        key = (request_key(request), request.mode)
        cached = self.result_cache.get(build, key)
        if cached is not None:
            return copy_result(cached, (time.perf_counter() - t0) * 1000)
        result = self._search(request, t0, view)
        # A cut-short result depends on timing, not on the request: never cached.
        if not result.truncated:
            self.result_cache.put(build, key, result)
            return copy_result(result, result.took_ms)
        return result

    def _search(self, request: SearchRequest, t0: float, view: hybrid.DenseView | None) -> SearchResult:
        per_page = int(request.per_page)
        q_text, corrected, qhash = self._prepare(request)
        mode, why = hybrid.mode_for(self, request, q_text, view)
        if mode == "hybrid":  # a cursor of one ranking is no cursor of the other
            qhash = hashlib.sha1(f"{qhash}:hybrid".encode()).hexdigest()[:12]
        offset = decode_cursor(request.cursor, qhash) if request.cursor else (int(request.page) - 1) * per_page
        if mode == "hybrid" and view is not None:
            page = hybrid.hybrid_page(self, view, request, q_text, offset, per_page)
        else:
            bq = self._backend_query(request, None, offset, per_page)
            _parsed, page = self._run(q_text, bq)
        # A corrected query is also the suggestion (clients that only read `suggestion`
        # still learn the spelling the index knows); otherwise did-you-mean when results are few.
        suggestion = corrected
        if suggestion is None and request.q and page.total < SUGGEST_BELOW:
            suggestion = spelling.suggest(request.q, self.backend.vocabulary(), self.resolver)
            if suggestion and not self._changes_results(request, suggestion, page):
                suggestion = None  # "did you mean" a query that shows the same passages: noise
        return SearchResult(
            total=page.total, hits=page.hits, facets=page.facets, page=offset // per_page + 1,
            per_page=per_page,
            next_cursor=encode_cursor(page.next_offset, qhash) if page.next_offset is not None else None,
            suggestion=suggestion, corrected_query=corrected, query=request.q,
            took_ms=(time.perf_counter() - t0) * 1000, truncated=page.truncated, mode=mode, mode_reason=why)

    def ranked(self, request: SearchRequest, limit: int) -> tuple[str, str, Iterator[Hit]]:
        """The first `limit` hits in the order of the mode that runs, with that mode and why
        (kb search --batch): fused when hybrid, else every match's order (iter_all)."""
        with self._scope():
            self.validate(request)
            # A spelling correction never makes a query structured: the mode is the typed query's.
            view = self.dense.view() if self.dense is not None else None
            mode, why = hybrid.mode_for(self, request, request.q or "", view)
            if mode == "hybrid" and view is not None:
                q_text, _corrected, _qhash = self._prepare(request)
                return mode, why, iter(hybrid.fused_hits(self, view, request, q_text, limit))
            return mode, why, self.iter_all(request)

    def iter_all(self, request: SearchRequest) -> Iterator[Hit]:
        """Every match in result order (no per-document cap), hit objects made lazily."""
        with self._scope():
            return self._iter_all(request)

    def _iter_all(self, request: SearchRequest) -> Iterator[Hit]:
        self.validate(request)
        q_text, _corrected, _qhash = self._prepare(request)
        mode = language.choose_mode(q_text)
        if self._may_fall_back(q_text, mode):
            # Whether the AND query finds enough decides which query to export: one probe.
            probe = self._backend_query(request, None, 0, 1)
            probe.facet_fields, probe.highlight, probe.max_per_document = (), False, 0
            parsed, _page = self._run(q_text, probe)
        else:
            parsed = language.parse(q_text, mode, self.resolver, self.settings)
        bq = self._backend_query(request, parsed, 0, 0)
        bq.deadline = self.deadline()
        bq.max_per_document, bq.facet_fields = 0, ()
        return self.backend.iter_hits(bq)

    def more_like(self, passage_id: str, limit: int = 10) -> list[Hit]:
        return self.backend.more_like(passage_id, limit)

    def suggest(self, q: str) -> str | None:
        with self._scope():
            language.check_length(q, self.settings)
            return spelling.suggest(q, self.backend.vocabulary(), self.resolver)

    def validate(self, request: SearchRequest) -> None:
        if request.sort not in SORTS:
            raise InvalidInputError(f"sort must be one of {', '.join(SORTS)}, not {request.sort!r}")
        max_pp = int(self.settings.get("max_page_size", 100))
        if not 1 <= int(request.per_page) <= max_pp:
            raise InvalidInputError(f"per_page must be between 1 and {max_pp}")
        if int(request.page) < 1:
            raise InvalidInputError("page must be 1 or more")
        language.check_length(request.q or "", self.settings)
        hybrid.check_mode(request.mode)

    # -- policy -----------------------------------------------------------------------
    def deadline(self) -> float:
        """When a backend query started now must stop reading (the time budget)."""
        return time.monotonic() + float(self.settings.get("query_time_budget", 2.0))

    def _prepare(self, request: SearchRequest) -> tuple[str, str | None, str]:
        """The query text that runs (spelling corrected), the correction, the cursor hash."""
        q_text = request.q or ""
        corrected = spelling.correct(q_text, self.backend.vocabulary(), self.resolver) if request.correct else None
        if corrected and not self._finds_clearly_more(request, corrected, q_text):
            corrected = None
        if corrected:
            q_text = corrected
        filters = request.filters or {}
        qhash = hashlib.sha1(repr((q_text, sorted((k, sorted(map(str, v))) for k, v in filters.items()),
                                   request.sort, request.doc_id, request.max_per_document,
                                   request.correct)).encode()).hexdigest()[:12]
        return q_text, corrected, qhash

    def _backend_query(self, request: SearchRequest, parsed: ParsedQuery | None, offset: int,
                       limit: int) -> BackendQuery:
        return BackendQuery(
            query=parsed, filters=dict(request.filters or {}), doc_id=request.doc_id or None, sort=request.sort,
            offset=offset, limit=limit, max_per_document=0 if request.doc_id else int(request.max_per_document or 0),
            facet_fields=FACET_FIELDS if request.facets else (), facet_limit=int(request.facet_limit),
            highlight=bool(request.highlight))

    def _run(self, q_text: str, bq: BackendQuery) -> tuple[ParsedQuery, BackendPage]:
        """Parse and search; a plain short query that finds too little is retried with any
        word allowed (the AND result is kept unless the OR one, complete, finds more)."""
        mode = language.choose_mode(q_text)
        parsed = language.parse(q_text, mode, self.resolver, self.settings)
        # The budget starts after parsing: the first query also loads the entity registry.
        bq.deadline = self.deadline()
        bq.query = parsed
        page = self.backend.search(bq)
        if (parsed.root is not None and page.total < AND_FALLBACK_BELOW and not page.truncated
                and self._may_fall_back(q_text, mode)):
            parsed2 = language.parse(q_text, "or", self.resolver, self.settings)
            bq.query = parsed2
            page2 = self.backend.search(bq)
            # A complete AND result is never replaced by a cut-short OR one.
            if page2.total > page.total and not page2.truncated:
                return parsed2, page2
            bq.query = parsed
        return parsed, page

    def _probe(self, request: SearchRequest, q_text: str, limit: int) -> BackendPage:
        """The first `limit` hits of `q_text` under the request's filters, as typed: no
        AND->OR retry, facets or snippets."""
        bq = self._backend_query(request, None, 0, limit)
        bq.facet_fields, bq.highlight = (), False
        bq.query = language.parse(q_text, language.choose_mode(q_text), self.resolver, self.settings)
        bq.deadline = self.deadline()
        return self.backend.search(bq)

    def _finds_clearly_more(self, request: SearchRequest, corrected: str, q_text: str) -> bool:
        """A correction is applied only when the corrected query finds more than
        CORRECT_FACTOR times the passages the query as typed finds (each in its own mode,
        before any AND->OR retry): a rare good word is left alone."""
        typed = self._probe(request, q_text, 1).total
        fixed = self._probe(request, corrected, 1).total
        return fixed > CORRECT_FACTOR * typed

    def _changes_results(self, request: SearchRequest, suggestion: str, page: BackendPage) -> bool:
        """Did-you-mean is offered only when the suggested query, as typed, finds more than
        the user's query as typed (its words are found together where the typed ones were
        not: "who take about e-notary" finds no more than "who talked about e-notary"), and
        would show other passages than the page the user has."""
        other = self._probe(request, suggestion, max(len(page.hits), 1))
        if other.total <= self._probe(request, request.q, 1).total:
            return False
        return other.total != page.total or [h.passage_id for h in other.hits] != [h.passage_id for h in page.hits]

    @staticmethod
    def _may_fall_back(q_text: str, mode: str) -> bool:
        """A plain AND query of several words may be retried as OR. Quotes alone do not
        stop the retry: `who presented "digital divide" in the Pacific` keeps its phrase, and
        the other words become optional."""
        unquoted = q_text.replace('"', " ")
        return mode == "and" and language.is_plain(unquoted) and len(language.plain_words(unquoted)) > 1

    # -- writes and figures: the backend's ------------------------------------------------
    def update_documents(self, doc_ids: Iterable[str], records: Iterable[PassageRecord]) -> int:
        return self.backend.update_documents(doc_ids, records)

    def index_passages(self, records: Iterable[PassageRecord]) -> int:
        return self.backend.update_documents((), records)

    def delete_document(self, doc_id: str) -> None:
        self.backend.update_documents([doc_id], ())

    def rebuild(self, records: Iterable[PassageRecord]) -> int:
        return self.backend.rebuild(records)

    def needs_rebuild(self) -> bool:
        return self.backend.needs_rebuild()

    def build_id(self) -> str:
        return self.backend.build_id()

    def doc_ids(self) -> dict[str, int]:
        return self.backend.doc_ids()

    def stats(self) -> dict[str, Any]:
        return self.backend.stats()

    def close(self) -> None:
        self.backend.close()
