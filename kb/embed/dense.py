"""The passages' vectors as one float32 matrix, ranked against a query vector by exact dot
products (numpy). Loaded once per vector state and cached; the state is two meta counters
of the catalog (`vectors`, raised by every vector write, and `changes`, raised by every
document write), read with one small query per search.

Measured (python -m bench hybrid): 100k passages x 384 dims is 147 MB of float32 and one
query's dot products plus the top-K partition take a few milliseconds on this machine; no
approximate index is needed at this scale.
"""
from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.embed import vectors
from kb.embed.model import MODEL_ID

QUERY_CACHE = 256  # query vectors kept per process (a page turn re-uses its query's vector)


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


class DenseIndex:
    def __init__(self, catalog_path: Path, embedder: Callable[[], object], model_id: str = MODEL_ID) -> None:
        """embedder: a factory (the model is loaded on the first hybrid query only)."""
        self.catalog_path = Path(catalog_path)
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

    def _key(self, db: sqlite3.Connection) -> tuple[str, str]:
        rows = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('vectors', 'changes')").fetchall())
        return str(rows.get("vectors", "0")), str(rows.get("changes", "0"))

    def _current(self) -> _Matrix | None:
        """The cached matrix, reloaded when the catalog's vectors or documents changed."""
        if not self.catalog_path.exists():
            return None
        try:
            db = self._connect()
        except sqlite3.Error:
            return None
        try:
            key = self._key(db)
            loaded = self._loaded
            if loaded is not None and loaded.key == key:
                return loaded
            with self._lock:
                if self._loaded is not None and self._loaded.key == key:
                    return self._loaded
                passages = db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
                ids, matrix = vectors.load(db, self.model_id)
                if not ids:
                    state = DenseState(False, 0, passages, "no passage has a vector yet (kb embed)")
                elif len(ids) < passages:
                    state = DenseState(False, len(ids), passages,
                                       f"{len(ids)} of {passages} passages have vectors; embedding is not finished")
                else:
                    state = DenseState(True, len(ids), passages)
                docs = dict(db.execute("SELECT id, doc_id FROM passages").fetchall())
                self._loaded = _Matrix(key, ids, {p: i for i, p in enumerate(ids)}, docs, matrix, state)
                return self._loaded
        except sqlite3.Error as exc:  # an older catalog without the table, a locked file
            self._local.db = None
            return _Matrix(("", ""), [], {}, {}, np.zeros((0, 1), np.float32),
                           DenseState(False, 0, 0, f"the catalog's vectors cannot be read: {exc}"))

    def cache_key(self) -> tuple[str, str]:
        """Changes whenever a cached result's mode or dense ranking could: part of the
        search service's result-cache key."""
        try:
            db = self._connect()
        except sqlite3.Error:
            return ("", "")
        try:
            return self._key(db)
        except sqlite3.Error:
            self._local.db = None
            return ("", "")

    def state(self) -> DenseState:
        m = self._current()
        return m.state if m else DenseState(False, 0, 0, "no catalog")

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

    def top(self, text: str, k: int) -> list[tuple[str, float]]:
        """The k passages nearest the query (cosine), best first."""
        m = self._current()
        if m is None or not m.ids:
            return []
        scores = m.matrix @ self.query_vector(text)
        k = min(k, len(scores))
        part = np.argpartition(-scores, k - 1)[:k]
        best = part[np.argsort(-scores[part], kind="stable")]
        return [(m.ids[i], float(scores[i])) for i in best]

    def doc_of(self, passage_id: str) -> str:
        m = self._loaded
        return m.docs.get(passage_id, "") if m else ""

    def scores(self, text: str, passage_ids: list[str]) -> dict[str, float]:
        """Exact cosine of the query with each passage that has a vector."""
        m = self._current()
        if m is None or not m.ids:
            return {}
        q = self.query_vector(text)
        rows = [(p, m.rows[p]) for p in passage_ids if p in m.rows]
        if not rows:
            return {}
        s = m.matrix[[r for _p, r in rows]] @ q
        return {p: float(v) for (p, _r), v in zip(rows, s)}
