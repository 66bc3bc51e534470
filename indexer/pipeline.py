"""The ingest pipeline: walk → classify by content hash → extract, segment, tag in worker
processes → write the catalog; every batch of documents, the caller's ``flush`` brings the
index up to date.

A document goes into the catalog marked "not indexed" in one transaction; the index follows
from the catalog (indexer.library.indexing). The lock, the order of catalog and index writes
and the recovery after a crash belong to the write path, indexer.library, which is how
every entry point ingests (`indexer.library.ingest`).
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from indexer.documents import build_document, document_id, merge_person, record_doc_id, year_from
from indexer.execute import execute
from indexer.pageranges import TaskCounts
from indexer.sidecar import Sidecars, record_sidecar
from indexer.tasks import FileTask, RecordsTask, RecordTask, TaskKey
from indexer.walk import walk
from kb.errors import KBError
from kb.facade import KB
from kb.model import BuiltDocument
from kb.store import Catalog

Progress = Callable[[dict[str, Any]], None]
Flush = Callable[[], Any]
# The index is brought up to date (flush) after this many documents or passages written to
# the catalog, whichever comes first: one index commit each (indexer.library.indexing writes
# in batches of the same size). Each Whoosh commit writes a segment with its own term
# dictionary and merges small segments, in Python: at 200 documents a commit, CACM's 3,204
# short records took 17 commits and 59 of the ingest's 82 seconds.
INDEX_BATCH_DOCS = 1000
INDEX_BATCH_PASSAGES = 2500
RECORDS_PER_TASK = 100  # records of a JSONL/CSV collection handed to a worker at once
_CRASH_COUNTS: dict[str, int] = {}


def crash_point(name: str) -> None:
    """Test hook, not a feature: with KB_CRASH_AT=<point>:<n> in the environment this process
    SIGKILLs itself the n-th time it reaches `point` (extracted, catalog, index, indexed, retag),
    so tests (tests/reliability/test_crash.py, a curation job's in tests/indexer/test_library.py)
    can prove a crash there loses nothing. Unset: a no-op."""
    spec = os.environ.get("KB_CRASH_AT")
    if not spec or spec.partition(":")[0] != name:
        return
    _CRASH_COUNTS[name] = _CRASH_COUNTS.get(name, 0) + 1
    if _CRASH_COUNTS[name] >= int(spec.partition(":")[2] or 1):
        os.kill(os.getpid(), signal.SIGKILL)


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _extractor_version() -> str:
    from indexer.extract import EXTRACTOR_VERSION

    return EXTRACTOR_VERSION


def _is_records(path: Path) -> bool:
    from indexer.extract import is_record_collection

    return is_record_collection(path)


def _utf8_name(path: str) -> bool:
    try:
        path.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def run_ingest(paths: Iterable[str | Path], kb: KB, flush: Flush, workers: int | None = None,
               force: bool = False, prune: bool = False, passwords: dict[str, str] | None = None,
               progress: Progress | None = None, mapping: dict[str, str] | None = None,
               scheduler: str | None = None) -> dict[str, Any]:
    """One ingest run over files and folders, the caller holding the write lock; returns a
    summary dict: added, updated, unchanged, duplicates, failed, pruned, passages, pages,
    seconds, failures, where (local pool or Dask cluster) and tasks. flush: brings the index
    up to date with the catalog (called every batch and at the end). scheduler: a Dask
    scheduler's address (default: the dask_scheduler setting; empty: the local process pool)."""
    paths = [Path(p) for p in paths]
    settings = kb.settings
    t0 = time.perf_counter()
    catalog = kb.catalog
    run_id = catalog.start_run({"paths": [str(p) for p in paths], "force": force, "prune": prune})
    run = _Run(kb, run_id, force, passwords or {}, progress, mapping, flush)
    files = list(walk(paths))
    run.roots = [os.path.abspath(p) for p in paths]
    run.dir_roots = [r for r in run.roots if os.path.isdir(r)]
    run.total = len(files)
    run.emit("start")
    tasks = list(run.tasks(files))  # hashing and classification: cheap, and tells if work is left
    # Largest files first: one big PDF started last would leave the other workers idle
    # at the end (longest-processing-time-first scheduling).
    tasks.sort(key=lambda t: -(t[1].size or 0) if isinstance(t[1], FileTask) else 0)
    if tasks:
        scheduler = scheduler if scheduler is not None else str(settings["dask_scheduler"])
        for result in execute(run, tasks, _process_task, workers, scheduler):
            crash_point("extracted")
            run.finish_task(result)
    if prune:
        run.prune(paths)
    run.sidecar_failures()
    flush()
    run.counts["seconds"] = round(time.perf_counter() - t0, 2)
    catalog.finish_run(run_id, run.counts)
    run.emit("done")
    with catalog.transaction():
        catalog.set_meta("last_ingest", json.dumps({"run_id": run_id, "where": run.where, **vars(run.tasks_run)}))
    return {**run.counts, "failures": run.failures, "warnings": run.warnings, "run_id": run_id,
            "peak_worker_rss_mb": round(run.peak_rss_mb, 1), "where": run.where,
            "tasks": vars(run.tasks_run)}


@dataclass
class PathTask:
    """What the ingest keeps about one dispatched catalog path until its result is stored."""

    path: str  # the catalog key: a file's absolute path, or "<collection path>#<record id>"
    sha256: str | None  # the file's content hash; None for a record (no bytes of its own)
    mtime: float
    size: int | None
    old_doc: str | None  # the document the path held before, if any


class _Run:
    """State of one ingest run: classification, catalog writes, counts."""

    def __init__(self, kb: KB, run_id: int, force: bool, passwords: dict[str, str], progress: Progress | None,
                 mapping: dict[str, str] | None, flush: Flush):
        self.kb = kb
        self.flush = flush
        self.catalog: Catalog = kb.catalog
        self.run_id = run_id
        self.force = force
        self.passwords = passwords
        self.progress = progress
        self.version = _extractor_version()
        self.limits = {"max_inflate_mb": int(kb.settings["max_inflate_mb"]),
                       "max_file_mb": int(kb.settings["max_file_mb"]), "ocr": bool(kb.settings["ocr"])}
        self.counts = {k: 0 for k in ("added", "updated", "unchanged", "duplicates", "failed", "pruned",
                                      "passages", "pages", "from_cache")}
        self.failures: list[dict[str, str]] = []
        self.warnings: list[str] = []
        self.total = 0
        self.done = 0
        self.since_sync = self.since_sync_passages = 0
        self.task_info: dict[str, PathTask] = {}
        self.peak_rss_mb = 0.0
        self.sidecars = Sidecars()
        self.chunks_left: dict[str, int] = {}  # record collection -> chunks not yet stored
        self.mapping = dict(mapping or {})  # --map for record collections: {target: column}
        self.roots: list[str] = []
        self.where = "nowhere (no file needed work)"
        self.tasks_run = TaskCounts()

    def task_done(self, counts: TaskCounts) -> None:
        self.emit("task")

    def emit(self, event: str, **extra: Any) -> None:
        if self.progress:
            tasks = {"tasks_done": self.tasks_run.done, "tasks_total": self.tasks_run.submitted}
            self.progress({"event": event, "done": self.done, "total": self.total, **self.counts, **tasks, **extra})

    def step(self, path: str, status: str) -> None:
        self.done += 1
        self.emit("file", path=path, status=status)

    # -- classification -------------------------------------------------------
    def tasks(self, files: list[Path]):
        for path in files:
            key = os.path.abspath(path)
            if not _utf8_name(key):
                # SQLite text is UTF-8: such a name cannot be a catalog key (it crashed the
                # whole batch); refuse this one file with a reason instead.
                self.fail(os.fsencode(key).decode("utf-8", "backslashreplace"), None, "invalid_input",
                          "file name is not valid UTF-8; rename the file to ingest it")
                continue
            try:
                st = path.stat()
                if st.st_size > self.limits["max_file_mb"] * 1024 * 1024:
                    self.fail(key, None, "resource_limit",
                              f"file is {st.st_size / 2**20:.0f} MiB, over the {self.limits['max_file_mb']} MiB limit")
                    continue
                if _is_records(path):
                    yield from self.record_tasks(path, key, st)
                    continue
                sha = file_sha256(path)
            except FileNotFoundError:
                self.fail(key, None, "vanished", "file vanished before it could be read")
                continue
            except OSError as exc:
                self.fail(key, None, "unreadable", f"cannot read file: {exc.strerror or exc}")
                continue
            except KBError as exc:
                self.fail(key, None, exc.code, str(exc))
                continue
            side = self.sidecars.for_file(key, self.roots)
            side_dict = side.to_dict() if side is not None else None
            state = self.catalog.path_state(key)
            # Same bytes with a new sidecar go on: rebuilt from the cached extraction (not re-read).
            if (state is not None and state["sha256"] == sha and not self.force
                    and self._sidecar_of(state["doc_id"]) == (side.fingerprint() if side else None)):
                self.counts["unchanged"] += 1
                self.step(key, "unchanged")
                continue
            existing = self.catalog.doc_by_sha(sha) if state is None or state["sha256"] != sha else None
            if existing is not None and not self.force:
                with self.catalog.transaction():
                    self.catalog.add_path(existing["id"], key, st.st_mtime, st.st_size)
                    if state is not None:
                        self.catalog.delete_if_orphan(state["doc_id"])
                self.counts["duplicates"] += 1
                self.step(key, "duplicate")
                continue
            failed = self.catalog.failure_for(key)
            if failed is not None and failed["sha256"] == sha and not self.force and key not in self.passwords:
                self.counts["failed"] += 1
                self.failures.append({"path": key, "code": failed["code"], "reason": failed["reason"] + " (unchanged since)"})
                self.step(key, "failed")
                continue
            doc_id = document_id(sha)
            self.task_info[key] = PathTask(key, sha, st.st_mtime, st.st_size,
                                           state["doc_id"] if state is not None else None)
            yield TaskKey("file", key), FileTask(
                key, doc_id, sha, st.st_size, self.limits, sidecar=side_dict,
                password=self.passwords.get(key) or self.passwords.get(path.name))

    def _sidecar_of(self, doc_id: str) -> str | None:
        doc = self.catalog.get_document(doc_id)
        return (doc or {}).get("metadata", {}).get("sidecar")

    def sidecar_failures(self) -> None:
        failures, warnings = self.sidecars.record_problems(self.catalog, self.run_id, self.dir_roots)
        self.counts["failed"] += len(failures)
        self.failures += failures
        self.warnings += warnings

    def with_cache(self, tasks: list[tuple[TaskKey, FileTask | RecordsTask]]):
        """Attach cached extractions as each task is dispatched, not all at once (memory)."""
        for key, task in tasks:
            if isinstance(task, FileTask):
                task = replace(task, cached=self.catalog.cache_get(task.sha256, self.version))
            yield key, task

    def record_tasks(self, path: Path, key: str, st: os.stat_result):
        from indexer.extract import extract_records

        side = self.sidecars.for_file(key, self.roots)
        mapping = {**(side.map if side else {}), **self.mapping}
        # The file's hash with what shapes its records (sidecar, mapping): either changing
        # rebuilds the records.
        stamp = file_sha256(path) + ":" + json.dumps([side.fingerprint() if side else None, mapping],
                                                     sort_keys=True)
        sha = stamp
        prefix = key + "#"
        known = {p: self.catalog.path_state(p) for p in self.catalog.paths_with_prefix(prefix)}
        if self.catalog.get_meta(f"records:{key}") == sha and not self.force and known:
            self.counts["unchanged"] += len(known)
            self.step(key, "unchanged")
            return
        batch: list[RecordTask] = []
        seen: set[str] = set()
        chunks = 0
        for rec in extract_records(path, mapping=mapping):
            record_sidecar(rec, side)
            rkey = prefix + rec.source_id
            if rkey in seen:
                continue
            seen.add(rkey)
            doc_id = record_doc_id(rec)
            state = known.get(rkey)
            if state is not None and state["doc_id"] == doc_id and not self.force:
                self.counts["unchanged"] += 1
                continue
            self.task_info[rkey] = PathTask(rkey, None, st.st_mtime, None,
                                            state["doc_id"] if state is not None else None)
            batch.append(RecordTask(doc_id, rkey, rec.source_id, rec.title, rec.text,
                                    path.suffix.lstrip(".").lower() or "jsonl", rec.metadata,
                                    sidecar=rec.metadata.pop("_sidecar", None)))
            if len(batch) >= RECORDS_PER_TASK:
                chunks += 1
                yield TaskKey("records", key, str(chunks)), RecordsTask(batch)
                batch = []
        if batch:
            chunks += 1
            yield TaskKey("records", key, str(chunks)), RecordsTask(batch)
        # the collection counts as one file of the progress bar: done with its last chunk
        self.chunks_left[key] = chunks
        if not chunks:
            self.step(key, "unchanged")
        gone = [p for p in known if p not in seen]
        with self.catalog.transaction():
            self.catalog.clear_failure(key)  # the collection reads now (e.g. after --map)
            for p in gone:
                if self.catalog.remove_path(p):
                    self.counts["pruned"] += 1
            self.catalog.set_meta(f"records:{key}", sha)

    # -- results --------------------------------------------------------------
    def finish_task(self, result) -> None:
        key: TaskKey = result.key
        self.peak_rss_mb = max(self.peak_rss_mb, result.max_rss_mb)
        if key.kind == "records":  # a chunk of records
            self.chunks_left[key.path] -= 1
            if not result.ok:
                self.fail(key.path, None, result.code, result.reason)
                return
            for built in result.value["docs"]:
                self.store(built, self.task_info.pop(built.path), None)
            if self.chunks_left[key.path] == 0 and all(f["path"] != key.path for f in self.failures):
                self.step(key.path, "ok")
            else:
                self.emit("records", path=key.path)
            return
        info = self.task_info.pop(key.path)
        if not result.ok:
            self.fail(key.path, info.sha256, result.code, result.reason)
            return
        self.store(result.value["docs"][0], info, result.value.get("extracted"))
        if result.value.get("extracted") is None:
            self.counts["from_cache"] += 1  # rebuilt from the cached extraction, file not re-read
        self.step(key.path, "ok")

    def store(self, built: BuiltDocument, info: PathTask, extracted: dict | None) -> None:
        doc, passages = built.document, built.passages
        catalog = self.catalog
        with catalog.transaction():
            catalog.put_document(doc, passages, built.mentions)
            catalog.add_path(doc.id, info.path, info.mtime, info.size)
            old = info.old_doc
            if old is not None and old != doc.id:
                catalog.delete_if_orphan(old)  # the copy at another path may still hold it
            for person in built.people:
                merge_person(catalog, person, doc.id, doc.year, doc.title)
            if extracted is not None and info.sha256 is not None:
                catalog.cache_put(info.sha256, self.version, extracted)
        crash_point("catalog")  # committed to the catalog, not yet to the index
        # Counted by path: a path that held a document before was updated.
        self.counts["updated" if old is not None else "added"] += 1
        self.counts["passages"] += len(passages)
        self.counts["pages"] += doc.page_count or 0
        self.since_sync += 1
        self.since_sync_passages += len(passages)
        if self.since_sync >= INDEX_BATCH_DOCS or self.since_sync_passages >= INDEX_BATCH_PASSAGES:
            self.flush()
            self.since_sync = self.since_sync_passages = 0

    def fail(self, path: str, sha: str | None, code: str, reason: str) -> None:
        with self.catalog.transaction():
            self.catalog.record_failure(path, sha, code, reason, self.run_id)
        self.counts["failed"] += 1
        self.failures.append({"path": path, "code": code, "reason": reason})
        self.step(path, "failed")

    def prune(self, roots: list[Path]) -> None:
        """Forget catalog paths under the given roots whose files are gone."""
        abs_roots = [os.path.abspath(r) for r in roots]
        for p in self.catalog.all_paths():
            real = p.split("#", 1)[0] if "#" in p and not os.path.exists(p) else p
            under = any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in abs_roots)
            if under and not os.path.exists(real):
                with self.catalog.transaction():
                    if self.catalog.remove_path(p):
                        self.counts["pruned"] += 1


def _process_task(task: FileTask | RecordsTask) -> dict[str, Any]:
    """Runs in a worker process: extract (unless cached), segment, detect language, tag."""
    if isinstance(task, RecordsTask):
        from indexer.documents import build_record

        return {"docs": [build_record(r) for r in task.records]}
    from indexer.pageranges import extract_task
    from kb.model import Extracted

    if task.cached:
        extracted = Extracted.from_dict(task.cached)
    else:
        extracted = extract_task(task)  # may be one page range of a split PDF
        if not isinstance(extracted, Extracted):
            return extracted
    built = build_document(task.doc_id, extracted, task.path, sha256=task.sha256, size=task.size,
                           sidecar=task.sidecar)
    return {"docs": [built], "extracted": None if task.cached else extracted.to_dict()}


__all__ = ["crash_point", "file_sha256", "run_ingest", "year_from"]
