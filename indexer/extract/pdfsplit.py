"""One PDF read as several page-range tasks, then put back together.

The layout pass (pdfminer's per-page work, ~8 pages/s per core) is what costs; it looks at one
page at a time, so ranges of pages can be read by different workers. Everything decided across
the document (running headers and footers, page numbers, the body and heading font sizes,
OCR of an image-only file, the outline) runs once, in :func:`assemble`, on the rows of every
page in page order: a split extraction gives exactly the blocks an unsplit one gives.

A worker keeps the last PDF it read a range of open (parsed cross-reference table, page tree
and fonts), so the next range of the same file it gets, or the assembly, does not parse them
again; any other file replaces it (one at a time: memory).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from indexer.extract import note_empty, parser_errors
from kb.errors import ExtractionError
from kb.model import Extracted

T = TypeVar("T")


@dataclass
class PagePart:
    """What a page-range task returns: the rows of pages first..last of a PDF."""

    first: int
    last: int
    page_count: int
    rows: list[Any] = field(default_factory=list)  # per page: segments of pdf._Row
    no_text: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def page_ranges(page_count: int, per_task: int) -> list[tuple[int, int]]:
    """Pages 1..page_count in ranges of at most per_task pages."""
    per_task = max(1, per_task)
    return [(first, min(first + per_task - 1, page_count)) for first in range(1, page_count + 1, per_task)]


def split_ranges(page_count: int, per_task: int, parallel: int, most: int = 64) -> list[tuple[int, int]]:
    """The page ranges of a PDF over per_task pages, for `parallel` workers, largest first:
    each range is a 2·parallel-th of the pages not yet given out (guided self-scheduling).
    Pages differ in cost (a page of figures can cost ten of text), so equal ranges left one
    worker with the costly ones while the other waited; the large first ranges keep the cost
    per range low, the small last ones let the workers finish together. No range is under a
    quarter of per_task pages, and there are at most `most`, so a hostile 100,000-page file
    does not become thousands of tasks. One worker gets one range: splitting only costs."""
    if parallel <= 1:
        return [(1, page_count)]
    floor = max(1, per_task // 4)
    while True:
        ranges: list[tuple[int, int]] = []
        first = 1
        while first <= page_count:
            size = max(floor, -(-(page_count - first + 1) // (2 * parallel)))
            ranges.append((first, min(first + size - 1, page_count)))
            first += size
        if len(ranges) <= most:
            return ranges
        floor *= 2


@dataclass
class _Open:
    """A PDF open in this worker: the parsed document, its pages and its fonts."""

    key: tuple[Any, ...]  # path, size, modification time, password: the same file, unchanged
    stream: BinaryIO
    doc: Any
    pages: list[Any]
    rsrc: Any


_KEPT: list[_Open] = []  # the one PDF this worker keeps open between its range tasks


def forget() -> None:
    """Close the PDF kept open (a task for another file, or its assembly, is done with it)."""
    while _KEPT:
        _KEPT.pop().stream.close()


def read_range(path: str | Path, first: int, last: int, password: str | None = None,
               limits: dict | None = None) -> PagePart:
    """The layout pass over pages first..last (clipped to the document's pages)."""
    from indexer.extract import pdf

    def work(o: _Open) -> PagePart:
        end = min(last, len(o.pages))
        rows, no_text, warnings = pdf.read_pages(o.pages, first, end, o.rsrc)
        return PagePart(first, end, len(o.pages), rows, no_text, warnings)

    return _guarded(path, password, limits, work, keep=True)


def read_first(path: str | Path, per_task: int, password: str | None = None,
               limits: dict | None = None) -> Extracted | PagePart:
    """A PDF file task: the whole document when it has at most per_task pages (one open, one
    pass, as an unsplit extraction); else only its page count (a PagePart of no page), so
    every range, the first included, can start on another worker at once."""
    from indexer.extract import pdf

    def work(o: _Open) -> Extracted | PagePart:
        if len(o.pages) > per_task:
            return PagePart(1, 0, len(o.pages))  # kept open: this worker may read a range next
        rows, no_text, warnings = pdf.read_pages(o.pages, 1, len(o.pages), o.rsrc)
        whole = note_empty(pdf.finish(o.stream, o.doc, len(o.pages), rows, no_text, warnings, limits))
        forget()  # read whole: no range of it will follow
        return whole

    return _guarded(path, password, limits, work, keep=True)


def assemble(path: str | Path, parts: list[PagePart], password: str | None = None,
             limits: dict | None = None) -> Extracted:
    """The document from the parts of all its pages (in any order)."""
    from indexer.extract import pdf

    parts = sorted(parts, key=lambda p: p.first)
    expected = 1
    for part in parts:
        if part.first != expected:
            raise ExtractionError(f"page ranges do not cover the document: page {expected} is missing")
        expected = part.last + 1
    page_count = parts[0].page_count if parts else 0
    if expected != page_count + 1:
        raise ExtractionError(f"page ranges do not cover the document: {expected - 1} of {page_count} pages")

    def work(o: _Open) -> Extracted:
        if len(o.pages) != page_count:
            raise ExtractionError(f"file changed while it was read: {len(o.pages)} pages, not {page_count}")
        rows = [page for part in parts for page in part.rows]
        no_text = [n for part in parts for n in part.no_text]
        warnings = [w for part in parts for w in part.warnings]
        return note_empty(pdf.finish(o.stream, o.doc, page_count, rows, no_text, warnings, limits))

    return _guarded(path, password, limits, work, keep=False)


def _guarded(path: str | Path, password: str | None, limits: dict | None, work: Callable[[_Open], T],
             keep: bool) -> T:
    """Run `work` on the opened PDF (the one kept open, when it is this file, unchanged),
    turning parser exceptions into one-line errors as indexer.extract.extract does for a
    whole file. keep: leave the PDF open for this worker's next task (a range of it)."""
    from indexer.extract import pdf
    from indexer.extract.pdffonts import ResourceManager

    try:
        st = os.stat(path)
        key = (os.fspath(path), st.st_size, st.st_mtime_ns, password)
        kept = _KEPT[0] if _KEPT and _KEPT[0].key == key else None
        if kept is None:
            forget()
            stream = open(path, "rb")  # noqa: SIM115 - closed below, or kept open on purpose
    except OSError as exc:
        raise ExtractionError(f"cannot read file: {exc.strerror or exc}") from exc
    try:
        with parser_errors("pdf"):
            if kept is None:
                doc, pages = pdf.open_pages(stream, password, limits)
                kept = _Open(key, stream, doc, pages, ResourceManager(caching=True))
                _KEPT.append(kept)
            result = work(kept)
        if not keep:
            forget()
        return result
    except Exception:
        forget()
        raise
    finally:
        if kept is None:
            stream.close()  # open_pages failed: the file was never kept
