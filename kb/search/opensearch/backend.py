"""The OpenSearch implementation of kb.search.types.SearchBackend: the search service
(kb.search.service) holds the policy and hands this backend a BackendQuery whose neutral
query tree kb.search.opensearch.compile turns into query DSL.

Readers use the alias `<opensearch_index>-passages`; `rebuild` fills a new versioned index and
switches the alias atomically (kb.search.opensearch.writes). Totals are exact
(`track_total_hits`), facets exact (every shard returns every value), cursors walk a point in
time with `search_after` past the first 10,000 hits, so there is no hit window anywhere.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from kb.errors import IndexError_, KBError, NotFoundError
from kb.search.opensearch import translate as tr
from kb.search.opensearch import writes
from kb.search.opensearch.client import call, make_client, msearch, node_urls, public_url
from kb.search.opensearch.compile import Compiler
from kb.search.opensearch.mapping import ENTITY_FIELDS, MAPPING_VERSION, TEXT_FIELDS, text_field_for
from kb.search.opensearch.vocabulary import OpenSearchVocabulary
from kb.search.snippets import SNIPPET_CHARS
from kb.search.types import BackendPage, BackendQuery, Hit, PassageRecord

PIT_KEEP_ALIVE = "2m"
SCROLL_BATCH = 1000
# from + size may not pass this in OpenSearch (index.max_result_window); deeper pages walk
WINDOW = 10_000
# What walking the result order reads of each hit (order and per-document grouping); the
# page's own hits are then read whole, with their snippets (_read_whole)
ORDER_SOURCE = ["id", "doc_id"]
BUILD_ID_SECONDS = 1.0
# Every search reads the shard copies of the node the client talks to (client.StickySelector):
# no second hop between nodes, one copy's statistics per process.
PREFERENCE = "_local"
# What kb reads of a search answer; the rest (_index, _shards but its total, max_score, the
# aggregations' sum_other_doc_count...) is neither serialised by the node nor decoded here.
FILTER_PATH = ("took,timed_out,pit_id,_shards.total,hits.total,hits.hits._id,hits.hits._score,"
               "hits.hits._source,hits.hits.highlight,hits.hits.sort,aggregations")


class OpenSearchBackend:
    name = "opensearch"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = dict(settings)
        self._vocabulary: OpenSearchVocabulary | None = None
        self._build: tuple[float, str] | None = None
        self.names = writes.Names(str(self.settings.get("opensearch_index") or "kb"))
        self.client = make_client(self.settings)
        self._lock = threading.RLock()
        self._alias_ready = False
        # primary shards behind the alias, as the last search answer counted them (facet_aggs)
        self._primaries = int(self.settings.get("opensearch_shards", 1))

    # -- index lifecycle ---------------------------------------------------------
    def _shape(self) -> tuple[int, int]:
        shards = int(self.settings.get("opensearch_shards", 1))
        replicas = writes.replicas_for(self.client, int(self.settings.get("opensearch_replicas", -1)))
        return shards, replicas

    def _index(self) -> str:
        """The concrete index behind the alias (created with the alias on first use)."""
        with self._lock:
            existing = writes.current_indexes(self.client, self.names.alias)
            index = existing[0] if existing else writes.ensure_alias(self.client, self.names, *self._shape())
            self._alias_ready = True
            return index

    def _alias(self) -> str:
        """The alias that searches and writes address; checked once per process (a rebuild by
        another process switches it underneath, which is the point of the alias)."""
        if not self._alias_ready:
            self._index()
        return self.names.alias

    def needs_rebuild(self) -> bool:
        existing = writes.current_indexes(self.client, self.names.alias)
        if not existing:
            return True
        mapping = call(self.client.indices.get_mapping, index=existing[0])
        meta = next(iter(mapping.values()))["mappings"].get("_meta", {})
        return meta.get("kb_mapping_version") != MAPPING_VERSION

    def build_id(self) -> str:
        """Changes with every write and every rebuild, and survives node restarts: the index
        name and the sum of its primaries' highest sequence numbers. The service asks on every
        search (its result cache is keyed by it), so the answer is kept BUILD_ID_SECONDS; this
        process's own writes drop it at once, another process's are seen within that time."""
        now = time.monotonic()
        if self._build is not None and now - self._build[0] < BUILD_ID_SECONDS:
            return self._build[1]
        build = self._read_build_id()
        self._build = (now, build)
        return build

    def _read_build_id(self) -> str:
        index = self._index()
        stats = call(self.client.indices.stats, index=index, metric="docs", level="shards")
        total = 0
        for copies in stats["indices"][index]["shards"].values():
            for copy in copies:
                if copy["routing"]["primary"]:
                    total += int(copy.get("seq_no", {}).get("max_seq_no", 0))
        return f"{index}.{total}"

    # -- writing ---------------------------------------------------------------------
    def index_passages(self, records: Iterable[PassageRecord]) -> int:
        return self.update_documents((), records)

    def delete_document(self, doc_id: str) -> None:
        self.update_documents([doc_id], ())

    def update_documents(self, doc_ids: Iterable[str], records: Iterable[PassageRecord]) -> int:
        with self._lock:
            self._build = None
            try:
                return writes.update_documents(self.client, self._alias(), doc_ids, records)
            finally:
                self._build = None

    def rebuild(self, records: Iterable[PassageRecord]) -> int:
        with self._lock:
            try:
                _index, n = writes.rebuild(self.client, self.names, records, *self._shape())
            finally:
                self._build = None
            return n

    # -- searching -------------------------------------------------------------------
    def _dsl(self, query: BackendQuery) -> dict[str, Any]:
        """The query tree, the filters and the document restriction as one DSL query."""
        return tr.full_query(*self._parts(query))

    def _parts(self, query: BackendQuery) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        compiler = Compiler(int(self.settings.get("max_wildcard_terms", 2000)),
                            self.vocabulary().expansions)
        return compiler.query(query.query), tr.filter_clauses(query.filters or {}, query.doc_id)

    def _mark(self, query: BackendQuery) -> dict[str, Any] | None:
        """BackendQuery.mark as DSL: what the highlighter marks, apart from what matches."""
        return self._parts(replace(query, query=query.mark))[0] if query.mark is not None else None

    def _body(self, dsl: dict[str, Any], query: BackendQuery, size: int, timeout_ms: int | None,
              light: bool = False) -> dict[str, Any]:
        """light: only what ordering and grouping need (ORDER_SOURCE, no highlighting)."""
        body: dict[str, Any] = {"query": dsl, "size": size, "track_total_hits": True,
                                "sort": tr.sort_clause(query.sort)}
        if timeout_ms is not None:
            body["timeout"] = f"{timeout_ms}ms"
        if light:
            body["_source"] = ORDER_SOURCE
        elif query.highlight:
            body["highlight"] = tr.highlight(SNIPPET_CHARS)
            mark = self._mark(query)
            if mark is not None:
                body["highlight"]["highlight_query"] = mark
        return body

    def _read_whole(self, dsl: dict[str, Any], query: BackendQuery, page: list[dict[str, Any]]
                    ) -> list[dict[str, Any]]:
        """The page's hits with their whole source and snippets, in the order and with the
        scores of the search that chose them. Highlighting the page alone, not the hundred
        hits read to group by document, is most of what an uncached search costs the cluster.
        A passage deleted between the two requests is left out of the page."""
        if not page:
            return page
        body: dict[str, Any] = {"query": {"ids": {"values": [h["_id"] for h in page]}},
                                "size": len(page)}
        if query.highlight:
            body["highlight"] = {**tr.highlight(SNIPPET_CHARS), "highlight_query": self._mark(query) or dsl}
        whole = {h["_id"]: h for h in _hits(self._search(body))}
        return [{**h, "_source": whole[h["_id"]]["_source"], "highlight": whole[h["_id"]].get("highlight")}
                for h in page if h["_id"] in whole]

    def search(self, query: BackendQuery) -> BackendPage:
        alias = self._alias()
        parts = self._parts(query)  # compiled once: the page's query and the union's share it
        dsl = tr.full_query(*parts)
        left = query.deadline - time.monotonic()
        scoring = query.query is not None and query.query.root is not None
        if left <= 0 and scoring:
            # the budget is spent before anything was read: no result, never an error
            return BackendPage(total=0, hits=[], facets={}, next_offset=None, truncated=True)
        timeout_ms = max(1, int(left * 1000)) if scoring and left != float("inf") else None
        want = query.offset + query.limit
        facets: dict[str, list[tuple[str, int]]] = {}
        cap = int(query.max_per_document or 0)
        # One request answers most searches: the page with its snippets, the total and the
        # facets. Only when grouping by document leaves the page unsettled (a document with
        # more than `cap` passages among them) is the order read further, lightly (ids and
        # documents, no snippets), and then the page's own hits read whole.
        deep = want + 1 > WINDOW
        # Without grouping the exact total says whether more follow: the page alone is read
        # (and highlighted), not one hit past it.
        size = 0 if deep else want + 1 if cap else want
        body = self._body(dsl, query, size, timeout_ms, light=query.light)
        union: dict[str, Any] | None = None
        udsl = dsl  # what the facets count: the union's query when there is one
        if query.union_ids:
            # The union's counts ride in the same round trip (msearch), facets with them.
            udsl = tr.union_query(*parts, query.union_ids)
            ubody = tr.union_body(udsl, query.union_ids, query.facet_fields, query.facet_limit, timeout_ms,
                                  self._primaries)
            answer, union = msearch(self.client, alias, [body, ubody], PREFERENCE, FILTER_PATH)
        else:
            if query.facet_fields:
                body["aggs"] = tr.facet_aggs(query.facet_fields, query.facet_limit, self._primaries)
            answer = self._search(body, alias)
        raw = _hits(answer)
        settled = not deep
        if cap and not deep:
            raw, settled, more = _group(raw, cap, want, exhausted=len(raw) <= want)
        elif not deep:
            more = _total(answer) > want
        if settled:
            page = raw[query.offset:want]
        else:
            raw, more = self._walk(dsl, query, want, timeout_ms)
            page = self._read_whole(dsl, query, raw[query.offset:want])
        counted = answer if union is None else union
        if query.facet_fields:
            facets = self._facets(counted.get("aggregations", {}), udsl, query.facet_fields, query.facet_limit)
        return BackendPage(total=_total(answer), hits=[self._hit(h) for h in page], facets=facets,
                           next_offset=want if more else None,
                           truncated=bool(answer.get("timed_out") or counted.get("timed_out")),
                           union_total=None if union is None else _total(union),
                           union_found=() if union is None else tr.union_found(union["aggregations"], query.union_ids))

    def _walk(self, dsl: dict[str, Any], query: BackendQuery, want: int, timeout_ms: int | None
              ) -> tuple[list[dict[str, Any]], bool]:
        """The first `want` hits of the result order (light: ids and documents), with kb's
        per-document grouping when query.max_per_document is set (kb.search.paging: every
        document's first N passages before any document's next N; nothing dropped). One
        request of a few times the page settles most pages; otherwise the whole order is
        streamed. Returns the hits and whether more follow."""
        cap = int(query.max_per_document or 0)
        if want + 1 <= WINDOW:
            size = min(WINDOW, max(4 * want, 100))
            body = self._body(dsl, query, size, timeout_ms, light=True)
            body["track_total_hits"] = False
            head = _hits(self._search(body))
            grouped, settled, more = _group(head, cap, want, exhausted=len(head) < size)
            if settled:
                return grouped, more
        grouped, _settled, more = _group(self._stream(dsl, query, 0, light=True), cap, want, exhausted=True)
        return grouped, more

    def _stream(self, dsl: dict[str, Any], query: BackendQuery, skip: int, light: bool = False
                ) -> Iterator[dict[str, Any]]:
        """Every hit in result order from position `skip`, over a point in time read with
        search_after (no 10,000-hit window), in constant memory."""
        alias = self._alias()
        pit = call(self.client.create_pit, index=alias, params={"keep_alive": PIT_KEEP_ALIVE})["pit_id"]
        try:
            body = self._body(dsl, query, SCROLL_BATCH, None, light)
            body["track_total_hits"] = False
            while True:
                body["pit"] = {"id": pit, "keep_alive": PIT_KEEP_ALIVE}
                # a point in time names its shard copies itself: no index, no preference
                answer = call(self.client.search, body=body, params={"filter_path": FILTER_PATH})
                pit = answer.get("pit_id", pit)
                raw = _hits(answer)
                for h in raw:
                    if skip:
                        skip -= 1
                        continue
                    yield h
                if len(raw) < SCROLL_BATCH:
                    return
                body["search_after"] = raw[-1]["sort"]
        finally:
            # a PIT left open expires by itself (PIT_KEEP_ALIVE): nothing is lost if this fails
            with contextlib.suppress(KBError):
                call(self.client.delete_pit, body={"pit_id": [pit]})

    def _search(self, body: dict[str, Any], index: str | None = None) -> dict[str, Any]:
        """One search of the alias from the local shard copies, its answer trimmed to what kb
        reads (FILTER_PATH); remembers how many primaries it counted (facet_aggs)."""
        answer = call(self.client.search, index=index or self._alias(), body=body,
                      params={"preference": PREFERENCE, "filter_path": FILTER_PATH})
        self._primaries = int(answer.get("_shards", {}).get("total") or self._primaries)
        return answer

    def iter_hits(self, query: BackendQuery) -> Iterator[Hit]:
        """Every hit in result order from query.offset on, in constant memory (exports)."""
        dsl = self._dsl(query)
        for h in self._stream(dsl, query, query.offset):
            yield self._hit(h)

    def _facets(self, aggs: dict[str, Any], query: dict[str, Any], fields: tuple[str, ...],
                limit: int) -> dict[str, list[tuple[str, int]]]:
        out: dict[str, list[tuple[str, int]]] = {}
        for name in fields:
            agg = aggs.get(name, {})
            if agg.get("doc_count_error_upper_bound", 0):
                out[name] = self._facet_exact(name, query, limit)
                continue
            out[name] = [(str(b["key"]), int(b["doc_count"])) for b in agg.get("buckets", [])]
        return out

    def _facet_exact(self, name: str, query: dict[str, Any], limit: int) -> list[tuple[str, int]]:
        """Every value of one facet through a composite aggregation (more values on a shard
        than the terms aggregation's shard_size: rare, but counts must stay exact)."""
        ranked = sorted(self._composite_counts(name, query).items(), key=lambda vc: (-vc[1], vc[0]))
        return ranked[:limit] if limit else ranked

    def _composite_counts(self, field: str, query: dict[str, Any] | None = None) -> dict[str, int]:
        """value -> passages, for every value of a keyword field among the passages `query`
        matches (all without one), read in composite-aggregation pages."""
        counts: dict[str, int] = {}
        after = None
        while True:
            comp: dict[str, Any] = {"size": 10000, "sources": [{"v": {"terms": {"field": field}}}]}
            if after:
                comp["after"] = after
            body: dict[str, Any] = {"size": 0, "aggs": {"c": {"composite": comp}}}
            if query is not None:
                body["query"] = query
            agg = call(self.client.search, index=self._alias(), body=body)["aggregations"]["c"]
            for b in agg["buckets"]:
                counts[str(b["key"]["v"])] = int(b["doc_count"])
            after = agg.get("after_key")
            if not agg["buckets"] or not after:
                return counts

    def _hit(self, raw: dict[str, Any]) -> Hit:
        src = raw["_source"]
        field = text_field_for(src.get("lang"))
        text = src.get(field) or ""
        marked = (raw.get("highlight") or {}).get(field) or []
        snippet = marked[0] if marked else _escape(text[:SNIPPET_CHARS])
        return Hit(passage_id=src["id"], doc_id=src["doc_id"], ordinal=int(src.get("ordinal") or 0),
                   title=src.get("title") or "", path=src.get("path") or "",
                   source_id=src.get("source_id"), format=src.get("type") or "",
                   page_start=src.get("page_start"), page_end=src.get("page_end"),
                   heading_path=list(src.get("heading_path") or []), text=text, snippet=snippet,
                   score=round(float(raw.get("_score") or 0.0), 4), year=src.get("year"),
                   lang=src.get("lang"), added=src.get("added"),
                   entities={k: list(src[k]) for k in ENTITY_FIELDS if src.get(k)})

    # -- more like this, spelling ------------------------------------------------------
    def more_like(self, passage_id: str, limit: int = 10) -> list[Hit]:
        alias = self._alias()
        found = call(self.client.search, index=alias,
                     body={"size": 1, "query": {"ids": {"values": [passage_id]}}})["hits"]["hits"]
        if not found:
            raise NotFoundError(f"no passage {passage_id!r} in the index")
        like = {"_index": found[0]["_index"], "_id": passage_id}
        body = {"size": limit, "query": {"more_like_this": {
            "fields": [*TEXT_FIELDS, "title", "heading"], "like": [like], "min_term_freq": 1,
            "min_doc_freq": 1, "max_query_terms": 12}}}
        answer = call(self.client.search, index=alias, body=body)
        return [self._hit(h) for h in answer["hits"]["hits"]]

    def vocabulary(self) -> OpenSearchVocabulary:
        if self._vocabulary is None:
            self._vocabulary = OpenSearchVocabulary(self.client, self._alias())
        return self._vocabulary

    # -- figures ----------------------------------------------------------------------
    def doc_ids(self) -> dict[str, int]:
        """doc_id -> passages in the index, every document (composite aggregation pages)."""
        return self._composite_counts("doc_id")

    def stats(self) -> dict[str, Any]:
        """Figures for `kb stats` and the health endpoint; node URLs without credentials."""
        index = self._index()
        health = call(self.client.cluster.health)
        ix = call(self.client.indices.stats, index=index, metric="docs,store")["indices"][index]
        return {
            "backend": "opensearch", "schema_version": MAPPING_VERSION, "index": index,
            "alias": self.names.alias, "passages": int(ix["primaries"]["docs"]["count"]),
            "documents": len(self.doc_ids()), "size_bytes": int(ix["total"]["store"]["size_in_bytes"]),
            "cluster_status": health.get("status"), "nodes": health.get("number_of_nodes"),
            "needs_rebuild": self.needs_rebuild(),
            "urls": [public_url(u) for u in node_urls(self.settings)],
        }

    def health(self) -> dict[str, Any]:
        health = call(self.client.cluster.health)
        if health.get("status") not in ("green", "yellow"):
            raise IndexError_(f"search backend: cluster status {health.get('status')}")
        return {"status": health["status"], "nodes": health.get("number_of_nodes")}

    def close(self) -> None:
        self.client.close()


def _group(hits: Iterable[dict[str, Any]], cap: int, want: int, exhausted: bool
           ) -> tuple[list[dict[str, Any]], bool, bool]:
    """Group hits (in result order) into rounds of `cap` passages per document; returns the
    first `want` of the grouped order, whether that is settled (the first round has more than
    `want`, or `hits` were all there is) and whether more follow."""
    rounds: dict[int, list[dict[str, Any]]] = {}
    per_doc: dict[str, int] = {}
    for h in hits:
        rank = 0
        if cap:
            doc = h["_source"]["doc_id"]
            rank = per_doc.get(doc, 0)
            per_doc[doc] = rank + 1
        rounds.setdefault(rank // cap if cap else 0, []).append(h)
        if len(rounds.get(0, [])) > want:
            return rounds[0][:want], True, True
    ordered = [h for r in sorted(rounds) for h in rounds[r]]
    return ordered[:want], exhausted, len(ordered) > want


def _total(answer: dict[str, Any]) -> int:
    return int(answer["hits"]["total"]["value"])


def _hits(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer's hits (a filtered answer leaves out an empty list)."""
    return answer.get("hits", {}).get("hits", [])


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def open_backend(settings: Mapping[str, Any]) -> OpenSearchBackend:
    return OpenSearchBackend(settings)
