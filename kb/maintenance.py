"""Keeping the index and the catalog in agreement: `kb check` and `kb reindex`."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from kb.facade import KB


def check(kb: KB) -> dict[str, Any]:
    """Compare the catalog with the index passage by passage count per document.

    Returns {"ok": bool, "missing": [doc ids in the catalog, absent or short in the index],
    "orphans": [doc ids in the index, not in the catalog], "mismatched": [...],
    "pending": n documents not yet marked indexed}."""
    catalog = kb.catalog
    expected = {r[0]: r[1] for r in catalog.db.execute("SELECT doc_id, COUNT(*) FROM passages GROUP BY doc_id")}
    for doc_id in catalog.all_doc_ids():
        expected.setdefault(doc_id, 0)
    actual = kb.index.doc_ids()
    missing = sorted(d for d, n in expected.items() if n and d not in actual)
    orphans = sorted(d for d in actual if d not in expected)
    mismatched = sorted(d for d, n in expected.items() if d in actual and actual[d] != n)
    todo, gone = catalog.pending_index_work()
    return {"ok": not (missing or orphans or mismatched), "documents": len(expected),
            "passages": sum(expected.values()), "indexed_passages": sum(actual.values()),
            "missing": missing, "orphans": orphans, "mismatched": mismatched,
            "pending": len(todo) + len(gone)}


def _all_records(kb: KB) -> Iterator[dict[str, Any]]:
    for doc_id in kb.catalog.all_doc_ids():
        yield from kb.catalog.index_records(doc_id)


def reindex(kb: KB, progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Rebuild the whole index from the catalog alone (no re-extraction).

    The backend builds into a fresh folder and swaps it in, so a crash leaves the old index;
    documents are marked indexed only after the swap. The entity summaries the pages read
    (kb.summary) are recomputed from the mentions too: kept in step by every catalog write,
    they need this only as a repair."""
    kb.catalog.rebuild_summaries()
    total = kb.catalog.count_passages()
    doc_ids = kb.catalog.all_doc_ids()
    state = {"done": 0}

    def counted() -> Iterator[dict[str, Any]]:
        for rec in _all_records(kb):
            state["done"] += 1
            if progress and state["done"] % 500 == 0:
                progress({"event": "index", "done": state["done"], "total": total})
            yield rec

    kb.index.rebuild(counted())
    _, gone = kb.catalog.pending_index_work()
    kb.catalog.mark_indexed(doc_ids, gone)
    if progress:
        progress({"event": "done", "done": state["done"], "total": total})
    return {"documents": len(doc_ids), "passages": state["done"]}
