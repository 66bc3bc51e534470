"""The write path: every change to a KB home, written once, for every entry point.

The command line (web/cli), the HTTP API (web/api) and the UI (web/ui) call these and
nothing else to write: ingest, upload, delete, curate (alias / merge / reject), retag,
reindex and sync. Each holds the home's write lock; the catalog is written first (the
source of truth), then the index from the catalog (indexer.library.indexing), so a crash
at any point leaves work the next writer finishes.
"""
from indexer.library.curation import CurationResult, curate, entity_type, retag
from indexer.library.documents import (
           UploadResult,
           delete,
           ingest,
           reindex,
           sync,
           upload,
           write_lock,
)
from indexer.library.jobs import status as job_status

__all__ = ["CurationResult", "UploadResult", "curate", "delete", "entity_type", "ingest", "job_status", "reindex",
           "retag", "sync", "upload", "write_lock"]
