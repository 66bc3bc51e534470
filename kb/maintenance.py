"""Does the index agree with the catalog? (`kb check`; read-only. The repairs, `kb reindex`
and the sync after a crash, are writes: indexer.library.)"""
from __future__ import annotations

from typing import Any

from kb.facade import KB


def check(kb: KB) -> dict[str, Any]:
    """Compare the catalog with the index passage by passage count per document.

    Returns {"ok": bool, "missing": [doc ids in the catalog, absent or short in the index],
    "orphans": [doc ids in the index, not in the catalog], "mismatched": [...],
    "pending": n documents not yet marked indexed}."""
    catalog = kb.catalog
    expected = catalog.passage_counts()
    actual = kb.index.doc_ids()
    missing = sorted(d for d, n in expected.items() if n and d not in actual)
    orphans = sorted(d for d in actual if d not in expected)
    mismatched = sorted(d for d, n in expected.items() if d in actual and actual[d] != n)
    todo, gone = catalog.pending_index_work()
    return {"ok": not (missing or orphans or mismatched), "documents": len(expected),
            "passages": sum(expected.values()), "indexed_passages": sum(actual.values()),
            "missing": missing, "orphans": orphans, "mismatched": mismatched,
            "pending": len(todo) + len(gone)}
