"""Embeddings of benchmark corpora cached on disk, keyed by model id and text hash.

Embedding SciFact's 5,183 abstracts takes minutes on two cores; a KB home is rebuilt
whenever the extractor version changes, but the texts it embeds rarely do. The cache is
one SQLite file in bench-out/ (never committed); a rerun embeds only texts it has not seen.
"""
from __future__ import annotations

import hashlib
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import OUT

CACHE = OUT / "embeddings.sqlite"


class CachedEmbedder:
    """Looks like kb.embed.model.Embedder to kb.embed.fill.embed_missing."""

    def __init__(self, path: Path = CACHE, threads: int = 2) -> None:
        from kb.embed.model import MODEL_ID

        self.model_id = MODEL_ID
        self.threads = threads
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT, sha TEXT, vector BLOB, PRIMARY KEY (model, sha))")
        self.hits = self.misses = 0
        self.seconds = 0.0

    def _key(self, text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def embed(self, texts: list[str], batch: int = 32, progress: Any = None) -> np.ndarray:
        from kb.embed.model import DIM, get_embedder

        keys = [self._key(t) for t in texts]
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        todo = []
        for i, k in enumerate(keys):
            row = self.db.execute("SELECT vector FROM vectors WHERE model = ? AND sha = ?", (self.model_id, k)).fetchone()
            if row:
                out[i] = np.frombuffer(row[0], dtype=np.float32)
            else:
                todo.append(i)
        self.hits += len(texts) - len(todo)
        if todo:
            t0 = time.perf_counter()
            vecs = get_embedder(self.threads).embed([texts[i] for i in todo])
            self.seconds += time.perf_counter() - t0
            self.misses += len(todo)
            out[todo] = vecs
            self.db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                                [(self.model_id, keys[i], vecs[j].astype(np.float32).tobytes())
                                 for j, i in enumerate(todo)])
            self.db.commit()
        return out

    @property
    def per_second(self) -> float:
        return self.misses / self.seconds if self.seconds else 0.0


def ensure_vectors(kb: Any, label: str, embedder: CachedEmbedder | None = None) -> CachedEmbedder:
    """Every passage of `kb` gets its vector (from the cache where it has one), through the
    product's own embedding step."""
    from kb.embed.fill import embed_missing

    emb = embedder or CachedEmbedder()
    last = [0.0]

    def progress(event: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - last[0] > 10 or event["done"] == event["total"]:
            last[0] = now
            print(f"  {label}: embedded {event['done']}/{event['total']} passages", file=sys.stderr, flush=True)

    summary = embed_missing(kb.catalog, emb, progress)
    if summary.embedded:
        print(f"  {label}: {summary.embedded} passages given vectors in {summary.seconds:.0f}s "
              f"({emb.hits} from the cache, {emb.misses} embedded)", flush=True)
    return emb
