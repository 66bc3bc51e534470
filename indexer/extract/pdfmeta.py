"""PDF document information: the Info dictionary (title, author, dates) and the outline."""
from __future__ import annotations

import re
from typing import Any

_DATE = re.compile(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?")


def _text(value: Any) -> str | None:
    from pdfminer.pdftypes import resolve1
    from pdfminer.psparser import PSLiteral
    from pdfminer.utils import decode_text

    value = resolve1(value)
    if isinstance(value, bytes):
        value = decode_text(value)
    elif isinstance(value, PSLiteral):
        value = str(value.name)
    if not isinstance(value, str):
        return None
    value = " ".join(value.replace("\x00", "").split())
    return value or None


def pdf_date(value: str | None) -> str | None:
    """'D:20161231120000+01'00'' -> '2016-12-31T12:00:00' (date only when no time)."""
    if not value:
        return None
    m = _DATE.match(value.strip())
    if not m:
        return None
    y, mo, d, h, mi, s = m.groups()
    date = f"{y}-{mo or '01'}-{d or '01'}"
    if h is None:
        return date
    return f"{date}T{h}:{mi or '00'}:{s or '00'}"


def read_info(doc) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        infos = list(doc.info)
    except Exception:  # a broken Info dict must not cost us the text  # noqa: BLE001
        return out
    for info in infos:
        try:
            if not isinstance(info, dict):
                continue
            title = _text(info.get("Title"))
            author = _text(info.get("Author"))
            if title and "title" not in out:
                out["title"] = title
            if author and "authors" not in out:
                out["authors"] = [a.strip() for a in re.split(r";|\band\b|,(?=\s*\w+\s+\w+)", author) if a.strip()]
            for key, name in (("CreationDate", "created"), ("ModDate", "modified")):
                date = pdf_date(_text(info.get(key)))
                if date and name not in out:
                    out[name] = date
        except Exception:  # noqa: BLE001, S112
            continue
    return out


def read_outline(doc, limit: int = 2000) -> list[dict[str, Any]]:
    """The bookmarks as [{"level": 1, "title": ...}], empty when absent or unreadable."""
    out: list[dict[str, Any]] = []
    try:
        for level, title, *_ in doc.get_outlines():
            text = _text(title) if not isinstance(title, str) else " ".join(title.split())
            if text:
                out.append({"level": int(level), "title": text})
            if len(out) >= limit:
                break
    except Exception:  # PDFNoOutlines and broken outline trees alike  # noqa: BLE001
        return out
    return out
