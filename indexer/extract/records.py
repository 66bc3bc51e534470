"""JSONL / CSV record collections: each line or row becomes one document.

Columns are recognised by their common names (below); ``mapping`` ({target: column}, from
``kb ingest --map`` or a sidecar's ``map``) names any others. A collection whose rows cannot
become documents — no id or no text column — fails as a whole with one line naming the
missing column and the columns it has, rather than ingesting nothing in silence.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from indexer.extract.encoding import decode
from kb.errors import ExtractionError, ResourceLimitError
from kb.model import Record

# target -> column names tried in order (the first present in a row wins)
COMMON_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "_id", "doi", "url"),
    "text": ("text", "abstract", "body", "content"),
    "title": ("title",),
    "year": ("year", "date"),
    "date": ("date",),
    "authors": ("authors", "author"),
    "tags": ("keywords", "tags"),
    "url": ("url", "source_url"),
    "country": ("country",),
}


class MissingColumnError(ExtractionError):
    code = "missing_column"


def _columns(mapping: dict[str, str] | None) -> dict[str, tuple[str, ...]]:
    cols = dict(COMMON_COLUMNS)
    for target, column in (mapping or {}).items():
        cols[target] = (column,)  # an explicit mapping replaces the guesses
    return cols


def check_columns(found: list[str], mapping: dict[str, str] | None, what: str = "column") -> None:
    """Raise MissingColumnError unless the collection has an id and a text column."""
    cols = _columns(mapping)
    present = set(found)
    missing = [t for t in ("id", "text") if not present.intersection(cols[t])]
    if missing:
        looked = " and ".join(f"no {t} {what} ({' / '.join(cols[t])})" for t in missing)
        raise MissingColumnError(f"{looked}; {what}s found: {', '.join(found) or 'none'}; "
                                 f"name {'them' if len(missing) > 1 else 'one'} with --map "
                                 + ",".join(f"{t}=COLUMN" for t in missing))


def _split(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(";") if v.strip()]


def _person_name(name: str) -> str:
    """'Dawes, Sharon S.' -> 'Sharon S. Dawes' (bibliographic order to reading order)."""
    last, sep, first = name.partition(",")
    return f"{first.strip()} {last.strip()}" if sep and first.strip() and "," not in first else name


def _record(obj: dict[str, Any], cols: dict[str, tuple[str, ...]]) -> Record | None:
    def pick(target: str) -> tuple[str | None, Any]:
        for c in cols.get(target, ()):
            v = obj.get(c)
            if v not in (None, "") and not (isinstance(v, str) and not v.strip()):
                return c, v
        return None, None

    used: set[str] = set()
    got: dict[str, Any] = {}
    for target in ("id", "text", "title", "year", "date", "authors", "tags", "url", "country"):
        col, value = pick(target)
        if col is not None:
            got[target] = value
            used.add(col)
    if "id" not in got:
        return None
    meta = {k: v for k, v in obj.items() if k not in used and v not in (None, "")}
    if "year" in got:
        meta["year"] = got["year"] if isinstance(got["year"], int) else str(got["year"]).strip()
    if "date" in got:
        meta["date"] = str(got["date"]).strip()
    if "authors" in got:
        meta["authors"] = [_person_name(a) for a in _split(got["authors"])]
    if "tags" in got:
        meta["tags"] = _split(got["tags"])
    if "url" in got:
        meta["source_url"] = str(got["url"]).strip()
    if "country" in got:
        meta["country"] = got["country"]
    text = got.get("text", "")
    title = got.get("title")
    return Record(source_id=str(got["id"]).strip(), title=str(title).strip() if title else None,
                  text=text if isinstance(text, str) else str(text), metadata=meta)


def iter_records(stream: BinaryIO, fmt: str, limits: dict | None = None,
                 mapping: dict[str, str] | None = None) -> Iterator[Record]:
    max_records = int((limits or {}).get("max_records") or 0)
    cols = _columns(mapping)
    stream.seek(0)
    text, _ = decode(stream.read())
    count = 0

    def counted(rec: Record | None) -> Iterator[Record]:
        nonlocal count
        if rec is not None:
            count += 1
            if max_records and count > max_records:
                raise ResourceLimitError(f"more than {max_records} records")
            yield rec

    if fmt == "jsonl":
        keys: list[str] = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ExtractionError(f"malformed JSONL: line {lineno}: {exc.msg}") from exc
            if not isinstance(obj, dict):
                raise ExtractionError(f"malformed JSONL: line {lineno} is not an object")
            keys += [k for k in obj if k not in keys]
            yield from counted(_record(obj, cols))
        if count == 0 and keys:
            check_columns(keys, mapping, "field")  # why nothing came out of the lines
        return
    csv.field_size_limit(1 << 27)
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    try:
        header = [(k or "").strip() for k in (reader.fieldnames or [])]
        if header:
            check_columns(header, mapping)
        for row in reader:
            obj = {(k or "").strip(): v for k, v in row.items() if k is not None}
            yield from counted(_record(obj, cols))
    except csv.Error as exc:
        raise ExtractionError(f"malformed CSV: row {reader.line_num}: {exc}") from exc
