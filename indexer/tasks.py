"""The ingest's tasks as they travel to the workers (the local pool, indexer.workers, or Dask,
indexer.distributed) and the key that names each: typed, so the pipeline, the page-range
splitting and the pools read fields instead of guessing a dict's keys or a key's shape.
Pickled to the workers: plain data only."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from indexer.extract.pdfsplit import PagePart


@dataclass(frozen=True)
class TaskKey:
    """One task of an ingest: the file (or record collection) it works for, and which part.
    Hashable and ordered by the plan, so results can be matched and written in order."""

    kind: str  # "file", "records" (a chunk of a collection), "pages" (a PDF's range), "assemble"
    path: str  # the catalog key of the file or collection
    part: str = ""  # records: the chunk's number; pages: "first-last"; else ""

    def __str__(self) -> str:
        return self.path + (f" [{self.kind} {self.part}]".rstrip() if self.kind != "file" else "")


@dataclass
class FileTask:
    """Extract one file (or one page range of it, or assemble its ranges) and build its
    document. `cost` orders the tasks (the pools run the costliest first): bytes to read."""

    path: str
    doc_id: str
    sha256: str
    size: int | None
    limits: dict[str, Any]  # max_inflate_mb, max_file_mb, ocr (indexer.extract)
    kind: str = "file"  # "file", "pages" or "assemble"
    password: str | None = None
    sidecar: dict[str, Any] | None = None  # indexer.sidecar.DocMeta.to_dict()
    cached: dict[str, Any] | None = None  # the cached extraction (Extracted.to_dict()), if any
    pages_per_task: int = 0  # split a PDF with more pages than this (0: never)
    verify: bool = False  # check the content hash before reading (remote workers)
    cost: float = 0.0
    first: int = 0  # kind "pages": the range
    last: int = 0
    parts: list[PagePart] = field(default_factory=list)  # kind "assemble": every range read


@dataclass
class RecordTask:
    """One record of a JSONL/CSV collection, ready to become a document."""

    doc_id: str
    path: str  # "<collection path>#<record id>"
    source_id: str
    title: str | None
    text: str
    format: str
    metadata: dict[str, Any] = field(default_factory=dict)
    sidecar: dict[str, Any] | None = None


@dataclass
class RecordsTask:
    """A chunk of a collection's records, built by one worker."""

    records: list[RecordTask]
    cost: float = 0.0
