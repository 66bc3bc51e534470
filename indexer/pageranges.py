"""Page-range tasks for large PDFs, on any pool that offers run() and add() (the local
WorkerPool, the Dask pool).

A PDF file task whose document has more than `pages_per_task` pages answers with its page
count alone; its ranges become tasks of their own (pdfsplit.split_ranges), and when every
range is in, one "assemble" task makes the document (whole-document
decisions, segmentation, language, tagging). The caller sees one TaskResult per file, under
the file's key, exactly as without splitting.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from indexer.extract.pdfsplit import (
    PagePart,
    assemble,
    forget,
    read_first,
    read_range,
    split_ranges,
)
from indexer.tasks import FileTask, RecordsTask, TaskKey
from indexer.workers import TaskResult
from kb.errors import ExtractionError, KBError
from kb.model import Extracted


class Pool(Protocol):
    def run(self, tasks: Iterable[tuple[Any, Any]]) -> Iterator[TaskResult]: ...

    def add(self, key: Any, payload: Any) -> None: ...


@dataclass
class _Split:
    task: FileTask
    waiting: int
    parts: list[PagePart] = field(default_factory=list)
    failed: bool = False
    seconds: float = 0.0
    rss: float = 0.0


@dataclass
class TaskCounts:
    """Tasks run for a batch: one per file or record chunk, plus page ranges and assemblies."""

    submitted: int = 0
    done: int = 0
    ranges: int = 0
    split_files: int = 0


def run_split(pool: Pool, tasks: Iterable[tuple[TaskKey, FileTask | RecordsTask]], pages_per_task: int, parallel: int,
              verify: bool = False, on_task: Callable[[TaskCounts], None] | None = None,
              counts: TaskCounts | None = None) -> Iterator[TaskResult]:
    """Run the tasks on the pool, splitting large PDFs; yield one result per input task.
    parallel: the pool's workers (sizes the ranges; one worker splits nothing: the ranges
    would run one after the other, and only cost); verify: workers check each file's content
    hash before reading it (remote workers)."""
    counts = counts if counts is not None else TaskCounts()
    splits: dict[str, _Split] = {}  # by the file's path
    pages_per_task = pages_per_task if parallel > 1 else 0

    def feed() -> Iterator[tuple[TaskKey, FileTask | RecordsTask]]:
        for key, task in tasks:
            if isinstance(task, FileTask):
                task = replace(task, pages_per_task=pages_per_task, verify=verify, cost=task.size or 0)
            counts.submitted += 1
            yield key, task

    def add(key: TaskKey, task: FileTask) -> None:
        counts.submitted += 1
        pool.add(key, task)

    for r in pool.run(feed()):
        counts.done += 1
        if on_task:
            on_task(counts)
        key: TaskKey = r.key
        if key.kind == "pages":
            root = TaskKey("file", key.path)
            st = splits[key.path]
            st.seconds += r.seconds
            st.rss = max(st.rss, r.max_rss_mb)
            st.waiting -= 1
            if st.failed:
                pass
            elif not r.ok:
                st.failed = True
                yield TaskResult(root, False, code=r.code, reason=f"pages {key.part}: {r.reason}",
                                 seconds=st.seconds, max_rss_mb=st.rss)
            else:
                st.parts.append(r.value["part"])
                if st.waiting == 0:  # short, and it completes a document: before anything else
                    add(TaskKey("assemble", key.path), replace(st.task, kind="assemble", parts=st.parts,
                                                               cost=float("inf")))
            if st.waiting == 0 and st.failed:
                del splits[key.path]
            continue
        if key.kind == "assemble":
            st = splits.pop(key.path)
            yield TaskResult(TaskKey("file", key.path), r.ok, r.value, r.code, r.reason,
                             st.seconds + r.seconds, max(st.rss, r.max_rss_mb))
            continue
        if r.ok and isinstance(r.value, dict) and "part" in r.value and key.kind == "file":
            first: PagePart = r.value["part"]  # no page yet: the page count
            ranges = split_ranges(first.page_count, pages_per_task, parallel)
            st = splits[key.path] = _Split(r.value["task"], len(ranges), seconds=r.seconds, rss=r.max_rss_mb)
            counts.split_files += 1
            counts.ranges += len(ranges)
            size = st.task.size or 0
            for a, b in ranges:  # cost: the range's share of the file, to order it among whole files
                add(TaskKey("pages", key.path, f"{a}-{b}"),
                    replace(st.task, kind="pages", first=a, last=b, cost=size * (b - a + 1) / first.page_count))
            continue
        yield r


def extract_task(task: FileTask) -> Extracted | dict[str, Any]:
    """Worker side: extract a file (or only count the pages of a PDF to split), read one page
    range, or assemble the ranges. Returns the Extracted document, or {"part": PagePart, ...}
    for a page count or a range."""
    from indexer.extract import extract, sniff

    path = task.path
    if task.verify:
        _verify(path, task.sha256)
    password, limits = task.password, task.limits
    if task.kind == "pages":
        return {"part": read_range(path, task.first, task.last, password, limits)}
    if task.kind == "assemble":
        return assemble(path, task.parts, password, limits)
    if task.pages_per_task and _is_pdf(path, sniff):
        first = read_first(path, task.pages_per_task, password, limits)
        if isinstance(first, PagePart):
            return {"part": first, "task": replace(task, cached=None)}
        return first
    forget()  # a PDF kept open for its ranges holds memory this file may need
    return extract(path, password=password, limits=limits)


def _is_pdf(path: str, sniff: Callable[..., str]) -> bool:
    try:
        return sniff(path) == "pdf"
    except (KBError, OSError):
        return False  # the whole-file extraction reports it


def _verify(path: str, sha: str) -> None:
    """A remote worker reads the original by path: make sure it is the file the ingest
    process hashed, and say plainly when this worker cannot see it."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
    except OSError as exc:
        raise ExtractionError(f"worker on {os.uname().nodename} cannot read the file ({exc.strerror or exc}); "
                              "the corpus must be on storage every worker sees, at the same path") from exc
    if h.hexdigest() != sha:
        raise ExtractionError("file changed on disk since the ingest process hashed it (content hash differs)")
