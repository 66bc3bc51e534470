"""Extractor registry: sniff a file's format from its bytes (extension second) and dispatch.

``extract(source, name)`` returns :class:`kb.model.Extracted`; every failure is a
:class:`kb.errors.ExtractionError` subclass with a one-line reason, never a raw traceback
from a third-party parser. Each format module exposes
``extract(stream, password=None, limits=None) -> Extracted`` and imports its library lazily.
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import BinaryIO

from indexer.extract.zipguard import zip_entries
from kb.errors import (
    EncryptedError,
    ExtractionError,
    KBError,
    ResourceLimitError,
    UnsupportedFormatError,
)
from kb.model import Extracted, Record

# Bump when the output of any extractor changes: the catalog caches by (sha256, version).
EXTRACTOR_VERSION = "1.1.0"

FORMATS = ("pdf", "docx", "pptx", "xlsx", "html", "txt", "md", "jsonl", "csv", "doc", "ppt", "xls")
RECORD_FORMATS = ("jsonl", "csv")
_EXTENSIONS = {
    ".pdf": "pdf", ".docx": "docx", ".docm": "docx", ".pptx": "pptx", ".pptm": "pptx", ".xlsx": "xlsx",
    ".xlsm": "xlsx", ".html": "html", ".htm": "html", ".xhtml": "html", ".txt": "txt", ".text": "txt",
    ".md": "md", ".markdown": "md", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv",
    ".doc": "doc", ".ppt": "ppt", ".xls": "xls",
}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEAD = 8192


def sniff(head: bytes | str | Path | BinaryIO, name: str | None = None) -> str:
    """Format name of a file: magic bytes first, the extension of ``name`` second.

    ``head`` is the file's first bytes, a path, or a seekable binary stream (left at 0).
    Raises EncryptedError for OLE2-wrapped encrypted OOXML, UnsupportedFormatError when
    neither the bytes nor the name say what the file is.
    """
    stream: BinaryIO | None = None
    if isinstance(head, (str, Path)):
        name = name or str(head)
        with open(head, "rb") as fh:
            return _sniff_stream(fh, name)
    if isinstance(head, (bytes, bytearray)):
        stream = io.BytesIO(bytes(head))
    else:
        stream = head
    return _sniff_stream(stream, name)


def _sniff_stream(stream: BinaryIO, name: str | None) -> str:
    stream.seek(0)
    head = stream.read(_HEAD)
    stream.seek(0)
    ext = _EXTENSIONS.get(Path(name).suffix.lower()) if name else None
    lead = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"%PDF") or b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(stream, ext)
    if head.startswith(_OLE_MAGIC):
        return _sniff_ole(stream, ext)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head[2:].decode("utf-16-le" if head[:2] == b"\xff\xfe" else "utf-16-be", "ignore")
        return "html" if _looks_html(text) else (ext if ext in ("md", "txt", "html") else "txt")
    low = lead[:1024].lower()
    if _looks_html(low.decode("latin-1")):
        return "html"
    if ext:
        return ext
    if lead.startswith(b"{") and b"\n" in lead:
        return "jsonl"
    if head and b"\x00" not in head:
        return "txt"
    raise UnsupportedFormatError(f"unsupported format{' ' + Path(name).suffix if name and Path(name).suffix else ''}: "
                                 "content not recognised")


def _looks_html(text: str) -> bool:
    low = text.lstrip("\ufeff \t\r\n").lower()[:4096]
    return low.startswith("<") and any(tag in low for tag in ("<!doctype html", "<html", "<head>", "<body"))


def _sniff_zip(stream: BinaryIO, ext: str | None) -> str:
    names = [info.filename for info in zip_entries(stream)]
    for prefix, fmt in (("word/", "docx"), ("ppt/", "pptx"), ("xl/", "xlsx")):
        if any(n.startswith(prefix) for n in names):
            return fmt
    raise UnsupportedFormatError(f"unsupported format{' .' + ext if ext else ''}: a zip archive without "
                                 "Word, PowerPoint or Excel parts")


def _sniff_ole(stream: BinaryIO, ext: str | None) -> str:
    head = stream.read(1 << 20)
    stream.seek(0)
    # Encrypted OOXML is an OLE2 file holding "EncryptionInfo"/"EncryptedPackage" streams;
    # directory entry names are UTF-16-LE.
    if "EncryptionInfo".encode("utf-16-le") in head or "EncryptedPackage".encode("utf-16-le") in head:
        raise EncryptedError("file is password-protected (encrypted)")
    for marker, fmt in (("WordDocument", "doc"), ("PowerPoint Document", "ppt"), ("Workbook", "xls"),
                        ("Book", "xls")):
        if marker.encode("utf-16-le") in head:
            return fmt
    if ext in ("doc", "ppt", "xls"):
        return ext
    raise UnsupportedFormatError("unsupported format: an OLE2 compound file of unknown kind")


def _open(source: str | Path | BinaryIO | bytes) -> tuple[BinaryIO, bool]:
    if isinstance(source, (bytes, bytearray)):
        return io.BytesIO(bytes(source)), True
    if isinstance(source, (str, Path)):
        try:
            return open(source, "rb"), True
        except OSError as exc:
            raise ExtractionError(f"cannot read file: {exc.strerror or exc}") from exc
    if not source.seekable():  # parsers seek; buffer one-way streams
        return io.BytesIO(source.read()), True
    return source, False


def extract(source: str | Path | BinaryIO, name: str | None = None, password: str | None = None,
            limits: dict | None = None) -> Extracted:
    """Extract blocks from a file path, bytes or binary stream.

    ``name`` (a file name) helps sniffing for streams; ``limits`` may hold ``max_inflate_mb``,
    ``max_inflate_ratio``, ``max_rows``, ``max_cells``, ``max_pages``.
    """
    if name is None and isinstance(source, (str, Path)):
        name = str(source)
    if name is None:
        name = getattr(source, "name", None) if not isinstance(source, (bytes, bytearray)) else None
        name = name if isinstance(name, str) else None
    stream, owned = _open(source)
    try:
        fmt = sniff(stream, name)
        if fmt in RECORD_FORMATS:
            return _records_as_document(stream, fmt, name)
        module = _parser(fmt)
        stream.seek(0)
        if fmt in ("docx", "pptx", "xlsx"):
            from indexer.extract.zipguard import check_zip

            check_zip(stream, limits)
        with parser_errors(fmt):
            if fmt in ("doc", "ppt", "xls"):  # converted, then read as the format it became
                result = module.extract(stream, password=password, limits=limits, fmt=fmt, reread=extract)
            elif fmt in ("md", "txt"):
                result = module.extract(stream, password=password, limits=limits, fmt=fmt)
            else:
                result = module.extract(stream, password=password, limits=limits)
        return note_empty(result)
    finally:
        if owned:
            stream.close()


def _parser(fmt: str) -> ModuleType:
    """The format's parser module, imported on first use (the parsers' libraries cost seconds
    of start-up), written out rather than named in strings so the layer check sees them."""
    if fmt == "pdf":
        from indexer.extract import pdf as module
    elif fmt == "docx":
        from indexer.extract import docx as module
    elif fmt == "pptx":
        from indexer.extract import pptx as module
    elif fmt == "xlsx":
        from indexer.extract import xlsx as module
    elif fmt == "html":
        from indexer.extract import html as module
    elif fmt in ("txt", "md"):
        from indexer.extract import text as module
    else:  # doc, ppt, xls (sniff names no other format)
        from indexer.extract import legacy as module
    return module


@contextmanager
def parser_errors(fmt: str) -> Iterator[None]:
    """Exceptions of a format's parser as one-line errors: kb's own pass through, running out
    of memory is a ResourceLimitError, anything else a malformed file (with the parser's
    first words). Also used by the PDF page-range tasks (indexer.extract.pdfsplit)."""
    try:
        yield
    except KBError:
        raise
    except MemoryError as exc:
        raise ResourceLimitError(f"out of memory while reading {fmt.upper()}") from exc
    except RecursionError as exc:
        raise ExtractionError(f"malformed {fmt.upper()}: nesting too deep") from exc
    except ImportError as exc:  # a library the parser loads on demand: not the file's fault
        detail = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise ExtractionError(f"the {fmt.upper()} reader could not load a library: {detail}") from exc
    except Exception as exc:  # third-party parsers raise anything on bad bytes
        detail = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise ExtractionError(f"malformed {fmt.upper()}: {detail}") from exc


def note_empty(result: Extracted) -> Extracted:
    """A document without text says so (the ingest records it as a warning, not a failure)."""
    if not result.blocks and not result.warnings:
        result.warnings.append("no text found")
    return result


def is_record_collection(path: str | Path) -> bool:
    """True for JSONL/CSV files whose records each become a document."""
    try:
        return sniff(path) in RECORD_FORMATS
    except (KBError, OSError):
        return False


def extract_records(source: str | Path | BinaryIO, name: str | None = None,
                    limits: dict | None = None, mapping: dict[str, str] | None = None) -> Iterator[Record]:
    """Each line (JSONL) or row (CSV) with an id (``id``, ``_id``, ``doi``, ``url`` or the
    column ``mapping`` names) as a Record."""
    from indexer.extract.records import iter_records

    if name is None and isinstance(source, (str, Path)):
        name = str(source)
    stream, owned = _open(source)
    try:
        fmt = sniff(stream, name)
        if fmt not in RECORD_FORMATS:
            raise UnsupportedFormatError(f"not a record collection (format {fmt})")
        yield from iter_records(stream, fmt, limits, mapping)
    finally:
        if owned:
            stream.close()


def _records_as_document(stream: BinaryIO, fmt: str, name: str | None) -> Extracted:
    """`kb extract` on a collection: one title block and one paragraph per record."""
    from indexer.extract.records import iter_records
    from kb.model import Block

    blocks = []
    for rec in iter_records(stream, fmt, None):
        if rec.title:
            blocks.append(Block("heading", rec.title, level=1, meta={"source_id": rec.source_id}))
        if rec.text:
            blocks.append(Block("paragraph", rec.text, meta={"source_id": rec.source_id}))
    return Extracted(format=fmt, blocks=blocks, metadata={"records": True})
