"""The Whoosh implementation of :class:`kb.search.types.PassageIndex`.

Writes go through one Whoosh writer a batch, committed whole or cancelled. ``rebuild`` builds
a new generation and swaps it in atomically (kb.search.generations): a crash leaves the old or
the new index, never half of one, and searchers notice the swap. A search is parsed
(kb.search.query), evaluated with numpy (kb.search.engine) and turned into a page of hits
(kb.search.hits); filters, facets and sorts read per-segment columns (kb.search.facets).
"""
from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import index as windex
from whoosh import query as wq
from whoosh.index import LockError

from kb.errors import BusyError, IndexError_, InvalidInputError
from kb.search import generations, scoring, spelling
from kb.search import query as qmod
from kb.search.cursor import decode_cursor, encode_cursor
from kb.search.engine import Engine
from kb.search.facets import COLUMN_FIELDS, Columns, Vocab, read_segment
from kb.search.hits import highlight_terms, make_hit, page_of, result_order
from kb.search.result_cache import ResultCache, copy_result, request_key
from kb.search.schema import (
    SCHEMA_VERSION,
    TEXT_FIELDS,
    build_schema,
    record_to_doc,
    text_field_for,
)
from kb.search.types import FACET_FIELDS, Hit, PassageRecord, SearchRequest, SearchResult
from kb.search.whoosh_patches import apply as _apply_patches

_apply_patches()

Resolver = Callable[[str], list[tuple[str, str]]]

# A plain AND query with fewer hits than this is retried as OR (see docs/query-language.md).
AND_FALLBACK_BELOW = 3
SUGGEST_BELOW = 3
SORTS = ("relevance", "date", "title", "added")
WRITER_MB = 128


def open_index(path: Path, settings: Mapping[str, Any], resolver: Resolver | None = None) -> WhooshIndex:
    return WhooshIndex(Path(path), settings, resolver)


class WhooshIndex:
    def __init__(self, path: Path, settings: Mapping[str, Any], resolver: Resolver | None = None) -> None:
        self.path = path
        self.settings = dict(settings)
        self.resolver = resolver
        self.schema = build_schema()
        self.weighting = scoring.weighting()
        self._lock = threading.RLock()
        self._ix: Any = None
        self._searcher: Any = None
        self._current_stamp: Any = None
        self._vocabs: dict[str, Vocab] = {}
        self._segcache: dict[str, Any] = {}
        self._columns: tuple[Any, Columns] | None = None
        self.result_cache = ResultCache(int(self.settings.get("search_cache_size", 0)))
        self._open(create=True)

    # -- opening (generations on disk: kb.search.generations) -----------------
    def _open(self, create: bool) -> None:
        self._close_searcher()
        live = generations.live_dir(self.path)
        if live is None or not live.is_dir():
            if not create:
                raise IndexError_(f"no search index at {self.path}")
            live = generations.new_generation_dir(self.path)
            windex.create_in(str(live), self.schema)
            (live / "KB_SCHEMA").write_text(str(SCHEMA_VERSION))
            generations.publish(self.path, live)
        self._live = live
        self._current_stamp = generations.stamp(self.path)
        try:
            self._ix = windex.open_dir(str(live), schema=self.schema)
        except Exception:  # noqa: BLE001 — any failure to open means corrupt
            self._ix = None  # needs_rebuild() says so; search raises IndexError_

    def needs_rebuild(self) -> bool:
        live = generations.live_dir(self.path)
        if live is None or not live.is_dir():
            return True
        try:
            version = int((live / "KB_SCHEMA").read_text().strip())
        except (OSError, ValueError):
            return True
        if version != SCHEMA_VERSION:
            return True
        try:
            windex.open_dir(str(live)).close()
        except Exception:  # noqa: BLE001 — whatever Whoosh throws, the index is unusable
            return True
        return False

    def _require(self) -> Any:
        if generations.stamp(self.path) != self._current_stamp:
            self._open(create=False)  # another process rebuilt and swapped the index
        if self._ix is None or self.needs_rebuild_cached():
            raise IndexError_("the search index is missing, corrupt or of another schema version: run `kb reindex`")
        return self._ix

    def needs_rebuild_cached(self) -> bool:
        key = ("nr", self._current_stamp)
        cached = getattr(self, "_nr", None)
        if cached is None or cached[0] != key:
            self._nr = (key, self.needs_rebuild())
        return self._nr[1]

    # -- writing ---------------------------------------------------------------
    def _writer(self, ix: Any) -> Any:
        timeout = float(self.settings.get("lock_timeout", 30.0))
        deadline = time.monotonic() + timeout
        while True:
            try:
                return ix.writer(limitmb=WRITER_MB, procs=1)
            except LockError:
                if time.monotonic() >= deadline:
                    raise BusyError(f"the search index is locked by another writer (waited {timeout:g}s); "
                                    "try again when the running ingest or reindex has finished") from None
                time.sleep(0.05)

    def index_passages(self, records: Iterable[PassageRecord]) -> int:
        """Add passages; the passages a batch's documents had before are replaced. One
        writer, committed only when the whole batch went in; otherwise cancelled."""
        return self.update_documents((), records)

    def delete_document(self, doc_id: str) -> None:
        self.update_documents([doc_id], ())

    def update_documents(self, doc_ids: Iterable[str], records: Iterable[PassageRecord]) -> int:
        """In one commit: drop every passage of `doc_ids` and of the documents in `records`,
        then add `records`. Any exception cancels the writer: the index is left as it was."""
        with self._lock:
            ix = self._require()
            writer = self._writer(ix)
            n = 0
            try:
                seen: set[str] = set()
                for doc_id in doc_ids:
                    if doc_id not in seen:
                        seen.add(doc_id)
                        writer.delete_by_term("doc_id", doc_id)
                for rec in records:
                    doc = record_to_doc(rec)
                    if doc["doc_id"] not in seen:
                        seen.add(doc["doc_id"])
                        writer.delete_by_term("doc_id", doc["doc_id"])
                    writer.add_document(**doc)
                    n += 1
            except BaseException:
                writer.cancel()
                raise
            writer.commit()
            return n

    def build_id(self) -> str:
        """Changes with every commit and every rebuild (export provenance)."""
        with self._lock:
            ix = self._require()
            return f"{self._live.name}.{ix.latest_generation()}"

    def rebuild(self, records: Iterable[PassageRecord]) -> int:
        """Build a fresh generation from `records` and swap it in atomically (kb reindex)."""
        with self._lock:
            gen = generations.new_generation_dir(self.path)
            n = 0
            try:
                ix = windex.create_in(str(gen), self.schema)
                writer = ix.writer(limitmb=WRITER_MB, procs=1)
                try:
                    for rec in records:
                        writer.add_document(**record_to_doc(rec))
                        n += 1
                except BaseException:
                    writer.cancel()
                    raise
                writer.commit(optimize=True)
                ix.close()
                (gen / "KB_SCHEMA").write_text(str(SCHEMA_VERSION))
            except BaseException:
                shutil.rmtree(gen, ignore_errors=True)
                raise
            old = generations.live_dir(self.path)
            generations.publish(self.path, gen)
            self._open(create=False)
            if old is not None and old != gen:
                shutil.rmtree(old, ignore_errors=True)
            return n

    # -- reading ---------------------------------------------------------------
    def _searcher_now(self) -> Any:
        ix = self._require()
        s = self._searcher
        if s is None:
            s = self._searcher = ix.searcher(weighting=self.weighting)
        elif not s.up_to_date():
            # Not s.refresh(): it reuses the reader of a segment whose id did not change and
            # so misses deletions committed into that segment since. The old searcher is not
            # closed here: a running export (iter_all) may still read from it; it is freed
            # when the last reference goes.
            self._searcher = s = ix.searcher(weighting=self.weighting)
        return s

    def _columns_for(self, searcher: Any) -> Columns:
        reader = searcher.reader()
        if self._columns is not None and self._columns[0] is reader:
            return self._columns[1]
        leaves = reader.leaf_readers()
        segs = []
        keep = set()
        for leaf, _off in leaves:
            seg_obj = leaf.segment() if hasattr(leaf, "segment") else None
            segid = seg_obj.segment_id() if seg_obj is not None else f"reader-{id(leaf)}"
            keep.add(segid)
            seg = self._segcache.get(segid)
            if seg is None:
                seg = self._segcache[segid] = read_segment(leaf, self._vocabs)
            segs.append(seg)
        for segid in list(self._segcache):
            if segid not in keep:
                del self._segcache[segid]
        cols = Columns(leaves, segs, self._vocabs)
        self._columns = (reader, cols)
        return cols

    def _text_fields(self, searcher: Any) -> list[str]:
        # Only language fields that hold something: each extra field costs a lookup per word.
        names = set(searcher.reader().indexed_field_names())
        return [f for f in TEXT_FIELDS if f == "text" or f in names]

    def _match(self, searcher: Any, q: wq.Query | None, fq: wq.Query | None, cols: Columns,
               deadline: float) -> tuple[np.ndarray, np.ndarray, bool]:
        """Every matching doc number and its score (kb.search.engine); stops at the deadline."""
        if q is None and fq is None:
            docs = cols.live_docs().astype(np.int64)
            return docs, np.zeros(len(docs)), False
        full = fq if q is None else (q if fq is None else wq.And([q, fq]))
        w = self.weighting
        eng = Engine(searcher, cols, float(w.K1), float(w.B), deadline)
        docs, scores = eng.run(full)
        return docs, scores, eng.truncated

    def _prepare(self, request: SearchRequest, searcher: Any = None) -> dict[str, Any]:
        if request.sort not in SORTS:
            raise InvalidInputError(f"sort must be one of {', '.join(SORTS)}, not {request.sort!r}")
        max_pp = int(self.settings.get("max_page_size", 100))
        if not 1 <= int(request.per_page) <= max_pp:
            raise InvalidInputError(f"per_page must be between 1 and {max_pp}")
        if int(request.page) < 1:
            raise InvalidInputError("page must be 1 or more")
        s = searcher if searcher is not None else self._searcher_now()
        cols = self._columns_for(s)
        filters = dict(request.filters or {})
        fq = qmod.filter_query(filters, cols)
        if request.doc_id:
            doc_term = wq.ConstantScoreQuery(wq.Term("doc_id", request.doc_id), 0.0)
            fq = doc_term if fq is None else wq.And([fq, doc_term])
        q_text = request.q or ""
        corrected = spelling.correct(q_text, s.reader(), self.resolver) if request.correct else None
        if corrected:
            q_text = corrected
        mode = qmod.choose_mode(q_text)
        fields = self._text_fields(s)
        q = qmod.parse(q_text, self.schema, fields, mode, self.resolver, cols, s.reader(), self.settings)
        # The budget starts after parsing: the first query also loads the entity registry.
        deadline = time.monotonic() + float(self.settings.get("query_time_budget", 2.0))
        docs, scores, truncated = self._match(s, q, fq, cols, deadline)
        # Quotes alone do not stop the retry: `who presented "digital divide" in the Pacific`
        # keeps its phrase, and the other words become optional.
        unquoted = q_text.replace('"', " ")
        if (mode == "and" and q is not None and len(docs) < AND_FALLBACK_BELOW and not truncated
                and qmod.is_plain(unquoted) and len(qmod.plain_words(unquoted)) > 1):
            q2 = qmod.parse(q_text, self.schema, fields, "or", self.resolver, cols, s.reader(), self.settings)
            docs2, scores2, truncated2 = self._match(s, q2, fq, cols, deadline)
            # A complete AND result is never replaced by a cut-short OR one.
            if len(docs2) > len(docs) and not truncated2:
                q, docs, scores, mode = q2, docs2, scores2, "or"
        qhash = hashlib.sha1(repr((q_text, sorted((k, sorted(map(str, v))) for k, v in filters.items()),
                                   request.sort, request.doc_id, request.max_per_document,
                                   request.correct)).encode()).hexdigest()[:12]
        return {"searcher": s, "cols": cols, "q": q, "docs": docs, "scores": scores, "truncated": truncated,
                "qhash": qhash, "mode": mode, "corrected": corrected}

    def search(self, request: SearchRequest) -> SearchResult:
        t0 = time.perf_counter()
        with self._lock:
            s = self._searcher_now()
            # The build this searcher reads: any commit or rebuild changes it (see result_cache).
            build = (self._live.name, s.reader().generation(), id(s))
            key = request_key(request)
            cached = self.result_cache.get(build, key)
            if cached is not None:
                return copy_result(cached, (time.perf_counter() - t0) * 1000)
            result = self._search(request, s, t0)
            # A cut-short result depends on timing, not on the request: never cached.
            if not result.truncated and self.result_cache.size:
                self.result_cache.put(build, key, result)
                return copy_result(result, result.took_ms)
            return result

    def _search(self, request: SearchRequest, s: Any, t0: float) -> SearchResult:
        st = self._prepare(request, s)
        s, cols, docs, scores = st["searcher"], st["cols"], st["docs"], st["scores"]
        per_page = int(request.per_page)
        offset = (int(request.page) - 1) * per_page
        if request.cursor:
            offset = decode_cursor(request.cursor, st["qhash"])
        cap = 0 if request.doc_id else int(request.max_per_document or 0)
        picked, next_offset = page_of(docs, scores, request.sort, cols, offset, per_page, cap)
        terms = highlight_terms(st["q"], s) if request.highlight else {}
        hits = [make_hit(s, self.schema, int(docs[i]), float(scores[i]), terms) for i in picked]
        facets = cols.count(docs, FACET_FIELDS, int(request.facet_limit)) if request.facets else {}
        # A corrected query is also the suggestion (clients that only read `suggestion`
        # still learn the spelling the index knows); otherwise did-you-mean when results are few.
        suggestion = st["corrected"]
        if suggestion is None and request.q and len(docs) < SUGGEST_BELOW:
            suggestion = spelling.suggest(request.q, s.reader(), self.resolver)
        return SearchResult(
            total=len(docs), hits=hits, facets=facets, page=offset // per_page + 1, per_page=per_page,
            next_cursor=encode_cursor(next_offset, st["qhash"]) if next_offset is not None else None,
            suggestion=suggestion, corrected_query=st["corrected"], query=request.q,
            took_ms=(time.perf_counter() - t0) * 1000,
            truncated=bool(st["truncated"]))

    def iter_all(self, request: SearchRequest) -> Iterator[Hit]:
        """Every match in result order (no per-document cap), hit objects made lazily."""
        with self._lock:
            st = self._prepare(request)
            s, cols, docs, scores = st["searcher"], st["cols"], st["docs"], st["scores"]
            order = result_order(docs, scores, request.sort, cols)
            terms = highlight_terms(st["q"], s) if request.highlight else {}
        for i in order:
            with self._lock:
                yield make_hit(s, self.schema, int(docs[i]), float(scores[i]), terms)

    # -- more like this, suggestions ------------------------------------------
    def more_like(self, passage_id: str, limit: int = 10) -> list[Hit]:
        with self._lock:
            s = self._searcher_now()
            docnum = s.document_number(id=passage_id)
            if docnum is None:
                from kb.errors import NotFoundError

                raise NotFoundError(f"no passage {passage_id!r} in the index")
            f = s.stored_fields(docnum)
            field = text_field_for(f.get("lang"))
            text = " ".join(x for x in (f.get("title"), f.get("heading"), f.get("body")) if x)
            results = s.more_like(docnum, field, text=text, top=limit, numterms=12)
            terms: dict[str, set[str]] = {}
            return [make_hit(s, self.schema, r.docnum, float(r.score or 0.0), terms) for r in results]

    def suggest(self, q: str) -> str | None:
        with self._lock:
            qmod.check_length(q, self.settings)
            return spelling.suggest(q, self._searcher_now().reader(), self.resolver)

    # -- figures ---------------------------------------------------------------
    def doc_ids(self) -> dict[str, int]:
        with self._lock:
            s = self._searcher_now()
            cols = self._columns_for(s)
            live = cols.doc_key[cols.live & (cols.doc_key >= 0)]
            counts = np.bincount(live, minlength=len(self._vocabs["doc_id"].values)) if len(live) else []
            values = self._vocabs["doc_id"].values
            return {values[i]: int(c) for i, c in enumerate(counts) if c}

    def stats(self) -> dict[str, Any]:
        with self._lock:
            s = self._searcher_now()
            size = sum(p.stat().st_size for p in self._live.iterdir() if p.is_file())
            return {
                "backend": "whoosh", "schema_version": SCHEMA_VERSION, "passages": s.doc_count(),
                "documents": len(self.doc_ids()), "segments": len(s.reader().leaf_readers()),
                "generation": self._ix.latest_generation(), "size_bytes": size,
                "needs_rebuild": self.needs_rebuild(), "path": str(self.path),
            }

    def _close_searcher(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
        self._columns = None
        self._segcache.clear()
        if self._ix is not None:
            self._ix.close()
            self._ix = None

    def close(self) -> None:
        with self._lock:
            self._close_searcher()


__all__ = ["COLUMN_FIELDS", "SCHEMA_VERSION", "WhooshIndex", "open_index"]
