"""The OpenSearch implementation of the passage index (kb.search.types.PassageIndex plus the
operations the facade, ingest, export and maintenance use: update_documents, rebuild,
needs_rebuild, build_id, close).

Readers use the alias `<opensearch_index>-passages`; `rebuild` fills a new versioned index and
switches the alias atomically (kb.search.opensearch.writes). Totals are exact
(`track_total_hits`), facets exact (every shard returns every value), cursors walk a point in
time with `search_after`, so there is no 10,000-hit window anywhere.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from kb.errors import IndexError_, InvalidInputError, KBError, NotFoundError
from kb.search.opensearch import translate as tr
from kb.search.opensearch import writes
from kb.search.opensearch.client import call, make_client, node_urls, public_url
from kb.search.opensearch.mapping import ENTITY_FIELDS, MAPPING_VERSION, TEXT_FIELDS, text_field_for
from kb.search.types import FACET_FIELDS, Hit, PassageRecord, SearchRequest, SearchResult

Resolver = Callable[[str], list[tuple[str, str]]]
AND_FALLBACK_BELOW = 3
SUGGEST_BELOW = 3
PIT_KEEP_ALIVE = "2m"
SCROLL_BATCH = 1000
SNIPPET_CHARS = 320


def _encode(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError) as exc:
        raise InvalidInputError("the cursor is malformed") from exc
    if not isinstance(data, dict):
        raise InvalidInputError("the cursor is malformed")
    return data


class OpenSearchIndex:
    def __init__(self, settings: Mapping[str, Any], resolver: Resolver | None = None) -> None:
        self.settings = dict(settings)
        self.resolver = resolver
        self.names = writes.Names(str(self.settings.get("opensearch_index") or "kb"))
        self.client = make_client(self.settings)
        self._lock = threading.RLock()
        self._alias_ready = False

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
        name and the sum of its primaries' highest sequence numbers."""
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
            return writes.update_documents(self.client, self._alias(), doc_ids, records)

    def rebuild(self, records: Iterable[PassageRecord]) -> int:
        with self._lock:
            _index, n = writes.rebuild(self.client, self.names, records, *self._shape())
            return n

    # -- searching -------------------------------------------------------------------
    def _query(self, q_text: str, mode: str) -> dict[str, Any] | None:
        return tr.parse(q_text, mode, self.resolver, int(self.settings.get("max_wildcard_terms", 2000)))

    def _check(self, request: SearchRequest) -> None:
        limit = int(self.settings.get("max_query_length", 1000))
        if len(request.q or "") > limit:
            raise InvalidInputError(f"the query is {len(request.q)} characters long; the limit is {limit}")

    def _body(self, query: dict[str, Any], request: SearchRequest, size: int) -> dict[str, Any]:
        budget = float(self.settings.get("query_time_budget", 2.0))
        body: dict[str, Any] = {"query": query, "size": size, "track_total_hits": True,
                                "sort": tr.sort_clause(request.sort),
                                "timeout": f"{int(budget * 1000)}ms"}
        if request.highlight:
            body["highlight"] = tr.highlight(SNIPPET_CHARS)
        return body

    def _plan(self, request: SearchRequest, run: Callable[[dict[str, Any], str | None], dict[str, Any]]
              ) -> tuple[dict[str, Any], dict[str, Any], str, str | None]:
        """Decide the query that runs, with `run(query, suggest_text)` answering each try:
        the spelling fix comes back with the first answer (the term suggester in the same
        request), so a query whose words all exist costs one request; a short AND query with
        fewer than AND_FALLBACK_BELOW hits is tried once more as OR.
        Returns (query, its answer, the query text that ran, the correction or None)."""
        self._check(request)
        tr.sort_clause(request.sort)
        filters = tr.filter_clauses(request.filters or {}, request.doc_id)
        q_text = request.q or ""
        fixable = bool(request.correct and q_text.strip() and tr.is_plain(q_text))
        mode = tr.choose_mode(q_text)
        query = tr.full_query(self._query(q_text, mode), filters)
        answer = run(query, q_text if fixable else None)
        corrected = self._rewrite(q_text, self._unknown(_fixes(answer))) if fixable else None
        if corrected:
            q_text, mode = corrected, tr.choose_mode(corrected)
            query = tr.full_query(self._query(q_text, mode), filters)
            answer = run(query, None)
        if (mode == "and" and tr.is_plain(q_text) and len(tr.plain_words(q_text)) > 1
                and _total(answer) < AND_FALLBACK_BELOW and not answer.get("timed_out")):
            wider = tr.full_query(self._query(q_text, "or"), filters)
            wider_answer = run(wider, None)
            # a complete AND result is never replaced by a cut-short OR one
            if _total(wider_answer) > _total(answer) and not wider_answer.get("timed_out"):
                query, answer = wider, wider_answer
        return query, answer, q_text, corrected

    def _qhash(self, request: SearchRequest, q_text: str) -> str:
        key = (q_text, sorted((k, sorted(map(str, v))) for k, v in (request.filters or {}).items()),
               request.sort, request.doc_id, request.max_per_document, request.correct)
        return hashlib.sha1(repr(key).encode()).hexdigest()[:12]

    def search(self, request: SearchRequest) -> SearchResult:
        offset, per_page = tr.request_window(request, int(self.settings.get("max_page_size", 100)))
        alias = self._alias()
        cap = 0 if request.doc_id else int(request.max_per_document or 0)
        base = self._body({}, request, per_page + 1 if not cap else max(4 * per_page, 50))
        if request.facets:
            base["aggs"] = tr.facet_aggs(int(request.facet_limit))
        index: str | None = alias
        state: dict[str, Any] = {}
        if request.cursor:
            state = _decode(request.cursor)
            if not isinstance(state.get("after"), list):
                raise InvalidInputError("the cursor is malformed")
            # Paging past the first page walks a point in time, opened by the first cursor
            # used: a casual search opens none (a cluster allows a few hundred at a time).
            pit = state.get("pit") or call(self.client.create_pit, index=alias,
                                           params={"keep_alive": PIT_KEEP_ALIVE})["pit_id"]
            base["pit"] = {"id": pit, "keep_alive": PIT_KEEP_ALIVE}
            base["search_after"] = state["after"]
            page = int(state.get("p", 2))
            index = None  # a search over a point in time names no index
        else:
            base["from"] = offset
            page = int(request.page)

        def run(query: dict[str, Any], suggest_text: str | None) -> dict[str, Any]:
            body = dict(base, query=query)
            if suggest_text:
                body["suggest"] = _suggest_body(suggest_text)
            return call(self.client.search, index=index, body=body)

        query, answer, q_text, corrected = self._plan(request, run)
        qhash = self._qhash(request, q_text)
        if request.cursor and state.get("h") != qhash:
            raise InvalidInputError("the cursor belongs to another query or sort")
        body = base
        raw = answer["hits"]["hits"]
        total = int(answer["hits"]["total"]["value"])
        picked, more = self._cap(raw, per_page, cap)
        hits = [self._hit(h) for h in picked]
        next_cursor = None
        if more and picked:
            state = {"after": picked[-1]["sort"], "h": qhash, "p": page + 1}
            if "pit" in body:
                state["pit"] = answer.get("pit_id", body["pit"]["id"])
            next_cursor = _encode(state)
        facets = self._facets(answer.get("aggregations", {}), query, int(request.facet_limit)) \
            if request.facets else {}
        suggestion = corrected
        if suggestion is None and request.q and total < SUGGEST_BELOW:
            suggestion = self.suggest(request.q)
        return SearchResult(total=total, hits=hits, facets=facets, page=page, per_page=per_page,
                            next_cursor=next_cursor, suggestion=suggestion,
                            corrected_query=corrected, query=request.q,
                            took_ms=float(answer.get("took", 0)),
                            truncated=bool(answer.get("timed_out")))

    @staticmethod
    def _cap(raw: list[dict[str, Any]], per_page: int, cap: int) -> tuple[list[dict[str, Any]], bool]:
        """The page's hits, at most `cap` per document (0: no cap); whether more follow."""
        picked: list[dict[str, Any]] = []
        per_doc: dict[str, int] = {}
        for h in raw:
            if cap:
                doc = h["_source"]["doc_id"]
                if per_doc.get(doc, 0) >= cap:
                    continue
                per_doc[doc] = per_doc.get(doc, 0) + 1
            if len(picked) == per_page:
                return picked, True
            picked.append(h)
        return picked, len(raw) > len(picked) and not cap

    def _facets(self, aggs: dict[str, Any], query: dict[str, Any], limit: int) -> dict[str, list[tuple[str, int]]]:
        out: dict[str, list[tuple[str, int]]] = {}
        for name in FACET_FIELDS:
            agg = aggs.get(name, {})
            if agg.get("doc_count_error_upper_bound", 0):
                out[name] = self._facet_exact(name, query, limit)
                continue
            out[name] = [(str(b["key"]), int(b["doc_count"])) for b in agg.get("buckets", [])]
        return out

    def _facet_exact(self, name: str, query: dict[str, Any], limit: int) -> list[tuple[str, int]]:
        """Every value of one facet through a composite aggregation (more values on a shard
        than the terms aggregation's shard_size: rare, but counts must stay exact)."""
        counts: dict[str, int] = {}
        after = None
        while True:
            comp: dict[str, Any] = {"size": 10000, "sources": [{"v": {"terms": {"field": name}}}]}
            if after:
                comp["after"] = after
            answer = call(self.client.search, index=self.names.alias,
                          body={"size": 0, "query": query, "aggs": {"c": {"composite": comp}}})
            buckets = answer["aggregations"]["c"]["buckets"]
            for b in buckets:
                counts[str(b["key"]["v"])] = int(b["doc_count"])
            after = answer["aggregations"]["c"].get("after_key")
            if not buckets or not after:
                break
        ranked = sorted(counts.items(), key=lambda vc: (-vc[1], vc[0]))
        return ranked[:limit] if limit else ranked

    def _hit(self, raw: dict[str, Any]) -> Hit:
        src = raw["_source"]
        text = src.get("body") or ""
        field = text_field_for(src.get("lang"))
        marked = (raw.get("highlight") or {}).get(field) or []
        snippet = marked[0] if marked else _escape(text[:SNIPPET_CHARS])
        return Hit(passage_id=src["id"], doc_id=src["doc_id"], ordinal=int(src.get("ordinal") or 0),
                   title=src.get("title") or "", path=src.get("path") or "",
                   source_id=src.get("source_id"), format=src.get("type") or "",
                   page_start=src.get("page_start"), page_end=src.get("page_end"),
                   heading_path=list(src.get("heading_path") or []), text=text, snippet=snippet,
                   score=round(float(raw.get("_score") or 0.0), 4), year=src.get("year"),
                   lang=src.get("lang"),
                   entities={k: list(src[k]) for k in ENTITY_FIELDS if src.get(k)})

    def iter_all(self, request: SearchRequest) -> Iterator[Hit]:
        """Every match in result order (no per-document cap), in constant memory: pages of a
        point in time walked with search_after."""
        alias = self._alias()

        def count(query: dict[str, Any], suggest_text: str | None) -> dict[str, Any]:
            body: dict[str, Any] = {"query": query, "size": 0, "track_total_hits": True}
            if suggest_text:
                body["suggest"] = _suggest_body(suggest_text)
            return call(self.client.search, index=alias, body=body)

        query, _answer, _q, _c = self._plan(request, count)
        pit = call(self.client.create_pit, index=alias,
                   params={"keep_alive": PIT_KEEP_ALIVE})["pit_id"]
        try:
            body = self._body(query, request, SCROLL_BATCH)
            body.pop("timeout")  # an export reads everything, whatever the search budget
            body["track_total_hits"] = False
            while True:
                body["pit"] = {"id": pit, "keep_alive": PIT_KEEP_ALIVE}
                answer = call(self.client.search, body=body)
                pit = answer.get("pit_id", pit)
                raw = answer["hits"]["hits"]
                for h in raw:
                    yield self._hit(h)
                if len(raw) < SCROLL_BATCH:
                    return
                body["search_after"] = raw[-1]["sort"]
        finally:
            # a PIT left open expires by itself (PIT_KEEP_ALIVE): nothing is lost if this fails
            with contextlib.suppress(KBError):
                call(self.client.delete_pit, body={"pit_id": [pit]})

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

    def _unknown(self, fixes: dict[str, str]) -> dict[str, str]:
        """The fixes for words that no passage holds even after analysis: "businesses" is
        absent from the unstemmed words but its stem is indexed, so it is left alone, as in
        the Whoosh backend. Costs a request only when the suggester proposed something."""
        out = {}
        for word, fix in fixes.items():
            probe = {"multi_match": {"query": word, "fields": [*TEXT_FIELDS, "title", "heading"]}}
            if call(self.client.count, index=self._alias(), body={"query": probe})["count"] == 0:
                out[word] = fix
        return out

    def _rewrite(self, q: str, fixes: dict[str, str]) -> str | None:
        """q with each word that no passage holds replaced by the suggester's word."""
        if not fixes:
            return None
        words = []
        for token in q.split():
            bare = token.strip(".,;:!?\"'()")
            fix = fixes.get(bare.lower())
            words.append(token.replace(bare, fix) if fix and bare and bare[0].isalpha() else token)
        out = " ".join(words)
        return out if out != q else None

    def suggest(self, q: str) -> str | None:
        limit = int(self.settings.get("max_query_length", 1000))
        if len(q) > limit:
            raise InvalidInputError(f"the query is {len(q)} characters long; the limit is {limit}")
        if not q.strip():
            return None
        answer = call(self.client.search, index=self._alias(),
                      body={"size": 0, "suggest": _suggest_body(q)})
        return self._rewrite(q, self._unknown(_fixes(answer)))

    # -- figures ----------------------------------------------------------------------
    def doc_ids(self) -> dict[str, int]:
        """doc_id -> passages in the index, every document (composite aggregation pages)."""
        alias = self._alias()
        counts: dict[str, int] = {}
        after = None
        while True:
            comp: dict[str, Any] = {"size": 10000, "sources": [{"d": {"terms": {"field": "doc_id"}}}]}
            if after:
                comp["after"] = after
            answer = call(self.client.search, index=alias,
                          body={"size": 0, "aggs": {"c": {"composite": comp}}})
            agg = answer["aggregations"]["c"]
            for b in agg["buckets"]:
                counts[str(b["key"]["d"])] = int(b["doc_count"])
            after = agg.get("after_key")
            if not agg["buckets"] or not after:
                return counts

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


def _total(answer: dict[str, Any]) -> int:
    return int(answer["hits"]["total"]["value"])


def _suggest_body(text: str) -> dict[str, Any]:
    """The term suggester over the unstemmed `spell` words: for each query word that no
    passage holds (`missing`), the most frequent word within two edits."""
    return {"w": {"text": text, "term": {"field": "spell", "suggest_mode": "missing",
                                         "sort": "frequency", "min_word_length": 3, "max_edits": 2}}}


def _fixes(answer: dict[str, Any]) -> dict[str, str]:
    out = {}
    for entry in answer.get("suggest", {}).get("w", []):
        if entry.get("options"):
            out[entry["text"]] = entry["options"][0]["text"]
    return out


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def open_index(settings: Mapping[str, Any], resolver: Resolver | None = None) -> OpenSearchIndex:
    return OpenSearchIndex(settings, resolver)
