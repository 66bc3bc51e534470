"""Catalog -> index: the one place the search index is written from the catalog.

Order of writes (crash safety): documents reach the catalog marked "not indexed" (and
deletions are queued in ``index_deletes``) in one transaction; the index is brought up to
date from the catalog in batches; then the documents are marked indexed. A crash at any
point leaves work that the next sync (every write of indexer.library starts with one) or
`kb reindex` finds in the catalog and finishes. The crash points are test hooks
(indexer.pipeline.crash_point).

These functions take no lock: the public write functions of indexer.library hold the
home's write lock around them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from indexer.pipeline import INDEX_BATCH_DOCS, INDEX_BATCH_PASSAGES, crash_point
from kb.facade import KB
from kb.records import passage_records
from kb.search.types import PassageRecord

Progress = Callable[[dict[str, Any]], None]


def sync_index(kb: KB, progress: Progress | None = None) -> dict[str, int]:
    """Bring the search index up to date with the catalog: documents marked not indexed are
    (re)written, deleted documents removed; then they are marked indexed."""
    catalog = kb.catalog
    todo, gone = catalog.pending_index_work()
    if not todo and not gone:
        return {"indexed": 0, "deleted": 0}
    index = kb.index
    done = 0
    deletes = list(gone)  # removed with the first batch
    for chunk, records in _index_batches(catalog, todo):
        crash_point("index")
        index.update_documents(chunk + deletes, records)
        crash_point("indexed")  # the index committed, the catalog not yet told
        catalog.mark_indexed(chunk, deletes)
        done += len(chunk)
        if progress:
            progress({"event": "index", "done": done, "total": len(todo)})
        deletes = []
    return {"indexed": len(todo), "deleted": len(gone)}


def _index_batches(catalog: Any, todo: list[str]) -> Iterator[tuple[list[str], list[PassageRecord]]]:
    """Documents and their passage records in commits of at most INDEX_BATCH_DOCS documents
    or INDEX_BATCH_PASSAGES passages; one empty batch when there is nothing to write (the
    deletions still need their commit)."""
    chunk: list[str] = []
    records: list[PassageRecord] = []
    for doc_id in todo:
        chunk.append(doc_id)
        records.extend(passage_records(catalog, doc_id))
        if len(chunk) >= INDEX_BATCH_DOCS or len(records) >= INDEX_BATCH_PASSAGES:
            yield chunk, records
            chunk, records = [], []
    if chunk or not todo:
        yield chunk, records


def all_records(kb: KB) -> Iterator[PassageRecord]:
    """Every passage record of the catalog, document by document."""
    for doc_id in kb.catalog.all_doc_ids():
        yield from passage_records(kb.catalog, doc_id)


def reindex(kb: KB, progress: Progress | None = None) -> dict[str, Any]:
    """Rebuild the whole index from the catalog alone (no re-extraction).

    The backend builds into a fresh folder and swaps it in, so a crash leaves the old index;
    documents are marked indexed only after the swap. The entity summaries the pages read
    (kb.summary) are recomputed from the mentions too: kept in step by every catalog write,
    they need this only as a repair."""
    kb.catalog.rebuild_summaries()
    total = kb.catalog.count_passages()
    doc_ids = kb.catalog.all_doc_ids()
    state = {"done": 0}

    def counted() -> Iterator[PassageRecord]:
        for rec in all_records(kb):
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
