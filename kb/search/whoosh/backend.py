"""The Whoosh backend (kb.search.types.SearchBackend): passages in a Whoosh index on disk.

Writes go through one Whoosh writer a batch, committed whole or cancelled. ``rebuild`` builds
a new generation and swaps it in atomically (kb.search.generations): a crash leaves the old or
the new index, never half of one, and searchers notice the swap. A query tree is compiled
(kb.search.whoosh.compile), evaluated with numpy (kb.search.whoosh.engine) and turned into a
page of hits (kb.search.whoosh.hits); filters, facets and sorts read per-segment columns
(kb.search.whoosh.columns). The search policy is the service's (kb.search.service).
"""
from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import index as windex
from whoosh import query as wq
from whoosh.index import LockError

from kb.errors import BusyError, IndexError_, NotFoundError
from kb.search import generations
from kb.search.types import BackendPage, BackendQuery, Hit, PassageRecord
from kb.search.whoosh import scoring
from kb.search.whoosh.columns import COLUMN_FIELDS, Columns, Vocab, read_segment
from kb.search.whoosh.compile import Compiler, filter_query
from kb.search.whoosh.engine import Engine
from kb.search.whoosh.hits import (
    PassageCache,
    highlight_terms,
    light_hit,
    make_hit,
    page_of,
    result_order,
)
from kb.search.whoosh.patches import apply as _apply_patches
from kb.search.whoosh.postings import live_keys
from kb.search.whoosh.schema import (
    SCHEMA_VERSION,
    TEXT_FIELDS,
    build_schema,
    record_to_doc,
    text_field_for,
)
from kb.search.whoosh.vocabulary import WhooshVocabulary

_apply_patches()

WRITER_MB = 128


class WhooshBackend:
    name = "whoosh"

    def __init__(self, path: Path, settings: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.settings = dict(settings)
        self.schema = build_schema()
        self.compiler = Compiler(self.schema, float(self.settings.get("title_weight", 2.0)))
        k1 = float(self.settings.get("bm25_k1", scoring.K1))
        b = float(self.settings.get("bm25_b", scoring.B))
        self.weighting = scoring.weighting(k1, b)
        self._lock = threading.RLock()
        self._ix: Any = None
        self._searcher: Any = None
        self._passages: PassageCache | None = None
        self._vocabulary: WhooshVocabulary | None = None
        self._current_stamp: Any = None
        self._vocabs: dict[str, Vocab] = {}
        self._segcache: dict[str, Any] = {}
        self._columns: tuple[Any, Columns] | None = None
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
        """Changes with every commit and every rebuild: the generation the current searcher
        reads (refreshed first, so a search right after sees the same build)."""
        with self._lock:
            s = self._searcher_now()
            return f"{self._live.name}.{s.reader().generation()}"

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

    def _passages_of(self, searcher: Any) -> PassageCache:
        """The stored-passage cache of this searcher (a new searcher: a new, empty one)."""
        cache = self._passages
        if cache is None or cache.searcher is not searcher:
            cache = self._passages = PassageCache(searcher, self.schema)
        return cache

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
        """Every matching doc number and its score (kb.search.whoosh.engine); stops at the deadline."""
        if q is None and fq is None:
            docs = cols.live_docs().astype(np.int64)
            return docs, np.zeros(len(docs)), False
        full = fq if q is None else (q if fq is None else wq.And([q, fq]))
        w = self.weighting
        eng = Engine(searcher, cols, float(w.K1), float(w.B), deadline)
        docs, scores = eng.run(full)
        return docs, scores, eng.truncated

    def search(self, query: BackendQuery) -> BackendPage:
        with self._lock:
            s = self._searcher_now()
            cols, q, docs, scores, truncated = self._matches(s, query)
            picked, next_offset = page_of(docs, scores, query.sort, cols, int(query.offset), int(query.limit),
                                          int(query.max_per_document or 0))
            if query.highlight and query.mark is not None:
                q = self.compiler.compile(query.mark, self._text_fields(s), cols, s.reader(), self.settings)
            terms = highlight_terms(q, s) if query.highlight else {}
            passages = self._passages_of(s)
            if query.light:
                hits = [light_hit(passages, int(docs[i]), float(scores[i])) for i in picked]
            else:
                hits = [make_hit(passages, int(docs[i]), float(scores[i]), terms) for i in picked]
            counted, found = docs, ()
            if query.union_ids:
                found, found_docs = self._found(s, cols, query)
                # The few ids BM25 did not match, appended: np.union1d sorted every match
                # (6 ms for 60k matches); isin on integers is a table lookup.
                counted = np.concatenate([docs, found_docs[~np.isin(found_docs, docs)]])
            facets = cols.count(counted, query.facet_fields, int(query.facet_limit)) if query.facet_fields else {}
            return BackendPage(total=len(docs), hits=hits, facets=facets, next_offset=next_offset,
                               truncated=bool(truncated),
                               union_total=len(counted) if query.union_ids else None, union_found=found)

    def _found(self, s: Any, cols: Columns, query: BackendQuery) -> tuple[tuple[str, ...], np.ndarray]:
        """The union ids the index holds under the query's filters, with their doc numbers:
        one postings lookup an id (a unique key), checked against the live documents and
        the filters' matches."""
        fq = self._filter(query, cols)
        allowed = None
        if fq is not None:
            allowed, _scores, _cut = self._match(s, None, fq, cols, float("inf"))  # filters are never cut short
        found, nums_a = live_keys(cols.leaves, cols.live, self.schema["id"], "id", query.union_ids)
        if allowed is not None and len(nums_a):
            keep = np.isin(nums_a, allowed)
            found = [p for p, k in zip(found, keep) if k]
            nums_a = nums_a[keep]
        return tuple(found), nums_a

    def iter_hits(self, query: BackendQuery) -> Iterator[Hit]:
        """Every match in result order, hit objects made lazily."""
        with self._lock:
            s = self._searcher_now()
            cols, q, docs, scores, _truncated = self._matches(s, query)
            order = result_order(docs, scores, query.sort, cols)[int(query.offset):]
            terms = highlight_terms(q, s) if query.highlight else {}
            # Its own cache: an export reads every match once, which would only churn the
            # cache the page searches share.
            passages = PassageCache(s, self.schema, max_passages=0, words=bool(terms))
        for i in order:
            with self._lock:
                yield make_hit(passages, int(docs[i]), float(scores[i]), terms)

    def _matches(self, s: Any, query: BackendQuery) -> tuple[Columns, Any, np.ndarray, np.ndarray, bool]:
        cols = self._columns_for(s)
        fq = self._filter(query, cols)
        q = None
        if query.query is not None:
            q = self.compiler.compile(query.query, self._text_fields(s), cols, s.reader(), self.settings)
        docs, scores, truncated = self._match(s, q, fq, cols, query.deadline)
        return cols, q, docs, scores, truncated

    @staticmethod
    def _filter(query: BackendQuery, cols: Columns) -> wq.Query | None:
        """The query's filters and document restriction as one Whoosh query (None: none)."""
        fq = filter_query(dict(query.filters or {}), cols)
        if query.doc_id:
            doc_term = wq.ConstantScoreQuery(wq.Term("doc_id", query.doc_id), 0.0)
            fq = doc_term if fq is None else wq.And([fq, doc_term])
        return fq

    # -- more like this, vocabulary ---------------------------------------------------
    def more_like(self, passage_id: str, limit: int = 10) -> list[Hit]:
        with self._lock:
            s = self._searcher_now()
            docnum = s.document_number(id=passage_id)
            if docnum is None:
                raise NotFoundError(f"no passage {passage_id!r} in the index")
            f = s.stored_fields(docnum)
            field = text_field_for(f.get("lang"))
            text = " ".join(x for x in (f.get("title"), f.get("heading"), f.get("body")) if x)
            results = s.more_like(docnum, field, text=text, top=limit, numterms=12)
            terms: dict[str, set[str]] = {}
            passages = self._passages_of(s)
            return [make_hit(passages, r.docnum, float(r.score or 0.0), terms) for r in results]

    def vocabulary(self) -> WhooshVocabulary:
        """The spelling words of the current reader; one object per reader (its word sets and
        corrector depend on the index build only), asked for by every corrected search."""
        with self._lock:
            reader = self._searcher_now().reader()
            vocab = self._vocabulary
            if vocab is None or vocab.reader is not reader:
                vocab = self._vocabulary = WhooshVocabulary(reader)
            return vocab

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
        self._passages = None
        self._vocabulary = None
        self._segcache.clear()
        if self._ix is not None:
            self._ix.close()
            self._ix = None

    def close(self) -> None:
        with self._lock:
            self._close_searcher()


__all__ = ["COLUMN_FIELDS", "SCHEMA_VERSION", "WhooshBackend"]
