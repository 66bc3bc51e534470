"""One PDF read as several page-range tasks, then put back together.

The layout pass (pdfminer's per-page work, ~8 pages/s per core) is what costs; it looks at one
page at a time, so ranges of pages can be read by different workers. Everything decided across
the document (running headers and footers, page numbers, the body and heading font sizes,
OCR of an image-only file, the outline) runs once, in :func:`assemble`, on the rows of every
page in page order: a split extraction gives exactly the blocks an unsplit one gives.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kb.errors import ExtractionError, KBError, ResourceLimitError
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
    """The page ranges of a PDF over per_task pages: at least per_task pages each (every range
    reopens the file and parses its fonts again, ~0.1 s), two per worker for balance, and at
    most `most`, so a hostile 100,000-page file does not become thousands of tasks."""
    ranges = min(most, max(1, 2 * parallel))
    return page_ranges(page_count, max(per_task, -(-page_count // ranges)))


def read_range(path: str | Path, first: int, last: int, password: str | None = None,
               limits: dict | None = None) -> PagePart:
    """The layout pass over pages first..last (clipped to the document's pages)."""
    from indexer.extract import pdf

    def work(stream: Any) -> PagePart:
        _, pages = pdf.open_pages(stream, password, limits)
        end = min(last, len(pages))
        rows, no_text, warnings = pdf.read_pages(pages, first, end)
        return PagePart(first, end, len(pages), rows, no_text, warnings)

    return _guarded(path, work)


def read_first(path: str | Path, per_task: int, password: str | None = None,
               limits: dict | None = None) -> Extracted | PagePart:
    """A PDF file task: the whole document when it has at most per_task pages (one open, one
    pass, as an unsplit extraction); else only its page count (a PagePart of no page), so
    every range, the first included, can start on another worker at once."""
    from indexer.extract import pdf

    def work(stream: Any) -> Extracted | PagePart:
        doc, pages = pdf.open_pages(stream, password, limits)
        if len(pages) > per_task:
            return PagePart(1, 0, len(pages))
        rows, no_text, warnings = pdf.read_pages(pages, 1, len(pages))
        return _finished(pdf.finish(stream, doc, len(pages), rows, no_text, warnings, limits))

    return _guarded(path, work)


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

    def work(stream: Any) -> Extracted:
        doc, pages = pdf.open_pages(stream, password, limits)
        if len(pages) != page_count:
            raise ExtractionError(f"file changed while it was read: {len(pages)} pages, not {page_count}")
        rows = [page for part in parts for page in part.rows]
        no_text = [n for part in parts for n in part.no_text]
        warnings = [w for part in parts for w in part.warnings]
        return _finished(pdf.finish(stream, doc, page_count, rows, no_text, warnings, limits))

    return _guarded(path, work)


def _finished(result: Extracted) -> Extracted:
    if not result.blocks and not result.warnings:
        result.warnings.append("no text found")  # as indexer.extract.extract says of it
    return result


def _guarded(path: str | Path, work: Callable[[Any], T]) -> T:
    """Run `work` on the opened file, turning parser exceptions into one-line errors as
    indexer.extract.extract does for a whole file."""
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed by the with below; only open() may say "cannot read"
    except OSError as exc:
        raise ExtractionError(f"cannot read file: {exc.strerror or exc}") from exc
    with stream:
        try:
            return work(stream)
        except KBError:
            raise
        except MemoryError as exc:
            raise ResourceLimitError("out of memory while reading PDF") from exc
        except RecursionError as exc:
            raise ExtractionError("malformed PDF: nesting too deep") from exc
        except Exception as exc:  # third-party parsers raise anything on bad bytes
            detail = " ".join(str(exc).split())[:160] or type(exc).__name__
            raise ExtractionError(f"malformed PDF: {detail}") from exc
