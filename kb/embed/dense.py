"""The passages' vectors as one float32 matrix, ranked against a query vector (numpy).
Loaded once per vector state and cached; the state is two meta counters of the catalog
(`vectors`, raised by every vector write, and `changes`, raised by every document write),
read once per search: `view()` gives the search that state, its cache key and its ranking.

Ranking (measured with `python -m bench hybrid`): below SHORTLIST_FROM passages every
passage's dot product is computed (a few MB of float32, about a millisecond). From there on,
reading the whole matrix (147 MB at 100k passages) is memory-bound and was most of a hybrid
search's time, so the passages' sign codes (kb.embed.shortlist, 4.8 MB at 100k) pick a
shortlist of SHORTLIST_SHARE of them (at least SHORTLIST_PER_K times k) and only those get
an exact dot product. Scores are always exact cosines; only a passage the codes put outside
the shortlist can be missed.
"""
from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from kb.embed import vectors
from kb.embed.model import MODEL_ID
from kb.embed.shortlist import Codes

QUERY_CACHE = 256  # query vectors kept per process (a page turn re-uses its query's vector)
# Below this many passages the exact scan costs about what the shortlist would (~1 ms).
SHORTLIST_FROM = 20_000
# The shortlist: SHORTLIST_PER_K x k passages nearest by sign code, and never under
# SHORTLIST_SHARE of the collection (a larger collection packs more passages near any query).
# 40 x k kept all of the exact top k on real vectors at 100k's ratio of k to passages
# (recall measured: kb.embed.shortlist); at 100k it is 2,000 rows to read, not 5,000: the
# rows' reading was the largest part of the vectors' time a search.
SHORTLIST_SHARE = 0.02
SHORTLIST_PER_K = 40


_blas: ThreadpoolController | None = None


def _one_blas_thread() -> Any:
    """The BLAS library limited to one thread for the duration (15 us). A matrix-vector
    product is memory-bound: a second thread adds little bandwidth, and on a busy machine
    (every web worker, other jobs) it spins for its share. Measured at 100k passages on the
    shared 2-core machine (load ~9): 36 ms of CPU a hybrid search with two threads, 14 with one."""
    global _blas
    if _blas is None:
        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")


@dataclass(frozen=True)
class DenseState:
    """Whether hybrid can run, and if not why (shown with the results)."""
    ready: bool
    vectors: int
    passages: int
    reason: str = ""


@dataclass
class _Matrix:
    key: tuple[str, str]
    ids: list[str]
    rows: dict[str, int]
    docs: dict[str, str]  # passage id -> document id (the UI's per-document grouping)
    matrix: np.ndarray
    state: DenseState
    codes: Codes | None = None  # only from SHORTLIST_FROM passages on


class DenseView:
    """The vectors as one search sees them: the catalog's state read once (the mode, the
    result-cache key and the ranking of one request agree, and cost one small query)."""

    def __init__(self, index: DenseIndex, loaded: _Matrix | None, state: DenseState) -> None:
        self._index = index
        self._m = loaded
        self.state = state
        self.key = loaded.key if loaded else ("", "")

    def top(self, text: str, k: int) -> list[tuple[str, float]]:
        """The k passages nearest the query (cosine), best first."""
        m = self._m
        if m is None or not m.ids or k <= 0:
            return []
        return self.top_vector(self._index.query_vector(text), k)

    def top_vector(self, q: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The k passages nearest a unit query vector, best first."""
        m = self._m
        if m is None or not m.ids or k <= 0:
            return []
        k = min(k, len(m.ids))
        size = self._index.shortlist_size(len(m.ids), k)
        with _one_blas_thread():
            if m.codes is not None and size < len(m.ids):
                rows = m.codes.nearest(q, size)
                scores = m.matrix[rows] @ q
            else:
                rows, scores = None, m.matrix @ q
        part = np.argpartition(scores, len(scores) - k)[len(scores) - k:]
        best = part[np.argsort(-scores[part], kind="stable")]
        picked = rows[best] if rows is not None else best
        return [(m.ids[i], float(s)) for i, s in zip(picked, scores[best])]

    def scores(self, text: str, passage_ids: list[str]) -> dict[str, float]:
        """Exact cosine of the query with each passage that has a vector."""
        m = self._m
        if m is None or not m.ids:
            return {}
        rows = [(p, m.rows[p]) for p in passage_ids if p in m.rows]
        if not rows:
            return {}
        s = m.matrix[[r for _p, r in rows]] @ self._index.query_vector(text)
        return {p: float(v) for (p, _r), v in zip(rows, s)}

    def doc_of(self, passage_id: str) -> str:
        return self._m.docs.get(passage_id, "") if self._m else ""

    def vectors(self) -> tuple[list[str], np.ndarray]:
        """(passage ids, their float32 matrix, one row each), as loaded; not to be modified."""
        m = self._m
        return (m.ids, m.matrix) if m else ([], np.zeros((0, 1), np.float32))

    @property
    def shortlisted(self) -> bool:
        """Whether a query scores a sign-code shortlist rather than every passage."""
        return self._m is not None and self._m.codes is not None


class DenseIndex:
    def __init__(self, catalog_path: Path, embedder: Callable[[], object], model_id: str = MODEL_ID,
                 shortlist_from: int = SHORTLIST_FROM) -> None:
        """embedder: a factory (the model is loaded on the first hybrid query only).
        shortlist_from: passages from which a query scores a sign-code shortlist only."""
        self.catalog_path = Path(catalog_path)
        self.shortlist_from = shortlist_from
        self.model_id = model_id
        self._embedder_factory = embedder
        self._embedder = None
        self._loaded: _Matrix | None = None
        self._lock = threading.Lock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._local = threading.local()

    def _connect(self) -> sqlite3.Connection:
        """One read-only connection per thread, kept: opening one cost ~1 ms, a third of a
        hybrid search's own work at 20k passages."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(f"file:{self.catalog_path}?mode=ro", uri=True, timeout=5,
                                                  check_same_thread=False)
        return db

    def view(self) -> DenseView:
        """The current vectors (reloaded when the catalog's vectors or documents changed),
        after one read of the catalog's two counters."""
        if not self.catalog_path.exists():
            return DenseView(self, None, DenseState(False, 0, 0, "no catalog"))
        try:
            db = self._connect()
        except sqlite3.Error:
            return DenseView(self, None, DenseState(False, 0, 0, "no catalog"))
        try:
            key = vectors.state_key(db)
            loaded = self._loaded
            if loaded is None or loaded.key != key:
                loaded = self._load(db, key)
            return DenseView(self, loaded, loaded.state)
        except sqlite3.Error as exc:  # an older catalog without the table, a locked file
            self._local.db = None
            return DenseView(self, None, DenseState(False, 0, 0, f"the catalog's vectors cannot be read: {exc}"))

    def _load(self, db: sqlite3.Connection, key: tuple[str, str]) -> _Matrix:
        with self._lock:
            if self._loaded is not None and self._loaded.key == key:
                return self._loaded
            docs = vectors.passage_documents(db)
            passages = len(docs)
            ids, matrix = vectors.load(db, self.model_id)
            if not ids:
                state = DenseState(False, 0, passages, "no passage has a vector yet (kb embed)")
            elif len(ids) < passages:
                state = DenseState(False, len(ids), passages,
                                   f"{len(ids)} of {passages} passages have vectors; embedding is not finished")
            else:
                state = DenseState(True, len(ids), passages)
            codes = Codes.of(matrix) if len(ids) >= self.shortlist_from else None
            self._loaded = _Matrix(key, ids, {p: i for i, p in enumerate(ids)}, docs, matrix, state, codes)
            return self._loaded

    def shortlist_size(self, passages: int, k: int) -> int:
        """Passages a query's k nearest are chosen from (all of them below the threshold)."""
        if passages < self.shortlist_from:
            return passages
        return min(passages, max(int(SHORTLIST_SHARE * passages), SHORTLIST_PER_K * k))

    # One-off conveniences (benchmarks, scripts): each reads the catalog's state once.
    def state(self) -> DenseState:
        return self.view().state

    def top(self, text: str, k: int) -> list[tuple[str, float]]:
        return self.view().top(text, k)

    def scores(self, text: str, passage_ids: list[str]) -> dict[str, float]:
        return self.view().scores(text, passage_ids)

    def query_vector(self, text: str) -> np.ndarray:
        with self._lock:
            vec = self._queries.get(text)
            if vec is not None:
                self._queries.move_to_end(text)
                return vec
            if self._embedder is None:
                self._embedder = self._embedder_factory()
        vec = self._embedder.embed_query(text)  # type: ignore[attr-defined]
        with self._lock:
            self._queries[text] = vec
            while len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        return vec
