"""The embedding step of an ingest: after the text index is committed, in the ingest process.

Why here and not in the extraction workers (measured, docs/hybrid-search.md): the workers
run each file under an address-space cap (`file_memory_mb`) beside pdfminer and spaCy, and
each would load its own copy of the model (~100 MB, a second); the ingest process is the
single writer anyway, loads the model once, and embeds in length-sorted batches across all
new documents (less padding than per file). On a Dask cluster the same holds: the workers
extract and tag, the ingest process embeds. Search works meanwhile, in bm25 mode.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kb.embed.fill import EmbedSummary, embed_missing
from kb.facade import KB

Progress = Callable[[dict[str, Any]], None]


def embed_all(kb: KB, progress: Progress | None = None) -> EmbedSummary:
    """Embed every passage without a vector of the current model (`kb embed`, the ingest)."""
    from kb.embed.model import get_embedder

    threads = int(kb.settings["embed_threads"])
    return embed_missing(kb.catalog, lambda: get_embedder(threads), progress)


def embed_after_ingest(kb: KB, progress: Progress | None = None, enabled: bool | None = None) -> dict[str, Any] | None:
    """Embed every passage without a vector; None when embeddings are off."""
    if enabled is None:
        enabled = bool(kb.settings["embeddings"])
    if not enabled:
        return None
    summary = embed_all(kb, progress)
    if progress and summary.embedded:
        progress({"event": "done", "done": summary.embedded, "total": summary.embedded})
    return summary.to_dict()
