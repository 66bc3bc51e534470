"""Embed the passages that have no vector of the current model yet, in commits of CHUNK.

Runs after the text index is committed (kb ingest, `kb embed`): search works meanwhile in
bm25 mode, and hybrid becomes the default once every passage has a vector. Each chunk is
its own transaction, so an interrupted run keeps what it embedded and the next run goes on.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from kb.embed import vectors

# Passages embedded between two catalog commits: ~10-40 s of work on two cores, so a
# crash loses little and the write lock is held only for the INSERTs.
CHUNK = 256

Progress = Callable[[dict[str, Any]], None]


class TextEmbedder(Protocol):
    model_id: str

    def embed(self, texts: list[str], batch: int = ..., progress: Any = None) -> np.ndarray: ...


@dataclass
class EmbedSummary:
    model: str
    embedded: int  # passages embedded by this run
    total: int  # passages in the catalog
    seconds: float
    dropped: int = 0  # vectors of other models removed

    @property
    def per_second(self) -> float:
        return self.embedded / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "per_second": round(self.per_second, 1)}

    def line(self) -> str:
        if not self.embedded:
            return f"embed: every passage has a vector ({self.total} passages, model {self.model})"
        noun = "passage" if self.embedded == 1 else "passages"
        return (f"embed: {self.embedded} {noun} embedded in {self.seconds:.1f} s "
                f"({self.per_second:.1f}/s), {self.total} passages, model {self.model}")


def embed_missing(catalog: Any, embedder: TextEmbedder | Callable[[], TextEmbedder],
                  progress: Progress | None = None, chunk: int = CHUNK) -> EmbedSummary:
    """`embedder` may be a factory, called only when some passage lacks a vector (loading
    the model costs a second and ~100 MB; an up-to-date catalog should not pay it)."""
    db = catalog.db
    t0 = time.perf_counter()
    model = getattr(embedder, "model_id", None) or _model_id()
    with catalog.transaction():
        dropped = vectors.drop_other_models(db, model)
    todo = vectors.count_missing(db, model)
    total = catalog.count_passages()
    done = 0
    if todo:
        emb = embedder if hasattr(embedder, "embed") else embedder()
        if progress:
            progress({"event": "embed", "done": 0, "total": todo})
        while True:
            batch = list(vectors.missing(db, model, chunk))
            if not batch:
                break
            vecs = emb.embed([t for _pid, t in batch])
            with catalog.transaction():
                vectors.put(db, model, zip([pid for pid, _t in batch], vecs))
            done += len(batch)
            if progress:
                progress({"event": "embed", "done": done, "total": todo})
            if len(batch) < chunk:
                break
    return EmbedSummary(model=model, embedded=done, total=total,
                        seconds=round(time.perf_counter() - t0, 2), dropped=dropped)


def _model_id() -> str:
    from kb.embed.model import MODEL_ID

    return MODEL_ID
