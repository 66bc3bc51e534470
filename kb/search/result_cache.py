"""A bounded per-process cache of search results (like Elasticsearch's shard request cache).

Keys hold the normalised request and the index build (live generation folder + Whoosh
generation of the searcher that answered), so any commit or rebuild, by this process or
another, makes every older entry unreachable: no explicit invalidation is needed. Entries
of an older build are dropped as soon as a newer build is seen, so memory is not held for
results nobody can get any more.

A web worker serves the same popular queries many times between commits; a hit costs a
dict lookup and a shallow copy instead of matching, ranking, snippets and facet counts.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import replace
from typing import Any

from kb.search.types import SearchRequest, SearchResult


def request_key(request: SearchRequest) -> tuple:
    """Every field of the request that changes the result. Filter values are OR-ed and
    fields AND-ed, so both are sorted (the cursor hash does the same)."""
    filters = tuple(sorted((k, tuple(sorted(set(map(str, v))))) for k, v in (request.filters or {}).items() if v))
    return (request.q or "", filters, int(request.page), int(request.per_page), request.cursor, request.sort,
            bool(request.facets), int(request.facet_limit), int(request.max_per_document or 0), request.doc_id,
            bool(request.highlight), bool(request.correct))


def copy_result(result: SearchResult, took_ms: float) -> SearchResult:
    """A copy a caller may change without touching the cached entry (lists and dicts are
    copied; strings and numbers are immutable)."""
    hits = [replace(h, heading_path=list(h.heading_path), entities={k: list(v) for k, v in h.entities.items()})
            for h in result.hits]
    return replace(result, hits=hits, facets={k: list(v) for k, v in result.facets.items()}, took_ms=took_ms)


class ResultCache:
    def __init__(self, size: int) -> None:
        self.size = max(0, int(size))
        self._entries: OrderedDict[Hashable, SearchResult] = OrderedDict()
        self._build: Any = None
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, build: Any, key: Hashable) -> SearchResult | None:
        if not self.size:
            return None
        with self._lock:
            if build != self._build:
                self._entries.clear()  # a newer (or other) build: nothing older is valid
                self._build = build
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found

    def put(self, build: Any, key: Hashable, result: SearchResult) -> None:
        if not self.size:
            return
        with self._lock:
            if build != self._build:
                self._entries.clear()
                self._build = build
            self._entries[key] = result
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
