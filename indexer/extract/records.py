"""JSONL / CSV record collections: each line or row with an id becomes one document."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from indexer.extract.encoding import decode
from kb.errors import ExtractionError, ResourceLimitError
from kb.model import Record


def _record(obj: dict[str, Any], where: str) -> Record | None:
    rid = obj.get("id", obj.get("_id"))
    if rid is None or str(rid).strip() == "":
        return None
    title = obj.get("title")
    text = obj.get("text")
    if text is None:
        text = obj.get("abstract") or obj.get("body") or ""
    meta = {k: v for k, v in obj.items() if k not in ("id", "_id", "title", "text") and v not in (None, "")}
    return Record(source_id=str(rid).strip(), title=str(title).strip() if title else None,
                  text=str(text) if not isinstance(text, str) else text, metadata=meta)


def iter_records(stream: BinaryIO, fmt: str, limits: dict | None = None) -> Iterator[Record]:
    max_records = int((limits or {}).get("max_records") or 0)
    stream.seek(0)
    text, _ = decode(stream.read())
    count = 0
    if fmt == "jsonl":
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
            rec = _record(obj, f"line {lineno}")
            if rec is not None:
                count += 1
                if max_records and count > max_records:
                    raise ResourceLimitError(f"more than {max_records} records")
                yield rec
        return
    csv.field_size_limit(1 << 27)
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    try:
        for row in reader:
            obj = {(k or "").strip(): v for k, v in row.items() if k is not None}
            rec = _record(obj, f"row {reader.line_num}")
            if rec is not None:
                count += 1
                if max_records and count > max_records:
                    raise ResourceLimitError(f"more than {max_records} records")
                yield rec
    except csv.Error as exc:
        raise ExtractionError(f"malformed CSV: row {reader.line_num}: {exc}") from exc
