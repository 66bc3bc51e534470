"""Decide an uploaded file's format from its bytes; the client's file name is only a hint
for plain-text flavours (md, csv, jsonl), never for binary formats."""
from __future__ import annotations

import zipfile
from pathlib import Path

from kb.errors import UnsupportedFormatError

_OOXML = (("word/document.xml", "docx"), ("ppt/presentation.xml", "pptx"), ("xl/workbook.xml", "xlsx"))
_TEXT_HINTS = {".md": "md", ".markdown": "md", ".csv": "csv", ".jsonl": "jsonl", ".txt": "txt"}


def sniff_format(path: Path, name_hint: str = "") -> str:
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if head.startswith(b"%PDF-") or b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist()[:5000])  # only the directory is read, nothing inflated
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise UnsupportedFormatError(f"a damaged zip file: {exc}") from exc
        for member, fmt in _OOXML:
            if member in names:
                return fmt
        raise UnsupportedFormatError("a zip file that is not a Word, PowerPoint or Excel document")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnsupportedFormatError("legacy Office (OLE) files are not accepted for upload; convert to docx/pptx/xlsx")
    if b"\x00" in head:
        raise UnsupportedFormatError("binary content of an unsupported type")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is still UTF-8
        if exc.start < len(head) - 4:
            raise UnsupportedFormatError("text that is not UTF-8") from exc
        text = head[: exc.start].decode("utf-8")
    low = text.lstrip("\ufeff \t\r\n").lower()
    if low.startswith(("<!doctype html", "<html")) or "<html" in low[:512]:
        return "html"
    return _TEXT_HINTS.get(Path(name_hint).suffix.lower(), "txt")
