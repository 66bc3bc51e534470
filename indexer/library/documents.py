"""Documents in and out: ingest (files and folders), upload (one file a client sent),
delete. Each holds the home's write lock, starts by finishing what a crashed writer left
(sync), writes the catalog, then the index (indexer.library.indexing)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.embedstep import embed_after_ingest
from indexer.library.indexing import reindex as rebuild_index
from indexer.library.indexing import sync_index
from indexer.locking import ingest_lock
from indexer.pipeline import Progress, run_ingest
from kb.facade import KB


@contextmanager
def write_lock(kb: KB) -> Iterator[None]:
    """One writer per KB home at a time (ingest, upload, delete, curation, reindex): an
    advisory file lock, waited for `lock_timeout` seconds, then BusyError."""
    with ingest_lock(kb.home, float(kb.settings["lock_timeout"])):
        yield


def ingest(paths: Iterable[str | Path], kb: KB, workers: int | None = None, force: bool = False,
           prune: bool = False, passwords: dict[str, str] | None = None,
           progress: Progress | None = None, mapping: dict[str, str] | None = None,
           scheduler: str | None = None, embed: bool | None = None) -> dict[str, Any]:
    """Ingest files and folders into the KB (`kb ingest`, uploads, benchmarks); the summary
    of indexer.pipeline.run_ingest. An index of an older schema is rebuilt from the catalog
    first; the index is brought up to date every batch and at the end. embed: embed new
    passages after the index commit (default: the embeddings setting; summary key `embed`)."""
    with write_lock(kb):
        if kb.catalog.count_documents() and getattr(kb.index, "needs_rebuild", lambda: False)():
            # an index of an older schema (one without `added`, say): rebuilt from the catalog
            rebuild_index(kb, progress)
        sync_index(kb)  # finish what a crashed writer left
        summary = run_ingest(paths, kb, lambda: sync_index(kb), workers=workers, force=force,
                             prune=prune, passwords=passwords, progress=progress, mapping=mapping,
                             scheduler=scheduler)
        # search already answers (bm25) while the new passages are embedded
        return {**summary, "embed": embed_after_ingest(kb, progress, embed)}


@dataclass
class UploadResult:
    """What became of an uploaded file: added, updated, unchanged (same bytes already in the
    catalog) or failed (with the reason; the file and its failure row are not kept)."""

    status: str
    doc_id: str | None
    summary: dict[str, Any] | None
    failure: dict[str, Any] | None = None


def upload(kb: KB, path: Path, sha256: str) -> UploadResult:
    """Ingest one file saved under the home's uploads/ folder. Same bytes as a known
    document: nothing new is kept. A file that cannot be read is removed, with its failure
    row: it changes nothing."""
    existing = kb.catalog.doc_by_sha(sha256)
    if existing is not None:
        path.unlink(missing_ok=True)
        return UploadResult("unchanged", existing["id"], None)
    try:
        summary = ingest([path], kb, workers=1)
        failures = summary.get("failures") or []
        if summary.get("failed") or failures:
            with write_lock(kb), kb.catalog.transaction():
                for p in {str(path), str(path.resolve())}:
                    kb.catalog.clear_failure(p)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if summary.get("failed") or failures:
        path.unlink(missing_ok=True)
        failure = failures[0] if failures else {"code": "extraction_failed",
                                                "reason": "the file could not be ingested"}
        return UploadResult("failed", None, summary, failure)
    row = kb.catalog.doc_by_sha(sha256)
    status = "added" if summary.get("added") else "updated" if summary.get("updated") else "unchanged"
    return UploadResult(status, row["id"] if row is not None else None, summary)


def delete(kb: KB, doc_id: str) -> dict[str, Any]:
    """Delete a document from the catalog (its deletion queued for the index in the same
    transaction), then from the index. Files the upload endpoint saved go too; corpus files
    never. NotFoundError when there is no such document."""
    doc = kb.document(doc_id)
    uploads = (kb.home / "uploads").resolve()
    with write_lock(kb):
        with kb.catalog.transaction():
            kb.catalog.delete_document(doc_id)
        sync_index(kb)
    removed = []
    for raw in doc.get("paths") or []:
        path = Path(raw).resolve()
        if path.parent == uploads:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return {"deleted": doc_id, "files_removed": len(removed)}


def reindex(kb: KB, progress: Progress | None = None) -> dict[str, Any]:
    """`kb reindex`: the whole index rebuilt from the catalog, under the write lock."""
    with write_lock(kb):
        return rebuild_index(kb, progress)


def sync(kb: KB, progress: Progress | None = None) -> dict[str, int]:
    """Finish pending index work (after a crash, or a catalog write by hand), under the lock."""
    with write_lock(kb):
        return sync_index(kb, progress)
